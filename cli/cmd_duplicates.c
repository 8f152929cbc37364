/* cli/cmd_duplicates.c - `clipsearch duplicates`: groups of near-identical
 * images from the stored embeddings (no model), printed as text, JSON lines
 * or TSV, and optionally the non-keepers moved aside (dups_move.c). */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_db.h"
#include "cli_results.h"
#include "dups_move.h"

static int run(int argc, char **argv);

#define STR_(x) #x
#define STR(x)  STR_(x)

// clang-format off
const cs_cli_command cs_cmd_duplicates = {
    "duplicates", "find groups of duplicate and near-duplicate images",
    "usage: clipsearch duplicates [OPTIONS]\n"
    "\n"
    "Finds images whose stored embeddings are at cosine similarity >= T to each\n"
    "other and prints them in groups, each with a suggested keeper. It reads only\n"
    "the catalogue (no model, no image file), so it works on imported vectors too.\n"
    "\n"
    "A group is a connected component: images linked by pairs >= T. So a chain\n"
    "(A like B, B like C, but A less like C) is one group; the pairwise scores\n"
    "under each group show it, and a group where some pair is below T is marked\n"
    "\"chain\". --strict makes groups where every pair passes instead.\n"
    "\n"
    "The keeper is the image with the most pixels, then the largest file, then\n"
    "the oldest (then the lowest id). A member's score is its best cosine with\n"
    "another member of its group.\n"
    "\n"
    "  --threshold T   cosine similarity that counts as a duplicate (default\n"
    "                  " STR(CS_DUPS_DEFAULT_THRESHOLD) ": the same picture re-saved, recompressed,\n"
    "                  resized or slightly cropped; lower also finds bursts)\n"
    "  -k, --top K     each image links to at most its K nearest (default 10)\n"
    "  --strict        every pair of a group scores >= T (complete linkage)\n"
    "  --json          one JSON object per group and line:\n"
    "                  {\"keeper\": PATH, \"members\": [{\"path\", \"score\", \"bytes\",\n"
    "                  \"width\", \"height\", \"mtime\", \"id\"}, ...], \"scores\": [[...]]}\n"
    "                  (keeper first; mtime in seconds, null if unknown; scores:\n"
    "                  the pairwise matrix, for groups of up to 32)\n"
    "  --tsv           one line per image: group, keep|dup, score, bytes, width,\n"
    "                  height, mtime (s), path (quoted like search --tsv when it\n"
    "                  holds control characters)\n"
    "  --move-to DIR   move every image but the keepers into DIR, keeping its path\n"
    "                  relative to the indexed folder (--root), and drop it from the\n"
    "                  catalogue; prints each move. Nothing is deleted or\n"
    "                  overwritten; a move that was interrupted (even by kill -9) is\n"
    "                  completed by the next run with the same DIR.\n"
    "  --dry-run       with --move-to: print the moves, change nothing\n"
    "  --root DIR      the folder paths are kept relative to (default: the folder\n"
    "                  holding every image of the catalogue, then the one the\n"
    "                  first run into DIR used)\n"
    "  --db PATH       the database (default: $CLIPSEARCH_DB, else\n"
    "                  $XDG_DATA_HOME/clipsearch/catalog.db)\n"
    "\n"
    "Exit status: 0 done, 1 error, 3 some files could not be moved (listed).\n"
    "See docs/duplicates.md.\n",
    run};
// clang-format on

enum { OPT_STRICT = CLI_OPT_COMMAND, OPT_MOVE_TO, OPT_DRY_RUN, OPT_ROOT };
enum {
    PAIRS_MAX = 32,    /* JSON: groups up to this size carry their pairwise scores */
    TEXT_PAIRS_MAX = 8 /* text: the same, kept to a readable line */
};

