# harness.sh - what the end-to-end test scripts share; sourced, not run:
#   . "$(dirname "$0")/harness.sh"
# A scratch folder $dir removed on exit, the counters, ok DESC, fail DESC (prints
# $dir/log, indented, when there is one; log_lines N keeps only its last N lines) and
# finish NAME, which prints "NAME: N passed, M failed[, K skipped]" and exits 0 only
# when nothing failed.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
passed=0
failed=0
skipped=0
log_lines=
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1"
    if [ -f "$dir/log" ]; then
        if [ -n "$log_lines" ]; then tail -n "$log_lines" "$dir/log"; else cat "$dir/log"; fi | sed 's/^/    /'
    fi
    failed=$((failed + 1))
}
finish() {
    if [ "$skipped" -gt 0 ]; then echo "$1: $passed passed, $failed failed, $skipped skipped"
    else echo "$1: $passed passed, $failed failed"; fi
    [ "$failed" -eq 0 ]
    exit $?
}
