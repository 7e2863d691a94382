"""README.md's Python example runs and learns, so the README never shows code that does
not work."""
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

pytest.importorskip("sklearn")


def test_readme_python_example():
    with open(os.path.join(REPO, "README.md")) as f:
        blocks = re.findall(r"^```python\n(.*?)^```$", f.read(), re.S | re.M)
    assert blocks, "README.md has no Python example"
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    out = subprocess.run([sys.executable, "-c", blocks[0]], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    accuracy = float(re.search(r"training accuracy ([0-9.]+)", out.stdout).group(1))
    assert accuracy > 0.95 and "backprop.Network 64-128-64-10" in out.stdout, out.stdout
