#!/bin/sh
# tools/gpu-check.sh - everything that needs an NVIDIA GPU, in one go, for a lent GPU
# machine (one call of the workplace's device tool) or any CUDA box: the CUDA build, the
# GPU-vs-CPU tests, W1 trained on the GPU and on the CPU with test accuracy, `make
# bench-gpu`, and compute-sanitizer on the GPU tests. Each step has a time limit and its
# own log in OUTDIR; a summary is printed last.
#
# usage: sh tools/gpu-check.sh OUTDIR [STEPS]     STEPS: any of build tests w1 bench sanitize
#                                                 paths profile mpi cpu (default: the first five)
# Fashion-MNIST is read from /usr/share/datasets/fashion-mnist, or from .data/fashion-mnist
# in the repository (linked there when the first is missing).
set -u
cd "$(dirname "$0")/.." || exit 1
out=${1:?usage: sh tools/gpu-check.sh OUTDIR [STEPS]}
shift
steps=${*:-build tests w1 bench sanitize}
mkdir -p "$out"
summary=$out/summary.txt
: > "$summary"
note() { echo "$*" | tee -a "$summary"; }
jobs=$(nproc 2> /dev/null || echo 4)
zlib_libs=$(pkg-config --libs zlib 2> /dev/null || echo -lz) # the library's .gz reader and CRC-32
F=/usr/share/datasets/fashion-mnist
if [ ! -f "$F/train-images-idx3-ubyte.gz" ] && [ -f .data/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    mkdir -p /usr/share/datasets 2> /dev/null && ln -sfn "$PWD/.data/fashion-mnist" "$F" 2> /dev/null
fi
# run NAME LIMIT CMD...: the command's output in OUTDIR/NAME.log, its status and time noted.
run() {
    name=$1 limit=$2
    shift 2
    t0=$(date +%s)
    timeout "$limit" "$@" >> "$out/$name.log" 2>&1
    rc=$?
    note "$name: '$*' exit $rc in $(($(date +%s) - t0)) s"
    return $rc
}
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
    "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" --version | tail -n 2
    ${CC:-cc} --version | head -n 1
    python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0))'
    echo "cpus: $(nproc)"
    grep PRETTY_NAME /etc/os-release
    echo "mpirun: $(command -v mpirun || echo none); libmpi: $(ldconfig -p | grep -c libmpi)"
} > "$out/env.log" 2>&1
note "machine: $(head -n 2 "$out/env.log" | tail -n 1)"

