#!/bin/sh
# `backprop export-c --int8` end to end: the generated C compiles warning-free as C99
# (gcc, and clang when present) and gives exactly the outputs of `backprop predict --int8`
# (the library's integer pass on AVX-512 VNNI, AVX2 or portable code) for every hidden
# activation and several outputs, with and without biases and input preprocessing; and
# `eval --int8`, `predict --int8` and `export-c --int8` refuse what they cannot do with
# the right exit status and a message that says why.
#
# Usage: sh tests/int8-test.sh [BUILD_DIR]; ends with "int8: N passed, M failed".
build=${1:-build}
program="$build/backprop"
. "$(dirname "$0")/harness.sh"

# Data: 5 inputs, 3 classes, 400 rows; a regression target; a calibration set of its own.
awk 'BEGIN { srand(5); for (i = 0; i < 400; i++) { a = rand(); b = rand() * 10; c = rand() - 0.5; d = rand() * 3; e = -rand();
     k = (a + c > 0.6) ? 2 : (b > 5 ? 1 : 0); printf "%.4f,%.4f,%.4f,%.4f,%.4f,%d\n", a, b, c, d, e, k } }' > "$dir/class.csv"
awk -F, '{ printf "%s,%s,%s,%s,%s,%.5f\n", $1, $2, $3, $4, $5, 0.3 * $1 - 0.05 * $2 + $3 + 0.1 * $4 }' "$dir/class.csv" > "$dir/values.csv"
awk -F, '{ printf "%s,%s,%s,%s,%s,%d\n", $1, $2, $3, $4, $5, ($6 == 2) }' "$dir/class.csv" > "$dir/binary.csv"
cut -d, -f1-5 "$dir/class.csv" > "$dir/inputs.csv"
head -n 300 "$dir/inputs.csv" > "$dir/calibration.csv"

cat > "$dir/main.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "net.c"
/* The shortest of 6 to 9 significant digits that reads back as v: the digits `backprop
   predict` prints, so that the two files compare as numbers. */
static void print_float(float v)
{
    char text[32];
    int p;
    for (p = 6; p < 9; p++) {
        snprintf(text, sizeof text, "%.*g", p, (double)v);
        if (strtof(text, NULL) == v) break;
    }
    snprintf(text, sizeof text, "%.*g", p, (double)v);
    fputs(text, stdout);
}
/* Each line of 5 raw inputs -> the dequantized outputs, then the class the generated
   code returns. */
int main(void)
{
    float x[net_INPUTS];
    int8_t q[net_INPUTS], out[net_OUTPUTS];
    int i, k;
    while (scanf("%f,%f,%f,%f,%f", &x[0], &x[1], &x[2], &x[3], &x[4]) == 5) {
        net_quantize_inputs(x, q);
        k = net_predict_int8(q, out);
        for (i = 0; i < net_OUTPUTS; i++) {
            if (i) putchar(',');
            print_float(net_OUTPUT_SCALE * (float)(out[i] - net_OUTPUT_ZERO));
        }
        printf(" %d\n", k);
    }
    return 0;
}
C

compilers=${CC:-cc}
command -v clang > /dev/null 2>&1 && [ "$compilers" != clang ] && compilers="$compilers clang"

