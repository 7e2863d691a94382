/*
 * test_fuzz_regressions.c - every saved fuzz input, replayed under the ordinary
 * build: tests/fuzz/regressions/ (inputs that once crashed, hung or broke a
 * promise) and tests/fuzz/corpus/ (the fuzzers' seeds), each through its
 * harness (tests/fuzz/fuzz_*.c). Paths are relative to the repository root,
 * where `make test` runs.
 */
#include "fuzz/regress.c"

#include "test.h"

void test_fuzz_regressions(void)
{
    size_t files = 0;
    int broken = bp_fuzz_replay_all("tests/fuzz", &files);
    CHECK(files > 0, "no fuzz inputs found under tests/fuzz (run from the repository root)");
    CHECK(broken == 0, "%d broken promise%s in %zu replayed inputs (see above)", broken,
          broken == 1 ? "" : "s", files);
}
