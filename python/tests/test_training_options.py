"""Network.fit's L-BFGS, dropout and bf16 options: that each reaches the library (the
same model as `backprop train` with the same options), and what each refuses."""
import subprocess

import numpy as np
import pytest

import backprop
from backprop import _clib


def write_csv(path, X, y):
    """Inputs then the class, every float32 value written so that it reads back exactly."""
    with open(path, "w") as f:
        for row, label in zip(X, y):
            f.write(",".join("%.9g" % v for v in row) + ",%d\n" % label)


def train_with_the_program(program, tmp_path, X, y, *options):
    data, model = tmp_path / "train.csv", tmp_path / "model.bpm"
    write_csv(data, X, y)
    subprocess.run([program, "train", "--train", str(data), "--hidden", "8", "--seed", "1", "--quiet",
                    "-o", str(model)] + list(options), check=True, capture_output=True, text=True)
    return backprop.load(str(model))


@pytest.mark.parametrize("python_options, cli_options", [
    (dict(optimizer="lbfgs", epochs=30, lbfgs_history=4, tolerance=1e-3, max_evaluations=60),
     ["--optimizer", "lbfgs", "--epochs", "30", "--lbfgs-history", "4", "--tolerance", "1e-3",
      "--max-evaluations", "60"]),
    (dict(optimizer="adam", epochs=3, batch_size=16, dropout=0.3),
     ["--optimizer", "adam", "--epochs", "3", "--batch", "16", "--dropout", "0.3"]),
    (dict(optimizer="adam", epochs=3, batch_size=16, precision="bf16-emulated"),
     ["--optimizer", "adam", "--epochs", "3", "--batch", "16", "--precision", "bf16-emulated"]),
])
def test_the_same_model_as_the_program(program, tmp_path, blobs, python_options, cli_options):
    X, y = blobs
    cli = train_with_the_program(program, tmp_path, X, y, *cli_options)
    net = backprop.Network([4, 8, 3], loss="ce", seed=1)
    net.fit(X, y, **python_options)
    assert net.dropout == cli.dropout
    for a, b in zip(net.weights + net.biases, cli.weights + cli.biases):
        np.testing.assert_array_equal(a, b)


def test_lbfgs_stops_once_converged(blobs, capsys):
    X, y = blobs
    net = backprop.Network([4, 8, 3], loss="ce", seed=1)
    history = net.fit(X, y, optimizer="lbfgs", epochs=500, tolerance=1e-3, verbose=True)
    assert len(history) < 500 and history[-1].converged and not any(e.converged for e in history[:-1])
    assert history[-1].train_loss < history[0].train_loss
    assert capsys.readouterr().out.splitlines()[-1].startswith("lbfgs converged after ")
    # a gradient within the tolerance, computed here independently of the trainer
    g = net.gradients(X, y)
    assert max(np.abs(d).max() for d in g.dW + g.db) <= 1e-3
    # max_evaluations caps the run: far fewer iterations, and not converged to the tolerance
    capped = backprop.Network([4, 8, 3], loss="ce", seed=1)
    short = capped.fit(X, y, optimizer="lbfgs", epochs=500, tolerance=1e-3, max_evaluations=5)
    assert short[-1].converged and len(short) <= 5 < len(history)
    g = capped.gradients(X, y)
    assert max(np.abs(d).max() for d in g.dW + g.db) > 1e-3


def test_dropout_is_part_of_the_model(tmp_path, blobs):
    X, y = blobs
    net = backprop.Network([4, 8, 6, 3], loss="ce", seed=1, dropout=[0.5, 0.25])
    assert net.dropout == (0.5, 0.25)
    path = str(tmp_path / "d.bpm")
    net.save(path)
    assert backprop.load(path).dropout == (0.5, 0.25)
    assert net.copy().dropout == (0.5, 0.25)
    # inference does not drop: the outputs are a deterministic function of the weights
    np.testing.assert_array_equal(net.forward(X), net.forward(X))
    plain = backprop.Network([4, 8, 6, 3], loss="ce", seed=1)
    np.testing.assert_array_equal(net.forward(X), plain.forward(X))
    # training does: the same start and steps with and without dropout part ways
    net.fit(X, y, optimizer="adam", epochs=1, batch_size=16)
    plain.fit(X, y, optimizer="adam", epochs=1, batch_size=16)
    assert not np.array_equal(net.weights[0], plain.weights[0])
    # fit(dropout=) sets it for this and later training, keeping the parameters
    before = net.weights
    net.fit(X, y, optimizer="adam", epochs=1, batch_size=16, lr=1e-30, dropout=0.1)
    assert net.dropout == (0.1, 0.1)
    np.testing.assert_array_equal(net.weights[0], before[0])
    net.dropout = None
    assert net.dropout == (0.0, 0.0)


