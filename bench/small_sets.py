#!/usr/bin/env python3
"""bench/small_sets.py - backprop's full-batch optimizers on small tabular data sets,
against the peers users would pick for them, in the same run:

  rprop: backprop's iRPROP- against FANN 2.2's (bench/fann_small.c, Debian libfann-dev)
         on nine sets, same hidden layer, 500 full-batch epochs; backprop trains as FANN
         does, squared error on sigmoid outputs (--loss mse --output sigmoid), with FANN's
         settings mapped over (below); in columns of their own, with the same settings on
         backprop's default loss for classes (softmax and cross-entropy), and with the
         library's defaults on FANN's loss;
  lbfgs: backprop's L-BFGS against scikit-learn's MLPClassifier(solver='lbfgs') on
         iris, wine and breast_cancer, same hidden layer and max_iter.

The nine sets: scikit-learn's iris, wine, breast_cancer and digits, and five made by its
generators with fixed seeds (moons, circles, blobs, classification, gaussian quantiles).

RPROP is compared over --reps repetitions (default 20). Repetition r splits each set 70/30
afresh (stratified, random_state r) and initializes both libraries with seed r, so the two
train on the same splits and the differences can be paired: per set, the mean test accuracy
of each, the mean of the paired differences (backprop - FANN) with its 95% confidence
interval (Student's t over the repetitions), and the verdict "not worse" when that mean is
>= 0 or its interval reaches 0. Inputs are standardized with the training part's mean and
deviation; every implementation gets the same numbers.

FANN's settings mapped over (FANN_SETTINGS below): --init-range 0.1 --rprop-step0 0.05
--rprop-step-max 25. Why these: FANN starts every weight and bias uniform in [-0.1, 0.1]
(fann_randomize_weights), where backprop's default is Xavier-uniform weights and zero
biases; and FANN's hidden units compute tanh(s z) with steepness s = 0.5, which under RPROP
is the same as tanh(z) with the first layer's parameters and every one of its steps halved
(RPROP moves by steps, not by the gradient's size, and the initial weights are scaled with
them). Halving all the steps, the output layer's included, is what the library can express:
first step 0.05 instead of 0.1, largest 25 instead of 50. The ablation below chose these
settings on validation parts, never the test parts, first on FANN's loss and then, among the
library's own options (LIBRARY_OPTIONS), with softmax cross-entropy, whose pull on confidently
wrong outputs is what FANN's error shaping approximates. The library's published defaults
(0.1 and 50, Xavier) have the "defaults" column. (The column of softmax cross-entropy with
the defaults that this script had before is gone, to keep the run's length: its numbers are
in docs/OPTIMIZERS.md, and --ablation still trains it on the validation parts.)

--ablation answers why the two differ without looking at any test set: each repetition's
training part is split again 70/30 into a fitting and a validation part, and FANN's six
differences from backprop (its step rule, its step floor, its derivative floor, its error
shaping, its hidden steepness, its initialization) are applied to backprop one at a time,
all together, and all but one, through an emulation of the whole run in float32 NumPy
(rprop_emulated below; with nothing switched on it retraces the library's rprop, which
--check-emulation measures), with a few candidate changes to backprop's defaults after
them. Every variant is paired with FANN on the validation parts; --on-test scores a variant
chosen there on the test parts instead, to confirm it.

L-BFGS keeps the earlier protocol: one split (random_state 0), the median of --lbfgs-seeds
initialization seeds.

    python3 bench/small_sets.py [--reps 20] [--epochs 500] [--sets a,b] [--json FILE] [--quick]
    python3 bench/small_sets.py --ablation [--variants a,b] [--on-test] [--check-emulation]

Needs the built program and library (make), python3-sklearn, and for the FANN columns
libfann-dev (bench/fann_small.c is compiled here).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "bench", "small")
BACKPROP = os.path.join(ROOT, "build", "backprop")
FANN = os.path.join(ROOT, "build", "bench", "fann_small")


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


def split(x, y, seed):
    """70/30, stratified, random_state seed; both parts standardized by the first's statistics."""
    from sklearn.model_selection import train_test_split
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
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


def write_pair(name, xtr, ytr, xte, yte, k):
    """The two parts as CSV (backprop) and FANN text; returns their paths."""
    paths = {s: os.path.join(OUT, f"{name}.{s}") for s in ("train.csv", "test.csv", "train.fann", "test.fann")}
    write_csv(paths["train.csv"], xtr, ytr)
    write_csv(paths["test.csv"], xte, yte)
    write_fann(paths["train.fann"], xtr, ytr, k)
    write_fann(paths["test.fann"], xte, yte, k)
    return paths


