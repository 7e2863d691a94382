#!/bin/sh
# bench/ab.sh - two builds of backprop against each other on W1, W2 and W3, in
# interleaved rounds (A B, then B A, ...), so that a slow stretch of a shared
# machine hits both alike. Prints each workload's median time for A and B and
# the ratio B/A (below 1: B is faster), with the rounds' range.
#
#   sh bench/ab.sh A_TREE B_TREE [--rounds N] [--workloads "w1 w2 w3"] [--precision bf16]
#
# --precision (fp32 by default) is passed to W1 and W3 (W2 trains per sample
# in float32 whatever it says).
#
# Each tree is a checkout of backprop whose library is built (make): its own
# bench/bp_bench.c is compiled against its own headers and build/libbackprop.a,
# so two versions with different APIs compare fairly. Use it for every before/
# after claim about a change (e.g. a clone of main at the branch point as A).
set -u
[ $# -ge 2 ] || { sed -n '2,15p' "$0"; exit 2; }
A=$(cd "$1" && pwd) || exit 2
B=$(cd "$2" && pwd) || exit 2
shift 2
ROUNDS=5
WORKLOADS="w1 w2 w3"
PRECISION=fp32
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) shift; ROUNDS=$1 ;;
        --workloads) shift; WORKLOADS=$1 ;;
        --precision) shift; PRECISION=$1 ;;
        *) echo "ab.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done
DATA=/usr/share/datasets/fashion-mnist
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
CC=${CC:-cc}
ZLIB=$(pkg-config --libs zlib 2>/dev/null || echo -lz)

for side in A B; do
    eval tree=\$$side
    [ -f "$tree/build/libbackprop.a" ] || { echo "ab.sh: $tree/build/libbackprop.a is missing: run make there" >&2; exit 1; }
    $CC -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -I"$tree/bench" -I"$tree/include" -I"$tree/src" \
        "$tree/bench/bp_bench.c" "$tree/build/libbackprop.a" $ZLIB -lm -lpthread -o "$OUT/bench_$side" ||
        { echo "ab.sh: bp_bench does not build in $tree" >&2; exit 1; }
done

# One timing (seconds) of workload $2 by build $1.
run() {
    case $2 in
        w1) "$OUT/bench_$1" w1 --epochs 1 --eval 0 --data "$DATA" --precision "$PRECISION" | sed -n 's/.*"epoch_s": \[\([0-9.e-]*\).*/\1/p' ;;
        w2) "$OUT/bench_$1" w2 --samples 1000000 | sed -n 's/.*"seconds": \([0-9.e-]*\).*/\1/p' ;;
        w3) "$OUT/bench_$1" w3 --samples 8192 --precision "$PRECISION" | sed -n 's/.*"seconds": \([0-9.e-]*\).*/\1/p' ;;
    esac
}

r=1
while [ "$r" -le "$ROUNDS" ]; do
    for w in $WORKLOADS; do
        if [ $((r % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
        for side in $order; do
            t=$(run "$side" "$w")
            [ -n "$t" ] || { echo "ab.sh: $w by $side printed no time" >&2; exit 1; }
            echo "$t" >> "$OUT/$w.$side"
        done
    done
    r=$((r + 1))
done

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), 1 thread, $ROUNDS rounds, $PRECISION"
echo "A: $A"
echo "B: $B"
printf '%-4s %12s %12s %8s   %s\n' workload "A median s" "B median s" "B/A" "B/A per round (min-max)"
for w in $WORKLOADS; do
    paste "$OUT/$w.A" "$OUT/$w.B" | awk -v w="$w" '
        { a[NR] = $1; b[NR] = $2; q[NR] = $2 / $1 }
        function median(v, n,   i, j, t) {
            for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        END {
            n = NR; ma = median(a, n); mb = median(b, n); mq = median(q, n)
            printf "%-8s %12.4f %12.4f %8.3f   %.3f-%.3f\n", w, ma, mb, mq, q[1], q[n]
        }'
done
