"""network.py - backprop.Network: a libbackprop network driven from NumPy.

A Network holds one bp_net (and, after fit, the bp_trainer that trained it) and calls
the library for everything it computes: forward and backward passes, training epochs,
evaluation, the gradient checks and the explanation. Python only checks arguments,
moves arrays in and out, and keeps the books of a run (the epoch history, the callback,
the checkpoint file). The scikit-learn estimators in sklearn.py are built on the same
pieces: the private _Trainer below and _arrays.Dataset.

Handles are not thread-safe in C; each Network serializes its own calls with a lock, so
two Python threads may share one (they take turns) and threads with networks of their
own run at the same time (ctypes releases the GIL in every call).
"""
import collections
import ctypes
import json
import math
import os
import tempfile
import threading
import time

import numpy as np

from . import _arrays, _clib, _deploy
from ._clib import C

_CHUNK = 4096  # rows per forward call: bounds the work space a prediction leaves behind
_MIN_ROWS = 4  # src/kernels/gemm.c's SMALL_M: from this many rows on, a row's result is independent of m

Epoch = collections.namedtuple("Epoch", "epoch train_loss val_loss val_accuracy test_loss test_accuracy "
                                        "learning_rate samples_per_second seconds converged", defaults=(False,))
Epoch.__doc__ = """One epoch of Network.fit: the training loss (mean over the epoch, each batch
measured before its update; for L-BFGS, the loss where its iteration began), validation and test
loss and accuracy (None where there is no such data, or no accuracy for a non-classification
network), the learning rate it started with, its speed, and for L-BFGS whether it has stopped
(bp_epoch_stats.converged: fit ends with that epoch)."""

Gradients = collections.namedtuple("Gradients", "loss dW db")
Gradients.__doc__ = """Network.gradients: the loss and, per layer l = 1..L, dC/dW^l (n_l x n_(l-1))
and dC/db^l (n_l; None without biases)."""

GradCheck = collections.namedtuple("GradCheck", "ok backprop_vs_reference reference_vs_finite_differences "
                                                "scale loss")
GradCheck.__doc__ = """Network.gradcheck: the largest relative error between the float32 backward pass
and the long-double Jacobian reference, and between the reference and central finite
differences (each W^l and b^l on its own scale), the size of the largest gradient entry, the
reference loss, and whether all passed (bp_relative_error; same tolerances as `backprop
gradcheck`)."""

# `backprop gradcheck`'s tolerances (cli/cmd_grad.c).
GRADCHECK_BP_REF_TOL = 1e-4
GRADCHECK_REF_FD_TOL = 1e-7

_ACTIVATION_CHOICES = ("identity", "sigmoid", "tanh", "relu", "leaky-relu", "softmax")
_LOSS_CHOICES = ("mse", "ce", "bce")


def _unsupported(message):
    e = _clib.UnsupportedError(message)
    e.status = _clib.BP_ERR_UNSUPPORTED
    return e


PRECISIONS = {"fp32": _clib.PRECISION_FP32, "bf16": _clib.PRECISION_BF16,
              "bf16-emulated": _clib.PRECISION_BF16_EMULATED}


def precision_kernel(precision="bf16"):
    """The product kernel this CPU runs for a precision ("fp32", "bf16", "bf16-emulated"),
    in the library's words (bp_precision_kernel), or None where it has none: "bf16" needs
    AMX-BF16 tiles or AVX512_BF16."""
    code = PRECISIONS.get(precision) if isinstance(precision, str) else None
    if code is None:
        raise ValueError("precision must be 'fp32', 'bf16' or 'bf16-emulated', got %r" % (precision,))
    name = C.bp_precision_kernel(code)
    return name.decode("utf-8", "replace") if name is not None else None


def precision_code(precision, device="cpu"):
    """The bp_precision of a name, checked as `backprop train --precision` checks it:
    ValueError for an unknown name or a GPU run (the GPU trains in float32),
    NotImplementedError (UnsupportedError) where this CPU has no kernel for it."""
    kernel = precision_kernel(precision)
    code = PRECISIONS[precision]
    if code != _clib.PRECISION_FP32 and device == "cuda":
        raise ValueError("precision %r is for the CPU: the GPU trains in float32 (tf32=True lets its tensor "
                         "cores round)" % (precision,))
    if kernel is None:
        raise _unsupported("precision 'bf16': this CPU has neither AMX-BF16 tiles nor AVX512_BF16; use 'fp32', "
                           "or 'bf16-emulated' for the same arithmetic in portable C (several times slower)")
    return code


