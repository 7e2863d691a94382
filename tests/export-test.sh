#!/bin/sh
# `backprop export-c` end to end: the generated header compiles warning-free on its own
# and gives the same outputs as `backprop predict`, for several kinds of network.
# Usage: sh tests/export-test.sh [BUILD_DIR]; ends with "export: N passed, M failed".
build=${1:-build}
program="$build/backprop"
. "$(dirname "$0")/harness.sh"

# Data: 3 inputs, a class 0..2 by a simple rule, 300 rows.
awk 'BEGIN { srand(7); for (i = 0; i < 300; i++) { a = rand(); b = rand() * 10; c = rand() - 0.5;
     k = (a + c > 0.6) ? 2 : (b > 5 ? 1 : 0); printf "%.4f,%.4f,%.4f,%d\n", a, b, c, k } }' > "$dir/train.csv"
cut -d, -f1-3 "$dir/train.csv" > "$dir/inputs.csv"

check() {
    name=$1
    shift
    if ! "$program" "$@" -o "$dir/m.bpm" > "$dir/log" 2>&1; then fail "$name: training"; return; fi
    if ! "$program" export-c "$dir/m.bpm" --name net -o "$dir/net.h" > "$dir/log" 2>&1; then
        fail "$name: export-c"; return
    fi
    cat > "$dir/main.c" <<'C'
#include <stdio.h>
#include "net.h"
int main(void)
{
    float x[net_INPUTS], out[net_OUTPUTS];
    while (scanf("%f,%f,%f", &x[0], &x[1], &x[2]) == 3) {
        net_predict(x, out);
        for (int i = 0; i < net_OUTPUTS; i++) printf(i ? ",%.9g" : "%.9g", out[i]);
        printf("\n");
    }
    return 0;
}
C
    if ! ${CC:-cc} -std=c99 -Wall -Wextra -Werror -pedantic -I"$dir" "$dir/main.c" -lm -o "$dir/main" > "$dir/log" 2>&1; then
        fail "$name: the generated header does not compile cleanly"; return
    fi
    "$dir/main" < "$dir/inputs.csv" > "$dir/exported.csv"
    "$program" predict "$dir/m.bpm" --data "$dir/inputs.csv" | tail -n +2 > "$dir/library.csv"
    if [ "$(wc -l < "$dir/exported.csv")" -ne 300 ]; then fail "$name: expected 300 rows"; return; fi
    if paste -d, "$dir/exported.csv" "$dir/library.csv" | awk -F, '
        { n = NF / 2; for (i = 1; i <= n; i++) { d = $i - $(i + n); if (d < 0) d = -d;
          s = ($(i + n) < 0 ? -$(i + n) : $(i + n)); if (d > 1e-5 * (s > 1 ? s : 1)) bad++ } }
        END { exit bad ? 1 : 0 }' > "$dir/log" 2>&1; then
        ok "$name: exported C matches backprop predict on 300 samples"
    else
        fail "$name: exported outputs differ from backprop predict"
    fi
}

check "relu softmax, standardized inputs" train --train "$dir/train.csv" --hidden 8,6 --epochs 5 --normalize standardize
check "tanh, no bias" train --train "$dir/train.csv" --hidden 5 --activation tanh --no-bias --epochs 3
check "sigmoid regression" train --train "$dir/train.csv" --targets 1 --hidden 4 --activation sigmoid --epochs 3
check "leaky-relu, bce" train --train "$dir/train.csv" --targets 1 --loss bce --hidden 4 --activation leaky-relu --epochs 2 --normalize minmax
# Thousands of terms per unit: one float running sum per unit drifted 4.8e-5 from predict here.
check "6000 hidden units" train --train "$dir/train.csv" --hidden 6000 --epochs 3 --normalize standardize --lr 0.3
# A file may include the header for its sizes alone (net_predict unused): no warning.
printf '#include <stdio.h>\n#include "net.h"\nint main(void) { return printf("%%d\\n", net_INPUTS) < 0; }\n' > "$dir/sizes.c"
if ${CC:-cc} -std=c99 -Wall -Wextra -Werror -pedantic -I"$dir" "$dir/sizes.c" -lm -o "$dir/sizes" > "$dir/log" 2>&1 &&
    [ "$("$dir/sizes")" = 3 ]; then
    ok "the header included without calling net_predict compiles warning-free"
