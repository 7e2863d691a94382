#!/bin/sh
# Runs every test suite and prints one closing line: "N passed, M failed[, K skipped]".
#
#   unit   build/unit-tests (C unit tests: engine, gradients, GEMM, CSV, model files)
#   cli    tests/cli-tests.sh (the backprop program end to end)
#   readme tests/readme-test.sh (the C example in README.md compiles and runs)
#   export tests/export-test.sh (export-c output compiles and matches predict)
#   int8   tests/int8-test.sh (export-c --int8 output compiles and equals predict --int8)
#   onnx   tests/onnx-test.sh (export-onnx read by onnx.checker, OpenCV and ONNX Runtime;
#          each skipped when not installed)
#   mcu    tests/mcu-test.sh (export-c --int8 on a Cortex-M4 under QEMU = the host build;
#          skipped without arm-none-eabi-gcc and qemu-system-arm)
#   hostile tests/hostile-test.sh (forged, damaged and huge files: exit 1, 1 s, bounded memory)
#   resume tests/resume-test.sh (SIGKILL/SIGINT mid-training, resume: bitwise the same model)
#   mpi    tests/mpi-test.sh (make MPI=1; N ranks = one process; skipped without Open MPI)
#   avx512 tests/avx512-test.sh (make SIMDE=1: the unit suite on the AVX-512 GEMM kernel,
#          emulated; skipped without SIMDe)
#   torch  tests/torch_compare.py (gradients against PyTorch; skipped without it)
#   python tests/python-test.sh (the Python package: pytest, check_estimator, the offline
#          install; skipped without python3, NumPy and pytest)
#   web    tests/web-test.sh (the playground: the engine under WebAssembly, the page in headless
#          Chromium; skipped without Emscripten, Chromium or playwright-core)
#   structure tools/check-structure.py (no dependency cycles, one-way layers, the export
#          list, a library that never prints or reads the environment)
#
# Usage: sh tests/run-all.sh [BUILD_DIR]
build=${1:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
passed=0
failed=0
skipped=0

# Add up the "NAME: N passed, M failed[, K skipped]" line a suite ends with.
tally() {
    line=$(grep -E '^[a-z0-9]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $1: the suite ended without its summary line"
        failed=$((failed + 1))
        return
    fi
    p=$(echo "$line" | sed -E 's/^[a-z0-9]+: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + ${s:-0}))
}

run() {
    name=$1
    shift
    echo "== $name"
    "$@" >"$log" 2>&1
    code=$?
    cat "$log"
    tally "$name"
    [ $code -eq 0 ] || status=1
}

run unit "./$build/unit-tests"
run cli sh tests/cli-tests.sh "$build"
run readme sh tests/readme-test.sh "$build"
run export sh tests/export-test.sh "$build"
run int8 sh tests/int8-test.sh "$build"
run onnx sh tests/onnx-test.sh "$build"
run mcu sh tests/mcu-test.sh "$build"
run hostile sh tests/hostile-test.sh "$build"
run resume sh tests/resume-test.sh "$build"
run mpi sh tests/mpi-test.sh "$build"
run avx512 sh tests/avx512-test.sh
# PyTorch lives in Debian's python3; the first python3 on PATH may be another install.
python=/usr/bin/python3
[ -x "$python" ] || python=python3
run torch "$python" tests/torch_compare.py "$build"
run python sh tests/python-test.sh "$build"
run web sh tests/web-test.sh "$build"
if command -v "$python" >/dev/null 2>&1 && command -v nm >/dev/null 2>&1; then
    run structure "$python" tools/check-structure.py "$build"
else
    echo "== structure"; echo "skipped: tools/check-structure.py needs python3 and nm"; skipped=$((skipped + 1))
fi

echo
if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ] || status=1
exit $status
