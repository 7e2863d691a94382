#!/bin/sh
# Compiles and runs the C example in README.md against the freshly built library,
# so the README can never show code that does not work, and checks that
# docs/CLI.md is what the program's --help says.
# Usage: sh tests/readme-test.sh [BUILD_DIR]; ends with "readme: N passed, M failed".
build=${1:-build}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
passed=0
failed=0
# libbackprop.a reads .gz files and checksums models through zlib.
zlib_libs=$(pkg-config --libs zlib 2>/dev/null || echo -lz)
# The first ```c block of README.md.
sed -n '/^```c$/,/^```$/p' README.md | sed '1d;$d' > "$dir/example.c"
# shellcheck disable=SC2086 # zlib_libs is a word list
if [ ! -s "$dir/example.c" ]; then
    echo "FAIL README has no C example"
    failed=$((failed + 1))
elif ! ${CC:-cc} -std=c11 -Wall -Wextra -Werror -Iinclude "$dir/example.c" "$build/libbackprop.a" $zlib_libs -lm -pthread \
        -o "$dir/example" 2>"$dir/err"; then
    echo "FAIL README example does not compile:"; sed 's/^/    /' "$dir/err"
    failed=$((failed + 1))
elif ! "$dir/example" >"$dir/out" 2>&1; then
    echo "FAIL README example exits with an error:"; sed 's/^/    /' "$dir/out"
    failed=$((failed + 1))
elif ! grep -q '^loss ' "$dir/out"; then
    echo "FAIL README example printed no loss"
    failed=$((failed + 1))
else
    echo "ok   README example compiles, runs and learns: $(tail -n 1 "$dir/out")"
    passed=$((passed + 1))
fi
# docs/CLI.md is generated from the program's --help; it must match the program.
if sh tools/cli-doc.sh "$build" | cmp -s - docs/CLI.md; then
    echo "ok   docs/CLI.md matches the program's --help"
    passed=$((passed + 1))
else
    echo "FAIL docs/CLI.md is out of date: run sh tools/cli-doc.sh > docs/CLI.md"
    failed=$((failed + 1))
fi
echo "readme: $passed passed, $failed failed"
[ $failed -eq 0 ]
