#!/bin/sh
# Exact resume, the hard way: train 4 epochs straight; train the same run again with
# --checkpoint, kill it with SIGKILL in the middle of the third epoch, resume from the
# checkpoint; the two final models must be bitwise identical. The same for SIGINT, which
# saves a checkpoint itself and says how to resume. Ends with "resume: N passed, M failed".
build=${1:-build}
program="$build/backprop"
. "$(dirname "$0")/harness.sh"

# 12,000 samples, 40 inputs, 3 classes: an epoch of a 40-512-256-3 network in batches of 8 takes
# about a second here, long enough to be killed in the middle of.
awk 'BEGIN { srand(11); for (i = 0; i < 12000; i++) { s = 0; line = "";
     for (j = 0; j < 40; j++) { v = rand(); s += (j % 3 - 1) * v; line = line sprintf("%.5f,", v) }
     print line (s > 0.3 ? 2 : (s < -0.3 ? 0 : 1)) } }' > "$dir/data.csv"
set -- train --train "$dir/data.csv" --hidden 512,256 --optimizer adam --lr 0.001 --batch 8 --epochs 4 \
    --validation 0.1 --normalize standardize --seed 5 --quiet

if "$program" "$@" -o "$dir/straight.bpm" > "$dir/log" 2>&1; then ok "4 epochs straight"; else fail "4 epochs straight"; fi

# Wait until the log shows epoch 2 finished, then kill during epoch 3.
wait_for_epochs() {
    for _ in $(seq 1 600); do
        rows=$(($( (cat "$1" 2>/dev/null || echo) | wc -l) - 1))
        [ "$rows" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
"$program" "$@" --checkpoint "$dir/ck.bpm" --log "$dir/metrics.csv" -o "$dir/resumed.bpm" > "$dir/log" 2>&1 &
pid=$!
if wait_for_epochs "$dir/metrics.csv" 2; then
    sleep 0.3
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    rows=$(($(wc -l < "$dir/metrics.csv") - 1))
    if [ "$rows" -eq 2 ] && [ ! -e "$dir/resumed.bpm" ]; then ok "killed with SIGKILL during epoch 3 (no model yet)"
    else fail "the kill did not land in epoch 3 ($rows epochs logged)"; fi
    if ls "$dir"/*.tmp.* > /dev/null 2>&1; then fail "a temporary file was left behind"; else ok "no partial files"; fi
    if "$program" info "$dir/ck.bpm" > "$dir/log" 2>&1; then ok "the checkpoint is intact and readable as a model"
    else fail "the checkpoint is not readable"; fi
    if "$program" "$@" --checkpoint "$dir/ck.bpm" --log "$dir/metrics.csv" -o "$dir/resumed.bpm" \
        --resume "$dir/ck.bpm" > "$dir/log" 2>&1; then ok "resumed from the checkpoint"; else fail "resume"; fi
    if cmp -s "$dir/straight.bpm" "$dir/resumed.bpm"; then ok "killed-and-resumed model is bitwise identical to the straight one"
    else fail "killed-and-resumed model differs from the straight one"; fi
    if [ "$(($(wc -l < "$dir/metrics.csv") - 1))" -eq 4 ]; then ok "the log holds all 4 epochs after resuming"
    else fail "the log lost epochs"; fi
else
    kill -9 $pid 2>/dev/null
    fail "epoch 2 never finished"
fi

# SIGINT: the program saves a checkpoint itself and tells how to resume.
rm -f "$dir/ck.bpm" "$dir/metrics.csv" "$dir/resumed.bpm"
"$program" "$@" --checkpoint "$dir/ck.bpm" --log "$dir/metrics.csv" -o "$dir/resumed.bpm" > "$dir/out" 2> "$dir/err" &
pid=$!
if wait_for_epochs "$dir/metrics.csv" 1; then
    sleep 0.2
    kill -INT $pid
    wait $pid
    rc=$?
    if [ $rc -eq 1 ] && grep -q "interrupted in epoch [0-9].*--resume" "$dir/err"; then ok "SIGINT saves a checkpoint and says how to resume (exit 1)"
    else cp "$dir/err" "$dir/log"; fail "SIGINT: exit $rc"; fi
    if "$program" "$@" --checkpoint "$dir/ck.bpm" -o "$dir/resumed.bpm" --resume "$dir/ck.bpm" > "$dir/log" 2>&1 &&
        cmp -s "$dir/straight.bpm" "$dir/resumed.bpm"; then ok "interrupted-and-resumed model is bitwise identical"
    else fail "after SIGINT and resume the model differs"; fi
else
    kill -9 $pid 2>/dev/null
    fail "epoch 1 never finished"
fi

# A model is not a checkpoint; a checkpoint from other data is refused.
if "$program" "$@" --resume "$dir/straight.bpm" > "$dir/log" 2>&1; then fail "resuming from a plain model"
elif grep -q "not a checkpoint" "$dir/log"; then ok "a plain model is refused as a checkpoint"; else fail "message for a plain model"; fi
head -n 6000 "$dir/data.csv" > "$dir/half.csv"
if "$program" train --train "$dir/half.csv" --hidden 256,128 --epochs 4 --validation 0.1 --normalize standardize \
    --seed 5 --quiet --resume "$dir/ck.bpm" > "$dir/log" 2>&1; then fail "resuming on other data"
elif grep -q "other data" "$dir/log"; then ok "a checkpoint made on other data is refused"; else fail "message for other data"; fi

finish resume
