#!/bin/sh
# bench/run.sh - run every workload for every implementation in one run and print
# the table (see bench/README.md).
#
#   sh bench/run.sh [--quick|--full] [--threads N] [--json FILE]
#
#   --quick    one repetition, smaller sample counts; under a minute (the default)
#   --full     5 rounds; every figure is a median with its min-max (several minutes)
#   --threads  threads for every implementation (default 1)
#   --json     where to write all numbers (default build/bench-results.json)
#
# Environment: CC (default cc), BENCH_PYTHON (default /usr/bin/python3), BENCH_BASE (a
# tree with a built library whose optimizer timings bench/optim.sh sets beside these).
#
# Implementations run round by round (backprop, PyTorch, NumPy, FANN, the GEMMs, then
# the next round), so a slow patch of a shared machine hits all of them alike. A
# reference that is not installed (PyTorch, NumPy, FANN, OpenBLAS) or that fails is
# reported as such; the run goes on. Needs: make, cc, and a python3 for the report.
set -u

MODE=quick
THREADS=1
JSON=
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) MODE=quick ;;
        --full) MODE=full ;;
        --threads) shift; THREADS=${1:-}; ;;
        --threads=*) THREADS=${1#--threads=} ;;
        --json) shift; JSON=${1:-} ;;
        --json=*) JSON=${1#--json=} ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$THREADS" in ''|*[!0-9]*|0) echo "run.sh: --threads needs a positive whole number" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
[ -n "$JSON" ] || JSON=$ROOT/build/bench-results.json
OUT=$ROOT/build/bench
mkdir -p "$OUT" || exit 1
RAW=$OUT/raw.jsonl
: > "$RAW"
START=$(date +%s.%N)

# The first python3 on PATH may be an install without torch; Debian's is the reference.
# BENCH_PYTHON overrides it (e.g. to try a run without PyTorch).
if [ -n "${BENCH_PYTHON:-}" ]; then PY=$BENCH_PYTHON
elif [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3
else PY=python3; fi
command -v "$PY" >/dev/null 2>&1 || { echo "run.sh: python3 is needed for the report" >&2; exit 1; }
if command -v timeout >/dev/null 2>&1; then
    if [ "$MODE" = full ]; then TIMEOUT="timeout 400"; else TIMEOUT="timeout 120"; fi
else
    TIMEOUT=
fi

# Every implementation gets the same thread count; OMP_WAIT_POLICY=PASSIVE because
# libgomp's busy-waiting makes PyTorch at 2 threads several times slower on this machine.
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
export OMP_WAIT_POLICY=PASSIVE

# ------------------------------------------------------------------ sizes per mode
DATA=/usr/share/datasets/fashion-mnist
if [ "$MODE" = full ]; then
    ROUNDS=5
    W1_EPOCHS=10; W1_EVAL=1,5,10      # backprop and PyTorch: accuracy after 1, 5, 10 epochs
    NP_W1_EPOCHS=1                    # NumPy: speed (and accuracy after 1 epoch) only
    W1B1=5000; FANN_EVAL=10000
    W2=100000; W2_TORCH=5000; W2_NUMPY=20000
    W3=16384; CALLS=10
    INT8_EPOCHS=10
else
    ROUNDS=1
    W1_EPOCHS=1; W1_EVAL=1; NP_W1_EPOCHS=1
    W1B1=1000; FANN_EVAL=0
    W2=100000; W2_TORCH=2000; W2_NUMPY=5000
    W3=2048; CALLS=10
    INT8_EPOCHS=1
fi

# ------------------------------------------------------------------ helpers
# record JSON: append one line to the raw results.
record() { printf '%s\n' "$1" >> "$RAW"; }

# status IMPL WORKLOADS TEXT [DETAIL]: a reference that did not run (in round ROUND, as
# variant VARIANT).
VARIANT=
status() {
    detail=$(printf '%s' "${4:-}" | tr -d '"\\' | tr '\n\t' '  ' | cut -c1-300)
    for w in $2; do
        record "{\"round\": $ROUND, \"variant\": \"$VARIANT\", \"impl\": \"$1\", \"workload\": \"$w\", \"status\": \"$3\", \"detail\": \"$detail\"}"
    done
}

# job IMPL WORKLOADS VARIANT CMD...: run one program, keep its JSON lines (tagged with the
# round and variant), and turn a failure or a crash into a status record.
job() {
    impl=$1; wl=$2; variant=$3; shift 3
    printf '  [round %d/%d] %-9s %-10s%s ... ' "$ROUND" "$ROUNDS" "$impl" "$wl" \
        "${variant:+ ($variant)}" >&2
    t0=$(date +%s.%N)
    $TIMEOUT "$@" > "$OUT/job.out" 2> "$OUT/job.err"
    rc=$?
    t1=$(date +%s.%N)
    grep '^{' "$OUT/job.out" | sed "s/^{/{\"round\": $ROUND, \"variant\": \"$variant\", /" >> "$RAW"
    if [ $rc -eq 0 ]; then
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f s\n", b - a }' >&2
        return 0
    fi
    if [ $rc -eq 124 ]; then what="timed out"
    elif [ $rc -gt 128 ]; then
        sig=$((rc - 128))
        case $sig in 4) what="crashed (SIGILL, illegal instruction)" ;; 9) what="killed (SIGKILL)" ;;
                     11) what="crashed (SIGSEGV)" ;; *) what="crashed (signal $sig)" ;; esac
    else what="failed (exit $rc)"; fi
    echo "$what" >&2
    # Workloads that printed a result before the failure keep it; the others get the status.
    for w in $wl; do
        grep -q "\"workload\": \"$w\"" "$OUT/job.out" 2>/dev/null && continue
        VARIANT=$variant
        status "$impl" "$w" "$what" "$(tail -n 3 "$OUT/job.err")"
        VARIANT=
    done
    return 0
}

