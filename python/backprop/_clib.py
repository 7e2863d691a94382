"""_clib.py - every C function the package calls, declared in one place, and the one
function that turns a library status into a Python exception.

The package binds libbackprop through ctypes (docs/PYTHON.md says why): this module
loads the shared library, mirrors the public structs of include/backprop.h, and gives
each function its argument and result types, so that a wrong call fails here, in
Python, instead of corrupting memory in C. Nothing else in the package touches ctypes'
loader or declares a C function. It leaves the meaning of the calls to network.py and
sklearn.py, and the math to the library.

ctypes releases the GIL for the length of every foreign call, so training, prediction
and the gradient checks run while other Python threads go on.
"""
import ctypes
import ctypes.util
import os

c_float_p = ctypes.POINTER(ctypes.c_float)
c_double_p = ctypes.POINTER(ctypes.c_double)
c_size_t_p = ctypes.POINTER(ctypes.c_size_t)
c_float_pp = ctypes.POINTER(c_float_p)
# The largest size_t. ctypes keeps only the low bits of a larger number given for one
# (2**64 + 1 would become 1): sizes past it are clipped to it first.
SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1

# ------------------------------------------------------------------ status codes

BP_OK = 0
BP_ERR_ARG = 1
BP_ERR_NOMEM = 2
BP_ERR_IO = 3
BP_ERR_FORMAT = 4
BP_ERR_UNSUPPORTED = 5
BP_ERR_NUMERIC = 6

# enums of backprop.h that the package sets by number (names go through the library's
# own bp_*_parse and bp_*_name, so they cannot drift from the C enums)
BP_ACT_SIGMOID, BP_ACT_SOFTMAX = 1, 5
BP_LOSS_MSE, BP_LOSS_CE, BP_LOSS_BCE = 0, 1, 2
NORMALIZE_NONE, NORMALIZE_MINMAX, NORMALIZE_STANDARDIZE = 0, 1, 2
DEVICE_CPU, DEVICE_CUDA = 0, 1
PRECISION_FP32, PRECISION_BF16, PRECISION_BF16_EMULATED = 0, 1, 2
BP_REDUCE_SUM = 1
EXPLAIN_TEXT, EXPLAIN_JSON = 0, 1


class BackpropError(Exception):
    """An error reported by libbackprop. `status` is the library's status code; every
    subclass is also the standard exception a Python user would catch for it."""

    status = None


class ArgumentError(BackpropError, ValueError):
    """BP_ERR_ARG: an argument or a combination of settings is invalid."""


class FormatError(BackpropError, ValueError):
    """BP_ERR_FORMAT: a file's contents are malformed, truncated or damaged."""


class NumericError(BackpropError, ValueError):
    """BP_ERR_NUMERIC: a NaN or infinity appeared (for example, training diverged)."""


class FileError(BackpropError, OSError):
    """BP_ERR_IO: a file could not be opened, read or written."""


class OutOfMemoryError(BackpropError, MemoryError):
    """BP_ERR_NOMEM: an allocation failed or a size would overflow."""


class UnsupportedError(BackpropError, NotImplementedError):
    """BP_ERR_UNSUPPORTED: valid, but not supported by this build or version."""


_EXCEPTIONS = {
    BP_ERR_ARG: ArgumentError,
    BP_ERR_NOMEM: OutOfMemoryError,
    BP_ERR_IO: FileError,
    BP_ERR_FORMAT: FormatError,
    BP_ERR_UNSUPPORTED: UnsupportedError,
    BP_ERR_NUMERIC: NumericError,
}

# ------------------------------------------------------------------ structs
# Structs the library reads through a pointer end with spare zero bytes: the API adds
# new fields only at the end, and zero means the default for every field, so a newer
# library reading past what this module knows finds zeros, never stray memory.
_SPARE = ("_spare", ctypes.c_char * 256)


class Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 512)]


class NetConfig(ctypes.Structure):
    _fields_ = [("n_layers", ctypes.c_size_t), ("sizes", c_size_t_p), ("hidden", ctypes.c_int),
                ("output", ctypes.c_int), ("loss", ctypes.c_int), ("bias", ctypes.c_int),
                ("seed", ctypes.c_uint64), ("dropout", ctypes.POINTER(ctypes.c_double)),
                ("init_range", ctypes.c_double), _SPARE]


