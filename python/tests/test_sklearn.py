"""backprop.sklearn: scikit-learn's conformance suite, and drop-in use beside
scikit-learn's own MLP."""
import copy
import pickle
import re
import threading
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_digits, make_multilabel_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError, SkipTestWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks  # noqa: E402

import backprop  # noqa: E402
from backprop._clib import C  # noqa: E402
from backprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


# Every check for the defaults, for solver='lbfgs' and with dropout (one value, and one per layer).
ESTIMATORS = [MLPClassifier(), MLPRegressor(), MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs"),
              MLPClassifier(dropout=0.2), MLPRegressor(dropout=[0.3])]
# With lbfgs, a multi-label fit drives some sigmoid outputs to exactly 0 or 1, which this check
# refuses (it wants probabilities strictly between): scikit-learn's own lbfgs MLP fails it too.
SATURATES = "check_classifiers_multilabel_output_format_predict_proba"


@parametrize_with_checks(ESTIMATORS)
def test_check_estimator(estimator, check):
    if getattr(check, "func", check).__name__ == SATURATES and estimator.solver == "lbfgs":
        try:
            check(estimator)
        except AssertionError as e:
            assert "should therefore contain values between 0 and 1" in str(e)
            with pytest.raises(AssertionError, match="should therefore contain values between 0 and 1"):
                check(neural_network.MLPClassifier(solver="lbfgs"))
            pytest.xfail("saturated probabilities after lbfgs, as scikit-learn's own MLP gives them")
        return
    check(estimator)


def skipped_checks(estimator):
    """The checks check_estimator skips for an estimator (pandas missing, no
    decision_function, ...): scikit-learn's own MLP is allowed these, and only these."""
    skipped = set()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_estimator(estimator)
    for w in caught:
        if issubclass(w.category, SkipTestWarning):
            skipped.add(str(w.message).split(" ")[0] if "check_" not in str(w.message) else str(w.message))
    return {s.replace(type(estimator).__name__, "MLP") for s in skipped}


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier(), neural_network.MLPClassifier()),
                                          (MLPRegressor(), neural_network.MLPRegressor()),
                                          (MLPClassifier(dropout=0.2), neural_network.MLPClassifier()),
                                          (MLPRegressor(solver="lbfgs"), neural_network.MLPRegressor(solver="lbfgs"))])
def test_we_skip_only_what_scikit_learns_mlp_skips(ours, theirs):
    assert skipped_checks(ours) == skipped_checks(theirs)


def test_same_parameters_and_defaults():
    for ours, theirs in ((MLPClassifier(), neural_network.MLPClassifier()),
                         (MLPRegressor(), neural_network.MLPRegressor())):
        p, q = ours.get_params(), theirs.get_params()
        extra = {k: p.pop(k) for k in ("threads", "device", "precision", "dropout")}
        assert p == q
        assert extra == {"threads": None, "device": "cpu", "precision": "fp32", "dropout": 0.0}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, random_state=0)


def test_digits_against_scikit_learn(digits):
    Xtr, Xte, ytr, yte = digits
    params = dict(hidden_layer_sizes=(64,), max_iter=40, random_state=0, batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(threads=1, **params).fit(Xtr, ytr)
        theirs = neural_network.MLPClassifier(**params).fit(Xtr, ytr)
    assert ours.score(Xte, yte) > theirs.score(Xte, yte) - 0.03
    assert ours.n_iter_ == len(ours.loss_curve_) and ours.t_ == ours.n_iter_ * len(Xtr)
    assert ours.loss_curve_[-1] < ours.loss_curve_[0] and ours.loss_ == ours.loss_curve_[-1]
    assert ours.best_loss_ == min(ours.loss_curve_)
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_] == [(64, 64), (64, 10)]
    assert [b.shape for b in ours.intercepts_] == [(64,), (10,)]
    for attr in ("classes_", "n_layers_", "n_outputs_", "out_activation_", "n_features_in_"):
        assert np.all(getattr(ours, attr) == getattr(theirs, attr)), attr
    assert ours.validation_scores_ is None and ours.validation_loss_curve_ is None
    assert ours.best_validation_score_ is None
    proba = ours.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(ours.classes_[proba.argmax(1)], ours.predict(Xte))
    np.testing.assert_allclose(ours.predict_log_proba(Xte), np.log(proba), rtol=1e-6)


def test_coefs_are_the_networks_parameters(digits):
    Xtr, _, ytr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(Xtr, ytr)
    np.testing.assert_array_equal(clf.coefs_[0], clf.network_.weights[0].T)
    before = clf.predict_proba(Xtr[:5])
    clf.coefs_[1][:] = 0  # in place, as with scikit-learn's arrays
    clf.intercepts_[1][:] = 0
    np.testing.assert_allclose(clf.predict_proba(Xtr[:5]), 0.1, rtol=1e-6)
    clf.coefs_ = [c * 0 + 0.01 for c in clf.coefs_]
    assert (clf.network_.weights[0] == np.float32(0.01)).all()
    assert not np.allclose(before, clf.predict_proba(Xtr[:5]))


