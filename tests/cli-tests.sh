#!/bin/sh
# cli-tests.sh - end-to-end tests of the `backprop` command-line program.
#
#   sh tests/cli-tests.sh [BUILD_DIR]        (BUILD_DIR defaults to build)
#
# Runs "$BUILD_DIR/backprop" in a fresh temporary directory and checks the
# contract of the command line (docs: DESIGN.md, "Command line"):
#   - exit status 0 on success, 1 on data/runtime errors, 2 on usage errors;
#     never a crash (no status >= 128);
#   - error messages on stderr, starting "backprop COMMAND: ", naming the file,
#     and for CSV data errors the line and column;
#   - a command that fails leaves no -o FILE and no FILE.tmp.* behind;
#   - --help on every command exits 0;
#   - the numbers make sense (JSON parses, training learns, gradients check).
# Each check prints "ok   description" or "FAIL description" with the
# command's output indented; the last line is "cli: N passed, M failed".
# Exit status 1 if any check failed.

# The checks below pass shell conditions in single quotes, for eval, on purpose.
# shellcheck disable=SC2016

BUILD_DIR=${1:-build}
SRC_ROOT=$(cd "$(dirname "$0")/.." && pwd)
BP=$BUILD_DIR/backprop
case $BP in
/*) ;;
*) BP=$(pwd)/$BP ;;
esac

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 2>/dev/null)

pass=0
fail=0

if [ ! -x "$BP" ]; then
    echo "FAIL $BP is not an executable program (build it first: make)"
    echo "cli: 0 passed, 1 failed"
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/backprop-cli.XXXXXX") || {
    echo "FAIL cannot create a temporary directory"
    echo "cli: 0 passed, 1 failed"
    exit 1
}
trap 'cd / && rm -rf "$T"' EXIT
trap 'exit 1' HUP INT TERM
cd "$T" || exit 1
mkdir out || exit 1 # the command's stdout/stderr live here, away from the data files
O=$T/out/stdout
E=$T/out/stderr

# ------------------------------------------------------------------ helpers

rc=0
last=

# run CMD ARGS...: run a command, keep its stdout, stderr and exit status.
run() {
    last=$*
    "$@" >"$O" 2>"$E"
    rc=$?
}

# show: the last command, its exit status and its output, indented.
show() {
    echo "    \$ $last"
    echo "    exit status $rc"
    if [ -s "$O" ]; then
        echo "    stdout:"
        head -n 15 "$O" | cut -c1-200 | sed 's/^/      /'
    fi
    if [ -s "$E" ]; then
        echo "    stderr:"
        head -n 15 "$E" | cut -c1-200 | sed 's/^/      /'
    fi
}

ok() {
    pass=$((pass + 1))
    echo "ok   $1"
}

# bad DESC [REASON]: a failed check, with the last command's output.
bad() {
    fail=$((fail + 1))
    echo "FAIL $1"
    [ -n "$2" ] && echo "    ($2)"
    show
}

# t DESC STATUS PATTERN CMD ARGS...
#   Run CMD; expect exit STATUS (never a signal). PATTERN is an extended
#   regular expression that some line of stderr must match; an empty PATTERN
#   means stderr must be empty (what a successful command should leave).
t() {
    _d=$1 _want=$2 _pat=$3
    shift 3
    run "$@"
    if [ "$rc" -ge 128 ]; then
        bad "$_d" "crashed: exit status $rc (signal $((rc - 128)))"
    elif [ "$rc" -ne "$_want" ]; then
        bad "$_d" "exit status $rc, expected $_want"
    elif [ -z "$_pat" ] && [ -s "$E" ]; then
        bad "$_d" "expected nothing on stderr"
    elif [ -n "$_pat" ] && ! grep -Eq -- "$_pat" "$E"; then
        bad "$_d" "stderr does not match /$_pat/"
    else
        ok "$_d"
        return 0
    fi
    return 1
}

# c DESC SHELL-CONDITION: a check on the last command's results.
c() {
    if eval "$2"; then ok "$1"; else bad "$1" "not true: $2"; fi
}

# out_has DESC ERE: some line of the last command's stdout matches.
out_has() {
    if grep -Eq -- "$2" "$O"; then ok "$1"; else bad "$1" "stdout does not match /$2/"; fi
}

# nothing_left DESC FILE: FILE does not exist and no FILE.tmp.* is left next to it.
nothing_left() {
    _dir=$(dirname "$2")
    _base=$(basename "$2")
    _stray=
    if [ -d "$_dir" ]; then
        for _f in "$_dir/$_base".tmp.* "$_dir"/*.tmp.*; do
            [ -e "$_f" ] && _stray="$_stray $_f"
        done
    fi
    if [ -e "$2" ] && [ ! -d "$2" ]; then
        bad "$1" "$2 exists after a failed command"
    elif [ -n "$_stray" ]; then
        bad "$1" "temporary files left:$_stray"
    else
        ok "$1"
    fi
}

# json DESC PYTHON-CODE: parse the last command's stdout as one JSON document
# into d, then run the code (asserts). jsonl: one document per line, into ds.
json() {
    if [ -z "$PY" ]; then
        echo "skip $1 (no python3)"
        return
    fi
    if "$PY" -c "import json, math, sys
d = json.load(open(sys.argv[1]))
$2" "$O" >"$T/out/py" 2>&1; then
        ok "$1"
    else
        bad "$1" "$(tail -n 1 "$T/out/py")"
    fi
}
jsonl() {
    if [ -z "$PY" ]; then
        echo "skip $1 (no python3)"
        return
    fi
    if "$PY" -c "import json, math, sys
ds = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
$2" "$O" >"$T/out/py" 2>&1; then
        ok "$1"
    else
        bad "$1" "$(tail -n 1 "$T/out/py")"
    fi
}

# flip FILE OFFSET: invert every bit of the byte at OFFSET, in place.
flip() {
    _b=$(od -An -tu1 -j "$2" -N 1 "$1" 2>/dev/null | tr -d ' \n')
    [ -n "$_b" ] || return 1
    # shellcheck disable=SC2059
    printf "\\$(printf %03o $((_b ^ 255)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# ------------------------------------------------------------- test data

# Two inputs in [-1, 1], class 1 when x + y > 0: linearly separable.
awk 'BEGIN { srand(7); for (i = 0; i < 300; i++) { x = 2 * rand() - 1; y = 2 * rand() - 1;
     printf "%.4f,%.4f,%d\n", x, y, (x + y > 0) ? 1 : 0 } }' >train.csv
awk 'BEGIN { srand(8); print "x,y,label"; for (i = 0; i < 100; i++) { x = 2 * rand() - 1; y = 2 * rand() - 1;
     printf "%.4f,%.4f,%d\n", x, y, (x + y > 0) ? 1 : 0 } }' >test.csv
# Regression: one target, a linear function of the two inputs.
awk 'BEGIN { srand(3); for (i = 0; i < 300; i++) { x = 2 * rand() - 1; y = 2 * rand() - 1;
     printf "%.4f,%.4f,%.4f\n", x, y, 0.5 * x - 0.3 * y + 0.1 } }' >reg.csv
printf '0.5,-0.2,1\n0.1,0.3,0\n-0.4,0.9,1\n' >small.csv

printf '1,2,0\n3,4,1\n5,abc,0\n' >nonnum.csv
printf 'x,y,label\n1,2,0\n3,4\n5,6,1\n' >ragged.csv
: >empty.csv
printf 'x,y,label\n' >header.csv
printf 'x,y,label\n1,2,0\n3,4,1.5\n' >frac.csv
printf '1,2,0\n3,4,5\n' >range.csv
printf '1,2,3,0\n4,5,6,1\n' >wide.csv
printf '1,2,0\n3,4,1\n' >three.csv
printf 'x,y,label\n1,2,0\n3,,1\n' >emptycell.csv
printf '1,2,0\n3,nan,1\n' >nan.csv
mkdir adir
echo "this is a text file, not a model" >text.bpm

# ------------------------------------------------------------------- help

for cmd in demo train eval init info grad gradcheck explain; do
    t "$cmd --help exits 0 with its usage on stdout" 0 '' "$BP" "$cmd" --help &&
        out_has "$cmd --help describes 'backprop $cmd' and its options" "^usage: backprop $cmd( |\$)"
done
t "--help lists the commands" 0 '' "$BP" --help
out_has "--help names every command" '^  gradcheck '
t "no command is a usage error" 2 '^usage: backprop COMMAND' "$BP"
t "unknown command is a usage error" 2 "^backprop: unknown command 'frobnicate'" "$BP" frobnicate

# -------------------------------------------------- init / info / grad JSON

t "init writes a 2-4-3-1 tanh/sigmoid/bce model" 0 '' \
    "$BP" init --arch 2,4,3,1 --activation tanh --output sigmoid --loss bce --seed 5 -o net.bpm
out_has "init reports the parameter count (31)" '^wrote net\.bpm: 31 parameters'
c "init created the model file" '[ -s net.bpm ]'
t "info --json on the model" 0 '' "$BP" info net.bpm --json
json "info --json: sizes, activations, loss, bias and parameter count round-trip" '
assert d["sizes"] == [2, 4, 3, 1], d["sizes"]
assert d["hidden"] == "tanh" and d["output"] == "sigmoid" and d["loss"] == "bce", d
assert d["bias"] is True and d["parameters"] == 31, d
assert d["file"] == "net.bpm", d["file"]'
t "info (text) on the model" 0 '' "$BP" info net.bpm
out_has "info lists layer 3 with W 1 x 3" '^ +3 +1 x 3 '
t "grad --json on the model" 0 '' "$BP" grad net.bpm --data small.csv --json
json "grad --json: finite loss, 3 layers, W/dW/b/db shapes match the sizes" '
assert isinstance(d["loss"], float) and math.isfinite(d["loss"]) and 0 < d["loss"] < 10, d["loss"]
assert d["samples"] == 3 and d["reduction"] == "mean", d
assert d["sizes"] == [2, 4, 3, 1] and d["loss_function"] == "bce", d["sizes"]
L = d["layers"]
assert len(L) == 3, len(L)
for l, layer in enumerate(L, 1):
    r, k = d["sizes"][l], d["sizes"][l - 1]
    assert layer["layer"] == l and layer["rows"] == r and layer["cols"] == k, layer
    for name in ("W", "dW"):
        m = layer[name]
        assert len(m) == r and all(len(row) == k for row in m), name
        assert all(math.isfinite(v) for row in m for v in row), name
    assert len(layer["b"]) == r and len(layer["db"]) == r
assert any(v != 0 for layer in L for row in layer["dW"] for v in row), "all-zero gradient"'
# shellcheck disable=SC2034 # used in the condition of the check below
json_loss=$(sed -n 's/^{"loss":\([^,]*\),.*/\1/p' "$O")
t "grad (text) on the same model and data" 0 '' "$BP" grad net.bpm --data small.csv
# shellcheck disable=SC2034
text_loss=$(sed -n 's/^loss \([^ ]*\) .*/\1/p' "$O")
c "grad text and --json report the same loss" \
    "[ -n \"\$text_loss\" ] && awk -v a=\"\$text_loss\" -v b=\"\$json_loss\" 'BEGIN { d = a - b; exit !(d < 1e-7 && d > -1e-7) }'"