check() {
    name=$1
    shift
    if ! "$program" train --quiet --epochs 3 "$@" -o "$dir/m.bpm" > "$dir/log" 2>&1; then fail "$name: training"; return; fi
    if ! "$program" export-c "$dir/m.bpm" --int8 --calibrate "$dir/calibration.csv" --name net -o "$dir/net.c" \
        > "$dir/log" 2>&1; then
        fail "$name: export-c --int8"; return
    fi
    # No float outside the input quantization: every float is before NAME_predict_int8.
    if sed -n '/net_predict_int8(const/,$p' "$dir/net.c" | grep -q -E 'float|double'; then
        fail "$name: float code in the integer pass"; return
    fi
    for cc in $compilers; do
        if ! $cc -std=c99 -O2 -Wall -Wextra -Werror -pedantic -I"$dir" "$dir/main.c" -o "$dir/main" > "$dir/log" 2>&1; then
            fail "$name: the generated C does not compile cleanly with $cc"; return
        fi
        "$dir/main" < "$dir/inputs.csv" > "$dir/exported.txt"
        "$program" predict "$dir/m.bpm" --data "$dir/inputs.csv" --int8 --calibrate "$dir/calibration.csv" \
            2> "$dir/log" | tail -n +2 > "$dir/library.csv"
        "$program" predict "$dir/m.bpm" --data "$dir/inputs.csv" --int8 --calibrate "$dir/calibration.csv" --classes \
            2> "$dir/log" | tail -n +2 > "$dir/classes.csv"
        if [ "$(wc -l < "$dir/exported.txt")" -ne 400 ]; then fail "$name ($cc): expected 400 rows"; return; fi
        # Outputs equal as numbers, and the class the C returns is the one predict names.
        if paste -d' ' "$dir/exported.txt" "$dir/library.csv" "$dir/classes.csv" | awk '
            { n = split($1, e, ","); m = split($3, l, ","); if (n != m) bad++;
              for (i = 1; i <= n; i++) if (e[i] + 0 != l[i] + 0) bad++;
              if ($2 != $4) badclass++ }
            END { if (bad || badclass) { print bad + 0, "outputs and", badclass + 0, "classes differ"; exit 1 } }' \
            > "$dir/log" 2>&1; then
            ok "$name ($cc): int8 C = backprop predict --int8 on 400 samples, outputs and classes"
        else
            fail "$name ($cc): int8 C differs from backprop predict --int8"
        fi
    done
}

check "relu softmax, standardized" --train "$dir/class.csv" --hidden 8,6 --normalize standardize
check "tanh softmax, no bias" --train "$dir/class.csv" --hidden 7 --activation tanh --no-bias --normalize minmax
check "sigmoid hidden, sigmoid bce" --train "$dir/binary.csv" --targets 1 --loss bce --hidden 6 --activation sigmoid \
    --normalize standardize
check "leaky-relu, identity regression" --train "$dir/values.csv" --targets 1 --hidden 6,4 --activation leaky-relu \
    --normalize minmax
check "identity hidden, tanh output" --train "$dir/values.csv" --targets 1 --hidden 5 --activation identity --output tanh \
    --lr 0.01 --input-scale 10

# A model path with "*/" and a newline: the banner comment quotes it, so it must not end
# the comment (it did, and the file did not compile).
mkdir -p "$dir/a*" && cp "$dir/m.bpm" "$dir/a*/m
x.bpm"
if "$program" export-c "$dir/a*/m
x.bpm" --int8 --calibrate "$dir/calibration.csv" --name net -o "$dir/net.c" > "$dir/log" 2>&1 &&
    ${CC:-cc} -std=c99 -O2 -Wall -Wextra -Werror -pedantic -I"$dir" "$dir/main.c" -o "$dir/main" > "$dir/log" 2>&1 &&
    [ "$("$dir/main" < "$dir/inputs.csv" | wc -l)" -eq 400 ]; then
    ok "a model path with */ and a newline in it: the int8 C compiles and runs"
else
    fail "a model path with */ and a newline in it breaks the int8 C"
fi

# The banner states the memory the model needs.
if grep -q -E 'Flash: [0-9]+ bytes of constants' "$dir/net.c" && grep -q -E 'RAM: [0-9]+ bytes of stack' "$dir/net.c"; then
    ok "the banner states flash and RAM"
else
    fail "the banner does not state flash and RAM"
fi

# eval --int8: the int8 accuracy beside the float one, in text and JSON.
"$program" train --quiet --train "$dir/class.csv" --hidden 8 --normalize standardize --epochs 5 -o "$dir/c.bpm" > /dev/null 2>&1