else
    fail "the header included without calling net_predict warns"
fi

# Class names that C must escape, among them "??=" and "??/", which -std=c99 reads as the
# trigraphs # and \ (a name ending in ??/ ended the string early); and a model path with
# "*/" and a newline in it, which is quoted in the banner comment. The names must come
# back from the compiled header byte for byte, as the CSV gives them.
printf '%s\n' 'x,y,k' '0,0,"say ""hi"",ok"' '1,0,what??/' '0,1,q??=' '1,1,back\slash' '2,0,café ☃' \
    '0,2,int' '2,2,9lives' > "$dir/names.csv"
cat > "$dir/names.c" <<'C'
#include <stdio.h>
#include "names.h"
int main(void)
{
    float x[names_INPUTS] = {0}, out[names_OUTPUTS];
    names_predict(x, out);
    for (int i = 0; i < names_OUTPUTS; i++) printf("%s\n", names_class_names[i]);
    return 0;
}
C
mkdir -p "$dir/a*" && nl='
'
if ! "$program" train --train "$dir/names.csv" --hidden 3 --epochs 1 --quiet -o "$dir/a*/m${nl}x.bpm" > "$dir/log" 2>&1 ||
    ! "$program" export-c "$dir/a*/m${nl}x.bpm" --name names -o "$dir/names.h" > "$dir/log" 2>&1; then
    fail "odd class names and model path: export-c"
elif ! ${CC:-cc} -std=c99 -Wall -Wextra -Werror -pedantic -I"$dir" "$dir/names.c" -lm -o "$dir/names" > "$dir/log" 2>&1; then
    fail "odd class names and model path: the header does not compile cleanly"
else
    "$dir/names" > "$dir/names.out"
    # The names as the CSV gives them (its quoted one unquoted), in any order.
    printf '%s\n' 'say "hi",ok' 'what??/' 'q??=' 'back\slash' 'café ☃' 'int' '9lives' | sort > "$dir/names.want"
    if sort "$dir/names.out" | cmp -s - "$dir/names.want"; then
        ok "odd class names and model path: compiles, names read back as stored"
    else
        echo "$(paste -s -d'|' "$dir/names.out") vs $(paste -s -d'|' "$dir/names.want")" > "$dir/log"
        fail "odd class names: the compiled names differ"
    fi
fi
# -o through a symbolic link replaces the file it names and keeps the link; -o a FIFO (as
# /dev/stdout or /dev/null are, a pipe or a device) is written into, not replaced by a
# regular file: renaming over it had put a file where /dev/null was, when run as root.
"$program" export-c "$dir/m.bpm" --name net -o "$dir/plain.h" > "$dir/log" 2>&1
echo old > "$dir/target.h" && ln -s target.h "$dir/link.h"
if "$program" export-c "$dir/m.bpm" --name net -o "$dir/link.h" > "$dir/log" 2>&1 && [ -L "$dir/link.h" ] &&
    cmp -s "$dir/target.h" "$dir/plain.h"; then
    ok "-o through a symbolic link: the file it names is written, the link kept"
else
    fail "-o through a symbolic link"
fi
if mkfifo "$dir/fifo" 2> /dev/null; then
    timeout 10 cat "$dir/fifo" > "$dir/fifo.out" &
    reader=$!
    "$program" export-onnx "$dir/m.bpm" -o "$dir/plain.onnx" > "$dir/log" 2>&1
    if timeout 10 "$program" export-onnx "$dir/m.bpm" -o "$dir/fifo" > "$dir/log" 2>&1 && wait $reader &&
        [ -p "$dir/fifo" ] && cmp -s "$dir/fifo.out" "$dir/plain.onnx"; then
        ok "-o a FIFO: the bytes go into it, the FIFO stays"
    else
        fail "-o a FIFO was not written into"
    fi
else
    skipped=$((skipped + 1)); echo "skip -o a FIFO: mkfifo failed"
fi
finish export
