#!/bin/sh
# bench/optim.sh - time per epoch of every optimizer (sgd, momentum, nesterov, adam,
# adamw, rprop) on digits (64-128-64-10, 200 epochs) and Fashion-MNIST
# (784-256-128-10, 2 epochs), batch 64, one thread (bench/optim_bench.c).
#
#   sh bench/optim.sh [--rounds N] [--base DIR] [--quick] [--threads N] [--json FILE]
#                     [--weight-decay WD] [--only OPTIMIZERS]
#
#   --base DIR   also time the library built in DIR/build/libbackprop.a (for example
#                main's tree at the branch point, built with make there) in the same
#                rounds, and print after/before ratios
#   --rounds N   rounds (default 3); every figure is the median over rounds, and every
#                ratio is taken within a round, then the median of those is printed
#   --quick      digits 40 epochs, Fashion-MNIST 1 epoch, one round
#   --weight-decay WD  train with weight decay WD (L2; decoupled for adamw), as
#                scikit-learn's alpha does (alpha 1e-4 at batch 64: 1.5625e-6)
#   --only LIST  these optimizers only (comma-separated; sgd is always timed, as the
#                reference of the ratios)
#
# Builds and runs round by round, each optimizer of each library in turn, so a slow
# stretch of a shared machine hits all of them. Prints each optimizer's epoch time as
# a ratio to plain SGD's in the same round (and, with --base, to the same optimizer
# in the base library). With one thread the times are the process's CPU seconds,
# which leave out the time other programs had the core (wall-clock seconds are in
# the JSON too); with more, wall-clock seconds. Needs make, cc and python3.
set -u
ROUNDS=3
BASE=
THREADS=1
JSON=
QUICK=0
WD=0
ONLY=
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) shift; ROUNDS=${1:-} ;;
        --base) shift; BASE=${1:-} ;;
        --threads) shift; THREADS=${1:-} ;;
        --json) shift; JSON=${1:-} ;;
        --quick) QUICK=1; ROUNDS=1 ;;
        --weight-decay) shift; WD=${1:-} ;;
        --only) shift; ONLY=${1:-} ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "optim.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
case "$ROUNDS" in ''|*[!0-9]*|0) echo "optim.sh: --rounds needs a positive whole number" >&2; exit 2 ;; esac

cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
OUT=$ROOT/build/bench
mkdir -p "$OUT" || exit 1
[ -n "$JSON" ] || JSON=$ROOT/build/optim-results.json
RAW=$OUT/optim.jsonl
: > "$RAW"
CC=${CC:-cc}
HFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Ibench -Iinclude"
ZLIB_LIBS=$(pkg-config --libs zlib 2>/dev/null || echo -lz)
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=python3; fi

make -s build/libbackprop.a >&2 || { echo "optim.sh: building the library failed" >&2; exit 1; }
$CC $HFLAGS bench/optim_bench.c build/libbackprop.a $ZLIB_LIBS -lm -lpthread -o "$OUT/optim_bench" || exit 1
IMPLS="after"
if [ -n "$BASE" ]; then
    if [ ! -f "$BASE/build/libbackprop.a" ]; then
        echo "optim.sh: no $BASE/build/libbackprop.a (run make there first)" >&2
        exit 1
    fi
    $CC $HFLAGS bench/optim_bench.c "$BASE/build/libbackprop.a" $ZLIB_LIBS -lm -lpthread \
        -o "$OUT/optim_bench_base" || exit 1
    IMPLS="before after"
fi

DATA=/usr/share/datasets/fashion-mnist
WORKLOADS=digits
if [ -f "$DATA/train-images-idx3-ubyte.gz" ]; then WORKLOADS="digits fmnist"
else echo "optim.sh: no Fashion-MNIST in $DATA (apt-get install dataset-fashion-mnist): digits only" >&2; fi
if [ $QUICK = 1 ]; then DIGITS_EPOCHS=40; FMNIST_EPOCHS=1; else DIGITS_EPOCHS=200; FMNIST_EPOCHS=2; fi

