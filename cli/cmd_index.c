/* cli/cmd_index.c - `clipsearch index DIR...`: bring the database up to date
 * with the images under some folders. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_db.h"
#include "mpi_cli.h"

static int run(int argc, char **argv);

const cs_cli_command cs_cmd_index = {
    "index", "add the images under folders to the database (incremental)",
    "usage: clipsearch index [OPTIONS] DIR...\n"
    "\n"
    "Finds the images under each DIR (by their content, not their names),\n"
    "embeds the new and changed ones with the model and stores them. A second\n"
    "run only embeds what changed; files gone are dropped; a renamed or copied\n"
    "file reuses its stored embedding. Files that cannot be read are listed at\n"
    "the end and the exit status is 3. Ctrl-C stops after the batch in flight;\n"
    "run again to go on.\n"
    "\n"
    "  --model DIR|NAME     the CLIP model: a folder or a downloaded hub name\n"
    "                       (default: $CLIPSEARCH_MODEL, else the default model)\n"
    "  --db PATH            the database (default: $CLIPSEARCH_DB, else\n"
    "                       $XDG_DATA_HOME/clipsearch/catalog.db)\n"
    "  --reset              empty the database first and bind it to this model\n"
    "                       (to re-index with another model)\n"
    "  --exclude GLOB       skip files and folders whose name or relative path\n"
    "                       matches GLOB (repeatable), e.g. --exclude '*.tmp'\n"
    "  --follow-symlinks    follow symbolic links (default: skip them)\n"
    "  --hidden             include hidden files and folders (names with a '.')\n"
    "  --keep-missing       keep the entries of files that are gone\n"
    "  --exact              decode JPEGs at full size (Pillow-exact pixels; slower)\n"
    "  --batch N            images per batch and per transaction (default 16)\n"
    "  --threads N          threads (default: one per core)\n" CLI_PRECISION_HELP
    "  -q, --quiet          no progress and no summary\n"
    "\n"
    "Under mpirun or srun, every rank reads and embeds while rank 0 walks and\n"
    "writes the database (see README.md, \"On a cluster\"):\n"
    "  --ship               rank 0 reads the files and sends their bytes (for\n"
    "                       hosts that do not see the folders)\n"
    "  --shards PATTERN     each rank writes its own database, PATTERN with %r\n"
    "                       replaced by the rank, holding its share of the files\n"
    "  -v, --verbose        more messages\n",
    run};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

/* ---- progress display ------------------------------------------------------ */

typedef struct display {
    int quiet, tty;
    double last, embed_start;
    int drawn; /* a progress line is on screen (tty) */
} display;

static void fmt_duration(double s, char *buf, size_t cap) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%lds", t);
}

