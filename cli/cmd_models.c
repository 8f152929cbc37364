/* cli/cmd_models.c - `clipsearch models download|list|path`: CLIP models
 * from the Hugging Face hub, and what the caches hold. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int run(int argc, char **argv);

const cs_cli_command cs_cmd_models = {
    "models", "download CLIP models from Hugging Face, list and locate them",
    "usage: clipsearch models download [NAME] [OPTIONS]\n"
    "       clipsearch models list [--cache DIR]\n"
    "       clipsearch models path [NAME] [--cache DIR]\n"
    "\n"
    "NAME is a Hugging Face repo id (default: openai/clip-vit-base-patch32).\n"
    "\n"
    "download  fetches config, weights (model.safetensors where the revision has\n"
    "          it, else pytorch_model.bin), tokenizer and preprocessor files into\n"
    "          the cache, resuming interrupted transfers and checking each file's\n"
    "          size and sha256; prints the model folder.\n"
    "list      the models in our cache and in the Hugging Face cache.\n"
    "path      the local folder NAME resolves to: what --model NAME uses in the\n"
    "          other commands (no NAME: $CLIPSEARCH_MODEL, else the default).\n"
    "\n"
    "options:\n"
    "  --revision REV  branch, tag or commit to download (default: main)\n"
    "  --cache DIR     our model cache (default: $CLIPSEARCH_CACHE/models,\n"
    "                  else $XDG_CACHE_HOME/clipsearch/models, else\n"
    "                  ~/.cache/clipsearch/models)\n"
    "  --force         download again files already present and verified\n"
    "  --retries N     resumed tries after a failed transfer (default: 3)\n"
    "  -q, --quiet     no progress output\n"
    "  -v, --verbose   say more\n"
    "\n"
    "Environment: HF_ENDPOINT (a hub mirror), HF_TOKEN (private or gated repos),\n"
    "HF_HOME / HF_HUB_CACHE (the Hugging Face cache, searched read-only),\n"
    "HF_HUB_OFFLINE=1 (no downloads).\n",
    run};

/* ---- the progress display --------------------------------------------------- */

