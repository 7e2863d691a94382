#!/bin/sh
# GPU benchmark (`make bench-gpu`): backprop's training step on CUDA next to PyTorch's,
# eager and captured as a CUDA graph, in the same run, for the shapes of issue 6, and a
# whole W1 epoch on Fashion-MNIST. Needs a CUDA device, nvcc and cuBLAS (make CUDA=1),
# and a python3 with a CUDA build of PyTorch (PYTHON=... to pick one).
# usage: sh bench/gpu.sh [--tf32] [--json FILE]   (BUILD_ONLY=1: build build-cuda/gpu_bench and stop)
set -u
TF32=
JSON=build-cuda/bench-gpu.json
while [ $# -gt 0 ]; do
    case $1 in
    --tf32) TF32=--tf32; shift ;;
    --json) JSON=$2; shift 2 ;;
    *) echo "usage: sh bench/gpu.sh [--tf32] [--json FILE]"; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.." || exit 1
PY=${PYTHON:-python3}
make -s CUDA=1 build-cuda/libbackprop.a || exit 1
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
ZLIB_LIBS=$(pkg-config --libs zlib 2>/dev/null || echo -lz) # the library's .gz reader and CRC-32
# shellcheck disable=SC2086 # ZLIB_LIBS is a word list
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -Iinclude -Ibench bench/gpu_bench.c \
    build-cuda/libbackprop.a -L"$CUDA_HOME/lib64" -Wl,-rpath,"$CUDA_HOME/lib64" -lcublasLt -lcudart -lstdc++ \
    $ZLIB_LIBS -lm -pthread -o build-cuda/gpu_bench || exit 1
[ "${BUILD_ONLY:-0}" = 1 ] && exit 0
command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
RAW=build-cuda/bench-gpu.jsonl
: > "$RAW"
# shape batch steps target-ratio-against-PyTorch's-graph
while read -r sizes batch steps target; do
    build-cuda/gpu_bench step "$sizes" "$batch" --steps "$steps" $TF32 >> "$RAW" || echo "{\"impl\": \"backprop\", \"sizes\": \"$sizes\", \"batch\": $batch, \"failed\": true}" >> "$RAW"
    "$PY" bench/torch_gpu.py step "$sizes" "$batch" --steps "$steps" $TF32 >> "$RAW" ||
        echo "{\"impl\": \"pytorch\", \"sizes\": \"$sizes\", \"batch\": $batch, \"failed\": true}" >> "$RAW"
    echo "{\"target\": $target, \"sizes\": \"$sizes\", \"batch\": $batch}" >> "$RAW"
done <<EOF
784,256,128,10 64 938 4
784,256,128,10 1024 200 2
784,1024,1024,10 256 200 2
784,1024,1024,10 4096 50 1
2,3,2 1 20000 8
4096,4096,4096,4096 4096 32 0.95
EOF
build-cuda/gpu_bench w1 >> "$RAW" || echo '{"impl": "backprop", "workload": "w1_epoch", "failed": true}' >> "$RAW"
"$PY" bench/torch_gpu.py w1 >> "$RAW" || echo '{"impl": "pytorch", "workload": "w1_epoch", "failed": true}' >> "$RAW"
"$PY" - "$RAW" "$JSON" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("%-22s %6s %14s %16s %16s %12s %8s" % ("network", "batch", "backprop us", "PyTorch eager", "PyTorch graph",
                                            "vs graph", "target"))
bp = {}
torch = {}
out = {"steps": [], "w1_epoch": {}}
for r in rows:
    key = (r.get("sizes"), r.get("batch"))
    if r.get("impl") == "backprop" and r.get("workload", "step") == "step":
        bp[key] = r
    elif r.get("impl") == "pytorch" and r.get("workload", "step") == "step":
        torch[key] = r
    elif "target" in r:
        b, t = bp.get(key, {}), torch.get(key, {})
        us, g = b.get("step_us"), t.get("graph_us")
        ratio = g / us if us and g else None
        print("%-22s %6d %14s %16s %16s %12s %8s" % (key[0], key[1], "%.1f" % us if us else "failed",
              "%.1f" % t["eager_us"] if t.get("eager_us") else "failed", "%.1f" % g if g else "failed",
              "%.2fx" % ratio if ratio else "-", ">= %gx" % r["target"]))
        out["steps"].append({"sizes": key[0], "batch": key[1], "backprop_us": us, "pytorch_eager_us": t.get("eager_us"),
                             "pytorch_graph_us": g, "ratio_vs_graph": ratio, "target": r["target"]})
    elif r.get("workload") == "w1_epoch":
        out["w1_epoch"][r["impl"]] = r
for impl, r in out["w1_epoch"].items():
    if r.get("epoch_s"):
        print("W1 epoch (938 steps, Fashion-MNIST) %-9s %.1f ms (best of %d; target <= 30 ms for backprop)" % (
            impl, 1000 * min(r["epoch_s"]), len(r["epoch_s"])))
    else:
        print("W1 epoch %s: failed" % impl)
json.dump(out, open(sys.argv[2], "w"), indent=1)
print("all numbers: %s" % sys.argv[2])
PY
