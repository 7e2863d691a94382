"""backprop.Network: the NumPy API over the engine, checked against NumPy's own
arithmetic, the command line, and itself (files, checkpoints, threads)."""
import json
import pickle
import subprocess
import threading
import time

import numpy as np
import pytest

import backprop
from backprop import _arrays


def numpy_forward(net, X):
    """a^L computed by NumPy from the network's weights: an independent oracle."""
    g = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
         "identity": lambda z: z}
    a = np.asarray(X, np.float64)
    Ws, bs = net.weights, net.biases or [None] * net.n_layers
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        z = a @ W.T.astype(np.float64) + (b if b is not None else 0)
        if l < len(Ws):
            a = g[net.activation](z)
        elif net.output == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = g[net.output](z)
    return a


def numpy_gradients(net, X, Y):
    """dC/dW, dC/db of the mean loss for a relu network with softmax-CE, by NumPy."""
    Ws, bs = [W.astype(np.float64) for W in net.weights], net.biases
    acts, a = [np.asarray(X, np.float64)], np.asarray(X, np.float64)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W.T + b
        a = np.maximum(z, 0) if l < len(Ws) - 1 else np.exp(z - z.max(1, keepdims=True))
        if l == len(Ws) - 1:
            a /= a.sum(1, keepdims=True)
        acts.append(a)
    m = X.shape[0]
    delta = (acts[-1] - Y) / m
    dW, db = [None] * len(Ws), [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        dW[l], db[l] = delta.T @ acts[l], delta.sum(0)
        if l:
            delta = (delta @ Ws[l]) * (acts[l] > 0)
    return dW, db


def test_shape_and_names():
    net = backprop.Network([4, 8, 3], activation="tanh", loss="ce", seed=3)
    assert net.sizes == (4, 8, 3) and net.n_layers == 2
    assert (net.activation, net.output, net.loss, net.bias) == ("tanh", "softmax", "ce", True)
    assert net.n_params == 4 * 8 + 8 + 8 * 3 + 3
    assert [W.shape for W in net.weights] == [(8, 4), (3, 8)]
    assert [b.shape for b in net.biases] == [(8,), (3,)]
    assert "4-8-3" in repr(net)
    nb = backprop.Network([2, 3, 1], activation="sigmoid", output="sigmoid", bias=False)
    assert nb.biases is None and nb.loss == "mse" and nb.n_params == 2 * 3 + 3


def test_same_seed_same_weights():
    a, b = backprop.Network([5, 7, 2], seed=9), backprop.Network([5, 7, 2], seed=9)
    c = backprop.Network([5, 7, 2], seed=10)
    assert all((x == y).all() for x, y in zip(a.weights, b.weights))
    assert not all((x == y).all() for x, y in zip(a.weights, c.weights))


@pytest.mark.parametrize("activation, output, loss", [("relu", None, "ce"), ("tanh", "sigmoid", "bce"),
                                                      ("sigmoid", None, "mse"), ("identity", "tanh", "mse")])
def test_forward_matches_numpy(activation, output, loss):
    net = backprop.Network([6, 9, 5, 3], activation=activation, output=output, loss=loss, seed=4)
    net.biases = [np.linspace(-0.5, 0.5, n) for n in (9, 5, 3)]  # nonzero, through the setter
    X = np.random.RandomState(1).randn(17, 6)
    np.testing.assert_allclose(net.forward(X), numpy_forward(net, X), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(net.predict_proba(X), net.forward(X))


def test_float32_c_contiguous_inputs_are_not_copied():
    X = np.ones((3, 4), np.float32)
    assert _arrays.inputs(X, 4) is X
    for other in (X.astype(np.float64), np.asfortranarray(np.ones((3, 4), np.float32)), X.tolist(),
                  np.ones((3, 8), np.float32)[:, ::2]):
        converted = _arrays.inputs(other, 4)
        assert converted is not other and converted.dtype == np.float32 and converted.flags.c_contiguous
        np.testing.assert_array_equal(converted, X)


def test_training_reads_float32_inputs_in_place(blobs):
    """fit trains on the caller's float32 array itself (bp_dataset_wrap), changes nothing
    in it, and gives the same model as from a float64 copy (converted once)."""
    X, y = blobs
    X32 = np.ascontiguousarray(X, np.float32)
    d = _arrays.Dataset(X32, np.eye(3, dtype=np.float32)[y])
    assert d.x is X32 and C_dataset_x_is_null(d)
    d.free()
    before = X32.copy()
    a = backprop.Network([4, 16, 3], loss="ce", seed=3)
    a.fit(X32, y, epochs=3, batch_size=8)
    np.testing.assert_array_equal(X32, before)
    b = backprop.Network([4, 16, 3], loss="ce", seed=3)
    b.fit(X32.astype(np.float64), y, epochs=3, batch_size=8)
    for Wa, Wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(Wa, Wb)
    # normalize changes the inputs: those are trained from a copy, the caller's array stays
    c = backprop.Network([4, 16, 3], loss="ce", seed=3)
    c.fit(X32, y, epochs=1, normalize="standardize")
    np.testing.assert_array_equal(X32, before)


def C_dataset_x_is_null(d):
    from backprop._clib import C
    return not C.bp_dataset_x(d.handle)


def test_rows_do_not_depend_on_the_rest_of_the_batch():
    net = backprop.Network([30, 64, 32, 5], seed=2)
    X = np.random.RandomState(0).randn(100, 30).astype(np.float32) * 3
    full = net.forward(X)
    for m in (1, 2, 3, 4, 5, 13):
        parts = np.concatenate([net.forward(X[s:s + m]) for s in range(0, 100, m)])
        np.testing.assert_array_equal(parts, full)


def test_predict_classes_and_names(blobs):
    X, y = blobs
    net = backprop.Network([4, 16, 3], loss="ce", seed=1)
    net.fit(X, y, epochs=30, optimizer="adam", lr=0.01)
    pred = net.predict(X)
    assert pred.dtype == np.int64 and (pred == y).mean() > 0.9
    np.testing.assert_array_equal(pred, net.forward(X).argmax(1))
    net.class_names = ["ant", "bee", "cat"]
    assert net.class_names == ["ant", "bee", "cat"]
    assert list(net.predict(X[:3])) == [["ant", "bee", "cat"][k] for k in pred[:3]]
    names = np.array(["ant", "bee", "cat"])[y]
    assert net.evaluate(X, names)["accuracy"] == net.evaluate(X, y)["accuracy"]
    binary = backprop.Network([4, 8, 1], loss="bce", seed=1)
    out = binary.predict(X)
    assert out.shape == (300,) and set(np.unique(out)) <= {0, 1}
    np.testing.assert_array_equal(out, (binary.forward(X)[:, 0] >= 0.5).astype(int))


def test_fit_learns_and_reports(blobs, capsys):
    X, y = blobs
    net = backprop.Network([4, 16, 3], loss="ce", seed=5)
    seen = []
    history = net.fit(X, y, epochs=6, optimizer="adam", lr=0.01, batch_size=16, validation=0.2, test=(X, y),
                      callback=seen.append, verbose=True)
    assert len(history) == 6 and seen == history == net.history
    assert history[-1].train_loss < history[0].train_loss
    assert all(0 <= e.val_accuracy <= 1 and e.test_loss > 0 for e in history)
    assert history[0].learning_rate == pytest.approx(0.01)
    assert net.evaluate(X, y)["loss"] == pytest.approx(history[-1].test_loss)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 6 and out[0].startswith("epoch 1/6  train loss") and "val accuracy" in out[0]


def test_callback_false_stops_and_early_stop_keeps_best(blobs):
    X, y = blobs
    net = backprop.Network([4, 16, 3], loss="ce", seed=5)
    assert len(net.fit(X, y, epochs=10, callback=lambda e: e.epoch < 3)) == 3
    # A learning rate this high makes the validation loss jump about: early stopping must
    # stop `patience` epochs after the lowest one and leave that epoch's weights.
    Xv, yv = X[:100] + 0.7 * np.random.RandomState(3).randn(100, 4).astype(np.float32), y[:100]
    net = backprop.Network([4, 16, 3], loss="ce", seed=5)
    h = net.fit(X[100:], y[100:], epochs=60, lr=4.0, early_stop=3, validation=(Xv, yv))
    losses = [e.val_loss for e in h]
    best = int(np.argmin(losses))
    assert len(h) == min(60, best + 1 + 3), losses
    assert best < len(h) - 1, "the run should end on a worse epoch than its best"
    assert net.evaluate(Xv, yv)["loss"] == pytest.approx(losses[best], rel=1e-12)


def test_callback_that_closes_or_refits_the_network_stops_fit(blobs):
    # Each of these frees the trainer fit is running: fit must stop when the callback
    # returns, saying why, not go on into the library ("training: invalid argument").
    X, y = blobs
    net = backprop.Network([4, 8, 3], loss="ce", seed=5)
    seen = []
    with pytest.raises(ValueError, match="closed during fit .*after epoch 2"):
        net.fit(X, y, epochs=5, callback=lambda e: seen.append(e) or (net.close() if e.epoch == 2 else None))
    assert len(seen) == 2 and net.closed
    net = backprop.Network([4, 8, 3], loss="ce", seed=5)
    with pytest.raises(ValueError, match="closed during fit"):  # even when it also asks to stop
        net.fit(X, y, epochs=5, callback=lambda e: net.close() or False)
    for change in (lambda net: net.fit(X, y, epochs=1), lambda net: setattr(net, "dropout", 0.5)):
        net = backprop.Network([4, 8, 3], loss="ce", seed=5)
        with pytest.raises(RuntimeError, match="trained again or rebuilt during fit .*after epoch 1"):
            net.fit(X, y, epochs=5, callback=lambda e, net=net, change=change: change(net))
        assert net.predict(X).shape == (300,)  # the network itself is whole
        assert len(net.fit(X, y, epochs=2)) == 2


def test_threads_give_the_same_bits(blobs):
    X, y = blobs
    results = []
    for threads in (1, 2, 3):
        net = backprop.Network([4, 64, 32, 3], loss="ce", seed=7, threads=threads)
        assert net.threads == threads
        net.fit(X, y, epochs=3, optimizer="adam", batch_size=32)
        results.append(np.concatenate([W.ravel() for W in net.weights]))
    assert (results[0] == results[1]).all() and (results[0] == results[2]).all()


def test_training_releases_the_gil():
    # One epoch of about 56 GFLOP (over half a second here) is one call into the library.
    rng = np.random.RandomState(0)
    X = rng.rand(30000, 128).astype(np.float32)
    y = rng.randint(0, 10, 30000)
    net = backprop.Network([128, 512, 512, 10], loss="ce", seed=1)
    started, ended = threading.Event(), [0.0]

    def train():
        started.set()
        net.fit(X, y, epochs=1, batch_size=64)
        ended[0] = time.perf_counter()

    worker = threading.Thread(target=train)
    worker.start()
    started.wait()
    time.sleep(0.1)  # the worker is inside the epoch's call by now
    for _ in range(200):  # a little pure-Python work: it needs the GIL
        sum(range(1000))
    main_done = time.perf_counter()
    worker.join()
    # Had the call held the GIL, this thread could only have run after the epoch ended.
    assert ended[0] - main_done > 0.1, "the main thread waited for the epoch: the GIL was held"


def test_normalize_is_stored_and_applied(blobs):
    X, y = blobs
    X = X * 50 + 100
    net = backprop.Network([4, 16, 3], loss="ce", seed=1)
    net.fit(X, y, epochs=3, normalize="standardize")
    shift, scale = net.input_transform
    np.testing.assert_allclose(shift, X.mean(0), rtol=1e-4)
    raw = X[:5].copy()
    out = net.forward(raw)
    np.testing.assert_array_equal(raw, X[:5])  # the caller's array is left alone
    net2 = net.copy()
    net2.input_transform = None
    np.testing.assert_allclose(out, net2.forward((raw - shift) * scale), rtol=1e-6)
    net.fit(X, y, epochs=1, input_scale=255)
    np.testing.assert_allclose(net.input_transform[1], 1 / 255, rtol=1e-6)


def test_gradients_match_numpy_and_gradcheck():
    net = backprop.Network([5, 7, 4, 3], loss="ce", seed=3)
    net.biases = [np.linspace(-0.3, 0.3, n) for n in (7, 4, 3)]
    rng = np.random.RandomState(2)
    X, labels = rng.randn(6, 5), rng.randint(0, 3, 6)
    g = net.gradients(X, labels)
    dW, db = numpy_gradients(net, X, np.eye(3)[labels])
    for a, b in zip(g.dW + g.db, dW + db):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert g.loss == pytest.approx(net.compute_loss(X, labels), rel=1e-6)
    assert net.gradients(X, labels, reduction="sum").loss == pytest.approx(6 * g.loss, rel=1e-5)
    check = net.gradcheck(X, labels)
    assert check.ok and check.backprop_vs_reference < 1e-4 and check.reference_vs_finite_differences < 1e-7
    assert check.scale > 0 and check.loss == pytest.approx(g.loss, rel=1e-5)


@pytest.mark.parametrize("activation, output, loss, bias", [
    ("sigmoid", "sigmoid", "mse", True), ("tanh", None, "bce", False), ("leaky-relu", None, "ce", True),
    ("identity", "softmax", "mse", True)])
def test_gradcheck_on_made_up_data(activation, output, loss, bias):
    net = backprop.Network([3, 5, 4, 3], activation=activation, output=output, loss=loss, bias=bias, seed=1)
    for reduction in ("mean", "sum"):
        r = net.gradcheck(reduction=reduction, samples=3, seed=2)
        assert r.ok, r


def test_explain_is_the_library_text(program):
    net = backprop.Network([2, 3, 2], activation="sigmoid", output="sigmoid", loss="mse")
    cli = subprocess.run([program, "explain", "--arch", "2,3,2", "--activation", "sigmoid", "--output", "sigmoid"],
                         check=True, capture_output=True, text=True).stdout
    assert net.explain() == cli
    assert "z^1 = W^1 a^0 + b^1" in cli


def test_explain_with_a_sample():
    net = backprop.Network([3, 4, 2], loss="ce", seed=2)
    x = np.array([0.5, -1.0, 2.0])
    doc = net.explain(x, 1, format="json", learning_rate=0.1)
    assert set(doc) >= {"network", "equations", "sample"}
    text = net.explain(x, 1, sample_name="my sample", batch=8)
    assert "my sample" in text
    g = net.gradients(x.reshape(1, -1), [1])
    flat = repr(doc["sample"])
    assert doc["sample"]["loss"] == pytest.approx(g.loss, rel=1e-5), flat[:300]


def test_save_load_and_the_command_line(tmp_path, program, blobs):
    X, y = blobs
    net = backprop.Network([4, 16, 3], loss="ce", seed=1)
    net.fit(X, y, epochs=2, normalize="minmax")
    net.class_names = ["a", "b", "c"]
    path = str(tmp_path / "m.bpm")
    net.save(path)
    back = backprop.load(path)
    assert back.sizes == net.sizes and back.class_names == ["a", "b", "c"]
    np.testing.assert_array_equal(back.forward(X), net.forward(X))
    # The program reads the same file and predicts the same outputs from raw data.
    csv = tmp_path / "x.csv"
    np.savetxt(csv, X[:10], delimiter=",", fmt="%.9g")
    out = subprocess.run([program, "predict", path, "--data", str(csv)], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    rows = np.array([[float(v) for v in line.split(",")] for line in out[1:]])
    np.testing.assert_allclose(rows, net.forward(X[:10]), rtol=1e-6, atol=1e-7)
    # And Python reads what the program writes.
    init = str(tmp_path / "init.bpm")
    subprocess.run([program, "init", "--arch", "4,5,2", "--activation", "tanh", "-o", init], check=True,
                   capture_output=True)
    assert backprop.load(init).sizes == (4, 5, 2) and backprop.load(init).activation == "tanh"


def test_checkpoint_resume_is_exact(tmp_path, blobs):
    X, y = blobs
    straight = backprop.Network([4, 16, 3], loss="ce", seed=1)
    straight.fit(X, y, epochs=4, optimizer="adam", batch_size=16)
    half = backprop.Network([4, 16, 3], loss="ce", seed=1)
    ckpt = str(tmp_path / "c.ckpt")
    half.fit(X, y, epochs=2, optimizer="adam", batch_size=16, checkpoint=ckpt)
    resumed = backprop.Network([4, 16, 3], loss="ce", seed=99)
    h = resumed.fit(X, y, epochs=4, resume=ckpt)
    assert [e.epoch for e in h] == [3, 4]
    np.testing.assert_array_equal(resumed.weights[0], straight.weights[0])
    loaded = backprop.load_checkpoint(ckpt)
    np.testing.assert_array_equal(loaded.weights[1], half.weights[1])
    loaded.save_checkpoint(str(tmp_path / "again.ckpt"))
    with pytest.raises(ValueError, match="fit the network first"):
        backprop.Network([4, 3]).save_checkpoint(str(tmp_path / "none.ckpt"))


def test_resume_keeps_the_settings_and_the_split(tmp_path, blobs):
    # A resumed fit trains with the checkpoint's settings and seed: options that say
    # otherwise are refused, and left out, the validation part is the same samples as
    # before, so the run ends where the one that was never stopped ends.
    X, y = blobs
    opts = dict(optimizer="adam", lr=0.002, batch_size=16, validation=0.25, seed=7)
    straight = backprop.Network([4, 16, 3], loss="ce", seed=1)
    straight.fit(X, y, epochs=4, **opts)
    ckpt = str(tmp_path / "c.ckpt")
    backprop.Network([4, 16, 3], loss="ce", seed=1).fit(X, y, epochs=2, checkpoint=ckpt, **opts)
    resumed = backprop.Network([4, 16, 3], loss="ce")
    resumed.fit(X, y, epochs=4, validation=0.25, resume=ckpt)
    np.testing.assert_array_equal(resumed.weights[0], straight.weights[0])
    again = backprop.Network([4, 16, 3], loss="ce")
    again.fit(X, y, epochs=4, resume=ckpt, **opts)  # the command that made it
    np.testing.assert_array_equal(again.weights[1], straight.weights[1])
    for given, says in [(dict(lr=0.1), "lr=0.1, but .* was trained with lr=0.002"),
                        (dict(optimizer="sgd", momentum=0.5), "momentum=0.5, but .* with momentum=0.0"),
                        (dict(optimizer="nesterov"), "optimizer='nesterov', but .* with optimizer='adam'"),
                        (dict(batch_size=32 + 1), "batch_size=33, but .* with batch_size=16"),
                        (dict(shuffle=False), "shuffle=False, but .* with shuffle=True"),
                        (dict(seed=8), "seed=8, but .* with seed=7")]:
        fresh = backprop.Network([4, 16, 3], loss="ce", seed=5)
        before = fresh.weights[0].copy()
        with pytest.raises(ValueError, match=says):
            fresh.fit(X, y, epochs=4, validation=0.25, resume=ckpt, **given)
        np.testing.assert_array_equal(fresh.weights[0], before)  # the refused fit left it as it was
    # options are compared as the library reads them: rprop trains on the full batch
    # whatever batch_size says, so the fit that made the checkpoint resumes as it was given
    rprop = str(tmp_path / "rprop.ckpt")
    backprop.Network([4, 16, 3], loss="ce").fit(X, y, epochs=2, optimizer="rprop", batch_size=8, checkpoint=rprop)
    backprop.Network([4, 16, 3], loss="ce").fit(X, y, epochs=3, optimizer="rprop", batch_size=8, resume=rprop)
    cosine = str(tmp_path / "cos.ckpt")
    backprop.Network([4, 16, 3], loss="ce").fit(X, y, epochs=3, schedule="cosine", checkpoint=cosine)
    with pytest.raises(ValueError, match="epochs=6 goes past the end of .*cosine schedule"):
        backprop.Network([4, 16, 3], loss="ce").fit(X, y, epochs=6, resume=cosine)


def test_resume_after_early_stopping(tmp_path, blobs):
    # The checkpoint keeps early stopping's books: a fit that stopped trains no further
    # when resumed and keeps its best weights; one interrupted after its best epoch goes
    # back to that epoch even if it trains none; fewer epochs than are done is refused.
    X, y = blobs
    opts = dict(optimizer="adam", lr=0.05, validation=0.25, early_stop=1, seed=3)
    ckpt = str(tmp_path / "es.ckpt")
    straight = backprop.Network([4, 16, 3], loss="ce", seed=1)
    h = straight.fit(X, y, epochs=60, checkpoint=ckpt, **opts)
    assert len(h) < 60, "early stopping never stopped: pick other data"
    best = min(range(len(h)), key=lambda i: h[i].val_loss)
    assert best == len(h) - 2  # patience 1: stopped one epoch after its best
    resumed = backprop.Network([4, 16, 3], loss="ce")
    assert resumed.fit(X, y, epochs=60, resume=ckpt, **opts) == []
    for a, b in zip(resumed.weights, straight.weights):
        np.testing.assert_array_equal(a, b)
    again = backprop.Network([4, 16, 3], loss="ce")
    assert again.fit(X, y, epochs=len(h), resume=ckpt, **opts) == []  # finished: nothing to train
    for a, b in zip(again.weights, straight.weights):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="epochs=2, but .* has %d epochs behind it" % len(h)):
        backprop.Network([4, 16, 3], loss="ce").fit(X, y, epochs=2, resume=ckpt, **opts)


def test_the_command_line_resumes_a_fit(tmp_path, program, blobs):
    # A checkpoint from fit has no history of the program's: the program's log and --json
    # still count the epochs behind it (as rows without metrics), and its clock starts at 0.
    X, y = blobs
    csv = tmp_path / "d.csv"
    np.savetxt(csv, np.column_stack([X, y]), delimiter=",", fmt="%.9g")
    ckpt, log = str(tmp_path / "fit.ckpt"), tmp_path / "log.csv"
    backprop.Network([4, 16, 3], loss="ce", seed=1).fit(X, y, epochs=2, checkpoint=ckpt)
    out = subprocess.run([program, "train", "--train", str(csv), "--epochs", "4", "--resume", ckpt, "--log", str(log),
                          "--json"], check=True, capture_output=True, text=True).stdout.splitlines()
    assert [json.loads(line).get("epoch") for line in out] == [3, 4, None]
    done = json.loads(out[-1])
    assert done["epochs"] == 4 and 0 <= done["seconds"] < 60
    rows = [line.split(",") for line in log.read_text().splitlines()[1:]]
    assert [r[0] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0][1] == "" and float(rows[2][1]) > 0  # no train loss for the epochs fit ran
    assert 0 <= float(rows[2][-1]) <= float(rows[3][-1])


def test_pickle_copy_and_bytes(blobs):
    X, _ = blobs
    net = backprop.Network([4, 6, 3], loss="ce", seed=8, threads=2)
    twin = pickle.loads(pickle.dumps(net))
    assert twin.threads == 2
    np.testing.assert_array_equal(twin.forward(X), net.forward(X))
    clone = net.copy()
    clone.weights = [W * 2 for W in clone.weights]
    assert not (clone.weights[0] == net.weights[0]).all()
    assert backprop.Network.from_bytes(net.to_bytes()).sizes == (4, 6, 3)


def test_other_threads_take_turns_on_one_network(blobs):
    X, y = blobs
    net = backprop.Network([4, 32, 3], loss="ce", seed=1)
    errors = []

    def work():
        try:
            for _ in range(20):
                net.forward(X)
                net.gradients(X[:10], y[:10])
        except Exception as e:  # pragma: no cover - the failure is reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    net.fit(X, y, epochs=3)
    for t in threads:
        t.join()
    assert not errors


def test_sparse_and_list_inputs():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    net = backprop.Network([3, 4, 2], seed=1)
    X = np.array([[0, 1, 0], [2, 0, 0]], np.float32)
    np.testing.assert_array_equal(net.forward(scipy_sparse.csr_matrix(X)), net.forward(X))
    np.testing.assert_array_equal(net.forward(X.tolist()), net.forward(X))


def test_cuda_without_a_gpu_says_why(blobs):
    if backprop.cuda_devices() > 0:
        pytest.skip("a GPU is here: the CUDA path is tested by tests/gpu (tools/gpu-check.sh)")
    X, y = blobs
    net = backprop.Network([4, 8, 3], loss="ce")
    with pytest.raises(NotImplementedError) as info:
        net.fit(X, y, epochs=1, device="cuda")
    assert isinstance(info.value, backprop.UnsupportedError) and "CUDA" in str(info.value)


def test_default_threads():
    assert backprop.default_threads() >= 1
    net = backprop.Network([2, 2], threads=0)
    assert net.threads == backprop.default_threads()