ON_STEP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)
ALLREDUCE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, c_float_p, ctypes.c_size_t)
ALLREDUCE_WAIT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class TrainConfig(ctypes.Structure):
    _fields_ = [("learning_rate", ctypes.c_double), ("momentum", ctypes.c_double),
                ("batch_size", ctypes.c_size_t), ("reduction", ctypes.c_int), ("no_shuffle", ctypes.c_int),
                ("seed", ctypes.c_uint64), ("optimizer", ctypes.c_int), ("beta1", ctypes.c_double),
                ("beta2", ctypes.c_double), ("epsilon", ctypes.c_double), ("weight_decay", ctypes.c_double),
                ("clip_norm", ctypes.c_double), ("schedule", ctypes.c_int), ("step_epochs", ctypes.c_double),
                ("gamma", ctypes.c_double), ("min_lr", ctypes.c_double), ("epochs", ctypes.c_size_t),
                ("warmup_epochs", ctypes.c_double), ("on_step", ON_STEP), ("context", ctypes.c_void_p),
                ("rank", ctypes.c_size_t), ("ranks", ctypes.c_size_t), ("allreduce", ALLREDUCE),
                ("allreduce_context", ctypes.c_void_p), ("allreduce_start", ALLREDUCE),
                ("allreduce_wait", ALLREDUCE_WAIT), ("lbfgs_history", ctypes.c_size_t),
                ("tolerance", ctypes.c_double), ("max_evaluations", ctypes.c_size_t),
                ("precision", ctypes.c_int), ("rprop_step0", ctypes.c_double),
                ("rprop_step_max", ctypes.c_double), _SPARE]


class EpochStats(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_double), ("steps", ctypes.c_size_t), ("samples", ctypes.c_size_t),
                ("complete", ctypes.c_int), ("converged", ctypes.c_int)]


class Metrics(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_double), ("accuracy", ctypes.c_double), ("mse", ctypes.c_double),
                ("samples", ctypes.c_size_t)]


class DeviceOptions(ctypes.Structure):
    _fields_ = [("device", ctypes.c_int), ("tf32", ctypes.c_int), ("cuda_path", ctypes.c_int),
                ("fused_tail", ctypes.c_int), ("fused_no_carry", ctypes.c_int), ("no_head", ctypes.c_int),
                ("profile", ctypes.c_int), _SPARE]


class ExplainOptions(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("batch", ctypes.c_size_t), ("learning_rate", ctypes.c_double),
                ("sample_name", ctypes.c_char_p), _SPARE]


# ------------------------------------------------------------------ loading

def _candidates():
    """Where libbackprop.so may be, first match wins: BACKPROP_LIBRARY (a path), the copy
    `make python` puts in the package, the repository's build/ (running from a checkout),
    then the system's search path (after `make install`)."""
    here = os.path.dirname(os.path.abspath(__file__))
    explicit = os.environ.get("BACKPROP_LIBRARY")
    if explicit:
        return [explicit]
    found = [os.path.join(here, "libbackprop.so"),
             os.path.join(os.path.dirname(os.path.dirname(here)), "build", "libbackprop.so")]
    system = ctypes.util.find_library("backprop")
    if system:
        found.append(system)
    return found


def _load():
    tried = []
    for path in _candidates():
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path + " (not there)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("backprop: libbackprop.so not found; run `make python` in the repository "
                      "(or set BACKPROP_LIBRARY to its path). Tried: " + "; ".join(tried))


lib, library_path = _load()

