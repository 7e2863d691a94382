#!/bin/sh
# web/build.sh - the playground page: libbackprop compiled to WebAssembly with
# Emscripten and embedded, with the page's scripts and styles, in one file.
#
#   sh web/build.sh [OUT]          OUT/playground.html (default OUT: build/web)
#   sh web/build.sh [OUT] unit     instead OUT/unit-tests.js and OUT/unit-tests-relaxed.js:
#                                  the C unit tests of the engine's math under Node, with
#                                  each GEMM kernel (tests/web-test.sh)
#
# Steps: every src/*/*.c and web/*.c compiled by emcc -O3 -msimd128 into OUT/obj
# (again only when the source or a header changed), and src/kernels/gemm_wasm.c once
# more with -mrelaxed-simd (its fused multiply-add); linked into OUT/engine.js (the
# .wasm embedded, SINGLE_FILE, since a page opened from file:// cannot fetch a
# second file) and, with the relaxed kernel, OUT/engine-relaxed.js, whose prototype
# FMA opcodes web/relaxed-simd.js rewrites into the standardized ones; the function
# bodies in which the two differ become OUT/relaxed-patch.json; web/assemble.js then
# writes OUT/playground.html with the first module and the patch.
#
# Needs emcc (Debian: emscripten) and, for Emscripten's JavaScript optimizer, acorn
# (Debian: node-acorn, found through NODE_PATH=/usr/share/nodejs), and zlib's header
# (zlib1g-dev), whose declarations web/zlib_shim.c implements. Nothing is downloaded.
set -eu
cd "$(dirname "$0")/.."
out=${1:-build/web}
mode=${2:-page}

if ! command -v emcc >/dev/null 2>&1; then
    echo "web/build.sh: emcc not found: install Emscripten (apt-get install emscripten node-acorn)" >&2
    exit 1
fi
if [ -z "${NODE_PATH:-}" ] && [ -d /usr/share/nodejs/acorn ]; then
    export NODE_PATH=/usr/share/nodejs
fi
# Emscripten's cache (its C library, built once) must be writable; a user without
# write access to the system's gets one of their own.
if [ -z "${EM_CACHE:-}" ] && [ ! -w /usr/share/emscripten/cache ] && [ -d /usr/share/emscripten/cache ]; then
    export EM_CACHE="$HOME/.cache/emscripten"
fi

# zlib.h and zconf.h from the system, and nothing else of /usr/include, on emcc's path.
mkdir -p "$out/obj" "$out/zlib"
# shellcheck disable=SC2046 # pkg-config's flags are a word list
zlib_h=$(echo '#include <zlib.h>' | ${CC:-cc} $(pkg-config --cflags zlib 2>/dev/null) -E -x c - 2>/dev/null |
    sed -n 's/^# [0-9]* "\(.*\/zlib\.h\)".*/\1/p' | head -n 1)
if [ -z "$zlib_h" ] || [ ! -f "$(dirname "$zlib_h")/zconf.h" ]; then
    echo "web/build.sh: zlib.h not found: install zlib1g-dev" >&2
    exit 1
fi
cp "$zlib_h" "$(dirname "$zlib_h")/zconf.h" "$out/zlib/"

CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -O3 -msimd128 -Wall -Wextra -Werror -Iinclude -Isrc -I$out/zlib"

# Compile what changed: an object older than its source, or than any header (or this script).
stale() {
    [ -f "$2" ] || return 0
    [ -n "$(find "$1" include src tests/test.h web/build.sh -newer "$2" \
        \( -name '*.h' -o -path "$1" -o -name build.sh \) -print 2> /dev/null | head -n 1)" ]
}
todo=$(mktemp)
trap 'rm -f "$todo"' EXIT
sources="src/*/*.c web/*.c"
if [ "$mode" = unit ]; then
    tests=$(cat web/unit-tests.txt)
    sources="$sources tests/main.c $tests"
    # shellcheck disable=SC2086 # a word list
    sed -n 's/^void \(test_[A-Za-z0-9_]*\)(void).*$/TEST(\1)/p' $tests > "$out/test_list.h"
    rm -f "$out/obj/tests_main.o"
fi
objects=
for c in $sources; do
    o="$out/obj/$(echo "$c" | tr / _ | sed 's/\.c$/.o/')"
    objects="$objects $o"
    if stale "$c" "$o"; then
        echo "$c -o $o" >> "$todo"
    fi
