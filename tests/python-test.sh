#!/bin/sh
# python-test.sh - the Python package (python/): its pytest suite (python/tests) against
# the library of BUILD_DIR, then the offline install that docs/PYTHON.md gives (a venv
# that sees Debian's NumPy and scikit-learn, pip without build isolation) in a scratch copy.
#
# Ends with "python: N passed, M failed[, K skipped]". Without python3, NumPy or pytest
# it prints one "skipped: ..." line (.ci/run installs python3-numpy, python3-sklearn and
# python3-pytest); without scikit-learn the estimator tests skip themselves.
#
# Usage: sh tests/python-test.sh [BUILD_DIR]
build=${1:-build}
# Debian's python3 has NumPy, scikit-learn and pytest; the first python3 on PATH may not.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3 || true)
missing=
if [ -z "$python" ]; then
    missing=" python3"
else
    for module in numpy pytest; do
        "$python" -c "import $module" >/dev/null 2>&1 || missing="$missing python3-$module"
    done
fi
if [ -n "$missing" ]; then
    echo "skipped: the Python package's tests need${missing} (apt-get install python3-numpy python3-sklearn python3-pytest)"
    echo "python: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
if [ ! -f "$build/libbackprop.so" ]; then
    echo "FAIL $build/libbackprop.so is not built (make $build/libbackprop.so)"
    echo "python: 0 passed, 1 failed"
    exit 1
fi
"$python" -c "import sklearn" >/dev/null 2>&1 || echo "note: scikit-learn is missing; the estimator tests skip"

log=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$log" "$scratch"' EXIT
BACKPROP_LIBRARY=$(pwd)/$build/libbackprop.so BACKPROP_BUILD=$(pwd)/$build \
    "$python" -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning python/tests > "$log" 2>&1
code=$?
cat "$log"
summary=$(grep -E '[0-9]+ (passed|failed|error)' "$log" | tail -n 1)
count() { echo "$summary" | grep -oE "[0-9]+ $1" | head -n 1 | cut -d' ' -f1; }
passed=$(count passed)
failed=$(count failed)
errors=$(count error)
skipped=$(count skipped)
passed=${passed:-0}
failed=$((${failed:-0} + ${errors:-0}))
skipped=${skipped:-0}
if [ $code -ne 0 ] && [ $failed -eq 0 ]; then
    echo "FAIL pytest exited with $code"
    failed=1
fi

# The install route of docs/PYTHON.md, offline, in a copy so the checkout stays clean.
if "$python" -m venv --help >/dev/null 2>&1 && "$python" -c "import ensurepip" >/dev/null 2>&1; then
    mkdir -p "$scratch/src"
    cp -R python "$scratch/src/python"
    rm -rf "$scratch/src/python/build" "$scratch/src/python/backprop.egg-info"
    cp "$build/libbackprop.so" "$scratch/src/python/backprop/libbackprop.so"
    if "$python" -m venv --system-site-packages "$scratch/venv" > "$log" 2>&1 &&
        "$scratch/venv/bin/pip" install --no-index --no-build-isolation "$scratch/src/python" >> "$log" 2>&1 &&
        (cd "$scratch" && env -u BACKPROP_LIBRARY "$scratch/venv/bin/python" -c \
            "import backprop, backprop.sklearn; assert backprop.library_path.startswith('$scratch/venv'); print(backprop.Network([2, 3, 1]))") >> "$log" 2>&1; then
        echo "ok   pip install --no-build-isolation into a venv with Debian's packages: import backprop works"
        passed=$((passed + 1))
    else
        cat "$log"
        echo "FAIL pip install --no-build-isolation into a venv"
        failed=$((failed + 1))
    fi
else
    echo "skipped: the install check needs python3-venv (apt-get install python3-venv)"
    skipped=$((skipped + 1))
fi

if [ "$skipped" -gt 0 ]; then
    echo "python: $passed passed, $failed failed, $skipped skipped"
else
    echo "python: $passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
