#!/usr/bin/python3
"""numpy_bench.py - backpropagation written by hand in NumPy, for W1, W2 and W3
(see bench/README.md): what a user gets from OpenBLAS through NumPy with no framework.

usage: /usr/bin/python3 bench/numpy_bench.py w1|w2|w3... [--threads N] [--epochs E]
                      [--eval 1,5,10] [--w2-samples N] [--w3-samples N] [--seed S]

The matrix form of docs/backprop.md, samples as rows (Z = A W^T + b):
  forward   Z^l = A^(l-1) W^l^T + b^l,  A^l = g(Z^l)
  output    Delta^L = (softmax(Z^L) - Y) / m          (softmax-CE, mean over the batch)
            Delta^L = (A^L - Y) (.) g'(Z^L) / m       (MSE 1/2 ||a - y||^2, W2)
  backward  Delta^(l-1) = (Delta^l W^l) (.) g'(Z^(l-1))  -- not for l = 1
  gradients grad_W^l = Delta^l^T A^(l-1),  grad_b^l = column sums of Delta^l
  SGD       W <- W - eta grad_W, in place
float32 throughout; He-normal weights for ReLU, Xavier-uniform for sigmoid, zero biases.
W2 runs per sample and NumPy's per-call overhead dominates it: run.sh caps its sample count
and reports the rate measured on those samples.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_data  # noqa: E402  (sets the thread environment before numpy is imported)

args = bench_data.parse_args("NumPy side of the backprop benchmarks")
import numpy as np  # noqa: E402

rng = np.random.default_rng(args.seed)


def init(sizes, relu):
    Ws, bs = [], []
    for i in range(1, len(sizes)):
        fan_in, fan_out = sizes[i - 1], sizes[i]
        if relu:
            W = rng.standard_normal((fan_out, fan_in), dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
        else:
            r = np.sqrt(6.0 / (fan_in + fan_out))
            W = rng.uniform(-r, r, (fan_out, fan_in)).astype(np.float32)
        Ws.append(W)
        bs.append(np.zeros(fan_out, dtype=np.float32))
    return Ws, bs


def relu_forward(Ws, bs, x):
    """Returns the list of Z^l and A^l (A^0 = x)."""
    A, Z = [x], []
    L = len(Ws)
    for l in range(L):
        z = A[-1] @ Ws[l].T
        z += bs[l]
        Z.append(z)
        A.append(np.maximum(z, 0) if l < L - 1 else z)
    return Z, A


def softmax_ce_step(Ws, bs, x, labels, lr):
    """One SGD step on a batch: ReLU hidden layers, softmax-CE output, mean over the batch."""
    m = x.shape[0]
    Z, A = relu_forward(Ws, bs, x)
    z = Z[-1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    delta = e / e.sum(axis=1, keepdims=True)
    delta[np.arange(m), labels] -= 1
    delta *= np.float32(1.0 / m)
    for l in range(len(Ws) - 1, -1, -1):
        grad_W = delta.T @ A[l]
        grad_b = delta.sum(axis=0)
        if l > 0:  # the first layer's input gradient is not needed
            delta = delta @ Ws[l]
            delta *= Z[l - 1] > 0
        Ws[l] -= np.float32(lr) * grad_W
        bs[l] -= np.float32(lr) * grad_b


def train_epoch(Ws, bs, x, y, batch, lr):
    perm = rng.permutation(x.shape[0])
    for i in range(0, x.shape[0], batch):
        idx = perm[i:i + batch]
        softmax_ce_step(Ws, bs, x[idx], y[idx], lr)


def accuracy(Ws, bs, x, y):
    Z, _ = relu_forward(Ws, bs, x)
    return float((Z[-1].argmax(axis=1) == y).mean())


def fashion(kind):
    raw = bench_data.fashion_raw(args.data, kind)
    if raw is None:
        n = 60000 if kind == "train" else 10000
        g = np.random.default_rng(11 if kind == "train" else 12)
        return g.random((n, 784), dtype=np.float32), g.integers(0, 10, n), True
    n, pixels, labels = raw
    x = np.frombuffer(pixels, dtype=np.uint8).reshape(n, -1).astype(np.float32) / np.float32(255)
    y = np.frombuffer(labels, dtype=np.uint8).astype(np.int64)
    return x, y, False


def result(workload, **kw):
    out = {"impl": "numpy", "workload": workload, "threads_used": args.threads, "version": np.__version__}
    out.update(kw)
    print(json.dumps(out))


def w1():
    x, y, synthetic = fashion("train")
    tx, ty, _ = fashion("t10k")
    Ws, bs = init([784, 256, 128, 10], True)
    times, acc = [], {}
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train_epoch(Ws, bs, x, y, 64, 0.1)
        times.append(time.perf_counter() - start)
        if epoch in args.eval_epochs:
            acc[str(epoch)] = accuracy(Ws, bs, tx, ty)
    result("w1", synthetic=synthetic, samples=x.shape[0], epoch_s=times, accuracy=acc)


def w2():
    n = args.w2_samples
    xs, ys = bench_data.w2_data(n)
    x = np.array(xs, dtype=np.float32).reshape(n, 2)
    y = np.array(ys, dtype=np.float32).reshape(n, 2)
    (W1, W2), (b1, b2) = init([2, 3, 2], False)
    lr = np.float32(0.5)
    start = time.perf_counter()
    for i in range(n):  # per sample, in order, as FANN's incremental training
        a0 = x[i]
        a1 = 1 / (1 + np.exp(-(W1 @ a0 + b1)))
        a2 = 1 / (1 + np.exp(-(W2 @ a1 + b2)))
        d2 = (a2 - y[i]) * a2 * (1 - a2)
        d1 = (W2.T @ d2) * a1 * (1 - a1)
        W2 -= lr * np.outer(d2, a1)
        b2 -= lr * d2
        W1 -= lr * np.outer(d1, a0)
        b1 -= lr * d1
    secs = time.perf_counter() - start
    a1 = 1 / (1 + np.exp(-(x @ W1.T + b1)))
    a2 = 1 / (1 + np.exp(-(a1 @ W2.T + b2)))
    final = float((0.5 * ((a2 - y) ** 2).sum(axis=1)).mean())
    result("w2", samples=n, seconds=secs, final_loss=final)


def w3():
    n = args.w3_samples
    g = np.random.default_rng(33)
    x = g.random((n, 784), dtype=np.float32)
    y = g.integers(0, 10, n)
    Ws, bs = init([784, 1024, 1024, 10], True)
    softmax_ce_step(Ws, bs, x[:256], y[:256], 0.1)  # one untimed warm-up step
    start = time.perf_counter()
    train_epoch(Ws, bs, x, y, 256, 0.1)
    secs = time.perf_counter() - start
    result("w3", samples=n, steps=(n + 255) // 256, seconds=secs,
           flops_per_sample=bench_data.flops_per_sample([784, 1024, 1024, 10]))


for name in args.workloads:
    {"w1": w1, "w2": w2, "w3": w3}[name]()
    sys.stdout.flush()
