#!/usr/bin/python3
"""Compare backprop's gradients with PyTorch's on the same weights and data.

Usage: tests/torch_compare.py [BUILD_DIR]

For several networks (the first is the 784-64-32-10 ReLU/softmax-CE network of
the engine issue), `backprop init` writes a random model, `backprop grad --json`
prints its weights and gradients on a batch of real Fashion-MNIST images (or a
synthetic batch when the Debian dataset-fashion-mnist package is missing), and
PyTorch, loaded with exactly those weights, computes the same loss and
gradients in float64. Every dW and db must agree to 1e-5 relative error
(max |difference| / max |gradient| within the block).

Prints one line per check and ends with "torch: N passed, M failed"; without
PyTorch it says why and reports the checks as skipped.
"""
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile

TOLERANCE = 1e-5
FASHION = "/usr/share/datasets/fashion-mnist"

# (name, init options, grad options, batch size)
CASES = [
    ("784-64-32-10 relu softmax ce", ["--arch", "784,64,32,10", "--activation", "relu", "--loss", "ce"], [], 64),
    ("784-64-32-10 sigmoid identity mse", ["--arch", "784,64,32,10", "--activation", "sigmoid", "--loss", "mse"],
     ["--targets", "class"], 64),
    ("784-32-10 tanh sigmoid bce, no bias, sum", ["--arch", "784,32,10", "--activation", "tanh", "--loss", "bce",
                                                  "--no-bias"], ["--targets", "class", "--reduction", "sum"], 32),
    ("784-48-10 leaky-relu softmax mse", ["--arch", "784,48,10", "--activation", "leaky-relu", "--output",
                                           "softmax", "--loss", "mse"], ["--targets", "class"], 16),
    ("784-64-32-10 relu softmax ce, batch 1", ["--arch", "784,64,32,10", "--activation", "relu", "--loss", "ce"],
     [], 1),
]


def read_idx(path, count):
    with gzip.open(path, "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = [struct.unpack(">I", f.read(4))[0] for _ in range(magic & 0xFF)]
        size = 1
        for d in dims[1:]:
            size *= d
        return [list(f.read(size)) for _ in range(count)]


def batch(n):
    """n samples of (784 pixels / 255, label); real images when they are installed."""
    images = os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")
    labels = os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")
    if os.path.exists(images) and os.path.exists(labels):
        xs = read_idx(images, n)
        ys = [row[0] for row in read_idx(labels, n)]
        return [[p / 255.0 for p in x] for x in xs], ys, "Fashion-MNIST test images"
    import random
    rng = random.Random(5)
    xs = [[rng.random() for _ in range(784)] for _ in range(n)]
    return xs, [rng.randrange(10) for _ in range(n)], "synthetic data (install dataset-fashion-mnist for real images)"


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    program = os.path.join(build, "backprop")
    try:
        import torch
    except ImportError:
        print("skip torch comparison: PyTorch is not installed (apt-get install python3-torch)")
        print("torch: 0 passed, 0 failed, %d skipped" % len(CASES))
        return 0
    torch.set_default_dtype(torch.float64)
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        xs, ys, source = batch(64)
        print("data: %s" % source)
        for seed, (name, init_opts, grad_opts, m) in enumerate(CASES, start=7):
            csv = os.path.join(tmp, "batch%d.csv" % m)
            with open(csv, "w") as f:
                for x, y in zip(xs[:m], ys[:m]):
                    f.write(",".join(repr(v) for v in x) + ",%d\n" % y)
            model = os.path.join(tmp, "model.bpm")
            subprocess.run([program, "init", *init_opts, "--seed", str(seed), "-o", model], check=True,
                           stdout=subprocess.DEVNULL)
            out = subprocess.run([program, "grad", model, "--data", csv, "--json", *grad_opts], check=True,
                                 stdout=subprocess.PIPE).stdout
            g = json.loads(out)
            worst, problems = compare(torch, g, xs[:m], ys[:m])
            ok = worst <= TOLERANCE and not problems
            passed += ok
            failed += not ok
            print("%s %s: worst relative error %.2e%s" % ("ok  " if ok else "FAIL", name, worst,
                                                         "; " + "; ".join(problems) if problems else ""))
    print("torch: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def compare(torch, g, xs, ys):
    F = torch.nn.functional
    m, sizes = g["samples"], g["sizes"]
    x = torch.tensor(xs, dtype=torch.float32).double()  # the CSV holds float32-exact values
    y = F.one_hot(torch.tensor(ys), sizes[-1]).double()
    Ws, bs = [], []
    for layer in g["layers"]:
        Ws.append(torch.tensor(layer["W"], dtype=torch.float64, requires_grad=True))
        bs.append(torch.tensor(layer["b"], dtype=torch.float64, requires_grad=True) if layer["b"] is not None else None)
    act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "identity": lambda t: t,
           "leaky-relu": lambda t: F.leaky_relu(t, 0.01)}
    a = x
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W.T + (b if b is not None else 0)
        if l < len(Ws) - 1:
            a = act[g["hidden"]](z)
    out, loss_fn = g["output"], g["loss_function"]
    if loss_fn == "ce":
        per_sample = F.cross_entropy(z, y.argmax(1), reduction="none")
    elif loss_fn == "bce":
        per_sample = F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(1)
    else:
        a = torch.softmax(z, 1) if out == "softmax" else act[out](z)
        per_sample = 0.5 * ((a - y) ** 2).sum(1)
    loss = per_sample.sum() if g["reduction"] == "sum" else per_sample.mean()
    loss.backward()
    problems = []
    if abs(loss.item() - g["loss"]) > TOLERANCE * max(1.0, abs(loss.item())):
        problems.append("loss %.9g vs PyTorch %.9g" % (g["loss"], loss.item()))
    worst = 0.0
    for l, layer in enumerate(g["layers"]):
        pairs = [(torch.tensor(layer["dW"], dtype=torch.float64), Ws[l].grad, "dW%d" % (l + 1))]
        if bs[l] is not None:
            pairs.append((torch.tensor(layer["db"], dtype=torch.float64), bs[l].grad, "db%d" % (l + 1)))
        for ours, theirs, label in pairs:
            scale = theirs.abs().max().item()
            if scale == 0:
                problems.append("%s is all zero in PyTorch: the check would prove nothing" % label)
                continue
            worst = max(worst, (ours - theirs).abs().max().item() / scale)
    return worst, problems


if __name__ == "__main__":
    sys.exit(main())
