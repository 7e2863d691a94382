#!/usr/bin/python3
"""torch_bench.py - the PyTorch reference for W1, W2 and W3 (see bench/README.md).

usage: /usr/bin/python3 bench/torch_bench.py w1|w2|w3... [--threads N] [--epochs E] [--eval 1,5,10]
                      [--w2-samples N] [--w3-samples N] [--seed S] [--optimizer sgd|adam]
                      [--precision fp32|bf16]

A plain eager loop, as a user would write it: data already in tensors, a random permutation
per epoch, batches gathered by index, zero_grad, forward, loss, backward, SGD step. Timed:
training only (permutation and gathering included). Prints one JSON object per workload, one
per line. Several workloads in one run save the start-up of torch (about 2 s here).

--precision bf16 is PyTorch's own mixed precision as its documentation recommends for the
CPU: forward and loss under torch.autocast("cpu", dtype=torch.bfloat16) (the products in
bf16, on oneDNN's AMX or AVX512_BF16 kernels where the CPU has them), float32 parameters,
gradients and SGD step. The result names the precision.
"""
import contextlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_data  # noqa: E402  (sets the thread environment before torch is imported)

args = bench_data.parse_args("PyTorch side of the backprop benchmarks")
import torch  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(args.seed)


def mlp(sizes, hidden, output=None):
    layers = []
    for i in range(1, len(sizes)):
        layers.append(torch.nn.Linear(sizes[i - 1], sizes[i]))
        if i < len(sizes) - 1:
            layers.append(hidden())
    if output:
        layers.append(output())
    return torch.nn.Sequential(*layers)


def precision_scope():
    if args.precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def step(model, opt, loss_fn, xb, yb):
    opt.zero_grad()
    with precision_scope():
        loss = loss_fn(model(xb), yb)
    loss.backward()
    opt.step()


def train_epoch(model, opt, loss_fn, x, y, batch):
    perm = torch.randperm(x.shape[0])
    for i in range(0, x.shape[0], batch):
        idx = perm[i:i + batch]
        step(model, opt, loss_fn, x[idx], y[idx])


def fashion(kind):
    raw = bench_data.fashion_raw(args.data, kind)
    if raw is None:
        n = 60000 if kind == "train" else 10000
        g = torch.Generator().manual_seed(11 if kind == "train" else 12)
        return torch.rand(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g), True
    n, pixels, labels = raw
    x = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).reshape(n, -1).float() / 255.0
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()
    return x, y, False


def result(workload, **kw):
    out = {"impl": "pytorch", "workload": workload, "threads_used": torch.get_num_threads(),
           "version": torch.__version__, "precision": args.precision}
    out.update(kw)
    print(json.dumps(out))


def w1():
    x, y, synthetic = fashion("train")
    tx, ty, _ = fashion("t10k")
    model = mlp([784, 256, 128, 10], torch.nn.ReLU)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    times, acc = [], {}
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        train_epoch(model, opt, loss_fn, x, y, 64)
        times.append(time.perf_counter() - start)
        if epoch in args.eval_epochs:
            with torch.no_grad():
                acc[str(epoch)] = (model(tx).argmax(1) == ty).float().mean().item()
    result("w1", synthetic=synthetic, samples=x.shape[0], epoch_s=times, accuracy=acc)


def w2():
    n = args.w2_samples
    xs, ys = bench_data.w2_data(n)
    x = torch.tensor(xs, dtype=torch.float32).reshape(n, 2)
    y = torch.tensor(ys, dtype=torch.float32).reshape(n, 2)
    model = mlp([2, 3, 2], torch.nn.Sigmoid, torch.nn.Sigmoid)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    # MSELoss averages over the 2 outputs: (1/2)||a - y||^2, backprop's MSE exactly.
    loss_fn = torch.nn.MSELoss()
    start = time.perf_counter()
    for i in range(n):  # per sample, in order (FANN's incremental training does not shuffle)
        opt.zero_grad()
        loss_fn(model(x[i:i + 1]), y[i:i + 1]).backward()
        opt.step()
    secs = time.perf_counter() - start
    with torch.no_grad():
        final = (0.5 * ((model(x) - y) ** 2).sum(1)).mean().item()
    result("w2", samples=n, seconds=secs, final_loss=final)


def w3():
    n = args.w3_samples
    g = torch.Generator().manual_seed(33)
    x = torch.rand(n, 784, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    model = mlp([784, 1024, 1024, 10], torch.nn.ReLU)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    step(model, opt, loss_fn, x[:256], y[:256])  # one untimed warm-up step, as for every implementation
    start = time.perf_counter()
    train_epoch(model, opt, loss_fn, x, y, 256)
    secs = time.perf_counter() - start
    result("w3", samples=n, steps=(n + 255) // 256, seconds=secs,
           flops_per_sample=bench_data.flops_per_sample([784, 1024, 1024, 10]))


for name in args.workloads:
    {"w1": w1, "w2": w2, "w3": w3}[name]()
    sys.stdout.flush()