# ------------------------------------------------------------------ build
echo "backprop bench: $MODE mode, $THREADS thread(s)" >&2
CC=${CC:-cc}
HFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Ibench"
# libbackprop.a reads .gz files and checksums models through zlib.
ZLIB_LIBS=$(pkg-config --libs zlib 2>/dev/null || echo -lz)
ROUND=0

if ! make -s build/libbackprop.a >&2; then
    echo "run.sh: building the library failed (make)" >&2
    exit 1
fi
# Which build of the library these figures belong to.
LIB_SHA=$( (sha256sum build/libbackprop.a 2>/dev/null || echo unknown) | cut -c1-12)
if ! $CC $HFLAGS -Iinclude -Isrc bench/bp_bench.c build/libbackprop.a \
        $ZLIB_LIBS -lm -lpthread -o "$OUT/bp_bench" 2> "$OUT/build.err"; then
    cat "$OUT/build.err" >&2
    echo "run.sh: bench/bp_bench.c does not build against this library" >&2
    exit 1
fi

# int8 inference against float (predict --int8 against predict), bench/int8_bench.c.
HAVE_INT8=0
if $CC $HFLAGS -Iinclude -Isrc bench/int8_bench.c build/libbackprop.a $ZLIB_LIBS -lm -lpthread \
        -o "$OUT/int8_bench" 2> "$OUT/build.err"; then
    HAVE_INT8=1
else
    INT8_WHY="build failed ($(tail -n 1 "$OUT/build.err"))"
fi

# The FMA peak (registers only): the most arithmetic any code could do here.
HAVE_PEAK=0
if $CC $HFLAGS bench/fma_peak.c -lpthread -o "$OUT/fma_peak" 2> "$OUT/build.err"; then
    HAVE_PEAK=1
else
    PEAK_WHY="build failed ($(tail -n 1 "$OUT/build.err"))"
fi

HAVE_FANN=0
if [ -f /usr/include/floatfann.h ]; then
    if $CC $HFLAGS bench/fann_bench.c -lfloatfann -lm -o "$OUT/fann_bench" 2> "$OUT/build.err"; then
        HAVE_FANN=1
    else
        FANN_WHY="not installed (build failed: $(tail -n 1 "$OUT/build.err"))"
    fi
else
    FANN_WHY="not installed (no floatfann.h; apt-get install libfann-dev)"
fi

HAVE_OPENBLAS=0
if pkg-config --exists openblas 2>/dev/null; then
    OB_FLAGS=$(pkg-config --cflags openblas) OB_LIBS=$(pkg-config --libs openblas)
else
    OB_FLAGS="-I/usr/include/x86_64-linux-gnu/openblas-pthread"
    OB_LIBS="/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so"
fi
if $CC $HFLAGS $OB_FLAGS bench/openblas_gemm.c $OB_LIBS -o "$OUT/openblas_gemm" 2> "$OUT/build.err"; then
    HAVE_OPENBLAS=1
else
    OB_WHY="not installed (apt-get install libopenblas-dev)"
fi