def dropout_rates(dropout, n_hidden):
    """Dropout as the library takes it: one probability per hidden layer (a single value
    is used for every one), or None for none. ValueError for anything else."""
    if dropout is None:
        return None
    if isinstance(dropout, (str, bytes, bool)):
        raise ValueError("dropout must be a number in [0, 1) or one per hidden layer, got %r" % (dropout,))
    try:
        values = np.asarray(dropout, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("dropout must be a number in [0, 1) or one per hidden layer, got %r" % (dropout,)) from None
    if values.ndim > 1:
        raise ValueError("dropout must be a number in [0, 1) or one per hidden layer, got %r" % (dropout,))
    values = values.reshape(-1)
    if not ((values >= 0) & (values < 1)).all():
        raise ValueError("dropout must be in [0, 1), got %r" % (dropout,))
    if values.size == 1:
        values = np.repeat(values, n_hidden)
    elif values.size != n_hidden:
        raise ValueError("dropout gives %d probabilities for %d hidden layer%s; give one, or one each"
                         % (values.size, n_hidden, "" if n_hidden == 1 else "s"))
    if n_hidden == 0 and np.any(np.asarray(dropout, np.float64) > 0):
        raise ValueError("dropout needs a hidden layer to drop units of")
    if not values.any():
        return None
    return [float(v) for v in values]


def _name_of(kind, value):
    return getattr(C, "bp_%s_name" % kind)(value).decode()


class _Trainer:
    """A bp_trainer attached to a Network. The network frees it before itself."""

    def __init__(self, net, config=None, handle=None):
        self.net = net
        if handle is None:
            h = ctypes.c_void_p()
            _clib.check(C.bp_trainer_create(net._handle(), ctypes.byref(config), ctypes.byref(h)),
                        what="invalid combination of training settings")
            handle = h.value
        self.handle = handle

    def run(self, data, max_steps=0):
        """Train on data until the epoch ends (or for max_steps steps): the epoch's stats."""
        stats = _clib.EpochStats()
        status = C.bp_trainer_run(self.handle, data.handle, max_steps, ctypes.byref(stats))
        if status == _clib.BP_ERR_NUMERIC:
            e = _clib.NumericError("step %d: the loss became NaN or infinite: training diverged; try a smaller "
                                   "learning rate, gradient clipping or normalized inputs"
                                   % C.bp_trainer_steps_done(self.handle))
            e.status = status
            raise e
        if status != _clib.BP_OK:
            device = C.bp_trainer_device_message(self.handle).decode("utf-8", "replace")
            _clib.check(status, what="training" + (" on the GPU: " + device if device else ""))
        return stats

    @property
    def epochs_done(self):
        return C.bp_trainer_epochs_done(self.handle)

    @property
    def learning_rate(self):
        return C.bp_trainer_learning_rate(self.handle)

    def config(self):
        """The settings it trains with, defaults filled in (bp_trainer_get_config)."""
        c = _clib.TrainConfig()
        _clib.check(C.bp_trainer_get_config(self.handle, ctypes.byref(c)))
        return c

    def set_learning_rate(self, eta):
        _clib.check(C.bp_trainer_set_learning_rate(self.handle, eta), what="learning rate %r" % (eta,))

    def observe(self, loss, patience):
        """Early stopping's books (bp_trainer_observe): True once `patience` epochs in a row
        brought no lower loss. The trainer keeps the best parameters."""
        stop = ctypes.c_int(0)
        _clib.check(C.bp_trainer_observe(self.handle, loss, patience, ctypes.byref(stop)))
        return bool(stop.value)

    def restore_best(self):
        return C.bp_trainer_restore_best(self.handle) == _clib.BP_OK

    def best(self):
        """Early stopping's books (bp_trainer_get_best), as a checkpoint keeps them: the
        lowest validation loss observed (inf before any) and the epochs since it."""
        loss, since = ctypes.c_double(), ctypes.c_size_t()
        _clib.check(C.bp_trainer_get_best(self.handle, ctypes.byref(loss), ctypes.byref(since)))
        return loss.value, since.value

    def set_device(self, device, tf32=False):
        if device in (None, "cpu"):
            code = _clib.DEVICE_CPU
        elif device == "cuda":
            code = _clib.DEVICE_CUDA
        else:
            raise ValueError("device must be 'cpu' or 'cuda', got %r" % (device,))
        options = _clib.DeviceOptions(device=code, tf32=1 if tf32 else 0)
        err = _clib.Error()
        _clib.check(C.bp_trainer_set_device(self.handle, ctypes.byref(options), ctypes.byref(err)), err,
                    what="device %r" % device)

    def set_precision(self, code):
        """The products' arithmetic from the next step on (bp_trainer_set_precision; a
        checkpoint does not keep it)."""
        _clib.check(C.bp_trainer_set_precision(self.handle, code), what="precision")

    def save(self, path):
        err = _clib.Error()
        _clib.check(C.bp_checkpoint_save(self.handle, _clib.c_path(path), None, 0, ctypes.byref(err)), err)

    def free(self):
        if self.handle:
            C.bp_trainer_free(self.handle)
            self.handle = None


def _config(sizes, activation, output, loss, bias, seed, dropout=None, init_range=0.0):
    """A bp_net_config, checked by the library (bp_net_config_check)."""
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError("sizes needs at least two widths (inputs and outputs), got %r" % (sizes,))
    loss_v = _clib.parse("loss", loss, _LOSS_CHOICES)
    hidden_v = _clib.parse("activation", activation, _ACTIVATION_CHOICES)
    if output is None:
        output_v = {_clib.BP_LOSS_CE: _clib.BP_ACT_SOFTMAX, _clib.BP_LOSS_BCE: _clib.BP_ACT_SIGMOID}.get(loss_v, 0)
    else:
        output_v = _clib.parse("activation", output, _ACTIVATION_CHOICES)
    if any(s < 1 for s in sizes):
        raise ValueError("every width must be at least 1, got %r" % (sizes,))
    arr = (ctypes.c_size_t * len(sizes))(*sizes)
    cfg = _clib.NetConfig(n_layers=len(sizes) - 1, sizes=ctypes.cast(arr, _clib.c_size_t_p), hidden=hidden_v,
                          output=output_v, loss=loss_v, bias=1 if bias else 0, seed=int(seed) & (2 ** 64 - 1))
    cfg._sizes = arr  # kept alive with the struct
    if isinstance(init_range, bool) or not isinstance(init_range, (int, float, np.integer, np.floating)) or \
            not 0 <= init_range <= 1e30:
        raise ValueError("init_range must be a number from 0 (He or Xavier) to 1e30, got %r" % (init_range,))
    cfg.init_range = float(init_range)
    rates = dropout_rates(dropout, len(sizes) - 2)
    if rates is not None:
        cfg._dropout = (ctypes.c_double * len(rates))(*rates)
        cfg.dropout = ctypes.cast(cfg._dropout, ctypes.POINTER(ctypes.c_double))
    err = _clib.Error()
    _clib.check(C.bp_net_config_check(ctypes.byref(cfg), ctypes.byref(err)), err)
    return cfg


class Network(_clib.Closing):
    """A fully connected feed-forward network trained by backpropagation (libbackprop).

    Network(sizes, activation="relu", output=None, loss="mse", bias=True, seed=1, threads=1,
            dropout=None, init_range=0.0)

    sizes: the widths n_0 (inputs) .. n_L (outputs), e.g. [784, 256, 128, 10].
    activation: g of the hidden layers: identity, sigmoid, tanh, relu, leaky-relu.
    output: g of the output layer (any of those or softmax); default from the loss:
        softmax for "ce", sigmoid for "bce", identity for "mse".
    loss: "mse" (1/2 ||a - y||^2), "ce" (softmax cross-entropy) or "bce" (sigmoid binary
        cross-entropy); averaged over each batch.
    bias: False gives layers without biases (z = W a).
    seed: the initialization seed (He-normal for the ReLU family, Xavier otherwise).
    threads: threads for the network's products (0: all physical cores); results are
        bitwise the same for every count.
    dropout: while training, drop each unit of hidden layer l with probability p^l and
        scale the kept ones by 1 / (1 - p^l) (inverted dropout: nothing changes at
        inference); one value for every hidden layer or one per hidden layer, each in
        [0, 1). Part of the model: saved in its file, like `backprop train --dropout`.
    init_range: r > 0 draws every weight and bias uniform in [-r, r] from the seed
        instead (FANN's fann_randomize_weights(-r, r); FANN uses 0.1), like
        `--init-range`; 0, the default, is He or Xavier as above.

    Every method that takes inputs X (samples as rows, n_0 columns) applies the input
    transform stored in the model (fit's normalize= or input_scale=), as the command
    line's eval and predict do: give raw data in the units fit was given. A C-contiguous
    float32 X without a stored transform goes to the library without a copy.
    """

    def __init__(self, sizes, activation="relu", output=None, loss="mse", bias=True, seed=1, threads=1,
                 dropout=None, init_range=0.0):
        self._lock = threading.RLock()
        self._net = self._memory = None
        self._trainer = None
        self.history = []
        cfg = _config(sizes, activation, output, loss, bias, seed, dropout, init_range)
        self._seed = cfg.seed
        h = ctypes.c_void_p()
        err = _clib.Error()
        _clib.check(C.bp_net_create(ctypes.byref(cfg), ctypes.byref(h), ctypes.byref(err)), err)
        self._hold(h.value)
        if threads != 1:
            self.threads = threads

    @classmethod
    def _adopt(cls, handle, trainer_handle=None):
        """A Network around a bp_net the library made (load, clone, checkpoint)."""
        self = cls.__new__(cls)
        self._lock = threading.RLock()
        self._hold(handle)
        self._trainer = _Trainer(self, handle=trainer_handle) if trainer_handle else None
        self.history = []
        self._seed = 1  # a model file does not keep the initialization seed
        return self

    # ---------------------------------------------------------------- life
    def _hold(self, ptr):
        """Make ptr (a bp_net, or None) this network's; the one held before is freed once
        no view of its parameters is left."""
        self._net = ptr
        self._memory = _clib.Owner(ptr, C.bp_net_free) if ptr else None

    def _swap_nets(self, other):
        self._net, other._net = other._net, self._net
        self._memory, other._memory = other._memory, self._memory

    def _handle(self):
        if self._net is None:
            raise ValueError("this network is closed")
        return self._net

    def close(self):
        """Free the network (and its trainer) now; any later use raises ValueError."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            if getattr(self, "_trainer", None) is not None:
                self._trainer.free()
                self._trainer = None
            if getattr(self, "_net", None) is not None:
                self._hold(None)

    @property
    def closed(self):
        return self._net is None

    def copy(self):
        """An independent copy of the shape, parameters, transform and class names
        (bp_net_clone); not the trainer."""
        with self._lock:
            h = ctypes.c_void_p()
            _clib.check(C.bp_net_clone(self._handle(), ctypes.byref(h)))
            return Network._adopt(h.value)

    def to_bytes(self):
        """The network as the bytes of a .bpm model file."""
        with tempfile.TemporaryDirectory(prefix="backprop-") as tmp:
            path = os.path.join(tmp, "model.bpm")
            self.save(path)
            with open(path, "rb") as f:
                return f.read()

    @classmethod
    def from_bytes(cls, data, name="<bytes>"):
        """A network from the bytes of a .bpm model file (bp_net_load_memory)."""
        data = bytes(data)
        h = ctypes.c_void_p()
        err = _clib.Error()
        _clib.check(C.bp_net_load_memory(data, len(data), name.encode(), ctypes.byref(h), ctypes.byref(err)), err)
        return cls._adopt(h.value)

    def __getstate__(self):
        # Pickles carry the model (the .bpm bytes) and the thread count, not a trainer.
        return {"model": self.to_bytes(), "threads": self.threads, "history": list(self.history)}

    def __setstate__(self, state):
        other = Network.from_bytes(state["model"], "<pickle>")
        self._lock = threading.RLock()
        self._net = self._memory = None
        self._swap_nets(other)
        self._trainer = None
        self._seed = 1
        self.history = [Epoch(*e) for e in state.get("history", [])]
        if state.get("threads", 1) != 1:
            self.threads = state["threads"]

    def __repr__(self):
        if self._net is None:
            return "<backprop.Network (closed)>"
        return "<backprop.Network %s: %s hidden, %s output, %s loss%s, %d parameters>" % (
            "-".join(str(s) for s in self.sizes), self.activation, self.output, self.loss,
            "" if self.bias else ", no biases", self.n_params)

    # ---------------------------------------------------------------- shape
    @property
    def sizes(self):
        """The widths n_0 .. n_L."""
        with self._lock:
            h = self._handle()
            return tuple(C.bp_net_width(h, l) for l in range(C.bp_net_layer_count(h) + 1))

    @property
    def n_layers(self):
        """L, the number of weight layers."""
        with self._lock:
            return C.bp_net_layer_count(self._handle())

    @property
    def activation(self):
        with self._lock:
            return _name_of("activation", C.bp_net_hidden_activation(self._handle()))

    @property
    def output(self):
        with self._lock:
            return _name_of("activation", C.bp_net_output_activation(self._handle()))

    @property
    def loss(self):
        with self._lock:
            return _name_of("loss", C.bp_net_loss_function(self._handle()))

    @property
    def bias(self):
        with self._lock:
            return bool(C.bp_net_has_bias(self._handle()))

    @property
    def n_params(self):
        with self._lock:
            return C.bp_net_param_count(self._handle())

    @property
    def dropout(self):
        """The dropout probability of each hidden layer while training (bp_net_dropout), a
        tuple of L - 1 values (zeros: none). Assigning one value or one per hidden layer
        rebuilds the network with the same parameters, and drops its trainer's state."""
        with self._lock:
            h = self._handle()
            # The library keeps float32: shown as the shortest decimal that rounds to it (0.2, not 0.2000000030).
            return tuple(float(str(np.float32(C.bp_net_dropout(h, l)))) for l in range(1, C.bp_net_layer_count(h)))

    @dropout.setter
    def dropout(self, dropout):
        with self._lock:
            self._set_dropout(dropout_rates(dropout, self.n_layers - 1))

    def _same_dropout(self, rates):
        """Whether the network trains with these rates (a dropout_rates list or None)."""
        want = np.float32(rates or [0.0] * (self.n_layers - 1))
        return bool(np.array_equal(np.float32(self.dropout), want))

    def _rebuilt(self, rates, activation=None):
        """A new Network with this one's shape, parameters, input transform, class names,
        threads and history, and the dropout `rates` (bp_net_dropout cannot be changed on a
        network: the library builds its work space for it); with `activation`, that hidden
        activation instead of this one's (the library fixes it when it builds a network)."""
        with self._lock:
            cfg = _config(self.sizes, activation or self.activation, self.output, self.loss, self.bias, self._seed,
                          rates)
            h = ctypes.c_void_p()
            err = _clib.Error()
            _clib.check(C.bp_net_create(ctypes.byref(cfg), ctypes.byref(h), ctypes.byref(err)), err)
            new = Network._adopt(h.value)
            new._seed = self._seed
            n = self.n_params
            source = _arrays.view(C.bp_net_params(self._net), (n,), self._memory)
            _arrays.view(C.bp_net_params(h.value), (n,), new._memory)[...] = source
            new.input_transform = self.input_transform
            new.class_names = self.class_names
            new.history = list(self.history)
            if self.threads != 1:
                new.threads = self.threads
            return new

    def _set_dropout(self, rates):
        """Give this network other dropout rates, in place (its trainer is dropped)."""
        if self._same_dropout(rates):
            return
        new = self._rebuilt(rates)
        if self._trainer is not None:
            self._trainer.free()
            self._trainer = None
        self._swap_nets(new)
        new.close()

    @property
    def threads(self):
        """Threads sharing the network's products (bp_net_set_threads)."""
        with self._lock:
            return C.bp_net_threads(self._handle())

    @threads.setter
    def threads(self, n):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise ValueError("threads must be a whole number (0: all physical cores), got %r" % (n,))
        if not -2 ** 31 <= n < 2 ** 31:  # ctypes would pass such a number to C's int cut to 32 bits
            raise ValueError("threads=%d is out of range (0: all physical cores)" % n)
        with self._lock:
            err = _clib.Error()
            _clib.check(C.bp_net_set_threads(self._handle(), int(n), ctypes.byref(err)), err, what="threads")

    @property
    def class_names(self):
        """The outputs' class names (stored in the model file), or None."""
        with self._lock:
            h = self._handle()
            n_out = self.sizes[-1]
            names = [C.bp_net_class_name(h, k) for k in range(n_out)]
            return None if names[0] is None else [n.decode("utf-8") for n in names]

    @class_names.setter
    def class_names(self, names):
        with self._lock:
            h = self._handle()
            if names is None:
                _clib.check(C.bp_net_set_class_names(h, None, 0))
                return
            names = [str(n) for n in names]
            if len(names) != self.sizes[-1]:
                raise ValueError("%d class names for %d outputs" % (len(names), self.sizes[-1]))
            arr = (ctypes.c_char_p * len(names))(*[_clib.c_text(n, "class name") for n in names])
            _clib.check(C.bp_net_set_class_names(h, arr, len(names)), what="class names")

    @property
    def input_transform(self):
        """The stored input transform x' = (x - shift) * scale as (shift, scale), or None."""
        with self._lock:
            shift, scale = _clib.c_float_p(), _clib.c_float_p()
            if not C.bp_net_get_input_transform(self._handle(), ctypes.byref(shift), ctypes.byref(scale)):
                return None
            n = self.sizes[0]
            return (np.ctypeslib.as_array(shift, (n,)).copy(), np.ctypeslib.as_array(scale, (n,)).copy())

    @input_transform.setter
    def input_transform(self, value):
        with self._lock:
            h = self._handle()
            if value is None:
                _clib.check(C.bp_net_set_input_transform(h, None, None))
                return
            shift, scale = (np.asarray(v, np.float64).reshape(-1) for v in value)
            n = self.sizes[0]
            if shift.shape != (n,) or scale.shape != (n,):
                raise ValueError("the input transform needs %d shifts and %d scales" % (n, n))
            shift, scale = _arrays.as_float32(shift, "shift"), _arrays.as_float32(scale, "scale")
            _clib.check(C.bp_net_set_input_transform(h, _arrays.float_ptr(shift), _arrays.float_ptr(scale)))

    # ---------------------------------------------------------------- parameters
    def _layer_views(self, owner=None):
        """NumPy views of every W^l (n_l x n_(l-1)) and b^l (or None) in the parameter
        block; they keep `owner` (default: the memory of this network's bp_net, which
        then outlives close()) alive."""
        h = self._handle()
        params = C.bp_net_params(h)
        sizes = self.sizes
        bias = self.bias
        block = _arrays.view(params, (self.n_params,), owner or self._memory)
        Ws, bs, off = [], [], 0
        for l in range(1, len(sizes)):
            n, k = sizes[l], sizes[l - 1]
            Ws.append(block[off:off + n * k].reshape(n, k))
            off += n * k
            if bias:
                bs.append(block[off:off + n])
                off += n
            else:
                bs.append(None)
        return Ws, bs

    @property
    def weights(self):
        """Copies of W^1 .. W^L, each n_l x n_(l-1) (the seeds' layout). Assign a list of
        arrays of the same shapes to replace them."""
        with self._lock:
            return [W.copy() for W in self._layer_views()[0]]

    @weights.setter
    def weights(self, Ws):
        self._set_params(Ws, 0, "weights")

    @property
    def biases(self):
        """Copies of b^1 .. b^L (None for a network without biases)."""
        with self._lock:
            return None if not self.bias else [b.copy() for b in self._layer_views()[1]]

    @biases.setter
    def biases(self, bs):
        if not self.bias:
            raise ValueError("this network has no biases")
        self._set_params(bs, 1, "biases")

    def _set_params(self, arrays, which, name):
        with self._lock:
            targets = self._layer_views()[which]
            arrays = list(arrays)
            if len(arrays) != len(targets):
                raise ValueError("%d %s for %d layers" % (len(arrays), name, len(targets)))
            new = []
            for l, (dst, src) in enumerate(zip(targets, arrays), start=1):
                a = np.asarray(src, dtype=np.float64)
                if a.shape != dst.shape:
                    raise ValueError("%s of layer %d: shape %s, expected %s" % (name, l, a.shape, dst.shape))
                # NaN, infinity, or a value float32 cannot hold (it would become infinity)
                _arrays.as_float32(a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1), "%s[%d]" % (name, l - 1))
                new.append(a)
            for dst, a in zip(targets, new):
                dst[...] = a

    # ---------------------------------------------------------------- passes
    def _inputs(self, X, name="X"):
        """X checked and prepared: float32, C-contiguous, the stored transform applied
        (to a copy: the caller's array is never changed). ValueError naming the place when
        the transform carries a finite input past float32's range (it would come out NaN)."""
        h = self._handle()
        has_transform = C.bp_net_get_input_transform(h, None, None)
        x = _arrays.inputs(X, C.bp_net_width(h, 0), name, copy=bool(has_transform))
        if has_transform:
            C.bp_net_apply_input_transform(h, _arrays.float_ptr(x), x.shape[0])
            overflow = np.argwhere(~np.isfinite(x))
            if len(overflow):
                raise ValueError("%s[%d, %d]: the network's input transform ((x - shift) * scale) takes it beyond "
                                 "float32's range" % ((name,) + tuple(overflow[0])))
        return x

    def _targets(self, y, m, name="y"):
        return _arrays.targets(y, m, self.sizes[-1], self.class_names, name)

    def forward(self, X):
        """a^L for every row of X (m x n_L, float32): the engine's forward pass."""
        with self._lock:
            x = self._inputs(X)
            return self._forward_prepared(x)

    def _forward_prepared(self, x):
        h = self._handle()
        m = x.shape[0]
        out = np.empty((m, C.bp_net_width(h, C.bp_net_layer_count(h))), np.float32)
        for start in range(0, m, _CHUNK):
            rows = min(_CHUNK, m - start)
            xs, os_ = x[start:start + rows], out[start:start + rows]
            if rows < _MIN_ROWS:
                # The library multiplies fewer rows than _MIN_ROWS in another order than
                # more (bp_gemm's gemm_small): padded with zero rows, every row comes out
                # the same bits whatever else is in the call, as scikit-learn's checks ask.
                xs = np.concatenate([xs, np.zeros((_MIN_ROWS - rows, x.shape[1]), np.float32)])
                os_ = np.empty((_MIN_ROWS, out.shape[1]), np.float32)
            _clib.check(C.bp_net_forward(h, _arrays.float_ptr(xs), xs.shape[0], _arrays.float_ptr(os_)),
                        what="forward pass")
            if rows < _MIN_ROWS:
                out[start:start + rows] = os_[:rows]
        return out

    def layer_outputs(self, X):
        """Every layer's z^l and a^l for the rows of X, from one forward pass: a list of
        (z, a) for l = 1..L (z is None for hidden layers, whose g' the engine computes
        from a)."""
        with self._lock:
            x = self._inputs(X)
            h = self._handle()
            _clib.check(C.bp_net_forward(h, _arrays.float_ptr(x), x.shape[0], None), what="forward pass")
            out = []
            for l in range(1, C.bp_net_layer_count(h) + 1):
                z, a = _clib.c_float_p(), _clib.c_float_p()
                _clib.check(C.bp_net_layer_activations(h, l, ctypes.byref(z), ctypes.byref(a)))
                shape = (x.shape[0], C.bp_net_width(h, l))
                out.append((np.ctypeslib.as_array(z, shape).copy() if z else None,
                            np.ctypeslib.as_array(a, shape).copy()))
            return out

    predict_proba = forward

    def predict(self, X):
        """Classes for a classification network (softmax output or a ce/bce loss): the
        argmax class (the class name when the model has names), or for sigmoid outputs 1
        where a >= 0.5 (one output: a vector of 0/1; several: one 0/1 column per label).
        The outputs a^L otherwise."""
        with self._lock:
            return _arrays.classes(self.forward(X), self.output, self.loss, self.class_names)

    def compute_loss(self, X, y, reduction="mean"):
        """The loss of a batch (bp_net_compute_loss), mean or sum over the samples."""
        with self._lock:
            x = self._inputs(X)
            Y = self._targets(y, x.shape[0])
            red = _clib.parse("reduction", reduction, ("mean", "sum"))
            loss = ctypes.c_double()
            _clib.check(C.bp_net_compute_loss(self._handle(), _arrays.float_ptr(x), _arrays.float_ptr(Y),
                                              x.shape[0], red, ctypes.byref(loss)), what="loss")
            return loss.value

    def evaluate(self, X, y):
        """Loss and accuracy (or RMSE) over a data set (bp_net_evaluate): a dict with
        "loss", "samples" and "accuracy" for classification or "rmse" otherwise."""
        with self._lock:
            data = self._dataset(X, y)
            try:
                return self._evaluate(data)
            finally:
                data.free()

    def _evaluate(self, data):
        m = _clib.Metrics()
        _clib.check(C.bp_net_evaluate(self._handle(), data.handle, ctypes.byref(m)), what="evaluation")
        result = {"loss": m.loss, "samples": m.samples}
        if m.accuracy >= 0:
            result["accuracy"] = m.accuracy
        else:
            result["rmse"] = math.sqrt(m.mse)
        return result

    def _dataset(self, X, y, name="X"):
        x = self._inputs(X, name)
        Y = self._targets(y, x.shape[0], "y" if name == "X" else name + "'s y")
        return _arrays.Dataset(x, Y)

    def gradients(self, X, y, reduction="mean"):
        """dC/dW^l and dC/db^l of the loss of the batch (X, y) from the engine's backward
        pass (bp_net_backward), as copies: Gradients(loss, dW, db)."""
        with self._lock:
            x = self._inputs(X)
            Y = self._targets(y, x.shape[0])
            red = _clib.parse("reduction", reduction, ("mean", "sum"))
            h = self._handle()
            loss = ctypes.c_double()
            _clib.check(C.bp_net_backward(h, _arrays.float_ptr(x), _arrays.float_ptr(Y), x.shape[0], red,
                                          ctypes.byref(loss)), what="backward pass")
            grads = _arrays.view(C.bp_net_grads(h), (self.n_params,), self._memory).copy()
            dW, db = self._split_block(grads)
            return Gradients(loss.value, dW, db)

    def _split_block(self, block):
        sizes, bias = self.sizes, self.bias
        dW, db, off = [], [], 0
        for l in range(1, len(sizes)):
            n, k = sizes[l], sizes[l - 1]
            dW.append(block[off:off + n * k].reshape(n, k))
            off += n * k
            db.append(block[off:off + n] if bias else None)
            off += n if bias else 0
        return dW, db

    def gradcheck(self, X=None, y=None, *, samples=4, h=1e-6, reduction="mean", seed=1):
        """Check the engine's gradient two independent ways (backprop_verify.h): against the
        long-double Jacobian reference, which in turn is checked against central finite
        differences with step h. Without X and y, `samples` made-up samples (seeded):
        inputs in [-1, 1), targets that fit the loss. Slow by design (explicit Jacobians):
        meant for small networks. Returns a GradCheck."""
        with self._lock:
            n0, nL = self.sizes[0], self.sizes[-1]
            if (X is None) != (y is None):
                raise ValueError("give both X and y, or neither (made-up data)")
            if X is None:
                X, y = self._made_up_batch(int(samples), int(seed), n0, nL)
            x = self._inputs(X)
            Y = self._targets(y, x.shape[0])
            if not (isinstance(h, (int, float)) and 0 < h <= 1):
                raise ValueError("h must be a step in (0, 1], got %r" % (h,))
            red = _clib.parse("reduction", reduction, ("mean", "sum"))
            hd = self._handle()
            m, P = x.shape[0], self.n_params
            loss = ctypes.c_double()
            _clib.check(C.bp_net_backward(hd, _arrays.float_ptr(x), _arrays.float_ptr(Y), m, red, ctypes.byref(loss)))
            g_bp = _arrays.view(C.bp_net_grads(hd), (P,), self._memory).astype(np.float64)
            g_ref, g_fd = np.zeros(P), np.zeros(P)
            ref_loss = ctypes.c_double()
            _clib.check(C.bp_reference_gradient(hd, _arrays.float_ptr(x), _arrays.float_ptr(Y), m, red,
                                                ctypes.byref(ref_loss), _arrays.double_ptr(g_ref)), what="reference")
            _clib.check(C.bp_finite_difference_gradient(hd, _arrays.float_ptr(x), _arrays.float_ptr(Y), m, red,
                                                        float(h), _arrays.double_ptr(g_fd)), what="finite differences")
            bp_ref = ref_fd = 0.0
            for a_blocks, b_blocks, which in ((self._split_block(g_bp), self._split_block(g_ref), "bp"),
                                              (self._split_block(g_ref), self._split_block(g_fd), "fd")):
                for a, b in zip(a_blocks[0] + a_blocks[1], b_blocks[0] + b_blocks[1]):
                    if a is None:
                        continue
                    a, b = np.ascontiguousarray(a.reshape(-1)), np.ascontiguousarray(b.reshape(-1))
                    e = C.bp_relative_error(_arrays.double_ptr(a), _arrays.double_ptr(b), a.size)
                    if which == "bp":
                        bp_ref = max(bp_ref, e)
                    else:
                        ref_fd = max(ref_fd, e)
            scale = float(np.abs(g_ref).max()) if P else 0.0
            ok = bp_ref <= GRADCHECK_BP_REF_TOL and ref_fd <= GRADCHECK_REF_FD_TOL and scale > 0
            return GradCheck(ok, bp_ref, ref_fd, scale, ref_loss.value)

    def _made_up_batch(self, m, seed, n0, nL):
        if m < 1:
            raise ValueError("samples must be at least 1, got %d" % m)
        rng = np.random.RandomState(seed)
        X = rng.uniform(-1, 1, (m, n0))
        loss, out = self.loss, self.output
        if loss == "ce":
            y = rng.randint(0, nL, m) if nL > 1 else np.ones((m, 1))
        elif loss == "bce" or out in ("sigmoid", "softmax"):
            y = rng.uniform(0, 1, (m, nL))
        else:
            y = rng.uniform(-1, 1, (m, nL))
        # The stored transform would be applied to X: give it raw values that map to these.
        t = self.input_transform
        if t is not None:
            shift, scale = t
            X = X / np.where(scale == 0, 1, scale) + shift
        return X, y

    def explain(self, x=None, y=None, *, format="text", batch=None, learning_rate=0.0, sample_name=None):
        """The seeds' equations for this network, with every matrix shape and the function
        that computes each, written by the library (bp_net_explain: the same text as
        `backprop explain` and the playground). With a sample x (n_0 inputs) and its target
        y (n_L values, or a class label), also every number of the engine's forward and
        backward pass on it; with learning_rate, W and b after one step. format "text"
        gives a str, "json" the parsed JSON object. Explaining a sample overwrites the
        network's gradient block (not its parameters)."""
        with self._lock:
            fmt = {"text": _clib.EXPLAIN_TEXT, "json": _clib.EXPLAIN_JSON}.get(format)
            if fmt is None:
                raise ValueError("format must be 'text' or 'json', got %r" % (format,))
            if (x is None) != (y is None):
                raise ValueError("give both a sample x and its target y, or neither")
            xs = Y = None
            if x is not None:
                n0 = self.sizes[0]
                xa = np.asarray(x)
                if xa.ndim == 1:
                    xa = xa.reshape(1, -1)
                if xa.shape != (1, n0):
                    raise ValueError("x must be one sample of %d inputs, got shape %s" % (n0, np.shape(x)))
                xs = self._inputs(xa, "x")
                ya = np.asarray(y)
                ya = ya.reshape(1) if ya.ndim == 0 else ya.reshape(1, -1) if ya.ndim == 1 and ya.size > 1 else ya
                Y = self._targets(ya, 1, "y")
            if batch is not None and (isinstance(batch, bool) or int(batch) < 1):
                raise ValueError("batch must be a positive whole number, got %r" % (batch,))
            if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate) and learning_rate >= 0):
                raise ValueError("learning_rate must be a number >= 0, got %r" % (learning_rate,))
            name = _clib.c_text(sample_name, "sample_name") if sample_name else None
            options = _clib.ExplainOptions(format=fmt, batch=int(batch or 0), learning_rate=float(learning_rate),
                                           sample_name=name)
            text = ctypes.c_void_p()
            err = _clib.Error()
            _clib.check(C.bp_net_explain(self._handle(), _arrays.float_ptr(xs), _arrays.float_ptr(Y),
                                         ctypes.byref(options), ctypes.byref(text), ctypes.byref(err)), err,
                        what="explain")
            try:
                s = ctypes.string_at(text.value).decode("utf-8")
            finally:
                C.bp_free(text.value)
            return json.loads(s) if format == "json" else s

    # ---------------------------------------------------------------- files
    def save(self, path):
        """Write the network to a .bpm model file (atomically), the file `backprop eval`,
        `predict` and every other surface read."""
        with self._lock:
            err = _clib.Error()
            _clib.check(C.bp_net_save(self._handle(), _clib.c_path(path), ctypes.byref(err)), err)

    # ---------------------------------------------------------------- deploying
    def export_onnx(self, path=None, *, source=None):
        """The network as an ONNX model (opset 13; bp_net_export, the bytes of `backprop
        export-onnx`): input "input" [batch, n_0] takes raw values (the stored input
        transform is part of the graph), output "output" [batch, n_L] is a^L. The bytes
        when path is None, else written to path atomically (and None). source: where the
        model came from, named in the model's doc string (the command line gives the
        .bpm's path)."""
        with self._lock:
            data = _deploy.export(self._handle(), _clib.BP_EXPORT_ONNX, source=source)
        return _deploy.deliver(data, path)

    def export_c(self, path=None, name="model", int8=None, *, source=None):
        """The network as one dependency-free C99 file (bp_net_export, the text of `backprop
        export-c`): the weights as exact constants, the input transform, the class names
        and NAME_predict(x, out) in float. int8: a QuantizedNetwork from this network's
        quantize(), for integer-only C instead (`export-c --int8`; the network as it was
        quantized). The text as a str when path is None, else written to path atomically
        (and None). source: where the model came from, quoted in the first comment."""
        if int8 is not None:
            if not isinstance(int8, _deploy.QuantizedNetwork):
                raise ValueError("int8 must be a QuantizedNetwork (Network.quantize(X)), got %r" % (int8,))
            with self._lock:
                self._handle()
                text = int8._export_for(self, name, source)
        else:
            with self._lock:
                text = _deploy.export(self._handle(), _clib.BP_EXPORT_C, _deploy.check_name(name),
                                      source=source).decode("utf-8")
        return _deploy.deliver(text, path)

    def quantize(self, X_calibration):
        """The network quantized to int8 (bp_qnet_create) as a QuantizedNetwork, with the
        scales of every layer's activations set by their range over X_calibration (raw
        inputs, as for every method here: the stored transform is applied, as `backprop
        ... --int8 --calibrate DATA` does; the training set is the usual choice).
        UnsupportedError (a NotImplementedError) says why for a network integers cannot
        represent. docs/DEPLOY.md has the scheme."""
        with self._lock:
            self._handle()
            return _deploy.quantize(self, X_calibration)

    def save_checkpoint(self, path):
        """Write the network with its trainer's whole state (optimizer, shuffling, epoch),
        so that load_checkpoint and fit(resume=...) continue exactly. Needs a trainer:
        the network must have been trained (or loaded from a checkpoint)."""
        with self._lock:
            self._handle()
            if self._trainer is None:
                raise ValueError("no training state to save: fit the network first (or use save for the model)")
            self._trainer.save(path)

    # ---------------------------------------------------------------- training
    def fit(self, X, y, *, epochs=10, batch_size=32, optimizer="sgd", lr=None, momentum=None,
            weight_decay=0.0, clip=None, schedule="constant", step_epochs=None, gamma=None, min_lr=0.0,
            warmup=0.0, reduction="mean", beta1=None, beta2=None, epsilon=None, lbfgs_history=None,
            tolerance=None, max_evaluations=None, rprop_step0=None, rprop_step_max=None, validation=None, early_stop=None, test=None, normalize=None,
            input_scale=None, shuffle=True, seed=None, threads=None, device="cpu", tf32=False, precision="fp32",
            dropout=None, checkpoint=None, checkpoint_every=None, resume=None, callback=None, verbose=False):
        """Train the network on (X, y) with the library's trainer, epoch after epoch, and
        return the history: one Epoch per epoch (also kept in self.history).

        The options are the command line's `backprop train` options (docs/CLI.md), with
        its defaults: epochs 10, batch_size 32 (1: per-sample, 0: full batch), optimizer
        sgd|momentum|nesterov|adam|adamw|rprop|lbfgs, lr (0.1; 0.001 for adam and adamw),
        momentum (0.9 for momentum and nesterov), weight_decay, clip (gradient 2-norm),
        schedule constant|step|cosine with step_epochs (10), gamma (0.1), min_lr, warmup
        (epochs), reduction mean|sum, beta1, beta2, epsilon (Adam), shuffle, seed
        (shuffling and the validation split; default: the network's seed).

        lbfgs: full-batch L-BFGS, one iteration per epoch; lbfgs_history ((s, y) pairs,
        10), tolerance (stop once no |dC/dp| exceeds it, 1e-4) and max_evaluations (of the
        loss and gradient over the whole run, 15000). fit stops after the epoch in which it
        converged (that Epoch's `converged` is True). Not with dropout.

        rprop: full-batch iRPROP-; rprop_step0 (every parameter's first step, 0.1) and
        rprop_step_max (the largest step, 50), like --rprop-step0 and --rprop-step-max:
        each from 1e-6 to 1e30, the first no larger than the largest. FANN's settings
        mapped over are rprop_step0=0.05, rprop_step_max=25 with Network(init_range=0.1)
        (docs/OPTIMIZERS.md, "RPROP against FANN").

        y: one row of n_L targets per sample, or class labels (0..n_L-1 or class names)
        for a network with several outputs.
        validation: a fraction of (X, y) held out (shuffled with the seed, as --validation
        does), or a pair (X_val, y_val); evaluated after every epoch.
        early_stop: patience in epochs: stop when the validation loss has not improved
        for that long and keep the best weights (a validation fraction of 0.1 if none).
        test: a pair (X_test, y_test) evaluated after every epoch, like --test.
        normalize: "minmax" or "standardize" statistics of the training part, or
        input_scale: divide every input by it; either is stored in the model and applied
        to every later input. Without them an existing stored transform is applied.
        threads: threads for this network (bp_net_set_threads). device: "cpu" or "cuda"
        (a build with make CUDA=1; tf32 lets cuBLAS use TF32).
        precision: the training products' arithmetic: "fp32" (default), "bf16" (operands
        rounded to bfloat16, float32 sums and master weights; AMX-BF16 or AVX512_BF16,
        NotImplementedError on a CPU with neither: see precision_kernel()) or
        "bf16-emulated" (the same arithmetic in portable C, slow).
        dropout: one probability, or one per hidden layer, to train with from now on
        (the network keeps it, as Network(dropout=) does); None keeps the network's own.
        checkpoint: save the whole training state here after every epoch (and every
        checkpoint_every steps); resume: a checkpoint to continue from, where epochs
        counts the epochs already done (fewer raise ValueError), as `backprop train
        --resume` does; with early_stop, a fit that early stopping had ended trains no
        further and keeps its best weights. A resumed fit
        trains with the checkpoint's settings and seed: a training option given that
        says otherwise raises ValueError, and seed defaults to the checkpoint's (so a
        validation fraction splits off the same samples as before).
        callback: called with each Epoch after it ends; returning False stops training.
        It must not close the network (ValueError) nor fit, resume or rebuild it for
        other dropout (RuntimeError): fit raises as soon as it returns.
        verbose: print one line per epoch.

        Training runs in the library with the GIL released. Ctrl-C takes effect at the end
        of the current epoch (or checkpoint_every piece); with a checkpoint file it is
        saved before KeyboardInterrupt propagates.
        """
        code = precision_code(precision, device)
        with self._lock:
            self._handle()
            if resume is not None:
                rates = None if dropout is None else dropout_rates(dropout, self.n_layers - 1)
                given = dict(batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
                             weight_decay=weight_decay, clip=clip, schedule=schedule, step_epochs=step_epochs,
                             gamma=gamma, min_lr=min_lr, warmup=warmup, reduction=reduction, beta1=beta1,
                             beta2=beta2, epsilon=epsilon, lbfgs_history=lbfgs_history, tolerance=tolerance,
                             max_evaluations=max_evaluations, rprop_step0=rprop_step0,
                             rprop_step_max=rprop_step_max, shuffle=shuffle)
                seed = self._resume_from(resume, lambda stored, done, net: _same_training_as_checkpoint(
                    stored, resume, given, seed, epochs, done, net))
                if dropout is not None and not self._same_dropout(rates):
                    raise ValueError("dropout cannot change when resuming: the checkpoint's network trains with "
                                     "%s" % (list(self.dropout),))
                self._trainer.set_precision(code)
            elif dropout is not None:
                self._set_dropout(dropout_rates(dropout, self.n_layers - 1))
            if optimizer == "lbfgs" and any(self.dropout):
                raise ValueError("dropout does not go with optimizer 'lbfgs': its line search needs the same loss "
                                 "every time it looks; use adam, or lbfgs with weight_decay")
            run = _FitRun(self, X, y, epochs=epochs, validation=validation, early_stop=early_stop, test=test,
                          normalize=normalize, input_scale=input_scale, seed=seed, resume=resume)
            try:
                if resume is None:
                    config = _train_config(batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
                                           weight_decay=weight_decay, clip=clip, schedule=schedule,
                                           step_epochs=step_epochs, gamma=gamma, min_lr=min_lr, warmup=warmup,
                                           reduction=reduction, beta1=beta1, beta2=beta2, epsilon=epsilon,
                                           lbfgs_history=lbfgs_history, tolerance=tolerance,
                                           max_evaluations=max_evaluations, rprop_step0=rprop_step0,
                                           rprop_step_max=rprop_step_max, shuffle=shuffle, seed=run.seed,
                                           epochs=epochs, precision=code)
                    self._new_trainer(config)
                if threads is not None:
                    self.threads = threads
                self._trainer.set_device(device, tf32)
                return run.epochs(checkpoint, checkpoint_every, callback, verbose)
            finally:
                run.free()

    def _new_trainer(self, config):
        if self._trainer is not None:
            self._trainer.free()
            self._trainer = None
        self._trainer = _Trainer(self, config)
        return self._trainer

    def _resume_from(self, path, check):
        """Take the checkpoint's network and trainer, once check(its settings, its epochs
        done, its network) has passed (it raises otherwise, and this network stays as it
        was); check's result."""
        net, trainer = ctypes.c_void_p(), ctypes.c_void_p()
        err = _clib.Error()
        _clib.check(C.bp_checkpoint_load(_clib.c_path(path), ctypes.byref(net), ctypes.byref(trainer), None, None,
                                         ctypes.byref(err)), err)
        if self.sizes[0] != C.bp_net_width(net.value, 0) or \
                self.sizes[-1] != C.bp_net_width(net.value, C.bp_net_layer_count(net.value)):
            C.bp_trainer_free(trainer.value)
            C.bp_net_free(net.value)
            raise ValueError("%s holds a network of another shape than this one" % os.fspath(path))
        try:
            stored = _clib.TrainConfig()
            _clib.check(C.bp_trainer_get_config(trainer.value, ctypes.byref(stored)))
            result = check(stored, C.bp_trainer_epochs_done(trainer.value), net.value)
        except BaseException:
            C.bp_trainer_free(trainer.value)
            C.bp_net_free(net.value)
            raise
        threads = self.threads
        if self._trainer is not None:
            self._trainer.free()
        self._hold(net.value)
        self._trainer = _Trainer(self, handle=trainer.value)
        if threads != 1:
            self.threads = threads
        return result


