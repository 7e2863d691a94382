"""bench_data.py - data and option handling shared by the Python benchmark programs
(torch_bench.py, numpy_bench.py). Plain standard library, so importing it never fails.

- Fashion-MNIST from IDX files (pixels / 255); when the files are absent, synthetic data
  of the same shape (and the result says "synthetic": true).
- W2's data: the same splitmix64 stream as bench/bench_common.h, bit for bit, so every
  implementation trains on the same 100,000 samples.
- The thread settings: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and OMP_WAIT_POLICY=PASSIVE
  must be in the environment before torch or numpy is imported (bench/run.sh sets them too;
  setting them here keeps a program run by hand honest).
"""
import argparse
import array
import gzip
import os
import struct

FASHION = "/usr/share/datasets/fashion-mnist"
MASK = (1 << 64) - 1


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("workloads", nargs="+", choices=["w1", "w2", "w3"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=1, help="W1 epochs")
    ap.add_argument("--eval", default="1", help="comma-separated epochs after which to test (W1)")
    ap.add_argument("--w2-samples", type=int, default=100000)
    ap.add_argument("--w3-samples", type=int, default=16384)
    ap.add_argument("--data", default=FASHION)
    ap.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="W1's optimizer (adam: lr 0.001)")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="PyTorch: bf16 runs forward and loss under torch.autocast('cpu', torch.bfloat16)")
    args = ap.parse_args()
    n = str(args.threads)
    os.environ["OMP_NUM_THREADS"] = n
    os.environ["OPENBLAS_NUM_THREADS"] = n
    os.environ["MKL_NUM_THREADS"] = n
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args.eval_epochs = {int(e) for e in args.eval.split(",") if e}
    return args


def read_idx(path):
    """Returns (shape, raw bytes) of an IDX file of unsigned bytes, gzip or plain."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def fashion_raw(data_dir, kind):
    """(n, 784 pixel bytes, label bytes) or None when the files are absent."""
    images = os.path.join(data_dir, "%s-images-idx3-ubyte.gz" % kind)
    labels = os.path.join(data_dir, "%s-labels-idx1-ubyte.gz" % kind)
    if not (os.path.exists(images) and os.path.exists(labels)):
        return None
    shape, pixels = read_idx(images)
    _, classes = read_idx(labels)
    return shape[0], pixels, classes


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def w2_data(n):
    """W2's samples as two flat float32 arrays (array('f')): x n x 2 and y n x 2."""
    state = 232
    x = array.array("f", bytes(8 * n))
    y = array.array("f", bytes(8 * n))
    scale = 1.0 / 16777216.0
    for i in range(n):
        state, z0 = splitmix64(state)
        state, z1 = splitmix64(state)
        x0 = (z0 >> 40) * scale
        x1 = (z1 >> 40) * scale
        x[2 * i] = x0
        x[2 * i + 1] = x1
        y[2 * i] = x0 * x1          # exact in double, then rounded once: same as C's float product
        y[2 * i + 1] = 0.5 * (x0 + x1)
    return x, y


def flops_per_sample(sizes):
    """Real FLOPs per training sample (see bench/README.md)."""
    macs = sum(sizes[i] * sizes[i - 1] for i in range(1, len(sizes)))
    return 2 * (3 * macs - sizes[1] * sizes[0])
