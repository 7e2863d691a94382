"""report.py - turn bench/run.sh's raw results (one JSON object per line) into the table on
the terminal and one JSON file with every number. Standard library only.

Every figure is the median over its measurements with [min-max] beside it when there is more
than one. Ratios are backprop / other, taken round by round (the two figures of a ratio come
from the same round of the same run), shown as the median ratio [min-max over rounds];
above 1 means backprop is faster.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

W1_SIZES = [784, 256, 128, 10]
W3_SIZES = [784, 1024, 1024, 10]
AVX512_KERNELS = ("skylakex", "cooperlake", "sapphirerapids")


def flops_per_sample(sizes):
    macs = sum(sizes[i] * sizes[i - 1] for i in range(1, len(sizes)))
    return 2 * (3 * macs - sizes[1] * sizes[0])


def stat(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def fmt_num(v, kind):
    if v is None:
        return "-"
    if kind == "rate":
        if v >= 1e6:
            return "%.2fM" % (v / 1e6)
        if v >= 1e4:
            return "{:,.0f}".format(v)
        return "{:,.0f}".format(v) if v >= 100 else "%.1f" % v
    if kind == "gflops":
        return "%.1f" % v
    if kind == "secs":
        return "%.3g" % v
    if kind == "ratio":
        return "%.2fx" % v
    if kind == "pct":
        return "%.1f" % (100 * v)
    if kind == "loss":
        return "%.3g" % v
    return str(v)


def fmt(st, kind):
    if st is None:
        return "-"
    if st["n"] == 1 or st["min"] == st["max"]:
        return fmt_num(st["median"], kind)
    return "%s [%s-%s]" % (fmt_num(st["median"], kind), fmt_num(st["min"], kind).rstrip("x"),
                           fmt_num(st["max"], kind))


def machine():
    info = {"cpu": "?", "logical_cpus": os.cpu_count(), "flags": {}}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        m = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
        if m:
            info["cpu"] = m.group(1).strip()
        m = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
        flags = set(m.group(1).split()) if m else set()
        for f in ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "hypervisor"):
            info["flags"][f] = f in flags
    except OSError:
        pass
    return info


def report_bf16(records, out, summary, ceiling, threads):
    """bf16 mixed precision: backprop --precision bf16 and PyTorch's bf16 autocast beside both
    float32 runs, per round; the kernel that ran; W1's accuracy in both precisions; the bf16
    GEMMs and this host's peaks; each target of issue 23 with where it stands."""
    def recs(impl, workload, variant):
        return [r for r in records if r.get("impl") == impl and r.get("workload") == workload
                and r.get("variant", "") == variant and "status" not in r]

    def missing(impl, workload, variant):
        for r in records:
            if (r.get("impl") == impl and r.get("workload") == workload and "status" in r
                    and r.get("variant", "") == variant):
                return r["status"]
        return "not run"

    def rates(impl, workload, variant):
        """{round: samples/s}, W1 taking the round's median epoch."""
        per_round = {}
        for r in recs(impl, workload, variant):
            if "epoch_s" in r:
                per_round[r["round"]] = statistics.median([r["samples"] / t for t in r["epoch_s"] if t > 0])
            elif r.get("seconds", 0) > 0:
                per_round[r["round"]] = r["samples"] / r["seconds"]
        return per_round

    runs = (("backprop bf16", "backprop", "bf16"), ("backprop fp32", "backprop", ""),
            ("pytorch fp32", "pytorch", ""), ("pytorch bf16 autocast", "pytorch", "bf16"))
    kernels = sorted({r.get("kernel") for r in records if r.get("impl") == "backprop" and r.get("variant") == "bf16"
                      and r.get("kernel")})
    out("")
    out("bf16 mixed precision (--precision bf16: products in bf16 with float32 sums, float32 weights and"
        " optimizer), kernel: %s" % (", ".join(kernels) or missing("backprop", "w3", "bf16")))
    summary["bf16"] = {"kernel": kernels}
    W = 24
    for workload, sizes in (("w1", W1_SIZES), ("w3", W3_SIZES)):
        fps = flops_per_sample(sizes)
        got = {name: rates(impl, workload, variant) for name, impl, variant in runs}
        mine = got["backprop bf16"]
        # PyTorch's best in each round (the reference the targets name).
        best = {k: max(v for v in (got["pytorch fp32"].get(k), got["pytorch bf16 autocast"].get(k)) if v)
                for k in set(got["pytorch fp32"]) | set(got["pytorch bf16 autocast"])}
        out("  %s  %-*s %-26s %-14s %s" % (workload.upper(), W, "impl", "samples/s", "GFLOP/s", "backprop bf16/impl"))
        entry = {}
        for name, impl, variant in runs:
            if not got[name]:
                out("      %-*s %s" % (W, name, missing(impl, workload, variant)))
                continue
            sps = stat(list(got[name].values()))
            rt = stat([mine[k] / got[name][k] for k in mine if k in got[name]]) if name != "backprop bf16" else None
            entry[name] = {"samples_per_s": sps, "ratio_bf16_over": rt}
            out("      %-*s %-26s %-14s %s" % (W, name, fmt(sps, "rate"), fmt_num(sps["median"] * fps / 1e9, "gflops"),
                                              fmt(rt, "ratio") if rt else ""))
        rt_best = stat([mine[k] / best[k] for k in mine if k in best])
        if rt_best:
            entry["ratio_bf16_over_pytorch_best"] = rt_best
            out("      %-*s %s" % (W, "PyTorch's best per round", fmt(rt_best, "ratio")))
        summary["bf16"][workload] = entry
    acc = {}
    for label, variant in (("bf16", "bf16"), ("fp32", "")):
        vals = [r["accuracy"][e] for r in recs("backprop", "w1", variant) for e in r.get("accuracy", {})
                if e == max(r["accuracy"], key=int)]
        epochs = {max(r["accuracy"], key=int) for r in recs("backprop", "w1", variant) if r.get("accuracy")}
        if vals:
            acc[label] = (stat(vals), ", ".join(sorted(epochs)))
    if acc:
        out("  W1 test accuracy %%, median over seeds: %s" % "; ".join(
            "%s %s after %s epochs" % (k, fmt(v[0], "pct"), v[1]) for k, v in acc.items()))
        summary["bf16"]["w1_accuracy"] = {k: v[0] for k, v in acc.items()}
    gemm = []
    for variant in ("bf16-amx", "bf16-avx512"):
        rs = recs("backprop", "gemm", variant)
        if not rs:
            out("  GEMM %-12s %s" % (variant, missing("backprop", "gemm", variant)))
            continue
        st = {k: stat([v for r in rs for v in r.get("gflops_" + k, [])]) for k in ("nn", "tn", "nt")}
        gemm.append((variant, st))
        out("  GEMM %-12s square 1024, GFLOP/s: A B %s, A^T B %s, A B^T %s%s" % (
            variant, fmt(st["nn"], "gflops"), fmt(st["tn"], "gflops"), fmt(st["nt"], "gflops"),
            "; %.2fx the fp32 ceiling" % (st["nn"]["median"] / ceiling) if ceiling else ""))
    summary["bf16"]["gemm"] = {v: st for v, st in gemm}
    peaks = {k: stat([v for r in recs("fma-peak", "peak", "") for v in r.get("gflops_" + k, [])])
             for k in ("avx512", "avx512_bf16", "amx_bf16")}
    peaks = {k: v for k, v in peaks.items() if v}
    if peaks:
        out("  peaks, registers only (bench/fma_peak.c): %s GFLOP/s" % ", ".join(
            "%s %s" % ({"avx512": "fp32 AVX-512 FMA", "avx512_bf16": "VDPBF16PS", "amx_bf16": "AMX TDPBF16PS"}[k],
                       fmt(v, "gflops")) for k, v in peaks.items()))
        summary["bf16"]["peaks"] = peaks
    w3 = summary["bf16"].get("w3", {})
    if "amx_bf16" in peaks and "backprop bf16" in w3:
        out("  W3 bf16 did %.0f GFLOP/s of real work: %.1f%% of the AMX peak" % (
            w3["backprop bf16"]["samples_per_s"]["median"] * flops_per_sample(W3_SIZES) / 1e9,
            100 * w3["backprop bf16"]["samples_per_s"]["median"] * flops_per_sample(W3_SIZES) / 1e9
            / peaks["amx_bf16"]["median"]))
    # Issue 23's bf16 targets, for the kind of host this is.
    amx = any("AMX" in k for k in kernels)
    targets = []
    w1 = summary["bf16"].get("w1", {})
    if w1.get("ratio_bf16_over_pytorch_best"):
        targets.append(("W1 bf16 >= 2.5x PyTorch's best", w1["ratio_bf16_over_pytorch_best"]["median"] >= 2.5))
    if amx and w3.get("ratio_bf16_over_pytorch_best"):
        targets.append(("W3 bf16 >= 2x PyTorch's best (AMX host)", w3["ratio_bf16_over_pytorch_best"]["median"] >= 2))
    if kernels and not amx and w3.get("backprop fp32"):
        targets.append(("W3 bf16 >= 1.8x backprop fp32 (AVX512_BF16 host)",
                        w3["backprop fp32"]["ratio_bf16_over"]["median"] >= 1.8))
        if w3.get("ratio_bf16_over_pytorch_best"):
            targets.append(("W3 bf16 >= 1.2x PyTorch's best (AVX512_BF16 host)",
                            w3["ratio_bf16_over_pytorch_best"]["median"] >= 1.2))
    if "bf16" in acc and "fp32" in acc:
        d = 100 * (acc["bf16"][0]["median"] - acc["fp32"][0]["median"])
        targets.append(("W1 bf16 accuracy at most 0.3 points under fp32's (bf16 %+.2f points)" % d, d >= -0.3))
    if targets:
        out("  targets: " + "; ".join("%s: %s" % (t, "met" if ok else "NOT met") for t, ok in targets))
        summary["bf16"]["targets"] = {t: ok for t, ok in targets}
    if threads > 1:
        out("  (every implementation on %d threads)" % threads)