static void format_date(int64_t mtime_ns, char *buf, size_t cap) {
    if (mtime_ns <= 0) {
        snprintf(buf, cap, "%-16s", "-");
        return;
    }
    time_t t = (time_t)(mtime_ns / 1000000000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M", &tm);
}

/* 1 when some pair of group g scores below t (only looked at up to PAIRS_MAX). */
static int is_chain(const cs_dups *d, int64_t g, float t) {
    int m = cs_dups_size(d, g);
    for (int i = 0; i < m && m <= PAIRS_MAX; i++)
        for (int j = i + 1; j < m; j++)
            if (cs_dups_score(d, g, i, j) < t) return 1;
    return 0;
}

static void print_text_group(const cs_dups *d, int64_t g, float t) {
    int m = cs_dups_size(d, g);
    float best = -1;
    for (int i = 0; i < m; i++)
        if (cs_dups_member(d, g, i)->score > best) best = cs_dups_member(d, g, i)->score;
    printf("group %lld: %d images, best %.4f%s\n", (long long)g + 1, m, best,
           is_chain(d, g, t) ? " (chain: not every pair passes)" : "");
    for (int i = 0; i < m; i++) {
        const cs_dup_member *x = cs_dups_member(d, g, i);
        char px[32], bytes[32], date[32];
        if (x->width > 0)
            snprintf(px, sizeof px, "%dx%d", x->width, x->height);
        else
            snprintf(px, sizeof px, "-");
        cli_format_bytes(x->size, bytes, sizeof bytes);
        format_date(x->mtime_ns, date, sizeof date);
        printf("  %2d %s %.4f %11s %10s  %s  ", i + 1, i == 0 ? "keep" : "    ", x->score, px,
               bytes, date);
        cli_put_path(x->path, stdout);
        putchar('\n');
    }
    if (m > 2 && m <= TEXT_PAIRS_MAX) {
        printf("  pairs:");
        for (int i = 0; i < m; i++)
            for (int j = i + 1; j < m; j++)
                printf(" %d-%d %.4f", i + 1, j + 1, cs_dups_score(d, g, i, j));
        printf("\n");
    }
    printf("\n");
}

static json_t *json_mtime(int64_t mtime_ns) {
    return mtime_ns > 0 ? json_integer(mtime_ns / 1000000000) : json_null();
}

static double round4(float x) {
    return round((double)x * 1e4) / 1e4;
}

/* One group as one line of JSON. */
static int print_json_group(const cs_dups *d, int64_t g) {
    int m = cs_dups_size(d, g);
    json_t *members = json_array();
    for (int i = 0; members && i < m; i++) {
        const cs_dup_member *x = cs_dups_member(d, g, i);
        json_array_append_new(members,
                              json_pack("{s:o, s:f, s:I, s:i, s:i, s:o, s:I}", "path",
                                        cli_json_path(x->path), "score", round4(x->score), "bytes",
                                        (json_int_t)x->size, "width", x->width, "height", x->height,
                                        "mtime", json_mtime(x->mtime_ns), "id", (json_int_t)x->id));
    }
    json_t *o = json_pack("{s:o, s:o}", "keeper", cli_json_path(cs_dups_member(d, g, 0)->path),
                          "members", members);
    if (o && m <= PAIRS_MAX) {
        json_t *rows = json_array();
        for (int i = 0; i < m; i++) {
            json_t *row = json_array();
            for (int j = 0; j < m; j++)
                json_array_append_new(row,
                                      json_real(i == j ? 1.0 : round4(cs_dups_score(d, g, i, j))));
            json_array_append_new(rows, row);
        }
        json_object_set_new(o, "scores", rows);
    }
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    if (s) puts(s);
    free(s);
    json_decref(o);
    return s != NULL;
}

static void print_tsv_group(const cs_dups *d, int64_t g) {
    for (int i = 0; i < cs_dups_size(d, g); i++) {
        const cs_dup_member *x = cs_dups_member(d, g, i);
        printf("%lld\t%s\t%.6f\t%lld\t%d\t%d\t", (long long)g + 1, i ? "dup" : "keep", x->score,
               (long long)x->size, x->width, x->height);
        if (x->mtime_ns > 0) printf("%lld", (long long)(x->mtime_ns / 1000000000));
        putchar('\t');
        cli_put_path(x->path, stdout);
        putchar('\n');
    }
}

static int print_groups(const cs_dups *d, cli_format fmt, float t) {
    int64_t n = cs_dups_count(d), images = 0;
    for (int64_t g = 0; g < n; g++) {
        images += cs_dups_size(d, g);
        if (fmt == CLI_FORMAT_JSON) {
            if (!print_json_group(d, g)) {
                cli_error("out of memory writing JSON");
                return CLI_FAIL;
            }
        } else if (fmt == CLI_FORMAT_TSV) {
            print_tsv_group(d, g);
        } else {
            print_text_group(d, g, t);
        }
    }
    if (fmt == CLI_FORMAT_TEXT)
        printf("%lld groups, %lld images, %lld could go (threshold %.4g)\n", (long long)n,
               (long long)images, (long long)(images - n), (double)t);
    if (fflush(stdout) != 0) {
        cli_error("writing the groups failed");
        return CLI_FAIL;
    }
    return CLI_OK;
}

static int run(int argc, char **argv) {
    static const struct option longs[] = {CLI_RESULT_LONG_OPTIONS,
                                          {"strict", no_argument, NULL, OPT_STRICT},
                                          {"move-to", required_argument, NULL, OPT_MOVE_TO},
                                          {"dry-run", no_argument, NULL, OPT_DRY_RUN},
                                          {"root", required_argument, NULL, OPT_ROOT},
                                          {0, 0, 0, 0}};
    cs_dups_opts o = {.threshold = CS_DUPS_DEFAULT_THRESHOLD};
    cli_format fmt = CLI_FORMAT_TEXT;
    const char *db_opt = NULL, *move_to = NULL, *root = NULL;
    int dry_run = 0, c;
    double t;
    while ((c = getopt_long(argc, argv, "k:", longs, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (cli_int_arg("-k", optarg, 1, 255, &o.k)) return CLI_USAGE;
            break;
        case CLI_OPT_THRESHOLD:
            /* (0, 1]: a tiny lower bound stands for the open end */
            if (cli_double_arg("--threshold", optarg, 1e-30, 1, &t)) return CLI_USAGE;
            o.threshold = (float)t;
            break;
        case CLI_OPT_JSON:
            fmt = CLI_FORMAT_JSON;
            break;
        case CLI_OPT_TSV:
            fmt = CLI_FORMAT_TSV;
            break;
        case CLI_OPT_DB:
            db_opt = optarg;
            break;
        case OPT_STRICT:
            o.strict = 1;
            break;
        case OPT_MOVE_TO:
            move_to = optarg;
            break;
        case OPT_DRY_RUN:
            dry_run = 1;
            break;
        case OPT_ROOT:
            root = optarg;
            break;
        default:
            return cli_usage(&cs_cmd_duplicates);
        }
    }
    if (optind != argc) {
        cli_error("duplicates: unexpected argument '%s'", argv[optind]);
        return cli_usage(&cs_cmd_duplicates);
    }
    if ((dry_run || root) && !move_to) {
        cli_error("duplicates: --dry-run and --root go with --move-to DIR");
        return CLI_USAGE;
    }
    /* moving writes the catalogue; listing only reads it */
    cs_db_opts dbo = {.flags = move_to && !dry_run ? 0 : CS_DB_READONLY};
    cs_db *db = NULL;
    int rc = cli_db_open(db_opt, &dbo, &db);
    if (rc) return rc;
    /* a run killed while moving left its journal: finish that first, so
     * the groups are computed from what is where */
    if (move_to && !dry_run) rc = cli_dups_recover(db, move_to);
    cs_pool *pool = cs_pool_create(0) /* one thread per core */;
    o.pool = pool;
    cs_dups *d = NULL;
    cs_error err;
    if (!rc && cs_db_duplicates(db, &o, &d, &err) != CS_OK) rc = cli_fail(&err);
    if (!rc)
        rc = move_to ? cli_dups_move(db, d, move_to, root, dry_run)
                     : print_groups(d, fmt, o.threshold);
    cs_dups_free(d);
    cs_pool_free(pool);
    cs_db_close(db);
    return rc;
}