# Several exports in one program. Guards and macros once came from the name in capitals:
# a float export named x_int8 and an int8 one named x shared the guard X_INT8_H, names that
# differ in case shared every guard and macro, and an int8 export named x_INPUT of a model
# with one input scale for all (m.bpm: --input-scale 10) defined X_INPUT_SCALE as x's did.
# The second file was skipped or redefined a macro. Names are now kept as given, with tails
# of which none ends another (src/io/export_c.h).
export_pair() { # KIND NAME MODEL
    if [ "$1" = int8 ]; then
        "$program" export-c "$3" --int8 --calibrate "$dir/calibration.csv" --name "$2" -o "$dir/pair_$2_$1.h"
    else
        "$program" export-c "$3" --name "$2" -o "$dir/pair_$2_$1.h"
    fi
}
cat > "$dir/pairs.c" <<'C'
#include <stdio.h>
#include "pair_x_int8_float.h"
#include "pair_x_int8.h"
#include "pair_x_INT8_float.h"
#include "pair_X_int8.h"
#include "pair_x_INPUT_int8.h"
#include "pair_y_float.h"
#include "pair_Y_float.h"
int main(void)
{
    float x[5] = {0.5f, 5.0f, 0.0f, 1.0f, -0.5f}, f[3];
    int8_t q[5], out[3];
    x_int8_predict(x, f);
    x_INT8_predict(x, f);
    y_predict(x, f);
    Y_predict(x, f);
    x_quantize_inputs(x, q);
    X_quantize_inputs(x, q);
    x_INPUT_quantize_inputs(x, q);
    printf("%d %d %d %d %d %d %d\n", x_int8_OUTPUTS, x_OUTPUTS, x_INT8_OUTPUTS, X_OUTPUTS, x_INPUT_OUTPUTS,
           y_OUTPUTS, Y_OUTPUTS);
    return x_predict_int8(q, out) + X_predict_int8(q, out) + x_INPUT_predict_int8(q, out) < 0;
}
C
if export_pair float x_int8 "$dir/c.bpm" && export_pair int8 x "$dir/m.bpm" && export_pair float x_INT8 "$dir/m.bpm" &&
    export_pair int8 X "$dir/c.bpm" && export_pair int8 x_INPUT "$dir/m.bpm" && export_pair float y "$dir/c.bpm" &&
    export_pair float Y "$dir/m.bpm"; then
    for cc in $compilers; do
        if $cc -std=c99 -Wall -Wextra -Werror -pedantic -I"$dir" "$dir/pairs.c" -lm -o "$dir/pairs" > "$dir/log" 2>&1 &&
            [ "$("$dir/pairs")" = "3 1 1 3 1 3 1" ]; then
            ok "exports named x_int8 (float) and x (int8), x and X, x and x_INPUT compile in one program ($cc)"
        else
            head -n 3 "$dir/log"; fail "exports whose names once collided do not compile in one program ($cc)"
        fi
    done
else
    fail "export-c for the one-program test"
fi
if "$program" eval "$dir/c.bpm" --data "$dir/class.csv" --int8 --calibrate "$dir/calibration.csv" > "$dir/log" 2>&1 &&
    grep -q -E '^accuracy +[0-9.]+% \([0-9]+ of 400; float [0-9.]+%\)' "$dir/log" && grep -q '^agreement' "$dir/log"; then
    ok "eval --int8 reports the int8 accuracy beside the float one"
else
    fail "eval --int8 text output"
fi
if "$program" eval "$dir/c.bpm" --data "$dir/class.csv" --int8 --calibrate "$dir/calibration.csv" --json > "$dir/log" 2>&1 &&
    grep -q '"int8":{"accuracy":0\.[0-9]*,"agreement":' "$dir/log"; then
    ok "eval --int8 --json has an int8 object"
else
    fail "eval --int8 --json"
fi