# fit's training options as they map to bp_train_config: (option, field, default).
_TRAINING_OPTIONS = (("optimizer", "optimizer", "sgd"), ("lr", "learning_rate", None), ("momentum", "momentum", None),
                     ("batch_size", "batch_size", 32), ("reduction", "reduction", "mean"),
                     ("shuffle", "no_shuffle", True), ("weight_decay", "weight_decay", 0.0), ("clip", "clip_norm", None),
                     ("schedule", "schedule", "constant"), ("step_epochs", "step_epochs", None),
                     ("gamma", "gamma", None), ("min_lr", "min_lr", 0.0), ("warmup", "warmup_epochs", 0.0),
                     ("beta1", "beta1", None), ("beta2", "beta2", None), ("epsilon", "epsilon", None),
                     ("lbfgs_history", "lbfgs_history", None), ("tolerance", "tolerance", None),
                     ("max_evaluations", "max_evaluations", None), ("rprop_step0", "rprop_step0", None),
                     ("rprop_step_max", "rprop_step_max", None))
# The names of bp_optimizer, bp_reduction and bp_schedule, in the enums' order.
_NAMES = {"optimizer": ("sgd", "momentum", "nesterov", "adam", "adamw", "rprop", "lbfgs"),
          "reduction": ("mean", "sum"), "schedule": ("constant", "step", "cosine")}


