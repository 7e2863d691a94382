#!/bin/sh
# The AVX-512 GEMM kernel (src/kernels/gemm_avx512.c) on a CPU that may not have AVX-512: `make
# SIMDE=1` compiles it against SIMDe's emulation of the intrinsics (Debian libsimde-dev)
# and uses it wherever a 12 x 32 tile fits, and the whole unit suite runs on that build
# (GEMM shapes and epilogues against the naive product, fused == unfused and 1, 2, 3
# threads bitwise, gradients, training), less the GPU tests. The emulation needs AVX2 and
# FMA, whose fused multiply-add rounds as AVX-512's does. Skipped (and reported so)
# where SIMDe or those instructions are missing. Ends with "avx512: N passed, M failed[, K skipped]".
#
# Usage: sh tests/avx512-test.sh [BUILD_DIR [MAKE_VARIABLES...]]
#   (default build-simde; .ci/run passes build-simde-asan and the sanitizer flags)
build=${1:-build-simde}
[ $# -gt 0 ] && shift
if ! printf '#include <simde/x86/avx512.h>\n' | ${CC:-cc} -E -x c - > /dev/null 2>&1; then
    echo "skip AVX-512 kernel tests: SIMDe is not installed (apt-get install libsimde-dev)"
    echo "avx512: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
if ! grep -qw avx2 /proc/cpuinfo 2> /dev/null || ! grep -qw fma /proc/cpuinfo 2> /dev/null; then
    echo "skip AVX-512 kernel tests: the emulation needs a CPU with AVX2 and FMA"
    echo "avx512: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! make SIMDE=1 BUILD="$build" "$@" "$build/unit-tests" > "$log" 2>&1; then
    sed 's/^/    /' "$log"
    echo "FAIL make SIMDE=1"
    echo "avx512: 0 passed, 1 failed"
    exit 1
fi
"./$build/unit-tests" '!cuda' > "$log" 2>&1
code=$?
sed 's/^unit:/avx512:/' "$log"
exit $code