typedef struct display {
    int tty; /* draw a bar on stderr */
    int quiet;
    int drawn;     /* a bar is on the current line */
    double start;  /* when this run's first byte came */
    uint64_t base; /* bytes already on disk before this run (skipped, resumed) */
    double last_draw;
    int last_file;
} display;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *human(uint64_t bytes, char *buf, size_t cap) {
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, u++;
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static void clear_line(display *d) {
    if (d->drawn) fputs("\r\033[K", stderr);
    d->drawn = 0;
}

static void draw_bar(display *d, const cs_hub_progress *p, double t) {
    struct winsize ws;
    int cols = ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
    uint64_t fresh = p->all_done > d->base ? p->all_done - d->base : 0;
    double rate = t > d->start + 0.2 ? (double)fresh / (t - d->start) : 0;
    char done[32], total[32], speed[48] = "", eta[32] = "";
    human(p->all_done, done, sizeof done);
    human(p->all_total, total, sizeof total);
    if (rate > 0) {
        char r[32];
        snprintf(speed, sizeof speed, "  %s/s", human((uint64_t)rate, r, sizeof r));
        if (p->all_total > p->all_done) {
            long s = (long)((double)(p->all_total - p->all_done) / rate);
            snprintf(eta, sizeof eta, "  ETA %ld:%02ld", s / 60, s % 60);
        }
    }
    char head[128], tail[160];
    snprintf(head, sizeof head, "[%d/%d] %.28s ", p->file_index + 1, p->n_files, p->file);
    snprintf(tail, sizeof tail, " %s / %s%s%s", done, total, speed, eta);
    /* A fixed width (room kept for the longest tail) so the bar never jumps. */
    int width = cols - 1 - (int)strlen(head) - 2 - 44;
    if (width > 30) width = 30;
    char line[512], bar[40] = "";
    if (width >= 5) {
        double frac = p->all_total ? (double)p->all_done / (double)p->all_total : 0;
        int fill = (int)(frac * width);
        bar[0] = '[';
        for (int i = 0; i < width; i++) bar[1 + i] = i < fill ? '#' : '.';
        bar[1 + width] = ']';
        bar[2 + width] = 0;
    }
    /* Never wider than the terminal: a wrapped line would not be redrawn. */
    snprintf(line, sizeof line, "%s%s%s", head, bar, tail);
    fprintf(stderr, "\r\033[K%.*s", cols - 1, line);
    fflush(stderr);
    d->drawn = 1;
}

static int on_progress(void *user, const cs_hub_progress *p) {
    display *d = user;
    double t = now();
    if (!d->start) d->start = t;
    int file_end = p->file_total && p->file_done == p->file_total;
    if (d->last_file != p->file_index) {
        d->last_file = p->file_index;
        /* Bytes on disk before this run do not count towards the speed. */
        if (p->skipped || p->resumed) d->base += p->file_done;
    }
    if (d->quiet) return 0;
    if (d->tty) {
        if (file_end || t - d->last_draw >= 0.1) {
            draw_bar(d, p, t);
            d->last_draw = t;
        }
    } else if (file_end) {
        char size[32];
        fprintf(stderr, "clipsearch: %s %s (%s)\n", p->file,
                human(p->file_total, size, sizeof size),
                p->skipped   ? "already present"
                : p->resumed ? "resumed"
                             : "downloaded");
    }
    return 0;
}

static display *log_display;

/* Log lines go above the bar, not through it. */
static void on_log(void *user, cs_log_level level, const char *message) {
    if (log_display) clear_line(log_display);
    cli_log_stderr(user, level, message);
}

/* ---- subcommands ------------------------------------------------------------------ */

static int download(const char *name, cs_hub_opts *o, int quiet, int verbosity) {
    display d = {.tty = isatty(STDERR_FILENO), .quiet = quiet, .last_file = -1};
    o->progress = on_progress;
    o->progress_user = &d;
    o->log = on_log;
    o->log_user = &verbosity;
    log_display = &d;
    char dir[4096];
    cs_error err;
    cs_status st = cs_hub_download(name, o, dir, sizeof dir, &err);
    clear_line(&d);
    log_display = NULL;
    if (st != CS_OK) {
        cli_fail(&err);
        if (st == CS_ENETWORK)
            fprintf(stderr,
                    "hint: the model could not be downloaded. Without a network, copy a model "
                    "folder\n  from a machine that has one (`clipsearch models download` there, "
                    "or `git clone`\n  of the hub repository) and give it with --model DIR "
                    "(or CLIPSEARCH_MODEL=DIR);\n  behind a mirror, set HF_ENDPOINT=URL.\n");
        return CLI_FAIL;
    }
    char hf[4096];
    if (!quiet && cs_hub_hf_cache_dir(hf, sizeof hf, &err) == CS_OK &&
        !strncmp(dir, hf, strlen(hf)) && dir[strlen(hf)] == '/')
        cli_error("%s is already in the Hugging Face cache (--force downloads a copy)", name);
    printf("%s\n", dir);
    return CLI_OK;
}

static int print_entry(void *user, const cs_hub_entry *e) {
    ++*(int *)user;
    char size[32];
    printf("%-40s %-11s %-9s %10s  %s\n", e->name, e->source, e->revision[0] ? e->revision : "-",
           human(e->bytes, size, sizeof size), e->dir);
    return 0;
}

static int run(int argc, char **argv) {
    if (argc < 2) return cli_usage(&cs_cmd_models);
    const char *sub = argv[1];
    static const struct option longs[] = {{"revision", required_argument, NULL, 'r'},
                                          {"cache", required_argument, NULL, 'c'},
                                          {"force", no_argument, NULL, 'f'},
                                          {"retries", required_argument, NULL, 'n'},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"verbose", no_argument, NULL, 'v'},
                                          {NULL, 0, NULL, 0}};
    cs_hub_opts o = {0};
    int quiet = 0, verbosity = CS_LOG_WARN, c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "qv", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            o.revision = optarg;
            break;
        case 'c':
            o.cache_dir = optarg;
            break;
        case 'f':
            o.force = 1;
            break;
        case 'n': {
            int n;
            if (cli_int_arg("--retries", optarg, 0, 100, &n)) return CLI_USAGE;
            o.retries = n == 0 ? -1 : n;
            break;
        }
        case 'q':
            quiet = 1;
            break;
        case 'v':
            verbosity = CS_LOG_INFO;
            break;
        default:
            return cli_usage(&cs_cmd_models);
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    if (nargs > 1) return cli_usage(&cs_cmd_models);
    const char *name = nargs ? args[0] : NULL;

    if (!strcmp(sub, "download"))
        return download(name ? name : cs_hub_default_model(), &o, quiet, verbosity);
    if (!strcmp(sub, "path")) {
        /* Without --cache, exactly what --model NAME resolves to in the
         * other commands (no NAME: $CLIPSEARCH_MODEL, else the default). */
        if (!o.cache_dir) {
            const char *dir = cli_resolve_model(name);
            if (!dir) return CLI_FAIL;
            printf("%s\n", dir);
            return CLI_OK;
        }
        char dir[4096];
        cs_error err;
        if (cs_hub_resolve(name, o.cache_dir, dir, sizeof dir, &err) != CS_OK) {
            if (err.status != CS_ENOTFOUND) return cli_fail(&err);
            cli_error("%s\n  download it with `clipsearch models download %s --cache %s`",
                      err.message, name ? name : cs_hub_default_model(), o.cache_dir);
            return CLI_FAIL;
        }
        printf("%s\n", dir);
        return CLI_OK;
    }
    if (!strcmp(sub, "list")) {
        if (name) return cli_usage(&cs_cmd_models);
        cs_error err;
        int count = 0;
        if (cs_hub_list(o.cache_dir, print_entry, &count, &err) != CS_OK) return cli_fail(&err);
        if (!count)
            cli_error("no CLIP models in the caches; `clipsearch models download` gets %s",
                      cs_hub_default_model());
        return CLI_OK;
    }
    cli_error("models: unknown subcommand '%s' (download, list, path)", sub);
    return CLI_USAGE;
}
