/* tests/support/test.c - see test.h. */
#include "test.h"

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

int cs_test_failures;

int cs_test_done(const char *name) {
    if (cs_test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, cs_test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

const char *cs_test_oracle(void) {
    const char *dir = getenv("CS_ORACLE");
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        printf("SKIP: reference data not found (CS_ORACLE=%s); "
               "put the shared folder beside the checkout\n",
               dir ? dir : "(unset)");
        exit(77);
    }
    return dir;
}

const char *cs_test_oracle_path(const char *rel) {
    static _Thread_local char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", cs_test_oracle(), rel);
    return buf;
}

const char *cs_test_tmpdir(void) {
    static char buf[256];
    snprintf(buf, sizeof buf, "/tmp/cs-test-XXXXXX");
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
    return buf;
}

char *cs_test_read(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s: read failed\n", path);
        exit(1);
    }
    buf[n] = 0;
    fclose(f);
    if (size) *size = (size_t)n;
    return buf;
}

long cs_test_pmd_mapped_kb(const void *p) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    long kb = -1;
    int in = 0;
    unsigned long lo, hi;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
            continue;
        }
        if (in && sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1) break;
    }
    fclose(f);
    return kb;
}
