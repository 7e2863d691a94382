/*
 * regress.c - replays every saved fuzz input through the harness it belongs to,
 * under the ordinary build: tests/fuzz/regressions/NAME/ (inputs that once
 * crashed, hung or broke a promise) and tests/fuzz/corpus/NAME/ (the seeds).
 *
 * The harness functions are the fuzzers' own (fuzz_*.c, compiled here with
 * BP_FUZZ_REPLAY), so a replay checks exactly what fuzzing checked, minus the
 * memory meter, which needs the sanitizers' allocator. A crash crashes the
 * test; a broken promise is counted and named on stderr.
 *
 * tests/test_fuzz_regressions.c includes this file for `make test` (which runs
 * in the repository root). Built with BP_REGRESS_MAIN it is also a program:
 *     regress [ROOT]                  everything under ROOT (default tests/fuzz)
 *     regress HARNESS FILE...         these files through one harness
 */
#ifndef BP_FUZZ_REPLAY
#define BP_FUZZ_REPLAY 1
#endif

#include <dirent.h>
#include <sys/stat.h>

#include "fuzz.h"

#include "fuzz_checkpoint.c"
#include "fuzz_csv.c"
#include "fuzz_fann.c"
#include "fuzz_gzip.c"
#include "fuzz_idx.c"
#include "fuzz_model.c"

int bp_fuzz_broken;
const char *bp_fuzz_current;

typedef struct {
    const char *name;
    int (*run)(const uint8_t *data, size_t size);
} fuzz_harness;

static const fuzz_harness fuzz_harnesses[] = {
    {"csv", bp_fuzz_csv},           {"idx", bp_fuzz_idx},     {"fann", bp_fuzz_fann},
    {"model", bp_fuzz_model},       {"checkpoint", bp_fuzz_checkpoint},
    {"gzip", bp_fuzz_gzip},
};

/* Replay one file; returns 1 if it was read and run, 0 if it could not be read. */
static int fuzz_replay_file(const fuzz_harness *h, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return 0;
    }
    size_t size = (size_t)st.st_size;
    /* Exactly the file's size, so a sanitizer build catches any read beyond it. */
    uint8_t *data = malloc(size ? size : 1);
    int ok = data && fread(data, 1, size, f) == size;
    fclose(f);
    if (ok) {
        bp_fuzz_current = path;
        h->run(data, size);
        bp_fuzz_current = NULL;
    }
    free(data);
    return ok;
}

static int fuzz_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every file of a directory in name order; returns how many ran (0 if none or no
   directory). Names starting with '.' (.gitkeep) are skipped. */
static size_t fuzz_replay_dir(const fuzz_harness *h, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            size_t c = cap ? 2 * cap : 64;
            char **grown = realloc(names, c * sizeof *names);
            if (!grown) break;
            names = grown;
            cap = c;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n]) break;
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, fuzz_compare_names);
    size_t ran = 0;
    for (size_t i = 0; i < n; i++) {
        ran += (size_t)fuzz_replay_file(h, names[i]);
        free(names[i]);
    }
    free(names);
    return ran;
}

/* Replay root/regressions/NAME and root/corpus/NAME for every harness. Returns the number
   of broken promises; *files receives the number of files replayed. */
static int bp_fuzz_replay_all(const char *root, size_t *files)
{
    int broken_before = bp_fuzz_broken;
    size_t total = 0;
    for (size_t i = 0; i < sizeof fuzz_harnesses / sizeof fuzz_harnesses[0]; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/regressions/%s", root, fuzz_harnesses[i].name);
        total += fuzz_replay_dir(&fuzz_harnesses[i], dir);
        snprintf(dir, sizeof dir, "%s/corpus/%s", root, fuzz_harnesses[i].name);
        total += fuzz_replay_dir(&fuzz_harnesses[i], dir);
    }
    *files = total;
    return bp_fuzz_broken - broken_before;
}

#ifdef BP_REGRESS_MAIN
int main(int argc, char **argv)
{
    if (argc > 2) {
        for (size_t i = 0; i < sizeof fuzz_harnesses / sizeof fuzz_harnesses[0]; i++) {
            if (strcmp(argv[1], fuzz_harnesses[i].name) != 0) continue;
            for (int k = 2; k < argc; k++)
                if (!fuzz_replay_file(&fuzz_harnesses[i], argv[k]))
                    fprintf(stderr, "regress: cannot read %s\n", argv[k]);
            printf("regress: %d broken promise%s\n", bp_fuzz_broken, bp_fuzz_broken == 1 ? "" : "s");
            return bp_fuzz_broken ? 1 : 0;
        }
        fprintf(stderr, "regress: unknown harness %s\n", argv[1]);
        return 2;
    }
    size_t files = 0;
    int broken = bp_fuzz_replay_all(argc > 1 ? argv[1] : "tests/fuzz", &files);
    printf("regress: %zu files replayed, %d broken promise%s\n", files, broken, broken == 1 ? "" : "s");
    return broken || files == 0 ? 1 : 0;
}
#endif
