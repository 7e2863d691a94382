#!/usr/bin/env python3
"""ncu-summary.py CSV - Nsight Compute's --csv output (one metric, gpu__time_duration)
summed by kernel: how many launches, total and mean microseconds, largest first.
Used by tools/gpu-check.sh's profile step."""
import csv
import sys

rows = []
with open(sys.argv[1], newline="") as f:
    lines = [l for l in f if l.startswith('"')]
for r in csv.DictReader(lines):
    if r.get("Metric Name") == "gpu__time_duration.sum":
        unit = r.get("Metric Unit", "")
        v = float(r["Metric Value"].replace(",", ""))
        # Nsight Compute 2025 writes "ns" (older ones "nsecond"); anything else is reported.
        scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3,
                 "s": 1e6, "second": 1e6}.get(unit)
        if scale is None:
            sys.exit("ncu-summary.py: unknown time unit %r" % unit)
        rows.append((r["Kernel Name"][:90], v * scale, r.get("Grid Size", ""), r.get("Block Size", "")))
by = {}
for name, us, grid, block in rows:
    e = by.setdefault(name, [0, 0.0, grid, block])
    e[0] += 1
    e[1] += us
total = sum(e[1] for e in by.values())
print("%d launches, %.1f us of kernel time" % (len(rows), total))
for name, (n, us, grid, block) in sorted(by.items(), key=lambda kv: -kv[1][1]):
    print("  %4d x %9.2f us  grid %-14s block %-12s %s" % (n, us / n, grid, block, name))
