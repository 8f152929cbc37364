/* tests/support/test.h - the few macros our C tests use.
 *
 * A test is a main() that runs checks; any failed CHECK prints file:line and
 * the expression, and the test exits 1 at the end (all checks run). A test
 * that needs the reference data calls cs_test_oracle(), which exits 77
 * (skipped) with a message when ../shared/oracle is absent. */
#ifndef CS_TEST_H
#define CS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clipsearch.h"

extern int cs_test_failures;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            cs_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            cs_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", __FILE__, __LINE__,  \
                    #a, #b, a_, b_);                                                               \
            cs_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_STR_EQ(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b); /* NULL equals only NULL */                               \
        if (a_ && b_ ? strcmp(a_, b_) != 0 : a_ != b_) {                                           \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" != \"%s\")\n", __FILE__,        \
                    __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                     \
            cs_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

/* A call returning cs_status must succeed; prints the error message if not. */
#define CHECK_OK(call, errp)                                                                       \
    do {                                                                                           \
        cs_status st_ = (call);                                                                    \
        if (st_ != CS_OK) {                                                                        \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, (errp)->message); \
            cs_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

/* The end of main(): prints a summary line and returns the exit status. */
int cs_test_done(const char *name);

/* Exits 77 (skipped) when the oracle folder is absent; else returns its path. */
const char *cs_test_oracle(void);

/* "<oracle>/<rel>" in a static buffer per call site's use (copy it if kept). */
const char *cs_test_oracle_path(const char *rel);

/* A fresh empty temporary folder (removed by the caller or left in /tmp). */
const char *cs_test_tmpdir(void);

/* kB of the mapping holding p that page-middle-directory entries map (2 MiB
 * each: FilePmdMapped in /proc/self/smaps); -1 when unknown. */
long cs_test_pmd_mapped_kb(const void *p);

/* Reads a whole file; exits the test with failure if it cannot. */
char *cs_test_read(const char *path, size_t *size);

#endif