# The library again with OpenBLAS's sgemm under bp_gemm (make BLAS=openblas), so that
# backprop's own GEMM is compared with OpenBLAS inside the same training code.
HAVE_BP_OPENBLAS=0
if [ $HAVE_OPENBLAS = 1 ]; then
    if make -s BLAS=openblas build-openblas/libbackprop.a >"$OUT/build.err" 2>&1 &&
        $CC $HFLAGS -Iinclude -Isrc bench/bp_bench.c build-openblas/libbackprop.a $OB_LIBS \
            $ZLIB_LIBS -lm -lpthread -o "$OUT/bp_bench_openblas" 2>> "$OUT/build.err"; then
        HAVE_BP_OPENBLAS=1
    else
        BP_OB_WHY="build failed ($(tail -n 1 "$OUT/build.err"))"
    fi
else
    BP_OB_WHY=$OB_WHY
fi

HAVE_TORCH=0; HAVE_NUMPY=0
if "$PY" -c 'import torch' 2>/dev/null; then HAVE_TORCH=1; fi
if "$PY" -c 'import numpy' 2>/dev/null; then HAVE_NUMPY=1; fi

# ------------------------------------------------------------------ rounds
ROUND=1
while [ $ROUND -le $ROUNDS ]; do
    SEED=$ROUND
    job backprop w1 "" "$OUT/bp_bench" w1 --epochs $W1_EPOCHS --eval $W1_EVAL --seed $SEED \
        --threads $THREADS --data $DATA
    job backprop w1b1 "" "$OUT/bp_bench" w1b1 --samples $W1B1 --seed $SEED --threads $THREADS --data $DATA
    job backprop w2 "" "$OUT/bp_bench" w2 --samples $W2 --seed $SEED --threads $THREADS
    job backprop w3 "" "$OUT/bp_bench" w3 --samples $W3 --seed $SEED --threads $THREADS
    if [ $HAVE_INT8 = 1 ]; then
        job backprop int8 "" "$OUT/int8_bench" --epochs $INT8_EPOCHS --seed $SEED --data $DATA
    else
        status backprop int8 "$INT8_WHY"
    fi
    # bf16 (--precision bf16: the best bf16 kernel of this CPU; a status line where it has none).
    job backprop w1 bf16 "$OUT/bp_bench" w1 --epochs $W1_EPOCHS --eval $W1_EVAL --seed $SEED \
        --threads $THREADS --data $DATA --precision bf16
    job backprop w3 bf16 "$OUT/bp_bench" w3 --samples $W3 --seed $SEED --threads $THREADS --precision bf16
    if [ $HAVE_BP_OPENBLAS = 1 ]; then
        job backprop-openblas w1 "" "$OUT/bp_bench_openblas" w1 --impl backprop-openblas \
            --epochs 1 --eval 1 --seed $SEED --threads $THREADS --data $DATA
        job backprop-openblas w3 "" "$OUT/bp_bench_openblas" w3 --impl backprop-openblas \
            --samples $W3 --seed $SEED --threads $THREADS
    else
        status backprop-openblas "w1 w3" "$BP_OB_WHY"
    fi

    if [ $HAVE_TORCH = 1 ]; then
        job pytorch "w1 w2 w3" "" "$PY" bench/torch_bench.py w1 w2 w3 --epochs $W1_EPOCHS \
            --eval $W1_EVAL --w2-samples $W2_TORCH --w3-samples $W3 --seed $SEED \
            --threads $THREADS --data $DATA
        # PyTorch's own mixed precision (bf16 autocast): W1's speed only (one epoch), W3.
        job pytorch "w1 w3" bf16 "$PY" bench/torch_bench.py w1 w3 --precision bf16 --epochs 1 --eval 1 \
            --w3-samples $W3 --seed $SEED --threads $THREADS --data $DATA
    else
        status pytorch "w1 w2 w3" "not installed" "import torch failed with $PY (apt-get install python3-torch)"
        VARIANT=bf16
        status pytorch "w1 w3" "not installed" "import torch failed with $PY"
        VARIANT=
    fi
    if [ $HAVE_NUMPY = 1 ]; then
        job numpy "w1 w2 w3" "" "$PY" bench/numpy_bench.py w1 w2 w3 --epochs $NP_W1_EPOCHS \
            --eval 1 --w2-samples $W2_NUMPY --w3-samples $W3 --seed $SEED \
            --threads $THREADS --data $DATA
    else
        status numpy "w1 w2 w3" "not installed" "import numpy failed with $PY (apt-get install python3-numpy)"
    fi
    if [ $HAVE_FANN = 1 ]; then
        job fann "w1b1 w2" "" "$OUT/fann_bench" w2 w1 --w2-samples $W2 --w1-samples $W1B1 \
            --eval-samples $([ $ROUND = 1 ] && echo $FANN_EVAL || echo 0) --seed $SEED --data $DATA
    else
        status fann "w1b1 w2" "$FANN_WHY"
    fi

    job backprop gemm "" "$OUT/bp_bench" gemm --calls $CALLS --threads $THREADS
    job backprop gemm bf16-amx "$OUT/bp_bench" gemm --calls $CALLS --threads $THREADS --precision bf16-amx
    job backprop gemm bf16-avx512 "$OUT/bp_bench" gemm --calls $CALLS --threads $THREADS --precision bf16-avx512
    if [ $HAVE_OPENBLAS = 1 ]; then
        job openblas gemm env "$OUT/openblas_gemm" --calls $CALLS --threads $THREADS
        job openblas gemm unset env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
            "$OUT/openblas_gemm" --calls $CALLS --threads $THREADS
    else
        status openblas gemm "$OB_WHY"
    fi
    if [ $HAVE_PEAK = 1 ]; then
        job fma-peak peak "" "$OUT/fma_peak" --threads $THREADS
    else
        status fma-peak peak "$PEAK_WHY"
    fi
    ROUND=$((ROUND + 1))