t "grad --samples 1 --reduction sum --json" 0 '' "$BP" grad net.bpm --data small.csv --samples 1 --reduction sum --json
json "grad --samples 1 uses one sample, sum reduction" 'assert d["samples"] == 1 and d["reduction"] == "sum", d'

t "init --no-bias" 0 '' "$BP" init --arch 2,4,3,1 --no-bias --seed 5 -o nobias.bpm
t "info --json on the no-bias model" 0 '' "$BP" info nobias.bpm --json
json "no-bias model: bias false, 23 parameters, mse/identity defaults" '
assert d["bias"] is False and d["parameters"] == 23, d
assert d["loss"] == "mse" and d["output"] == "identity" and d["hidden"] == "relu", d'
t "init --init-range 0.1 (FANN's uniform initialization)" 0 '' \
    "$BP" init --arch 2,4,3,1 --activation tanh --output sigmoid --loss bce --seed 5 --init-range 0.1 -o range.bpm
t "grad --json on the --init-range model" 0 '' "$BP" grad range.bpm --data small.csv --json
json "--init-range 0.1: every weight and bias within [-0.1, 0.1], none of them zero" '
L = d["layers"]
values = [v for layer in L for row in layer["W"] for v in row] + [v for layer in L for v in layer["b"]]
assert len(values) == 31, len(values)
assert all(0 < abs(v) <= 0.1000001 for v in values), values
assert max(abs(v) for v in values) > 0.05, values'
t "init --init-range 0 is the default initialization" 0 '' \
    "$BP" init --arch 2,4,3,1 --activation tanh --output sigmoid --loss bce --seed 5 --init-range 0 -o range0.bpm
c "--init-range 0 gives the same bytes as no --init-range" 'cmp -s net.bpm range0.bpm'
t "init --init-range -0.1 is a usage error" 2 "^backprop init: --init-range expects a number from 0" \
    "$BP" init --arch 2,3 --init-range -0.1 -o x.bpm
t "train --init-range abc is a usage error" 2 "^backprop train: --init-range expects a number.*'abc'" \
    "$BP" train --train train.csv --init-range abc
t "init with the same seed again" 0 '' "$BP" init --arch 2,4,3,1 --activation tanh --output sigmoid --loss bce --seed 5 -o net2.bpm
c "the same seed gives a byte-identical model file" 'cmp -s net.bpm net2.bpm'
t "init with another seed" 0 '' "$BP" init --arch 2,4,3,1 --activation tanh --output sigmoid --loss bce --seed 6 -o net3.bpm
c "another seed gives different weights" '! cmp -s net.bpm net3.bpm'
(umask 022 && "$BP" init --arch 2,3 -o perm.bpm >/dev/null 2>&1)
run ls -l perm.bpm
c "a model written under umask 022 is readable by others (-rw-r--r--)" \
    '[ "$(cut -c1-10 "$O")" = "-rw-r--r--" ]'

# -------------------------------------------------------------- gradcheck

t "gradcheck (every combination) passes" 0 '' "$BP" gradcheck
out_has "gradcheck prints '0 failed'" '^[1-9][0-9]* combinations checked, 0 failed$'
t "gradcheck --activation tanh --output sigmoid --loss bce" 0 '' \
    "$BP" gradcheck --activation tanh --output sigmoid --loss bce
out_has "pinned gradcheck checks 2 combinations, 0 failed" '^2 combinations checked, 0 failed$'
c "pinned gradcheck rows are tanh/sigmoid/bce and ok" \
    '[ "$(grep -Ec "^tanh +sigmoid +bce +(yes|no) .* ok\$" "$O")" -eq 2 ]'
t "gradcheck --json, pinned" 0 '' "$BP" gradcheck --json --activation tanh --output sigmoid --loss bce --arch 2,3,2
json "gradcheck --json: every check passes" '
assert d["checked"] == 2 and d["failed"] == 0, d
assert all(x["pass"] and x["hidden"] == "tanh" and x["loss"] == "bce" for x in d["checks"]), d["checks"]'
t "gradcheck with a crude step (--step 1) fails with exit 1 and says so on stderr" 1 '^backprop gradcheck: 2 of 2 combinations failed' \
    "$BP" gradcheck --step 1 --activation tanh --output sigmoid --loss bce
out_has "the crude gradcheck reports FAIL rows" ' FAIL$'
t "gradcheck --loss ce --output sigmoid is a usage error" 2 '^backprop gradcheck: .*softmax' \
    "$BP" gradcheck --loss ce --output sigmoid
t "gradcheck --activation softmax (hidden) is a usage error" 2 "^backprop gradcheck: .*softmax" \
    "$BP" gradcheck --activation softmax

# ---------------------------------------------------------------- explain

t "explain --arch 2,3,2 sigmoid" 0 '' "$BP" explain --arch 2,3,2 --activation sigmoid --output sigmoid
out_has "explain shows W^1 as [3 x 2]" 'W\^1 a\^0 .*\[3 x 2\]'
out_has "explain shows the backward recursion for delta^1" '^  delta\^1 = \(W\^2\)\^T delta\^2'
out_has "explain shows dC/dW^2 with shape [2 x 3]" '^  dC/dW\^2 = .*\[2 x 3\]'
t "explain --arch with --batch 8" 0 '' "$BP" explain --arch 4,5,3 --loss ce --batch 8
out_has "explain --batch 8 shows [5 x 8] batch shapes" '\[5 x 8\]'

# ------------------------------------------------- train / eval, classes

t "train on a generated CSV with --test and -o" 0 '' \
    "$BP" train --train train.csv --test test.csv --epochs 20 --seed 1 -o cls.bpm
out_has "train describes the 2-32-2 network and 300 samples" '^training 2-32-2 .* on 300 samples from train\.csv'
c "train prints 20 epoch lines" '[ "$(grep -c "^epoch " "$O")" -eq 20 ]'
out_has "train says it saved the model" '^saved cls\.bpm$'
train_acc=$(grep '^epoch' "$O" | tail -n 1 | sed -n 's/.*test accuracy *\([0-9.]*\)%.*/\1/p')
c "the last epoch's test accuracy is >= 80% (got ${train_acc:-none})" \
    '[ -n "$train_acc" ] && awk -v a="$train_acc" "BEGIN { exit !(a >= 80) }"'
run ls
c "train left no temporary files next to its model" '[ -s cls.bpm ] && ! grep -q "\.tmp\." "$O"'
t "eval the trained model on the test CSV (with a header)" 0 '' "$BP" eval cls.bpm --data test.csv
out_has "eval counts 100 samples" '^samples +100$'
eval_acc=$(sed -n 's/^accuracy *\([0-9.]*\)%.*/\1/p' "$O")
c "eval accuracy is >= 80% (got ${eval_acc:-none})" \
    '[ -n "$eval_acc" ] && awk -v a="$eval_acc" "BEGIN { exit !(a >= 80) }"'
t "eval --json" 0 '' "$BP" eval cls.bpm --data test.csv --json
json "eval --json: 100 samples, accuracy >= 0.8, finite loss" '
assert d["samples"] == 100, d
assert 0.8 <= d["accuracy"] <= 1, d["accuracy"]
assert math.isfinite(d["loss"]) and d["loss"] >= 0 and d["rmse"] >= 0, d'
t "info --json on the trained model" 0 '' "$BP" info cls.bpm --json
json "the trained model is 2-32-2 relu/softmax/ce (32 hidden units by default)" '
assert d["sizes"] == [2, 32, 2] and d["hidden"] == "relu", d
assert d["output"] == "softmax" and d["loss"] == "ce", d'
t "train --json" 0 '' "$BP" train --train train.csv --test test.csv --epochs 5 --json --hidden 8,4 --batch 16 --lr 0.2
jsonl "train --json: one valid object per epoch with losses and test accuracy, then a summary" '
assert len(ds) == 6, len(ds)
assert ds[-1]["done"] is True and ds[-1]["epochs"] == 5, ds[-1]
ds = ds[:-1]
assert [x["epoch"] for x in ds] == [1, 2, 3, 4, 5]
assert all(math.isfinite(x["train_loss"]) and math.isfinite(x["test_loss"]) for x in ds)
assert 0 <= ds[-1]["test_accuracy"] <= 1'
t "train --hidden none --no-shuffle --batch 0 (full batch)" 0 '' \
    "$BP" train --train train.csv --hidden none --no-shuffle --batch 0 --epochs 2 --lr=0.5
out_has "train --hidden none builds a 2-2 network" '^training 2-2 '

t "train --optimizer lbfgs stops once converged" 0 '' \
    "$BP" train --train train.csv --test test.csv --optimizer lbfgs --epochs 500 --hidden 8 --seed 2
out_has "lbfgs: the banner says full-batch lbfgs" '^lbfgs \(history 10, tolerance 0\.0001\), full-batch'
out_has "lbfgs says when it converged" '^lbfgs converged after [0-9]+ iterations$'
c "lbfgs stopped well before 500 epochs" '[ "$(grep -c "^epoch " "$O")" -lt 500 ]'
lbfgs_acc=$(grep '^epoch' "$O" | tail -n 1 | sed -n 's/.*test accuracy *\([0-9.]*\)%.*/\1/p')
c "lbfgs test accuracy is >= 90% (got ${lbfgs_acc:-none})" \
    '[ -n "$lbfgs_acc" ] && awk -v a="$lbfgs_acc" "BEGIN { exit !(a >= 90) }"'
t "train --tolerance 0 is a usage error" 2 'tolerance' "$BP" train --train train.csv --optimizer lbfgs --tolerance 0

t "train --optimizer rprop with FANN's settings (--init-range, --rprop-step0, --rprop-step-max)" 0 '' \
    "$BP" train --train train.csv --test test.csv --optimizer rprop --epochs 100 --hidden 8 --activation tanh \
    --loss mse --output sigmoid --init-range 0.1 --rprop-step0 0.05 --rprop-step-max 25 --seed 2
out_has "rprop: the banner names its steps" '^rprop \(first step 0\.05, largest 25\), full-batch'
rprop_acc=$(grep '^epoch' "$O" | tail -n 1 | sed -n 's/.*test accuracy *\([0-9.]*\)%.*/\1/p')
c "rprop with FANN's settings: test accuracy is >= 90% (got ${rprop_acc:-none})" \
    '[ -n "$rprop_acc" ] && awk -v a="$rprop_acc" "BEGIN { exit !(a >= 90) }"'
t "train --optimizer rprop: the banner names the default steps" 0 '' \
    "$BP" train --train train.csv --optimizer rprop --epochs 1 --hidden 4