def _resolved(config, net):
    """config as the library reads it (defaults filled in, plain sgd given a momentum is
    momentum): the settings of a trainer made from it on net, which is then freed."""
    trainer = ctypes.c_void_p()
    _clib.check(C.bp_trainer_create(net, ctypes.byref(config), ctypes.byref(trainer)),
                what="invalid combination of training settings")
    try:
        out = _clib.TrainConfig()
        _clib.check(C.bp_trainer_get_config(trainer.value, ctypes.byref(out)))
        return out
    finally:
        C.bp_trainer_free(trainer.value)


def _same_training_as_checkpoint(stored, path, given, seed, epochs, done, net):
    """fit(resume=...) trains with the checkpoint's settings (stored, a TrainConfig of
    its network net, with done epochs behind it): each option given away from fit's
    default must say what the checkpoint holds, as `backprop train --resume` checks.
    Returns the seed to split the data with: the checkpoint's unless one is given, which
    must be the same."""
    def shown(option, value):
        if option in _NAMES:
            return repr(_NAMES[option][value])
        if option == "shuffle":
            return repr(not value)
        return repr(float(value)) if isinstance(value, float) else repr(int(value))

    mine = _resolved(_train_config(**dict(given, seed=0, epochs=1)), net)
    for option, field, default in _TRAINING_OPTIONS:
        if isinstance(given[option], type(default)) and given[option] == default:
            continue
        value, held = getattr(mine, field), getattr(stored, field)
        if option in ("rprop_step0", "rprop_step_max"):  # the library keeps them as floats
            same = np.float32(value) == np.float32(held)
        else:
            same = value == held
        if not same:
            raise ValueError("%s=%s, but %s was trained with %s=%s: a resumed fit keeps the checkpoint's training "
                             "settings (leave %s out, or fit anew without resume)"
                             % (option, shown(option, value), os.fspath(path), option, shown(option, held),
                                option))
    whole = isinstance(epochs, (int, np.integer)) and not isinstance(epochs, bool)  # else _FitRun refuses it
    # epochs counts the epochs done: fewer would train nothing and return an empty history.
    if whole and 1 <= epochs < done:
        raise ValueError("epochs=%d, but %s has %d epochs behind it: a resumed fit's epochs counts them too (give "
                         "epochs=%d at least)" % (epochs, os.fspath(path), done, done))
    # A cosine schedule has the length of the fit that made it and then stays at its final
    # rate: more epochs would go on at min_lr (the default 0: changing nothing) unannounced.
    if stored.schedule == _NAMES["schedule"].index("cosine") and whole and epochs > stored.epochs:
        raise ValueError("epochs=%d goes past the end of %s's cosine schedule, which decays to min_lr=%g over %d "
                         "epochs: the epochs after it would train at that final rate (give epochs=%d at most, or "
                         "fit anew with more epochs)" % (epochs, os.fspath(path), stored.min_lr, stored.epochs,
                                                         stored.epochs))
    if seed is None:
        return int(stored.seed)
    if (int(seed) & (2 ** 64 - 1)) != stored.seed:
        raise ValueError("seed=%r, but %s was trained with seed=%d: a resumed fit keeps the checkpoint's seed, which "
                         "also splits off the validation part (leave seed out, or fit anew without resume)"
                         % (seed, os.fspath(path), stored.seed))
    return int(seed)