def backprop_accuracy(args):
    out = subprocess.run([BACKPROP, "train"] + args + ["--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip())
    done = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{") and '"done"' in l]
    return done[-1]["test_accuracy"]


def fann_accuracy(paths, hidden, epochs, seed, extra=()):
    r = subprocess.run([FANN, paths["train.fann"], paths["test.fann"], "--hidden", hidden, "--epochs", str(epochs),
                        "--seed", str(seed)] + list(extra), capture_output=True, text=True)
    return json.loads(r.stdout.splitlines()[-1])["test_accuracy"] if r.returncode == 0 else float("nan")


def t_975(df):
    """Student's t quantile for a two-sided 95% interval."""
    try:
        from scipy.stats import t
        return float(t.ppf(0.975, df))
    except ImportError:  # the normal quantile, a little narrow for few repetitions
        return 1.96


def paired(a, b):
    """Mean of a - b over the repetitions and its 95% confidence interval, in points."""
    d = [100 * (x - y) for x, y in zip(a, b)]
    mean = statistics.fmean(d)
    half = t_975(len(d) - 1) * statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else float("inf")
    return mean, mean - half, mean + half


def not_worse(mean, low, high):
    return mean >= 0 or high >= 0


# ----------------------------------------------------------------- ablation

def rprop_emulated(lib, xfit, yfit, k, hidden, epochs, seed, rule="backprop", floor=1e-6, init="xavier",
                   steepness=1.0, error="squared", flat_spot=False, first_step=0.1, largest_step=50.0):
    """Full-batch iRPROP- on a 'tanh hidden layer, sigmoid outputs, squared error' network,
    written out in float32 NumPy (forward, backward and update), with each of FANN 2.2's
    differences from backprop as a switch:

      rule="fann"      grow the step when the product of the two gradients is >= 0 (so also
                       right after a skipped step), and move a weight whose gradient is zero
                       (or was just zeroed by a sign change) up by its step; "backprop":
                       Igel and Huesken's iRPROP-, as src/core/optimizer.c
      floor=1e-4       no step below this (FANN floors the previous step at 1e-4 before
                       growing or halving it; backprop's smallest step is 1e-6)
      init="fann"      weights and biases uniform in [-0.1, 0.1] (FANN's fann_randomize_weights
                       range) instead of the library's Xavier-uniform weights and zero biases
      steepness=0.5    hidden units compute tanh(z / 2): emulated exactly by tanh(z') with the
                       first layer's parameters and all of their step sizes (initial, smallest,
                       largest) scaled by 0.5, since RPROP moves by steps, not by gradients
      error="tanh"     back-propagate 2 atanh(y - a) (FANN_ERRORFUNC_TANH) instead of y - a
      flat_spot=True   g'(a) from a clipped to [0.01, 0.99] for the sigmoid outputs and to
                       [-0.98, 0.98] for the tanh units (fann_activation_derived), so no unit's
                       derivative ever reaches zero

    and two constants of the rule that backprop and FANN share, for candidate changes:
    first_step (0.1) and largest_step (50).

    The initial weights with init="xavier" are the library's own for that seed. With every
    switch at its default this is backprop's rprop up to the order of float sums
    (--check-emulation compares the two). Returns (W1, b1, W2, b2)."""
    net = lib.Network([xfit.shape[1], hidden, k], activation="tanh", output="sigmoid", loss="mse", seed=seed)
    if init == "fann":
        rng = np.random.default_rng(seed)
        shapes = [(hidden, xfit.shape[1]), (hidden,), (k, hidden), (k,)]
        params = [rng.uniform(-0.1, 0.1, sh).astype(np.float32) for sh in shapes]
    else:
        params = [net.weights[0], net.biases[0], net.weights[1], net.biases[1]]
    net.close()
    f32 = np.float32
    params = [p.astype(f32) for p in params]
    first = [f32(steepness), f32(steepness), f32(1), f32(1)]
    params = [p * s for p, s in zip(params, first)]
    step = [np.full(p.shape, first_step, f32) * s for p, s in zip(params, first)]
    largest = [f32(largest_step) * s for s in first]
    smallest = [f32(floor) * s for s in first]
    prev = [np.zeros_like(p) for p in params]
    x = np.ascontiguousarray(xfit, f32)
    Y = np.zeros((len(yfit), k), f32)
    Y[np.arange(len(yfit)), yfit] = 1
    np.seterr(over="ignore")  # exp(-z) overflows to inf for z < -88: the sigmoid is then 0, as in C
    for _ in range(epochs):
        W1, b1, W2, b2 = params
        a1 = np.tanh(x @ W1.T + b1)
        a2 = f32(1) / (f32(1) + np.exp(-(a1 @ W2.T + b2)))
        if error == "tanh":
            d = np.clip((Y - a2).astype(np.float64), -0.9999999, 0.9999999)
            e = -np.where(np.abs(d) >= 0.9999999, 17.0 * np.sign(d), np.log((1 + d) / (1 - d))).astype(f32)
        else:
            e = a2 - Y
        o = np.clip(a2, f32(0.01), f32(0.99)) if flat_spot else a2
        h = np.clip(a1, f32(-0.98), f32(0.98)) if flat_spot else a1
        delta2 = e * o * (f32(1) - o)                       # dC/dz^2 for C = 1/2 sum (a - y)^2
        delta1 = (delta2 @ W2) * (f32(1) - h * h)           # (W^2)^T delta^2 (.) g'(z^1)
        grads = [delta1.T @ x, delta1.sum(axis=0), delta2.T @ a1, delta2.sum(axis=0)]
        for i, g in enumerate(grads):
            same = prev[i] * g
            grow = same >= 0 if rule == "fann" else same > 0
            flip = same < 0
            s = np.maximum(step[i], smallest[i]) if rule == "fann" or floor != 1e-6 else step[i]
            s = np.where(grow, np.minimum(s * f32(1.2), largest[i]), s)
            s = np.where(flip, np.maximum(s * f32(0.5), smallest[i]), s).astype(f32)
            g = np.where(flip, f32(0), g).astype(f32)
            if rule == "fann":
                params[i] = params[i] + np.where(g > 0, -s, s)
            else:
                params[i] = params[i] - np.sign(g) * s
            step[i], prev[i] = s, g
    return params


def emulated_accuracy(params, x, y):
    W1, b1, W2, b2 = params
    a1 = np.tanh(x.astype(np.float32) @ W1.T + b1)
    return float(np.mean((a1 @ W2.T + b2).argmax(axis=1) == y))


# FANN's six differences from backprop, each a setting of rprop_emulated.
DIFFERENCES = {
    "flat spot": {"flat_spot": True},
    "rule": {"rule": "fann"},
    "floor": {"floor": 1e-4},
    "init": {"init": "fann"},
    "steepness": {"steepness": 0.5},
    "error": {"error": "tanh"},
}
DIFFERENCE_TEXT = {
    "flat spot": "FANN's derivative floor (g'(a) with a clipped to [0.01, 0.99] / [-0.98, 0.98])",
    "rule": "FANN's step rule (grow when >= 0; zero gradient moves up)",
    "floor": "FANN's step floor (1e-4, not 1e-6)",
    "init": "FANN's initialization (U[-0.1, 0.1], biases too)",
    "steepness": "FANN's hidden steepness (tanh(z/2))",
    "error": "FANN's error shaping (2 atanh(y - a))",
}


def ablation_variants():
    variants = {"backprop": {}}
    for name, setting in DIFFERENCES.items():
        variants["+ " + name] = setting
    everything = {kk: v for s in DIFFERENCES.values() for kk, v in s.items()}
    variants["all of FANN's"] = everything
    for name, setting in DIFFERENCES.items():
        variants["all but " + name] = {kk: v for kk, v in everything.items() if kk not in setting}
    # Changes backprop could make to its rprop defaults or its initialization.
    variants["steps halved"] = {"first_step": 0.05, "largest_step": 25.0}
    variants["first step 0.01"] = {"first_step": 0.01}
    variants["steps / 10"] = {"first_step": 0.01, "largest_step": 5.0}
    variants["init + steps halved"] = {"init": "fann", "first_step": 0.05, "largest_step": 25.0}
    return variants


# The library's own options (not the emulation): FANN's settings mapped over (FANN_SETTINGS), and
# principled neighbours, to be chosen between on validation parts only: FANN's initialization with
# only the first step halved (the largest kept at 50); the first layer's exact steepness mapping
# (FANN's 0.1 range halved, as tanh(z / 2) halves the first layer's weights, with halved steps);
# and FANN's settings with backprop's softmax cross-entropy, whose pull on confidently wrong outputs
# is what FANN's error shaping, 2 atanh(y - a), approximates.
LIBRARY_OPTIONS = {
    "lib: FANN's settings": {"init_range": 0.1, "step0": 0.05, "step_max": 25.0},
    "lib: step0 0.05 max 50": {"init_range": 0.1, "step0": 0.05, "step_max": 50.0},
    "lib: init 0.05 halved": {"init_range": 0.05, "step0": 0.05, "step_max": 25.0},
    "lib: ce FANN's settings": {"loss": "ce", "init_range": 0.1, "step0": 0.05, "step_max": 25.0},
}


def load_library():
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import backprop
    from backprop import _clib
    backprop._clib = _clib
    return backprop


def library_rprop(lib, xfit, yfit, k, hidden, epochs, seed, loss="mse", init_range=0.0, step0=None, step_max=None):
    """backprop's own rprop on the same network (bp_trainer, full batch, file order); loss="ce":
    softmax outputs and cross-entropy instead, backprop's default for classes. init_range, step0
    and step_max: the library's options (Network(init_range=), fit(rprop_step0=, rprop_step_max=))."""
    output = "sigmoid" if loss == "mse" else "softmax"
    net = lib.Network([xfit.shape[1], hidden, k], activation="tanh", output=output, loss=loss, seed=seed,
                      init_range=init_range)
    Y = np.zeros((len(yfit), k), np.float32)
    Y[np.arange(len(yfit)), yfit] = 1
    net.fit(xfit.astype(np.float32), Y, epochs=epochs, batch_size=0, optimizer="rprop", shuffle=False,
            rprop_step0=step0, rprop_step_max=step_max)
    params = [net.weights[0], net.biases[0], net.weights[1], net.biases[1]]
    net.close()
    return params


def check_emulation(lib, x, y, k, hidden, epochs):
    """rprop_emulated with no switch set against the library's own rprop after 1, 10 and
    `epochs` epochs: the largest difference of a parameter."""
    xfit, _, yfit, _ = split(x, y, 1)
    out = []
    for e in (1, 10, epochs):
        mine = rprop_emulated(lib, xfit, yfit, k, hidden, e, seed=1)
        theirs = library_rprop(lib, xfit, yfit, k, hidden, e, 1)
        out.append(max(float(np.max(np.abs(p - q))) for p, q in zip(mine, theirs)))
    return out


def run_ablation(a, sets, have_fann):
    lib = load_library()
    variants, library_options = ablation_variants(), LIBRARY_OPTIONS
    if a.variants:
        unknown = set(a.variants.split(",")) - set(variants) - set(library_options)
        if unknown:
            sys.exit("small_sets.py: unknown variant(s): " + ", ".join(sorted(unknown)))
        variants = {v: s for v, s in variants.items() if v in a.variants.split(",")}
        library_options = {v: s for v, s in library_options.items() if v in a.variants.split(",")}
    hidden = int(a.hidden)
    results = []
    for name, (x, y) in sets.items():
        k = int(np.max(y)) + 1
        if a.check_emulation:
            print(f"  emulation check {name}: largest parameter difference from the library's rprop after 1, 10,"
                  f" {a.epochs} epochs: " + ", ".join(f"{d:.3g}" for d in check_emulation(lib, x, y, k, hidden, a.epochs)),
                  file=sys.stderr)
        fann_variants = (("FANN", []), ("FANN, linear error", ["--error", "linear"]),
                         ("FANN, steepness 1", ["--steepness", "1"]), ("FANN, init 0.4", ["--init", "0.4"]))
        acc = {v: [] for v in ["backprop (library)", "backprop ce (library)"] + list(library_options)
               + list(variants) + [v for v, _ in fann_variants]}
        for r in range(1, a.reps + 1):
            if a.on_test:                            # to confirm a variant chosen on validation
                xfit, xval, yfit, yval = split(x, y, r)
            else:
                xtr, _, ytr, _ = split(x, y, r)      # the test part is never looked at
                xfit, xval, yfit, yval = split(xtr, ytr, r)
            acc["backprop (library)"].append(
                emulated_accuracy(library_rprop(lib, xfit, yfit, k, hidden, a.epochs, r), xval, yval))
            acc["backprop ce (library)"].append(
                emulated_accuracy(library_rprop(lib, xfit, yfit, k, hidden, a.epochs, r, loss="ce"), xval, yval))
            for v, options in library_options.items():
                acc[v].append(emulated_accuracy(library_rprop(lib, xfit, yfit, k, hidden, a.epochs, r, **options),
                                                xval, yval))
            for v, setting in variants.items():
                acc[v].append(emulated_accuracy(rprop_emulated(lib, xfit, yfit, k, hidden, a.epochs, r, **setting),
                                                xval, yval))
            if have_fann:
                paths = write_pair(name + ".val", xfit, yfit, xval, yval, k)
                for v, extra in fann_variants:
                    acc[v].append(fann_accuracy(paths, a.hidden, a.epochs, r, extra))
            else:
                for v, _ in fann_variants:
                    del acc[v]
                fann_variants = ()
        results.append({"set": name, "fit": len(xfit), "validation": len(xval), "accuracy": acc})
        print(f"  ablation {name}: " + ", ".join(f"{v} {100 * statistics.fmean(s):.2f}" for v, s in acc.items()),
              file=sys.stderr)
    return results


def print_ablation(results, a):
    names = list(results[0]["accuracy"])
    where = ("test parts (trained on the training parts, as in the comparison)" if a.on_test else
             "validation parts (each repetition's training part split 70/30 again; test parts unused)")
    print(f"\nAblation on {where}, {a.reps} repetitions; mean accuracy %, and per variant the mean paired"
          " difference from FANN in points [95% CI]")
    for name, text in DIFFERENCE_TEXT.items():
        print(f"  {name}: {text}")
    if "FANN" not in results[0]["accuracy"]:  # no libfann-dev: accuracies only
        print(f"{'variant':24}" + "".join(f"{r['set'][:8]:>9}" for r in results))
        for v in names:
            print(f"{v:24}" + "".join(f"{100 * statistics.fmean(r['accuracy'][v]):9.2f}" for r in results))
        return
    for v in names:
        cells, worse = [], 0
        for r in results:
            acc = r["accuracy"]
            mean_v = 100 * statistics.fmean(acc[v])
            if v != "FANN":
                m, lo, hi = paired(acc[v], acc["FANN"])
                worse += not not_worse(m, lo, hi)
                cells.append(f"{r['set']} {mean_v:.2f} ({m:+.2f} [{lo:+.2f}, {hi:+.2f}])")
            else:
                cells.append(f"{r['set']} {mean_v:.2f}")
        print(f"{v}: " + "; ".join(cells) + (f"; worse than FANN on {worse} of {len(results)}" if v != "FANN" else ""))
    # The compact table for the docs: difference from FANN in points, per set.
    print(f"\n{'variant':24}" + "".join(f"{r['set'][:8]:>9}" for r in results) + f"{'mean':>8}{'worse':>7}")
    for v in names:
        if v == "FANN":
            row = [100 * statistics.fmean(r["accuracy"]["FANN"]) for r in results]
            print(f"{'FANN (accuracy %)':24}" + "".join(f"{c:9.2f}" for c in row))
            continue
        diffs, worse = [], 0
        for r in results:
            m, lo, hi = paired(r["accuracy"][v], r["accuracy"]["FANN"])
            diffs.append((m, not not_worse(m, lo, hi)))
            worse += diffs[-1][1]
        print(f"{v:24}" + "".join(f"{m:+8.2f}{'*' if w else ' '}" for m, w in diffs)
              + f"{statistics.fmean(m for m, _ in diffs):+8.2f}{worse:7d}")
    print("(difference from FANN in points; * marks a 95% interval entirely below 0)")


# ----------------------------------------------------------------- test comparison

# FANN 2.2's defaults in backprop's options: its initialization range, and its hidden steepness
# 0.5 as halved RPROP steps (the module's docstring says why).
FANN_SETTINGS = ["--init-range", "0.1", "--rprop-step0", "0.05", "--rprop-step-max", "25"]


def run_rprop(a, sets, have_fann):
    results = []
    for name, (x, y) in sets.items():
        k = int(np.max(y)) + 1
        bp, ce, default, fa = [], [], [], []
        for r in range(1, a.reps + 1):
            xtr, xte, ytr, yte = split(x, y, r)
            paths = write_pair(name, xtr, ytr, xte, yte, k)
            common = ["--train", paths["train.csv"], "--test", paths["test.csv"], "--targets", "class"]
            rprop = common + ["--hidden", a.hidden, "--activation", "tanh", "--optimizer", "rprop",
                              "--epochs", str(a.epochs), "--seed", str(r)]
            mse = ["--loss", "mse", "--output", "sigmoid"]
            bp.append(backprop_accuracy(rprop + mse + FANN_SETTINGS))
            ce.append(backprop_accuracy(rprop + ["--loss", "ce"] + FANN_SETTINGS))
            default.append(backprop_accuracy(rprop + mse))
            if have_fann:
                fa.append(fann_accuracy(paths, a.hidden, a.epochs, r))
        results.append({"set": name, "train": len(xtr), "test": len(xte), "inputs": xtr.shape[1], "classes": k,
                        "backprop": bp, "backprop_ce": ce, "backprop_defaults": default, "fann": fa})
        print(f"  rprop {name}: backprop {100 * statistics.fmean(bp):.2f}, ce {100 * statistics.fmean(ce):.2f},"
              f" defaults {100 * statistics.fmean(default):.2f}"
              + (f", fann {100 * statistics.fmean(fa):.2f}" if fa else ""), file=sys.stderr)
    return results


# The comparison's backprop columns: key in the results, heading.
RPROP_COLUMNS = (("backprop", "FANN's settings"), ("backprop_ce", "same, softmax CE"),
                 ("backprop_defaults", "defaults"))


def print_rprop(results, a, have_fann):
    print(f"\nRPROP, full batch, {a.epochs} epochs, hidden {a.hidden} (tanh), {a.reps} repetitions (split and seed"
          " r = 1..N). FANN: squared error on sigmoid outputs. backprop: the same loss with FANN's settings ("
          + " ".join(FANN_SETTINGS) + "); softmax cross-entropy with FANN's settings; the same loss as FANN"
          " with the library's defaults. Mean test accuracy %, and per backprop column the mean paired"
          " difference from FANN in points [95% CI] and the verdict")
    print(f"{'set':16}{'train/test':>11}{'FANN':>8}" + "".join(f"{h:>17}{'diff [95% CI]':>24}{'':>11}"
                                                           for _, h in RPROP_COLUMNS))
    met = {k: 0 for k, _ in RPROP_COLUMNS}
    for r in results:
        line = f"{r['set']:16}{str(r['train']) + '/' + str(r['test']):>11}"
        line += f"{100 * statistics.fmean(r['fann']):8.2f}" if have_fann else f"{'':8}"
        for k, _ in RPROP_COLUMNS:
            line += f"{100 * statistics.fmean(r[k]):17.2f}"
            if have_fann:
                m, lo, hi = paired(r[k], r["fann"])
                ok = not_worse(m, lo, hi)
                met[k] += ok
                line += f"{f'{m:+.2f} [{lo:+.2f}, {hi:+.2f}]':>24}{'not worse' if ok else 'worse':>11}"
            else:
                line += f"{'':24}{'':11}"
        print(line)
    if have_fann:
        print("statistically not worse than FANN: " + "; ".join(f"{h}: {met[k]} of {len(results)} sets"
                                                              for k, h in RPROP_COLUMNS))
        print("(not worse: mean paired difference >= 0 or its 95% interval reaches 0)")


def run_lbfgs(a, sets):
    from sklearn.neural_network import MLPClassifier
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
    results = []
    for name in ("iris", "wine", "breast_cancer"):
        if name not in sets:
            continue
        x, y = sets[name]
        xtr, xte, ytr, yte = split(x, y, 0)
        k = int(np.max(y)) + 1
        paths = write_pair(name + ".lbfgs", xtr, ytr, xte, yte, k)
        common = ["--train", paths["train.csv"], "--test", paths["test.csv"], "--targets", "class"]
        lb, sk = [], []
        wd = 1e-4 / len(xtr)  # scikit-learn's alpha = 1e-4 penalizes alpha / (2 n) ||W||^2
        for s in range(1, a.lbfgs_seeds + 1):
            lb.append(backprop_accuracy(common + ["--hidden", a.lbfgs_hidden, "--activation", "relu",
                                                  "--optimizer", "lbfgs", "--epochs", str(a.max_iter),
                                                  "--weight-decay", repr(wd), "--seed", str(s)]))
            hidden = tuple(int(h) for h in a.lbfgs_hidden.split(","))
            clf = MLPClassifier(hidden_layer_sizes=hidden, solver="lbfgs", max_iter=a.max_iter, random_state=s)
            clf.fit(xtr.astype(np.float32), ytr)
            sk.append(float(clf.score(xte.astype(np.float32), yte)))
        results.append({"set": name, "backprop": lb, "sklearn": sk})
        print(f"  lbfgs {name}: backprop {100 * statistics.median(lb):.2f}, "
              f"scikit-learn {100 * statistics.median(sk):.2f}", file=sys.stderr)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20, help="repetitions: split and seed r = 1..REPS")
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--hidden", default="16")
    ap.add_argument("--sets", default="", help="comma-separated subset of the nine")
    ap.add_argument("--ablation", action="store_true", help="FANN's differences one by one, on validation parts")
    ap.add_argument("--on-test", action="store_true",
                    help="with --ablation: train on the training parts and score the test parts, to confirm"
                         " a variant chosen on the validation parts")
    ap.add_argument("--variants", default="", help="with --ablation: comma-separated subset of its variants")
    ap.add_argument("--check-emulation", action="store_true",
                    help="with --ablation: compare the emulated update with the library's rprop first")
    ap.add_argument("--lbfgs-hidden", default="100")
    ap.add_argument("--lbfgs-seeds", type=int, default=3)
    ap.add_argument("--max-iter", type=int, default=200)
    ap.add_argument("--no-lbfgs", action="store_true")
    ap.add_argument("--json", default=os.path.join(ROOT, "build", "small-sets.json"))
    ap.add_argument("--quick", action="store_true", help="three repetitions, 100 epochs, one L-BFGS seed")
    a = ap.parse_args()
    if a.quick:
        a.reps, a.epochs, a.lbfgs_seeds = 3, 100, 1
    if a.reps < 2:
        sys.exit("small_sets.py: --reps must be at least 2 for a confidence interval")
    if not os.access(BACKPROP, os.X_OK):
        sys.exit("small_sets.py: build the program first (make)")
    os.makedirs(OUT, exist_ok=True)
    try:
        have_fann = subprocess.run(["cc", "-std=c11", "-D_POSIX_C_SOURCE=200809L", "-O2",
                                    "-I" + os.path.join(ROOT, "bench"), os.path.join(ROOT, "bench", "fann_small.c"),
                                    "-lfloatfann", "-lm", "-o", FANN], capture_output=True).returncode == 0
    except OSError:  # no compiler
        have_fann = False
    if not have_fann:
        print("FANN: not installed (apt-get install libfann-dev); its column is left out", file=sys.stderr)
    sets = data_sets()
    if a.sets:
        unknown = set(a.sets.split(",")) - set(sets)
        if unknown:
            sys.exit("small_sets.py: unknown set(s): " + ", ".join(sorted(unknown)))
        sets = {n: v for n, v in sets.items() if n in a.sets.split(",")}
    sets = {n: (np.asarray(x, dtype=np.float64), np.asarray(y)) for n, (x, y) in sets.items()}

    host = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    results = {"host": host, "reps": a.reps, "epochs": a.epochs, "hidden": a.hidden}
    if a.ablation:
        results["ablation"] = run_ablation(a, sets, have_fann)
        print(f"\nsmall tabular sets, {host}")
        print_ablation(results["ablation"], a)
    else:
        results["rprop"] = run_rprop(a, sets, have_fann)
        if not a.no_lbfgs:
            results["lbfgs"] = run_lbfgs(a, sets)
        print(f"\nsmall tabular sets, {host}")
        print_rprop(results["rprop"], a, have_fann)
        if results.get("lbfgs"):
            print(f"\nL-BFGS, hidden {a.lbfgs_hidden} (relu), max_iter {a.max_iter}, alpha 1e-4; split random_state 0,"
                  f" median test accuracy % of {a.lbfgs_seeds} seed(s)")
            print(f"{'set':16}{'backprop':>10}{'sklearn':>10}{'diff':>8}")
            for r in results["lbfgs"]:
                b, s = 100 * statistics.median(r["backprop"]), 100 * statistics.median(r["sklearn"])
                print(f"{r['set']:16}{b:10.2f}{s:10.2f}{b - s:+8.2f}")
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    print(f"\n(all numbers: {a.json})")


if __name__ == "__main__":
    main()