def test_bf16_trains_where_the_cpu_can(blobs):
    X, y = blobs
    kernel = backprop.precision_kernel("bf16")
    assert backprop.precision_kernel("bf16-emulated") and backprop.precision_kernel("fp32")
    if kernel is None:
        pytest.skip("this CPU has neither AMX-BF16 nor AVX512_BF16 (the refusal is tested below)")
    nets = {}
    for precision in ("fp32", "bf16", "bf16-emulated"):
        nets[precision] = backprop.Network([4, 32, 3], loss="ce", seed=1)
        nets[precision].fit(X, y, optimizer="adam", epochs=3, batch_size=16, precision=precision)
    # bf16 products are not fp32's, and learn all the same
    assert not np.array_equal(nets["bf16"].weights[0], nets["fp32"].weights[0])
    assert nets["bf16"].evaluate(X, y)["accuracy"] > 0.9


def test_bf16_on_a_cpu_without_it(monkeypatch, blobs):
    X, y = blobs
    monkeypatch.setattr(_clib.C, "bp_precision_kernel", lambda code: None if code == 1 else b"fp32")
    net = backprop.Network([4, 8, 3], loss="ce")
    with pytest.raises(NotImplementedError, match="neither AMX-BF16 tiles nor AVX512_BF16"):
        net.fit(X, y, precision="bf16")


@pytest.mark.parametrize("sizes, kwargs, match", [
    ([4, 8, 3], {"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ([4, 8, 3], {"dropout": -0.1}, r"dropout must be in \[0, 1\)"),
    ([4, 8, 3], {"dropout": [0.1, 0.2]}, "2 probabilities for 1 hidden layer;"),
    ([4, 8, 3], {"dropout": "half"}, "dropout must be a number"),
    ([4, 3], {"dropout": 0.5}, "needs a hidden layer"),
])
def test_bad_dropout(sizes, kwargs, match):
    with pytest.raises(ValueError, match=match):
        backprop.Network(sizes, loss="ce", **kwargs)
    if len(sizes) > 2:
        with pytest.raises(ValueError, match=match):
            backprop.Network(sizes, loss="ce").fit(np.zeros((4, 4)), [0, 1, 2, 0], **kwargs)


def test_init_range_and_rprop_steps_give_the_programs_model(program, tmp_path, blobs):
    # a largest step of 0.12 is reached within 20 epochs (0.05 x 1.2^5 = 0.124), so both settings matter
    X, y = blobs
    cli = train_with_the_program(program, tmp_path, X, y, "--init-range", "0.1", "--optimizer", "rprop",
                                 "--rprop-step0", "0.05", "--rprop-step-max", "0.12", "--epochs", "20")
    net = backprop.Network([4, 8, 3], loss="ce", seed=1, init_range=0.1)
    net.fit(X, y, optimizer="rprop", epochs=20, rprop_step0=0.05, rprop_step_max=0.12)
    for a, b in zip(net.weights + net.biases, cli.weights + cli.biases):
        np.testing.assert_array_equal(a, b)
    # and they are not the defaults' model
    plain = backprop.Network([4, 8, 3], loss="ce", seed=1)
    plain.fit(X, y, optimizer="rprop", epochs=20)
    assert not np.array_equal(plain.weights[0], net.weights[0])


def test_init_range():
    fann = backprop.Network([5, 7, 3], activation="tanh", output="sigmoid", seed=4, init_range=0.1)
    values = np.concatenate([p.ravel() for p in fann.weights + fann.biases])
    assert values.size == 5 * 7 + 7 + 7 * 3 + 3
    assert np.all(np.abs(values) <= np.float32(0.1)) and np.all(values != 0) and np.abs(values).max() > 0.08
    again = backprop.Network([5, 7, 3], activation="tanh", output="sigmoid", seed=4, init_range=0.1)
    np.testing.assert_array_equal(fann.weights[0], again.weights[0])
    # 0 is the default initialization, to the bit: Xavier weights, zero biases
    default = backprop.Network([5, 7, 3], activation="tanh", output="sigmoid", seed=4)
    zero = backprop.Network([5, 7, 3], activation="tanh", output="sigmoid", seed=4, init_range=0)
    for a, b in zip(default.weights + default.biases, zero.weights + zero.biases):
        np.testing.assert_array_equal(a, b)
    assert not np.any(default.biases[0])


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), 1e31, "0.1", True])
def test_bad_init_range(value):
    with pytest.raises(ValueError, match="init_range must be a number from 0"):
        backprop.Network([4, 8, 3], init_range=value)


@pytest.mark.parametrize("kwargs, match", [
    ({"rprop_step0": 0}, "rprop_step0 must be a number from 1e-06"),
    ({"rprop_step_max": -1}, "rprop_step_max must be a number"),
    ({"rprop_step0": float("nan")}, "rprop_step0 must be a number"),
    ({"rprop_step_max": 1e31}, "rprop_step_max must be a number from 1e-06 to 1e30"),
    ({"rprop_step0": 60}, r"first step \(60\) is larger than its largest step \(50\)"),
    ({"rprop_step0": 0.5, "rprop_step_max": 0.2}, r"first step \(0.5\) is larger than its largest step \(0.2\)"),
    ({"rprop_step0": 0.05, "optimizer": "adam"}, "settings of optimizer 'rprop'"),
])
def test_bad_rprop_steps(blobs, kwargs, match):
    X, y = blobs
    options = {"optimizer": "rprop", "epochs": 1}
    options.update(kwargs)
    with pytest.raises(ValueError, match=match):
        backprop.Network([4, 8, 3], loss="ce").fit(X, y, **options)