for s in $steps; do
    case $s in
    build)
        run build 600 make -j"$jobs" CUDA=1 build-cuda/unit-tests build-cuda/backprop || break ;;
    tests)
        run tests 300 build-cuda/unit-tests cuda
        grep -E 'passed|FAIL|skip' "$out/tests.log" | tail -n 20 >> "$summary"
        run tests 600 build-cuda/unit-tests
        tail -n 3 "$out/tests.log" >> "$summary" ;;
    w1)
        # W1 of ../shared/DESIGN.md, 10 epochs, on the GPU and then on the CPU (all cores).
        w1="--train $F/train-images-idx3-ubyte.gz --labels $F/train-labels-idx1-ubyte.gz
            --test $F/t10k-images-idx3-ubyte.gz --test-labels $F/t10k-labels-idx1-ubyte.gz
            --hidden 256,128 --batch 64 --lr 0.1 --epochs 10"
        # shellcheck disable=SC2086
        run w1 300 build-cuda/backprop train $w1 --device cuda -o "$out/w1-gpu.bpm"
        # shellcheck disable=SC2086
        run w1 300 build-cuda/backprop train $w1 --device cpu -o "$out/w1-cpu.bpm"
        grep -E 'epoch +(1|5|10)/10|rror' "$out/w1.log" | tail -n 6 >> "$summary"
        rm -f "$out"/w1-*.bpm ;;
    bench)
        run bench 420 sh bench/gpu.sh --json "$out/bench-gpu.json"
        sed -n '/^network/,$p' "$out/bench.log" >> "$summary" ;;
    sanitize)
        S=${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer
        command -v compute-sanitizer > /dev/null 2>&1 && S=compute-sanitizer
        run sanitize 240 "$S" --tool memcheck --error-exitcode 1 build-cuda/unit-tests cuda
        # racecheck looks at shared memory, which only backprop's own kernels use (cuBLAS's
        # would take it hours): the filter keeps it to the anonymous namespaces of
        # kernels.cu and fused.cu, and to the test that runs every variant of both paths
        # (the whole GPU suite under racecheck takes over 4 minutes).
        run sanitize 300 "$S" --tool racecheck --kernel-name kns=_GLOBAL__N_ --error-exitcode 1 \
            build-cuda/unit-tests fused_shapes
        grep -E 'ERROR SUMMARY|passed' "$out/sanitize.log" >> "$summary" ;;
    paths)
        # The two GPU step paths side by side (--path forces one), and the fused
        # kernel without its carry (--no-carry), with its per-phase times
        # (--profile): to check where fused.cu's choices should fall.
        BUILD_ONLY=1 sh bench/gpu.sh > /dev/null || { note "paths: gpu_bench did not build"; continue; }
        for shape in "784,256,128,10 64 938" "784,256,128,10 256 234" "784,256,128,10 1024 200" \
            "784,512,256,10 128 400" "784,1024,1024,10 64 400" "784,100,10 32 1000"; do
            set -- $shape
            for p in products fused nocarry; do
                case $p in
                nocarry) opts="--path fused --no-carry" ;;
                *) opts="--path $p" ;;
                esac
                # shellcheck disable=SC2086
                timeout 60 build-cuda/gpu_bench step "$1" "$2" --steps "$3" $opts --profile 2>&1 |
                    sed "s/^/$p /" >> "$out/paths.log"
            done
        done
        cat "$out/paths.log" >> "$summary" ;;
    profile)
        # Each kernel's time in a few steps (Nsight Compute), summed by kernel name. The
        # first 1500 launches are skipped: batches of 256+ time up to 8 candidate algorithms
        # 13 times for each of the 3L - 1 products (832 launches for L = 3) before the
        # warm-up epoch, and a step is 13 launches, so each shape runs enough steps (6
        # epochs of S) that launch 1500 falls in a timed epoch.
        BUILD_ONLY=1 sh bench/gpu.sh > /dev/null || { note "profile: gpu_bench did not build"; continue; }
        for shape in "784,256,128,10 64 50" "784,1024,1024,10 256 20" "784,1024,1024,10 4096 20" \
            "4096,4096,4096,4096 4096 20"; do
            set -- $shape
            ncu --clock-control none --metrics gpu__time_duration.sum --launch-skip 1500 --launch-count 40 --csv \
                build-cuda/gpu_bench step "$1" "$2" --steps "$3" > "$out/ncu.csv" 2> /dev/null
            echo "== $1 batch $2" >> "$out/profile.log"
            python3 tools/ncu-summary.py "$out/ncu.csv" >> "$out/profile.log" 2>&1
        done
        rm -f "$out/ncu.csv"
        cat "$out/profile.log" >> "$summary" ;;
    cpu)
        # The CPU side (issue 4) on this machine's cores, often a Xeon with AVX-512: the
        # AVX-512 flags, the GEMM tests on the kernels bp_gemm picks here, the AVX-512
        # kernel against the AVX2 one (a build with -DBP_NO_AVX512) on square 1024, W1 and
        # W3 at one thread, three interleaved rounds, then make bench-quick.
        note "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-); flags:$(grep -m1 -o -w 'avx512[a-z_]*' \
            /proc/cpuinfo | sort -u | tr '\n' ' ')"
        run cpu 300 make -j"$jobs" build/unit-tests build/libbackprop.a || continue
        run cpu 120 build/unit-tests gemm
        tail -n 1 "$out/cpu.log" >> "$summary"
        run cpu 300 make -j"$jobs" BUILD=build-noavx512 CFLAGS=-DBP_NO_AVX512 build-noavx512/libbackprop.a || continue
        for lib in build build-noavx512; do
            ${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Ibench -Iinclude -Isrc bench/bp_bench.c \
                $lib/libbackprop.a $zlib_libs -lm -lpthread -o $lib/bp_bench || continue 2
        done
        for round in 1 2 3; do
            for lib in build build-noavx512; do
                for w in "gemm --calls 10" "w3 --samples 4096" "w1 --epochs 1 --eval 0 --data $F"; do
                    # shellcheck disable=SC2086
                    timeout 120 $lib/bp_bench $w --threads 1 --seed 1 2>&1 | sed "s|^|$lib |" >> "$out/cpu-kernels.log"
                done
            done
        done
        cat "$out/cpu-kernels.log" >> "$summary"
        run cpu 300 sh bench/run.sh --quick --json "$out/bench-cpu.json"
        sed -n '/^W1/,$p' "$out/cpu.log" >> "$summary" ;;
    mpi)
        # Data-parallel scaling on this machine's cores (issue 7), with its Open MPI.
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
        run mpi 400 sh bench/mpi.sh --profile
        tail -n 60 "$out/mpi.log" >> "$summary"
        # The same without overlapping the sums with the backward pass, for comparison.
        run mpi-serial 300 sh bench/mpi.sh --overlap off --no-model
        tail -n 14 "$out/mpi-serial.log" >> "$summary" ;;
    *) note "unknown step $s" ;;
    esac
done
echo "==== summary"
cat "$summary"
