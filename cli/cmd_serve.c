/* cli/cmd_serve.c - `clipsearch serve`: the web page and JSON API over an
 * index, until Ctrl-C. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_db.h"
#include "core/parse.h"
#include "mpi_cli.h"

static const char usage[] =
    "usage: clipsearch serve [OPTIONS] [FOLDER...]\n"
    "\n"
    "Serves a web page to search the indexed images, and a JSON API for programs:\n"
    "  GET  /api/search?q=TEXT&k=N   POST /api/search (an image, a form, or JSON)\n"
    "  GET  /api/similar/ID  /api/thumb/ID  /api/image/ID  /api/stats  /healthz\n"
    "With FOLDERs, first brings the database up to date with them (as indexing does).\n"
    "Stops cleanly on Ctrl-C.\n"
    "\n"
    "options:\n"
    "  --db PATH            the database (default: $CLIPSEARCH_DB, else\n"
    "                       ~/.local/share/clipsearch/catalog.db)\n"
    "  --model DIR|NAME     the model the database was made with (default:\n"
    "                       $CLIPSEARCH_MODEL, else openai/clip-vit-base-patch32)\n"
    "  --host ADDR          address to listen on (default 127.0.0.1: this computer only)\n"
    "  --port N             port (default 8080; 0 picks a free one)\n"
    "  --threads N          connection threads (default 4)\n" CLI_PRECISION_HELP
    "  --thread-per-connection  one thread per connection instead\n"
    "  --max-body BYTES     largest request body, e.g. an upload (default 16777216)\n"
    "  --timeout SECONDS    close connections idle this long (default 15)\n"
    "  --header-timeout MS  a request's headers must all arrive within this, however\n"
    "                       slowly they trickle (default 10000)\n"
    "  --body-timeout MS    and its body within this after them (default 60000)\n"
    "  --max-connections N  connections at once (default 256)\n"
    "  --max-per-client N   connections one client address may hold (default 32 off\n"
    "                       loopback, no limit on it; 0: no limit)\n"
    "  -v, --verbose        log every request on stderr\n"
    "  --shard PATTERN      under mpirun or srun: each rank holds a database\n"
    "                       (PATTERN, %r replaced by the rank); rank 0 serves\n"
    "                       them all as one (the images must be readable on it)\n";

typedef struct serve_args {
    const char *db, *model, *shard;
    cs_server_opts opts;
    const char **folders;
    int n_folders;
    int verbosity;
} serve_args;

static int parse_long(const char *s, long lo, long hi, long *out) {
    long long v;
    cs_error err;
    if (cs_parse_int(s, lo, hi, "serve", &v, &err) != CS_OK) return 0;
    *out = (long)v;
    return 1;
}

/* Returns CLI_OK, or CLI_USAGE (CLI_FAIL) after printing what is wrong. */
static int parse(int argc, char **argv, serve_args *a) {
    a->opts.port = 8080;
    a->verbosity = CS_LOG_WARN;
    a->folders = calloc((size_t)argc, sizeof *a->folders);
    if (!a->folders) {
        cli_error("serve: out of memory");
        return CLI_FAIL;
    }
    enum {
        O_DB = 1,
        O_MODEL,
        O_SHARD,
        O_PRECISION,
        O_HOST,
        O_PORT,
        O_THREADS,
        O_MAX_BODY,
        O_TIMEOUT,
        O_HEADER_TIMEOUT,
        O_BODY_TIMEOUT,
        O_MAX_CONNECTIONS,
        O_MAX_PER_CLIENT,
        O_TPC
    };
    static const struct option longs[] = {
        {"verbose", no_argument, NULL, 'v'},
        {"thread-per-connection", no_argument, NULL, O_TPC},
        {"db", required_argument, NULL, O_DB},
        {"model", required_argument, NULL, O_MODEL},
        {"shard", required_argument, NULL, O_SHARD},
        {"precision", required_argument, NULL, O_PRECISION},
        {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT},
        {"threads", required_argument, NULL, O_THREADS},
        {"max-body", required_argument, NULL, O_MAX_BODY},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"header-timeout", required_argument, NULL, O_HEADER_TIMEOUT},
        {"body-timeout", required_argument, NULL, O_BODY_TIMEOUT},
        {"max-connections", required_argument, NULL, O_MAX_CONNECTIONS},
        {"max-per-client", required_argument, NULL, O_MAX_PER_CLIENT},
        {0, 0, 0, 0}};
    int c, idx;
    long v;
    while ((c = getopt_long(argc, argv, "v", longs, &idx)) != -1) {
        int ok = 1;
        if (c == 'v')
            a->verbosity = CS_LOG_DEBUG;
        else if (c == O_TPC)
            a->opts.thread_per_connection = 1;
        else if (c == O_DB)
            a->db = optarg;
        else if (c == O_MODEL)
            a->model = optarg;
        else if (c == O_SHARD)
            a->shard = optarg;
        else if (c == O_PRECISION) {
            if (cli_precision_opt(optarg) != CLI_OK) return CLI_USAGE;
        } else if (c == O_HOST)
            a->opts.host = optarg;
        else if (c == O_PORT && (ok = parse_long(optarg, 0, 65535, &v)))
            a->opts.port = (int)v;
        else if (c == O_THREADS && (ok = parse_long(optarg, 1, 1024, &v)))
            a->opts.threads = (int)v;
        else if (c == O_MAX_BODY && (ok = parse_long(optarg, 1024, LONG_MAX, &v)))
            a->opts.max_body = (size_t)v;
        else if (c == O_TIMEOUT && (ok = parse_long(optarg, 1, 3600, &v)))
            a->opts.timeout_s = (int)v;
        else if (c == O_HEADER_TIMEOUT && (ok = parse_long(optarg, 1, 3600000, &v)))
            a->opts.header_timeout_ms = (int)v;
        else if (c == O_BODY_TIMEOUT && (ok = parse_long(optarg, 1, 3600000, &v)))
            a->opts.body_timeout_ms = (int)v;
        else if (c == O_MAX_CONNECTIONS && (ok = parse_long(optarg, 1, 100000, &v)))
            a->opts.max_connections = (int)v;
        else if (c == O_MAX_PER_CLIENT && (ok = parse_long(optarg, 0, 100000, &v)))
            a->opts.max_per_client = v ? (int)v : -1; /* the option's -1 is "no limit" */
        else if (ok)                                  /* getopt said what is wrong */
            return CLI_USAGE;
        if (!ok) {
            cli_error("serve: bad value for --%s: %s", longs[idx].name, optarg);
            return CLI_USAGE;
        }
    }
    /* the folders, wherever they stood among the options */
    for (int i = optind; i < argc; i++) a->folders[a->n_folders++] = argv[i];
    return CLI_OK;
}

