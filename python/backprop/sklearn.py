"""backprop.sklearn - MLPClassifier and MLPRegressor for scikit-learn, trained by
libbackprop.

    from backprop.sklearn import MLPClassifier   # instead of sklearn.neural_network

The two estimators take scikit-learn's parameters under the same names, with the same
defaults and meanings, learn the same fitted attributes (plus validation_loss_curve_),
and follow scikit-learn's estimator conventions, so that Pipeline, GridSearchCV,
cross_val_score, clone and pickle work and check_estimator passes. Each holds a
backprop.Network; every forward pass, gradient and update is the library's. What stays
in Python is the bookkeeping scikit-learn defines around the solver: labels and
targets, the validation split, the stopping rule on tol and n_iter_no_change, and the
invscaling and adaptive learning rates (set on the library's trainer between epochs).

How the parameters map onto the engine, and where the results differ from
scikit-learn's own MLP (initialization, weight decay on biases), is in docs/PYTHON.md.
"""
import copy
import ctypes
import os
import tempfile
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted

from . import _arrays, _clib
from ._clib import C
from .network import Network, dropout_rates, precision_code

try:  # scikit-learn >= 1.2 validates parameters from these declarations
    from sklearn.utils._param_validation import Interval, Options, StrOptions
except ImportError:  # pragma: no cover - older scikit-learn: fit checks what the engine needs
    Interval = Options = StrOptions = None

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's names for the hidden activations, and the library's.
_HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
# out_activation_ -> the library's output activation and the loss it is trained with.
_OUTPUT = {"softmax": ("softmax", "ce"), "logistic": ("sigmoid", "bce"), "identity": ("identity", "mse")}
# scikit-learn's Adam accepts beta = 0, which bp_train_config reads as "the default": the
# smallest positive double stands in for it, and the trainer, which keeps its betas as
# floats, rounds it to exactly 0.
_ZERO = 5e-324
# scikit-learn's sgd accepts momentum = 1, which bp_train_config refuses (it wants < 1): the
# largest double below 1 stands in for it, and the trainer, which keeps its momentum as a
# float, rounds it to exactly 1.
_ONE = float(np.nextafter(1.0, 0.0))
# src/core/lbfgs.c: the samples of one backward pass of an evaluation, and the relative
# decrease of the loss at which it stops (scipy's default factr 1e7 times double's epsilon).
_LBFGS_CHUNK = 1024
_LBFGS_RELATIVE_DECREASE = 2.2e-9
_LBFGS_SEARCH = 25  # evaluations one iteration's line search may make (LINE_SEARCH_MAX)


def _class_names(classes, out_activation):
    """The names a classifier's network carries for its outputs (bp_net_set_class_names),
    so that its model file speaks in the estimator's labels: str() of each class, for a
    softmax output (one output per class). None where the network gets no names:

    - labels 0..K-1 (whole numbers): the output indices already are the labels, and the
      command line gives data numbered so no names either, so the model is the same;
    - one logistic output (two classes) or multilabel outputs: the model file holds
      exactly one name per output and has no place for the second class of a single
      output, and names would make `backprop eval` and `predict` read the targets as one
      class column, which multilabel data is not;
    - labels whose text cannot stand for them (two labels with the same str(), a NUL
      character, which C strings and the model file cannot hold, or text UTF-8 cannot
      encode): with a warning, as the network then speaks in indices."""
    if out_activation != "softmax":
        return None
    classes = np.asarray(classes)
    if classes.dtype.kind in "iuf" and np.array_equal(classes, np.arange(len(classes))):
        return None
    names = [str(c) for c in classes]
    problem = None
    if len(set(names)) != len(names):
        same = next(n for n in names if names.count(n) > 1)
        problem = "two classes read %r as text" % (same,)
    else:
        for n in names:
            if "\0" in n:
                problem = "class %r holds a NUL character, which the model file cannot store" % (n,)
                break
            try:
                n.encode("utf-8")
            except UnicodeEncodeError:
                problem = "class %r is not text UTF-8 can encode" % (n,)
                break
    if problem:
        warnings.warn("%s: the network (network_, a saved model, its exports) names its outputs 0..%d, the "
                      "positions of classes_, instead of the classes" % (problem, len(names) - 1), UserWarning)
        return None
    return names


