"""_arrays.py - NumPy arrays in and out of the library: checking inputs, handing
C-contiguous float32 arrays to C as pointers, and NumPy views of memory the library owns.

Inputs are checked here once, with messages that say what is wrong and where: the
dimension count, the width the network expects, an empty array, NaN or infinity (with the
first row and column), a float64 value too large for float32, types that are not numbers.
A C-contiguous float32 array goes to C as it is; anything else is converted once.
Targets become the float rows the library trains on (class labels one-hot encoded).
"""
import ctypes

import numpy as np

from . import _clib
from ._clib import C


def float_ptr(a):
    """The address of a C-contiguous float32 array as a float *, or NULL for None."""
    if a is None:
        return None
    assert a.dtype == np.float32 and a.flags.c_contiguous
    return a.ctypes.data_as(_clib.c_float_p)


def double_ptr(a):
    assert a.dtype == np.float64 and a.flags.c_contiguous
    return a.ctypes.data_as(_clib.c_double_p)


def view(ptr, shape, owner, dtype=np.float32):
    """A NumPy array over memory the library owns (ptr), keeping `owner` (the Python
    object that frees that memory) alive for as long as the array lives."""
    count = int(np.prod(shape))
    ctype = ctypes.c_float if dtype == np.float32 else ctypes.c_double
    if count == 0:
        return np.zeros(shape, dtype)
    buf = (ctype * count).from_address(ctypes.cast(ptr, ctypes.c_void_p).value)
    buf._owner = owner
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


def _numeric(X, name):
    """np.asarray(X), refusing what is not real numbers (strings, objects, complex)."""
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # a SciPy sparse matrix: the engine is dense
        X = X.toarray()
    try:
        a = np.asarray(X)
    except Exception as e:  # ragged lists and the like
        raise ValueError("%s could not be read as an array: %s" % (name, e)) from None
    if a.dtype.kind == "O":
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("%s must hold numbers; it holds %s objects" % (name, a.dtype)) from None
    if a.dtype.kind == "c":
        raise ValueError("%s holds complex numbers; backprop trains on real numbers" % name)
    if a.dtype.kind not in "biuf":
        raise ValueError("%s must hold numbers, not %s" % (name, a.dtype))
    return a


FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_finite(a, name, source=None):
    """ValueError naming the first NaN or infinity of a (a float array). The sum is finite
    when every element is (and is found without a temporary array as large as a); only
    when it is not, because of a NaN, an infinity or an overflow, is every element looked at.
    source: the wider array a was converted from; where it holds a finite number that
    became infinity in a, the message says that it is beyond float32's range."""
    if a.dtype.kind != "f":
        return
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(a)
    if not np.isfinite(total) and not np.isfinite(a).all():
        where = np.argwhere(~np.isfinite(a))[0]
        place = "row %d" % where[0] if a.ndim == 1 else "row %d, column %d" % (where[0], where[1])
        if source is not None and np.isfinite(source[tuple(where)]):
            raise ValueError("%s holds %r at %s, beyond float32's range (+-%.4g), in which backprop computes: "
                             "scale it down" % (name, float(source[tuple(where)]), place, FLOAT32_MAX))
        raise ValueError("%s contains NaN or infinity (the first at %s)" % (name, place))


def as_float32(a, name, copy=False, finite=False):
    """a (a NumPy array of numbers) as a C-contiguous float32 array: a itself when it already
    is one (unless copy), else converted once. ValueError for a NaN or an infinity, and for
    a finite float64 value that float32 cannot hold (it would become infinity); finite=True
    says a is known to hold no NaN or infinity, so only a conversion from a wider float is
    looked at."""
    if copy or a.dtype != np.float32 or not a.flags.c_contiguous:
        with np.errstate(over="ignore"):
            out = np.array(a, dtype=np.float32, order="C", copy=True)
    else:
        out = a
    wider = a.dtype.kind == "f" and a.dtype.itemsize > 4
    if wider or (not finite and a.dtype.kind == "f"):
        check_finite(out, name, source=a if wider else None)
    return out


def inputs(X, n_in, name="X", copy=False):
    """X as a C-contiguous float32 array of shape (m, n_in), m >= 1: the caller's own array
    when it already is one (unless copy), else converted once."""
    a = _numeric(X, name)
    if a.ndim != 2:
        raise ValueError("%s must be a 2-D array (samples x %d inputs); got %d dimension%s%s" % (
            name, n_in, a.ndim, "" if a.ndim == 1 else "s",
            " (one sample: x.reshape(1, -1))" if a.ndim == 1 else ""))
    if a.shape[0] == 0:
        raise ValueError("%s is empty: it has 0 samples" % name)
    if a.shape[1] != n_in:
        raise ValueError("%s has %d column%s, but the network has %d inputs" % (
            name, a.shape[1], "" if a.shape[1] == 1 else "s", n_in))
    return as_float32(a, name, copy=copy)


