#!/bin/sh
# Data-parallel scaling: samples/s and parallel efficiency of `mpirun -np N backprop train`
# for N = 1, 2, 4, 8 on W1 (784-256-128-10, global batch 512) and W3 (784-1024-1024-10,
# batch 256), one thread per rank. Efficiency(N) = rate(N) / (N rate(1)). On a machine
# with fewer cores than N the ranks share cores and the efficiency says so.
#
# Then a model for machines this one cannot stand in for: bench/allreduce.c times the
# allreduce of each network's gradient (floats) on N ranks, and with the one-rank step
# time t1 = batch / rate(1), the step on N ranks is about t1 / N + allreduce(N), so
# efficiency(N) ~ (t1 / N) / (t1 / N + allreduce(N)). On N ranks sharing fewer cores the
# allreduce is measured slower than it would be on N free cores, so the model errs low.
# With the sums overlapped with the backward pass, the best case leaves only the last
# piece's sum after the pass: a second column puts its allreduce in place of the whole.
#
# --bind core|none: mpirun's --bind-to for the training runs (default: mpirun's own choice,
# which for more than 2 ranks is a whole socket); --profile: each rank also prints the time
# it spent in the gradient sums (BP_MPI_PROFILE); --no-model: skip the allreduce timings;
# --overlap on|off: force the sums' overlap with the backward pass (BP_MPI_OVERLAP; by
# default backprop overlaps them where every rank has a CPU to spare for the sum thread).
# usage: sh bench/mpi.sh [--ranks "1 2 4 8"] [--epochs 1] [--bind core|none] [--profile] [--no-model]
#                        [--overlap on|off]
ranks="1 2 4 8"
epochs=1
bind=""
model=1
while [ $# -gt 0 ]; do
    case $1 in
    --ranks) ranks=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --bind) bind="--bind-to $2"; shift 2 ;;
    --profile) export BP_MPI_PROFILE=1; shift ;;
    --no-model) model=0; shift ;;
    --overlap) case $2 in on) export BP_MPI_OVERLAP=1 ;; off) export BP_MPI_OVERLAP=0 ;; *) set -- bad ;; esac
               [ "$1" = bad ] || shift 2 ;;
    *) echo "usage: sh bench/mpi.sh [--ranks \"1 2 4 8\"] [--epochs N] [--bind core|none] [--profile] [--no-model]" \
            "[--overlap on|off]"; exit 2 ;;
    esac
done
command -v mpirun > /dev/null 2>&1 || { echo "Open MPI is not installed (apt-get install libopenmpi-dev openmpi-bin)"; exit 1; }
make MPI=1 build-mpi/backprop > /dev/null || exit 1
mpicc -std=c11 -O2 -Wall -Wextra -Werror bench/allreduce.c -o build-mpi/allreduce || exit 1
# The ring algorithm for the non-blocking allreduce, as backprop itself picks (cli/mpi.c).
export OMPI_MCA_coll_libnbc_iallreduce_algorithm=${OMPI_MCA_coll_libnbc_iallreduce_algorithm:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
F=/usr/share/datasets/fashion-mnist
if [ -f "$F/train-images-idx3-ubyte.gz" ]; then
    data="--train $F/train-images-idx3-ubyte.gz --labels $F/train-labels-idx1-ubyte.gz"
    what="Fashion-MNIST (60,000 samples)"
else
    awk 'BEGIN { srand(5); for (i = 0; i < 20000; i++) { k = i % 10; line = "";
         for (j = 0; j < 784; j++) line = line sprintf("%d,", (j % 10 == k) ? 100 + int(rand() * 155) : int(rand() * 60));
         print line k } }' > "$dir/data.csv"
    data="--train $dir/data.csv --input-scale 255"
    what="synthetic 784-input data (20,000 samples)"
fi
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) logical CPUs"
echo "data: $what; $epochs epoch(s) per run; rate = samples / training seconds (rank 0's --json)${bind:+; mpirun $bind}"
echo "sums overlapped with the backward pass: $(case ${BP_MPI_OVERLAP:-} in 1) echo on ;; 0) echo off ;;
    *) echo "where every rank has a CPU to spare ($(nproc) logical CPUs here)" ;; esac)"
for workload in W1 W3; do
    if [ $workload = W1 ]; then net="--hidden 256,128 --batch 512 --lr 0.4" batch=512 params=235146
    else net="--hidden 1024,1024 --batch 256 --lr 0.1" batch=256 params=1863690; fi
    # The last piece of an overlapped step (docs/DISTRIBUTED.md): the first rows of the
    # first layer's dW, 85 of 256 rows for W1, 256 of 1024 for W3, times 784 inputs.
    if [ $workload = W1 ]; then last=66640; else last=200704; fi
    net="$net --threads 1"
    echo
    echo "$workload ($net; the global batch and learning rate stay the same whatever N)"
    printf "  %-6s %14s %12s\n" ranks samples/s efficiency
    base=""
    for n in $ranks; do
        # shellcheck disable=SC2086
        rate=$(timeout 600 mpirun $bind -np "$n" build-mpi/backprop train $data $net --epochs "$epochs" --json \
            2> "$dir/err" | grep '"epoch"' | sed -n 's/.*"samples_per_second":\([0-9.]*\).*/\1/p' | sort -n | tail -n 1)
        [ -z "${BP_MPI_PROFILE:-}" ] || sed -n 's/^backprop: /    /p' "$dir/err" | sort -t' ' -k3n
        [ -n "$rate" ] || { printf "  %-6s %14s\n" "$n" failed; continue; }
        [ -n "$base" ] || base=$rate
        printf "  %-6s %14.0f %11.0f%%\n" "$n" "$rate" "$(awk -v r="$rate" -v n="$n" -v b="$base" "BEGIN { print 100 * r / (n * b) }")"
    done
    [ -n "$base" ] && [ $model = 1 ] || continue
    echo "  model: one-rank step $(awk -v b=$batch -v r="$base" 'BEGIN { printf "%.2f", 1000 * b / r }') ms;" \
        "gradient $params floats ($(awk -v p=$params 'BEGIN { printf "%.1f", p * 4 / 1048576 }') MiB) per allreduce"
    echo "  with the sums overlapped, at best only the last piece's ($last floats) is left after the pass"
    printf "  %-6s %14s %14s %12s %16s %12s\n" ranks "allreduce ms" "step ms" "efficiency" "last piece ms" "overlapped"
    for n in $ranks; do
        [ "$n" -gt 1 ] || continue
        times=$(timeout 300 mpirun -np "$n" build-mpi/allreduce $params $last 2>/dev/null |
            sed -n 's/.*"iallreduce_s": \([0-9.e-]*\).*/\1/p' | tr '\n' ' ')
        # shellcheck disable=SC2086
        set -- $times
        [ $# -eq 2 ] || { printf "  %-6s %14s\n" "$n" failed; continue; }
        awk -v n="$n" -v ar="$1" -v lp="$2" -v b=$batch -v r="$base" 'BEGIN { t = b / r / n
            printf "  %-6s %14.3f %14.2f %11.0f%% %16.3f %11.0f%%\n", n, 1000 * ar, 1000 * (t + ar), 100 * t / (t + ar),
                   1000 * lp, 100 * t / (t + lp) }'
    done
done
