/* cli/main.c - `clipsearch COMMAND [ARGS]`: finds the command and runs it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__ /* defined by the headers above */
#include <malloc.h>
#include <stdint.h>
#include <sys/mman.h>
#endif

#include "cli.h"

#include "cli_commands.inc" /* cs_cli_commands[], generated from cli/cmd_*.c */

/* Messages name files, and a file name may hold control characters: they
 * are escaped so that a name cannot move the cursor or recolour the
 * terminal. */
static void put_message(const char *prefix, const char *fmt, va_list ap) {
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fputs(prefix, stderr);
    cli_put_escaped(buf, stderr);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    put_message("clipsearch: ", fmt, ap);
    va_end(ap);
}

static void log_line(const char *prefix, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    put_message(prefix, fmt, ap);
    va_end(ap);
}

int cli_fail(const cs_error *err) {
    cli_error("%s", err->message[0] ? err->message : cs_status_name(err->status));
    return CLI_FAIL;
}

int cli_usage(const cs_cli_command *cmd) {
    fprintf(stderr, "%s", cmd->usage);
    return CLI_USAGE;
}

void cli_log_stderr(void *user, cs_log_level level, const char *message) {
    int verbosity = user ? *(const int *)user : CS_LOG_WARN;
    if ((int)level > verbosity) return;
    static const char *const names[] = {"error: ", "warning: ", "", ""};
    log_line("clipsearch: ", "%s%s", names[level], message);
}

const char *cli_model_arg(const char *opt) {
    if (opt && *opt) return opt;
    const char *env = getenv("CLIPSEARCH_MODEL");
    return env && *env ? env : NULL;
}

static int env_flag(const char *name) {
    const char *env = getenv(name);
    return env && *env && strcmp(env, "0") != 0;
}

/* --precision of the command being run; -1: not given */
static int precision_opt = -1;

int cli_precision_opt(const char *arg) {
    precision_opt = cs_precision_parse(arg);
    if (precision_opt >= 0) return CLI_OK;
    cli_error("--precision: '%s' is not one of fp32, bf16, int8", arg);
    return CLI_USAGE;
}

/* --precision, else CLIPSEARCH_PRECISION, else the older CLIPSEARCH_INT8=1
 * (the same as CLIPSEARCH_PRECISION=int8). */
void cli_model_env(cs_model_opts *mo) {
    mo->no_prepack |= env_flag("CLIPSEARCH_NO_PREPACK");
    /* packed weights are kept in CLIPSEARCH_PACK_CACHE, else in the cache
     * folder; CLIPSEARCH_PACK_CACHE=0: nowhere */
    static char pack_dir[4096];
    const char *keep = getenv("CLIPSEARCH_PACK_CACHE");
    cs_error err;
    if (keep && *keep)
        mo->pack_cache = strcmp(keep, "0") ? keep : NULL;
    else if (cs_hub_pack_cache_dir(pack_dir, sizeof pack_dir, &err) == CS_OK)
        mo->pack_cache = pack_dir;
    int p = precision_opt;
    const char *env = getenv("CLIPSEARCH_PRECISION");
    if (p < 0 && env && *env) {
        p = cs_precision_parse(env);
        if (p < 0)
            fprintf(stderr,
                    "clipsearch: warning: CLIPSEARCH_PRECISION=%s is not one of fp32, bf16, "
                    "int8; ignored\n",
                    env);
    }
    if (p < 0 && env_flag("CLIPSEARCH_INT8")) p = CS_PRECISION_INT8;
    if (p >= 0) {
        mo->precision = (cs_precision)p;
        mo->int8 = 0;
    }
}

/* The edit distance of a and b (insertions, deletions, substitutions and
 * swaps of neighbours), capped at 9: names are short. */
static int distance(const char *a, const char *b) {
    enum { CAP = 24 };
    size_t n = strlen(a), m = strlen(b);
    if (n >= CAP || m >= CAP) return 9;
    int d[CAP + 1][CAP + 1];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m] < 9 ? d[n][m] : 9;
}

/* The command a mistyped name most likely meant: within two edits (one for
 * names of up to four letters), or that the name begins; NULL if none. */