out_has "rprop's default steps are 0.1 and 50" '^rprop \(first step 0\.1, largest 50\), full-batch'
t "train --rprop-step0 without --optimizer rprop is a usage error" 2 '^backprop train: --rprop-step0 applies to --optimizer rprop, not sgd$' \
    "$BP" train --train train.csv --rprop-step0 0.05
t "train --rprop-step-max 0 is a usage error" 2 "^backprop train: --rprop-step-max expects a number from 1e-06" \
    "$BP" train --train train.csv --optimizer rprop --rprop-step-max 0
t "train --rprop-step0 above the largest step is a usage error" 2 "^backprop train: rprop's first step \(60\) is larger than its largest step \(50\)" \
    "$BP" train --train train.csv --optimizer rprop --rprop-step0 60
t "train --rprop-step0 0.5 --rprop-step-max 0.2 is a usage error" 2 "first step \(0\.5\) is larger than its largest step \(0\.2\)" \
    "$BP" train --train train.csv --optimizer rprop --rprop-step0 0.5 --rprop-step-max 0.2

t "train --dropout 0.3 with two hidden layers" 0 '' \
    "$BP" train --train train.csv --test test.csv --hidden 16,8 --dropout 0.3 --epochs 20 --seed 1 -o drop.bpm
drop_acc=$(grep '^epoch' "$O" | tail -n 1 | sed -n 's/.*test accuracy *\([0-9.]*\)%.*/\1/p')
c "dropout: test accuracy is >= 80% (got ${drop_acc:-none})" \
    '[ -n "$drop_acc" ] && awk -v a="$drop_acc" "BEGIN { exit !(a >= 80) }"'
t "info on a model with dropout" 0 '' "$BP" info drop.bpm
out_has "info shows the stored dropout of each hidden layer" '^dropout +0\.3, 0\.3 \(hidden layers 1\.\.2'
t "info --json on a model with dropout" 0 '' "$BP" info drop.bpm --json
out_has "info --json has the dropout probabilities" '"dropout":\[0\.3,0\.3\]'
t "explain --model shows the stored dropout" 0 '' "$BP" explain --model drop.bpm
out_has "explain: the header names dropout 0.3,0.3" '^Network 2-16-8-2: .*, dropout 0\.3,0\.3$'
out_has "explain: the dropout equation of layer 1" "^  a~\\^1 = a\\^1 \\(\\.\\) r\\^1 / \\(1 - 0\\.3\\)"
t "train --dropout 0.5,0.2 for one hidden layer is a usage error" 2 '2 probabilities for 1 hidden layer; give one, or one each' \
    "$BP" train --train train.csv --hidden 16 --dropout 0.5,0.2
t "train --dropout 1 is a usage error" 2 'dropout' "$BP" train --train train.csv --dropout 1
t "train --dropout with --optimizer lbfgs is a usage error" 2 'lbfgs' \
    "$BP" train --train train.csv --dropout 0.2 --optimizer lbfgs
t "gradcheck --dropout 0.5 (one fixed mask, three ways)" 0 '' "$BP" gradcheck --dropout 0.5 --activation tanh
out_has "gradcheck --dropout says so and passes" '0 failed$'

# ---------------------------------------------- train / eval, regression

t "train --targets 1 (regression) with -o" 0 '' \
    "$BP" train --train reg.csv --targets 1 --epochs 30 --seed 2 -o reg.bpm
out_has "regression uses identity output and mse" '^training 2-32-1 \(relu hidden, identity output, mse loss\)'
t "eval the regression model" 0 '' "$BP" eval reg.bpm --data reg.csv
out_has "regression eval reports the mse loss" '^loss .*\(mse\)$'
rmse=$(sed -n 's/^rmse *//p' "$O")
c "regression RMSE is below 0.15 (got ${rmse:-none})" \
    '[ -n "$rmse" ] && awk -v r="$rmse" "BEGIN { exit !(r < 0.15) }"'
t "eval --json on the regression model" 0 '' "$BP" eval reg.bpm --data reg.csv --json
json "regression eval --json: accuracy null, small rmse" '
assert d["accuracy"] is None, d
assert d["samples"] == 300 and 0 <= d["rmse"] < 0.15, d'

# ------------------------------------------------------- explain numbers

t "explain --model --data --sample" 0 '' "$BP" explain --model cls.bpm --data test.csv --sample 2
out_has "explain --model prints the network from the file" '^Network 2-32-2: hidden relu, output softmax, loss ce'
out_has "explain --sample 2 prints data row 2's numbers" '^The numbers for data row 2 '
out_has "explain --sample prints the loss C" '^  C = [0-9]'
t "explain --model --sample 1" 0 '' "$BP" explain --model net.bpm --data small.csv --sample 1
explain_c=$(sed -n 's/^  C = //p' "$O")
t "grad --samples 1 on the same model and data" 0 '' "$BP" grad net.bpm --data small.csv --samples 1
grad_c=$(sed -n 's/^loss \([^ ]*\) .*/\1/p' "$O")
c "explain's C equals grad's loss for the first sample ($explain_c vs $grad_c)" \
    '[ -n "$explain_c" ] && [ "$explain_c" = "$grad_c" ]'
t "explain --lr shows the step" 0 '' "$BP" explain --model net.bpm --data small.csv --sample 1 --lr 0.5
out_has "explain --lr prints W^1 after one step" '^  W\^1 <- W\^1 - 0\.5 dC/dW\^1'
t "explain --json" 0 '' "$BP" explain --model net.bpm --data small.csv --sample 1 --json
out_has "explain --json is one JSON object with the equations and the sample" '^{"network": .*"equations": \[.*"sample": {"loss": '
if command -v python3 >/dev/null 2>&1; then
    c "explain --json parses as JSON, with one entry per layer" \
        'python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d[\"sample\"][\"layers\"]) == len(d[\"network\"][\"sizes\"]) - 1" "$O"'
fi
t "explain --model --sample beyond the data is a usage error" 2 '^backprop explain: --sample 4: small\.csv has 3 data rows' \
    "$BP" explain --model net.bpm --data small.csv --sample 4
t "explain --data without --model is a usage error" 2 '^backprop explain: --data needs --model' \
    "$BP" explain --data small.csv
t "explain with neither --arch nor --model is a usage error" 2 '^backprop explain: ' "$BP" explain

# ------------------------------------------------------------------- demo

t "demo" 0 '' "$BP" demo
demo_acc=$(sed -n 's/^held-out accuracy: \([0-9.]*\)%.*/\1/p' "$O")
c "demo reaches >= 96% held-out accuracy (got ${demo_acc:-none})" \
    '[ -n "$demo_acc" ] && awk -v a="$demo_acc" "BEGIN { exit !(a >= 96) }"'
t "demo -o saves a model" 0 '' "$BP" demo -o demo.bpm
t "info --json on the demo model" 0 '' "$BP" info demo.bpm --json
json "the demo model is the 64-64-10 relu/softmax/ce digit classifier" '
assert d["sizes"] == [64, 64, 10] and d["hidden"] == "relu" and d["output"] == "softmax", d'
# One epoch does not reach the demo's own 90% bar: it then exits 1, and a
# command that fails must not leave its -o file.
run "$BP" demo --epochs 1 -o demo1.bpm
c "demo --epochs 1 exits 0, or 1 with a 'backprop demo: ' message" \
    '[ "$rc" -eq 0 ] || { [ "$rc" -eq 1 ] && grep -q "^backprop demo: " "$E"; }'
c "a demo that exits 1 leaves no -o file behind" '[ "$rc" -eq 0 ] || [ ! -e demo1.bpm ]'

# ------------------------------------------------------ bad data files

t "missing data file" 1 '^backprop train: .*missing\.csv.*No such file' "$BP" train --train missing.csv
t "missing data file for eval" 1 '^backprop eval: .*missing\.csv' "$BP" eval cls.bpm --data missing.csv
t "a directory as data" 1 '^backprop train: .*adir.*[Dd]irectory' "$BP" train --train adir
t "a directory as eval data" 1 '^backprop eval: .*adir' "$BP" eval cls.bpm --data adir
t "a non-number names file:line:column" 1 '^backprop train: nonnum\.csv:3:3: expected a number, found "abc"$' \
    "$BP" train --train nonnum.csv
t "a non-number in --test data names that file" 1 '^backprop train: nonnum\.csv:3:3: ' \
    "$BP" train --train train.csv --test nonnum.csv -o never.bpm
nothing_left "bad --test data leaves no model" never.bpm
t "an empty field names file:line:column" 1 '^backprop eval: emptycell\.csv:3:3: ' "$BP" eval cls.bpm --data emptycell.csv
t "nan in the data names file:line:column" 1 '^backprop train: nan\.csv:2:3: .*"nan"' "$BP" train --train nan.csv
t "a ragged row names file:line" 1 '^backprop train: ragged\.csv:3(:[0-9]+)?: .*3 columns.*found 2' \
    "$BP" train --train ragged.csv
t "an empty file" 1 '^backprop train: empty\.csv: .*no data' "$BP" train --train empty.csv
t "a header-only file" 1 '^backprop train: header\.csv:1:1: no data rows: the only line was read as a header, because this cell is not a number$' "$BP" train --train header.csv
t "class label 1.5 is a data error" 1 '^backprop train: frac\.csv' "$BP" train --train frac.csv
t "class label 1.5 names file:line:column (line 3)" 1 '^backprop train: frac\.csv:3:[0-9]+: .*1\.5' \
    "$BP" train --train frac.csv
t "class label 5 for a 2-class model names file:line:column" 1 '^backprop eval: range\.csv:2:[0-9]+: .*5' \
    "$BP" eval cls.bpm --data range.csv
t "wrong number of columns for the model (eval)" 1 '^backprop eval: wide\.csv:1:7: 4 columns, but the model has 2 inputs and a class column \(3 columns\)$' \
    "$BP" eval cls.bpm --data wide.csv
t "wrong number of columns for the model (grad)" 1 '^backprop grad: wide\.csv:1:7: 4 columns' "$BP" grad cls.bpm --data wide.csv
t "wrong number of columns for the model (explain)" 1 '^backprop explain: wide\.csv:1:7: 4 columns' \
    "$BP" explain --model cls.bpm --data wide.csv
t "--test data with another width than --train" 1 '^backprop train: wide\.csv:1:7: 4 columns, but the training data has 2 inputs and a class column \(3 columns\)$' \
    "$BP" train --train train.csv --test wide.csv
t "--targets 3 on a 3-column file is a data error naming 3 columns" 1 '^backprop train: three\.csv:1:1: 3 columns' \
    "$BP" train --train three.csv --targets 3
