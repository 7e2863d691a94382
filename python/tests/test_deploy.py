"""Deploying from Python: Network.export_onnx, Network.export_c, Network.quantize and
backprop.QuantizedNetwork, held to the command line that does the same from a .bpm file
(`backprop export-onnx`, `export-c [--int8 --calibrate]`, `predict --int8 --calibrate`)
and to two third-party consumers of the ONNX file (onnx.checker, OpenCV's dnn), as
tests/onnx-test.sh holds the program to them."""
import ctypes
import os
import shutil
import subprocess
import threading

import numpy as np
import pytest

import backprop
from backprop import _clib
from conftest import REPO


@pytest.fixture
def model(tmp_path, blobs):
    """A classifier with a stored transform (standardize) and class names, saved; raw
    inputs far from zero mean and unit scale, so a missed transform shows."""
    X, y = blobs
    X = (X * 3 + 10).astype(np.float32)
    net = backprop.Network([4, 16, 8, 3], activation="tanh", loss="ce", seed=2)
    net.fit(X, y, epochs=3, normalize="standardize", optimizer="adam")
    net.class_names = ["red", "green", "blue"]
    path = str(tmp_path / "m.bpm")
    net.save(path)
    csv = str(tmp_path / "x.csv")
    np.savetxt(csv, X, delimiter=",", fmt="%.9g")  # float32 round-trips through %.9g
    return net, path, X, csv


def run(program, *args):
    return subprocess.run([program] + [str(a) for a in args], check=True, capture_output=True).stdout


def read_predictions(text):
    """The rows of `backprop predict`'s CSV (header line first)."""
    lines = text.decode().strip().splitlines()
    return np.array([[float(v) for v in line.split(",")] for line in lines[1:]], np.float32)


# ------------------------------------------------------------------ ONNX

def test_onnx_bytes_are_the_programs(tmp_path, program, model):
    net, path, _, _ = model
    onnx_path = tmp_path / "cli.onnx"
    run(program, "export-onnx", path, "-o", onnx_path)
    want = onnx_path.read_bytes()
    assert net.export_onnx(source=path) == want
    # The loaded model is the same network: the same bytes.
    assert backprop.load(path).export_onnx(source=path) == want
    # Without a source the doc string only drops " from PATH"; the graph is the same.
    assert len(net.export_onnx()) == len(want) - len(" from " + path)


def test_onnx_written_atomically(tmp_path, model):
    net, _, _, _ = model
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")
    assert net.export_onnx(out) is None
    assert out.read_bytes() == net.export_onnx()
    assert sorted(os.listdir(tmp_path)) == ["m.bpm", "m.onnx", "x.csv"]  # no temporary file left
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~mask
    with pytest.raises(backprop.FileError, match="cannot write .*no-such-folder"):
        net.export_onnx(tmp_path / "no-such-folder" / "m.onnx")


def test_exports_follow_links_and_write_into_pipes(tmp_path, model):
    """Through a symbolic link the file it names is replaced and the link kept; a FIFO (as
    /dev/null, /dev/stdout) is written into, as the library's writer does; it had been
    renamed over, which as root replaced /dev/null itself with a file. A bytes path works
    as for open()."""
    net, _, _, _ = model
    (tmp_path / "target.h").write_text("old")
    os.symlink("target.h", tmp_path / "link.h")
    assert net.export_c(tmp_path / "link.h") is None
    assert os.path.islink(tmp_path / "link.h")
    assert (tmp_path / "target.h").read_text() == net.export_c()
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    try:
        assert net.export_onnx(fifo) is None
    finally:
        if reader.is_alive() and not got:
            with open(fifo, "wb"):  # release a reader still waiting for a writer
                pass
        reader.join(10)
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    assert got == [net.export_onnx()]
    assert net.export_onnx(os.fsencode(tmp_path / "b.onnx")) is None
    assert (tmp_path / "b.onnx").read_bytes() == net.export_onnx()


def test_onnx_checker_accepts_it(model):
    onnx = pytest.importorskip("onnx", reason="onnx.checker needs python3-onnx")
    net, _, _, _ = model
    m = onnx.load_from_string(net.export_onnx())
    onnx.checker.check_model(m, full_check=True)
    assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")] == [13]
    assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["output"]


