#!/bin/sh
# Data-parallel training over MPI means what one process means: `mpirun -np N backprop
# train` with N = 1, 2, 3 gives the single-process model within 1e-5 relative error, two
# runs at the same N are bitwise identical (both also with the sums overlapped with the
# backward pass), a checkpoint made with 2 ranks resumes with 3,
# a rank that dies or hangs ends the whole job naming it, and only rank 0 needs the data
# file (it reads and broadcasts; its errors are reported once). Builds `make MPI=1` first; skipped (reported as
# such) where mpicc or mpirun is missing. Ends with "mpi: N passed, M failed[, K skipped]".
build=${1:-build}
if ! command -v mpicc > /dev/null 2>&1 || ! command -v mpirun > /dev/null 2>&1; then
    echo "skip MPI tests: Open MPI is not installed (apt-get install libopenmpi-dev openmpi-bin)"
    echo "mpi: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
. "$(dirname "$0")/harness.sh"
if ! make MPI=1 build-mpi/backprop > "$dir/log" 2>&1; then
    fail "make MPI=1"
    finish mpi
fi
ok "make MPI=1 builds build-mpi/backprop"
program=build-mpi/backprop
# The sandbox runs as root, and 3 ranks need more slots than 2 cores.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpi() { timeout 120 mpirun -np "$@"; }

# W1-like data at a small scale: 784 inputs, 10 classes, 3000 samples.
awk 'BEGIN { srand(5); for (i = 0; i < 3000; i++) { k = i % 10; line = "";
     for (j = 0; j < 784; j++) line = line sprintf("%d,", (j % 10 == k) ? 100 + int(rand() * 155) : int(rand() * 60));
     print line k } }' > "$dir/data.csv"
set -- train --train "$dir/data.csv" --hidden 64,32 --input-scale 255 --batch 64 --epochs 1 --seed 3 --quiet

"$program" "$@" -o "$dir/single.bpm" > "$dir/log" 2>&1 && ok "single process" || fail "single process"
for n in 1 2 3; do
    if mpi $n "$program" "$@" -o "$dir/n$n.bpm" > "$dir/log" 2>&1 &&
        python3 tools/bpm_compare.py "$dir/single.bpm" "$dir/n$n.bpm" 1e-5 > "$dir/log" 2>&1; then
        ok "$n ranks: the single-process model within 1e-5 ($(cat "$dir/log"))"
    else
        fail "$n ranks differ from one process"
    fi
done
if mpi 2 "$program" "$@" -o "$dir/again.bpm" > "$dir/log" 2>&1 && cmp -s "$dir/n2.bpm" "$dir/again.bpm"; then
    ok "two runs with 2 ranks are bitwise identical"
else
    fail "two runs with 2 ranks differ"
fi

# The sums overlapped with the backward pass (a thread per rank summing each piece of
# the gradient as soon as it is done): on by itself only where every rank has a CPU to
# spare, so forced here. A first layer of 784 x 256 comes in 3 pieces. Same model, same
# bits run to run, and the profile line says it ran (5 pieces a step: 47 steps, 235 sums).
set -- "$@" --hidden 256,32
"$program" "$@" -o "$dir/single-wide.bpm" > "$dir/log" 2>&1 || fail "single process, 784-256-32-10"
for n in 2 3; do
    if BP_MPI_OVERLAP=1 BP_MPI_PROFILE=1 mpi $n "$program" "$@" -o "$dir/ov$n.bpm" > "$dir/prof" 2>&1 &&
        grep -q 'rank 0 of .: 235 gradient sums.*overlapped with the backward pass' "$dir/prof" &&
        python3 tools/bpm_compare.py "$dir/single-wide.bpm" "$dir/ov$n.bpm" 1e-5 > "$dir/log" 2>&1; then
        ok "$n ranks, sums overlapped: the single-process model within 1e-5 ($(cat "$dir/log"))"
    else
        cat "$dir/prof" >> "$dir/log"
        fail "$n ranks with overlapped sums"
    fi
done
if BP_MPI_OVERLAP=1 mpi 2 "$program" "$@" -o "$dir/ov-again.bpm" > "$dir/log" 2>&1 && cmp -s "$dir/ov2.bpm" "$dir/ov-again.bpm"; then
    ok "two overlapped runs with 2 ranks are bitwise identical"
