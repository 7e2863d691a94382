#!/bin/sh
# run.sh - build every fuzz harness with libFuzzer + ASan + UBSan and run each for a
# bounded time.
#
#   sh tests/fuzz/run.sh [--seconds N] [--build-only] [--keep-corpus] [HARNESS...]
#
#   --seconds N     run time per harness (default 30)
#   --build-only    build the harnesses and replay the saved inputs; no fuzzing
#   --keep-corpus   merge what the run found back into tests/fuzz/corpus/HARNESS
#                   (minimized; keep the committed corpus small)
#   HARNESS         csv idx fann model checkpoint gzip (default: all)
#
# Harnesses are built by clang (CC=clang-14 etc. to choose) into build/fuzz/ against
# the library sources and zlib, with -DBP_FUZZ_MEMCHECK (the memory meter, see fuzz.h).
# Each harness first replays tests/fuzz/regressions/HARNESS/ (known findings), then
# fuzzes from tests/fuzz/corpus/HARNESS/ with a working corpus in build/fuzz/corpus/.
# A finding (crash, broken promise, leak, timeout over 5 s, RSS over 2 GiB) is saved
# as tests/fuzz/regressions/HARNESS/crash-* (timeout-*, oom-*, leak-*): commit it
# with the fix; tests/test_fuzz_regressions.c replays it in `make test` from then on.
#
# Prints one line per harness and ends with "fuzz: N passed, M failed"; exit status 1
# when a harness found something or a saved regression still fails.

cd "$(dirname "$0")/../.." || exit 2

seconds=30
build_only=0
keep=0
harnesses=
while [ $# -gt 0 ]; do
    case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#--seconds=}; shift ;;
    --build-only) build_only=1; shift ;;
    --keep-corpus) keep=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) harnesses="$harnesses $1"; shift ;;
    esac
done
case $seconds in
''|*[!0-9]*) echo "run.sh: --seconds expects a whole number" >&2; exit 2 ;;
esac
[ -n "$harnesses" ] || harnesses="csv idx fann model checkpoint gzip"

CC=${CC:-clang}
case $CC in cc|gcc*) CC=clang ;; esac # libFuzzer needs clang
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "run.sh: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 2
fi

B=build/fuzz
mkdir -p "$B/obj" "$B/corpus" "$B/log" || exit 2
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# zlib as the Makefile finds it: through pkg-config, else in the default paths.
ZLIB_CFLAGS=$(pkg-config --cflags zlib 2>/dev/null)
ZLIB_LIBS=$(pkg-config --libs zlib 2>/dev/null || echo -lz)
CFLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fno-omit-frame-pointer $SAN -Wall -Wextra -Werror -Iinclude -Isrc $ZLIB_CFLAGS"
LIBS="$ZLIB_LIBS -lm"
# shellcheck disable=SC2086 # a word list
if ! echo '#include <zlib.h>' | "$CC" $ZLIB_CFLAGS -E -x c - >/dev/null 2>&1; then
    echo "run.sh: zlib not found: install zlib1g-dev (Debian/Ubuntu) or zlib-devel (Fedora)" >&2
    exit 2
fi

# Per-format input limits: enough for several rows, layers or blocks, small enough to
# keep thousands of runs a second.
max_len() {
    case $1 in
    csv) echo 16384 ;;
    idx) echo 8192 ;;
    fann) echo 8192 ;;
    model) echo 16384 ;;
    checkpoint) echo 16384 ;;
    gzip) echo 32768 ;;
    esac
}

# Files in a directory (0 when it does not exist).
count() { find "$1" -type f 2>/dev/null | wc -l; }

# The library, once, instrumented for coverage (fuzzer-no-link). CFLAGS and the object
# list are word lists: unquoted on purpose.
objs=
# shellcheck disable=SC2086
for src in src/*/*.c; do
    o=$B/obj/$(basename "$src" .c).o
    if [ ! -f "$o" ] || [ -n "$(find "$src" src/*/*.h include/*.h -newer "$o" 2>/dev/null | head -n 1)" ]; then
        "$CC" $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$o" || { echo "run.sh: cannot build $src" >&2; exit 2; }
    fi
    objs="$objs $o"
done

pass=0
fail=0
summary=$B/summary.txt
: >"$summary"
for h in $harnesses; do
    src=tests/fuzz/fuzz_$h.c
    [ -f "$src" ] || { echo "run.sh: no harness $src" >&2; exit 2; }
    bin=$B/fuzz_$h
    # shellcheck disable=SC2086
    "$CC" $CFLAGS -DBP_FUZZ_MEMCHECK -fsanitize=fuzzer "$src" $objs $LIBS -o "$bin" ||
        { echo "run.sh: cannot build $src" >&2; exit 2; }

    regress=tests/fuzz/regressions/$h
    mkdir -p "$regress"
    status=ok
    detail=
    # Known findings first: each must now run clean.
    if [ "$(count "$regress")" -gt 0 ]; then
        if ! ASAN_OPTIONS=detect_leaks=1 "$bin" -rss_limit_mb=2048 -timeout=5 "$regress"/* \
            >"$B/log/$h-regress.log" 2>&1; then
            status=FAIL
            detail=" (a saved regression still fails: see $B/log/$h-regress.log)"
        fi
    fi
    if [ $build_only -eq 1 ]; then
        echo "$status $h: built, regressions replayed$detail"
        if [ $status = ok ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
        continue
    fi

    work=$B/corpus/$h
    mkdir -p "$work"
    before=$(count "$regress")
    log=$B/log/$h.log
    start=$(date +%s)
    ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=5 \
        -max_len="$(max_len "$h")" -print_final_stats=1 -artifact_prefix="$regress/" \
        "$work" "tests/fuzz/corpus/$h" >"$log" 2>&1
    code=$?
    end=$(date +%s)
    after=$(count "$regress")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
    corpus=$(count "$work")
    findings=$((after - before))
    if [ $code -ne 0 ] || [ $findings -gt 0 ]; then
        status=FAIL
        detail="$detail (see $log; saved under $regress/)"
    fi
    line="$h: ${execs:-?} runs in $((end - start)) s, corpus $corpus inputs, peak RSS ${rss:-?} MB, $findings new finding(s)"
    echo "$status $line$detail"
    echo "$line" >>"$summary"
    if [ $status = ok ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi

    if [ $keep -eq 1 ]; then
        mkdir -p "$B/merged/$h"
        ASAN_OPTIONS=detect_leaks=1 "$bin" -merge=1 -rss_limit_mb=2048 -timeout=5 -max_len="$(max_len "$h")" \
            "$B/merged/$h" "tests/fuzz/corpus/$h" "$work" >"$B/log/$h-merge.log" 2>&1 &&
            cp -n "$B/merged/$h"/* "tests/fuzz/corpus/$h/" 2>/dev/null
    fi
done
echo "fuzz: $pass passed, $fail failed"
[ $fail -eq 0 ]
