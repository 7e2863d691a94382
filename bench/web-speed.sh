#!/bin/sh
# The playground's training speed against native, measured in one run (issue 26's target:
# the browser at no less than 40% of the native single-thread speed).
#
#   sh bench/web-speed.sh [ROUNDS [SECONDS]]      (default 3 rounds of 3 s each)
#
# Workload: the digits network of `backprop demo`'s data (data/digits.csv.gz, 1,797 images,
# pixels / 16), 64-128-64-10, ReLU, softmax and cross-entropy, plain SGD at lr 0.1, batch 64,
# one thread, reshuffled every epoch. Four implementations, round by round so that a
# busy stretch of a shared machine hits all of them:
#   native        bench/web_speed.c on build/libbackprop.a (the AVX-512 kernel where the
#                 CPU has it, else AVX2)
#   native-avx2   the same on a build with -DBP_NO_AVX512 (build-noavx512/), the speed of a
#                 CPU without AVX-512
#   browser       the same calls in the playground's worker (headless Chromium), with the
#                 engine the page picks: its relaxed-SIMD build (f32x4.relaxed_madd) where
#                 Chromium has relaxed SIMD; bench/web-speed.mjs
#   browser-simd128  the same page with ?engine=simd128: the SIMD128 build (multiply, add)
# Each figure is the best samples per second after a 1 s warm-up, over runs of whole
# epochs of at least 0.1 s each (the browser's clock has 0.1 ms steps and an epoch takes
# 3-4 ms); the table gives each implementation's median and range over the rounds and the
# browsers' ratios to the natives (of the medians, and the range of the same-round ratios).
#
# Beside them, each round measures the arithmetic ceilings: bench/fma_peak.c's chains of
# AVX-512 and AVX2 FMAs natively, and bench/web_peak.c's chains in the same Chromium, of
# SIMD128 multiplies and adds and of relaxed_madds; the best of each over the rounds.
# With the network's flops per sample (forward n_l n_(l-1), dC/dW the same, delta through
# W^2 and W^3; 2 flops a multiply-add: 85,760) the table says how close each side trains to
# its ceiling, and what 40% of native would ask of the browser's.
# Needs make, emcc (the page), chromium and playwright-core.
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
seconds=${2:-3}
out=build/bench
mkdir -p "$out"
make -s build/libbackprop.a
make -s BUILD=build-noavx512 CFLAGS=-DBP_NO_AVX512 build-noavx512/libbackprop.a
sh web/build.sh build/web > /dev/null
# shellcheck disable=SC2046 # pkg-config's flags are a word list
zlib=$(pkg-config --libs zlib 2> /dev/null || echo -lz)
for lib in build build-noavx512; do
    # shellcheck disable=SC2086 # a word list
    cc -O2 -Iinclude bench/web_speed.c "$lib/libbackprop.a" $zlib -lm -pthread -o "$out/web_speed-$(basename "$lib")"
done
cc -O2 bench/fma_peak.c -pthread -o "$out/fma_peak"
[ -z "${NODE_PATH:-}" ] && [ -d /usr/share/nodejs/acorn ] && export NODE_PATH=/usr/share/nodejs
for flags in "-msimd128 web-peak" "-msimd128 -mrelaxed-simd web-peak-fma"; do
    # shellcheck disable=SC2086 # a word list
    emcc -O3 ${flags% *} -Wall -Wextra -Werror bench/web_peak.c -o "$out/${flags##* }.js" -s MODULARIZE=1 \
        -s EXPORT_NAME=createPeak -s SINGLE_FILE=1 -s ENVIRONMENT=web -s 'EXPORTED_FUNCTIONS=["_web_peak_run"]'
