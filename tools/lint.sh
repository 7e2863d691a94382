#!/bin/sh
# lint.sh - static analysis of the library and the program: cppcheck, then
# clang-tidy (the checks in .clang-tidy), over src/*/*.c and cli/*.c.
#
#   sh tools/lint.sh [-v]        (from anywhere; -v: clang-tidy's full explanations)
#
# Every finding is an error: the exit status is 1 if either tool reports anything
# (or fails to run), and the last line is "lint: N files clean" or a count of the
# findings printed above it. False positives are silenced next to the code
# (NOLINT with a reason) or, for cppcheck, in .cppcheck-suppressions.xml by
# file and symbol; never by turning a check off for everyone.
#
# clang-tidy runs one file per process, JOBS (default 2) at a time; the whole
# run takes about 2 minutes on 2 cores. CPPCHECK and CLANG_TIDY name the tools.

cd "$(dirname "$0")/.." || exit 1
verbose=0
[ "${1:-}" = -v ] && verbose=1
CPPCHECK=${CPPCHECK:-cppcheck}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy}
JOBS=${JOBS:-2}

for tool in "$CPPCHECK" "$CLANG_TIDY"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "lint: $tool not found (Debian: apt-get install cppcheck clang-tidy)"
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/backprop-lint.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

files=$(ls src/*/*.c cli/*.c)
n_files=$(echo "$files" | wc -l)
status=0
findings=0

# ------------------------------------------------------------------ cppcheck
# No -D: cppcheck then checks each file under every combination of its #if
# conditions (the __GNUC__, AVX2 and MPI paths too), not just one build's.
"$CPPCHECK" --quiet --std=c11 --enable=warning,performance,portability \
    -Iinclude -Isrc -j "$JOBS" \
    --inline-suppr --suppress-xml=.cppcheck-suppressions.xml --error-exitcode=1 \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    src cli >"$tmp/cppcheck.out" 2>&1
if [ $? -ne 0 ] || [ -s "$tmp/cppcheck.out" ]; then
    status=1
    cat "$tmp/cppcheck.out"
    findings=$((findings + $(grep -c '^[^ ].*: \(error\|warning\|style\|performance\|portability\): ' "$tmp/cppcheck.out")))
fi

# ---------------------------------------------------------------- clang-tidy
# One process per file, JOBS at once; each leaves its output and exit status
# in $tmp, named after the file.
echo "$files" | xargs -P "$JOBS" -n 1 sh -c '
    log=$0/$(echo "$2" | tr / _)
    "$1" --quiet "$2" -- -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc >"$log.out" 2>&1
    echo $? >"$log.rc"
' "$tmp" "$CLANG_TIDY"
for f in $files; do
    log=$tmp/$(echo "$f" | tr / _)
    rc=$(cat "$log.rc" 2>/dev/null || echo 1)
    # "N warnings generated." is clang's chatter, not a finding.
    grep -v '^[0-9]* warnings\? \(and [0-9]* errors\? \)\?generated\.$' "$log.out" >"$log.txt"
    if [ "$rc" -ne 0 ] || grep -q ': \(warning\|error\): ' "$log.txt"; then
        status=1
        if [ "$verbose" -eq 1 ]; then
            cat "$log.txt"
        else
            # The finding and the line it points at, without the analyzer's path.
            grep -A 2 ': \(warning\|error\): ' "$log.txt" | grep -v '^--$'
        fi
        [ "$rc" -ne 0 ] && ! grep -q ': \(warning\|error\): ' "$log.txt" &&
            echo "$f: clang-tidy failed (exit status $rc)" && cat "$log.txt"
        cat "$log.txt" >>"$tmp/tidy.all"
    fi
done
# A finding in a header is reported once for every file that includes it: count it once.
if [ -s "$tmp/tidy.all" ]; then
    findings=$((findings + $(grep ': \(warning\|error\): ' "$tmp/tidy.all" | sort -u | wc -l)))
fi

if [ "$status" -eq 0 ]; then
    echo "lint: $n_files files clean"
else
    [ "$findings" -eq 0 ] && findings=1 # a tool failed without a finding line
    echo "lint: $findings finding(s) above, in $n_files files checked"
fi
exit "$status"
