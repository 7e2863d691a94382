"""The binding itself: the ctypes declarations against the C headers, and the one
status -> exception mapping."""
import ctypes
import os
import re
import shutil
import subprocess

import pytest

from backprop import _clib
from conftest import REPO

HEADERS = [os.path.join(REPO, "include", h) for h in ("backprop.h", "backprop_verify.h")]
STRUCTS = {"bp_error": _clib.Error, "bp_net_config": _clib.NetConfig, "bp_train_config": _clib.TrainConfig,
           "bp_epoch_stats": _clib.EpochStats, "bp_metrics": _clib.Metrics,
           "bp_device_options": _clib.DeviceOptions, "bp_explain_options": _clib.ExplainOptions}


def declarations():
    """name -> parameter list text of every BP_API function in the headers."""
    text = ""
    for h in HEADERS:
        with open(h) as f:
            text += f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    found = {}
    for m in re.finditer(r"BP_API\s+[^;(]*?\b(bp_\w+)\s*\(([^;]*?)\)\s*;", text, re.S):
        found[m.group(1)] = m.group(2)
    return found


def count_params(params):
    params = params.strip()
    if params in ("", "void"):
        return 0
    depth, count = 0, 1
    for ch in params:
        depth += ch == "("
        depth -= ch == ")"
        count += ch == "," and depth == 0
    return count


def test_every_declared_function_matches_the_header():
    decl = declarations()
    assert len(decl) >= 80, "the header parse found too few functions"
    for name, (_, args) in _clib.FUNCTIONS.items():
        assert name in decl, "%s is not a BP_API function of include/" % name
        assert count_params(decl[name]) == len(args), "%s: %d parameters in C, %d declared" % (
            name, count_params(decl[name]), len(args))


def test_struct_layouts_match_the_c_compiler(tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to ask for the structs' layout")
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "backprop.h"', "int main(void) {"]
    for cname, cls in STRUCTS.items():
        lines.append('printf("%s sizeof %%zu\\n", sizeof(%s));' % (cname, cname))
        for field, _ in cls._fields_:
            if field != "_spare":
                lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));' % (cname, field, cname, field))
    lines.append("return 0; }")
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(REPO, "include"), str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cname, field, value = line.split()
        cls, value = STRUCTS[cname], int(value)
        if field == "sizeof":
            # Every field the header has is declared here: the spare bytes start where C's struct ends.
            end = cls._spare.offset if hasattr(cls, "_spare") else ctypes.sizeof(cls)
            # C pads the struct to its alignment after the last field; the spare bytes need not.
            align = max(ctypes.alignment(t) for f, t in cls._fields_ if f != "_spare")
            end = (end + align - 1) // align * align
            assert end == value, "%s: C's size is %d, the declared fields end at %d" % (cname, value, end)
        else:
            assert getattr(cls, field).offset == value, "%s.%s: offset %d in C, %d here" % (
                cname, field, value, getattr(cls, field).offset)


@pytest.mark.parametrize("status, cls, builtin", [
    (_clib.BP_ERR_ARG, _clib.ArgumentError, ValueError),
    (_clib.BP_ERR_NOMEM, _clib.OutOfMemoryError, MemoryError),
    (_clib.BP_ERR_IO, _clib.FileError, OSError),
    (_clib.BP_ERR_FORMAT, _clib.FormatError, ValueError),
    (_clib.BP_ERR_UNSUPPORTED, _clib.UnsupportedError, NotImplementedError),
    (_clib.BP_ERR_NUMERIC, _clib.NumericError, ValueError),
])
def test_status_becomes_the_matching_exception(status, cls, builtin):
    with pytest.raises(cls) as info:
        _clib.check(status)
    assert isinstance(info.value, builtin) and isinstance(info.value, _clib.BackpropError)
    assert info.value.status == status
    assert str(info.value) == _clib.status_message(status)  # the library's own words
    err = _clib.Error(status=status, message=b"data.csv:3:7: not a number")
    with pytest.raises(cls, match="reading: data.csv:3:7: not a number"):
        _clib.check(status, err, what="reading")


def test_ok_raises_nothing():
    assert _clib.check(_clib.BP_OK) is None


def test_names_come_from_the_library():
    assert _clib.parse("activation", "leaky-relu", ()) == 4
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        _clib.parse("activation", "swish", ("relu",))
