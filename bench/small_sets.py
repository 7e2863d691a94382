#!/usr/bin/env python3
"""bench/small_sets.py - backprop's full-batch optimizers on small tabular data sets,
against the peers users would pick for them, in the same run:

  rprop: backprop's iRPROP- against FANN 2.2's (bench/fann_small.c, Debian libfann-dev)
         on nine sets, same hidden layer, 500 full-batch epochs; backprop trains as FANN
         does, squared error on sigmoid outputs (--loss mse --output sigmoid), and, in a
         column of its own, with its default for classes, softmax and cross-entropy;
  lbfgs: backprop's L-BFGS against scikit-learn's MLPClassifier(solver='lbfgs') on
         iris, wine and breast_cancer, same hidden layer and max_iter.

The nine sets: scikit-learn's iris, wine, breast_cancer and digits, and five made by its
generators with fixed seeds (moons, circles, blobs, classification, gaussian quantiles).
Each is split 70/30 (stratified, seed 0) and standardized with the training part's mean
and deviation; every implementation gets the same numbers. Accuracy is on the test part,
the median over three seeds (initialization and, for backprop, shuffling).

    python3 bench/small_sets.py [--seeds 3] [--epochs 500] [--json FILE] [--quick]

Needs the built program (make), python3-sklearn, and for the FANN column libfann-dev
(bench/fann_small.c is compiled here).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "bench", "small")
BACKPROP = os.path.join(ROOT, "build", "backprop")


def data_sets():
    from sklearn import datasets as ds
    sets = {}
    for name, loader in (("iris", ds.load_iris), ("wine", ds.load_wine),
                         ("breast_cancer", ds.load_breast_cancer), ("digits", ds.load_digits)):
        b = loader()
        sets[name] = (b.data, b.target)
    sets["moons"] = ds.make_moons(500, noise=0.3, random_state=0)
    sets["circles"] = ds.make_circles(500, noise=0.15, factor=0.5, random_state=0)
    sets["blobs"] = ds.make_blobs(600, centers=4, n_features=5, cluster_std=3.0, random_state=0)
    sets["classification"] = ds.make_classification(1000, n_features=20, n_informative=8, n_classes=3,
                                                    random_state=0)
    sets["quantiles"] = ds.make_gaussian_quantiles(n_samples=600, n_features=4, n_classes=3, random_state=0)
    return sets


def split(x, y):
    from sklearn.model_selection import train_test_split
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
    mean, std = xtr.mean(axis=0), xtr.std(axis=0)
    std[std == 0] = 1
    return (xtr - mean) / std, (xte - mean) / std, ytr.astype(int), yte.astype(int)


def write_csv(path, x, y):
    with open(path, "w") as f:
        for row, label in zip(x, y):
            f.write(",".join(repr(float(np.float32(v))) for v in row) + f",{label}\n")


def write_fann(path, x, y, k):
    with open(path, "w") as f:
        f.write(f"{len(x)} {x.shape[1]} {k}\n")
        for row, label in zip(x, y):
            f.write(" ".join(repr(float(np.float32(v))) for v in row) + "\n")
            f.write(" ".join("1" if j == label else "0" for j in range(k)) + "\n")


def backprop_accuracy(args):
    out = subprocess.run([BACKPROP, "train"] + args + ["--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    done = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{") and '"done"' in l]
    return done[-1]["test_accuracy"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--hidden", default="16")
    ap.add_argument("--lbfgs-hidden", default="100")
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--json", default=os.path.join(ROOT, "build", "small-sets.json"))
    ap.add_argument("--quick", action="store_true", help="one seed, 100 epochs")
    a = ap.parse_args()
    if a.quick:
        a.seeds, a.epochs = 1, 100
    if not os.access(BACKPROP, os.X_OK):
        sys.exit("small_sets.py: build the program first (make)")
    os.makedirs(OUT, exist_ok=True)
    fann = os.path.join(ROOT, "build", "bench", "fann_small")
    have_fann = subprocess.run(["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O2", "-I" + os.path.join(ROOT, "bench"),
                                os.path.join(ROOT, "bench", "fann_small.c"), "-lfloatfann", "-lm", "-o", fann],
                               capture_output=True).returncode == 0
    if not have_fann:
        print("FANN: not installed (apt-get install libfann-dev); its column is left out", file=sys.stderr)
    from sklearn.neural_network import MLPClassifier
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)

    seeds = list(range(1, a.seeds + 1))
    results = {"rprop": [], "lbfgs": []}
    for name, (x, y) in data_sets().items():
        xtr, xte, ytr, yte = split(np.asarray(x, dtype=np.float64), np.asarray(y))
        k = int(max(ytr.max(), yte.max())) + 1
        paths = {s: os.path.join(OUT, f"{name}.{s}") for s in ("train.csv", "test.csv", "train.fann", "test.fann")}
        write_csv(paths["train.csv"], xtr, ytr)
        write_csv(paths["test.csv"], xte, yte)
        write_fann(paths["train.fann"], xtr, ytr, k)
        write_fann(paths["test.fann"], xte, yte, k)
        common = ["--train", paths["train.csv"], "--test", paths["test.csv"], "--targets", "class"]
        bp, ce, fa = [], [], []
        for s in seeds:
            rprop = common + ["--hidden", a.hidden, "--activation", "tanh", "--optimizer", "rprop",
                              "--epochs", str(a.epochs), "--seed", str(s)]
            bp.append(backprop_accuracy(rprop + ["--loss", "mse", "--output", "sigmoid"]))
            ce.append(backprop_accuracy(rprop + ["--loss", "ce"]))
            if have_fann:
                r = subprocess.run([fann, paths["train.fann"], paths["test.fann"], "--hidden", a.hidden,
                                    "--epochs", str(a.epochs), "--seed", str(s)], capture_output=True, text=True)
                fa.append(json.loads(r.stdout.splitlines()[-1])["test_accuracy"] if r.returncode == 0 else float("nan"))
        row = {"set": name, "train": len(xtr), "test": len(xte), "inputs": xtr.shape[1], "classes": k,
               "backprop": bp, "backprop_ce": ce, "fann": fa}
        results["rprop"].append(row)
        print(f"  rprop {name}: backprop {100 * statistics.median(bp):.2f}"
              + (f", fann {100 * statistics.median(fa):.2f}" if fa else ""), file=sys.stderr)
        if name in ("iris", "wine", "breast_cancer"):
            lb, sk = [], []
            wd = 1e-4 / len(xtr)  # scikit-learn's alpha = 1e-4 penalizes alpha / (2 n) ||W||^2
            for s in seeds:
                lb.append(backprop_accuracy(common + ["--hidden", a.lbfgs_hidden, "--activation", "relu",
                                                      "--optimizer", "lbfgs", "--epochs", str(a.max_iter),
                                                      "--weight-decay", repr(wd), "--seed", str(s)]))
                hidden = tuple(int(h) for h in a.lbfgs_hidden.split(","))
                clf = MLPClassifier(hidden_layer_sizes=hidden, solver="lbfgs", max_iter=a.max_iter, random_state=s)
                clf.fit(xtr.astype(np.float32), ytr)
                sk.append(float(clf.score(xte.astype(np.float32), yte)))
            results["lbfgs"].append({"set": name, "backprop": lb, "sklearn": sk})
            print(f"  lbfgs {name}: backprop {100 * statistics.median(lb):.2f}, "
                  f"scikit-learn {100 * statistics.median(sk):.2f}", file=sys.stderr)

    host = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"\nsmall tabular sets, {host}; test accuracy %, median of {a.seeds} seed(s)")
    print(f"\nRPROP, full batch, {a.epochs} epochs, hidden {a.hidden} (tanh); backprop and FANN: squared error on"
          " sigmoid outputs; backprop ce: softmax and cross-entropy")
    print(f"{'set':16}{'train/test':>12}{'backprop':>10}{'fann':>8}{'diff':>8}{'backprop ce':>13}"
          f"{'backprop seeds':>22}{'fann seeds':>22}")
    met = 0
    for r in results["rprop"]:
        b = 100 * statistics.median(r["backprop"])
        f = 100 * statistics.median(r["fann"]) if r["fann"] else float("nan")
        # Compared in test samples right: FANN prints 6 digits, backprop 17.
        met += round(b * r["test"] / 100) >= round(f * r["test"] / 100)
        c = 100 * statistics.median(r["backprop_ce"])
        seeds_of = lambda v: " ".join(f"{100 * x:.1f}" for x in v)
        print(f"{r['set']:16}{str(r['train']) + '/' + str(r['test']):>12}{b:10.2f}{f:8.2f}{b - f:+8.2f}{c:13.2f}"
              f"{seeds_of(r['backprop']):>22}{seeds_of(r['fann']):>22}")
    if have_fann:
        print(f"backprop at or above FANN on {met} of {len(results['rprop'])} sets"
              " (one test sample is 100/test points: 0.19 to 2.2 here)")
    print(f"\nL-BFGS, hidden {a.lbfgs_hidden} (relu), max_iter {a.max_iter}, alpha 1e-4")
    print(f"{'set':16}{'backprop':>10}{'sklearn':>10}{'diff':>8}")
    for r in results["lbfgs"]:
        b, s = 100 * statistics.median(r["backprop"]), 100 * statistics.median(r["sklearn"])
        print(f"{r['set']:16}{b:10.2f}{s:10.2f}{b - s:+8.2f}")
    results["host"] = host
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n(all numbers: {a.json})")


if __name__ == "__main__":
    main()