static void on_index_error(void *user, const char *path, const cs_error *error) {
    (void)user, (void)path;
    cli_error("warning: %s", error->message);
}

/* Brings the database up to date with the folders given on the command line. */
static cs_status index_folders(cs_db *db, cs_model *model, const serve_args *a, cs_error *err) {
    cs_index_opts io = {0};
    io.on_error = on_index_error;
    cs_index_stats st = {0};
    fprintf(stderr, "clipsearch: indexing %d folder%s...\n", a->n_folders,
            a->n_folders == 1 ? "" : "s");
    cs_status s = cs_db_index(db, model, a->folders, a->n_folders, &io, &st, err);
    if (s == CS_OK)
        fprintf(stderr,
                "clipsearch: %lld images: %lld new, %lld reused, %lld unchanged, %lld removed, "
                "%lld failed\n",
                (long long)st.found, (long long)st.embedded, (long long)st.reused,
                (long long)st.unchanged, (long long)st.removed, (long long)st.failed);
    return s;
}

/* Serves until SIGINT or SIGTERM. The signals are blocked in every thread
 * (the server's threads inherit the mask) and taken here with sigwait. */
static int serve(cs_comm *comm, cs_model *model, cs_db *db, serve_args *a) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    a->opts.log = cli_log_stderr;
    a->opts.log_user = &a->verbosity;
    cs_server *srv = NULL;
    cs_error err = {0};
    cs_status st = comm ? cs_dist_server_start(comm, model, db, &a->opts, &srv, &err)
                        : cs_server_start(model, db, &a->opts, &srv, &err);
    if (st != CS_OK) return cli_fail(&err);
    cs_db_info info = {0};
    cs_db_get_info(db, &info, &err);
    if (comm) cs_dist_count(comm, db, &info.count, &err);
    const char *host = a->opts.host ? a->opts.host : "127.0.0.1";
    int v6 = strchr(host, ':') != NULL;
    printf("clipsearch: serving %lld images at http://%s%s%s:%d/ (Ctrl-C stops)\n",
           (long long)info.count, v6 ? "[" : "", host, v6 ? "]" : "", cs_server_port(srv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "clipsearch: %s: stopping\n", sig == SIGINT ? "interrupted" : "terminated");
    cs_server_stop(srv);
    return CLI_OK;
}

