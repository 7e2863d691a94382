"""Bad input: every mistake becomes a Python exception with a message that says what is
wrong; nothing crashes the interpreter."""
import warnings

import numpy as np
import pytest

import backprop


@pytest.fixture
def net():
    return backprop.Network([3, 5, 2], loss="ce", seed=1)


GOOD_X = np.zeros((4, 3), np.float32)
GOOD_Y = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("X, match", [
    (np.array([[1.0, np.nan, 2.0]]), r"X contains NaN or infinity \(the first at row 0, column 1\)"),
    (np.array([[1.0, 2.0, 3.0], [0, 0, np.inf]]), r"row 1, column 2"),
    (np.zeros((2, 4)), "X has 4 columns, but the network has 3 inputs"),
    (np.zeros(3), r"2-D array.*one sample: x.reshape\(1, -1\)"),
    (np.zeros((2, 3, 1)), "got 3 dimensions"),
    (np.zeros((0, 3)), "X is empty"),
    (np.array([["a", "b", "c"]]), "must hold numbers"),
    (np.array([[1j, 0, 0]]), "complex"),
    ([[1, 2], [3]], "could not be read as an array"),
    (np.array([[object(), 1, 2]], dtype=object), "must hold numbers"),
])
def test_bad_inputs(net, X, match):
    for call in (net.forward, net.predict, lambda X: net.fit(X, [0] * len(np.asarray(X, dtype=object)))):
        with pytest.raises(ValueError, match=match):
            call(X)


def test_large_finite_inputs_are_not_mistaken_for_infinity():
    from backprop import _arrays
    huge = np.full((1000, 3), 3e38, np.float32)  # its sum overflows; every value is finite
    _arrays.check_finite(huge, "X")
    huge[999, 2] = np.inf
    with pytest.raises(ValueError, match="row 999, column 2"):
        _arrays.check_finite(huge, "X")


@pytest.mark.parametrize("y, match", [
    (np.array([0, 1, 2, 0]), r"y\[2\] = 2 is not a class label: expected a whole number 0..1"),
    (np.array([0, 1, 0.5, 0]), r"y\[2\] = 0.5 is not a class label"),
    (np.array([0, 1, -1, 0]), r"y\[2\] = -1"),
    (np.zeros((4, 3)), r"y has shape \(4, 3\); expected \(4, 2\)"),
    (np.zeros(5), r"y has shape \(5,\); expected \(4, 2\)"),
    (np.array([[0, 1], [1, 0], [np.nan, 0], [0, 1]]), "y contains NaN"),
    (None, "y is required"),
])
def test_bad_targets(net, y, match):
    with pytest.raises(ValueError, match=match):
        net.fit(GOOD_X, y)
    if y is not None:
        with pytest.raises(ValueError, match=match):
            net.gradients(GOOD_X, y)


@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": "rmsprop"}, "unknown optimizer 'rmsprop'"),
    ({"schedule": "linear"}, "unknown schedule"),
    ({"reduction": "max"}, "unknown reduction"),
    ({"lr": -1}, "lr must be a number >= 0"),
    ({"momentum": 1.5}, "momentum must be a number from 0 to below 1, got 1.5"),
    ({"optimizer": "momentum", "momentum": 1}, "momentum must be a number from 0 to below 1"),
    ({"optimizer": "adam", "beta1": 1}, "beta1 must be a number from 0 to below 1"),
    ({"optimizer": "adam", "beta2": 1.5}, "beta2 must be a number from 0 to below 1"),
    ({"batch_size": -2}, "batch_size must be a whole number"),
    ({"epochs": 0}, "epochs must be a whole number >= 1"),
    ({"validation": 1.5}, "validation must be a fraction"),
    ({"validation": 0.999}, "leaves no samples"),
    ({"early_stop": 0}, "early_stop must be a patience"),
    ({"normalize": "zscore"}, "normalize must be"),
    ({"normalize": "minmax", "input_scale": 2}, "cannot be combined"),
    ({"input_scale": 0}, "input_scale must be a number > 0"),
    ({"input_scale": 1e-39}, "input_scale 1e-39 is too small: the model stores 1 / input_scale as a float32"),
    ({"threads": 1000}, "threads"),
    ({"device": "tpu"}, "device must be 'cpu' or 'cuda'"),
    ({"test": (GOOD_X,)}, "test must be a pair"),
    ({"callback": 3}, "callback must be callable"),
    ({"checkpoint_every": 5}, "checkpoint_every needs a checkpoint file"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"precision": "fp16"}, "precision must be 'fp32', 'bf16' or 'bf16-emulated'"),
    ({"precision": "bf16-emulated", "device": "cuda"}, "is for the CPU"),
    ({"optimizer": "lbfgs", "dropout": 0.5}, "dropout does not go with optimizer 'lbfgs'"),
    ({"optimizer": "lbfgs", "tolerance": 0}, "tolerance must be a number > 0"),
    ({"optimizer": "lbfgs", "lbfgs_history": 0}, "lbfgs_history must be a whole number from 1 to 1000"),
    ({"optimizer": "lbfgs", "max_evaluations": 2.5}, "max_evaluations must be a whole number"),
])
def test_bad_training_options(net, kwargs, match):
    with pytest.raises(ValueError, match=match):
        net.fit(GOOD_X, GOOD_Y, **kwargs)


