#!/usr/bin/env python3
"""torch_gpu.py - PyTorch's side of `make bench-gpu`: the time of one training step
on the GPU, eager and captured as a CUDA graph (PyTorch's fastest mode), for the
same shapes as bench/gpu_bench.c, plus a whole W1 epoch.

    python3 torch_gpu.py step SIZES BATCH [--steps S] [--tf32]
    python3 torch_gpu.py w1 [--data DIR]

A step is what backprop's is: gather the batch from data resident on the GPU by
a shuffled index, forward, loss (softmax-CE; sigmoid/MSE for 2-3-2), backward,
SGD. fp32 with TF32 off unless --tf32. Prints one JSON line per workload.
"""
import argparse
import gzip
import json
import os
import struct
import time

import torch


def build(sizes, tiny):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or tiny:
            layers.append(torch.nn.Sigmoid() if tiny else torch.nn.ReLU())
    return torch.nn.Sequential(*layers).cuda()


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def step_bench(sizes, batch, steps, tf32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    tiny = sizes == [2, 3, 2]
    torch.manual_seed(1)
    model = build(sizes, tiny)
    n = batch * steps
    x = torch.rand(n, sizes[0], device="cuda")
    if tiny:
        y = torch.stack([x[:, 0] * x[:, 1], 0.5 * (x[:, 0] + x[:, 1])], 1)
        loss_fn = lambda out, t: 0.5 * ((out - t) ** 2).sum(1).mean()  # noqa: E731
    else:
        y = torch.randint(0, sizes[-1], (n,), device="cuda")
        loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.5 if tiny else 0.01)
    order = torch.randperm(n, device="cuda")

    def one(i):
        idx = order[i * batch:(i + 1) * batch]
        opt.zero_grad(set_to_none=False)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        return loss

    for i in range(10):
        one(i % steps)
    torch.cuda.synchronize()
    eager = []
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(steps):
            one(i)
        torch.cuda.synchronize()
        eager.append((time.perf_counter() - t0) / steps)

    # Whole-step capture: static batch buffers, refilled by index_select inside the graph
    # from a static position tensor, as backprop's graph reads its position on the device.
    static_idx = torch.zeros(batch, dtype=torch.long, device="cuda")
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            opt.zero_grad(set_to_none=False)
            loss_fn(model(x[static_idx]), y[static_idx]).backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=False)
    with torch.cuda.graph(graph):
        static_loss = loss_fn(model(x[static_idx]), y[static_idx])
        static_loss.backward()
        opt.step()
    captured = []
    for _ in range(3):
        t0 = time.perf_counter()
        for i in range(steps):
            static_idx.copy_(order[i * batch:(i + 1) * batch])
            graph.replay()
        torch.cuda.synchronize()
        captured.append((time.perf_counter() - t0) / steps)
    print(json.dumps({"impl": "pytorch", "workload": "step", "sizes": ",".join(map(str, sizes)), "batch": batch,
                      "steps": steps, "tf32": tf32, "eager_us": 1e6 * median(eager),
                      "graph_us": 1e6 * median(captured), "version": torch.__version__}))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return torch.frombuffer(bytearray(data[4 + 4 * dims:]), dtype=torch.uint8).reshape(shape)


def w1_bench(data_dir):
    x = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz")).reshape(60000, 784).float().cuda() / 255
    y = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz")).long().cuda()
    torch.manual_seed(1)
    model = build([784, 256, 128, 10], False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(3):
        order = torch.randperm(60000, device="cuda")
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(0, 60000, 64):
            idx = order[i:i + 64]
            opt.zero_grad(set_to_none=False)
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"impl": "pytorch", "workload": "w1_epoch", "epoch_s": times, "mode": "eager"}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=["step", "w1"])
    ap.add_argument("sizes", nargs="?")
    ap.add_argument("batch", nargs="?", type=int)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--tf32", action="store_true")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_gpu.py: no CUDA device for PyTorch")
    if a.workload == "step":
        step_bench([int(s) for s in a.sizes.split(",")], a.batch, a.steps, a.tf32)
    else:
        w1_bench(a.data)


if __name__ == "__main__":
    main()