/* The database: read-only, or created/updated when folders are given. */
static int open_db(const serve_args *a, cs_model *model, cs_db **db) {
    if (!a->n_folders) return cli_db_open_for_model(a->db, model, db);
    char path[4096];
    int rc = cli_db_path(a->db, path, sizeof path);
    if (rc) return rc;
    cs_error err = {0};
    if (cs_db_open_model(path, model, CS_DB_CREATE, db, &err) != CS_OK) return cli_fail(&err);
    return CLI_OK;
}

static int run_rank0(serve_args *a, cs_comm *comm) {
    /* shards are named per rank: they take --model or the default */
    const char *dir = cli_resolve_model(comm ? a->model : cli_db_model(a->model, a->db));
    if (!dir) return CLI_FAIL;
    cs_model_opts mo = {0};
    mo.log = cli_log_stderr;
    mo.log_user = &a->verbosity;
    cli_model_env(&mo);
    cs_model *model = NULL;
    cs_db *db = NULL;
    cs_error err = {0};
    int rc;
    if (cs_model_open(dir, &mo, &model, &err) != CS_OK)
        rc = cli_fail(&err);
    else if (comm)
        rc = cli_shard_open(comm, a->shard, model, &db);
    else
        rc = open_db(a, model, &db);
    if (rc == CLI_OK && a->n_folders && index_folders(db, model, a, &err) != CS_OK)
        rc = cli_fail(&err);
    if (rc == CLI_OK) rc = serve(comm, model, db, a);
    cs_db_close(db);
    cs_model_close(model);
    return rc;
}

static int run(int argc, char **argv) {
    serve_args a = {0};
    int rc = parse(argc, argv, &a);
    cs_comm *comm = NULL;
    if (rc == CLI_OK) rc = cli_comm_start(&comm);
    if (rc == CLI_OK && comm && !a.shard) {
        cli_error("serve: under mpirun or srun, give each rank its database with --shard");
        rc = CLI_USAGE;
    } else if (rc == CLI_OK && a.shard && a.n_folders) {
        cli_error("serve: --shard serves databases as they are (index them with index --shards)");
        rc = CLI_USAGE;
    }
    char one[4096];
    if (rc == CLI_OK) rc = cli_shard_alone(comm, &a.shard, &a.db, one, sizeof one);
    if (rc != CLI_OK) {
        /* every rank parsed the same line and stops the same way */
    } else if (comm && cs_comm_rank(comm) != 0) {
        rc = cli_shard_rank(comm, a.shard, 1);
    } else {
        rc = run_rank0(&a, comm && a.shard ? comm : NULL);
        if (comm) cs_dist_shard_stop(comm);
    }
    cli_comm_end(comm);
    free(a.folders);
    return rc;
}

const cs_cli_command cs_cmd_serve = {"serve", "web page and JSON API to search an index", usage,
                                     run};