# Refusals: status 2 for usage, 1 for data, with a message naming the problem.
expect() {
    want=$1 pattern=$2 what=$3
    shift 3
    "$program" "$@" > "$dir/out" 2> "$dir/log"
    code=$?
    if [ $code -eq "$want" ] && grep -q -- "$pattern" "$dir/log"; then ok "$what: exit $want"
    else echo "    exit $code"; fail "$what"; fi
}
expect 2 "needs --calibrate" "--int8 without --calibrate" export-c "$dir/c.bpm" --int8
expect 2 "needs --calibrate" "eval --int8 without --calibrate" eval "$dir/c.bpm" --data "$dir/class.csv" --int8
expect 2 "which was not given" "--calibrate without --int8" predict "$dir/c.bpm" --data "$dir/inputs.csv" \
    --calibrate "$dir/calibration.csv"
cut -d, -f1-4 "$dir/inputs.csv" > "$dir/narrow.csv"
# The width check names the column too: the end of a short line, the first cell too many.
narrow_end=$(($(head -n 1 "$dir/narrow.csv" | wc -c)))
expect 1 "narrow.csv:1:$narrow_end: 4 columns, but the model has 5 inputs" "calibration data of the wrong width" \
    export-c "$dir/c.bpm" --int8 --calibrate "$dir/narrow.csv"
printf '0.5,5,0,1,-0.5,2,9\n' > "$dir/wide7.csv"
expect 1 "wide7.csv:1:18: 7 columns, but" "calibration data with a column too many: the column of the extra cell" \
    export-c "$dir/c.bpm" --int8 --calibrate "$dir/wide7.csv"
# One line with a word in an input column is a header by docs/FORMATS.md's rule, so the
# file has no data rows; the message said only that, and now says why and where.
printf '0.5,5,zero,1,-0.5\n' > "$dir/oneline.csv"
expect 1 "oneline.csv:1:7: no data rows: the only line was read as a header" \
    "a one-line calibration file whose line reads as a header" export-c "$dir/c.bpm" --int8 \
    --calibrate "$dir/oneline.csv" -o "$dir/oneline.c"
[ -e "$dir/oneline.c" ] && fail "a file was written for the one-line calibration file"
# A finite input that the stored standardization carries past float's range: named, where
# the library could only say "the calibration data has a NaN or infinite input".
printf '0.5,5,0,1,-0.5\n0.5,5,3e38,1,-0.5\n' > "$dir/huge.csv"
expect 1 "huge.csv: sample 2, input 3" "calibration input beyond float's range after preprocessing" export-c \
    "$dir/c.bpm" --int8 --calibrate "$dir/huge.csv" -o "$dir/huge.c"
[ -e "$dir/huge.c" ] && fail "a file was written for the refused calibration data"
# The same input to plain predict and eval: refused where it is, not printed as NaN.
expect 1 "huge.csv: sample 2, input 3: the model's input preprocessing" \
    "predict on an input the stored standardization carries past float's range" predict "$dir/c.bpm" --data "$dir/huge.csv"
[ -s "$dir/out" ] && fail "predict printed rows for the refused data"
expect 1 "nothing.csv" "missing calibration file" predict "$dir/c.bpm" --data "$dir/inputs.csv" --int8 \
    --calibrate "$dir/nothing.csv"
expect 2 "C identifier" "a --name that is no C identifier" export-c "$dir/c.bpm" --int8 \
    --calibrate "$dir/calibration.csv" --name 9lives

# A network integers cannot hold: 40,000 inputs per unit could overflow the int32 sums.
if "$program" init --arch 40000,2 --activation relu --loss mse -o "$dir/wide.bpm" > "$dir/log" 2>&1; then
    # With its 2 target columns: a first line this long is past what predict's column count reads.
    awk 'BEGIN { for (i = 0; i < 40000; i++) printf "%s1", (i ? "," : ""); print ",0,0" }' > "$dir/wide.csv"
    expect 1 "40000 inputs per unit" "a layer too wide for int32 sums" export-c "$dir/wide.bpm" --int8 \
        --calibrate "$dir/wide.csv" -o "$dir/wide.c"
    [ -e "$dir/wide.c" ] && fail "a file was written for the refused model"
else
    fail "backprop init --arch 40000,2"
fi

finish int8
