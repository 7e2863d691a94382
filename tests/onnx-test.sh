#!/bin/sh
# `backprop export-onnx` checked by three third-party consumers: onnx.checker (Debian
# python3-onnx), OpenCV's dnn module (python3-opencv) and ONNX Runtime (npm
# onnxruntime-node, run by Node). Every hidden activation x output activation and loss x
# bias combination is trained for an epoch, exported, and run by each consumer; its
# outputs must match `backprop predict` within 1e-5. A consumer that is not installed is
# skipped with one line saying what to install (.ci/run installs them all).
#
# Usage: sh tests/onnx-test.sh [BUILD_DIR]; ends with "onnx: N passed, M failed[, K skipped]".
# ONNX Runtime is looked for in build-node/node_modules (where .ci/run puts it) and NODE_PATH.
build=${1:-build}
program="$build/backprop"
. "$(dirname "$0")/harness.sh"

# Data: 4 inputs on different scales, 3 classes by a simple rule, 200 rows; the
# regression targets are a smooth function of the inputs.
awk 'BEGIN { srand(11); for (i = 0; i < 200; i++) { a = rand(); b = rand() * 10; c = rand() - 0.5; d = rand() * 100;
     k = (a + c > 0.6) ? 2 : (b > 5 ? 1 : 0); printf "%.4f,%.4f,%.4f,%.3f,%d\n", a, b, c, d, k } }' > "$dir/class.csv"
awk -F, '{ printf "%s,%s,%s,%s,%.5f\n", $1, $2, $3, $4, 0.3 * $1 - 0.05 * $2 + $3 + 0.2 }' "$dir/class.csv" > "$dir/values.csv"
awk -F, '{ printf "%s,%s,%s,%s,%d\n", $1, $2, $3, $4, ($5 == 2) }' "$dir/class.csv" > "$dir/binary.csv"
mkdir -p "$dir/models"
cut -d, -f1-4 "$dir/class.csv" > "$dir/inputs.csv"
cp "$dir/inputs.csv" "$dir/models/inputs.csv"

# One model: NAME, then `backprop train` options.
model() {
    name=$1
    shift
    if ! "$program" train --epochs 1 --batch 16 --quiet "$@" -o "$dir/m.bpm" > "$dir/log" 2>&1; then
        fail "$name: training"; return
    fi
    if ! "$program" export-onnx "$dir/m.bpm" -o "$dir/models/$name.onnx" > "$dir/log" 2>&1; then
        fail "$name: export-onnx"; return
    fi
    if ! "$program" predict "$dir/m.bpm" --data "$dir/inputs.csv" -o "$dir/models/$name.expected.csv" > "$dir/log" 2>&1; then
        fail "$name: predict"; return
    fi
    exported=$((exported + 1))
}

exported=0
for hidden in relu sigmoid tanh leaky-relu identity; do
    for bias in bias no-bias; do
        nb=; [ $bias = no-bias ] && nb=--no-bias
        # Preprocessing stored in the model on some, so the Sub/Mul nodes are checked too.
        norm=--normalize=standardize; [ $hidden = tanh ] && norm=--normalize=minmax; [ $hidden = identity ] && norm="--lr=0.0001 --clip=1"
        model "$hidden-softmax-ce-$bias" --train "$dir/class.csv" --hidden 6,5 --activation $hidden $nb $norm
        model "$hidden-sigmoid-bce-$bias" --train "$dir/binary.csv" --targets 1 --loss bce --hidden 5 \
            --activation $hidden $nb $norm
        for out in identity sigmoid tanh relu leaky-relu softmax; do
            data="$dir/values.csv"; t="--targets 1"
            [ $out = softmax ] && { data="$dir/class.csv"; t=; }
            model "$hidden-$out-mse-$bias" --train "$data" $t --loss mse --output $out --hidden 5 \
                --activation $hidden $nb $norm
        done
    done
done
[ $exported -gt 0 ] && ok "$exported models exported (5 hidden x 8 output and loss x 2 bias)"

# A model whose classes have names: they travel in the metadata.
awk -F, '{ printf "%s,%s,%s,%s,%s\n", $1, $2, $3, $4, ($5 == 0 ? "cat" : $5 == 1 ? "dog" : "bird") }' \
    "$dir/class.csv" > "$dir/named.csv"
if "$program" train --train "$dir/named.csv" --hidden 4 --epochs 1 --quiet -o "$dir/named.bpm" > "$dir/log" 2>&1 &&
    "$program" export-onnx "$dir/named.bpm" -o "$dir/named.onnx" > "$dir/log" 2>&1; then
    if grep -a -q 'class_names' "$dir/named.onnx" && grep -a -q '\["bird","cat","dog"\]' "$dir/named.onnx"; then
        ok "class names in the metadata"
    else
        fail "class names missing from the metadata"
    fi
else
    fail "named classes: export"
fi

