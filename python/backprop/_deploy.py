"""_deploy.py - a trained network out of Python: the library's exports (ONNX, float C,
int8 C through bp_net_export) and backprop.QuantizedNetwork, a bp_qnet driven from NumPy.

Network.export_onnx, Network.export_c and Network.quantize (network.py) call into this
module; the formats, the quantization and the integer pass are the library's
(src/io/export*.c, src/io/onnx.c, src/core/quantize.c), the same code as `backprop
export-onnx`, `export-c [--int8]` and `predict --int8`. What is left here: the options
struct, the bytes handed back (as bytes or str), a file written atomically, and the
ownership of a bp_qnet. Saving a quantized network is not done: like the command line's
--calibrate, quantizing again from the saved float model gives the same integers.
"""
import ctypes
import os
import stat
import tempfile
import threading
import weakref

import numpy as np

from . import _arrays, _clib
from ._clib import C


def export(net_handle, fmt, name=None, qnet=None, source=None):
    """The bytes bp_net_export writes for a bp_net (and a bp_qnet for int8 C)."""
    options = _clib.ExportOptions(format=fmt, name=None if name is None else _clib.c_text(name, "name"), int8=qnet,
                                  source=None if source is None else _clib.c_path(source))
    data, size = ctypes.c_void_p(), ctypes.c_size_t()
    err = _clib.Error()
    _clib.check(C.bp_net_export(net_handle, ctypes.byref(options), ctypes.byref(data), ctypes.byref(size),
                                ctypes.byref(err)), err, what="export")
    try:
        return ctypes.string_at(data.value, size.value)
    finally:
        C.bp_free(data.value)


def check_name(name):
    if not isinstance(name, str):
        raise ValueError("name must be a C identifier (a str), got %r" % (name,))
    return name


def deliver(data, path):
    """data when path is None, else data written to path atomically: a temporary file in
    the same folder, synced, given the usual permissions and renamed over path, as the
    library's own writers do (a crash leaves the old file or the new one). As there, a
    symbolic link is followed and a device or FIFO is written in place."""
    if path is None:
        return data
    path = os.fsdecode(os.fspath(path))
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        # A device (/dev/null), a FIFO or /dev/stdout: written in place, as the library's
        # writer does; renaming over it would put a file where the device node was.
        try:
            with open(path, "wb") as f:
                f.write(raw)
        except OSError as e:
            exc = _clib.FileError("cannot write %s: %s" % (path, e.strerror or e))
            exc.status = _clib.BP_ERR_IO
            raise exc from e
        return None
    if mode is not None and os.path.islink(path):
        path = os.path.realpath(path)  # replace the file the link names, and keep the link
    folder = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the permissions open() would.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        exc = _clib.FileError("cannot write %s: %s" % (path, e.strerror or e))
        exc.status = _clib.BP_ERR_IO
        raise exc from e
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return None


def quantize(network, X):
    """Network.quantize: X checked and transformed as every Network method takes inputs
    (`backprop ... --calibrate` applies the model's transform the same way), then
    bp_qnet_create on a copy of the network, which the QuantizedNetwork keeps."""
    x = network._inputs(X, "X_calibration")
    data = _arrays.Dataset(x, None)
    snapshot = network.copy()
    try:
        q = ctypes.c_void_p()
        err = _clib.Error()
        _clib.check(C.bp_qnet_create(snapshot._handle(), data.handle, ctypes.byref(q), ctypes.byref(err)), err,
                    what="quantizing")
    except BaseException:
        snapshot.close()
        raise
    finally:
        data.free()
    return QuantizedNetwork._adopt(q.value, snapshot, network)