def test_coefs_outlive_a_closed_network(digits):
    # coefs_ and intercepts_ are views of the library's memory: closing the network (or
    # dropping the estimator) must not free it under them. Networks of the same shape
    # made afterwards would reuse freed memory and overwrite what the views show.
    Xtr, _, ytr, _ = digits
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2, random_state=0).fit(Xtr, ytr)
    coefs, intercepts = clf.coefs_, clf.intercepts_
    kept = [c.copy() for c in coefs] + [b.copy() for b in intercepts]
    clf.network_.close()
    del clf
    others = [backprop.Network([64, 16, 10], activation="relu", output="softmax", loss="ce", seed=s)
              for s in range(2, 10)]
    for view, copy_ in zip(coefs + intercepts, kept):
        np.testing.assert_array_equal(view, copy_)
    assert all(not o.closed for o in others)


def test_early_stopping(digits, monkeypatch):
    Xtr, _, ytr, _ = digits
    import backprop.sklearn as module
    split, held_out = module.train_test_split, {}

    def spy(*args, **kwargs):  # keep the validation part fit holds out
        parts = split(*args, **kwargs)
        held_out["X"], held_out["Y"] = parts[1], parts[-1]  # X, X_val, [X32, X32_val,] y, y_val
        return parts

    monkeypatch.setattr(module, "train_test_split", spy)
    clf = MLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, n_iter_no_change=3, max_iter=200,
                        random_state=1, learning_rate_init=0.05).fit(Xtr, ytr)
    scores = clf.validation_scores_
    assert clf.n_iter_ == len(scores) == len(clf.validation_loss_curve_) < 200
    assert clf.best_validation_score_ == max(scores) and clf.best_loss_ is None
    best = int(np.argmax(scores))
    assert best < len(scores) - 1, "the last epoch should not be the best one here"
    # sklearn's rule: stop once more than n_iter_no_change epochs in a row fail to beat the best by tol
    assert len(scores) - 1 - best >= 3
    # the weights are the best epoch's again: the held-out part scores as it did then
    yv = clf._label_binarizer.inverse_transform(held_out["Y"])
    assert held_out["X"].shape[0] == round(0.1 * len(Xtr))
    assert clf.score(held_out["X"], yv) == scores[best]
    assert all(v > 0 for v in clf.validation_loss_curve_)


def test_partial_fit_continues_the_optimizer(digits):
    Xtr, _, ytr, _ = digits
    whole = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole.fit(Xtr, ytr)
    step = MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    for _ in range(3):
        step.partial_fit(Xtr, ytr, classes=np.arange(10))
    assert step.n_iter_ == 3 and step.t_ == whole.t_
    for a, b in zip(step.coefs_, whole.coefs_):
        np.testing.assert_array_equal(a, b)
    # and across a pickle, which carries the optimizer's state
    restored = pickle.loads(pickle.dumps(step))
    step.partial_fit(Xtr, ytr)
    restored.partial_fit(Xtr, ytr)
    np.testing.assert_array_equal(step.coefs_[0], restored.coefs_[0])
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(Xtr, ytr)
    # batch_size='auto' is min(200, n_samples) on every call, not only on the first
    small = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(Xtr[:50], ytr[:50], np.arange(10))
    small.partial_fit(Xtr[:600], ytr[:600])
    assert C.bp_trainer_steps_done(small.network_._trainer.handle) == 1 + 3  # 50 at once, then 600 by 200


def test_learning_rate_schedules(digits):
    Xtr, _, ytr, _ = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        inv = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate="invscaling", power_t=0.5,
                            learning_rate_init=0.5, max_iter=3, random_state=0).fit(Xtr, ytr)
    expect = 0.5 / (inv.t_ + 1) ** 0.5
    assert inv.network_._trainer.learning_rate == pytest.approx(expect)
    # tol this large makes every epoch a failure to improve: each second one divides eta by 5
    ada = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd", learning_rate="adaptive", tol=1e9,
                        n_iter_no_change=1, learning_rate_init=0.5, max_iter=7, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ada.fit(Xtr, ytr)
    assert ada.n_iter_ == 7
    assert ada.network_._trainer.learning_rate == pytest.approx(0.5 / 5 ** 3)
    # adam stops at the first trigger: after n_iter_no_change + 1 epochs, as scikit-learn's does
    params = dict(hidden_layer_sizes=(8,), solver="adam", tol=1e9, n_iter_no_change=1, max_iter=50, random_state=0)
    assert MLPClassifier(**params).fit(Xtr, ytr).n_iter_ == neural_network.MLPClassifier(**params).fit(Xtr, ytr).n_iter_ == 3


def test_sgd_variants_run(digits):
    Xtr, Xte, ytr, yte = digits
    for momentum, nesterov in ((0.0, False), (0.9, False), (0.9, True)):
        clf = MLPClassifier(hidden_layer_sizes=(32,), solver="sgd", momentum=momentum, nesterovs_momentum=nesterov,
                            learning_rate_init=0.1, max_iter=15, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            assert clf.fit(Xtr, ytr).score(Xte, yte) > 0.85


def test_binary_multilabel_and_string_classes():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    yb = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=100, random_state=0, learning_rate_init=0.02).fit(X, yb)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1 and list(clf.classes_) == ["no", "yes"]
    assert clf.predict_proba(X).shape == (200, 2) and clf.score(X, yb) > 0.9
    Xm, Ym = make_multilabel_classification(n_samples=200, n_features=6, n_classes=3, random_state=0)
    Xm = Xm / Xm.max()
    ml = MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0, learning_rate_init=0.01).fit(Xm, Ym)
    assert ml.out_activation_ == "logistic" and ml.predict(Xm).shape == (200, 3)
    assert set(np.unique(ml.predict(Xm))) <= {0, 1}
    sk = neural_network.MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0,
                                      learning_rate_init=0.01).fit(Xm, Ym)
    assert ml.score(Xm, Ym) > sk.score(Xm, Ym) - 0.1  # subset accuracy, as scikit-learn scores multi-label


