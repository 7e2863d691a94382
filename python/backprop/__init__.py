"""backprop - fully connected networks trained by backpropagation, from NumPy.

    import backprop
    net = backprop.Network([784, 256, 128, 10], activation="relu", loss="ce")
    net.fit(X, y, epochs=10, optimizer="adam", batch_size=64)
    net.predict(X_test)

The engine is libbackprop, the C library the `backprop` program is built on: this
package binds its public API (include/backprop.h) through ctypes and computes nothing
itself. backprop.sklearn has drop-in replacements for scikit-learn's MLPClassifier and
MLPRegressor. docs/PYTHON.md in the repository is the guide.
"""
from ._clib import (ArgumentError, BackpropError, FileError, FormatError, NumericError, OutOfMemoryError,
                    UnsupportedError, library_path)
from ._deploy import QuantizedNetwork
from .network import (Epoch, GradCheck, Gradients, Network, cuda_devices, default_threads, load,
                      load_checkpoint, precision_kernel)

__version__ = "0.3.1"

__all__ = ["Network", "QuantizedNetwork", "load", "load_checkpoint", "default_threads", "cuda_devices",
           "precision_kernel", "Epoch", "Gradients", "GradCheck", "BackpropError", "ArgumentError", "FormatError",
           "NumericError", "FileError", "OutOfMemoryError", "UnsupportedError", "library_path", "__version__"]
