#!/usr/bin/python3
"""W1 with PyTorch: Fashion-MNIST, pixels/255, 784-256-128-10, ReLU, softmax-CE, plain SGD
lr 0.1, batch 64, reshuffled every epoch. Prints test accuracy after each epoch (and, with
--json, one JSON object at the end), to compare with `backprop train` on the same settings.

usage: bench/w1_torch.py [--epochs 10] [--threads 1] [--seed 1] [--json]
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def load(torch, kind):
    shape, images = read_idx(os.path.join(FASHION, "%s-images-idx3-ubyte.gz" % kind))
    _, labels = read_idx(os.path.join(FASHION, "%s-labels-idx1-ubyte.gz" % kind))
    x = torch.frombuffer(bytearray(images), dtype=torch.uint8).reshape(shape[0], -1).float() / 255.0
    y = torch.frombuffer(bytearray(labels), dtype=torch.uint8).long()
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x, y = load(torch, "train")
    tx, ty = load(torch, "t10k")
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128),
                                torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = torch.nn.CrossEntropyLoss()
    accuracies, times = [], []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        times.append(time.perf_counter() - start)
        with torch.no_grad():
            acc = (model(tx).argmax(1) == ty).float().mean().item()
        accuracies.append(acc)
        if not args.json:
            print("epoch %2d  test accuracy %.2f%%  %.2f s  %.0f samples/s" % (epoch, 100 * acc, times[-1],
                                                                             x.shape[0] / times[-1]))
    if args.json:
        print(json.dumps({"framework": "pytorch " + torch.__version__, "test_accuracy": accuracies,
                          "epoch_seconds": times}))


if __name__ == "__main__":
    sys.exit(main())