# Class names and a model path that are not UTF-8 (Latin-1 "café", stray bytes, a cut
# sequence, an overlong "/", a surrogate, a code point past U+10FFFF): protobuf strings must
# be UTF-8 and the metadata JSON, and they were written raw. Each ill-formed subsequence is
# now U+FFFD, as Python's errors="replace" decodes it; the model also goes to the consumers.
awk -F, 'BEGIN { split("caf\351|\377\376|x\342\202y|\300\257|\355\240\200|\364\220\200\200|ok \342\230\203|\360\237\230", n, "|") }
    { printf "%s,%s,%s,%s,%s\n", $1, $2, $3, $4, n[NR % 8 + 1] }' "$dir/class.csv" > "$dir/latin.csv"
latin=$(printf '%s/dir\351' "$dir")
mkdir -p "$latin"
if "$program" train --train "$dir/latin.csv" --hidden 4 --epochs 1 --quiet -o "$latin/m.bpm" > "$dir/log" 2>&1 &&
    "$program" export-onnx "$latin/m.bpm" -o "$dir/models/latin-names.onnx" > "$dir/log" 2>&1 &&
    { echo header; "$program" predict "$latin/m.bpm" --data "$dir/inputs.csv" | tail -n +2; } \
        > "$dir/models/latin-names.expected.csv"; then
    if /usr/bin/python3 -c 'import onnx' 2> /dev/null; then
        if /usr/bin/python3 - "$dir/models/latin-names.onnx" "$dir/latin.csv" "$latin/m.bpm" > "$dir/log" 2>&1 <<'PY'
import json, os, sys
import onnx, onnx.checker
model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
value = {p.key: p.value for p in model.metadata_props}["class_names"]
assert isinstance(value, str), "class_names is not UTF-8: %r" % (value,)
with open(sys.argv[2], "rb") as f:
    raw = sorted({line.rstrip(b"\n").split(b",")[-1] for line in f if line.strip()})
want = sorted(name.decode("utf-8", "replace") for name in raw)
assert sorted(json.loads(value)) == want, (json.loads(value), want)
assert isinstance(model.doc_string, str), "doc_string is not UTF-8: %r" % (model.doc_string,)
path = os.fsencode(sys.argv[3]).decode("utf-8", "replace")
assert " from " + path + ";" in model.doc_string, (model.doc_string, path)
PY
        then ok "class names and a model path that are not UTF-8: UTF-8 with U+FFFD, strict JSON, check_model"
        else cat "$dir/log"; fail "class names or a model path that are not UTF-8 make invalid ONNX strings"; fi
    else
        skipped=$((skipped + 1)); echo "skip names that are not UTF-8: python3-onnx missing"
    fi
else
    fail "names that are not UTF-8: training, export or predict"
fi

# Usage errors.
if "$program" export-onnx "$dir/m.bpm" > "$dir/log" 2>&1; then fail "export-onnx without -o succeeded"
elif [ $? -eq 2 ] && grep -q -- "-o FILE is required" "$dir/log"; then ok "export-onnx without -o: usage error"
else fail "export-onnx without -o: wrong exit status or message"; fi
echo "not a model" > "$dir/bad.bpm"
if "$program" export-onnx "$dir/bad.bpm" -o "$dir/bad.onnx" > "$dir/log" 2>&1; then fail "a damaged model was exported"
elif [ $? -eq 1 ] && [ ! -e "$dir/bad.onnx" ] && grep -q "bad.bpm" "$dir/log"; then ok "damaged model refused, nothing written"
else fail "damaged model: wrong exit status or message"; fi

# The consumers.
tally() {
    line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed' "$dir/log" | tail -n 1)
    p=$(echo "$line" | sed -E 's/^[a-z]+: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
    if [ -z "$line" ]; then echo "FAIL $1 ended without its summary"; failed=$((failed + 1)); return; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
}
python=/usr/bin/python3
[ -x "$python" ] || python=python3
if command -v "$python" > /dev/null 2>&1; then
    "$python" tests/onnx_consumers.py "$dir/models" > "$dir/log" 2>&1
    grep -v '^ok ' "$dir/log" | grep -v '^consumers:'
    echo "(onnx.checker and OpenCV: $(grep -c '^ok ' "$dir/log") checks passed)"
    tally "tests/onnx_consumers.py"
else
    echo "skipped: onnx.checker and OpenCV need python3 (apt-get install python3-onnx python3-opencv)"
    skipped=$((skipped + 2))
fi
NODE_PATH="$(pwd)/build-node/node_modules${NODE_PATH:+:$NODE_PATH}"
export NODE_PATH
if ! command -v node > /dev/null 2>&1; then
    echo "skipped: ONNX Runtime needs Node.js (apt-get install nodejs) and npm onnxruntime-node"
    skipped=$((skipped + 1))
elif ! node -e "require('onnxruntime-node')" > /dev/null 2>&1; then
    echo "skipped: ONNX Runtime: npm install --prefix build-node --ignore-scripts onnxruntime-node"
    skipped=$((skipped + 1))
else
    node tests/onnx_runtime.js "$dir/models" > "$dir/log" 2>&1
    grep -v '^ok ' "$dir/log" | grep -v '^runtime:'
    echo "(ONNX Runtime: $(grep -c '^ok ' "$dir/log") models matched)"
    tally "tests/onnx_runtime.js"
fi

finish onnx