done
# clang 14's prototype FMA opcode into the standardized f32x4.relaxed_madd, as for the page.
relaxed_node=
node --experimental-wasm-relaxed-simd -e 0 > /dev/null 2>&1 && relaxed_node=--experimental-wasm-relaxed-simd
# shellcheck disable=SC2086 # empty or one flag
node $relaxed_node web/relaxed-simd.js rewrite "$out/web-peak-fma.js" "$out/web-peak-fma.js" > /dev/null
# The digits with pixels scaled to [0, 1], as plain CSV (the browser reads it through the
# library's CSV reader too).
gzip -dc data/digits.csv.gz | awk -F, 'BEGIN { OFS = "," } { for (i = 1; i < NF; i++) $i = $i / 16; print }' \
    > "$out/digits16.csv"

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "host: $cpu ($(grep -c ^processor /proc/cpuinfo) CPUs); $rounds rounds of $seconds s"
raw=$out/web-speed.txt
: > "$raw"
r=1
while [ "$r" -le "$rounds" ]; do
    n=$("$out/web_speed-build" "$out/digits16.csv" "$seconds")
    a=$("$out/web_speed-build-noavx512" "$out/digits16.csv" "$seconds")
    b=$(node bench/web-speed.mjs build/web/playground.html "$out/digits16.csv" "$seconds" "$out/web-peak.js" \
        "$out/web-peak-fma.js")
    s=$(node bench/web-speed.mjs 'build/web/playground.html?engine=simd128' "$out/digits16.csv" "$seconds")
    p=$("$out/fma_peak" --threads 1)
    for pair in "native $n" "native-avx2 $a" "browser $b" "browser-simd128 $s"; do
        name=${pair%% *}
        json=${pair#* }
        rate=$(echo "$json" | sed -n 's/.*"samples_per_second": *\([0-9]*\).*/\1/p')
        echo "round $r $name $rate" | tee -a "$raw"
    done
    # The ceilings: the best of each measurement's runs (GFLOP/s, one thread).
    for pair in "peak-avx512 $(echo "$p" | sed -n 's/.*"gflops_avx512": *\[\([^]]*\)\].*/\1/p')" \
                "peak-avx2 $(echo "$p" | sed -n 's/.*"gflops_avx2": *\[\([^]]*\)\].*/\1/p')" \
                "peak-simd128 $(echo "$b" | sed -n 's/.*"peak_gflops": *\[\([^]]*\)\].*/\1/p')" \
                "peak-fma $(echo "$b" | sed -n 's/.*"peak_fma_gflops": *\[\([^]]*\)\].*/\1/p')"; do
        best=$(echo "${pair#* }" | tr ',' '\n' | awk 'NF { if ($1 + 0 > m) m = $1 + 0 } END { print m + 0 }')
        echo "round $r ${pair%% *} $best" | tee -a "$raw"
    done
    r=$((r + 1))
done
awk '{ v[$3] = v[$3] " " $4; r[$2, $3] = $4; if ($2 > rounds) rounds = $2 }
     function median(list,   a, n, i, j, t) {
         n = split(list, a, " ")
         for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
         return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
     }
     function lo(list,   a, n, i, m) { n = split(list, a, " "); m = a[1] + 0; for (i = 2; i <= n; i++) if (a[i] + 0 < m) m = a[i] + 0; return m }
     function best(list,   a, n, i, m) {
         n = split(list, a, " ")
         for (i = 1; i <= n; i++) if (a[i] + 0 > m) m = a[i] + 0
         return m + 0
     }
     # The same-round ratios of web to nat: "min-max".
     function ratios(web, nat,   i, q, list) {
         for (i = 1; i <= rounds; i++) if (r[i, nat] > 0) list = list " " r[i, web] / r[i, nat]
         return sprintf("%.2f-%.2f", lo(list), best(list))
     }
     END {
         printf "\n%-16s %14s %20s\n", "", "samples/s", "(median; range)"
         split("native native-avx2 browser browser-simd128", names, " ")
         for (k = 1; k <= 4; k++)
             printf "%-16s %14.0f   (%.0f-%.0f)\n", names[k], median(v[names[k]]), lo(v[names[k]]), best(v[names[k]])
         nat = median(v["native"]); avx2 = median(v["native-avx2"]); web = median(v["browser"]); w128 = median(v["browser-simd128"])
         printf "\n%-38s %5s   %s\n", "ratio (of the medians; same-round range)", "", ""
         printf "  browser / native                    %.2f   (%s)\n", web / nat, ratios("browser", "native")
         printf "  browser / native-avx2               %.2f   (%s)\n", web / avx2, ratios("browser", "native-avx2")
         printf "  browser-simd128 / native            %.2f   (%s)\n", w128 / nat, ratios("browser-simd128", "native")
         printf "  browser-simd128 / native-avx2       %.2f   (%s)\n", w128 / avx2, ratios("browser-simd128", "native-avx2")
         printf "  browser / browser-simd128           %.2f   (%s)\n", web / w128, ratios("browser", "browser-simd128")
         # 64-128-64-10: forward and dC/dW 17,024 multiply-adds each, delta 8,832.
         flops = 2 * (2 * (64 * 128 + 128 * 64 + 64 * 10) + (128 * 64 + 64 * 10))
         p512 = best(v["peak-avx512"]); p2 = best(v["peak-avx2"]); p128 = best(v["peak-simd128"]); pf = best(v["peak-fma"])
         printf "\nceilings (GFLOP/s, one thread, registers only; best of the rounds):\n"
         printf "  native AVX-512 FMA %.1f, native AVX2 FMA %.1f,\n", p512, p2
         printf "  browser SIMD128 multiply+add %.1f, browser relaxed_madd %.1f\n", p128, pf
         printf "training at %d flops a sample:\n", flops
         if (p512 > 0) printf "  native          %5.1f GFLOP/s = %.2f of its AVX-512 ceiling\n", nat * flops / 1e9, nat * flops / 1e9 / p512
         if (p2 > 0)   printf "  native-avx2     %5.1f GFLOP/s = %.2f of its AVX2 ceiling\n", avx2 * flops / 1e9, avx2 * flops / 1e9 / p2
         if (pf > 0)   printf "  browser         %5.1f GFLOP/s = %.2f of its relaxed_madd ceiling\n", web * flops / 1e9, web * flops / 1e9 / pf
         if (p128 > 0) printf "  browser-simd128 %5.1f GFLOP/s = %.2f of its SIMD128 ceiling\n", w128 * flops / 1e9, w128 * flops / 1e9 / p128
         if (pf > 0)   printf "40%% of native would be %.1f GFLOP/s in the browser: %.2f of its relaxed_madd ceiling\n", 0.4 * nat * flops / 1e9, 0.4 * nat * flops / 1e9 / pf
     }' "$raw"