def _labelled(labels, n=240, seed=0):
    """X of 4 columns and one of `labels` per row, learnable from X."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 4)
    k = np.clip(((X[:, 0] + 2) * len(labels) / 4).astype(int), 0, len(labels) - 1)
    return X, np.asarray(labels)[k]


def _cli_classes(program, path, X, tmp_path):
    """`backprop predict PATH --classes` on X, read back as CSV."""
    import csv
    import io
    import subprocess
    data = tmp_path / "x.csv"
    np.savetxt(data, X, delimiter=",", fmt="%.17g")
    out = subprocess.run([program, "predict", str(path), "--data", str(data), "--classes"], check=True,
                         capture_output=True, text=True, encoding="utf-8").stdout
    rows = list(csv.reader(io.StringIO(out, newline="")))
    assert rows[0] == ["class"]
    return [r[0] for r in rows[1:]]


def test_string_classes_travel_with_the_network(tmp_path, program):
    # Labels a CSV file must quote (a comma, a quote, a line break) and one beyond ASCII.
    labels = ["ok", "worn, badly", 'say "hi"', "two\nlines", "übel"]
    X, y = _labelled(labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, random_state=0,
                            learning_rate_init=0.02).fit(X, y)
    assert clf.score(X, y) > 0.9
    assert clf.network_.class_names == list(clf.classes_) == sorted(labels)
    np.testing.assert_array_equal(clf.network_.predict(X), clf.predict(X))
    path = tmp_path / "m.bpm"
    clf.network_.save(path)
    assert _cli_classes(program, path, X, tmp_path) == list(clf.predict(X))
    loaded = backprop.load(path)
    assert loaded.class_names == list(clf.classes_)
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    import json
    import subprocess
    info = subprocess.run([program, "info", str(path), "--json"], check=True, capture_output=True).stdout
    assert json.loads(info)["classes"] == list(clf.classes_)
    assert '"worn, badly",' in clf.network_.export_c(name="m")
    assert b"worn, badly" in clf.network_.export_onnx()
    # Kept through pickle (with the trainer: partial_fit goes on) and deepcopy, warm_start
    # (also when it rebuilds the network for other dropout) and partial_fit.
    again = pickle.loads(pickle.dumps(clf))
    assert again.network_.class_names == list(clf.classes_)
    again.partial_fit(X, y)
    assert again.network_.class_names == list(clf.classes_)
    assert copy.deepcopy(clf).network_.class_names == list(clf.classes_)
    clf.set_params(warm_start=True, max_iter=2, dropout=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.network_.dropout == (0.1,) and clf.network_.class_names == list(clf.classes_)
    partial = MLPClassifier(hidden_layer_sizes=(8,), random_state=0).partial_fit(X[:50], y[:50], classes=labels)
    assert partial.network_.class_names == sorted(labels)
    # A fit anew, without warm_start, takes the new labels.
    fresh = clone(clf).set_params(warm_start=False, dropout=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fresh.fit(X, np.char.add("c-", np.char.replace(y.astype(str), "\n", " ")))
    assert fresh.network_.class_names == ["c-" + c.replace("\n", " ") for c in sorted(labels)]


def test_numeric_classes_name_the_network_unless_numbered(tmp_path, program):
    def fitted(y, X):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0,
                                 learning_rate_init=0.05).fit(X, y)

    # 0..K-1 (as integers or as floats): the indices are the labels, as the command line
    # reads numbered classes, and the model has no names.
    X, y = _labelled([0, 1, 2])
    assert fitted(y.astype(int), X).network_.class_names is None
    assert fitted(y.astype(float), X).network_.class_names is None
    # Other numbers are named by their text, which the command line prints.
    X, y = _labelled([3, 5, 7])
    clf = fitted(y.astype(int), X)
    assert clf.network_.class_names == ["3", "5", "7"]
    clf.network_.save(tmp_path / "m.bpm")
    assert _cli_classes(program, tmp_path / "m.bpm", X, tmp_path) == [str(c) for c in clf.predict(X)]
    assert fitted(y.astype(float), X).network_.class_names == ["3.0", "5.0", "7.0"]
    # One logistic output has no place for two names; multilabel and regression outputs
    # are not one class column, which names would make the command line read.
    X, y = _labelled(["no", "yes"])
    assert fitted(y, X).network_.class_names is None
    Xm, Ym = make_multilabel_classification(n_samples=60, n_features=4, n_classes=3, random_state=0)
    assert fitted(Ym, Xm).network_.class_names is None
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert reg.fit(X, X[:, 0]).network_.class_names is None


def test_classes_without_a_text_form_leave_the_network_unnamed():
    from backprop.sklearn import _class_names
    for labels, why in ((["a", "b\0c", "d"], "NUL"), (["a", "b\udc80", "d"], "UTF-8")):
        X, y = _labelled(labels)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with pytest.warns(UserWarning, match=why):
                clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
        assert clf.network_.class_names is None and list(clf.classes_) == labels
        np.testing.assert_array_equal(clf.classes_[clf.network_.predict(X)], clf.predict(X))
    with pytest.warns(UserWarning, match="two classes read '1' as text"):
        assert _class_names(np.array([1, "1", 2], dtype=object), "softmax") is None


def test_multioutput_regression_uses_scikit_learns_loss():
    X, Y = make_regression(n_samples=300, n_features=6, n_targets=3, noise=0.1, random_state=0)
    Y = Y / Y.std(0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0, learning_rate_init=0.01).fit(X, Y)
    assert reg.predict(X).shape == (300, 3) and reg.score(X, Y) > 0.95 and reg.out_activation_ == "identity"
    # loss_ is (1/2) mean over samples *and* outputs of the squared error (plus nothing else:
    # measured during the last epoch, so near the end-of-training figure)
    final = 0.5 * np.mean((reg.predict(X) - Y) ** 2)
    assert reg.loss_ == pytest.approx(final, rel=0.3)
    one = MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(X, Y[:, 0])
    assert one.predict(X).shape == (300,) and one.n_outputs_ == 1


def test_in_pipeline_grid_search_and_cross_validation(digits):
    Xtr, _, ytr, _ = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=20, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(8,), (32,)]}, cv=2).fit(Xtr, ytr)
        assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] in [(8,), (32,)]
        scores = cross_val_score(MLPRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0),
                                 Xtr, ytr.astype(float), cv=3)
    assert len(scores) == 3
    c = clone(grid.best_estimator_)
    assert "_net" not in c[-1].__dict__
    twin = copy.deepcopy(grid.best_estimator_)
    np.testing.assert_array_equal(twin.predict_proba(Xtr), grid.best_estimator_.predict_proba(Xtr))


def lbfgs_warnings(make, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = make().fit(X, y)
    return est, [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_lbfgs_beside_scikit_learns(digits):
    Xtr, Xte, ytr, yte = digits
    for kwargs in (dict(max_iter=200), dict(max_iter=15), dict(max_iter=150, max_fun=10)):
        params = dict(solver="lbfgs", hidden_layer_sizes=(32,), random_state=0, **kwargs)
        ours, our_warnings = lbfgs_warnings(lambda: MLPClassifier(threads=1, **params), Xtr, ytr)
        theirs, their_warnings = lbfgs_warnings(lambda: neural_network.MLPClassifier(**params), Xtr, ytr)
        # the same warning, word for word (status and scipy's reason), or none for both
        assert our_warnings == their_warnings, kwargs
        assert ours.score(Xte, yte) > theirs.score(Xte, yte) - 0.03
        if kwargs["max_iter"] == 15:
            assert ours.n_iter_ == theirs.n_iter_ == 15 and "STOP: TOTAL NO. of ITERATIONS" in our_warnings[0]
        elif "max_fun" in kwargs:
            assert ours.n_iter_ <= 10 and "f AND g EVALUATIONS EXCEEDS LIMIT" in our_warnings[0]
        else:
            assert not our_warnings and 10 < ours.n_iter_ < 200
            # no epochs after it stopped (each would be a call that changes nothing)
            assert ours.network_._trainer.epochs_done <= ours.n_iter_ + 1
        # loss_ is the objective scikit-learn minimizes: log-loss + (alpha / 2 n) ||W||^2, here
        # computed by NumPy from predict_proba and coefs_
        proba = ours.predict_proba(Xtr).astype(np.float64)
        penalty = 0.5 * ours.alpha * sum((c.astype(np.float64) ** 2).sum() for c in ours.coefs_) / len(Xtr)
        expect = -np.log(proba[np.arange(len(ytr)), ytr]).mean() + penalty
        assert ours.loss_ == pytest.approx(expect, rel=1e-4)
        for attr in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
            assert not hasattr(ours, attr) and not hasattr(theirs, attr), attr
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="dropout does not go with solver='lbfgs'"):
        MLPClassifier(solver="lbfgs", dropout=0.1).fit(Xtr, ytr)


def test_lbfgs_regression_and_warm_start():
    X, Y = make_regression(n_samples=200, n_features=5, n_targets=2, noise=0.1, random_state=0)
    Y = Y / Y.std(0)
    reg, caught = lbfgs_warnings(lambda: MLPRegressor(solver="lbfgs", hidden_layer_sizes=(16,), max_iter=40,
                                                      random_state=0, warm_start=True), X, Y)
    assert reg.n_iter_ == 40 and "ITERATIONS REACHED LIMIT" in caught[0]
    # scikit-learn's squared error: 1/2 the mean over samples and outputs, plus the penalty
    penalty = 0.5 * reg.alpha * sum((c.astype(np.float64) ** 2).sum() for c in reg.coefs_) / len(X)
    assert reg.loss_ == pytest.approx(0.5 * np.mean((reg.predict(X) - Y) ** 2) + penalty, rel=1e-4)
    first = reg.loss_
    reg.set_params(max_iter=2000).fit(X, Y)  # warm_start: on from where it stopped, with a fresh history
    assert reg.loss_ < first and reg.score(X, Y) > 0.99


def test_lbfgs_tol_is_scikit_learns_gradient_tolerance():
    X, Y = make_regression(n_samples=200, n_features=5, n_targets=3, noise=0.1, random_state=1)
    Y = Y / Y.std(0)
    params = dict(solver="lbfgs", hidden_layer_sizes=(16,), random_state=0, tol=1e-2, max_iter=1000)

    def largest_gradient(est):
        """max |d/dp| of scikit-learn's objective, (1/2) mean over samples and outputs of the
        squared error + (alpha / 2 n) ||W||^2, from the library's gradient of its own loss
        (which sums the outputs)."""
        g = est.network_.gradients(X, Y)
        k, wd = Y.shape[1], est.alpha / len(X)
        return max(max(np.abs(dW / k + wd * W).max() for dW, W in zip(g.dW, est.network_.weights)),
                   max(np.abs(db / k).max() for db in g.db))

    reg, caught = lbfgs_warnings(lambda: MLPRegressor(**params), X, Y)
    assert not caught and largest_gradient(reg) <= 1e-2
    # one iteration less, and the gradient is not within tol yet: it stopped at the first point that was
    before, caught = lbfgs_warnings(lambda: MLPRegressor(**dict(params, max_iter=reg.n_iter_ - 1)), X, Y)
    assert "ITERATIONS REACHED LIMIT" in caught[0] and largest_gradient(before) > 1e-2


def test_dropout(digits):
    Xtr, Xte, ytr, yte = digits
    params = dict(hidden_layer_sizes=(64, 32), max_iter=30, random_state=0, batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = MLPClassifier(**params).fit(Xtr, ytr)
        dropped = MLPClassifier(dropout=0.2, **params).fit(Xtr, ytr)
        again = MLPClassifier(dropout=[0.2, 0.2], **params).fit(Xtr, ytr)
        per_layer = MLPClassifier(dropout=[0.5, 0.0], **params).fit(Xtr, ytr)
    assert dropped.network_.dropout == (0.2, 0.2) and per_layer.network_.dropout == (0.5, 0.0)
    assert plain.network_.dropout == (0.0, 0.0)
    # masks come from random_state: the same fit twice gives the same model
    np.testing.assert_array_equal(dropped.coefs_[0], again.coefs_[0])
    assert not np.array_equal(dropped.coefs_[0], plain.coefs_[0])
    assert dropped.score(Xte, yte) > 0.9
    with pytest.raises(ValueError, match="3 probabilities for 2 hidden layers"):
        MLPClassifier(dropout=[0.1, 0.1, 0.1], **params).fit(Xtr, ytr)
    # warm_start with other dropout keeps the weights; partial_fit refuses to change it
    weights = dropped.coefs_[0].copy()
    dropped.set_params(warm_start=True, dropout=0.0, max_iter=1, learning_rate_init=1e-30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dropped.fit(Xtr, ytr)
    assert dropped.network_.dropout == (0.0, 0.0)
    np.testing.assert_array_equal(dropped.coefs_[0], weights)
    step = MLPClassifier(hidden_layer_sizes=(16,), dropout=0.1).partial_fit(Xtr, ytr, classes=np.arange(10))
    with pytest.raises(ValueError, match="dropout changed between partial_fit calls"):
        step.set_params(dropout=0.3).partial_fit(Xtr, ytr)


def test_precision(digits, monkeypatch):
    Xtr, Xte, ytr, yte = digits
    params = dict(hidden_layer_sizes=(32,), max_iter=5, random_state=0, batch_size=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fp32 = MLPClassifier(**params).fit(Xtr, ytr)
        emulated = MLPClassifier(precision="bf16-emulated", **params).fit(Xtr, ytr)
        if C.bp_precision_kernel(1) is not None:
            bf16 = MLPClassifier(precision="bf16", **params).fit(Xtr, ytr)
            # the same bf16 arithmetic on this CPU's kernel and in portable C (up to the order of sums)
            np.testing.assert_allclose(bf16.coefs_[0], emulated.coefs_[0], atol=1e-5)
            assert bf16.score(Xte, yte) > fp32.score(Xte, yte) - 0.05
    # rounded operands take other steps than float32's
    assert np.abs(emulated.coefs_[0] - fp32.coefs_[0]).max() > 1e-3
    # a checkpoint does not keep the precision: partial_fit after a pickle sets it again
    step = MLPClassifier(hidden_layer_sizes=(16,), random_state=0, precision="bf16-emulated")
    step.partial_fit(Xtr, ytr, classes=np.arange(10))
    restored = pickle.loads(pickle.dumps(step))
    step.partial_fit(Xtr, ytr)
    restored.partial_fit(Xtr, ytr)
    np.testing.assert_array_equal(step.coefs_[0], restored.coefs_[0])
    with pytest.raises(ValueError, match="precision"):
        MLPClassifier(precision="int8").fit(Xtr, ytr)
    monkeypatch.setattr(C, "bp_precision_kernel", lambda code: None if code == 1 else b"fp32")
    with pytest.raises(NotImplementedError, match="neither AMX-BF16 tiles nor AVX512_BF16"):
        MLPClassifier(precision="bf16").fit(Xtr, ytr)


def test_threads_verbose_and_unfitted(digits, capsys):
    Xtr, _, ytr, _ = digits
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(Xtr)
    with pytest.raises(AttributeError):
        MLPClassifier().coefs_
    a = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0, threads=1, verbose=True)
    b = MLPClassifier(hidden_layer_sizes=(16,), max_iter=3, random_state=0, threads=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a.fit(Xtr, ytr)
        b.fit(Xtr, ytr)
    assert a.network_.threads == 1 and b.network_.threads == 2
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("Iteration 1, loss = ") and len(out) == 3


def test_bad_input_messages():
    clf = MLPClassifier(max_iter=5)
    with pytest.raises(ValueError, match="NaN"):
        clf.fit([[1, np.nan], [0, 1]], [0, 1])
    with pytest.raises(ValueError, match="0 sample"):
        clf.fit(np.zeros((0, 3)), [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(np.eye(4), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        clf.predict(np.zeros((2, 3)))


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_starts_from_scikit_learns_weights(digits, activation):
    Xtr, _, ytr, _ = digits
    sk = neural_network.MLPClassifier(hidden_layer_sizes=(16,), activation=activation)
    sk._random_state = np.random.RandomState(3)
    expected = [sk._init_coef(64, 16, np.float64), sk._init_coef(16, 10, np.float64)]
    # One epoch at a learning rate too small to move a float32 weight leaves the start.
    ours = MLPClassifier(hidden_layer_sizes=(16,), activation=activation, random_state=3, solver="sgd",
                         momentum=0, learning_rate_init=1e-15, alpha=0, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(Xtr, ytr)
    for (coef, intercept), c, b in zip(expected, ours.coefs_, ours.intercepts_):
        np.testing.assert_allclose(c, coef, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(b, intercept, rtol=1e-6, atol=1e-7)


def test_values_float32_cannot_hold_are_refused():
    # scikit-learn's own MLP computes in float64; the engine in float32, where 1e39 is
    # infinity: fit said "training diverged", predict_proba gave NaN.
    rng = np.random.RandomState(0)
    X, y = rng.rand(20, 3), np.arange(20) % 2
    big = X.copy()
    big[7, 1] = 1e39
    match = r"X holds 1e\+39 at row 7, column 1, beyond float32's range"
    for est in (MLPClassifier(max_iter=2), MLPClassifier(max_iter=2, early_stopping=True),
                MLPClassifier(solver="lbfgs", max_iter=2), MLPRegressor(max_iter=2)):
        with pytest.raises(ValueError, match=match):
            est.fit(big, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match=match):
        clf.predict_proba(big)
    with pytest.raises(ValueError, match=r"y holds 1e\+39 at row 3, column 0"):
        MLPRegressor(max_iter=2).fit(X, np.where(np.arange(20) == 3, 1e39, 0.0))


def test_early_stopping_float32_and_float64_x_train_alike():
    # fit reads a float32 copy of float64 X and splits both forms together.
    rng = np.random.RandomState(0)
    X, y = rng.rand(60, 4), rng.randint(0, 3, 60)
    fits = []
    for Xd in (X, X.astype(np.float32)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, max_iter=5,
                                      random_state=0).fit(Xd.astype(np.float32).astype(Xd.dtype), y))
    assert fits[0].validation_scores_ == fits[1].validation_scores_
    for a, b in zip(fits[0].coefs_, fits[1].coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("nesterovs_momentum, epochs", [(False, 20), (True, 50)])
def test_momentum_one_as_scikit_learn(nesterovs_momentum, epochs):
    # scikit-learn takes momentum in [0, 1]; the library refuses 1, and fit raised
    # "invalid combination of training settings: invalid argument". The trainer now gets
    # the double below 1, which its float rounds to 1: the steps are scikit-learn's.
    rng = np.random.RandomState(0)
    X = rng.rand(16, 3)
    y = X @ [1.0, -2.0, 0.5]
    kw = dict(hidden_layer_sizes=(4,), activation="identity", solver="sgd", momentum=1,
              nesterovs_momentum=nesterovs_momentum, alpha=0, shuffle=False, batch_size=16,
              learning_rate_init=0.01, max_iter=epochs, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = MLPRegressor(**kw).fit(X, y), neural_network.MLPRegressor(**kw).fit(X, y)
    # 1e-7 off scikit-learn's loss here; momentum 0.999999 would be 3e-6 and 6e-6 off
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    for a, b in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.parametrize("sizes", [(2.5,), (4.0,), (True,), (8, "4"), np.array([3.0])])
def test_hidden_layer_sizes_must_be_whole_numbers(sizes):
    # int() made (2.5,) a layer of 2 and (True,) a layer of 1; scikit-learn raises TypeError.
    X, y = np.eye(4), [0, 1, 0, 1]
    for est in (MLPClassifier, neural_network.MLPClassifier):
        with pytest.raises(TypeError):
            est(hidden_layer_sizes=sizes, max_iter=2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(np.int64(3), 2), max_iter=2).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(4, 3), (3, 2), (2, 1)]


@pytest.mark.parametrize("solver, epochs", [("adam", 6), ("lbfgs", 30)])
def test_predict_from_another_thread_waits_for_fit(solver, epochs):
    # fit called the trainer without the network's lock, so predict_proba from another
    # thread ran in the same work space as the training step: the weights came out other
    # than those of the same fit alone (seen in every run, not one in three).
    rng = np.random.RandomState(0)
    X, y = rng.rand(4000, 64).astype(np.float32), rng.randint(0, 5, 4000)
    params = dict(hidden_layer_sizes=(64,), solver=solver, max_iter=epochs, batch_size=50, random_state=0, threads=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        alone = MLPClassifier(**params).fit(X, y)
        shared = MLPClassifier(**params).fit(X[:100], y[:100])  # fitted, so that predict works at once
        started, stop, errors = threading.Event(), threading.Event(), []

        def predict():
            k = 1
            try:
                while not stop.is_set():
                    shared.predict_proba(X[:k % 3000 + 1])
                    started.set()
                    k += 997
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        thread = threading.Thread(target=predict)
        thread.start()
        started.wait()
        try:
            shared.fit(X, y)
            shared.__getstate__()  # pickling takes the lock too
        finally:
            stop.set()
            thread.join()
    assert not errors
    for a, b in zip(shared.coefs_, alone.coefs_):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_partial_fit_refuses_early_stopping(Estimator):
    # It failed with "TypeError: unsupported operand type(s) for -: 'NoneType' and 'float'"
    # from best_loss_ = None, as scikit-learn 1.2.1's own MLP does (scikit-learn issue
    # 25693); later scikit-learn raises ValueError before it changes anything, and so now
    # does this.
    X, y = np.random.RandomState(0).rand(20, 3), np.arange(20) % 2
    est = Estimator(early_stopping=True, max_iter=3, random_state=0)
    kwargs = {"classes": [0, 1]} if Estimator is MLPClassifier else {}
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        est.partial_fit(X, y, **kwargs)
    assert not hasattr(est, "classes_") and not hasattr(est, "n_iter_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    before = [c.copy() for c in est.coefs_]
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        est.partial_fit(X, y)
    assert est.n_iter_ == 3
    for a, b in zip(est.coefs_, before):
        np.testing.assert_array_equal(a, b)
    est.set_params(early_stopping=False).partial_fit(X, y)
    assert est.n_iter_ == 4


@pytest.mark.parametrize("first, then", [
    (dict(), dict(early_stopping=True)),
    (dict(early_stopping=True), dict()),
    (dict(solver="lbfgs"), dict()),
    (dict(solver="lbfgs"), dict(early_stopping=True)),
])
def test_warm_start_across_early_stopping_and_solvers(first, then):
    # A warm fit after one with the other early_stopping (or after lbfgs) found None or no
    # curve where it kept its books and failed with TypeError or AttributeError, as
    # scikit-learn 1.2.1's own MLP does; partial_fit after a fit with early stopping too.
    X, y = np.random.RandomState(0).rand(40, 3), np.arange(40) % 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(warm_start=True, max_iter=3, random_state=0, **first).fit(X, y)
        est.set_params(**{"solver": "adam", "early_stopping": False, **then}).fit(X, y)
    if then.get("early_stopping"):
        assert len(est.validation_scores_) == len(est.validation_loss_curve_) == 3
        assert est.best_loss_ is None and est.best_validation_score_ == max(est.validation_scores_)
    else:
        assert est.validation_scores_ is None and est.best_validation_score_ is None
        assert est.best_loss_ == min(est.loss_curve_[-3:])
        est.partial_fit(X, y)
        assert len(est.loss_curve_) == (7 if "solver" not in first else 4)


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_assigning_one_layer_of_coefs_changes_the_model(Estimator):
    # scikit-learn's coefs_ and intercepts_ are lists the model keeps: `clf.coefs_[1] = W`
    # replaces that layer. Ours are made anew on every access, and such an assignment once
    # changed a throwaway list and left the model as it was, without a word.
    X, y = make_regression(n_samples=40, n_features=4, random_state=0)
    if Estimator is MLPClassifier:
        y = np.digitize(y, [-50, 50])
    for est in (Estimator(hidden_layer_sizes=(5,), max_iter=2, random_state=0),
                getattr(neural_network, Estimator.__name__)(hidden_layer_sizes=(5,), max_iter=2, random_state=0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        n_out = est.coefs_[1].shape[1]
        est.coefs_[1] = np.zeros((5, n_out))
        est.intercepts_[-1] = np.arange(n_out) + 1.0
        expect = np.full((3, n_out), np.arange(n_out) + 1.0)
        if Estimator is MLPClassifier:
            expect = np.exp(expect) / np.exp(expect).sum(1, keepdims=True)
            np.testing.assert_allclose(est.predict_proba(X[:3]), expect, rtol=1e-6)
        else:
            np.testing.assert_allclose(est.predict(X[:3]), expect.ravel(), rtol=1e-6)
        assert (est.coefs_[1] == 0).all()
    layers = est.coefs_ = [c + 1 for c in est.coefs_]  # the setter takes a whole list, as before
    np.testing.assert_allclose(est.coefs_[1], 1)
    ours = Estimator(hidden_layer_sizes=(5,), max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
    coefs = ours.coefs_
    coefs[:] = layers  # a slice of the same length, the same shapes
    np.testing.assert_array_equal(ours.coefs_[0], layers[0].astype(np.float32))
    # what the network cannot take is refused, named in scikit-learn's terms, and nothing changes
    for bad, match in ((np.zeros((4, 6)), r"coefs_\[0\] has shape \(4, 6\); it must keep \(4, 5\)"),
                       (np.full((4, 5), np.nan), r"coefs_\[0\]"), (np.full((4, 5), 1e39), r"coefs_\[0\]")):
        with pytest.raises(ValueError, match=match):
            ours.coefs_[0] = bad
    with pytest.raises(ValueError, match=r"intercepts_\[1\] has shape \(2,\)"):
        ours.intercepts_[1] = np.zeros(2)
    with pytest.raises(ValueError, match="coefs_ has 2 arrays"):
        ours.coefs_ = layers[:1]
    with pytest.raises(IndexError):
        ours.coefs_[2] = layers[0]
    for change in (lambda c: c.append(c[0]), lambda c: c.pop(), lambda c: c.__delitem__(0), lambda c: c.clear(),
                   lambda c: c.insert(0, c[0]), lambda c: c.extend(c), lambda c: c.reverse()):
        with pytest.raises(TypeError, match="one array per layer"):
            change(ours.coefs_)
    np.testing.assert_array_equal(ours.coefs_[0], layers[0].astype(np.float32))
    # a copy or a pickle of the list is a plain list of arrays, as scikit-learn's
    assert type(pickle.loads(pickle.dumps(ours.coefs_))) is list
    assert type(copy.deepcopy(ours.intercepts_)) is list


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_warm_start_trains_with_the_activation_it_is_given(solver):
    # scikit-learn reads `activation` on every pass, so a warm fit after set_params(activation=...)
    # trains and predicts with the new one. Ours kept the network's first activation and trained
    # that, without a word.
    X, y = make_regression(n_samples=60, n_features=3, random_state=1)
    y = np.digitize(y, [-40, 40])
    params = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=2, random_state=0, warm_start=True)
    fits = []
    for Estimator in (MLPClassifier, neural_network.MLPClassifier):
        est = Estimator(activation="relu", **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
            est.set_params(activation="tanh", max_iter=1, learning_rate_init=1e-12, max_fun=1)
            est.fit(X, y)
        fits.append(est)
    ours, theirs = fits
    assert ours.network_.activation == "tanh"
    # the weights are (almost) the relu fit's, now read through tanh: the same model as scikit-learn's
    hidden = np.tanh(X @ ours.coefs_[0] + ours.intercepts_[0])
    logits = hidden @ ours.coefs_[1] + ours.intercepts_[1]
    expect = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(ours.predict_proba(X), expect / expect.sum(1, keepdims=True), rtol=1e-4, atol=1e-6)
    if solver != "lbfgs":  # one lbfgs evaluation moves scikit-learn's weights a whole step
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-3, atol=1e-4)


def test_partial_fit_refuses_another_activation():
    # partial_fit goes on with the optimizer's state, which belongs to the network it was
    # made for: another activation is refused, as other dropout is, rather than ignored.
    X, y = make_regression(n_samples=30, n_features=3, random_state=1)
    est = MLPRegressor(hidden_layer_sizes=(4,), activation="logistic", random_state=0).partial_fit(X, y)
    est.set_params(activation="relu")
    before = est.coefs_[0].copy()
    with pytest.raises(ValueError, match=r"activation changed between partial_fit calls \(the network has sigmoid"):
        est.partial_fit(X, y)
    np.testing.assert_array_equal(est.coefs_[0], before)
    assert est.network_.activation == "sigmoid"
    est.set_params(activation="logistic").partial_fit(X, y)  # back to the network's own: goes on
    # with no hidden layer the activation has nothing to act on, and changing it changes nothing
    flat = MLPRegressor(hidden_layer_sizes=(), random_state=0).partial_fit(X, y)
    flat.set_params(activation="tanh").partial_fit(X, y)
    assert flat.n_iter_ == 2


def test_partial_fit_refuses_another_batch_size_or_shuffle():
    # scikit-learn reads batch_size and shuffle on every partial_fit call; the trainer
    # partial_fit goes on with was made with the first call's and cannot change them, and
    # it used to keep them without a word. Refused, as other dropout is; fit (warm or not)
    # takes them.
    X, y = make_regression(n_samples=40, n_features=3, random_state=1)
    for change in (dict(batch_size=10), dict(shuffle=False)):
        est = MLPRegressor(hidden_layer_sizes=(4,), batch_size=20, random_state=0).partial_fit(X, y)
        est.set_params(**change)
        name = next(iter(change))
        with pytest.raises(ValueError, match=r"%s changed between partial_fit calls \(the trainer has %s\)"
                           % (name, {"batch_size": "20", "shuffle": "True"}[name])):
            est.partial_fit(X, y)
        assert est.n_iter_ == 1
        est.set_params(warm_start=True).fit(X, y)  # a fit makes a new trainer with them
        est.partial_fit(X, y)
    # 'auto' is 200, clipped to each call's data, and stays 'auto'
    est = MLPRegressor(hidden_layer_sizes=(4,), random_state=0).partial_fit(X[:10], y[:10])
    est.partial_fit(X, y)
    est.set_params(batch_size=200).partial_fit(X, y)
    assert est.n_iter_ == 3


@pytest.mark.parametrize("y", [np.array(["1.5", "2", "3"] * 4), np.array([b"1", b"2", b"3"] * 4),
                               np.arange(12).astype("datetime64[D]"), np.arange(12).astype("timedelta64[s]")],
                         ids=["str", "bytes", "datetime", "timedelta"])
def test_regressor_refuses_targets_that_are_not_numbers(y):
    # scikit-learn's regressor fails on these with a TypeError from NumPy deep in its loss;
    # ours trained on them, reading text as numbers and dates as days since 1970 without a
    # word. Object arrays of numbers are converted, as scikit-learn converts them.
    X = np.random.RandomState(0).rand(12, 3)
    with pytest.raises(TypeError):
        neural_network.MLPRegressor(max_iter=1).fit(X, y)
    est = MLPRegressor(hidden_layer_sizes=(3,), max_iter=1)
    with pytest.raises(ValueError, match=re.escape("MLPRegressor needs numbers in y, got dtype %s" % y.dtype)):
        est.fit(X, y)
    assert not hasattr(est, "n_iter_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, np.arange(12).astype(object))
        est.partial_fit(X, np.arange(12) > 5)
    with pytest.raises(ValueError, match="needs numbers in y"):
        est.partial_fit(X, y)