def _whole(name, v, lo, hi):
    """A whole number in [lo, hi], or 0 (the library's default) for None."""
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise ValueError("%s must be a whole number from %d to %d, got %r" % (name, lo, hi, v))
    return int(v)


def _train_config(*, batch_size, optimizer, lr, momentum, weight_decay, clip, schedule, step_epochs, gamma,
                  min_lr, warmup, reduction, beta1, beta2, epsilon, shuffle, seed, epochs, lbfgs_history=None,
                  tolerance=None, max_evaluations=None, rprop_step0=None, rprop_step_max=None,
                  precision=_clib.PRECISION_FP32):
    """A bp_train_config from fit's options (None and 0 mean the library's default)."""
    def number(name, v, lo=0.0):
        if v is None:
            return 0.0
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or \
                not math.isfinite(v) or v < lo:
            raise ValueError("%s must be a number >= %g, got %r" % (name, lo, v))
        return float(v)

    def below_one(name, v):  # the library refuses 1 and more ("invalid argument", without a name)
        v = number(name, v)
        if v >= 1:
            raise ValueError("%s must be a number from 0 to below 1, got %r" % (name, v))
        return v

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 0:
        raise ValueError("batch_size must be a whole number >= 0 (0: the whole data set), got %r" % (batch_size,))
    c = _clib.TrainConfig()
    c.learning_rate = number("lr", lr)
    c.momentum = below_one("momentum", momentum)
    c.batch_size = min(int(batch_size), _clib.SIZE_MAX)  # larger than any data set, as asked: the whole set
    c.reduction = _clib.parse("reduction", reduction, _NAMES["reduction"])
    c.no_shuffle = 0 if shuffle else 1
    c.seed = int(seed) & (2 ** 64 - 1)
    c.optimizer = _clib.parse("optimizer", optimizer, _NAMES["optimizer"])
    c.beta1 = below_one("beta1", beta1)
    c.beta2 = below_one("beta2", beta2)
    c.epsilon = number("epsilon", epsilon)
    c.weight_decay = number("weight_decay", weight_decay)
    c.clip_norm = number("clip", clip)
    c.schedule = _clib.parse("schedule", schedule, _NAMES["schedule"])
    c.step_epochs = number("step_epochs", step_epochs)
    c.gamma = number("gamma", gamma)
    c.min_lr = number("min_lr", min_lr)
    c.epochs = int(epochs)
    c.warmup_epochs = number("warmup", warmup)
    c.lbfgs_history = _whole("lbfgs_history", lbfgs_history, 1, 1000)
    if tolerance is not None and number("tolerance", tolerance) == 0:
        raise ValueError("tolerance must be a number > 0, got %r" % (tolerance,))
    c.tolerance = number("tolerance", tolerance)
    c.max_evaluations = _whole("max_evaluations", max_evaluations, 1, 2 ** 40)
    for name, v in (("rprop_step0", rprop_step0), ("rprop_step_max", rprop_step_max)):
        if v is not None and not 1e-6 <= number(name, v) <= 1e30:
            raise ValueError("%s must be a number from 1e-06 to 1e30, got %r" % (name, v))
    c.rprop_step0 = number("rprop_step0", rprop_step0)
    c.rprop_step_max = number("rprop_step_max", rprop_step_max)
    if (rprop_step0 is not None or rprop_step_max is not None) and optimizer != "rprop":
        raise ValueError("rprop_step0 and rprop_step_max are settings of optimizer 'rprop'")
    first, largest = c.rprop_step0 or 0.1, c.rprop_step_max or 50.0
    if first > largest:
        raise ValueError("rprop's first step (%g) is larger than its largest step (%g): lower rprop_step0 or raise "
                         "rprop_step_max" % (first, largest))
    c.precision = precision
    return c