echo "optimizer bench: $ROUNDS round(s), $THREADS thread(s), weight decay $WD, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')" >&2
R=1
while [ $R -le "$ROUNDS" ]; do
    for w in $WORKLOADS; do
        if [ $w = digits ]; then E=$DIGITS_EPOCHS; else E=$FMNIST_EPOCHS; fi
        for opt in sgd momentum nesterov adam adamw rprop; do
            case ",sgd,$ONLY," in *",$opt,"*|",sgd,,") ;; *) continue ;; esac
            for impl in $IMPLS; do
                if [ $impl = before ]; then prog=$OUT/optim_bench_base; else prog=$OUT/optim_bench; fi
                printf '  [round %d/%d] %-6s %-6s %-8s ... ' $R "$ROUNDS" $impl $w $opt >&2
                line=$("$prog" $w --optimizer $opt --epochs $E --seed $R --threads "$THREADS" --impl $impl \
                    --weight-decay "$WD" --data "$DATA" --digits data/digits.csv.gz) || { echo failed >&2; continue; }
                printf '%s\n' "$line" | sed "s/^{/{\"round\": $R, /" >> "$RAW"
                printf '%s\n' "$line" | sed 's/.*"epoch_s": \([^,]*\),.*"epoch_cpu_s": \([^,]*\),.*/\1 s per epoch (\2 s CPU)/' >&2
            done
        done
    done
    R=$((R + 1))
done

"$PY" - "$RAW" "$JSON" "$THREADS" <<'EOF'
import json, statistics, sys
raw, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(l) for l in open(raw) if l.strip()]
key = 'epoch_cpu_s' if threads == 1 and all('epoch_cpu_s' in r for r in rows) else 'epoch_s'
for r in rows: r['t'] = r[key]
def med(xs): return statistics.median(xs) if xs else float('nan')
by = {}
for r in rows: by[(r['round'], r['impl'], r['workload'], r['optimizer'])] = r
rounds = sorted({r['round'] for r in rows}); impls = [i for i in ('before', 'after') if any(r['impl'] == i for r in rows)]
result = []
for w in ('digits', 'fmnist'):
    opts = [o for o in ('sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'rprop') if any(r['workload'] == w and r['optimizer'] == o for r in rows)]
    if not opts: continue
    what = "CPU seconds" if key == 'epoch_cpu_s' else "seconds"
    print(f"\n{w}: {what} per epoch (median over {len(rounds)} round(s)); x sgd = this optimizer over plain SGD, same build, same round")
    head = f"{'optimizer':10}" + ''.join(f"{i + ' s/epoch':>17}{i + ' x sgd':>14}" for i in impls)
    if len(impls) == 2: head += f"{'after/before':>14}{'test acc before/after':>24}"
    print(head)
    for o in opts:
        line, rec = f"{o:10}", {'workload': w, 'optimizer': o}
        for i in impls:
            t = [by[(k, i, w, o)]['t'] for k in rounds if (k, i, w, o) in by]
            x = [by[(k, i, w, o)]['t'] / by[(k, i, w, 'sgd')]['t'] for k in rounds if (k, i, w, o) in by and (k, i, w, 'sgd') in by]
            line += f"{med(t):17.4g}{med(x):14.2f}"
            rec[i] = {'epoch_s': t, 'x_sgd': med(x), 'accuracy': [by[(k, i, w, o)]['accuracy'] for k in rounds if (k, i, w, o) in by]}
        if len(impls) == 2:
            s = [by[(k, 'after', w, o)]['t'] / by[(k, 'before', w, o)]['t'] for k in rounds if (k, 'after', w, o) in by and (k, 'before', w, o) in by]
            a = [100 * med(rec[i]['accuracy']) for i in impls]
            line += f"{med(s):14.2f}{a[0]:12.2f} /{a[1]:6.2f}"
            rec['after_over_before'] = med(s)
        print(line)
        result.append(rec)
json.dump({'rows': rows, 'summary': result, 'measure': key}, open(out, 'w'), indent=1)
print(f"\n(all numbers: {out})")
EOF