# name: (result type, argument types). Every function of backprop.h and backprop_verify.h
# that the package calls, and nothing else.
_P = ctypes.c_void_p  # opaque handles: bp_net *, bp_dataset *, bp_trainer *
_S = ctypes.c_int     # bp_status and the other enums
_Z = ctypes.c_size_t
_D = ctypes.c_double
_ERR = ctypes.POINTER(Error)
FUNCTIONS = {
    "bp_status_message": (ctypes.c_char_p, [_S]),
    "bp_activation_name": (ctypes.c_char_p, [_S]),
    "bp_loss_name": (ctypes.c_char_p, [_S]),
    "bp_activation_parse": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "bp_loss_parse": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "bp_reduction_parse": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "bp_optimizer_parse": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "bp_schedule_parse": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int)]),
    "bp_net_config_check": (_S, [ctypes.POINTER(NetConfig), _ERR]),
    "bp_net_create": (_S, [ctypes.POINTER(NetConfig), ctypes.POINTER(_P), _ERR]),
    "bp_net_free": (None, [_P]),
    "bp_net_clone": (_S, [_P, ctypes.POINTER(_P)]),
    "bp_net_set_threads": (_S, [_P, ctypes.c_int, _ERR]),
    "bp_net_threads": (ctypes.c_int, [_P]),
    "bp_default_threads": (ctypes.c_int, []),
    "bp_net_layer_count": (_Z, [_P]),
    "bp_net_width": (_Z, [_P, _Z]),
    "bp_net_hidden_activation": (_S, [_P]),
    "bp_net_output_activation": (_S, [_P]),
    "bp_net_loss_function": (_S, [_P]),
    "bp_net_has_bias": (ctypes.c_int, [_P]),
    "bp_net_dropout": (_D, [_P, _Z]),
    "bp_net_param_count": (_Z, [_P]),
    "bp_net_params": (c_float_p, [_P]),
    "bp_net_grads": (c_float_p, [_P]),
    "bp_net_layer_activations": (_S, [_P, _Z, c_float_pp, c_float_pp]),
    "bp_net_forward": (_S, [_P, c_float_p, _Z, c_float_p]),
    "bp_net_backward": (_S, [_P, c_float_p, c_float_p, _Z, _S, c_double_p]),
    "bp_net_compute_loss": (_S, [_P, c_float_p, c_float_p, _Z, _S, c_double_p]),
    "bp_net_set_input_transform": (_S, [_P, c_float_p, c_float_p]),
    "bp_net_get_input_transform": (ctypes.c_int, [_P, c_float_pp, c_float_pp]),
    "bp_net_apply_input_transform": (None, [_P, c_float_p, _Z]),
    "bp_net_set_class_names": (_S, [_P, ctypes.POINTER(ctypes.c_char_p), _Z]),
    "bp_net_class_name": (ctypes.c_char_p, [_P, _Z]),
    "bp_net_save": (_S, [_P, ctypes.c_char_p, _ERR]),
    "bp_net_load": (_S, [ctypes.c_char_p, ctypes.POINTER(_P), _ERR]),
    "bp_net_load_memory": (_S, [ctypes.c_void_p, _Z, ctypes.c_char_p, ctypes.POINTER(_P), _ERR]),
    "bp_dataset_create": (_S, [_Z, _Z, _Z, ctypes.POINTER(_P)]),
    "bp_dataset_wrap": (_S, [_Z, _Z, _Z, c_float_p, c_float_p, ctypes.POINTER(_P)]),
    "bp_dataset_free": (None, [_P]),
    "bp_dataset_count": (_Z, [_P]),
    "bp_dataset_x": (c_float_p, [_P]),
    "bp_dataset_y": (c_float_p, [_P]),
    "bp_dataset_split": (_S, [_P, _D, ctypes.c_uint64, ctypes.POINTER(_P), ctypes.POINTER(_P)]),
    "bp_dataset_input_stats": (_S, [_P, _S, c_float_p, c_float_p]),
    "bp_dataset_apply_transform": (_S, [_P, c_float_p, c_float_p]),
    "bp_trainer_create": (_S, [_P, ctypes.POINTER(TrainConfig), ctypes.POINTER(_P)]),
    "bp_trainer_free": (None, [_P]),
    "bp_trainer_run": (_S, [_P, _P, _Z, ctypes.POINTER(EpochStats)]),
    "bp_trainer_epochs_done": (_Z, [_P]),
    "bp_trainer_steps_done": (_Z, [_P]),
    "bp_trainer_learning_rate": (_D, [_P]),
    "bp_trainer_get_config": (_S, [_P, ctypes.POINTER(TrainConfig)]),
    "bp_trainer_set_learning_rate": (_S, [_P, _D]),
    "bp_trainer_observe": (_S, [_P, _D, _Z, ctypes.POINTER(ctypes.c_int)]),
    "bp_trainer_restore_best": (_S, [_P]),
    "bp_trainer_get_best": (_S, [_P, ctypes.POINTER(_D), ctypes.POINTER(_Z)]),
    "bp_trainer_set_device": (_S, [_P, ctypes.POINTER(DeviceOptions), _ERR]),
    "bp_trainer_set_precision": (_S, [_P, _S]),
    "bp_precision_kernel": (ctypes.c_char_p, [_S]),
    "bp_trainer_device_message": (ctypes.c_char_p, [_P]),
    "bp_cuda_devices": (ctypes.c_int, []),
    "bp_checkpoint_save": (_S, [_P, ctypes.c_char_p, ctypes.c_void_p, _Z, _ERR]),
    "bp_checkpoint_load": (_S, [ctypes.c_char_p, ctypes.POINTER(_P), ctypes.POINTER(_P),
                                ctypes.POINTER(ctypes.c_void_p), c_size_t_p, _ERR]),
    "bp_net_evaluate": (_S, [_P, _P, ctypes.POINTER(Metrics)]),
    "bp_net_explain": (_S, [_P, c_float_p, c_float_p, ctypes.POINTER(ExplainOptions),
                            ctypes.POINTER(ctypes.c_void_p), _ERR]),
    "bp_free": (None, [ctypes.c_void_p]),
    "bp_reference_gradient": (_S, [_P, c_float_p, c_float_p, _Z, _S, c_double_p, c_double_p]),
    "bp_finite_difference_gradient": (_S, [_P, c_float_p, c_float_p, _Z, _S, _D, c_double_p]),
    "bp_relative_error": (_D, [c_double_p, c_double_p, _Z]),
}