class _FitRun:
    """One Network.fit: its data sets (prepared once), and the epochs."""

    def __init__(self, net, X, y, *, epochs, validation, early_stop, test, normalize, input_scale, seed, resume):
        self.net = net
        self.sets = []
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError("epochs must be a whole number >= 1, got %r" % (epochs,))
        self.total = int(epochs)
        self.patience = None
        if early_stop is not None:
            if isinstance(early_stop, bool) or not isinstance(early_stop, (int, np.integer)) or early_stop < 1:
                raise ValueError("early_stop must be a patience in epochs (>= 1), got %r" % (early_stop,))
            self.patience = int(early_stop)
            if validation is None:
                validation = 0.1
        if seed is None:
            seed = net._seed  # the command line's --seed also seeds both
        self.seed = int(seed)
        if normalize is not None and input_scale is not None:
            raise ValueError("normalize and input_scale cannot be combined")
        h = net._handle()
        n_in = C.bp_net_width(h, 0)
        transform = normalize is not None or input_scale is not None
        x_raw = _arrays.inputs(X, n_in, "X") if transform else None
        if transform:
            data = _arrays.Dataset(x_raw, net._targets(y, x_raw.shape[0]), writable=True)
        else:
            data = net._dataset(X, y)
        self.sets.append(data)
        self.valid = None
        if isinstance(validation, (tuple, list)):
            if len(validation) != 2:
                raise ValueError("validation must be a fraction or a pair (X_val, y_val)")
            self.train = data
        elif validation is not None:
            v = validation
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) or not 0 < v < 1:
                raise ValueError("validation must be a fraction in (0, 1) or a pair (X_val, y_val), got %r" % (v,))
            self.train, self.valid = data.split(float(v), self.seed ^ 0x5eed)
            self.sets += [self.train, self.valid]
        else:
            self.train = data
        if transform:
            self._store_transform(normalize, input_scale)
        if isinstance(validation, (tuple, list)):
            self.valid = net._dataset(validation[0], validation[1], "validation")
            self.sets.append(self.valid)
        self.test = None
        if test is not None:
            if not isinstance(test, (tuple, list)) or len(test) != 2:
                raise ValueError("test must be a pair (X_test, y_test)")
            self.test = net._dataset(test[0], test[1], "test")
            self.sets.append(self.test)
        self.resume = resume

    def _store_transform(self, normalize, input_scale):
        """The transform from the training part's statistics (or 1/input_scale), applied
        to the training and validation parts and stored in the model."""
        n_in = self.train.n_in
        shift, scale = np.zeros(n_in, np.float32), np.ones(n_in, np.float32)
        if input_scale is not None:
            if isinstance(input_scale, bool) or not isinstance(input_scale, (int, float, np.floating)) or \
                    not math.isfinite(input_scale) or input_scale <= 0:
                raise ValueError("input_scale must be a number > 0, got %r" % (input_scale,))
            if 1.0 / input_scale > _arrays.FLOAT32_MAX:
                raise ValueError("input_scale %r is too small: the model stores 1 / input_scale as a float32, which "
                                 "holds at most %.4g" % (input_scale, _arrays.FLOAT32_MAX))
            scale[:] = 1.0 / input_scale
        else:
            mode = {"none": _clib.NORMALIZE_NONE, "minmax": _clib.NORMALIZE_MINMAX,
                    "standardize": _clib.NORMALIZE_STANDARDIZE}.get(normalize)
            if mode is None:
                raise ValueError("normalize must be 'none', 'minmax' or 'standardize', got %r" % (normalize,))
            if mode == _clib.NORMALIZE_NONE:
                self.net.input_transform = None
                return
            _clib.check(C.bp_dataset_input_stats(self.train.handle, mode, _arrays.float_ptr(shift),
                                                 _arrays.float_ptr(scale)))
        for d in (self.train, self.valid):
            if d is not None:
                _clib.check(C.bp_dataset_apply_transform(d.handle, _arrays.float_ptr(shift), _arrays.float_ptr(scale)))
        self.net.input_transform = (shift, scale)

    def free(self):
        for d in self.sets:
            d.free()

    def _check_untouched(self, trainer, epoch):
        """After the callback: the network must still be open and trained by this run's
        trainer. A callback that closed it, fit it again, resumed or changed its dropout
        (each frees the trainer this loop holds) stops fit here, with the reason, instead
        of the next epoch failing with the library's "invalid argument"."""
        net = self.net
        if net._net is None:
            raise ValueError("the network was closed during fit (by the callback, after epoch %d): close it "
                             "after fit returns, or return False from the callback to stop training"
                             % epoch)
        if net._trainer is not trainer or trainer.handle is None:
            raise RuntimeError("the network was trained again or rebuilt during fit (by the callback, after "
                               "epoch %d: fit, resume or a new dropout replace the trainer this fit runs); "
                               "return False from the callback and fit again after it returns" % epoch)

    def epochs(self, checkpoint, checkpoint_every, callback, verbose):
        net, trainer = self.net, self.net._trainer
        if checkpoint_every is not None and (isinstance(checkpoint_every, bool) or
                                             not isinstance(checkpoint_every, (int, np.integer)) or
                                             checkpoint_every < 1 or checkpoint is None):
            raise ValueError("checkpoint_every needs a checkpoint file and a whole number of steps >= 1")
        if callback is not None and not callable(callback):
            raise ValueError("callback must be callable")
        first = trainer.epochs_done + 1 if self.resume is not None else 1
        last = self.total
        if self.resume is None:
            net.history = []
        best_epoch = None
        best = math.inf
        if self.resume is not None and self.patience:
            # Early stopping's books come with the checkpoint: a fit whose patience had run
            # out trains no further (as the fit that was never stopped did not), and the
            # best epoch is the one restored even if no later epoch improves on it.
            loss, since = trainer.best()
            if math.isfinite(loss) and since < first - 1:
                best, best_epoch = loss, first - 1 - since
                if since >= self.patience:
                    if verbose:
                        print("early stopping ended %s after epoch %d: no better validation loss since epoch %d"
                              % (os.fspath(self.resume), first - 1, best_epoch))
                    last = first - 1
        try:
            for e in range(first, last + 1):
                lr = trainer.learning_rate
                t0 = time.perf_counter()
                while True:
                    stats = trainer.run(self.train, checkpoint_every or 0)
                    if stats.complete:
                        break
                    trainer.save(checkpoint)
                seconds = time.perf_counter() - t0
                vm = net._evaluate(self.valid) if self.valid is not None else None
                tm = net._evaluate(self.test) if self.test is not None else None
                record = Epoch(e, stats.loss, vm and vm["loss"], vm and vm.get("accuracy"), tm and tm["loss"],
                               tm and tm.get("accuracy"), lr, stats.samples / max(seconds, 1e-9), seconds,
                               bool(stats.converged))
                net.history.append(record)
                if verbose:
                    print(_epoch_line(record, last), flush=True)
                stop = False
                if self.patience and vm is not None:
                    if vm["loss"] < best:
                        best, best_epoch = vm["loss"], e
                    stop = trainer.observe(vm["loss"], self.patience)
                if checkpoint is not None:
                    trainer.save(checkpoint)
                if callback is not None:
                    go_on = callback(record)
                    self._check_untouched(trainer, e)
                    if go_on is False:
                        break
                if stats.converged:
                    if verbose:
                        print("lbfgs converged after %d iterations" % C.bp_trainer_steps_done(trainer.handle))
                    break
                if stop:
                    if verbose:
                        print("early stop: no better validation loss for %d epochs" % self.patience)
                    break
        except KeyboardInterrupt:
            if checkpoint is not None:
                trainer.save(checkpoint)
            raise
        if self.patience and best_epoch is not None and trainer.restore_best() and verbose:
            print("keeping the weights of epoch %d (validation loss %.4f)" % (best_epoch, best))
        return list(net.history)


