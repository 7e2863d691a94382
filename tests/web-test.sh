#!/bin/sh
# The playground (web/, docs/PLAYGROUND.md): the engine's math and GEMM under WebAssembly,
# then the page in a real browser.
#
#   1. web/build.sh ... unit: the library and the C unit tests of the GEMM (the SIMD128
#      micro-kernel against bp_gemm_naive), its epilogues, the layers, the seeds' networks,
#      the three-way gradients and the explanation, compiled with emcc and run under Node;
#      then the same with the relaxed-SIMD kernel (f32x4.relaxed_madd, as the page runs it
#      where the browser has relaxed SIMD), under a Node that validates relaxed SIMD;
#   2. web/build.sh: build/web/playground.html; tests/web-relaxed-test.js: the opcode
#      rewrite and the patch (web/relaxed-simd.js, web/wasm-patch.js) on hand-written
#      modules and on the page's build;
#   3. tests/web-test.mjs: headless Chromium through playwright-core on that page from
#      file:// (training, the step view against `backprop explain --json`, CSV and model
#      errors, the CLI loading the page's models, links, frame rate), with screenshots in
#      build/web/screenshots/.
#
# Skipped, with one line saying what is missing, without emcc (Debian: emscripten
# node-acorn); the browser part alone is skipped without chromium or playwright-core
# (npm install --ignore-scripts --no-save playwright-core; .ci/run installs all three).
# Ends with "web: N passed, M failed[, K skipped]".
#
# Usage: sh tests/web-test.sh [BUILD_DIR]   (the native build with the backprop program)
build=${1:-build}
out=$build/web
if ! command -v emcc > /dev/null 2>&1 || ! command -v node > /dev/null 2>&1; then
    echo "skipped: the playground tests need Emscripten and Node (apt-get install emscripten node-acorn)"
    echo "web: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
# Node 20 runs relaxed SIMD only when asked to (later versions have it on).
relaxed_node=
node --experimental-wasm-relaxed-simd -e 0 > /dev/null 2>&1 && relaxed_node=--experimental-wasm-relaxed-simd
. "$(dirname "$0")/harness.sh"
log_lines=30

# 1. The unit tests under WebAssembly.
if sh web/build.sh "$out" unit > "$dir/log" 2>&1; then
    # Less the single-sample sweep of test_gradients.c: it asks the long-double reference to
    # agree with finite differences within 1e-7, but Emscripten's C library computes long
    # double exp and log in double precision (musl's ld128 expl, logl, log1pl call exp, log,
    # log1p), which leaves one softmax case at 4e-7. The batch sweeps run.
    if node "$out/unit-tests.js" '!three_ways_single_sample' > "$dir/log" 2>&1; then
        ok "the engine's unit tests under WebAssembly ($(tail -n 1 "$dir/log" | sed 's/^unit: //'))"
    else
        fail "the engine's unit tests under WebAssembly"
    fi
    # The build made unit-tests-relaxed.js only after web/relaxed-simd.js had rewritten its
    # FMAs and Node had validated the result, so this Node runs relaxed SIMD (with its flag).
    # shellcheck disable=SC2086 # empty or one flag
    if node $relaxed_node "$out/unit-tests-relaxed.js" '!three_ways_single_sample' > "$dir/log" 2>&1; then
        ok "the same with the relaxed-SIMD GEMM kernel ($(tail -n 1 "$dir/log" | sed 's/^unit: //'))"
    else
        fail "the engine's unit tests with the relaxed-SIMD GEMM kernel"
    fi
else
    fail "building the unit tests with emcc (web/build.sh $out unit)"
fi

# 2. The page.
if sh web/build.sh "$out" > "$dir/log" 2>&1; then
    ok "web/build.sh writes $out/playground.html ($(wc -c < "$out/playground.html") bytes, one file)"
else
    fail "web/build.sh"
    finish web
fi
# The relaxed-SIMD build step on hand-written modules, and the page's patch on its module.
# shellcheck disable=SC2086 # empty or one flag
if node $relaxed_node tests/web-relaxed-test.js "$out" > "$dir/log" 2>&1; then
    ok "web/relaxed-simd.js and web/wasm-patch.js ($(tail -n 1 "$dir/log"))"
else
    fail "web/relaxed-simd.js and web/wasm-patch.js"
fi
# One file: nothing in it may load from elsewhere.
if grep -Eq '(src|href)="(https?:)?//' "$out/playground.html"; then
    echo "    $(grep -Eo '(src|href)="(https?:)?//[^"]*' "$out/playground.html" | head -n 3)" > "$dir/log"
    fail "the page refers to no other file or host"
else
    ok "the page refers to no other file or host"
fi

# 3. The browser.
chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
    echo "skipped: the browser tests need Chromium (apt-get install chromium)"
    skipped=$((skipped + 1))
    finish web
fi
if ! node -e "import('playwright-core').catch(() => process.exit(1))" > /dev/null 2>&1; then
    echo "skipped: the browser tests need playwright-core (npm install --ignore-scripts --no-save playwright-core)"
    skipped=$((skipped + 1))
    finish web
fi
if [ ! -x "$build/backprop" ]; then
    echo "    no $build/backprop: run make first" > "$dir/log"
    fail "the browser tests"
    finish web
fi
CHROMIUM=$chromium timeout 300 node tests/web-test.mjs "$out/playground.html" "$build/backprop" "$dir" "$out/screenshots" \
    > "$dir/browser.log" 2>&1
code=$?
grep -v '^browser: ' "$dir/browser.log"
line=$(grep -E '^browser: [0-9]+ passed, [0-9]+ failed' "$dir/browser.log" | tail -n 1)
if [ -z "$line" ]; then
    echo "FAIL the browser tests ended without their summary (exit $code)"
    failed=$((failed + 1))
else
    passed=$((passed + $(echo "$line" | sed -E 's/^browser: ([0-9]+) passed.*/\1/')))
    failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
fi
finish web