class _Functions:
    """The declared functions as attributes: C.bp_net_create(...)."""


C = _Functions()
for _name, (_result, _args) in FUNCTIONS.items():
    _f = getattr(lib, _name)
    _f.restype = _result
    _f.argtypes = _args
    setattr(C, _name, _f)


class Owner:
    """Owns one library object (a bp_net, a bp_qnet) and frees it with `free` when the last
    holder lets go: the Python object wrapping it, a NumPy view of its memory that outlived
    that object's close() (scikit-learn's coefs_ are views of a bp_net's parameters), or a
    call in progress that took a reference before another thread closed it (ctypes releases
    the GIL). Freeing at close() while any of those lives would leave it reading freed memory."""

    __slots__ = ("ptr", "free")

    def __init__(self, ptr, free):
        self.ptr = ptr
        self.free = free

    def __del__(self):
        ptr, self.ptr = self.ptr, None
        if ptr:
            try:
                self.free(ptr)
            except Exception:  # at interpreter shutdown the modules may already be gone
                pass


class Closing:
    """The life of an object that wraps library memory and defines close(): freed when
    it is collected, and usable in a with block that closes it at the end."""

    def __del__(self):
        try:
            self.close()
        except Exception:  # at interpreter shutdown the modules may already be gone
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def c_text(text, what):
    """A str as the NUL-terminated UTF-8 string C reads. ValueError for a NUL inside it:
    C would stop there and read a shorter string than the one given."""
    raw = text.encode("utf-8")
    if b"\0" in raw:
        raise ValueError("%s %r holds a NUL character" % (what, text))
    return raw


def c_path(path):
    """A path (str, bytes or os.PathLike) as the bytes C opens. ValueError for a NUL inside
    it, as Python's open() gives: C would stop there and open another file."""
    raw = os.fsencode(path)
    if b"\0" in raw:
        raise ValueError("embedded null byte in the path %r" % (os.fspath(path),))
    return raw


def parse(kind, name, choices):
    """The enum value of a name through the library's bp_<kind>_parse; ValueError naming
    the choices when the library does not know it."""
    value = ctypes.c_int()
    raw = name.encode("utf-8") if isinstance(name, str) and "\0" not in name else None
    if raw is None or getattr(C, "bp_%s_parse" % kind)(raw, ctypes.byref(value)) != BP_OK:
        raise ValueError("unknown %s %r (%s)" % (kind, name, ", ".join(choices)))
    return value.value


def status_message(status):
    return C.bp_status_message(status).decode("utf-8", "replace")


def check(status, err=None, what=None):
    """Raise the exception that matches a library status (nothing for BP_OK). The message
    is the library's own (err's, when it filled one), with `what` in front when given."""
    if status == BP_OK:
        return
    message = err.message.decode("utf-8", "replace") if err is not None and err.message else ""
    if not message:
        message = status_message(status)
    if what:
        message = "%s: %s" % (what, message)
    cls = _EXCEPTIONS.get(status, BackpropError)
    exc = cls(message)
    exc.status = status
    raise exc


# ------------------------------------------------------------------ deploying
# The "exports" section of backprop.h: int8 quantization (bp_qnet) and bp_net_export,
# declared here, apart from the table above, and added to FUNCTIONS like the rest.

BP_EXPORT_C, BP_EXPORT_ONNX = 0, 1  # bp_export_format


class ExportOptions(ctypes.Structure):
    """bp_export_options: format, name (C's prefix), int8 (a bp_qnet *, NULL for float)
    and source (quoted in the file's comment)."""
    _fields_ = [("format", ctypes.c_int), ("name", ctypes.c_char_p), ("int8", ctypes.c_void_p),
                ("source", ctypes.c_char_p), _SPARE]


DEPLOY_FUNCTIONS = {
    "bp_qnet_create": (_S, [_P, _P, ctypes.POINTER(_P), _ERR]),
    "bp_qnet_forward": (_S, [_P, c_float_p, _Z, c_float_p]),
    "bp_qnet_free": (None, [_P]),
    "bp_net_export": (_S, [_P, ctypes.POINTER(ExportOptions), ctypes.POINTER(ctypes.c_void_p), c_size_t_p, _ERR]),
}
FUNCTIONS.update(DEPLOY_FUNCTIONS)
for _name, (_result, _args) in DEPLOY_FUNCTIONS.items():
    _f = getattr(lib, _name)
    _f.restype = _result
    _f.argtypes = _args
    setattr(C, _name, _f)