done

# sklearn-fit: scikit-learn's MLPClassifier against backprop's, from Python
# (bench/sklearn_bench.py, one thread whatever --threads says). Once per run: its seeds are
# its rounds. It needs the shared library and the program, and its own time limit (the full
# mode fits scikit-learn on Fashion-MNIST for minutes).
ROUND=1
SK_WORKLOADS="digits fmnist-f64 fmnist-f32 fmnist-f64-bf16 fmnist-f32-bf16 python-vs-cli"
if ! "$PY" -c 'import numpy, sklearn' 2>/dev/null; then
    status sklearn-fit "$SK_WORKLOADS" "not installed" "import sklearn failed with $PY (apt-get install python3-sklearn)"
elif ! make -s build/libbackprop.so build/backprop >&2; then
    status sklearn-fit "$SK_WORKLOADS" "build failed" "make build/libbackprop.so build/backprop"
else
    SK_TIMEOUT=$TIMEOUT
    [ -n "$TIMEOUT" ] && TIMEOUT="timeout 1500"
    if [ $HAVE_PEAK = 1 ]; then SK_PEAK="--peak-bin $OUT/fma_peak"; else SK_PEAK=; fi
    # shellcheck disable=SC2086 # SK_PEAK is an option and its value, or nothing
    job sklearn-fit "$SK_WORKLOADS" "" "$PY" bench/sklearn_bench.py --mode "$MODE" --build build $SK_PEAK \
        --data "$DATA"
    TIMEOUT=$SK_TIMEOUT
fi

# Time per epoch of every optimizer (bench/optim.sh); BENCH_BASE=DIR adds the library
# built in DIR (say, main's tree) to the same rounds, for before/after ratios.
if [ "$MODE" = full ]; then OPTIM_MODE="--rounds 3"; else OPTIM_MODE=--quick; fi
sh bench/optim.sh $OPTIM_MODE --threads "$THREADS" ${BENCH_BASE:+--base "$BENCH_BASE"} \
    --json "$(dirname "$JSON")/optim-results.json" || echo "run.sh: bench/optim.sh failed" >&2

# Full-batch optimizers on small tabular sets against FANN and scikit-learn
# (bench/small_sets.py; several minutes, so full mode only).
if [ "$MODE" = full ]; then
    "$PY" bench/small_sets.py --json "$(dirname "$JSON")/small-sets.json" || echo "run.sh: bench/small_sets.py failed" >&2
fi

END=$(date +%s.%N)
WALL=$(awk -v a="$START" -v b="$END" 'BEGIN { printf "%.1f", b - a }')
mkdir -p "$(dirname "$JSON")"
exec "$PY" bench/report.py --raw "$RAW" --json "$JSON" --mode "$MODE" --threads "$THREADS" \
    --rounds "$ROUNDS" --wall "$WALL" \
    --w2 "$W2" --w2-torch "$W2_TORCH" --w2-numpy "$W2_NUMPY" --w1b1 "$W1B1" --w3 "$W3" \
    --cc "$CC" --data "$DATA" --lib-sha "$LIB_SHA"