def _constraints():
    if Interval is None:
        return {}
    return {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        # backprop's own
        "threads": [Interval(Integral, 0, 256, closed="both"), None],
        "device": [StrOptions({"cpu", "cuda"})],
        "precision": [StrOptions({"fp32", "bf16", "bf16-emulated"})],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
    }


class _LayerList(list):
    """coefs_ or intercepts_: one view of the network's parameters per layer.

    scikit-learn keeps these as plain lists, so `clf.coefs_[1] = W` replaces a layer of its
    model. Here the list is made anew on every access, and a plain list would take such an
    assignment and drop it with the list, leaving the model as it was without a word. This
    one copies what is assigned into the layer's parameters instead, after checking its
    shape and that float32 can hold it, and refuses what would change the number of layers
    (the network's shape is fixed; a fit anew changes it). Copied or pickled, it is a plain
    list of arrays."""

    def __init__(self, views, name, lock):
        super().__init__(views)
        self._name = name
        self._lock = lock

    def __setitem__(self, index, value):
        positions = range(len(self))[index]  # IndexError or TypeError as a list gives them
        if isinstance(index, slice):
            values = list(value)
            if len(values) != len(positions):
                raise TypeError("%s has one array per layer: a slice of %d cannot take %d arrays"
                                % (self._name, len(positions), len(values)))
        else:
            positions, values = [positions], [value]
        checked = []
        for i, v in zip(positions, values):
            dst = list.__getitem__(self, i)
            a = np.asarray(v, dtype=np.float64)
            if a.shape != dst.shape:
                raise ValueError("%s[%d] has shape %s; it must keep %s, the network's" % (self._name, i, a.shape,
                                                                                          dst.shape))
            # NaN, infinity, or a value float32 cannot hold (it would become infinity)
            _arrays.as_float32(a.reshape(a.shape[0], -1), "%s[%d]" % (self._name, i))
            checked.append((dst, a))
        with self._lock:
            for dst, a in checked:
                dst[...] = a

    def replace_all(self, values):
        """The setter's work (clf.coefs_ = [...]): every layer at once, or none."""
        values = list(values)
        if len(values) != len(self):
            raise ValueError("%s has %d arrays, one per layer; got %d" % (self._name, len(self), len(values)))
        self[:] = values

    def _fixed(self, *args, **kwargs):
        raise TypeError("%s has one array per layer of the network: assign into it, or fit anew with other "
                        "hidden_layer_sizes to change the layers" % self._name)

    __delitem__ = __iadd__ = __imul__ = append = extend = insert = pop = remove = clear = sort = reverse = _fixed

    def __reduce_ex__(self, protocol):
        return list, (list(self),)

    def __copy__(self):
        return list(self)

    def __deepcopy__(self, memo):
        return copy.deepcopy(list(self), memo)


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: the training loop around the library's
    trainer, the fitted attributes, and pickling."""

    _parameter_constraints = _constraints()

    def __init__(self, hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate,
                 learning_rate_init, power_t, max_iter, shuffle, random_state, tol, verbose, warm_start,
                 momentum, nesterovs_momentum, early_stopping, validation_fraction, beta_1, beta_2, epsilon,
                 n_iter_no_change, max_fun, threads, device, precision, dropout):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.threads = threads
        self.device = device
        self.precision = precision
        self.dropout = dropout

    # ------------------------------------------------------------ fitted parameters
    def _fitted_net(self):
        net = self.__dict__.get("_net")
        if net is None:
            raise AttributeError("this %s is not fitted yet" % type(self).__name__)
        return net

    @property
    def coefs_(self):
        """The weight matrices, coefs_[i] of shape (n_units[i], n_units[i + 1]) as in
        scikit-learn: views of the network's parameters (W^(i+1) transposed), so that
        changing them in place, or assigning coefs_[i] = array, changes the model."""
        net = self._fitted_net()
        Ws, _ = net._layer_views()
        return _LayerList([W.T for W in Ws], "coefs_", net._lock)

    @coefs_.setter
    def coefs_(self, coefs):
        self.coefs_.replace_all(coefs)

    @property
    def intercepts_(self):
        """The bias vectors, intercepts_[i] of shape (n_units[i + 1],): views of the
        network's parameters, as coefs_."""
        net = self._fitted_net()
        _, bs = net._layer_views()
        return _LayerList(bs, "intercepts_", net._lock)

    @intercepts_.setter
    def intercepts_(self, intercepts):
        self.intercepts_.replace_all(intercepts)

    @property
    def network_(self):
        """The backprop.Network the estimator trained (save(), explain(), gradcheck() ...)."""
        return self._fitted_net()

    # ------------------------------------------------------------ fitting
    def fit(self, X, y):
        """Fit the model to data matrix X and target(s) y (scikit-learn's MLP.fit)."""
        if hasattr(self, "_validate_params"):
            self._validate_params()
        return self._fit(X, y, incremental=False)

    def _check_solver(self):
        if self.solver not in ("sgd", "adam"):
            raise AttributeError("partial_fit is only available for stochastic optimizers. %s is not stochastic."
                                 % self.solver)
        return True

    def _start_partial_fit(self):
        """What partial_fit checks before it changes anything."""
        if self.__dict__.get("_net") is None and hasattr(self, "_validate_params"):
            self._validate_params()
        if self.early_stopping:
            # scikit-learn 1.2.1's MLP fails here with a TypeError from best_loss_ = None
            # (its issue 25693); later versions raise this ValueError.
            raise ValueError("partial_fit does not support early_stopping=True: it trains one epoch on the data it "
                             "is given and holds nothing out; set early_stopping=False, or use fit")

    def _hidden_sizes(self):
        h = self.hidden_layer_sizes
        h = list(h) if hasattr(h, "__iter__") else [h]
        # scikit-learn's MLP raises TypeError for a width that is not a whole number (2.5,
        # 4.0, True), which int() would quietly turn into another width
        if any(isinstance(s, (bool, np.bool_)) or not isinstance(s, Integral) for s in h):
            raise TypeError("hidden_layer_sizes must hold whole numbers, got %r" % (self.hidden_layer_sizes,))
        if any(int(s) <= 0 for s in h):
            raise ValueError("hidden_layer_sizes must be > 0, got %s." % h)
        return [int(s) for s in h]

    def _fit(self, X, y, incremental):
        hidden = self._hidden_sizes()
        rates = dropout_rates(self.dropout, len(hidden))
        precision = precision_code(self.precision, self.device)
        if self.solver == "lbfgs" and rates is not None:
            raise ValueError("dropout does not go with solver='lbfgs': its line search needs the same loss every "
                             "time it looks; use solver='adam' or 'sgd' for dropout, or alpha with lbfgs")
        first_pass = self.__dict__.get("_net") is None or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if hasattr(X, "toarray"):  # scipy.sparse: the engine trains on dense rows
            X = X.toarray()
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        # The engine trains in float32: a float64 value beyond its range is refused here, by
        # row and column, rather than trained on as infinity. X32 is the array the data set
        # reads; X itself stays for scoring, as scikit-learn keeps it.
        X32 = _arrays.as_float32(X, "X", finite=True)
        if not is_classifier(self):
            _arrays.as_float32(y, "y", finite=True)
        layer_units = [X.shape[1]] + hidden + [y.shape[1]]
        rs = check_random_state(self.random_state)
        if first_pass:
            self._initialize(y, layer_units, rs, rates)
        elif list(self._net.sizes) != layer_units:
            raise ValueError("the network has layers %s, but these data and hidden_layer_sizes need %s: "
                             "fit without warm_start to start anew" % (list(self._net.sizes), layer_units))
        else:
            # scikit-learn reads `activation` on every pass, so a warm fit after set_params trains
            # the new one; the library fixes it (and dropout) when it builds a network.
            activation = _HIDDEN[self.activation]
            other_activation = len(hidden) > 0 and self._net.activation != activation
            if incremental and not self._net._same_dropout(rates):
                raise ValueError("dropout changed between partial_fit calls (the network has %s): fit anew, or "
                                 "with warm_start, to train with other dropout" % (list(self._net.dropout),))
            if incremental and other_activation:
                # the optimizer's state, which partial_fit goes on with, belongs to the network
                raise ValueError("activation changed between partial_fit calls (the network has %s): fit anew, "
                                 "or with warm_start, to train with another activation" % self._net.activation)
            if other_activation or not self._net._same_dropout(rates):
                # A new network object: coefs_ views taken before keep the old one alive.
                self._net = self._net._rebuilt(rates, activation)
        # The whole run holds the network's lock, as Network.fit does: the trainer calls the
        # library on the network's handle, which is not thread-safe, so a predict from
        # another thread waits instead of using the work space the step is using.
        with self._net._lock:
            if self.solver == "lbfgs":
                self._fit_lbfgs(X32, y, precision)
            else:
                self._fit_stochastic(X, X32, y, rs, incremental, precision)
            if not all(np.isfinite(a).all() for a in self._net._layer_views()[0]) or \
                    not all(np.isfinite(b).all() for b in self._net._layer_views()[1]):
                raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                                 "values and need to be preprocessed.")
        return self

    def _initialize(self, y, layer_units, rs, rates):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = y.shape[1]
        self.n_layers_ = len(layer_units)
        if not is_classifier(self):
            self.out_activation_ = "identity"
        elif self._label_binarizer.y_type_ == "multiclass":
            self.out_activation_ = "softmax"
        else:
            self.out_activation_ = "logistic"
        output, loss = _OUTPUT[self.out_activation_]
        self._net = Network(layer_units, activation=_HIDDEN[self.activation], output=output, loss=loss, dropout=rates)
        self._net.threads = 0 if self.threads is None else int(self.threads)
        if is_classifier(self):
            self._net.class_names = _class_names(self.classes_, self.out_activation_)
        self._init_coefs(rs)
        if self.solver == "lbfgs":
            return  # as in scikit-learn, the curves and best scores belong to the stochastic solvers
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.validation_loss_curve_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.validation_loss_curve_ = None
            self.best_validation_score_ = None

    def _init_coefs(self, rs):
        """scikit-learn's initialization, drawn from random_state in scikit-learn's order, so
        that both estimators start from the same weights: per layer, W and b uniform in
        +-sqrt(f / (fan_in + fan_out)), f = 2 for logistic hidden units, else 6 (Glorot and
        Bengio's). Only the starting point; the network trains them."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        Ws, bs = self._net._layer_views()
        for W, b in zip(Ws, bs):
            fan_out, fan_in = W.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            W[...] = rs.uniform(-bound, bound, (fan_in, fan_out)).T
            b[...] = rs.uniform(-bound, bound, fan_out)

    def _loss_scale(self):
        """scikit-learn's squared error is a mean over the outputs too; the library's MSE
        sums them. The regressor divides the library's loss by this, and scales the
        learning rate, weight decay and Adam's epsilon so that the steps are the same."""
        return self.n_outputs_ if not is_classifier(self) else 1

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size < 1 or self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
        return int(np.clip(self.batch_size, 1, n_samples))

    def _train_config(self, batch_size, seed, precision):
        """The library's training settings for scikit-learn's solver parameters. alpha is
        an L2 penalty (alpha / 2) ||W||^2 / batch on the loss: weight decay alpha / batch on
        the gradient. The trainer is given the unclipped batch size (200 for 'auto'): it
        clips it to each data set it trains on, as scikit-learn does on every call, which
        matters when partial_fit gets data sets of different sizes."""
        k = self._loss_scale()
        c = _clib.TrainConfig()
        c.batch_size = 200 if self.batch_size == "auto" else int(self.batch_size)
        c.no_shuffle = 0 if self.shuffle else 1
        c.seed = seed
        c.precision = precision
        c.weight_decay = k * self.alpha / batch_size
        if self.solver == "adam":
            c.optimizer = _clib.parse("optimizer", "adam", ())
            c.learning_rate = self.learning_rate_init
            c.beta1 = self.beta_1 or _ZERO
            c.beta2 = self.beta_2 or _ZERO
            c.epsilon = k * self.epsilon
        else:
            name = "sgd" if self.momentum == 0 else "nesterov" if self.nesterovs_momentum else "momentum"
            c.optimizer = _clib.parse("optimizer", name, ())
            c.momentum = self.momentum if self.momentum < 1 else _ONE
            c.learning_rate = self.learning_rate_init / k
        return c

    def _check_same_batching(self, config):
        """scikit-learn's partial_fit reads batch_size and shuffle on every call; the trainer
        it goes on with keeps those it was made with, so another value is refused rather
        than ignored."""
        batch = 200 if self.batch_size == "auto" else int(self.batch_size)
        for name, now, kept in (("batch_size", batch, config.batch_size),
                                ("shuffle", bool(self.shuffle), not config.no_shuffle)):
            if now != kept:
                raise ValueError("%s changed between partial_fit calls (the trainer has %s): its optimizer state "
                                 "belongs to the trainer, which cannot change it; fit anew, or with warm_start, to "
                                 "train with %s=%r" % (name, kept, name, getattr(self, name)))

    def _keep_books(self, early_stopping):
        """The curves and best scores this run extends, made where the last run (lbfgs, or
        one with the other early_stopping, before warm_start or partial_fit) left none:
        scikit-learn 1.2.1's MLP fails there with an AttributeError or a TypeError on None.
        As after a fit from scratch, best_loss_ is None with early stopping and the
        validation attributes None without."""
        if self.__dict__.get("loss_curve_") is None:
            self.loss_curve_, self._no_improvement_count = [], 0
        if early_stopping and self.__dict__.get("validation_scores_") is None:
            self.validation_scores_, self.validation_loss_curve_ = [], []
            self.best_validation_score_, self.best_loss_ = -np.inf, None
        elif not early_stopping and self.__dict__.get("best_loss_") is None:
            self.best_loss_ = np.inf
            self.validation_scores_ = self.validation_loss_curve_ = self.best_validation_score_ = None

    def _fit_stochastic(self, X, X32, y, rs, incremental, precision):
        """X32: X as float32, C-contiguous (what the data set reads)."""
        net = self._net
        early_stopping = self.early_stopping and not incremental
        self._keep_books(early_stopping)
        if early_stopping:
            stratify = y if is_classifier(self) and self.n_outputs_ == 1 else None
            split = dict(random_state=rs, test_size=self.validation_fraction, stratify=stratify)
            if X32 is X:
                X, X_val, y, y_val = train_test_split(X, y, **split)
                X32 = X
            else:  # one split of both forms of X: the same rows go to each side
                X, X_val, X32, _, y, y_val = train_test_split(X, X32, y, **split)
            y_val_labels = self._label_binarizer.inverse_transform(y_val) if is_classifier(self) else y_val
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        if not incremental or net._trainer is None:
            net._new_trainer(self._train_config(batch_size, int(rs.randint(0, 2 ** 31 - 1)), precision))
            net._trainer.set_device(self.device)
            self._learning_rate = float(self.learning_rate_init)
            if self.solver == "sgd" and self.learning_rate != "constant":
                self._set_learning_rate(self._learning_rate)  # refused at once where it cannot change
            if early_stopping and np.isfinite(self.best_validation_score_):
                # warm_start: the weights are the best of the last fit; keep them as the best so far
                net._trainer.observe(-self.best_validation_score_, 0)
        trainer = net._trainer
        if incremental:
            self._check_same_batching(trainer.config())
        trainer.set_precision(precision)  # partial_fit after set_params, or after a pickle (which drops it)
        data = _arrays.Dataset(X32, y)
        val = _arrays.Dataset(X_val, y_val) if early_stopping else None
        try:
            for _ in range(self.max_iter):
                stats = trainer.run(data)
                self.n_iter_ += 1
                self.loss_ = stats.loss / self._loss_scale()
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                if early_stopping:
                    self._validation_epoch(X_val, y_val_labels, val)
                else:
                    self._training_epoch()
                self._iteration_ends()
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = "%s did not improve more than tol=%f for %d consecutive epochs." % (
                        what, self.tol, self.n_iter_no_change)
                    if self._trigger_stopping(msg):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                                  "hasn't converged yet." % self.max_iter, ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        finally:
            data.free()
            if val is not None:
                val.free()
        if early_stopping:
            trainer.restore_best()

    def _fit_lbfgs(self, X, y, precision):
        """scikit-learn's solver='lbfgs' on the library's L-BFGS: the whole data set, one
        iteration per epoch for at most max_iter epochs, stopping when the trainer says it
        converged (largest |gradient| <= tol, a relative decrease of the loss of at most
        2.2e-9 as scipy's default, or max_fun evaluations). alpha is weight decay
        alpha / n_samples, as scikit-learn's penalty (alpha / 2 n) ||W||^2 differentiates."""
        net = self._net
        n, k = X.shape[0], self._loss_scale()
        c = _clib.TrainConfig()
        c.optimizer = _clib.parse("optimizer", "lbfgs", ())
        c.batch_size = 0
        c.no_shuffle = 1
        c.weight_decay = k * self.alpha / n
        # The library's loss is n_outputs times scikit-learn's for the regressor: so is its gradient.
        c.tolerance = k * self.tol or _ZERO
        c.max_evaluations = int(self.max_fun)
        c.precision = precision
        trainer = net._new_trainer(c)
        trainer.set_device(self.device)
        data = _arrays.Dataset(X, y)
        try:
            stats, stepped, before, epochs = None, False, None, 0
            for epochs in range(1, self.max_iter + 1):
                steps = C.bp_trainer_steps_done(trainer.handle)
                norm2 = self._squared_norm(weights_only=False)
                stats = trainer.run(data)
                stepped = C.bp_trainer_steps_done(trainer.handle) > steps
                before = stats.loss + 0.5 * c.weight_decay * norm2  # the objective where the iteration began
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (C.bp_trainer_steps_done(trainer.handle), stats.loss / k))
                if stats.converged:
                    break
            data_loss, gmax = self._loss_and_largest_gradient(data, c.weight_decay)
        finally:
            data.free()
        self.n_iter_ = C.bp_trainer_steps_done(trainer.handle)
        # scikit-learn's loss_ here is the objective it minimized: its data loss plus (alpha / 2 n) ||W||^2.
        self.loss_ = data_loss / k + 0.5 * self.alpha * self._squared_norm(weights_only=True) / n
        after = data_loss + 0.5 * c.weight_decay * self._squared_norm(weights_only=False)
        status, message = self._lbfgs_status(stats, stepped, before, after, gmax, c.tolerance, epochs, self.max_fun)
        if status:
            warnings.warn("lbfgs failed to converge (status=%d):\n%s.\n\nIncrease the number of iterations "
                          "(max_iter) or scale the data as shown in:\n    "
                          "https://scikit-learn.org/stable/modules/preprocessing.html" % (status, message),
                          ConvergenceWarning)

    @staticmethod
    def _lbfgs_status(stats, stepped, before, after, gmax, tolerance, iterations, max_fun):
        """scipy's L-BFGS-B status and message for how the library's L-BFGS stopped, after
        `iterations` epochs. bp_epoch_stats.converged says that it stopped, not why:

        - not stopped after max_iter epochs: 1, out of iterations;
        - a gradient within tol, or a step that lowered the loss by a relative 2.2e-9 or
          less: 0, converged;
        - a last iteration whose line search found no lower point along a descent
          direction: in exact arithmetic a small enough step always lowers the loss, so the
          float32 loss has stopped resolving the decrease, where scipy's double loss would
          have met its 2.2e-9 (0, converged); unless the evaluations may have run out
          (one evaluation to start, then at most _LBFGS_SEARCH per iteration), then 1;
        - otherwise the evaluations ran out (max_fun): 1."""
        if not stats.converged:
            return 1, "STOP: TOTAL NO. of ITERATIONS REACHED LIMIT"
        if gmax <= tolerance:
            return 0, "CONVERGENCE: NORM_OF_PROJECTED_GRADIENT_<=_PGTOL"
        if stepped and (before - after) / max(abs(before), abs(after), 1.0) <= _LBFGS_RELATIVE_DECREASE:
            return 0, "CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH"
        if not stepped and max_fun > 1 + _LBFGS_SEARCH * iterations:
            return 0, "CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH"
        return 1, "STOP: TOTAL NO. of f AND g EVALUATIONS EXCEEDS LIMIT"

    def _squared_norm(self, weights_only):
        """||W||^2 (scikit-learn's penalty) or ||p||^2 over every parameter (the library's
        weight decay), in float64."""
        Ws, bs = self._net._layer_views()
        arrays = Ws if weights_only else Ws + [b for b in bs if b is not None]
        return float(sum(np.dot(a.reshape(-1).astype(np.float64), a.reshape(-1).astype(np.float64))
                         for a in arrays))

    def _loss_and_largest_gradient(self, data, weight_decay):
        """The mean data loss at the parameters L-BFGS ended on, and the largest |dC/dp| of
        its objective there, computed as the library's L-BFGS computes them (backward
        passes over chunks of _LBFGS_CHUNK samples in order, summed in double)."""
        net = self._net
        h = net._handle()
        P = C.bp_net_param_count(h)
        grads = _arrays.view(C.bp_net_grads(h), (P,), net)
        g = np.zeros(P)
        total, loss = 0.0, ctypes.c_double()
        x, Y = data.x, data.y
        for start in range(0, data.n, _LBFGS_CHUNK):
            xs, ys = x[start:start + _LBFGS_CHUNK], Y[start:start + _LBFGS_CHUNK]
            _clib.check(C.bp_net_backward(h, _arrays.float_ptr(xs), _arrays.float_ptr(ys), xs.shape[0],
                                          _clib.BP_REDUCE_SUM, ctypes.byref(loss)), what="backward pass")
            total += loss.value
            g += grads
        params = _arrays.view(C.bp_net_params(h), (P,), net).astype(np.float64)
        g = g / data.n + weight_decay * params
        return total / data.n, float(np.abs(g).max()) if P else 0.0

    def _validation_epoch(self, X_val, y_val, val):
        score = self._score(X_val, y_val)
        self.validation_scores_.append(score)
        self.validation_loss_curve_.append(self._net._evaluate(val)["loss"] / self._loss_scale())
        if self.verbose:
            print("Validation score: %f" % score)
        if score < self.best_validation_score_ + self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        # The trainer keeps a copy of the parameters whenever the score is the best so far.
        self._net._trainer.observe(-score, 0)
        if score > self.best_validation_score_:
            self.best_validation_score_ = score

    def _training_epoch(self):
        if self.loss_curve_[-1] > self.best_loss_ - self.tol:
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if self.loss_curve_[-1] < self.best_loss_:
            self.best_loss_ = self.loss_curve_[-1]

    def _set_learning_rate(self, eta):
        self._net._trainer.set_learning_rate(eta / self._loss_scale())

    def _iteration_ends(self):
        if self.solver == "sgd" and self.learning_rate == "invscaling":
            self._learning_rate = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
            self._set_learning_rate(self._learning_rate)

    def _trigger_stopping(self, msg):
        if self.solver != "sgd" or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._learning_rate <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._learning_rate /= 5.0
        self._set_learning_rate(self._learning_rate)
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._learning_rate)
        return False

    # ------------------------------------------------------------ predicting
    def _forward(self, X, check_input=True):
        """a^L for X: float32 for float32 X (as scikit-learn keeps it), float64 otherwise."""
        single = getattr(X, "dtype", None) == np.float32
        if check_input:
            X = self._validate_data(X, accept_sparse=["csr", "csc"], reset=False, dtype=(np.float32, np.float64))
        out = self._net.forward(X)
        return out if single else out.astype(np.float64)

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        state = dict(super().__getstate__())  # Python 3.11's object.__getstate__ gives __dict__ itself
        net = state.pop("_net", None)
        if net is not None:
            # With a trainer, a checkpoint: partial_fit goes on with the optimizer's state.
            with tempfile.TemporaryDirectory(prefix="backprop-") as tmp, net._lock:  # not during a fit
                path = os.path.join(tmp, "state.bpm")
                if net._trainer is not None:
                    net._trainer.save(path)
                else:
                    net.save(path)
                with open(path, "rb") as f:
                    state["_backprop_state"] = (f.read(), net._trainer is not None, net.threads)
        return state

    def __setstate__(self, state):
        blob = state.pop("_backprop_state", None)
        super().__setstate__(state)
        if blob is None:
            return
        data, has_trainer, threads = blob
        if has_trainer:
            with tempfile.TemporaryDirectory(prefix="backprop-") as tmp:
                path = os.path.join(tmp, "state.bpm")
                with open(path, "wb") as f:
                    f.write(data)
                net, trainer = ctypes.c_void_p(), ctypes.c_void_p()
                err = _clib.Error()
                _clib.check(C.bp_checkpoint_load(_clib.c_path(path), ctypes.byref(net), ctypes.byref(trainer),
                                                 None, None, ctypes.byref(err)), err)
                self._net = Network._adopt(net.value, trainer.value)
        else:
            self._net = Network.from_bytes(data, "<pickle>")
        if threads != 1:
            self._net.threads = threads


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by libbackprop: scikit-learn's
    sklearn.neural_network.MLPClassifier, parameter for parameter, plus

    threads : int or None, default=None
        Threads for the network's products (None: all physical cores). Results are
        bitwise the same for every count.
    device : {'cpu', 'cuda'}, default='cpu'
        'cuda' trains on an NVIDIA GPU (a libbackprop built with make CUDA=1; solver
        'sgd' with constant learning rate so far).
    precision : {'fp32', 'bf16', 'bf16-emulated'}, default='fp32'
        The arithmetic of training's matrix products. 'bf16' rounds their operands to
        bfloat16 (float32 sums, float32 weights) on AMX-BF16 tiles or AVX512_BF16, and
        raises NotImplementedError on a CPU with neither (backprop.precision_kernel('bf16')
        says); 'bf16-emulated' is the same arithmetic in portable C, slow, on any CPU.
        Prediction is always float32.
    dropout : float in [0, 1) or one per hidden layer, default=0.0
        While training, each unit of a hidden layer is dropped with this probability and
        the kept ones scaled by 1 / (1 - p) (inverted dropout); nothing changes at
        prediction. Not with solver='lbfgs'.

    Fitted attributes are scikit-learn's (classes_, coefs_, intercepts_, loss_, best_loss_,
    loss_curve_, validation_scores_, best_validation_score_, n_iter_, t_, n_features_in_,
    feature_names_in_, n_layers_, n_outputs_, out_activation_), plus validation_loss_curve_
    (the loss on the early-stopping validation set after every epoch) and network_ (the
    trained backprop.Network).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, threads=None, device="cpu", precision="fp32",
                 dropout=0.0):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
                         power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
                         verbose=verbose, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, max_fun=max_fun, threads=threads, device=device,
                         precision=precision, dropout=dropout)

    def _validate_input(self, X, y, incremental, reset):
        X, y = self._validate_data(X, y, accept_sparse=["csr", "csc"], multi_output=True,
                                   dtype=(np.float32, np.float64), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError("warm_start can only be used where `y` has the same classes as in the "
                                     "previous call to fit. Previously got %s, `y` has %s" % (self.classes_, classes))
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError("`y` has classes not in `self.classes_`. `self.classes_` has %s. 'y' has %s."
                                 % (self.classes_, classes))
        y = self._label_binarizer.transform(y).astype(bool)
        return X, y

    def predict(self, X):
        """The predicted classes (a label per sample; multi-label: an indicator row)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y):
        return accuracy_score(y, self._predict(X, check_input=False))

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y, classes=None):
        """One epoch over (X, y), continuing the optimizer's state; `classes` (every class
        there will be) is required on the first call."""
        self._start_partial_fit()
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, incremental=True)

    def predict_proba(self, X):
        """Probability of each class (columns in the order of classes_)."""
        check_is_fitted(self)
        y_pred = self._forward(X)
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        if y_pred.ndim == 1:
            return np.vstack([1 - y_pred, y_pred]).T
        return y_pred

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        y_prob = self.predict_proba(X)
        return np.log(y_prob, out=y_prob)

    def _more_tags(self):
        return {"multilabel": True}


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by libbackprop: scikit-learn's
    sklearn.neural_network.MLPRegressor, parameter for parameter, plus threads, device,
    precision and dropout (see MLPClassifier). Multi-output targets are supported; loss_
    is scikit-learn's squared error, (1/2) mean over samples and outputs.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, threads=None, device="cpu", precision="fp32",
                 dropout=0.0):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
                         power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
                         verbose=verbose, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, max_fun=max_fun, threads=threads, device=device,
                         precision=precision, dropout=dropout)

    def _validate_input(self, X, y, incremental, reset):
        X, y = self._validate_data(X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                                   dtype=(np.float32, np.float64), reset=reset)
        if y.dtype.kind not in "biuf":  # y_numeric converts objects only; NumPy would read text and dates
            raise ValueError("%s needs numbers in y, got dtype %s: convert the targets to numbers first"
                             % (type(self).__name__, y.dtype))
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def predict(self, X):
        """The predicted values (n_samples,) or (n_samples, n_outputs)."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        return y_pred.ravel() if y_pred.shape[1] == 1 else y_pred

    def _score(self, X, y):
        return r2_score(y, self._predict(X, check_input=False))

    @available_if(lambda est: est._check_solver())
    def partial_fit(self, X, y):
        """One epoch over (X, y), continuing the optimizer's state."""
        self._start_partial_fit()
        return self._fit(X, y, incremental=True)