def targets(y, m, n_out, class_names=None, name="y"):
    """Targets as float32 rows (m x n_out): a 2-D array as it is; a 1-D array as one
    column when there is one output, else as class labels (0..n_out-1, or the network's
    class names) one-hot encoded."""
    if y is None:
        raise ValueError("%s is required: the targets of every sample" % name)
    raw = np.asarray(y)
    if raw.ndim == 1 and raw.shape[0] == m and n_out > 1:
        return _one_hot(raw, m, n_out, class_names, name)
    a = _numeric(raw, name)
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[0] != m or a.shape[1] != n_out:
        raise ValueError("%s has shape %s; expected (%d, %d): one row of %d target%s per sample%s" % (
            name, tuple(raw.shape), m, n_out, n_out, "" if n_out == 1 else "s",
            "" if n_out == 1 else ", or %d class labels" % m))
    return as_float32(a, name, copy=True)


def _one_hot(raw, m, n_out, class_names, name):
    if raw.dtype.kind in "USO" and class_names:
        index = {c: k for k, c in enumerate(class_names)}
        labels = np.empty(m, np.int64)
        for i, v in enumerate(raw):
            if str(v) not in index:
                raise ValueError("%s[%d] = %r is not one of the network's classes (%s)" % (
                    name, i, v, ", ".join(class_names)))
            labels[i] = index[str(v)]
    else:
        a = _numeric(raw, name)
        check_finite(a, name)
        labels = a.astype(np.int64)
        bad = np.flatnonzero((labels != a) | (labels < 0) | (labels >= n_out))
        if bad.size:
            raise ValueError("%s[%d] = %r is not a class label: expected a whole number 0..%d (the network "
                             "has %d outputs)" % (name, bad[0], raw[bad[0]], n_out - 1, n_out))
    out = np.zeros((m, n_out), np.float32)
    out[np.arange(m), labels] = 1.0
    return out


def is_classifier(output, loss):
    """Whether a network's outputs are classes: a softmax output or a ce/bce loss."""
    return loss in ("ce", "bce") or output == "softmax"


def classes(out, output, loss, class_names):
    """What predict returns for outputs a^L (m x n_L) of a network with this output
    activation, loss and class names: for a classifier the argmax class (its name when
    there are names), or for sigmoid outputs 1 where a >= 0.5 (one output: a vector of 0/1;
    several: one 0/1 column per label); the outputs themselves otherwise."""
    if not is_classifier(output, loss):
        return out
    if output == "sigmoid":
        pred = (out >= 0.5).astype(np.int64)
        return pred[:, 0] if pred.shape[1] == 1 else pred
    k = out.argmax(axis=1)
    return np.asarray(class_names, dtype=object)[k] if class_names else k


class Dataset:
    """A bp_dataset. By default it reads the arrays it is given where they are
    (bp_dataset_wrap): C-contiguous float32 inputs are used without a copy, anything else
    is converted once, and the arrays are kept alive with the data set. writable=True
    copies them into memory the library owns instead, which bp_dataset_apply_transform
    may change in place."""

    def __init__(self, X, Y, writable=False):
        n, n_in = X.shape
        n_out = Y.shape[1] if Y is not None else 0
        handle = ctypes.c_void_p()
        self._arrays = None
        if writable:
            _clib.check(C.bp_dataset_create(n, n_in, n_out, ctypes.byref(handle)), what="data set")
        else:
            X = np.ascontiguousarray(X, dtype=np.float32)
            Y = None if Y is None else np.ascontiguousarray(Y, dtype=np.float32)
            _clib.check(C.bp_dataset_wrap(n, n_in, n_out, float_ptr(X), float_ptr(Y), ctypes.byref(handle)),
                        what="data set")
            self._arrays = (X, Y)
        self.handle = handle.value
        self.n, self.n_in, self.n_out = n, n_in, n_out
        if writable:
            np.copyto(self.x, X, casting="unsafe")
            if Y is not None:
                np.copyto(self.y, Y, casting="unsafe")

    @classmethod
    def _wrap(cls, handle, n_in, n_out):
        d = cls.__new__(cls)
        d._arrays = None
        d.handle = handle
        d.n, d.n_in, d.n_out = C.bp_dataset_count(handle), n_in, n_out
        return d

    @property
    def x(self):
        if self._arrays is not None:
            return self._arrays[0]
        return view(C.bp_dataset_x(self.handle), (self.n, self.n_in), self)

    @property
    def y(self):
        if self._arrays is not None:
            return self._arrays[1]
        return view(C.bp_dataset_y(self.handle), (self.n, self.n_out), self)

    def split(self, fraction, seed):
        """Shuffled with seed and split: (first, second) with round(fraction n) samples in
        the second (bp_dataset_split)."""
        first, second = ctypes.c_void_p(), ctypes.c_void_p()
        status = C.bp_dataset_split(self.handle, fraction, seed, ctypes.byref(first), ctypes.byref(second))
        if status != _clib.BP_OK:
            raise ValueError("a validation fraction of %g leaves no samples on one side of %d" % (fraction, self.n))
        return Dataset._wrap(first.value, self.n_in, self.n_out), Dataset._wrap(second.value, self.n_in, self.n_out)

    def free(self):
        if getattr(self, "handle", None):
            C.bp_dataset_free(self.handle)
            self.handle = None

    def __del__(self):
        try:
            self.free()
        except Exception:  # at interpreter shutdown the modules may already be gone
            pass