def test_opencv_runs_it_as_forward_does(tmp_path, model):
    cv2 = pytest.importorskip("cv2", reason="OpenCV's dnn module needs python3-opencv")
    net, _, X, _ = model
    path = tmp_path / "m.onnx"
    net.export_onnx(path)
    reader = cv2.dnn.readNetFromONNX(str(path))
    reader.setInput(X)
    got = reader.forward()
    np.testing.assert_allclose(got, net.forward(X), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------ C

def test_float_c_is_the_programs(tmp_path, program, model):
    net, path, _, _ = model
    want = run(program, "export-c", path, "--name", "iris").decode()
    text = net.export_c(name="iris", source=path)
    assert isinstance(text, str) and text == want
    out = tmp_path / "iris.h"
    assert net.export_c(out, name="iris", source=path) is None
    assert out.read_text() == want


def test_int8_c_is_the_programs(tmp_path, program, model):
    net, path, X, csv = model
    want = run(program, "export-c", path, "--int8", "--calibrate", csv, "--name", "q").decode()
    with net.quantize(X) as q:
        assert q.export_c(name="q", source=path) == want
        assert net.export_c(name="q", int8=q, source=path) == want
        out = tmp_path / "q.c"
        net.export_c(out, name="q", int8=q, source=path)
        assert out.read_text() == want


def run_c(tmp_path, header, body, inputs):
    """Compile a program around an exported file (C99, -Wall -Wextra -Werror -pedantic) that
    runs `body` on each row of inputs (given exactly, as hexadecimal constants) and prints
    numbers; returns its output lines split at spaces."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler")
    (tmp_path / "model.h").write_text(header)
    rows = ",\n".join("{" + ", ".join(float(v).hex() + "f" for v in row) + "}" for row in inputs)
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include <stdint.h>\n#include "model.h"\n'
        "static const float inputs[%d][%d] = {%s};\n"
        "int main(void)\n{\n    int s, i, k;\n    for (s = 0; s < %d; s++) {\n%s\n    }\n    return 0;\n}\n"
        % (len(inputs), len(inputs[0]), rows, len(inputs), body))
    exe = tmp_path / "main"
    built = subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-I", str(tmp_path),
                            str(tmp_path / "main.c"), "-lm", "-o", str(exe)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return [line.split() for line in subprocess.run([str(exe)], check=True, capture_output=True,
                                                    text=True).stdout.splitlines()]


def test_exported_c_compiles_and_runs(tmp_path, model):
    """The float C against forward (1e-5, as tests/export-test.sh), the int8 C against
    QuantizedNetwork.forward (exactly: one arithmetic everywhere, docs/DEPLOY.md)."""
    net, _, X, _ = model
    X = X[:50]
    lines = run_c(tmp_path, net.export_c(name="f"), """        float out[f_OUTPUTS];
        f_predict(inputs[s], out);
        for (i = 0, k = 0; i < f_OUTPUTS; i++) {
            printf("%.9g ", (double)out[i]);
            if (out[i] > out[k]) k = i;
        }
        printf("%s\\n", f_class_names[k]);""", X)
    got = np.array([[float(v) for v in line[:-1]] for line in lines], np.float32)
    np.testing.assert_allclose(got, net.forward(X), rtol=1e-5, atol=1e-5)
    assert [line[-1] for line in lines] == list(net.predict(X))
    with net.quantize(X) as q:
        lines = run_c(tmp_path, q.export_c(name="i"), """        int8_t q[i_INPUTS], out[i_OUTPUTS];
        i_quantize_inputs(inputs[s], q);
        k = i_predict_int8(q, out);
        for (i = 0; i < i_OUTPUTS; i++) printf("%.9g ", (double)(i_OUTPUT_SCALE * (float)(out[i] - i_OUTPUT_ZERO)));
        printf("%s\\n", i_class_names[k]);""", X)
        got = np.array([[float(v) for v in line[:-1]] for line in lines], np.float32)
        np.testing.assert_array_equal(got, q.forward(X))
        assert [line[-1] for line in lines] == list(q.predict(X))


# ------------------------------------------------------------------ int8

def test_quantized_forward_is_predict_int8(program, model):
    """The transform path included: the model standardizes its raw inputs."""
    net, path, X, csv = model
    assert net.input_transform is not None
    want = read_predictions(run(program, "predict", path, "--data", csv, "--int8", "--calibrate", csv))
    q = net.quantize(X)
    got = q.forward(X)
    assert got.dtype == np.float32 and got.shape == (len(X), 3)
    np.testing.assert_array_equal(got, want)
    # Classes by Network.predict's rule, from the integer outputs, with the model's names.
    names = np.array(["red", "green", "blue"], dtype=object)
    np.testing.assert_array_equal(q.predict(X), names[want.argmax(axis=1)])
    assert np.mean(q.predict(X) == net.predict(X)) > 0.95
    # Any other array type gives the same numbers (converted once).
    np.testing.assert_array_equal(q.forward(X.astype(np.float64).tolist()), want)
    # The caller's array is never changed by the transform.
    before = X.copy()
    net.quantize(X).close()
    q.forward(X)
    np.testing.assert_array_equal(X, before)


def test_quantized_predict_for_sigmoid_and_regression(blobs):
    X, y = blobs
    binary = backprop.Network([4, 8, 1], loss="bce", seed=1)
    binary.fit(X, (y == 0).astype(np.float32), epochs=3)
    q = binary.quantize(X)
    p = q.predict(X)
    assert p.shape == (len(X),) and set(np.unique(p)) <= {0, 1}
    np.testing.assert_array_equal(p, (q.forward(X)[:, 0] >= 0.5).astype(np.int64))
    reg = backprop.Network([4, 8, 2], seed=1)
    q = reg.quantize(X)
    np.testing.assert_array_equal(q.predict(X), q.forward(X))


def test_quantized_network_outlives_and_ignores_its_network(blobs):
    X, y = blobs
    net = backprop.Network([4, 16, 3], loss="ce", seed=1)
    net.fit(X, y, epochs=1)
    q = net.quantize(X)
    before, c = q.forward(X), q.export_c()
    net.fit(X, y, epochs=2)  # training on does not change the quantization
    np.testing.assert_array_equal(q.forward(X), before)
    net.close()
    np.testing.assert_array_equal(q.forward(X), before)
    assert q.export_c() == c


def test_quantized_network_is_shared_between_threads(blobs):
    """bp_qnet_forward writes the bp_qnet's work space: calls take turns."""
    X, y = blobs
    net = backprop.Network([4, 64, 3], loss="ce", seed=1)
    q = net.quantize(X)
    want = q.forward(X)
    results = []
    threads = [threading.Thread(target=lambda: results.append(q.forward(X))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(np.array_equal(r, want) for r in results)


# ------------------------------------------------------------------ errors

def test_errors_say_what_is_wrong(blobs):
    X, y = blobs
    net = backprop.Network([4, 8, 3], loss="ce", seed=1)
    with pytest.raises(ValueError, match="X_calibration has 3 columns, but the network has 4 inputs"):
        net.quantize(X[:, :3])
    with pytest.raises(ValueError, match="X_calibration is empty"):
        net.quantize(X[:0])
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match=r"X_calibration contains NaN or infinity \(the first at row 5, column 2\)"):
        net.quantize(bad)
    q = net.quantize(X)
    with pytest.raises(ValueError, match="X has 5 columns, but the network has 4 inputs"):
        q.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="X contains NaN or infinity"):
        q.forward(bad)
    with pytest.raises(ValueError, match="X is empty"):
        q.predict(X[:0])
    with pytest.raises(backprop.ArgumentError, match="the name prefixes C identifiers"):
        q.export_c(name="9lives")
    with pytest.raises(backprop.ArgumentError, match="the name prefixes C identifiers"):
        net.export_c(name="a-b")
    with pytest.raises(ValueError, match="int8 must be a QuantizedNetwork"):
        net.export_c(int8="yes")
    other = backprop.Network([4, 8, 3], loss="ce", seed=1)
    with pytest.raises(ValueError, match="made by this network's quantize"):
        other.export_c(int8=q)
    with pytest.raises(TypeError, match="Network.quantize"):
        backprop.QuantizedNetwork()
    with pytest.raises(TypeError, match="cannot be pickled"):
        import pickle
        pickle.dumps(q)
    q.close()
    q.close()  # twice is harmless
    assert q.closed and "closed" in repr(q)
    for call in (lambda: q.forward(X), lambda: q.predict(X), lambda: q.export_c(), lambda: net.export_c(int8=q)):
        with pytest.raises(ValueError, match="this quantized network is closed"):
            call()
    net.close()
    for call in (lambda: net.export_onnx(), lambda: net.export_c(), lambda: net.quantize(X)):
        with pytest.raises(ValueError, match="this network is closed"):
            call()


def test_calibration_the_transform_overflows_is_named(blobs):
    """A finite input that the stored standardization carries past float32 (scale about
    100 here) is named by row and column; the library could only say that some input was
    not finite."""
    X, y = blobs
    net = backprop.Network([4, 8, 3], loss="ce", seed=1)
    net.fit(X * 0.01, y, epochs=1, normalize="standardize")
    bad = X * 0.01
    bad[7, 1] = 3e38
    with pytest.raises(ValueError, match=r"X_calibration\[7, 1\]: the network's input transform"):
        net.quantize(bad)
    # The same check serves every method that takes inputs: no NaN rows from predict.
    with pytest.raises(ValueError, match=r"X\[7, 1\]: the network's input transform"):
        net.forward(bad)


def test_networks_integers_cannot_represent_are_refused():
    wide = backprop.Network([32769, 1], seed=1)
    with pytest.raises(backprop.UnsupportedError, match="quantizing: layer 1 has 32769 inputs per unit"):
        wide.quantize(np.zeros((1, 32769), np.float32))
    with pytest.raises(NotImplementedError):  # UnsupportedError is one
        wide.quantize(np.zeros((1, 32769), np.float32))
    broken = backprop.Network([3, 4, 2], seed=1)
    broken._layer_views()[0][1][1, 2] = np.inf  # the weights setter refuses infinity; the library must too
    with pytest.raises(backprop.NumericError, match=r"layer 2: W\[1\]\[2\] is not a finite number"):
        broken.quantize(np.ones((4, 3)))


# A unit whose weights decayed to ~1e-13 (a dead ReLU unit after weight decay) has a
# rescaling factor below 2^-31; the library once refused it (17 of 37 seeds of
# MLPClassifier((64,)) on digits). Its int8 output is the zero point now.
def test_units_with_vanishing_weights_quantize(blobs):
    X, y = blobs
    net = backprop.Network([4, 8, 3], loss="ce", seed=1)
    net.fit(X, y, epochs=2)
    Ws, bs = net._layer_views()
    Ws[0][2, :] = 1e-13  # what alpha's decay leaves of a unit ReLU never lets through
    bs[0][2] = 0
    q = net.quantize(X)
    assert np.mean(q.predict(X) == net.predict(X)) > 0.95


# ------------------------------------------------------------------ the binding and scikit-learn

def test_export_options_layout_matches_the_c_compiler(tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to ask for the struct's layout")
    fields = [f for f, _ in _clib.ExportOptions._fields_ if f != "_spare"]
    assert fields == ["format", "name", "int8", "source"]
    src = tmp_path / "layout.c"
    src.write_text('#include <stdio.h>\n#include <stddef.h>\n#include "backprop.h"\nint main(void) {\n' +
                   "".join('printf("%%zu\\n", offsetof(bp_export_options, %s));\n' % f for f in fields) +
                   'printf("%zu\\n", sizeof(bp_export_options));\nreturn 0; }\n')
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(REPO, "include"), str(src), "-o", str(exe)], check=True)
    values = [int(v) for v in subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()]
    assert values[:-1] == [getattr(_clib.ExportOptions, f).offset for f in fields]
    assert values[-1] == _clib.ExportOptions._spare.offset  # every C field is declared, the spare bytes follow
    assert _clib.BP_EXPORT_C == 0 and _clib.BP_EXPORT_ONNX == 1
    assert _clib.C.bp_net_export.argtypes[1] == ctypes.POINTER(_clib.ExportOptions)


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_sklearn_estimator_exports(tmp_path, blobs):
    pytest.importorskip("sklearn")
    from backprop.sklearn import MLPClassifier
    X, y = blobs
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y)
    data = clf.network_.export_onnx()
    assert data[:2] == b"\x08\x07"  # ir_version 7, the first field of an ONNX ModelProto
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        path = tmp_path / "clf.onnx"
        clf.network_.export_onnx(path)
        reader = cv2.dnn.readNetFromONNX(str(path))
        reader.setInput(X)
        np.testing.assert_allclose(reader.forward(), clf.predict_proba(X), rtol=1e-5, atol=1e-5)
    q = clf.network_.quantize(X)
    assert np.mean(clf.classes_[q.predict(X)] == clf.predict(X)) > 0.95
    assert "_predict_int8" in clf.network_.export_c(int8=q)