def _epoch_line(r, epochs):
    width = len(str(epochs))
    s = "epoch %*d/%d  train loss %.4f" % (width, r.epoch, epochs, r.train_loss)
    for name, loss, acc in (("val", r.val_loss, r.val_accuracy), ("test", r.test_loss, r.test_accuracy)):
        if loss is not None:
            s += "  %s loss %.4f" % (name, loss)
            if acc is not None:
                s += "  %s accuracy %6.2f%%" % (name, 100 * acc)
    return s + "  %8.0f samples/s  %6.2f s" % (r.samples_per_second, r.seconds)


def load(path):
    """A network from a .bpm model file (written by any surface: the command line, Python,
    the playground)."""
    h = ctypes.c_void_p()
    err = _clib.Error()
    _clib.check(C.bp_net_load(_clib.c_path(path), ctypes.byref(h), ctypes.byref(err)), err)
    return Network._adopt(h.value)


def load_checkpoint(path):
    """A network with its trainer from a checkpoint (fit(checkpoint=...), `backprop train
    --checkpoint`): fit(X, y, resume=path) on a network of the same shape continues it, or
    use the returned network as a model."""
    net, trainer = ctypes.c_void_p(), ctypes.c_void_p()
    err = _clib.Error()
    _clib.check(C.bp_checkpoint_load(_clib.c_path(path), ctypes.byref(net), ctypes.byref(trainer), None, None,
                                     ctypes.byref(err)), err)
    return Network._adopt(net.value, trainer.value)


def default_threads():
    """Physical cores this process may run on (bp_default_threads)."""
    return C.bp_default_threads()


def cuda_devices():
    """CUDA devices the library can use: 0 in a build without CUDA."""
    return C.bp_cuda_devices()
