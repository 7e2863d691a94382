#!/usr/bin/python3
"""sklearn_bench.py - scikit-learn's MLPClassifier against backprop's, from Python, in one
run (bench/README.md, "sklearn-fit").

usage: /usr/bin/python3 bench/sklearn_bench.py [--mode quick|full] [--seeds N]
           [--fmnist-epochs E] [--digits-epochs E] [--build DIR] [--peak-bin FILE]
           [--data DIR] [--report]

Workloads (one thread everywhere; the same settings for both estimators: adam, learning
rate 0.001, alpha 0.0001, batch 64, shuffled, no early stop, a fixed number of epochs):
  fmnist-f64  Fashion-MNIST, hidden (256, 128), X = pixels / 255 as float64 (what a user
              writes); 10 epochs in full mode, 1 in quick
  fmnist-f32  the same with X as float32 (scikit-learn then computes in float32)
  fmnist-f64-bf16, fmnist-f32-bf16  backprop's with precision='bf16' against the same
              scikit-learn fits (each seed fits scikit-learn once and backprop in fp32 and in
              bf16); "not run" where the CPU has neither AMX-BF16 nor AVX512_BF16
  digits      scikit-learn's digits / 16, 75% to train, hidden (128, 64), 200 epochs
  python-vs-cli  one Fashion-MNIST epoch of the same training (adam, batch 64) through
              backprop.Network.fit and through the `backprop train` program: what calling
              from Python adds to an epoch (both timed as the program times its epochs:
              the trainer's call), and what fit() adds once (checking X, copying it into
              the library's data set), beside the MLPClassifier(alpha=0).fit of the same

Timed: the whole fit() call, as a user waits for it (backprop's includes converting X to
float32). Each seed fits the estimators in turn on the same data, who goes first
alternating. Prints one JSON object per measurement (bench/run.sh collects them;
bench/report.py turns them into the table); with --report, prints the table itself.
--peak-bin runs bench/fma_peak first, so the ceilings are this host's: the fp32 rows' from
its best fp32 FMA figure, the bf16 rows' from its best bf16 one (AMX tiles where there are).
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FASHION = "/usr/share/datasets/fashion-mnist"

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--mode", choices=["quick", "full"], default="quick")
ap.add_argument("--seeds", type=int, help="seeds per workload (full: 3, quick: 1)")
ap.add_argument("--fmnist-epochs", type=int, help="full: 10, quick: 1")
ap.add_argument("--digits-epochs", type=int, default=200)
ap.add_argument("--build", default=os.path.join(REPO, "build"))
ap.add_argument("--peak-bin", help="bench/fma_peak built (run.sh builds it in build/bench/)")
ap.add_argument("--data", default=FASHION)
ap.add_argument("--only", help="comma-separated workloads to run (default: all)")
ap.add_argument("--report", action="store_true", help="print the table as well")
args = ap.parse_args()
full = args.mode == "full"
seeds = args.seeds or (3 if full else 1)
fm_epochs = args.fmnist_epochs or (10 if full else 1)
only = set(args.only.split(",")) if args.only else None

# One thread for NumPy's BLAS too, before numpy is imported.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
os.environ.setdefault("BACKPROP_LIBRARY", os.path.join(os.path.abspath(args.build), "libbackprop.so"))
sys.path.insert(0, os.path.join(REPO, "python"))

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402

import backprop  # noqa: E402
from backprop.sklearn import MLPClassifier as BpMLP  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)
records = []


def emit(rec):
    rec = dict({"impl": "sklearn-fit"}, **rec)
    records.append(rec)
    print(json.dumps(rec), flush=True)


def gemm_flop(sizes, samples):
    """The GEMM work of training: forward (W a), weight gradients, and the deltas of every
    layer but the first, 2 flops per multiply-add."""
    macs = sum(sizes[i] * sizes[i - 1] for i in range(1, len(sizes)))
    return 2.0 * (3 * macs - sizes[1] * sizes[0]) * samples


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion():
    paths = {k: os.path.join(args.data, "%s-%s-idx%d-ubyte.gz" % (k.split("-")[0], k.split("-")[1],
                                                                   3 if "images" in k else 1))
             for k in ("train-images", "train-labels", "t10k-images", "t10k-labels")}
    if not all(os.path.exists(p) for p in paths.values()):
        return None, paths
    X = read_idx(paths["train-images"]).reshape(60000, -1) / 255.0
    Xt = read_idx(paths["t10k-images"]).reshape(10000, -1) / 255.0
    return (X, read_idx(paths["train-labels"]).astype(np.int64), Xt,
            read_idx(paths["t10k-labels"]).astype(np.int64)), paths


def settings(hidden, epochs, seed):
    return dict(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=0.001, alpha=0.0001, batch_size=64,
                max_iter=epochs, n_iter_no_change=epochs + 1, shuffle=True, random_state=seed)


def timed_fit(make, X, y):
    est = make()
    t0 = time.perf_counter()
    est.fit(X, y)
    return est, time.perf_counter() - t0


def compare(workloads, hidden, epochs, X, y, Xt, yt, sizes):
    """workloads: {name: backprop's precision}; each seed fits scikit-learn's once and
    backprop's once per precision, and each row compares one of them with that same
    scikit-learn fit."""
    for seed in range(1, seeds + 1):
        # Alternate who goes first, so that a slow patch of the machine hits both.
        order = ["sklearn"] + list(workloads)
        if seed % 2 == 0:
            order.reverse()
        result = {}
        for who in order:
            if who == "sklearn":
                est, secs = timed_fit(lambda: SkMLP(**settings(hidden, epochs, seed)), X, y)
            else:
                est, secs = timed_fit(lambda: BpMLP(threads=1, precision=workloads[who],
                                                    **settings(hidden, epochs, seed)), X, y)
            result[who] = (secs, float(est.score(Xt, yt)), est.n_iter_)
        for workload, precision in workloads.items():
            emit({"workload": workload, "seed": seed, "epochs": epochs, "train_samples": len(X),
                  "x_dtype": str(X.dtype), "precision": precision, "sklearn_s": result["sklearn"][0],
                  "backprop_s": result[workload][0], "sklearn_accuracy": result["sklearn"][1],
                  "backprop_accuracy": result[workload][1], "sklearn_epochs": result["sklearn"][2],
                  "backprop_epochs": result[workload][2], "gemm_gflop": gemm_flop(sizes, epochs * len(X)) / 1e9})


def python_vs_cli(X32, y, paths, epochs=1, rounds=None):
    """One epoch of the same training through the program and through Python."""
    rounds = rounds or (5 if full else 3)
    program = os.path.join(args.build, "backprop")
    cli, epoch, network, estimator = [], [], [], []
    for r in range(rounds):
        cmd = [program, "train", "--train", paths["train-images"], "--labels", paths["train-labels"],
               "--hidden", "256,128", "--optimizer", "adam", "--lr", "0.001", "--batch", "64",
               "--epochs", str(epochs), "--seed", str(r + 1), "--threads", "1", "--json"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        for line in out.splitlines():
            rec = json.loads(line)
            if "epoch" in rec:
                cli.append(len(X32) / rec["samples_per_second"])
        net = backprop.Network([784, 256, 128, 10], loss="ce", seed=r + 1)
        t0 = time.perf_counter()
        history = net.fit(X32, y, epochs=epochs, optimizer="adam", lr=0.001, batch_size=64, threads=1)
        network.append((time.perf_counter() - t0) / epochs)
        epoch += [e.seconds for e in history]
        est = BpMLP(threads=1, alpha=0, **{k: v for k, v in settings((256, 128), epochs, r + 1).items()
                                           if k != "alpha"})
        t0 = time.perf_counter()
        est.fit(X32, y)
        estimator.append((time.perf_counter() - t0) / epochs)
    emit({"workload": "python-vs-cli", "cli_epoch_s": cli, "python_epoch_s": epoch, "network_fit_epoch_s": network,
          "estimator_fit_epoch_s": estimator, "samples": len(X32)})


def peak():
    if not args.peak_bin:
        return
    try:
        out = subprocess.run([args.peak_bin, "--threads", "1"], check=True, capture_output=True, text=True,
                             timeout=120).stdout
        rec = json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError) as e:
        emit({"workload": "peak", "status": "fma_peak failed: %s" % e})
        return
    def best(kinds):
        return max((statistics.median(v) for k, v in rec.items() if k.startswith("gflops_") and kinds(k)),
                   default=None)
    # fp32 rows against the best fp32 FMA figure; bf16 rows against the best bf16 one.
    emit({"workload": "peak", "peak_gflops": best(lambda k: "bf16" not in k),
          "peak_bf16_gflops": best(lambda k: "bf16" in k), "fma_peak": rec})


def want(w):
    return only is None or w in only


def main():
    emit({"workload": "versions", "sklearn": sklearn.__version__, "numpy": np.__version__,
          "backprop": backprop.__version__, "library": backprop.library_path, "mode": args.mode,
          "seeds": seeds})
    peak()
    if want("digits"):
        Xd, yd = load_digits(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(Xd / 16.0, yd, test_size=0.25, random_state=0)
        compare({"digits": "fp32"}, (128, 64), args.digits_epochs, Xtr, ytr, Xte, yte, [64, 128, 64, 10])
    data, paths = fashion()
    fm = [w for w in ("fmnist-f64", "fmnist-f32", "fmnist-f64-bf16", "fmnist-f32-bf16", "python-vs-cli") if want(w)]
    if fm and data is None:
        for w in fm:
            emit({"workload": w, "status": "not installed (apt-get install dataset-fashion-mnist)"})
        return
    if fm:
        X, y, Xt, yt = data
        X32, Xt32 = X.astype(np.float32), Xt.astype(np.float32)
        bf16 = backprop.precision_kernel("bf16")
        for dtype, Xd, Xtd in (("f64", X, Xt), ("f32", X32, Xt32)):
            rows = {}
            if want("fmnist-" + dtype):
                rows["fmnist-" + dtype] = "fp32"
            if want("fmnist-%s-bf16" % dtype):
                if bf16:
                    rows["fmnist-%s-bf16" % dtype] = "bf16"
                else:
                    emit({"workload": "fmnist-%s-bf16" % dtype,
                          "status": "not run: this CPU has neither AMX-BF16 nor AVX512_BF16"})
            if rows:
                compare(rows, (256, 128), fm_epochs, Xd, y, Xtd, yt, [784, 256, 128, 10])
        if want("python-vs-cli"):
            python_vs_cli(X32, y, paths)


main()
if args.report:
    sys.path.insert(0, HERE)
    import report  # noqa: E402
    print("\n".join(report.sklearn_section(records)))
