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
# The "Train on your own CSV" walk-through: its data from data/make-sensors.sh, its
# commands as README.md prints them (each "$ backprop ..." line, with continuations),
# and the output README shows: the first line exactly, the final test accuracy to
# within a point (another CPU's kernels round differently), the eval and predict heads.
bp=$(cd "$build" && pwd)/backprop
if ! sh data/make-sensors.sh "$dir/own" 2>"$dir/err"; then
    echo "FAIL data/make-sensors.sh:"; sed 's/^/    /' "$dir/err"
    failed=$((failed + 1))
else
    awk '/^    \$ backprop /{cmd = substr($0, 7); while (cmd ~ /\\$/) {sub(/\\$/, "", cmd); getline; sub(/^ +/, "", $0); cmd = cmd $0}
                              sub(/ +#.*/, "", cmd); print cmd}' README.md > "$dir/commands"
    # README's own lines after each command, up to the next blank line or command.
    awk '/^    \$ backprop /{on = 1; while ($0 ~ /\\$/) getline; next} /^    \$ / || /^$/ {on = 0} on {print substr($0, 5)}' \
        README.md > "$dir/shown"
    : > "$dir/got"
    ok=1
    while IFS= read -r cmd; do
        set -f
        # shellcheck disable=SC2086 # the command's words, as README prints them
        (cd "$dir/own" && "$bp" ${cmd#backprop }) >>"$dir/got" 2>&1 || { ok=0; echo "    exit status $? from: $cmd"; }
        set +f
    done < "$dir/commands"
    first=$(head -n 1 "$dir/shown")
    acc_shown=$(sed -n 's/^final: .*test accuracy *\([0-9.]*\)%.*/\1/p' "$dir/shown")
    acc_got=$(sed -n 's/^final: .*test accuracy *\([0-9.]*\)%.*/\1/p' "$dir/got")
    if [ $ok -eq 0 ] || [ "$(wc -l < "$dir/commands")" -lt 3 ]; then
        echo "FAIL README's walk-through commands did not all run ($(wc -l < "$dir/commands") found)"
        failed=$((failed + 1))
    elif [ "$(head -n 1 "$dir/got")" != "$first" ]; then
        echo "FAIL README's walk-through: first line is not what README shows"
        echo "    README: $first"; echo "    got:    $(head -n 1 "$dir/got")"
        failed=$((failed + 1))
    elif [ -z "$acc_got" ] || ! awk -v a="$acc_shown" -v b="$acc_got" 'BEGIN { d = a - b; exit !(a != "" && d <= 1 && d >= -1) }'; then
        echo "FAIL README's walk-through: final test accuracy $acc_got%, README shows $acc_shown%"
        failed=$((failed + 1))
    elif ! grep -q '^samples   500$' "$dir/got" || ! grep -q '^fault,ok,worn$' "$dir/got"; then
        echo "FAIL README's walk-through: eval or predict printed something else:"; sed 's/^/    /' "$dir/got" | tail -n 12
        failed=$((failed + 1))
    else
        echo "ok   README's walk-through runs as shown (test accuracy $acc_got%, README $acc_shown%)"
        passed=$((passed + 1))
    fi
fi
# README's "After `make install`" line: the example built with pkg-config against an
# installed copy (this build, installed into a scratch prefix without rebuilding), run
# against the shared library, whose soname carries the ABI version (major.minor while 0.x).
prefix=$dir/prefix
version=$(sed -n 's/^VERSION := //p' Makefile)
soname=libbackprop.so.$(echo "$version" | cut -d. -f1,2)
if ! make -s -o all BUILD="$build" PREFIX="$prefix" install >"$dir/err" 2>&1; then
    echo "FAIL make install into a scratch prefix:"; sed 's/^/    /' "$dir/err"
    failed=$((failed + 1))
elif [ "$(readlink "$prefix/lib/libbackprop.so")" != "$soname" ] ||
     [ "$(readlink "$prefix/lib/$soname")" != "libbackprop.so.$version" ] ||
     ! readelf -d "$prefix/lib/libbackprop.so.$version" 2>/dev/null | grep -q "SONAME.*\[$soname\]"; then
    echo "FAIL make install: expected libbackprop.so -> $soname -> libbackprop.so.$version with soname $soname:"
    ls -l "$prefix/lib" | sed 's/^/    /'
    failed=$((failed + 1))
elif ! command -v pkg-config >/dev/null 2>&1; then
    echo "ok   make install: $soname installed (pkg-config missing: the example build is not checked)"
    passed=$((passed + 1))
elif ! PKG_CONFIG_PATH=$prefix/lib/pkgconfig ${CC:-cc} -std=c11 -Wall -Wextra -Werror "$dir/example.c" \
        $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs backprop) -o "$dir/installed" 2>"$dir/err"; then
    echo "FAIL README example does not build with pkg-config after make install:"; sed 's/^/    /' "$dir/err"
    failed=$((failed + 1))
elif ! readelf -d "$dir/installed" | grep -q "NEEDED.*\[$soname\]"; then
    echo "FAIL the example built after make install does not ask for $soname:"
    readelf -d "$dir/installed" | grep NEEDED | sed 's/^/    /'
    failed=$((failed + 1))
elif ! LD_LIBRARY_PATH=$prefix/lib "$dir/installed" >"$dir/out" 2>&1 || ! grep -q '^loss ' "$dir/out"; then
    echo "FAIL README example built after make install does not run against $soname:"; sed 's/^/    /' "$dir/out"
    failed=$((failed + 1))
elif ! make -s BUILD="$build" PREFIX="$prefix" uninstall >"$dir/err" 2>&1 ||
     [ -n "$(find "$prefix" ! -type d)" ]; then
    echo "FAIL make uninstall left files behind:"; find "$prefix" ! -type d | sed 's/^/    /'
    failed=$((failed + 1))
else
    echo "ok   make install, then README's pkg-config build runs against $soname; make uninstall removes it all"
    passed=$((passed + 1))
fi
echo "readme: $passed passed, $failed failed"
[ $failed -eq 0 ]