def command_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# sklearn-fit (bench/sklearn_bench.py): the speed targets, each capped at 85% of the
# ceiling the host's FMA peak sets, and the accuracy and Python-overhead targets.
SKLEARN_ROWS = (("digits", "digits (128,64), 200 epochs", 7.0),
                ("fmnist-f64", "Fashion-MNIST (256,128), X float64", 7.0),
                ("fmnist-f32", "Fashion-MNIST (256,128), X float32", 3.7),
                ("fmnist-f64-bf16", "the same in bf16, X float64", 10.0),
                ("fmnist-f32-bf16", "the same in bf16, X float32", 5.5))


def sklearn_section(records):
    """The sklearn-fit table from sklearn_bench.py's records (a list of dicts)."""
    recs = [r for r in records if r.get("impl") == "sklearn-fit"]
    lines = []
    out = lines.append
    peak = next((r.get("peak_gflops") for r in recs if r.get("workload") == "peak" and r.get("peak_gflops")), None)
    peak_bf16 = next((r.get("peak_bf16_gflops") for r in recs if r.get("workload") == "peak"), None)
    ver = next((r for r in recs if r.get("workload") == "versions"), {})
    out("")
    out("sklearn-fit: scikit-learn %s's MLPClassifier against backprop.sklearn.MLPClassifier, one thread, adam lr "
        "0.001, alpha 1e-4, batch 64; fit() wall time; %s seed%s each" % (
            ver.get("sklearn", "?"), ver.get("seeds", "?"), "" if ver.get("seeds") == 1 else "s"))
    out("  host fp32 FMA peak (bench/fma_peak.c, 1 thread): %s; bf16: %s" % (
        "%.1f GFLOP/s" % peak if peak else "not measured",
        "%.1f GFLOP/s" % peak_bf16 if peak_bf16 else "none on this CPU" if peak else "not measured"))
    W = 38
    out("  %-*s %-9s %-9s %-16s %-9s %-10s %-22s %s" % (W, "workload", "sklearn s", "backprop s", "ratio [min-max]",
                                                       "ceiling", "target", "accuracy % sk / bp", "met"))
    for key, name, figure in SKLEARN_ROWS:
        rows = [r for r in recs if r.get("workload") == key and "status" not in r]
        if not rows:
            why = next((r["status"] for r in recs if r.get("workload") == key and "status" in r), "not run")
            out("  %-*s %s" % (W, name, why))
            continue
        epochs = rows[0]["epochs"]
        ratios = [r["sklearn_s"] / r["backprop_s"] for r in rows]
        ratio = statistics.median(ratios)
        sk_acc = statistics.median(r["sklearn_accuracy"] for r in rows)
        bp_acc = statistics.median(r["backprop_accuracy"] for r in rows)
        ceiling = None
        row_peak = peak_bf16 if key.endswith("-bf16") else peak
        if row_peak:
            ceiling = statistics.median(r["sklearn_s"] / (r["gemm_gflop"] / row_peak) for r in rows)
        target = min(figure, 0.85 * ceiling) if ceiling else figure
        met_speed = ratio >= target
        met_acc = bp_acc >= sk_acc - 0.005
        label = "%s, %d epoch%s" % (name, epochs, "" if epochs == 1 else "s") if key != "digits" else name
        out("  %-*s %-9.3g %-10.3g %-16s %-9s %-10s %-22s %s" % (
            W, label, statistics.median(r["sklearn_s"] for r in rows),
            statistics.median(r["backprop_s"] for r in rows),
            "%.2fx [%.2f-%.2f]" % (ratio, min(ratios), max(ratios)),
            "%.1fx" % ceiling if ceiling else "-", ">= %.2fx" % target,
            "%.2f / %.2f" % (100 * sk_acc, 100 * bp_acc),
            "speed %s, accuracy %s" % ("yes" if met_speed else "NO", "yes" if met_acc else "NO")))
    pc = next((r for r in recs if r.get("workload") == "python-vs-cli" and "cli_epoch_s" in r), None)
    if pc:
        cli = statistics.median(pc["cli_epoch_s"])
        epoch = statistics.median(pc["python_epoch_s"])
        net = statistics.median(pc["network_fit_epoch_s"])
        est = statistics.median(pc["estimator_fit_epoch_s"])
        out("  Python against the CLI, a Fashion-MNIST epoch (adam, batch 64), medians of %d: backprop train %.3f s,"
            " from Python %.3f s (%+.1f%%; target under +5%%: %s)" % (
                len(pc["cli_epoch_s"]), cli, epoch, 100 * (epoch / cli - 1), "yes" if epoch / cli - 1 < 0.05 else "NO"))
        out("    whole fit() calls of one epoch: Network.fit %.3f s (%+.1f%%), MLPClassifier(alpha=0).fit %.3f s (%+.1f%%):"
            " checking X and converting it to float32 where it is not" % (net, 100 * (net / cli - 1), est, 100 * (est / cli - 1)))
    else:
        why = next((r["status"] for r in recs if r.get("workload") == "python-vs-cli" and "status" in r), "not run")
        out("  Python against the CLI: %s" % why)
    out("  ceiling = scikit-learn's time over the GEMM work at the FMA peak (bf16 rows: the bf16 peak); target = the"
        " issue's figure or 85% of the ceiling, the lower; accuracy: median over seeds, met within 0.5 points")
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--mode", default="quick")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--wall", type=float, default=0)
    ap.add_argument("--w2", type=int, default=100000)
    ap.add_argument("--w2-torch", type=int, default=0)
    ap.add_argument("--w2-numpy", type=int, default=0)
    ap.add_argument("--w1b1", type=int, default=0)
    ap.add_argument("--w3", type=int, default=0)
    ap.add_argument("--cc", default="cc")
    ap.add_argument("--data", default="")
    ap.add_argument("--lib-sha", default="unknown")
    a = ap.parse_args()

    records = []
    with open(a.raw) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except ValueError:
                    print("report.py: skipping a malformed line: %s" % line[:100], file=sys.stderr)

    def recs(impl, workload, variant=""):
        return [r for r in records if r.get("impl") == impl and r.get("workload") == workload
                and r.get("variant", "") == variant and "status" not in r]

    def why_missing(impl, workload, variant=""):
        for r in records:
            if (r.get("impl") == impl and r.get("workload") == workload and "status" in r
                    and r.get("variant", "") == variant):
                return r["status"]
        return "not run"

    # ---------------------------------------------------------------- per-round rates
    def rates(impl, workload):
        """{round: samples/s} (W1: the round's median epoch) and the pooled list of rates."""
        per_round, pooled = {}, []
        for r in recs(impl, workload):
            if "epoch_s" in r:
                rs = [r["samples"] / t for t in r["epoch_s"] if t > 0]
                pooled += rs
                per_round[r["round"]] = statistics.median(rs)
            elif r.get("seconds", 0) > 0:
                v = r["samples"] / r["seconds"]
                pooled.append(v)
                per_round[r["round"]] = v
        return per_round, pooled

    def ratio(workload, other, bp_workload=None):
        mine, _ = rates("backprop", bp_workload or workload)
        theirs, _ = rates(other, workload)
        rs = [mine[k] / theirs[k] for k in mine if k in theirs and theirs[k] > 0]
        return stat(rs)

    summary = {}
    lines = []
    out = lines.append

    # ---------------------------------------------------------------- header
    mach = machine()
    fl = mach["flags"]
    yes = lambda b: "yes" if b else "no"  # noqa: E731
    versions = {}
    mk = ""
    try:
        with open("Makefile") as f:
            m = re.search(r"^VERSION\s*:?=\s*(\S+)", f.read(), re.M)
            mk = m.group(1) if m else "?"
    except OSError:
        pass
    versions["backprop"] = mk
    versions["libbackprop.a sha256"] = a.lib_sha
    versions["cc"] = command_output([a.cc, "--version"]).split("\n")[0]
    for impl, key in (("pytorch", "PyTorch"), ("numpy", "NumPy")):
        vs = {r.get("version") for r in records if r.get("impl") == impl and r.get("version")}
        versions[key] = ", ".join(sorted(vs)) if vs else None
    ob = [r for r in records if r.get("impl") == "openblas" and "config" in r]
    versions["OpenBLAS"] = ob[0]["config"] if ob else None
    fann_v = command_output(["dpkg-query", "-W", "-f", "${Version}", "libfann-dev"]) if shutil.which("dpkg-query") else ""
    have_fann = any(r.get("impl") == "fann" and "status" not in r for r in records)
    versions["FANN"] = (fann_v or "installed") if have_fann else None
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OMP_NUM_THREADS",
                                          "OPENBLAS_NUM_THREADS", "OMP_WAIT_POLICY")}
    bp_threads = sorted({r.get("threads_used") for r in records
                         if r.get("impl") == "backprop" and r.get("workload") != "gemm" and "threads_used" in r})

    out("== backprop benchmarks: %s mode, %d round%s, %d thread%s, wall %.1f s ==" % (
        a.mode, a.rounds, "s" if a.rounds > 1 else "", a.threads, "s" if a.threads > 1 else "", a.wall))
    out("machine   %s, %s logical CPUs%s; avx2 %s, fma %s, avx512f %s" % (
        mach["cpu"], mach["logical_cpus"], " (virtual machine)" if fl.get("hypervisor") else "",
        yes(fl.get("avx2")), yes(fl.get("fma")), yes(fl.get("avx512f"))))
    out("threads   %d for backprop (bp_net_set_threads), PyTorch, NumPy, OpenBLAS; FANN is single-threaded"
        % a.threads)
    out("versions  backprop %s (libbackprop.a %s, by make -O2; harness %s -O2), PyTorch %s, NumPy %s," % (
        versions["backprop"], a.lib_sha, versions["cc"] or a.cc, versions["PyTorch"] or "not installed",
        versions["NumPy"] or "not installed"))
    out("          %s, FANN %s" % (versions["OpenBLAS"] or "OpenBLAS not installed",
                                           versions["FANN"] or "not installed"))
    out("env       OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s OMP_WAIT_POLICY=%s" % (
        env["OPENBLAS_CORETYPE"] or "(unset)", env["OPENBLAS_L2_SIZE"] or "(unset)", env["OMP_WAIT_POLICY"]))
    out("figures   median [min-max] over every measurement; backprop/X = backprop's rate over X's,"
        " per round (>1: backprop faster)")

    def missing_row(name, impl, workload, width):
        return "  %-*s %s" % (width, name, why_missing(impl, workload))

    # ---------------------------------------------------------------- W1
    w1 = [r for r in records if r.get("workload") == "w1" and "status" not in r]
    synthetic = any(r.get("synthetic") for r in records if r.get("workload") in ("w1", "w1b1"))
    data_note = "SYNTHETIC data (Fashion-MNIST not found in %s)" % a.data if synthetic else "Fashion-MNIST"
    n_w1 = w1[0]["samples"] if w1 else 60000
    fps1 = flops_per_sample(W1_SIZES)
    out("")
    out("W1 fmnist-mlp: %s, 784-256-128-10 ReLU, softmax-CE, SGD lr 0.1, batch 64, %d samples/epoch,"
        " %.2f MFLOP/sample" % (data_note, n_w1, fps1 / 1e6))
    W = 20
    out("  %-*s %-26s %-20s %-20s %s" % (W, "impl", "samples/s", "epoch s", "GFLOP/s", "backprop/impl"))
    summary["w1"] = {}
    for impl in ("backprop", "backprop-openblas", "pytorch", "numpy"):
        per_round, pooled = rates(impl, "w1")
        if not pooled:
            out(missing_row(impl, impl, "w1", W))
            continue
        sps = stat(pooled)
        secs = stat([t for r in recs(impl, "w1") for t in r["epoch_s"]])
        gf = stat([v * fps1 / 1e9 for v in pooled])
        rt = ratio("w1", impl) if impl != "backprop" else None
        acc = {}
        for r in recs(impl, "w1"):
            for e, v in r.get("accuracy", {}).items():
                acc.setdefault(e, []).append(v)
        summary["w1"][impl] = {"samples_per_s": sps, "epoch_s": secs, "gflops": gf, "ratio_backprop_over": rt,
                               "test_accuracy": {e: stat(v) for e, v in acc.items()}}
        out("  %-*s %-26s %-20s %-20s %s" % (W, impl, fmt(sps, "rate"), fmt(secs, "secs"), fmt(gf, "gflops"),
                                             fmt(rt, "ratio") if rt else ""))
    # per sample
    out("  per sample (batch 1, lr 0.1), first %d training samples in file order:" % a.w1b1)
    for impl, name in (("backprop", "backprop batch 1"), ("fann", "fann (see note)")):
        per_round, pooled = rates(impl, "w1b1")
        if not pooled:
            out(missing_row(name, impl, "w1b1", W))
            continue
        sps = stat(pooled)
        gf = stat([v * fps1 / 1e9 for v in pooled])
        rt = ratio("w1b1", impl) if impl != "backprop" else None
        summary.setdefault("w1b1", {})[impl] = {"samples_per_s": sps, "gflops": gf, "ratio_backprop_over": rt}
        accs = [r["accuracy"] for r in recs(impl, "w1b1") if "accuracy" in r]
        if accs:
            summary["w1b1"][impl]["test_accuracy"] = stat(accs)
        out("  %-*s %-26s %-20s %-20s %s" % (W, name, fmt(sps, "rate"), "", fmt(gf, "gflops"),
                                             fmt(rt, "ratio") if rt else ""))
    epochs = sorted({int(e) for impl in summary["w1"].values() for e in impl["test_accuracy"]})
    if epochs:
        out("  %-*s %s" % (W, "test accuracy %", "".join("%-26s" % ("after %d epoch%s" % (e, "s" if e > 1 else ""))
                                                           for e in epochs)))
        for impl, s in summary["w1"].items():
            out("  %-*s %s" % (W, impl, "".join("%-26s" % fmt(s["test_accuracy"].get(str(e)), "pct")
                                               for e in epochs)))
    fann_acc = summary.get("w1b1", {}).get("fann", {}).get("test_accuracy")
    out("  note: FANN has no mini-batches, ReLU or softmax: it trains 784-256-128-10 with sigmoid units and"
        " MSE, one sample per")
    out("        update, so its rate is set beside backprop at batch 1 on the same samples%s." % (
        "; its test accuracy after those %d samples: %s%%" % (a.w1b1, fmt(fann_acc, "pct")) if fann_acc else ""))

    # ---------------------------------------------------------------- W2
    out("")
    out("W2 seed-232: 2-3-2, sigmoid hidden and output, MSE, per-sample SGD lr 0.5, %d synthetic samples"
        " (splitmix64 seed 232), fixed order" % a.w2)
    out("  %-*s %-26s %-30s %s" % (W, "impl", "samples/s", "backprop/impl", "mean 1/2|a-y|^2 after its samples"))
    summary["w2"] = {}
    for impl in ("backprop", "fann", "pytorch", "numpy"):
        per_round, pooled = rates(impl, "w2")
        if not pooled:
            out(missing_row(impl, impl, "w2", W))
            continue
        sps = stat(pooled)
        rt = ratio("w2", impl) if impl != "backprop" else None
        n = recs(impl, "w2")[0]["samples"]
        loss = stat([r.get("final_loss") for r in recs(impl, "w2")])
        summary["w2"][impl] = {"samples_per_s": sps, "ratio_backprop_over": rt, "samples_timed": n,
                               "final_loss": loss}
        capped = "  (rate from the first %d samples)" % n if n < a.w2 else ""
        out("  %-*s %-26s %-30s %s%s" % (W, impl, fmt(sps, "rate"), fmt(rt, "ratio") if rt else "",
                                         fmt(loss, "loss"), capped))

    # ---------------------------------------------------------------- GEMM (before W3: W3 uses its ceiling)
    gemm_rows = []
    for impl, variant, name in (("openblas", "env", "OpenBLAS, environment as set"),
                                ("openblas", "unset", "OpenBLAS, CORETYPE/L2_SIZE unset"),
                                ("backprop", "", "backprop bp_gemm")):
        rs = recs(impl, "gemm", variant)
        if not rs:
            gemm_rows.append((name, impl, variant, None, why_missing(impl, "gemm", variant)))
            continue
        st = {k: stat([v for r in rs for v in r.get("gflops_" + k, [])]) for k in ("nn", "tn", "nt")}
        kernel = rs[0].get("corename", "")
        gemm_rows.append((name, impl, variant, st, kernel))
    ceiling, ceiling_name = None, None
    ob_rows = [g for g in gemm_rows if g[1] == "openblas" and g[3] and g[3]["nn"]]
    avx512 = [g for g in ob_rows if g[4].lower() in AVX512_KERNELS]
    pick = max(avx512 or ob_rows, key=lambda g: g[3]["nn"]["median"], default=None)
    if pick:
        ceiling = pick[3]["nn"]["median"]
        ceiling_name = "%s (kernel %s)" % (pick[0], pick[4])

    # ---------------------------------------------------------------- W3
    fps3 = flops_per_sample(W3_SIZES)
    out("")
    out("W3 wide: 784-1024-1024-10 ReLU, softmax-CE, SGD lr 0.1, batch 256, %d synthetic samples (%d steps)"
        " per measurement, %.2f MFLOP/sample" % (a.w3, (a.w3 + 255) // 256, fps3 / 1e6))
    out("  %-*s %-26s %-20s %-20s %s" % (W, "impl", "samples/s", "GFLOP/s", "% of GEMM ceiling", "backprop/impl"))
    summary["w3"] = {}
    for impl in ("backprop", "backprop-openblas", "pytorch", "numpy"):
        per_round, pooled = rates(impl, "w3")
        if not pooled:
            out(missing_row(impl, impl, "w3", W))
            continue
        sps = stat(pooled)
        gf = stat([v * fps3 / 1e9 for v in pooled])
        pct = gf["median"] / ceiling if ceiling else None
        rt = ratio("w3", impl) if impl != "backprop" else None
        summary["w3"][impl] = {"samples_per_s": sps, "gflops": gf, "fraction_of_ceiling": pct,
                               "ratio_backprop_over": rt}
        out("  %-*s %-26s %-20s %-20s %s" % (W, impl, fmt(sps, "rate"), fmt(gf, "gflops"),
                                             "%.0f%%" % (100 * pct) if pct else "-", fmt(rt, "ratio") if rt else ""))

    # ---------------------------------------------------------------- int8 inference
    out("")
    int8 = recs("backprop", "int8")
    if int8:
        r0 = int8[0]
        out("int8 inference, W1 (784-256-128-10) after %d epoch%s, quantized on the training set: predict --int8 "
            "against predict, 10,000 test images, one thread, same run%s" % (
                r0["epochs"], "s" if r0["epochs"] > 1 else "", " (SYNTHETIC data)" if r0.get("synthetic") else ""))
        f_rates = [r["samples"] / t for r in int8 for t in r["float_s"] if t > 0]
        q_rates = [r["samples"] / t for r in int8 for t in r["int8_s"] if t > 0]
        ratios = [f / q for r in int8 for f, q in zip(r["float_s"], r["int8_s"]) if q > 0]
        acc_f = stat([r["accuracy_float"] for r in int8])
        acc_q = stat([r["accuracy_int8"] for r in int8])
        drop = stat([100 * (r["accuracy_float"] - r["accuracy_int8"]) for r in int8])  # points
        agree = stat([r["agreement"] for r in int8])
        fallback = {k: stat([r["samples"] / r[k] for r in int8 if r.get(k)]) for k in ("int8_avx2_s", "int8_portable_s")}
        out("  %-36s %-26s %s" % ("", "samples/s", "test accuracy %"))
        out("  %-36s %-26s %s" % ("float (predict)", fmt(stat(f_rates), "rate"), fmt(acc_f, "pct")))
        out("  %-36s %-26s %s" % ("int8, %s" % r0["kernel"], fmt(stat(q_rates), "rate"), fmt(acc_q, "pct")))
        for key, name in (("int8_avx2_s", "int8, AVX2 kernel"), ("int8_portable_s", "int8, portable kernel")):
            if fallback[key]:
                out("  %-36s %-26s %s" % (name, fmt(fallback[key], "rate"), "(the same integers)"))
        out("  int8/float throughput %s per repetition; accuracy float - int8: %s points; same class on %s%% "
            "of the images" % (fmt(stat(ratios), "ratio"), fmt(drop, "loss"), fmt(agree, "pct")))
        summary["int8"] = {"kernel": r0["kernel"], "samples_per_s_float": stat(f_rates),
                           "samples_per_s_int8": stat(q_rates), "ratio_int8_over_float": stat(ratios),
                           "accuracy_float": acc_f, "accuracy_int8": acc_q, "accuracy_drop": drop,
                           "agreement": agree, "samples_per_s_avx2": fallback["int8_avx2_s"],
                           "samples_per_s_portable": fallback["int8_portable_s"]}
    else:
        out("int8 inference: %s" % why_missing("backprop", "int8"))

    out("")
    out("GEMM ceiling: square 1024 SGEMM, row-major, GFLOP/s (2 n^3 per call)")
    out("  %-34s %-22s %-22s %-22s %s" % ("impl", "C = A B", "C = A^T B", "C = A B^T", "kernel"))
    summary["gemm"] = {}
    for name, impl, variant, st, kernel in gemm_rows:
        key = impl + ("_" + variant if variant else "")
        if st is None:
            out("  %-34s %s" % (name, kernel))
            summary["gemm"][key] = {"status": kernel}
            continue
        summary["gemm"][key] = {"gflops_nn": st["nn"], "gflops_tn": st["tn"], "gflops_nt": st["nt"],
                                "kernel": kernel}
        out("  %-34s %-22s %-22s %-22s %s" % (name, fmt(st["nn"], "gflops"), fmt(st["tn"], "gflops"),
                                              fmt(st["nt"], "gflops"), kernel))
    if ceiling:
        bp = [g for g in gemm_rows if g[1] == "backprop" and g[3]]
        bp_pct = bp[0][3]["nn"]["median"] / ceiling if bp else None
        kind = "AVX-512 kernel" if avx512 else "best OpenBLAS run; no AVX-512 kernel (avx512f %s)" % (
            "present" if fl.get("avx512f") else "absent")
        out("  ceiling = %s, C = A B: %.1f GFLOP/s (%s)" % (ceiling_name, ceiling, kind))
        if not env["OPENBLAS_CORETYPE"] and not env["OPENBLAS_L2_SIZE"]:
            out("  (neither variable is set on this machine: the two OpenBLAS runs differ only by noise)")
        parts = []
        if bp_pct:
            parts.append("backprop's GEMM %.0f%%" % (100 * bp_pct))
        for impl in ("backprop", "pytorch", "numpy"):
            s = summary["w3"].get(impl)
            if s and s["fraction_of_ceiling"]:
                parts.append("W3 %s %.0f%%" % (impl, 100 * s["fraction_of_ceiling"]))
        out("  of the ceiling: " + ", ".join(parts))
        summary["gemm"]["ceiling"] = {"gflops": ceiling, "source": ceiling_name,
                                      "backprop_gemm_fraction": bp_pct}
    if a.threads > 1:
        out("  (backprop's GEMM ran as training runs it: bp_gemm_team_ex on a pool of %d threads)" % a.threads)

    # ---------------------------------------------------------------- FMA peak and what it bounds
    peak_recs = recs("fma-peak", "peak")
    peak = {k: stat([v for r in peak_recs for v in r.get("gflops_" + k, [])]) for k in ("avx2", "avx512")}
    peak = {k: v for k, v in peak.items() if v}
    if peak:
        best = max(v["median"] for v in peak.values())
        out("  FMA peak, registers only (bench/fma_peak.c, no loads or stores): %s GFLOP/s" % ", ".join(
            "%s %s" % ("AVX-512" if k == "avx512" else "AVX2", fmt(v, "gflops")) for k, v in peak.items()))
        summary["gemm"]["fma_peak"] = dict(peak, best_median=best)
        if ceiling:
            out("  the GEMM ceiling is %.0f%% of the FMA peak" % (100 * ceiling / best))
        # A ratio against PyTorch cannot exceed (the most we could do) / (what PyTorch did).
        torch_w1 = summary.get("w1", {}).get("pytorch")
        if torch_w1 and torch_w1["gflops"]:
            tg = torch_w1["gflops"]["median"]
            bound = {"at_gemm_ceiling": ceiling / tg if ceiling else None, "at_fma_peak": best / tg}
            summary["w1"]["ratio_bound_over_pytorch"] = bound
            out("  PyTorch did %.1f GFLOP/s of W1's real work, so backprop/pytorch on W1 can be at most %s here"
                % (tg, "%.2fx with all of it at the GEMM ceiling (%.2fx at the FMA peak)" % (
                    bound["at_gemm_ceiling"], bound["at_fma_peak"]) if ceiling else
                   "%.2fx at the FMA peak" % bound["at_fma_peak"]))
    else:
        out("  FMA peak: %s" % why_missing("fma-peak", "peak"))

    if any(r.get("impl") == "sklearn-fit" for r in records):
        lines += sklearn_section(records)
    report_bf16(records, out, summary, ceiling, a.threads)

    print("\n".join(lines))
    result = {"mode": a.mode, "threads": a.threads, "rounds": a.rounds, "wall_s": a.wall, "machine": mach,
              "versions": versions, "env": env, "backprop_training_threads": bp_threads,
              "synthetic_w1_data": synthetic,
              "params": {"w1b1_samples": a.w1b1, "w2_samples": a.w2, "w2_samples_pytorch": a.w2_torch,
                         "w2_samples_numpy": a.w2_numpy, "w3_samples": a.w3}, "flops_per_sample": {"w1": fps1, "w3": fps3},
              "summary": summary, "records": records, "table": lines}
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("\nall numbers: %s" % a.json)


if __name__ == "__main__":
    sys.exit(main())