@pytest.mark.parametrize("args, match", [
    (([4],), "at least two widths"),
    (([4, 0, 2],), "at least 1"),
    (([4, 2], "swish"), "unknown activation 'swish'"),
    (([4, 2], "relu", None, "hinge"), "unknown loss 'hinge'"),
    (([4, 3, 2], "softmax"), "softmax"),  # the library refuses a softmax hidden layer
    (([4, 2], "relu", "sigmoid", "ce"), "softmax"),  # ce needs a softmax output
])
def test_bad_networks(args, match):
    with pytest.raises(ValueError, match=match):
        backprop.Network(*args)


def test_closed_network(net):
    net.close()
    assert net.closed and "closed" in repr(net)
    for call in (lambda: net.forward(GOOD_X), lambda: net.fit(GOOD_X, GOOD_Y), lambda: net.sizes,
                 lambda: net.save("/tmp/never.bpm"), lambda: net.explain(), lambda: net.weights,
                 lambda: net.copy(), lambda: net.gradcheck()):
        with pytest.raises(ValueError, match="this network is closed"):
            call()
    net.close()  # twice is fine
    with backprop.Network([2, 2]) as n2:
        pass
    assert n2.closed


def test_files(tmp_path, net):
    with pytest.raises(OSError) as info:
        backprop.load(str(tmp_path / "missing.bpm"))
    assert isinstance(info.value, backprop.FileError) and "missing.bpm" in str(info.value)
    junk = tmp_path / "junk.bpm"
    junk.write_bytes(b"this is not a model file at all")
    with pytest.raises(ValueError) as info:
        backprop.load(str(junk))
    assert isinstance(info.value, backprop.FormatError) and "junk.bpm" in str(info.value)
    good = tmp_path / "good.bpm"
    net.save(str(good))
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(backprop.FormatError, match="damaged|checksum"):
        backprop.Network.from_bytes(bytes(data), "flipped.bpm")
    with pytest.raises(OSError):
        net.save(str(tmp_path / "no" / "such" / "dir.bpm"))
    with pytest.raises(backprop.BackpropError):
        backprop.load_checkpoint(str(good))  # a model, not a checkpoint


def test_divergence_is_a_value_error():
    rng = np.random.RandomState(0)
    X, y = rng.randn(64, 3) * 1e3, rng.randn(64, 1) * 1e3
    net = backprop.Network([3, 16, 1], loss="mse", seed=1)
    with pytest.raises(ValueError, match="diverged") as info:
        net.fit(X, y, epochs=20, lr=10.0)
    assert isinstance(info.value, backprop.NumericError)
    net.forward(X)  # the network is still usable