else
    fail "two overlapped runs with 2 ranks differ"
fi
# Each rank decides from its own machine, but all must sum alike: a rank that cannot
# overlap (here told so) turns it off for all.
cat > "$dir/mixed.sh" <<SH
#!/bin/sh
if [ "\${OMPI_COMM_WORLD_RANK:-0}" = 1 ]; then export BP_MPI_OVERLAP=0; else export BP_MPI_OVERLAP=1; fi
exec "$PWD/$program" "\$@"
SH
chmod +x "$dir/mixed.sh"
if BP_MPI_PROFILE=1 mpi 2 "$dir/mixed.sh" "$@" -o "$dir/mixed.bpm" > "$dir/prof" 2>&1 &&
    [ "$(grep -c 'rank . of 2: 47 gradient sums' "$dir/prof")" = 2 ] && ! grep -q overlapped "$dir/prof" &&
    python3 tools/bpm_compare.py "$dir/single-wide.bpm" "$dir/mixed.bpm" 1e-5 > "$dir/log" 2>&1; then
    ok "one rank unable to overlap: none does, and the model is the single-process one ($(cat "$dir/log"))"
else
    cat "$dir/prof" >> "$dir/log"
    fail "ranks that disagree on overlapping"
fi
# 3000 samples in batches of 1499: the last batch (2 samples) leaves rank 2 without any.
"$program" "$@" --batch 1499 -o "$dir/b1499.bpm" > "$dir/log" 2>&1
if BP_MPI_OVERLAP=1 mpi 3 "$program" "$@" --batch 1499 -o "$dir/ov-b1499.bpm" > "$dir/log" 2>&1 &&
    python3 tools/bpm_compare.py "$dir/b1499.bpm" "$dir/ov-b1499.bpm" 1e-5 > "$dir/log" 2>&1; then
    ok "3 ranks, overlapped, a rank without samples in the last batch: the single-process model ($(cat "$dir/log"))"
else
    fail "3 ranks, overlapped, a rank without samples"
fi

# Checkpoint with 2 ranks after epoch 1, resume with 3 ranks for epoch 2; compare with 2 epochs in one process.
set -- train --train "$dir/data.csv" --hidden 64,32 --input-scale 255 --batch 64 --seed 3 --quiet
"$program" "$@" --epochs 2 -o "$dir/two-epochs.bpm" > "$dir/log" 2>&1
if mpi 2 "$program" "$@" --epochs 1 --checkpoint "$dir/ck.bpm" > "$dir/log" 2>&1 &&
    mpi 3 "$program" "$@" --epochs 2 --resume "$dir/ck.bpm" -o "$dir/resumed.bpm" > "$dir/log" 2>&1 &&
    python3 tools/bpm_compare.py "$dir/two-epochs.bpm" "$dir/resumed.bpm" 1e-5 > "$dir/log" 2>&1; then
    ok "checkpoint with 2 ranks, resumed with 3: the 2-epoch single-process model ($(cat "$dir/log"))"
else
    fail "resume with another rank count"
fi

# Kill one rank mid-run: the job must end (not hang), exit nonzero, and keep the checkpoint.
cat > "$dir/killer.sh" <<SH
#!/bin/sh
# rank 1 dies after a moment; the others go on training until the job is torn down
if [ "\${OMPI_COMM_WORLD_RANK:-0}" = 1 ]; then ( sleep 1; kill -9 \$\$ ) & fi
exec "$PWD/$program" "\$@"
SH
chmod +x "$dir/killer.sh"
start=$(date +%s)
mpi 2 "$dir/killer.sh" "$@" --epochs 200 --hidden 256,128 --checkpoint "$dir/ck2.bpm" > "$dir/log" 2>&1
rc=$?
took=$(($(date +%s) - start))
if [ $rc -ne 0 ] && [ $took -lt 60 ] && grep -q 'rank 1 ' "$dir/log"; then
    ok "a killed rank ends the job (exit $rc after ${took} s): $(grep -o 'process rank 1 .*' "$dir/log" | head -1)"