class QuantizedNetwork(_clib.Closing):
    """A network quantized to int8 after training (Network.quantize(X_calibration)): int8
    weights with one scale per output unit, int8 activations with scales calibrated on
    the samples given, int32 sums, fixed-point rescaling between layers (docs/DEPLOY.md).
    It is the library's bp_qnet: forward runs its integer pass (bp_qnet_forward, the
    integers of `backprop predict --int8`), export_c writes it as integer-only C99 (the
    file of `backprop export-c --int8`).

    It keeps a copy of the network as it was when quantized (its input transform, class
    names and activations), so later training of that network does not change it. Inputs
    are raw, as for Network: the stored transform is applied first. close() (or a with
    block) frees it now; calls are serialized by a lock, as a Network's are. It cannot be
    pickled: pickle the Network and quantize again (the same data gives the same integers).
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("a QuantizedNetwork is made by Network.quantize(X_calibration)")

    @classmethod
    def _adopt(cls, ptr, snapshot, origin):
        self = cls.__new__(cls)
        self._lock = threading.RLock()
        self._memory = _clib.Owner(ptr, C.bp_qnet_free)
        self._network = snapshot
        self._origin = weakref.ref(origin)
        self._sizes = snapshot.sizes
        self._output, self._loss = snapshot.output, snapshot.loss
        self._class_names = snapshot.class_names
        return self

    # ---------------------------------------------------------------- life
    def _live(self):
        """The memory of the bp_qnet, held by the caller for the length of a call."""
        memory = getattr(self, "_memory", None)
        if memory is None:
            raise ValueError("this quantized network is closed")
        return memory

    def close(self):
        """Free the quantized network now; any later use raises ValueError."""
        lock = getattr(self, "_lock", None)
        if lock is None:
            return
        with lock:
            self._memory = None
            if getattr(self, "_network", None) is not None:
                self._network.close()
                self._network = None

    @property
    def closed(self):
        return getattr(self, "_memory", None) is None

    def __reduce_ex__(self, protocol):
        raise TypeError("a QuantizedNetwork cannot be pickled or copied: pickle the Network and call quantize again")

    def __repr__(self):
        if self.closed:
            return "<backprop.QuantizedNetwork (closed)>"
        return "<backprop.QuantizedNetwork %s int8: %s output>" % ("-".join(str(s) for s in self._sizes),
                                                                   self._output)

    # ---------------------------------------------------------------- shape
    @property
    def sizes(self):
        """The widths n_0 .. n_L."""
        return self._sizes

    @property
    def output(self):
        return self._output

    @property
    def loss(self):
        return self._loss

    @property
    def class_names(self):
        return None if self._class_names is None else list(self._class_names)

    # ---------------------------------------------------------------- passes
    def forward(self, X):
        """a^L for every row of X (m x n_L, float32) from the integer pass: the int8
        outputs as real numbers, exactly what `backprop predict --int8` prints."""
        with self._lock:
            memory = self._live()
            x = self._network._inputs(X)
            out = np.empty((x.shape[0], self._sizes[-1]), np.float32)
            _clib.check(C.bp_qnet_forward(memory.ptr, _arrays.float_ptr(x), x.shape[0], _arrays.float_ptr(out)),
                        what="int8 forward pass")
            return out

    predict_proba = forward

    def predict(self, X):
        """Classes from the integer pass, by Network.predict's rule (the argmax class or its
        name; 0/1 for sigmoid outputs); a^L for a network that does not classify."""
        return _arrays.classes(self.forward(X), self._output, self._loss, self._class_names)

    # ---------------------------------------------------------------- files
    def export_c(self, path=None, name="model", *, source=None):
        """Integer-only C99 for this quantization (bp_net_export with .int8; `backprop
        export-c --int8`): NAME_quantize_inputs and NAME_predict_int8. The text as a str
        when path is None, else written to path (atomically) and None. source: where the
        model came from, quoted in the file's first comment."""
        with self._lock:
            memory = self._live()
            text = export(self._network._handle(), _clib.BP_EXPORT_C, check_name(name), memory.ptr, source)
            return deliver(text.decode("utf-8"), path)

    def _export_for(self, network, name, source):
        """Network.export_c(int8=self): only for the network this was made from."""
        if self._origin() is not network:
            raise ValueError("int8 must be a QuantizedNetwork made by this network's quantize()")
        return self.export_c(None, name, source=source)
