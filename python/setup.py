"""setup.py - the part of the build pyproject.toml cannot say: the package carries
libbackprop.so, built by the repository's `make python`, so the wheel is tied to this
platform. When the library is missing and this is a checkout, make builds it."""
import os
import subprocess

from setuptools import setup
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY = os.path.join(HERE, "backprop", "libbackprop.so")
REPOSITORY = os.path.dirname(HERE)


class PlatformDistribution(Distribution):
    """A distribution with a compiled library inside: a platform wheel, not py3-none-any."""

    def has_ext_modules(self):
        return True


if not os.path.exists(LIBRARY):
    if not os.path.exists(os.path.join(REPOSITORY, "Makefile")):
        raise SystemExit("backprop/libbackprop.so is missing: run `make python` in the backprop repository")
    subprocess.check_call(["make", "-C", REPOSITORY, "python"])

setup(distclass=PlatformDistribution)