static int on_progress(void *user, const cs_index_progress *p) {
    display *d = user;
    if (p->phase == CS_INDEX_EMBED && d->embed_start < 0) d->embed_start = p->elapsed_s;
    if (d->quiet) return interrupted;
    if (p->phase == CS_INDEX_DONE) {
        if (d->drawn) fputs("\r\033[K", stderr);
        d->drawn = 0;
        return interrupted;
    }
    /* nothing to embed (a re-run over unchanged files): no bar; the summary
     * says what was found */
    if (p->phase != CS_INDEX_WALK && p->to_process == 0) return interrupted;
    /* a terminal is redrawn often; a log gets a line every few seconds */
    if (p->elapsed_s - d->last < (d->tty ? 0.1 : 5.0) && p->processed != p->to_process)
        return interrupted;
    d->last = p->elapsed_s;
    char line[256];
    if (p->phase == CS_INDEX_WALK) {
        snprintf(line, sizeof line, "scanning: %lld images found", (long long)p->found);
    } else {
        double t = p->elapsed_s - d->embed_start;
        double rate = t > 0 ? (double)p->processed / t : 0;
        char eta[32] = "?";
        if (rate > 0) fmt_duration((double)(p->to_process - p->processed) / rate, eta, sizeof eta);
        int pct = (int)(100 * p->processed / p->to_process);
        char bar[21];
        for (int i = 0; i < 20; i++) bar[i] = i < pct / 5 ? '#' : '.';
        bar[20] = '\0';
        snprintf(line, sizeof line, "%s%s%s %3d%% %lld/%lld  %.1f images/s  ETA %s",
                 d->tty ? "[" : "indexing:", d->tty ? bar : "", d->tty ? "]" : "", pct,
                 (long long)p->processed, (long long)p->to_process, rate, eta);
    }
    if (d->tty) {
        fprintf(stderr, "\r\033[K%s", line);
        d->drawn = 1;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    return interrupted;
}

/* Broken files, kept to list them at the end. */
typedef struct skipped {
    char **lines;
    int n, cap;
} skipped;

static void on_error(void *user, const char *path, const cs_error *e) {
    skipped *s = user;
    (void)path;
    if (s->n == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        char **grown = realloc(s->lines, (size_t)cap * sizeof *grown);
        if (!grown) return;
        s->lines = grown;
        s->cap = cap;
    }
    /* the message already names the file */
    if ((s->lines[s->n] = strdup(e->message))) s->n++;
}

/* precision: what this process's model embedded at (NULL: not said; the
 * ranks of an MPI job embed for rank 0) */
static void summary(const cs_index_stats *st, double seconds, const char *precision,
                    const skipped *sk, int quiet, int verbose) {
    if (!quiet) {
        printf("%lld images: %lld embedded%s%s, %lld reused, %lld unchanged, %lld removed, "
               "%lld skipped (%.1f s",
               (long long)st->found, (long long)st->embedded,
               st->embedded && precision ? " at " : "", st->embedded && precision ? precision : "",
               (long long)st->reused, (long long)st->unchanged, (long long)st->removed,
               (long long)st->failed, seconds);
        if (st->embedded && seconds > 0) printf(", %.1f images/s", (double)st->embedded / seconds);
        printf(")\n");
    }
    if (verbose)
        fprintf(stderr,
                "stages (s): walk %.2f, read+hash %.2f, decode+preprocess %.2f, model %.2f, "
                "store %.2f\n",
                st->walk_s, st->hash_s, st->decode_s, st->embed_s, st->store_s);
    if (sk->n) {
        fprintf(stderr, "skipped %d file%s:\n", sk->n, sk->n == 1 ? "" : "s");
        for (int i = 0; i < sk->n; i++) {
            fputs("  ", stderr);
            cli_put_escaped(sk->lines[i], stderr); /* names may hold control characters */
            fputc('\n', stderr);
        }
    }
}

/* ---- the command ------------------------------------------------------------ */

enum {
    OPT_DB = 256,
    OPT_MODEL,
    OPT_RESET,
    OPT_EXCLUDE,
    OPT_FOLLOW,
    OPT_HIDDEN,
    OPT_KEEP,
    OPT_EXACT,
    OPT_BATCH,
    OPT_THREADS,
    OPT_PRECISION,
    OPT_SHIP,
    OPT_SHARDS
};

static int run(int argc, char **argv) {
    static const struct option longs[] = {{"db", required_argument, NULL, OPT_DB},
                                          {"model", required_argument, NULL, OPT_MODEL},
                                          {"reset", no_argument, NULL, OPT_RESET},
                                          {"exclude", required_argument, NULL, OPT_EXCLUDE},
                                          {"follow-symlinks", no_argument, NULL, OPT_FOLLOW},
                                          {"hidden", no_argument, NULL, OPT_HIDDEN},
                                          {"keep-missing", no_argument, NULL, OPT_KEEP},
                                          {"exact", no_argument, NULL, OPT_EXACT},
                                          {"batch", required_argument, NULL, OPT_BATCH},
                                          {"threads", required_argument, NULL, OPT_THREADS},
                                          {"precision", required_argument, NULL, OPT_PRECISION},
                                          {"ship", no_argument, NULL, OPT_SHIP},
                                          {"shards", required_argument, NULL, OPT_SHARDS},
                                          {"quiet", no_argument, NULL, 'q'},
                                          {"verbose", no_argument, NULL, 'v'},
                                          {0, 0, 0, 0}};
    const char *db_opt = NULL, *model_opt = NULL, *shards = NULL;
    const char **excludes = calloc((size_t)argc + 1, sizeof *excludes);
    int n_excludes = 0, reset = 0, threads = 0, ship = 0, c;
    int verbosity = CS_LOG_WARN;
    cs_index_opts io = {0};
    display d = {.embed_start = -1, .last = -1e9};
    if (!excludes) return CLI_FAIL;
    while ((c = getopt_long(argc, argv, "qv", longs, NULL)) != -1) {
        switch (c) {
        case OPT_DB:
            db_opt = optarg;
            break;
        case OPT_MODEL:
            model_opt = optarg;
            break;
        case OPT_RESET:
            reset = 1;
            break;
        case OPT_EXCLUDE:
            excludes[n_excludes++] = optarg;
            break;
        case OPT_FOLLOW:
            io.follow_symlinks = 1;
            break;
        case OPT_HIDDEN:
            io.include_hidden = 1;
            break;
        case OPT_KEEP:
            io.keep_missing = 1;
            break;
        case OPT_EXACT:
            io.exact_decode = 1;
            break;
        case OPT_BATCH:
            if (cli_int_arg("--batch", optarg, 1, 65536, &io.batch_size)) {
                free(excludes);
                return CLI_USAGE;
            }
            break;
        case OPT_THREADS:
            if (cli_int_arg("--threads", optarg, 0, 4096, &threads)) {
                free(excludes);
                return CLI_USAGE;
            }
            break;
        case OPT_PRECISION:
            if (cli_precision_opt(optarg) != CLI_OK) {
                free(excludes);
                return CLI_USAGE;
            }
            break;
        case OPT_SHIP:
            ship = 1;
            break;
        case OPT_SHARDS:
            shards = optarg;
            break;
        case 'q':
            d.quiet = 1;
            break;
        case 'v':
            verbosity = CS_LOG_DEBUG;
            break;
        default:
            free(excludes);
            return cli_usage(&cs_cmd_index);
        }
    }
    if (optind == argc || io.batch_size < 0 || threads < 0 || (ship && shards)) {
        free(excludes);
        return cli_usage(&cs_cmd_index);
    }
    cs_comm *comm = NULL;
    if (cli_comm_start(&comm) != CLI_OK) {
        free(excludes);
        return CLI_FAIL;
    }
    if ((ship || shards) && !comm && !cs_comm_launched()) {
        cli_error("--ship and --shards are for runs under mpirun or srun");
        free(excludes);
        return CLI_USAGE;
    }
    int rank = comm ? cs_comm_rank(comm) : 0;
    if (rank != 0) d.quiet = 1; /* rank 0 speaks for the job */
    cs_pool *pool = cs_pool_create(threads);
    cs_model *model = NULL;
    cs_db *db = NULL;
    /* an existing catalogue goes on with its own model unless told (a shard
     * is named per rank, so shards take --model or the default) */
    const char *use = reset || shards ? model_opt : cli_db_model(model_opt, db_opt);
    int rc = pool ? cli_model_open(use, pool, &verbosity, &model) : CLI_FAIL;
    if (!rc && (rank == 0 || shards)) {
        char path[4096];
        cs_error err;
        rc = shards ? cli_shard_path(comm, shards, path, sizeof path)
                    : cli_db_path(db_opt, path, sizeof path);
        if (!rc && cs_db_open_model(path, model, CS_DB_CREATE | (reset ? CS_DB_RESET : 0), &db,
                                    &err) != CS_OK) {
            rc = cli_fail(&err);
            if (err.status == CS_EMISMATCH)
                fprintf(stderr, "hint: re-index for this model with --reset, or give another "
                                "--db\n");
        }
    }
    /* the approximate index's warnings (a failed update: the scan is used) */
    if (!rc && db) cs_db_set_log(db, cli_log_stderr, &verbosity);
    if (!rc || comm) {
        skipped sk = {0};
        d.tty = isatty(STDERR_FILENO);
        io.excludes = excludes;
        io.n_excludes = n_excludes;
        io.progress = on_progress;
        io.progress_user = &d;
        io.on_error = on_error;
        io.error_user = &sk;
        io.pool = pool;
        signal(SIGINT, on_sigint);
        if (comm && rank == 0) cli_comm_on_kill();
        cs_index_stats st;
        cs_error err, setup = {0};
        if (rc) {
            setup.status = CS_EINVAL;
            snprintf(setup.message, sizeof setup.message, "could not start (its message above)");
        }
        const char *const *roots = (const char *const *)argv + optind;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        cs_status s;
        if (!comm)
            s = cs_db_index(db, model, roots, argc - optind, &io, &st, &err);
        else if (shards)
            s = cs_dist_index_shard(comm, rc ? NULL : db, rc ? NULL : model, roots, argc - optind,
                                    &io, &st, &setup, &err);
        else
            s = cs_dist_index(comm, rc ? NULL : db, rc ? NULL : model, roots, argc - optind, &io,
                              ship, &st, &setup, &err);
        signal(SIGINT, SIG_DFL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (rc) {
            /* this rank's own failure, already printed */
        } else if (s != CS_OK) {
            rc = cli_fail(&err);
        } else if (rank == 0) {
            cs_model_info mi;
            cs_model_get_info(model, &mi);
            summary(&st, secs, comm ? NULL : mi.image_precision, &sk, d.quiet,
                    verbosity >= CS_LOG_INFO);
            if (st.stopped) {
                cli_error("interrupted: the batches done are kept; run again to go on");
                rc = CLI_FAIL;
            } else if (st.failed) {
                rc = CLI_PARTIAL;
            }
        }
        for (int i = 0; i < sk.n; i++) free(sk.lines[i]);
        free(sk.lines);
    }
    cs_db_close(db);
    cs_model_close(model);
    cs_pool_free(pool);
    free(excludes);
    cli_comm_end(comm);
    return rc;
}