t "a model file given as data" 1 '^backprop eval: cls\.bpm is a backprop model file \(\.bpm\), not data' "$BP" eval cls.bpm --data cls.bpm
t "a model file given as training data" 1 '^backprop train: cls\.bpm is a backprop model file' "$BP" train --train cls.bpm
printf '1,2\n3,4\n' >inputs.csv
t "eval needs the class column that predict can do without" 1 \
    '^backprop eval: inputs\.csv:1:4: 2 columns: the inputs without the class column needed here; the model has 2 inputs and a class column \(3 columns\)$' \
    "$BP" eval cls.bpm --data inputs.csv
t "predict takes the inputs alone" 0 '' "$BP" predict cls.bpm --data inputs.csv
# A sample's printed outputs do not depend on the other rows of the file: the library
# multiplies 1 to 3 rows in another order than more, and predict never hands it so few.
awk 'BEGIN { s = 7; for (i = 0; i < 300; i++) { line = ""; t = 0
        for (k = 0; k < 24; k++) { s = (s * 16807) % 2147483647; v = s / 2147483647; t += (k % 3 - 1) * v; line = line sprintf("%.4f,", v) }
        print line (t > 0.3 ? 2 : t > -0.3 ? 1 : 0) } }' >wide24.csv
"$BP" train --train wide24.csv --hidden 64,32 --epochs 3 --seed 5 --quiet -o wide24.bpm >/dev/null 2>&1
head -n 12 wide24.csv >twelve.csv
"$BP" predict wide24.bpm --data twelve.csv >together.txt 2>&1
alone=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    sed -n "${i}p" twelve.csv >one.csv
    "$BP" predict wide24.bpm --data one.csv 2>&1 | sed -n 2p >one.txt
    sed -n "$((i + 1))p" together.txt | cmp -s - one.txt || alone=$((alone + 1))
done
c "predict prints each of 12 rows alone as it does among the others (differ: $alone)" '[ "$alone" -eq 0 ] && [ -s together.txt ]'
head -n 258 wide24.csv >r258.csv
"$BP" predict wide24.bpm --data r258.csv 2>&1 | tail -n 2 >tail258.txt
sed -n 250,258p wide24.csv >nine.csv
"$BP" predict wide24.bpm --data nine.csv 2>&1 | tail -n 2 >two.txt
c "predict's last chunk: rows 257-258 of a 258-row file print as in a 9-row file" 'cmp -s tail258.txt two.txt'
# Class names that CSV must quote, and one longer than 128 bytes: predict's header and
# --classes rows, and convert's label column, read back as the same names.
longclass=$(awk 'BEGIN { s = ""; for (i = 0; i < 150; i++) s = s "k"; print s }')
awk -v long="$longclass" 'BEGIN { srand(4); print "x,y,label"; for (i = 0; i < 150; i++) { x = rand(); y = rand()
    printf "%.3f,%.3f,%s\n", x, y, (x > y + 0.2) ? "\"big, yes\"" : (x < y - 0.2) ? "\"say \"\"hi\"\"\"" : long } }' >names.csv
"$BP" train --train names.csv --epochs 30 --lr 0.5 --quiet -o names.bpm >/dev/null 2>&1
t "predict with class names that need quoting" 0 '' "$BP" predict names.bpm --data names.csv -o names-p.csv
t "predict --classes with those names" 0 '' "$BP" predict names.bpm --data names.csv --classes -o names-c.csv
t "convert a CSV with those names" 0 '' "$BP" convert names.csv names-conv.csv
if [ -n "$PY" ]; then
    c "predict and convert write CSV that reads back as the same class names" '"$PY" -c "