else fail "a killed rank: exit $rc after ${took} s"; fi
if [ ! -e "$dir/ck2.bpm" ] || build/backprop info "$dir/ck2.bpm" > /dev/null 2>&1 || "$program" info "$dir/ck2.bpm" > /dev/null 2>&1; then
    ok "the last checkpoint (if one was written) is intact"
else
    fail "the checkpoint was damaged"
fi

# Only rank 0 needs the data: each rank starts in its own directory, and only rank 0's
# holds the file. The model must be the single-process one.
mkdir -p "$dir/r0" "$dir/r1" "$dir/r2"
cp "$dir/data.csv" "$dir/r0/local.csv"
cat > "$dir/cd-rank.sh" <<SH
#!/bin/sh
cd "$dir/r\${OMPI_COMM_WORLD_RANK:-0}" && exec "$PWD/$program" "\$@"
SH
chmod +x "$dir/cd-rank.sh"
set -- train --hidden 64,32 --input-scale 255 --batch 64 --epochs 1 --seed 3 --quiet
if mpi 3 "$dir/cd-rank.sh" "$@" --train local.csv -o "$dir/local.bpm" > "$dir/log" 2>&1 &&
    python3 tools/bpm_compare.py "$dir/single.bpm" "$dir/local.bpm" 1e-5 > "$dir/log" 2>&1; then
    ok "only rank 0 has the data file: 3 ranks still train the single-process model ($(cat "$dir/log"))"
else
    fail "training with the data file on rank 0 only"
fi
# A bad file is reported once, by rank 0, and every rank stops with exit status 1.
printf '1,2,0\n3,x,1\n' > "$dir/r0/bad.csv"
mpi 3 "$dir/cd-rank.sh" "$@" --train bad.csv -o "$dir/bad.bpm" > "$dir/log" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ "$(grep -c 'bad.csv:2:3' "$dir/log")" = 1 ] && [ ! -e "$dir/bad.bpm" ]; then
    ok "a bad file on rank 0: one message (bad.csv:2:3), exit $rc, no model"
else
    fail "a bad file on rank 0 (exit $rc)"
fi

# A rank that hangs (stopped with SIGSTOP) ends the job within --mpi-timeout plus a few
# seconds, with a message naming it, and the last checkpoint stays intact.
cat > "$dir/stopper.sh" <<SH
#!/bin/sh
if [ "\${OMPI_COMM_WORLD_RANK:-0}" = 1 ]; then ( sleep 2; kill -STOP \$\$ ) & fi
exec "$PWD/$program" "\$@"
SH
chmod +x "$dir/stopper.sh"
set -- train --train "$dir/data.csv" --hidden 64,32 --input-scale 255 --batch 64 --seed 3 --quiet
start=$(date +%s)
mpi 2 "$dir/stopper.sh" "$@" --epochs 100000 --mpi-timeout 3 --checkpoint "$dir/ck3.bpm" > "$dir/log" 2>&1
rc=$?
took=$(($(date +%s) - start))
if [ $rc -ne 0 ] && [ $took -lt 30 ] && grep -Eq 'rank 1 (did not reach|stopped answering)' "$dir/log"; then
    ok "a hung rank ends the job after ${took} s (exit $rc): $(grep -Eo 'rank 1 (did not reach|stopped answering)[^:]*' "$dir/log" | head -1)"
else
    fail "a hung rank: exit $rc after ${took} s"
fi
if [ -e "$dir/ck3.bpm" ] && build/backprop info "$dir/ck3.bpm" > /dev/null 2>&1; then
    ok "the checkpoint written before the hang is intact"
else
    fail "no intact checkpoint after the hang"
fi
# The same with the sums overlapped: the sum thread's wait names the rank.
start=$(date +%s)
BP_MPI_OVERLAP=1 mpi 2 "$dir/stopper.sh" "$@" --epochs 100000 --mpi-timeout 3 > "$dir/log" 2>&1
rc=$?
took=$(($(date +%s) - start))
if [ $rc -ne 0 ] && [ $took -lt 30 ] && grep -Eq 'rank 1 (did not reach|stopped answering)' "$dir/log"; then
    ok "overlapped: a hung rank ends the job after ${took} s (exit $rc)"
else
    fail "overlapped: a hung rank: exit $rc after ${took} s"
fi
finish mpi
