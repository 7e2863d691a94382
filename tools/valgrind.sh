#!/bin/sh
# valgrind.sh - the program under valgrind's memcheck: `backprop demo`, then the
# whole end-to-end CLI suite (tests/cli-tests.sh) with every run of the program
# going through memcheck.
#
#   sh tools/valgrind.sh [BUILD_DIR]        (BUILD_DIR defaults to build; run make first)
#
# Any memcheck error (invalid read or write, use of an uninitialised value, bad
# free) and any definitely or indirectly lost block fails the run, as does any
# failed CLI check. The last line is "valgrind: N runs clean" or
# "valgrind: M of N runs with errors"; the exit status is 0 only when all is clean.
# Takes about 10 minutes on 2 cores (the demo alone is about 40 seconds).
# Extra memcheck options go in VALGRIND_OPTS, e.g. VALGRIND_OPTS=--track-origins=yes
# to find where an uninitialised value came from (about twice as slow).
#
# The CLI suite runs "$BUILD_DIR/backprop", so it is given a directory whose
# `backprop` is a script that execs valgrind on the real program. Memcheck writes to
# a log file per process, never to stderr, since the suite checks stderr; a memcheck
# error also turns the exit status into 99, which the suite reports as a failure.

cd "$(dirname "$0")/.." || exit 1
build=${1:-build}
if [ ! -x "$build/backprop" ]; then
    echo "valgrind: $build/backprop is not built (run make first)"
    exit 1
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind: valgrind not found (Debian: apt-get install valgrind)"
    exit 1
fi
real=$(cd "$build" && pwd)/backprop

tmp=$(mktemp -d "${TMPDIR:-/tmp}/backprop-valgrind.XXXXXX") || exit 1
trap 'cd / && rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
mkdir "$tmp/bin" "$tmp/logs" "$tmp/demo" || exit 1

cat >"$tmp/bin/backprop" <<EOF
#!/bin/sh
exec valgrind --quiet --tool=memcheck --error-exitcode=99 --leak-check=full \\
    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \\
    --log-file="$tmp/logs/%p.log" "$real" "\$@"
EOF
chmod +x "$tmp/bin/backprop"

status=0
echo "== demo"
# In its own directory: the demo writes backprop-demo.svg next to it.
if (cd "$tmp/demo" && "$tmp/bin/backprop" demo >/dev/null); then
    echo "ok   backprop demo"
else
    echo "FAIL backprop demo (exit status $?)"
    status=1
fi

echo "== cli"
sh tests/cli-tests.sh "$tmp/bin" >"$tmp/cli.out" 2>&1 || status=1
grep -v '^ok ' "$tmp/cli.out"

# With --quiet memcheck writes nothing for a clean run: every non-empty log is a finding.
runs=$(ls "$tmp/logs" | wc -l)
bad=0
for log in "$tmp/logs"/*.log; do
    [ -s "$log" ] || continue
    bad=$((bad + 1))
    echo
    echo "== memcheck: $(basename "$log" .log)"
    cat "$log"
done
echo
if [ "$bad" -ne 0 ]; then
    status=1
    echo "valgrind: $bad of $runs runs with errors"
elif [ "$status" -ne 0 ]; then
    echo "valgrind: $runs runs clean under memcheck, but a check failed (above)"
else
    echo "valgrind: $runs runs clean"
fi
exit "$status"
