#!/bin/sh
# The int8 C of `backprop export-c --int8` on a real microcontroller model: built with
# arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os into a bare-metal program (tests/mcu/),
# run under qemu-system-arm on the mps2-an386 board (Cortex-M4) with semihosting, it
# must print exactly what the same C file built for the host prints. Two models: the
# digits demo's (trained, on 20 real digits) and one of W1's shape (784-256-128-10,
# untrained: its sizes are W1's). Prints their .text/.data/.bss sizes, alone and in the
# program. Skipped, with what to install, when the toolchain or QEMU is missing.
#
# Usage: sh tests/mcu-test.sh [BUILD_DIR]; ends with "mcu: N passed, M failed[, K skipped]".
build=${1:-build}
program="$build/backprop"
. "$(dirname "$0")/harness.sh"
log_lines=20

missing=
for tool in arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm; do
    command -v $tool > /dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "skipped: the Cortex-M4 check needs$missing (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
    echo "mcu: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
ARMFLAGS="-mcpu=cortex-m4 -mthumb -Os -std=c99 -Wall -Wextra -Werror"

# samples.h from a CSV of raw inputs (one sample a line, as many columns as the model
# takes): the floats as exact hexadecimal literals.
samples_header() {
    awk -F, -v n="$2" '{ printf "    {"; for (i = 1; i <= n; i++) printf "%s%s", $i, (i < n ? "," : ""); print "}," }' "$1" > "$dir/rows"
    {
        echo "#define SAMPLES $(wc -l < "$dir/rows")"
        echo "static const float samples[SAMPLES][model_INPUTS] = {"
        cat "$dir/rows"
        echo "};"
    } > "$dir/samples.h"
}

# One model: NAME MODEL.bpm CALIBRATION SAMPLES.csv INPUTS.
run_model() {
    name=$1 model=$2 calibration=$3 samples=$4 inputs=$5
    if ! "$program" export-c "$model" --int8 --calibrate "$calibration" --name model -o "$dir/model.c" > "$dir/log" 2>&1; then
        fail "$name: export-c --int8"; return
    fi
    samples_header "$samples" "$inputs"
    if ! ${CC:-cc} -std=c99 -O2 -Wall -Wextra -Werror -I"$dir" tests/mcu/main.c -o "$dir/host" > "$dir/log" 2>&1; then
        fail "$name: host build"; return
    fi
    "$dir/host" > "$dir/host.txt"
    if ! arm-none-eabi-gcc $ARMFLAGS --specs=rdimon.specs -T tests/mcu/cortex-m4.ld -I"$dir" tests/mcu/startup.c \
        tests/mcu/main.c -o "$dir/model.elf" > "$dir/log" 2>&1; then
        fail "$name: arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os"; return
    fi
    ok "$name: built for the Cortex-M4 ($ARMFLAGS)"
    if command -v timeout > /dev/null 2>&1; then limit="timeout 300"; else limit=; fi
    if ! $limit qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$dir/model.elf" > "$dir/arm.txt" 2> "$dir/log"; then
        fail "$name: the program failed under qemu-system-arm -M mps2-an386"; return
    fi
    if cmp -s "$dir/host.txt" "$dir/arm.txt" && grep -q '^done ' "$dir/arm.txt"; then
        ok "$name: under QEMU (mps2-an386), $(grep -c ':' "$dir/arm.txt") predictions equal the host build's"
    else
        diff "$dir/host.txt" "$dir/arm.txt" | head -n 10 > "$dir/log"
        fail "$name: the Cortex-M4 printed other predictions than the host"
        return
    fi
    # What the model costs: alone (its code and constants), and in the whole program.
    arm-none-eabi-gcc $ARMFLAGS -I"$dir" -c tests/mcu/only_model.c -o "$dir/only_model.o" > "$dir/log" 2>&1 &&
        alone=$(arm-none-eabi-size "$dir/only_model.o" | awk 'NR == 2 { printf ".text %d, .data %d, .bss %d", $1, $2, $3 }')
    whole=$(arm-none-eabi-size "$dir/model.elf" | awk 'NR == 2 { printf ".text %d, .data %d, .bss %d", $1, $2, $3 }')
    stack=$(sed -n 's/^ \* RAM: \([0-9]*\) bytes of stack.*/\1/p' "$dir/model.c")
    echo "     size of the $name model alone: $alone (plus $stack bytes of stack)"
    echo "     size of the whole test program (newlib's printf included): $whole"
}

# The digits demo's model, calibrated on the digits, run on the first 20 of them.
if ! "$program" demo --plot none -o "$dir/digits.bpm" > "$dir/log" 2>&1; then
    fail "backprop demo -o"
else
    gzip -dc data/digits.csv.gz | grep -v '^[a-z#]' | head -n 20 | cut -d, -f1-64 > "$dir/digits20.csv"
    run_model "digits (64-64-10)" "$dir/digits.bpm" data/digits.csv.gz "$dir/digits20.csv" 64
fi

# W1's shape: 784-256-128-10, ReLU, softmax; calibrated and run on pseudo-random pixels.
awk 'BEGIN { srand(3); for (s = 0; s < 60; s++) { for (i = 0; i < 784; i++) printf "%d%s", int(rand() * 256), (i < 783 ? "," : "\n") } }' \
    > "$dir/pixels.csv"
head -n 8 "$dir/pixels.csv" > "$dir/pixels8.csv"
if ! "$program" init --arch 784,256,128,10 --activation relu --loss ce --seed 1 -o "$dir/w1.bpm" > "$dir/log" 2>&1; then
    fail "backprop init (W1's shape)"
else
    run_model "W1-shaped (784-256-128-10)" "$dir/w1.bpm" "$dir/pixels.csv" "$dir/pixels8.csv" 784
fi

finish mcu
