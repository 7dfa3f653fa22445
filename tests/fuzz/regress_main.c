/* SPDX-License-Identifier: MIT */
/*
 * regress_main - main() for a fuzz target in an ordinary build (no libFuzzer): runs
 * LLVMFuzzerTestOneInput() once on every file named, or found in a directory named, on the
 * command line, in name order. Each seed and each saved crash input of tests/fuzz/corpus is
 * thus a regression test of every build (ctest fuzz_regress_*), sanitizers included where
 * the build has them. Exits 0 if all ran, 1 if a file could not be read or there was none;
 * a failing input aborts (FUZZ_CHECK) or is caught by a sanitizer, and the last "running"
 * line names it.
 */
#include "fuzz.h"

/* System. */
#include <dirent.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (!fp) {
        perror(path);
        return -1;
    }
    do {
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            if (!(buf = realloc(buf, cap)))
                abort();
        }
        got = fread(buf + n, 1, cap - n, fp);
        n += got;
    } while (got > 0);
    if (ferror(fp)) {
        perror(path);
        fclose(fp);
        free(buf);
        return -1;
    }
    fclose(fp);
    /* An exact-size block, as libFuzzer passes it: a read past the end is caught. */
    uint8_t *data = (uint8_t *)fuzz_copy(buf, n);

    free(buf);
    fprintf(stderr, "running %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_dir(const char *dir, unsigned *count)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name), rc = 0;

    if (n < 0) {
        perror(dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;

        if (names[i]->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                if (run_file(path) != 0)
                    rc = -1;
                else
                    ++*count;
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;

        if (stat(argv[i], &st) != 0) {
            perror(argv[i]);
            rc = -1;
        } else if (S_ISDIR(st.st_mode)) {
            if (run_dir(argv[i], &count) != 0)
                rc = -1;
        } else if (run_file(argv[i]) == 0) {
            count++;
        } else {
            rc = -1;
        }
    }
    printf("%s: %u input(s) run%s\n", argv[0], count, rc ? ", some could not be read" : "");
    if (count == 0)
        fprintf(stderr, "%s: no input: a corpus that is not there tests nothing\n", argv[0]);
    return rc || count == 0 ? 1 : 0;
}