static const char *nearest_command(const char *name) {
    const char *best = NULL;
    int best_d = 9;
    for (int i = 0; cs_cli_commands[i]; i++) {
        const char *c = cs_cli_commands[i]->name;
        int d = distance(name, c);
        if (strlen(name) >= 3 && !strncmp(c, name, strlen(name))) d = 1;
        if (d < best_d) best_d = d, best = c;
    }
    return best_d <= (strlen(name) <= 4 ? 1 : 2) ? best : NULL;
}

static void print_help(FILE *f) {
    fprintf(f,
            "clipsearch %s - find images by what they look like\n\n"
            "usage: clipsearch COMMAND [OPTIONS] [ARGS]\n\ncommands:\n",
            cs_version());
    for (int i = 0; cs_cli_commands[i]; i++)
        fprintf(f, "  %-10s %s\n", cs_cli_commands[i]->name, cs_cli_commands[i]->summary);
    fprintf(f, "\n`clipsearch COMMAND --help` describes a command.\n"
               "Environment: CLIPSEARCH_MODEL (model folder), CLIPSEARCH_DB (database),\n"
               "CLIPSEARCH_PRECISION=fp32|bf16|int8 (the encoders' arithmetic, as --precision;\n"
               "bf16 and int8 are faster where the CPU has AVX512_BF16 / VNNI, at cosine\n"
               "0.9999 / 0.999 to fp32; CLIPSEARCH_INT8=1 is the older spelling of int8),\n"
               "CLIPSEARCH_NO_PREPACK=1 (image weights always read from the model file).\n");
}

/* The work's large buffers live for one image or one batch: a decoded photo
 * (36 MB at 12 MP), its resized copies, a batch's activations (tens of MB).
 * By default glibc hands blocks that large back to the kernel at free()
 * (mmap above its threshold, trimming the heap above twice that) and gets
 * them back at the next malloc() as fresh pages, each faulted in and
 * zeroed: 7-10% of a one-thread `index` run (docs/performance.md). Kept in
 * the heap, they are reused; the resident set stays at the largest working
 * set, which the run reaches anyway. A program, not the library, owns this
 * process-wide choice.
 * Even kept, the heap's pages fault in once, 4 KiB at a time, and a fresh
 * page costs the kernel (and a virtual machine's host) per page, which a
 * short run's first images pay. So the heap starts with HEAP_HUGE of
 * address space marked for 2 MiB pages: reserved here, touched only as the
 * work grows into it (docs/performance.md, "Large blocks kept in the
 * heap"). */
#define HEAP_HUGE ((size_t)64 << 20)

static void keep_large_blocks(void) {
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    const size_t huge = (size_t)2 << 20;
    char *p = malloc(HEAP_HUGE); /* from the heap's top, below the thresholds */
    if (p) {
        uintptr_t a = ((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1);
        uintptr_t e = ((uintptr_t)p + HEAP_HUGE) & ~(uintptr_t)(huge - 1);
        if (a < e) (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
        free(p); /* stays in the heap: below the trim threshold */
    }
#endif
}

int main(int argc, char **argv) {
    keep_large_blocks();
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2)
            name = argv[2];
        else {
            print_help(stdout);
            return CLI_OK;
        }
        for (int i = 0; cs_cli_commands[i]; i++)
            if (!strcmp(cs_cli_commands[i]->name, name)) {
                fputs(cs_cli_commands[i]->usage, stdout);
                return CLI_OK;
            }
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("clipsearch %s\n", cs_version());
        return CLI_OK;
    }
    for (int i = 0; cs_cli_commands[i]; i++) {
        const cs_cli_command *c = cs_cli_commands[i];
        if (strcmp(c->name, name) != 0) continue;
        for (int a = 2; a < argc && strcmp(argv[a], "--") != 0; a++)
            if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
                fputs(c->usage, stdout);
                return CLI_OK;
            }
        return c->run(argc - 1, argv + 1);
    }
    const char *near = nearest_command(name);
    if (near)
        cli_error("unknown command '%s'; did you mean `clipsearch %s`? (see `clipsearch help`)",
                  name, near);
    else
        cli_error("unknown command '%s' (see `clipsearch help`)", name);
    return CLI_USAGE;
}