import csv, sys
want = {\"big, yes\", \"say \\\"hi\\\"\", \"k\" * 150}
p = list(csv.reader(open(\"names-p.csv\")))
assert set(p[0]) == want and {len(r) for r in p} == {3}, p[0]
c = list(csv.reader(open(\"names-c.csv\")))
assert c[0] == [\"class\"] and {len(r) for r in c} == {1} and set(r[0] for r in c[1:]) <= want, c[:3]
assert len(set(r[0] for r in c[1:])) == 3, set(r[0] for r in c[1:])
v = [r[-1] for r in csv.reader(open(\"names-conv.csv\"))]
w = [r[-1] for r in list(csv.reader(open(\"names.csv\")))[1:]]
assert v == w, (v[:3], w[:3])
"'
fi
t "the converted file evaluates with the model trained on the original" 0 '' "$BP" eval names.bpm --data names-conv.csv
t "info on a model with those names" 0 '' "$BP" info names.bpm
out_has "info shows a name with a comma or a quote as a quoted string, on one line" \
    '^classes +("big, yes"|"say \\"hi\\""|k+), ("big, yes"|"say \\"hi\\""|k+), ("big, yes"|"say \\"hi\\""|k+)$'
# predict ignores the class column: labels the model never saw do not stop it (eval must).
printf 'x,y,label\n0.9,0.1,"big, yes"\n0.2,0.8,never seen\n' >unseen.csv
t "predict on data with a class name the model never saw" 0 '' "$BP" predict names.bpm --data unseen.csv --classes
c "predict printed a class for both rows" '[ "$(wc -l < "$O")" -eq 3 ]'
t "eval on the same data names the unknown class" 1 '^backprop eval: unseen\.csv:3:9: class "never seen" is not one of the 3 classes' \
    "$BP" eval names.bpm --data unseen.csv
t "predict on data with class 5 for a 2-class model" 0 '' "$BP" predict cls.bpm --data range.csv
c "predict printed both rows" '[ "$(wc -l < "$O")" -eq 3 ]'
printf '# a comment line\n\n1\n' >narrow.csv
t "predict on too few columns names the first data line" 1 \
    '^backprop predict: narrow\.csv:3:2: 1 column, but the model has 2 inputs and a class column \(3 columns\), or the inputs alone$' \
    "$BP" predict cls.bpm --data narrow.csv

# ---------------------------------------------------- damaged model files

# (When an earlier step failed to make cls.bpm, these fixtures stay missing or
# empty and the checks that use them fail; no need for more noise here.)
size=$( (wc -c <cls.bpm) 2>/dev/null | tr -d ' ')
[ -n "$size" ] && [ "$size" -ge 40 ] || size=40
head -c 100 cls.bpm >trunc.bpm 2>/dev/null
t "truncated model (head -c 100)" 1 '^backprop info: trunc\.bpm: .*truncated' "$BP" info trunc.bpm
t "truncated model for eval" 1 '^backprop eval: trunc\.bpm: .*truncated' "$BP" eval trunc.bpm --data test.csv
head -c 12 cls.bpm >short.bpm 2>/dev/null
t "model cut after its magic number (head -c 12) says truncated" 1 '^backprop info: short\.bpm: .*truncated' \
    "$BP" info short.bpm
cp cls.bpm flip.bpm 2>/dev/null
flip flip.bpm $((size / 2))
c "the bit-flipped copy differs from the model" '! cmp -s cls.bpm flip.bpm'
t "bit-flipped model: checksum mismatch" 1 '^backprop info: flip\.bpm: checksum mismatch' "$BP" info flip.bpm
t "bit-flipped model for grad" 1 '^backprop grad: flip\.bpm: checksum mismatch' "$BP" grad flip.bpm --data test.csv
t "bit-flipped model for explain" 1 '^backprop explain: flip\.bpm: checksum' "$BP" explain --model flip.bpm
t "a text file as a model" 1 '^backprop info: text\.bpm: not a backprop model file' "$BP" info text.bpm
t "a CSV file as a model" 1 '^backprop eval: train\.csv: not a backprop model file' "$BP" eval train.csv --data test.csv
t "an empty model file" 1 '^backprop info: empty\.csv: ' "$BP" info empty.csv
t "a missing model file" 1 '^backprop info: .*nomodel\.bpm.*No such file' "$BP" info nomodel.bpm
t "a directory as a model" 1 '^backprop info: .*adir' "$BP" info adir
cp cls.bpm long.bpm 2>/dev/null
echo junk >>long.bpm
t "a model with trailing bytes" 1 '^backprop info: long\.bpm: .*trailing' "$BP" info long.bpm
# Every byte position class: magic, version, size, a chunk header, the data, the checksum.
for off in 0 8 16 24 28 40 $((size - 20)) $((size - 1)); do
    cp cls.bpm "off$off.bpm" 2>/dev/null
    flip "off$off.bpm" "$off"
    t "model with byte $off flipped is refused (exit 1, file named)" 1 "^backprop info: off$off\\.bpm: " \
        "$BP" info "off$off.bpm"
done

# Damage that keeps the checksum valid: the loader must still refuse it, by name.
# net.bpm is 2-4-3-1: ARCH payload at byte 36 (L, hidden, output, loss, bias,
# slope, then 4 widths as u64 from byte 60); PARM count at 116, floats from 124.
if [ -n "$PY" ]; then
    patch() { # SRC DST OFFSET STRUCT-FORMAT VALUE: write a value, fix the CRC-32
        "$PY" - "$@" 2>/dev/null <<'EOF'
import struct, sys, zlib
src, dst, off, fmt, val = sys.argv[1:]
b = bytearray(open(src, "rb").read())
struct.pack_into("<" + fmt, b, int(off), float(val) if fmt in "fd" else int(val))
struct.pack_into("<I", b, len(b) - 4, zlib.crc32(bytes(b[:-4])) & 0xffffffff)
open(dst, "wb").write(b)
EOF
    }
    patch net.bpm nan.bpm 124 f nan
    t "a model holding NaN is refused (file and byte named)" 1 '^backprop info: nan\.bpm: byte 124: .*not a finite' "$BP" info nan.bpm
    patch net.bpm width0.bpm 68 Q 0
    t "a model with a zero width is refused" 1 '^backprop info: width0\.bpm: .*width 0' "$BP" info width0.bpm
    patch net.bpm widthbig.bpm 68 Q 16777216
    t "a model with a huge width is refused" 1 '^backprop info: widthbig\.bpm: ' "$BP" info widthbig.bpm
    patch net.bpm layers.bpm 36 I 4000000000
    t "a model with 4e9 layers is refused" 1 '^backprop info: layers\.bpm: ' "$BP" info layers.bpm
    patch net.bpm chunklen.bpm 28 Q 18446744073709551615
    t "a model with an endless chunk is refused" 1 '^backprop info: chunklen\.bpm: ' "$BP" info chunklen.bpm
    patch net.bpm version.bpm 8 I 2
    t "a model of a newer format version is refused" 1 '^backprop info: version\.bpm: .*version 2' "$BP" info version.bpm
    patch net.bpm act.bpm 40 I 77
    t "a model with an unknown activation code is refused" 1 '^backprop info: act\.bpm: ' "$BP" info act.bpm
    patch net.bpm cesig.bpm 48 I 1
    t "a model pairing ce with a sigmoid output is refused, naming the file" 1 '^backprop info: cesig\.bpm: ' \
        "$BP" info cesig.bpm
    patch net.bpm hidsoft.bpm 40 I 5
    t "a model with a softmax hidden layer is refused, naming the file" 1 '^backprop eval: hidsoft\.bpm: ' \
        "$BP" eval hidsoft.bpm --data small.csv
else
    echo "skip checksum-valid damaged models (no python3)"
fi

# ------------------------------------------------------------ usage errors

t "unknown option" 2 "^backprop train: unknown option --bogus" "$BP" train --train train.csv --bogus
t "unknown option for info" 2 "^backprop info: unknown option --frobnicate" "$BP" info cls.bpm --frobnicate
t "missing value for an option" 2 '^backprop train: option --lr needs a value' "$BP" train --train train.csv --lr
t "missing value for --arch" 2 '^backprop init: option --arch needs a value' "$BP" init -o x.bpm --arch
t "--lr abc" 2 "^backprop train: --lr expects a number.*'abc'" "$BP" train --train train.csv --lr abc
t "--lr -0.1" 2 "^backprop train: --lr expects a number" "$BP" train --train train.csv --lr -0.1
t "--epochs 1e3 is not a whole number" 2 "^backprop train: --epochs expects a whole number" "$BP" train --train train.csv --epochs 1e3
t "--epochs 0" 2 "^backprop train: --epochs expects" "$BP" train --train train.csv --epochs 0
t "--batch -1" 2 "^backprop train: --batch expects" "$BP" train --train train.csv --batch -1
t "--seed too large" 2 "^backprop init: --seed expects" "$BP" init --arch 2,3 --seed 99999999999999999999999 -o x.bpm
t "a flag given a value (--json=1)" 2 "^backprop info: option --json takes no value" "$BP" info cls.bpm --json=1
t "--arch 2,,3" 2 "^backprop init: --arch expects comma-separated widths.*'2,,3'" "$BP" init --arch 2,,3 -o x.bpm
t "--arch 0,3" 2 "^backprop init: --arch expects comma-separated widths.*'0,3'" "$BP" init --arch 0,3 -o x.bpm
t "--arch 2,3, (trailing comma)" 2 "^backprop init: --arch expects" "$BP" init --arch 2,3, -o trail.bpm
t "--arch 2 (one width)" 2 "^backprop init: --arch needs at least two widths" "$BP" init --arch 2 -o x.bpm
t "--arch x,3" 2 "^backprop explain: --arch expects" "$BP" explain --arch x,3
t "--hidden 8,,4" 2 "^backprop train: --hidden expects" "$BP" train --train train.csv --hidden 8,,4
t "--hidden 0" 2 "^backprop train: --hidden expects" "$BP" train --train train.csv --hidden 0
nothing_left "usage errors wrote no model" x.bpm
t "init without --arch" 2 "^backprop init: --arch is required" "$BP" init -o x.bpm
t "init without -o" 2 "^backprop init: -o FILE is required" "$BP" init --arch 2,3
t "train without --train" 2 "^backprop train: --train FILE is required" "$BP" train
t "eval without --data" 2 "^backprop eval: --data FILE is required" "$BP" eval cls.bpm
t "eval without a model" 2 "^backprop eval: expects one MODEL" "$BP" eval --data test.csv
t "eval with two models" 2 "^backprop eval: unexpected argument" "$BP" eval cls.bpm cls.bpm --data test.csv
t "info without a model" 2 "^backprop info: expects one MODEL" "$BP" info
t "grad --samples 0" 2 "^backprop grad: --samples expects" "$BP" grad cls.bpm --data test.csv --samples 0
t "grad --reduction median" 2 "^backprop grad: --reduction expects mean or sum" "$BP" grad cls.bpm --data test.csv --reduction median
t "unknown activation (init)" 2 "^backprop init: unknown activation 'swish'" "$BP" init --arch 2,3 --activation swish -o x.bpm
t "unknown activation (train)" 2 "^backprop train: unknown activation 'swish'" "$BP" train --train train.csv --activation swish
t "unknown activation with a missing data file is still a usage error" 2 "^backprop train: unknown activation 'swish'" \
    "$BP" train --train missing.csv --activation swish
t "unknown output activation" 2 "^backprop init: unknown output activation 'foo'" "$BP" init --arch 2,3 --output foo -o x.bpm
t "unknown loss" 2 "^backprop init: unknown loss 'hinge'" "$BP" init --arch 2,3 --loss hinge -o x.bpm
t "ce loss with a sigmoid output (init)" 2 "^backprop init: .*cross-entropy.*softmax" \
    "$BP" init --arch 2,3 --loss ce --output sigmoid -o x.bpm
t "ce loss with a sigmoid output (train)" 2 "^backprop train: .*cross-entropy.*softmax" \
    "$BP" train --train train.csv --loss ce --output sigmoid -o x.bpm
t "ce loss with a sigmoid output (explain)" 2 "^backprop explain: .*cross-entropy.*softmax" \
    "$BP" explain --arch 2,3 --loss ce --output sigmoid
t "bce loss with a softmax output" 2 "^backprop init: .*bce.*sigmoid" "$BP" init --arch 2,3 --loss bce --output softmax -o x.bpm
t "softmax as a hidden activation" 2 "^backprop init: .*softmax" "$BP" init --arch 2,3,2 --activation softmax -o x.bpm
t "a 1-unit softmax output" 2 "^backprop init: .*softmax.*2 units" "$BP" init --arch 2,1 --loss ce -o x.bpm
nothing_left "usage errors in init wrote no model" x.bpm
t "eval --targets bogus is a usage error" 2 "^backprop eval: --targets expects" "$BP" eval cls.bpm --data test.csv --targets bogus
t "eval --targets bogus on a regression model is a usage error" 2 "^backprop eval: --targets expects" \
    "$BP" eval reg.bpm --data reg.csv --targets bogus
t "train --targets abc" 2 "^backprop train: --targets expects" "$BP" train --train reg.csv --targets abc
t "demo --epochs 0" 2 "^backprop demo: --epochs expects" "$BP" demo --epochs 0

# ------------------------------------------------------ -o and no stray files

t "init -o into a nonexistent directory" 1 '^backprop init: .*nodir/m\.bpm' "$BP" init --arch 2,3 -o nodir/m.bpm
nothing_left "init into a nonexistent directory leaves nothing" nodir/m.bpm
c "no nodir directory was created" '[ ! -e nodir ]'
t "train -o into a nonexistent directory" 1 '^backprop train: .*nodir/m\.bpm' \
    "$BP" train --train train.csv --epochs 1 -o nodir/m.bpm
nothing_left "train into a nonexistent directory leaves nothing" nodir/m.bpm
t "demo -o into a nonexistent directory" 1 '^backprop demo: .*nodir/d\.bpm' "$BP" demo -o nodir/d.bpm
t "init -o onto an existing directory" 1 '^backprop init: .*adir' "$BP" init --arch 2,3 -o adir
nothing_left "init onto a directory leaves no temporary file" ./adir
c "the directory is still a directory" '[ -d adir ]'
t "train diverging (--lr 1e6) fails with exit 1" 1 '^backprop train: epoch [0-9]+, step [0-9]+: .*(finite|diverge)' \
    "$BP" train --train reg.csv --targets 1 --lr 1e6 --epochs 3 -o diverged.bpm
nothing_left "a diverged training run writes no model" diverged.bpm
t "train on bad data with -o" 1 '^backprop train: nonnum\.csv' "$BP" train --train nonnum.csv -o badmodel.bpm
nothing_left "training on bad data writes no model" badmodel.bpm
cp cls.bpm keep.bpm 2>/dev/null
t "a failed train does not touch an existing -o file" 1 '^backprop train: ' \
    "$BP" train --train nonnum.csv -o keep.bpm
c "the existing model is unchanged" 'cmp -s cls.bpm keep.bpm'
# An output file that is one of the command's inputs: refused before anything is written.
cp train.csv same.csv
cp test.csv sametest.csv
cp cls.bpm same.bpm
t "train -o onto its own --train file is a usage error" 2 \
    '^backprop train: -o \./same\.csv is the --train file same\.csv: writing it would destroy an input' \
    "$BP" train --train same.csv --epochs 1 -o ./same.csv
c "the training data is untouched" 'cmp -s train.csv same.csv'
t "train --log onto the --test file is a usage error" 2 '^backprop train: --log sametest\.csv is the --test file:' \
    "$BP" train --train train.csv --test sametest.csv --epochs 1 --log sametest.csv
c "the test data is untouched" 'cmp -s test.csv sametest.csv'
t "predict -o onto its MODEL is a usage error" 2 '^backprop predict: -o same\.bpm is the MODEL file:' \
    "$BP" predict same.bpm --data test.csv -o same.bpm
t "predict -o onto its --data is a usage error" 2 '^backprop predict: -o sametest\.csv is the --data file:' \
    "$BP" predict same.bpm --data sametest.csv -o sametest.csv
t "export-onnx -o onto its MODEL is a usage error" 2 '^backprop export-onnx: -o same\.bpm is the MODEL file:' \
    "$BP" export-onnx same.bpm -o same.bpm
t "export-c -o onto its MODEL is a usage error" 2 '^backprop export-c: -o same\.bpm is the MODEL file:' \
    "$BP" export-c same.bpm -o same.bpm
c "the model and the data are untouched" 'cmp -s cls.bpm same.bpm && cmp -s test.csv sametest.csv'
t "convert IN onto itself is a usage error" 2 '^backprop convert: OUT same\.csv is the IN file:' \
    "$BP" convert same.csv same.csv
c "the converted file is untouched" 'cmp -s train.csv same.csv'
longname=$(awk 'BEGIN { s = ""; for (i = 0; i < 300; i++) s = s "x"; print s }').bpm
t "init -o with a file name that is too long" 1 '^backprop init: .*xxxx' "$BP" init --arch 2,3 -o "$longname"
run ls
c "no temporary files anywhere in the work directory" '! grep -q "\.tmp\." "$O"'

# -------------------------------------------------------- output errors

if [ -w /dev/full ]; then
    "$BP" info cls.bpm --json >/dev/full 2>"$E"
    rc=$?
    last="$BP info cls.bpm --json >/dev/full"
    c "writing to a full device is an error (exit 1, message on stderr)" \
        '[ "$rc" -eq 1 ] && grep -q "^backprop info: .*writ" "$E"'
    for args in "--help" "--version" "train --help"; do
        # shellcheck disable=SC2086
        "$BP" $args >/dev/full 2>"$E"
        rc=$?
        last="$BP $args >/dev/full"
        c "backprop $args on a full device: exit 1 and a message" '[ "$rc" -eq 1 ] && grep -q "error writing" "$E"'
    done
fi

# ------------------------------------------------------- no crash, anywhere

# Every bad input through every command that reads it: never a crash (some of the
# data files are fine for the regression model); every damaged model: exit 1.
crashes=0
crashlist=
for data in nonnum.csv ragged.csv empty.csv header.csv frac.csv range.csv wide.csv emptycell.csv \
    nan.csv adir missing.csv cls.bpm text.bpm; do
    for cmd in "eval cls.bpm --data" "grad cls.bpm --data" "explain --model cls.bpm --data" "train --train" \
        "eval reg.bpm --data" "grad net.bpm --data"; do
        # shellcheck disable=SC2086
        "$BP" $cmd "$data" >/dev/null 2>&1
        r=$?
        if [ "$r" -gt 2 ]; then
            crashes=$((crashes + 1))
            crashlist="$crashlist
      $cmd $data -> exit $r"
        fi
    done
done
for model in trunc.bpm short.bpm flip.bpm text.bpm long.bpm empty.csv train.csv adir nomodel.bpm off*.bpm \
    nan.bpm width0.bpm widthbig.bpm layers.bpm chunklen.bpm version.bpm act.bpm cesig.bpm hidsoft.bpm; do
    [ -e "$model" ] || [ "$model" = nomodel.bpm ] || continue
    for cmd in info "eval --data test.csv" "grad --data test.csv" "explain --data test.csv --model"; do
        # shellcheck disable=SC2086
        "$BP" $cmd "$model" >/dev/null 2>&1
        r=$?
        if [ "$r" -ne 1 ]; then
            crashes=$((crashes + 1))
            crashlist="$crashlist
      $cmd $model -> exit $r"
        fi
    done
done
if [ "$crashes" -eq 0 ]; then
    ok "no crash on any bad data file; exit 1 for every damaged model, in every command"
else
    fail=$((fail + 1))
    echo "FAIL no crash on any bad data file; exit 1 for every damaged model, in every command$crashlist"
fi

# ---------------------------------------------------------------- threads
# Big enough that the products are cut between threads (64 x 256 x 64 and up),
# so the model files must come out byte-identical because the library splits
# outputs, never sums.
awk 'BEGIN { srand(21); for (i = 0; i < 1024; i++) { s = 0; line = "";
    for (k = 0; k < 64; k++) { v = rand(); s += (k % 3 - 1) * v; line = line sprintf("%.4f,", v) }
    print line (s > 0.5 ? 2 : s > -0.5 ? 1 : 0) } }' > wide.csv
t "train --threads 1" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 --epochs 2 --threads 1 --quiet -o th1.bpm
t "train --threads 2" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 --epochs 2 --threads 2 --quiet -o th2.bpm
t "train --threads 3" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 --epochs 2 --threads 3 --quiet -o th3.bpm
t "train with the default threads" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 --epochs 2 --quiet -o thd.bpm
c "1, 2, 3 and the default number of threads train byte-identical models" \
    'cmp -s th1.bpm th2.bpm && cmp -s th1.bpm th3.bpm && cmp -s th1.bpm thd.bpm'
t "eval --threads 3" 0 '' "$BP" eval th1.bpm --data wide.csv --threads 3 --json
cp "$O" eval3.json
t "eval --threads 1" 0 '' "$BP" eval th1.bpm --data wide.csv --threads 1 --json
c "eval gives the same report on 1 and 3 threads" 'cmp -s "$O" eval3.json'
t "predict --threads 2" 0 '' "$BP" predict th1.bpm --data wide.csv --threads 2 -o p2.csv
t "predict --threads 1" 0 '' "$BP" predict th1.bpm --data wide.csv --threads 1 -o p1.csv
c "predict writes the same file on 1 and 2 threads" 'cmp -s p1.csv p2.csv'
# Inputs without targets: predict counts the columns of the first line, whole,
# however long it is (here 6,000 columns, about 66 KB) and through gzip too.
awk 'BEGIN { srand(5); for (r = 0; r < 30; r++) { line = "";
    for (k = 0; k < 6000; k++) line = line sprintf("%.8f,", rand()); print line (r % 2) } }' > longline.csv
awk 'BEGIN { srand(6); for (r = 0; r < 4; r++) { line = sprintf("%.8f", rand());
    for (k = 1; k < 6000; k++) line = line sprintf(",%.8f", rand()); print line } }' > longline-in.csv
gzip -c longline-in.csv > longline-in.csv.gz
t "train on 6,000 columns" 0 '' "$BP" train --train longline.csv --hidden 4 --epochs 2 --quiet -o longline.bpm
t "predict on a first line longer than 64 KiB, no targets" 0 '' "$BP" predict longline.bpm --data longline-in.csv -o ll.csv
t "the same inputs gzipped" 0 '' "$BP" predict longline.bpm --data longline-in.csv.gz -o llgz.csv
c "plain and gzipped inputs predict the same 4 rows" '[ "$(wc -l < ll.csv)" -eq 5 ] && cmp -s ll.csv llgz.csv'
# IDX: 20 images of 2 x 2 pixels and their labels; predict takes the images alone.
{ printf '\000\000\010\003\000\000\000\024\000\000\000\002\000\000\000\002'
  i=0; while [ $i -lt 80 ]; do printf "\\$(printf %03o $(( (i * 37 + i / 4 * 11) % 256 )))"; i=$((i + 1)); done
} > img-idx
{ printf '\000\000\010\001\000\000\000\024'
  i=0; while [ $i -lt 20 ]; do printf "\\$(printf %03o $((i % 3)))"; i=$((i + 1)); done
} > lab-idx
t "train on IDX images and labels" 0 '' "$BP" train --train img-idx --labels lab-idx --hidden 4 --epochs 2 --quiet -o idx.bpm
t "predict on IDX images without labels" 0 '' "$BP" predict idx.bpm --data img-idx -o idxp.csv
c "one prediction per image" '[ "$(wc -l < idxp.csv)" -eq 21 ]'
t "eval on IDX images still asks for the labels" 2 'give its labels file too' "$BP" eval idx.bpm --data img-idx
t "--threads 0 is a usage error" 2 '^backprop train: --threads expects a whole number from 1 to 256' \
    "$BP" train --train wide.csv --threads 0 -o bad.bpm
nothing_left "--threads 0 writes no model" bad.bpm
t "--seed ' -5' (strtoull would wrap it) is a usage error" 2 "^backprop init: --seed expects a whole number, got ' -5'" \
    "$BP" init --arch 2,3 --seed " -5" -o wrap.bpm
nothing_left "the wrapped seed wrote no model" wrap.bpm
t "--lr 0x1p-3 (hexadecimal) is a usage error" 2 "^backprop train: --lr expects a number .*got '0x1p-3'" \
    "$BP" train --train train.csv --lr 0x1p-3
t "--threads x is a usage error" 2 '^backprop predict: --threads expects' "$BP" predict th1.bpm --data wide.csv --threads x

# ----------------------------------------------------------------- devices
t "--device gpu is a usage error" 2 "^backprop train: --device expects cpu or cuda, got 'gpu'" \
    "$BP" train --train wide.csv --device gpu -o dev.bpm
t "--tf32 without --device cuda is a usage error" 2 '^backprop train: --tf32 needs --device cuda' \
    "$BP" train --train wide.csv --tf32 -o dev.bpm
t "--device cpu trains as before" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 --epochs 2 \
    --threads 1 --device cpu --quiet -o dev-cpu.bpm
c "--device cpu gives the default model" 'cmp -s th1.bpm dev-cpu.bpm'
if [ "$("$BP" train --help | grep -c 'device NAME')" = 1 ] && ! "$BP" train --train wide.csv --epochs 1 --device cuda --quiet \
        -o gpu-probe.bpm >/dev/null 2>&1; then
    # No GPU here (or no CUDA in this build): a clear reason, exit 1, nothing written.
    t "--device cuda without a usable GPU says why" 1 '^backprop train: --device cuda: (this build has no CUDA backend|no CUDA device)' \
        "$BP" train --train wide.csv --device cuda -o dev.bpm
    nothing_left "--device cuda without a GPU writes no model" dev.bpm
    t "--device cuda with adam says what the GPU path cannot do" 1 \
        '^backprop train: --device cuda: (the CUDA path trains with sgd or momentum so far, not adam|this build has no CUDA)' \
        "$BP" train --train wide.csv --device cuda --optimizer adam -o dev.bpm
fi

# --------------------------------------------------------------- precision
# bf16: the products in bfloat16 on AMX or AVX512_BF16 (what this CPU has, which
# --version names), or emulated in C everywhere. The same bits for any thread count.
t "--version names the products this CPU gets" 0 '' "$BP" --version
out_has "--version: an fp32 and a bf16 line" '^products: fp32 .+; bf16 .+'
# The version printed is the one the Makefile (and the Python package) carry.
MK_VERSION=$(sed -n 's/^VERSION := //p' "$SRC_ROOT/Makefile")
out_has "--version prints the Makefile's version ($MK_VERSION)" "^backprop $MK_VERSION\$"
t "--precision bf16-emulated trains" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 --epochs 2 \
    --threads 1 --precision bf16-emulated --quiet -o emu1.bpm
t "--precision bf16-emulated on 3 threads" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 --epochs 2 \
    --threads 3 --precision bf16-emulated --quiet -o emu3.bpm
c "bf16 models are byte-identical on 1 and 3 threads, and not float32's" 'cmp -s emu1.bpm emu3.bpm && ! cmp -s emu1.bpm th1.bpm'
t "a bf16 model evaluates like any other" 0 '' "$BP" eval emu1.bpm --data wide.csv --json
c "its accuracy is within 3 points of the float32 model's" \
    '"$PY" -c "import json,sys; a=json.load(open(sys.argv[1]))[\"accuracy\"]; b=json.load(open(sys.argv[2]))[\"accuracy\"]; sys.exit(abs(a-b) > 0.03)" "$O" eval3.json'
t "--precision fp16 is a usage error" 2 "^backprop train: --precision expects fp32, bf16 or bf16-emulated, got 'fp16'" \
    "$BP" train --train wide.csv --precision fp16 -o prec.bpm
nothing_left "a bad --precision writes no model" prec.bpm
t "--precision bf16 with --device cuda is a usage error" 2 '^backprop train: --precision bf16 is for the CPU' \
    "$BP" train --train wide.csv --precision bf16 --device cuda -o prec.bpm
if "$BP" --version | grep -q '; bf16 none'; then
    t "--precision bf16 without AMX or AVX512_BF16 says so" 2 '^backprop train: --precision bf16: this CPU has neither' \
        "$BP" train --train wide.csv --precision bf16 -o prec.bpm
    nothing_left "--precision bf16 without bf16 writes no model" prec.bpm
else
    t "--precision bf16 trains on this CPU's bf16 products" 0 '' "$BP" train --train wide.csv --hidden 256,128 \
        --batch 64 --epochs 2 --threads 1 --precision bf16 -o bf1.bpm
    out_has "the plan names the bf16 kernel" 'products in bf16 \((AMX|AVX512_BF16)'
    t "--precision bf16 on 2 threads" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 --epochs 2 \
        --threads 2 --precision bf16 --quiet -o bf2.bpm
    c "bf16 models are byte-identical on 1 and 2 threads" 'cmp -s bf1.bpm bf2.bpm'
fi
t "--precision bf16-emulated resumes a checkpoint" 0 '' "$BP" train --train wide.csv --hidden 256,128 --batch 64 \
    --epochs 1 --threads 1 --precision bf16-emulated --quiet --checkpoint emu.ckpt -o emu-half.bpm
t "... and the resumed run trains in bf16 again" 0 '' "$BP" train --train wide.csv --batch 64 --epochs 2 --threads 1 \
    --precision bf16-emulated --quiet --resume emu.ckpt -o emu-resumed.bpm
c "a resumed bf16 run ends where the uninterrupted one does" 'cmp -s emu1.bpm emu-resumed.bpm'

# --resume keeps the checkpoint's network: options that would build another one are
# refused, not quietly ignored; the same ones (the command that made it) are fine.
t "train 2 epochs with a checkpoint" 0 '' "$BP" train --train train.csv --hidden 6,5 --activation tanh --epochs 2 \
    --quiet --checkpoint arch.ckpt
t "--resume with another --hidden is a usage error" 2 \
    '^backprop train: --hidden 8, but arch\.ckpt holds a network with hidden layers 6,5: a resumed run keeps' \
    "$BP" train --train train.csv --hidden 8 --activation tanh --epochs 3 --quiet --resume arch.ckpt -o arch.bpm
nothing_left "the refused resume wrote no model" arch.bpm
t "--resume with another --activation is a usage error" 2 '^backprop train: --activation relu, but arch\.ckpt holds a network with activation tanh' \
    "$BP" train --train train.csv --activation relu --epochs 3 --quiet --resume arch.ckpt
t "--resume with --no-bias on a network with biases is a usage error" 2 '^backprop train: --no-bias, but arch\.ckpt' \
    "$BP" train --train train.csv --no-bias --epochs 3 --quiet --resume arch.ckpt
t "--resume with fewer --epochs than are done is a usage error" 2 \
    '^backprop train: arch\.ckpt has 2 epochs behind it, more than --epochs 1' \
    "$BP" train --train train.csv --epochs 1 --quiet --resume arch.ckpt
t "--resume with the command that made the checkpoint" 0 '' "$BP" train --train train.csv --hidden 6,5 \
    --activation tanh --epochs 3 --quiet --checkpoint arch.ckpt --resume arch.ckpt -o arch.bpm

# --resume keeps the checkpoint's training settings and data split too: training options
# that say otherwise are refused; left out, the run goes on with the checkpoint's seed and
# validation fraction, so it ends where the run that was never stopped ends.
t "train 4 epochs straight with a seed, a split and adam" 0 '' "$BP" train --train train.csv --optimizer adam \
    --lr 0.002 --batch 16 --validation 0.25 --seed 7 --epochs 4 --threads 1 --quiet -o straight.bpm
t "the same 2 epochs with a checkpoint" 0 '' "$BP" train --train train.csv --optimizer adam --lr 0.002 --batch 16 \
    --validation 0.25 --seed 7 --epochs 2 --threads 1 --quiet --checkpoint set.ckpt
cp set.ckpt set2.ckpt
t "--resume with only --train and --epochs" 0 '' "$BP" train --train train.csv --epochs 4 --threads 1 --quiet \
    --resume set.ckpt -o resumed.bpm
c "... ends bitwise where the run that was never stopped ends (same seed, same split)" 'cmp -s straight.bpm resumed.bpm'
t "--resume with the whole command that made the checkpoint" 0 '' "$BP" train --train train.csv --optimizer adam \
    --lr 0.002 --batch 16 --validation 0.25 --seed 7 --epochs 4 --threads 1 --quiet --resume set2.ckpt -o resumed2.bpm
c "... ends there too" 'cmp -s straight.bpm resumed2.bpm'
t "--resume with another --lr is a usage error" 2 \
    '^backprop train: --lr 0\.1, but set2\.ckpt was trained with --lr 0\.002: a resumed run keeps the checkpoint.s training settings' \
    "$BP" train --train train.csv --epochs 5 --quiet --lr 0.1 --resume set2.ckpt -o refused.bpm
nothing_left "the refused resume wrote no model" refused.bpm
t "--resume with another --optimizer is a usage error" 2 '^backprop train: --optimizer sgd, but set2\.ckpt was trained with --optimizer adam' \
    "$BP" train --train train.csv --epochs 5 --quiet --optimizer sgd --resume set2.ckpt
t "--resume with another --batch is a usage error" 2 '^backprop train: --batch 32, but set2\.ckpt was trained with --batch 16' \
    "$BP" train --train train.csv --epochs 5 --quiet --batch 32 --resume set2.ckpt
t "--resume with another --seed is a usage error" 2 '^backprop train: --seed 1, but set2\.ckpt was trained with --seed 7' \
    "$BP" train --train train.csv --epochs 5 --quiet --seed 1 --resume set2.ckpt
t "--resume with another --validation is a usage error" 2 \
    '^backprop train: --validation 0\.1, but set2\.ckpt was trained with --validation 0\.25' \
    "$BP" train --train train.csv --epochs 5 --quiet --validation 0.1 --resume set2.ckpt
t "--resume with --momentum on an adam run names the optimizer it needs" 2 \
    '^backprop train: --momentum applies to --optimizer sgd, momentum or nesterov, not adam$' \
    "$BP" train --train train.csv --epochs 5 --quiet --momentum 0.9 --resume set2.ckpt
t "--resume with --momentum on a plain sgd run is a usage error" 2 \
    '^backprop train: --momentum 0\.9, but arch\.ckpt was trained with --optimizer sgd, without momentum' \
    "$BP" train --train train.csv --epochs 5 --quiet --momentum 0.9 --resume arch.ckpt
t "a run of sgd with momentum, and a checkpoint" 0 '' "$BP" train --train train.csv --momentum 0.8 --epochs 2 \
    --quiet --checkpoint mom.ckpt
t "--resume with --optimizer sgd --momentum 0.8 is the same run as the library reads it" 0 '' "$BP" train \
    --train train.csv --optimizer sgd --momentum 0.8 --epochs 3 --quiet --resume mom.ckpt
t "--resume with --early-stop on a run without a validation part is a usage error" 2 \
    '^backprop train: --early-stop watches a validation part, but arch\.ckpt was trained without one' \
    "$BP" train --train train.csv --epochs 5 --quiet --early-stop 2 --resume arch.ckpt
t "--resume with --early-stop on a run with a validation part" 0 '' \
    "$BP" train --train train.csv --epochs 5 --quiet --early-stop 2 --resume set2.ckpt
t "--resume prints the settings it continues with" 0 '' "$BP" train --train train.csv --epochs 5 --resume set2.ckpt
out_has "... the optimizer, its rate and batch" '^adam, learning rate 0\.002, batch 16, 5 epochs$'
# Outputs that name one file would overwrite each other, and the checkpoint resumed from is
# an input: only --checkpoint may name it.
t "-o and --checkpoint naming one file is a usage error" 2 \
    '^backprop train: -o both\.bpm and --checkpoint \./both\.bpm name the same file: one would overwrite the other' \
    "$BP" train --train train.csv --epochs 1 --quiet -o both.bpm --checkpoint ./both.bpm
nothing_left "... and writes nothing" both.bpm
t "--log and --plot naming one file is a usage error" 2 '^backprop train: --log run\.out and --plot run\.out name the same file' \
    "$BP" train --train train.csv --epochs 1 --quiet --log run.out --plot run.out
cp set2.ckpt keep.ckpt
t "--plot naming the checkpoint resumed from is a usage error" 2 \
    '^backprop train: --plot keep\.ckpt is the --resume file: writing it would destroy an input' \
    "$BP" train --train train.csv --epochs 5 --quiet --resume keep.ckpt --plot keep.ckpt
t "-o naming the checkpoint resumed from is a usage error" 2 '^backprop train: -o keep\.ckpt is the --resume file' \
    "$BP" train --train train.csv --epochs 5 --quiet --resume keep.ckpt -o keep.ckpt
c "... and the checkpoint is untouched" 'cmp -s set2.ckpt keep.ckpt'

# A resumed run's --log goes on: every epoch once, the elapsed time still rising.
t "6 epochs with a checkpoint and a log" 0 '' "$BP" train --train train.csv --epochs 6 --quiet --checkpoint clock.ckpt \
    --log clock.csv
t "... resumed for a 7th with the log" 0 '' "$BP" train --train train.csv --epochs 7 --quiet --resume clock.ckpt \
    --log clock.csv
c "... the log holds epochs 1 to 7" '[ "$(cut -d, -f1 clock.csv | tr "\n" " ")" = "epoch 1 2 3 4 5 6 7 " ]'
c "... and its elapsed seconds never go back" 'awk -F, "NR > 2 && \$9 < last { bad = 1 } { last = \$9 } END { exit bad }" clock.csv'

# A run that early stopping ended is over: resumed with the same command it trains no
# further and keeps the best weights, as it did when it stopped.
t "an early-stopped run with a checkpoint" 0 '' "$BP" train --train train.csv --optimizer adam --lr 0.05 \
    --validation 0.25 --early-stop 1 --epochs 40 --seed 2 --threads 1 --quiet --checkpoint stopped.ckpt -o stopped.bpm
t "--resume of a run early stopping ended" 0 '' "$BP" train --train train.csv --optimizer adam --lr 0.05 \
    --validation 0.25 --early-stop 1 --epochs 40 --seed 2 --threads 1 --resume stopped.ckpt -o stopped2.bpm
out_has "... says it trains no further" '^resuming from stopped\.ckpt: early stopping ended it after epoch [0-9]+ .*trains no further$'
c "... trains no epoch" '! grep -q "^epoch" "$O"'
c "... and keeps the best weights, as the run did when it stopped" 'cmp -s stopped.bpm stopped2.bpm'
t "a cosine run of 3 epochs with a checkpoint" 0 '' "$BP" train --train train.csv --schedule cosine --epochs 3 \
    --quiet --checkpoint cos.ckpt
t "--resume past the end of the cosine schedule is a usage error" 2 \
    '^backprop train: --epochs 6 goes past the end of cos\.ckpt.s cosine schedule, which decays to --min-lr 0 over 3 epochs: the epochs after it would train at that final rate, changing nothing' \
    "$BP" train --train train.csv --epochs 6 --quiet --resume cos.ckpt
t "an rprop run with a checkpoint" 0 '' "$BP" train --train train.csv --optimizer rprop --epochs 2 --quiet \
    --checkpoint rprop.ckpt
t "--resume with rprop's default first step given (kept as a float) is fine" 0 '' "$BP" train --train train.csv \
    --optimizer rprop --rprop-step0 0.1 --epochs 3 --quiet --resume rprop.ckpt
t "--resume with another --rprop-step0 is a usage error naming the stored one" 2 \
    '^backprop train: --rprop-step0 0\.3, but rprop\.ckpt was trained with --rprop-step0 0\.1: ' \
    "$BP" train --train train.csv --rprop-step0 0.3 --epochs 3 --quiet --resume rprop.ckpt

# An option that the other options make pointless is a usage error naming the setting
# it needs, not a value quietly dropped.
t "--momentum with adam is a usage error" 2 \
    '^backprop train: --momentum applies to --optimizer sgd, momentum or nesterov, not adam$' \
    "$BP" train --train train.csv --optimizer adam --momentum 0.5 -o ignored.bpm
nothing_left "the refused option wrote no model" ignored.bpm
t "--momentum with sgd turns momentum on" 0 '' "$BP" train --train train.csv --momentum 0.5 --epochs 1 --quiet
t "--lr with rprop is a usage error" 2 \
    '^backprop train: --lr applies to --optimizer sgd, momentum, nesterov, adam or adamw, not rprop: rprop sets a step' \
    "$BP" train --train train.csv --optimizer rprop --lr 0.1
t "--schedule cosine with lbfgs is a usage error" 2 '^backprop train: --schedule applies to .*, not lbfgs: lbfgs searches' \
    "$BP" train --train train.csv --optimizer lbfgs --schedule cosine
t "--warmup with rprop is a usage error" 2 '^backprop train: --warmup applies to .*, not rprop' \
    "$BP" train --train train.csv --optimizer rprop --warmup 2
t "--batch 16 with lbfgs is a usage error" 2 '^backprop train: --batch 16: --optimizer lbfgs always trains on the full batch' \
    "$BP" train --train train.csv --optimizer lbfgs --batch 16
t "--batch 0 with rprop says what rprop does anyway" 0 '' "$BP" train --train train.csv --optimizer rprop --batch 0 \
    --epochs 1 --quiet
t "--reduction mean with rprop is a usage error" 2 '^backprop train: --reduction mean: --optimizer rprop always uses the sum' \
    "$BP" train --train train.csv --optimizer rprop --reduction mean
t "--clip with lbfgs is a usage error" 2 '^backprop train: --clip does not apply to --optimizer lbfgs' \
    "$BP" train --train train.csv --optimizer lbfgs --clip 1
t "--tolerance without lbfgs is a usage error" 2 '^backprop train: --tolerance applies to --optimizer lbfgs, not sgd$' \
    "$BP" train --train train.csv --tolerance 1e-3
t "--lbfgs-history with adam is a usage error" 2 '^backprop train: --lbfgs-history applies to --optimizer lbfgs, not adam$' \
    "$BP" train --train train.csv --optimizer adam --lbfgs-history 4
t "--max-evaluations with momentum is a usage error" 2 '^backprop train: --max-evaluations applies to --optimizer lbfgs' \
    "$BP" train --train train.csv --optimizer momentum --max-evaluations 10
t "--gamma without --schedule step is a usage error" 2 '^backprop train: --gamma applies to --schedule step, not constant$' \
    "$BP" train --train train.csv --gamma 0.5
t "--step-epochs with cosine is a usage error" 2 '^backprop train: --step-epochs applies to --schedule step, not cosine$' \
    "$BP" train --train train.csv --schedule cosine --step-epochs 3
t "--min-lr with the step schedule is a usage error" 2 '^backprop train: --min-lr applies to --schedule cosine, not step$' \
    "$BP" train --train train.csv --schedule step --min-lr 0.01
t "cosine --min-lr equal to --lr is a usage error" 2 '^backprop train: --min-lr 0\.5 is not below the learning rate 0\.5:' \
    "$BP" train --train train.csv --schedule cosine --lr 0.5 --min-lr 0.5
t "cosine --min-lr above adam's default rate is a usage error" 2 \
    '^backprop train: --min-lr 0\.01 is not below the learning rate 0\.001 \(the default\)' \
    "$BP" train --train train.csv --optimizer adam --schedule cosine --min-lr 0.01
t "cosine --min-lr below --lr trains" 0 '' "$BP" train --train train.csv --schedule cosine --lr 0.5 --min-lr 0.01 \
    --epochs 2 --quiet
t "step schedule with --gamma and --step-epochs trains" 0 '' "$BP" train --train train.csv --schedule step --gamma 0.5 \
    --step-epochs 1 --epochs 2 --quiet

# explain and export-c: the same rule for their modes.
t "explain --model with --arch is a usage error" 2 \
    '^backprop explain: --arch describes a network for --arch; --model net\.bpm holds its own' \
    "$BP" explain --model net.bpm --arch 2,3,2
t "explain --model with --loss is a usage error" 2 '^backprop explain: --loss describes a network for --arch' \
    "$BP" explain --model net.bpm --loss ce
t "explain --sample without --data is a usage error" 2 '^backprop explain: --sample applies to --model FILE with --data FILE' \
    "$BP" explain --model net.bpm --sample 2
t "explain --arch with --lr is a usage error" 2 '^backprop explain: --lr applies to --model FILE with --data FILE' \
    "$BP" explain --arch 2,3,2 --lr 0.5
t "export-c --format without --calibrate is a usage error" 2 '^backprop export-c: --format applies to --calibrate DATA' \
    "$BP" export-c cls.bpm --format csv

# Training data of one class would give a model that always answers it: refused,
# naming the file and the class. Test data of one class is fine.
printf 'a,b,state\n1,2,ok\n3,4,ok\n5,6,ok\n' >oneclass.csv
printf '1,2,1\n3,4,1\n' >onenumber.csv
grep ',0$' test.csv >testzero.csv
t "training data of one named class is refused" 1 \
    "^backprop train: oneclass\\.csv: all 3 samples are of class 'ok': a classifier needs samples of at least two" \
    "$BP" train --train oneclass.csv -o one.bpm
nothing_left "the refused one-class run wrote no model" one.bpm
t "training data of one numbered class is refused" 1 '^backprop train: onenumber\.csv: all 2 samples are of class 1:' \
    "$BP" train --train onenumber.csv
t "the same columns as values train" 0 '' "$BP" train --train onenumber.csv --targets 1 --epochs 1 --quiet
t "test data of one class is fine" 0 '' "$BP" train --train train.csv --test testzero.csv --epochs 1 --quiet

# --dropout is part of the network a checkpoint keeps.
t "train with dropout and a checkpoint" 0 '' "$BP" train --train train.csv --hidden 6,5 --dropout 0.2 --epochs 2 \
    --quiet --checkpoint drop.ckpt
t "--resume with another --dropout is a usage error" 2 \
    '^backprop train: --dropout 0\.3, but drop\.ckpt holds a network with dropout 0\.2,0\.2: a resumed run keeps' \
    "$BP" train --train train.csv --dropout 0.3 --epochs 3 --quiet --resume drop.ckpt
t "--resume with the command that made the dropout checkpoint" 0 '' "$BP" train --train train.csv --hidden 6,5 \
    --dropout 0.2 --epochs 3 --quiet --resume drop.ckpt
t "--resume with one --dropout for every hidden layer, without --hidden" 0 '' "$BP" train --train train.csv \
    --dropout 0.2 --epochs 3 --quiet --resume drop.ckpt
t "train a network without hidden layers with a checkpoint" 0 '' "$BP" train --train train.csv --hidden none \
    --epochs 1 --quiet --checkpoint flat.ckpt
t "--resume with --dropout on a network without hidden layers is a usage error" 2 \
    '^backprop train: --dropout 0\.2, but flat\.ckpt holds a network with dropout none' \
    "$BP" train --train train.csv --dropout 0.2 --epochs 2 --quiet --resume flat.ckpt

# ------------------------------- grad, explain, info, init, convert: odd input
printf '1,2,0\n3,4,1\n5,6,0\n' >odd.csv
: >odd-empty.csv
"$BP" init --arch 2,3,2 --loss ce -o odd.bpm >/dev/null
"$BP" init --arch 2,2 --loss ce -o odd-flat.bpm >/dev/null
t "grad on an empty data file" 1 '^backprop grad: odd-empty\.csv: no data rows' "$BP" grad odd.bpm --data odd-empty.csv
t "grad on a model without hidden layers" 0 '' "$BP" grad odd-flat.bpm --data odd.csv
t "grad on one sample" 0 '' "$BP" grad odd.bpm --data odd.csv --samples 1
out_has "grad: one sample" 'over 1 sample'
t "grad --samples past the file's rows takes them all" 0 '' "$BP" grad odd.bpm --data odd.csv --samples 1099511627776
out_has "grad: all 3 samples" 'over 3 samples'
t "grad --samples past the limit is a usage error" 2 '^backprop grad: --samples expects' \
    "$BP" grad odd.bpm --data odd.csv --samples 18446744073709551616
t "grad with - as the data path" 1 '^backprop grad: cannot open -' "$BP" grad odd.bpm --data -
t "info on a data file" 1 '^backprop info: odd\.csv: not a backprop model file' "$BP" info odd.csv
t "info on an empty file" 1 '^backprop info: odd-empty\.csv: ' "$BP" info odd-empty.csv
t "info with two models is a usage error" 2 '^backprop info: unexpected argument' "$BP" info odd.bpm odd.bpm
t "init -o with a non-UTF-8 name" 0 '' "$BP" init --arch 2,2 -o "$(printf 'odd\377.bpm')"
t "info reads the non-UTF-8 name back" 0 '' "$BP" info "$(printf 'odd\377.bpm')"
t "init with -o repeated writes the last" 0 '' "$BP" init --arch 2,2 -o odd-a.bpm -o odd-b.bpm
c "init: only the last -o is written" '[ ! -e odd-a.bpm ] && [ -s odd-b.bpm ]'
t "convert a model file is refused" 1 '^backprop convert: odd\.bpm is a backprop model file' \
    "$BP" convert odd.bpm odd-out.csv
nothing_left "convert of a model leaves no output" odd-out.csv
t "convert an empty file" 1 '^backprop convert: odd-empty\.csv: no data rows' "$BP" convert odd-empty.csv odd-out.data
nothing_left "convert of an empty file leaves no output" odd-out.data
t "explain a model without hidden layers on a sample" 0 '' "$BP" explain --model odd-flat.bpm --data odd.csv
out_has "explain: dC/dW^1 of the flat model" '^  dC/dW\^1 = delta\^1 \(a\^0\)\^T  \[2 x 2\]'
# A sample that overflows float32 (weights near 1e30, inputs near 3e38): grad refuses it; explain
# shows where the inf and NaN come from, each NaN as "nan" (never printf's "-nan"), and says so.
"$BP" init --arch 2,2 --init-range 1e30 -o odd-huge.bpm >/dev/null
printf '3e38,3e38,0.5,0.5\n' >odd-huge.csv
t "grad refuses a sample that overflows" 1 '^backprop grad: .*not a finite number' \
    "$BP" grad odd-huge.bpm --data odd-huge.csv --targets values
t "explain a sample that overflows" 0 '' "$BP" explain --model odd-huge.bpm --data odd-huge.csv --targets values
out_has "explain: the loss is nan" '^  C = nan$'
out_has "explain: says the loss is not finite" 'C is not a finite number'
c "explain: no -nan anywhere" '! grep -q -- "-nan" "$O"'

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