done
# The GEMM kernel with relaxed SIMD's fused multiply-add (gemm_wasm.c's madd).
kernel=src/kernels/gemm_wasm.c
relaxed_kernel=$out/obj/src_kernels_gemm_wasm-relaxed.o
if stale "$kernel" "$relaxed_kernel"; then
    echo "-mrelaxed-simd $kernel -o $relaxed_kernel" >> "$todo"
fi
if [ -s "$todo" ]; then
    echo "web/build.sh: compiling $(wc -l < "$todo") C files with emcc"
    # tests/main.c includes the generated list of the tests that are built.
    # shellcheck disable=SC2016 # $0, $1 and $@ are the inner shell's
    xargs -P 2 -L 1 sh -c 'emcc '"$CFLAGS"' -I'"$out"' -c "$@"' emcc < "$todo"
fi
lib_objects=$(for o in $objects; do case $o in *_tests_*) ;; *) echo "$o" ;; esac; done)
# The same objects with the relaxed kernel in place of the SIMD128 one.
swap() { for o in $1; do case $o in */src_kernels_gemm_wasm.o) echo "$relaxed_kernel" ;; *) echo "$o" ;; esac; done; }

# Node 20 validates relaxed SIMD only when asked to (later versions have it on).
relaxed_node=
if node --experimental-wasm-relaxed-simd -e 0 > /dev/null 2>&1; then
    relaxed_node=--experimental-wasm-relaxed-simd
fi
# shellcheck disable=SC2086 # empty or one flag
relaxed_simd() { node $relaxed_node web/relaxed-simd.js "$@"; }

if [ "$mode" = unit ]; then
    # The unit tests of the math and the GEMM, under Node with the real file system, once
    # with each kernel.
    # shellcheck disable=SC2086 # word lists
    emcc -O3 -msimd128 $objects -s NODERAWFS=1 -s SINGLE_FILE=1 -s ALLOW_MEMORY_GROWTH=1 \
        -s ENVIRONMENT=node -s EXIT_RUNTIME=1 -o "$out/unit-tests.js"
    # shellcheck disable=SC2046,SC2086 # word lists
    emcc -O3 -msimd128 -mrelaxed-simd $(swap "$objects") -s NODERAWFS=1 -s SINGLE_FILE=1 -s ALLOW_MEMORY_GROWTH=1 \
        -s ENVIRONMENT=node -s EXIT_RUNTIME=1 -o "$out/unit-tests-relaxed.js"
    relaxed_simd rewrite "$out/unit-tests-relaxed.js" "$out/unit-tests-relaxed.js"
    exit 0
fi

# The functions the worker calls: every bp_ and web_ name in its table of signatures.
exports=$(grep -o "^ *\(bp\|web\)_[a-z0-9_]*:" web/worker.js | tr -d ' :' | sed 's/^/_/' | sort -u | tr '\n' ',')
link() {
    # shellcheck disable=SC2086 # word lists
    emcc -O3 -msimd128 "$@" \
        -s MODULARIZE=1 -s EXPORT_NAME=createEngine -s ENVIRONMENT=worker,node -s SINGLE_FILE=1 \
        -s ALLOW_MEMORY_GROWTH=1 -s FORCE_FILESYSTEM=1 -s FILESYSTEM=1 \
        -s "EXPORTED_FUNCTIONS=[${exports}_malloc,_free]" \
        -s 'EXPORTED_RUNTIME_METHODS=["cwrap","UTF8ToString","stringToUTF8","lengthBytesUTF8","FS"]'
}
# shellcheck disable=SC2086 # a word list
link $lib_objects -o "$out/engine.js"
# shellcheck disable=SC2046 # a word list
link -mrelaxed-simd $(swap "$lib_objects") -o "$out/engine-relaxed.js"
relaxed_simd rewrite "$out/engine-relaxed.js" "$out/engine-relaxed.js"
relaxed_simd patch "$out/engine.js" "$out/engine-relaxed.js" "$out/relaxed-patch.json"
node web/assemble.js web "$out/engine.js" "$out/relaxed-patch.json" "$out/playground.html"
echo "web/build.sh: wrote $out/playground.html ($(wc -c < "$out/playground.html") bytes)"