def test_bad_parameter_assignments(net):
    with pytest.raises(ValueError, match="shape"):
        net.weights = [np.zeros((5, 3)), np.zeros((3, 5))]
    with pytest.raises(ValueError, match="1 weights for 2 layers"):
        net.weights = [np.zeros((5, 3))]
    with pytest.raises(ValueError, match="NaN"):
        net.biases = [np.full(5, np.nan), np.zeros(2)]
    with pytest.raises(ValueError, match="class names for"):
        net.class_names = ["one"]
    with pytest.raises(ValueError, match="threads must be a whole number"):
        net.threads = "many"
    with pytest.raises(ValueError, match="input transform needs"):
        net.input_transform = (np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match=r"scale holds 1e\+39 at row 2, beyond float32's range"):
        net.input_transform = (np.zeros(3), [1, 1, 1e39])
    assert net.input_transform is None
    with pytest.raises(ValueError, match="give both"):
        net.gradcheck(X=GOOD_X)
    with pytest.raises(ValueError, match="format must be"):
        net.explain(format="html")
    with pytest.raises(ValueError, match="one sample of 3 inputs"):
        net.explain(np.zeros(4), 0)


def test_values_float32_cannot_hold_are_refused(net):
    # 1e39 is a finite float64 but infinity in float32, in which the library computes: it
    # once passed the NaN check, became infinity, and predictions came back NaN.
    X = np.zeros((4, 3))
    X[1, 2] = -1e39
    match = r"X(_calibration)? holds -1e\+39 at row 1, column 2, beyond float32's range"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even NumPy's overflow warning on the way
        for call in (net.forward, net.predict, lambda X: net.fit(X, GOOD_Y), lambda X: net.quantize(X)):
            with pytest.raises(ValueError, match=match):
                call(X)
        regressor = backprop.Network([3, 4, 2])
        with pytest.raises(ValueError, match=r"y holds 1e\+39 at row 3, column 1"):
            regressor.fit(GOOD_X, np.array([[0, 0], [0, 0], [0, 0], [0, 1e39]]))
        with pytest.raises(ValueError, match=r"weights\[0\] holds 1e\+39 at row 4, column 0"):
            net.weights = [np.pad(np.array([[1e39]]), ((4, 0), (0, 2))), np.zeros((2, 5))]
        X[1, 2] = -3e38  # within float32's range: taken
        assert np.isfinite(net.forward(X)).all()


def test_nul_in_a_path_or_name_is_refused(tmp_path, net):
    # C ends a string at its first NUL: "m\0.bpm" was saved as "m", a file nobody named.
    bad = str(tmp_path / "m\0.bpm")
    for call in (lambda: net.save(bad), lambda: backprop.load(bad), lambda: backprop.load_checkpoint(bad),
                 lambda: net.fit(GOOD_X, GOOD_Y, checkpoint=bad), lambda: net.save_checkpoint(bad)):
        with pytest.raises(ValueError, match="embedded null byte"):
            call()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="NUL"):
        net.class_names = ["a\0b", "c"]
    assert net.class_names is None
    with pytest.raises(ValueError, match="NUL"):
        net.export_c(name="model\0x")
    with pytest.raises(ValueError, match="unknown optimizer"):
        net.fit(GOOD_X, GOOD_Y, optimizer="adam\0x")


def test_numbers_beyond_what_c_holds_are_not_cut_short(net):
    # ctypes keeps the low bits of a number too large for the C type: threads=2**32 became
    # 0 (one per core), batch_size=2**64 + 1 became 1 (a step per sample).
    for threads in (2 ** 32, 2 ** 40 + 1, -2 ** 40):
        with pytest.raises(ValueError, match="threads=%d is out of range" % threads):
            net.threads = threads
        with pytest.raises(ValueError, match="out of range"):
            backprop.Network([3, 2], threads=threads)
    assert net.threads == 1
    rng = np.random.RandomState(0)
    X, y = rng.rand(8, 3).astype(np.float32), rng.randint(0, 2, 8)
    whole = net.copy().fit(X, y, epochs=1, batch_size=8, shuffle=False)
    huge = net.copy().fit(X, y, epochs=1, batch_size=2 ** 64 + 1, shuffle=False)
    assert huge[0].train_loss == whole[0].train_loss
