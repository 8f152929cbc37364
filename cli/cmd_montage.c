/* cli/cmd_montage.c - `clipsearch montage OUT.jpg`: a contact sheet of search
 * results, read as the "score<TAB>path" lines `clipsearch search --tsv`
 * prints. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/parse.h"

static int run_montage(int argc, char **argv);

const cs_cli_command cs_cmd_montage = {
    "montage", "draw search results as one contact-sheet JPEG",
    "usage: clipsearch montage OUT.jpg [--query IMAGE] [--label TEXT] [--tile "
    "N]\n"
    "                          [--tsv FILE] [-0]\n"
    "\n"
    "Draws the query and its results in a grid, the score and file name under\n"
    "each picture, and writes it to OUT.jpg. The results are read as lines\n"
    "\"SCORE<TAB>PATH\", as `clipsearch search --tsv` prints them, from FILE "
    "or\n"
    "from standard input:\n"
    "    clipsearch search \"a red car\" --tsv | clipsearch montage cars.jpg "
    "--label \"a red car\"\n"
    "\n"
    "options:\n"
    "  --query IMAGE  the query image, shown first (framed)\n"
    "  --label TEXT   the query's caption; without --query it is shown in the\n"
    "                 query's box\n"
    "  --tile N       the size of each picture in pixels (default 224)\n"
    "  --tsv FILE     read the results from FILE instead of standard input\n"
    "  -0, --null     records end with a NUL byte, paths unquoted (search --tsv -0)\n"
    "\n"
    "A PATH in double quotes is read with the C escapes search --tsv uses for\n"
    "names holding control characters (\\n, \\t, \\xHH, \\\\, \\\").\n",
    run_montage};

typedef struct results {
    char **paths;
    float *scores;
    int n, cap;
} results;

static void results_free(results *r) {
    for (int i = 0; i < r->n; i++) free(r->paths[i]);
    free(r->paths);
    free(r->scores);
}

/* One "SCORE<TAB>PATH" record; 0 on success, -1 malformed, -2 out of
 * memory. The path is quoted when it holds control characters (search
 * --tsv: cli_put_path), and taken as is in NUL-separated input. */
static int parse_line(char *line, int null_sep, results *r) {
    if (!null_sep) line[strcspn(line, "\r\n")] = '\0';
    if (!*line) return 0; /* blank lines are ignored */
    char *tab = strchr(line, '\t');
    if (!tab) return -1;
    *tab = '\0';
    double score;
    cs_error err;
    if (cs_parse_double(line, -1e30, 1e30, "score", &score, &err) != CS_OK || !tab[1]) return -1;
    if (!null_sep && cli_unquote_path(tab + 1) != 0) return -1;
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        char **p = realloc(r->paths, (size_t)cap * sizeof *p);
        if (p) r->paths = p;
        float *s = realloc(r->scores, (size_t)cap * sizeof *s);
        if (s) r->scores = s;
        if (!p || !s) return -2;
        r->cap = cap;
    }
    if (!(r->paths[r->n] = strdup(tab + 1))) return -2;
    r->scores[r->n++] = (float)score;
    return 0;
}

static int read_results(FILE *f, const char *name, int null_sep, results *r) {
    char *line = NULL;
    size_t cap = 0;
    int line_no = 0, rc = CLI_OK;
    while (getdelim(&line, &cap, null_sep ? '\0' : '\n', f) >= 0) {
        line_no++;
        int st = parse_line(line, null_sep, r);
        if (st == -1) {
            cli_error("%s:%d: expected SCORE<TAB>PATH (the path quoted as search --tsv quotes "
                      "it)",
                      name, line_no);
            rc = CLI_FAIL;
            break;
        }
        if (st == -2) {
            cli_error("%s: out of memory", name);
            rc = CLI_FAIL;
            break;
        }
    }
    free(line);
    return rc;
}

static int run_montage(int argc, char **argv) {
    static const struct option longs[] = {
        {"query", required_argument, NULL, 'q'}, {"label", required_argument, NULL, 'l'},
        {"tsv", required_argument, NULL, 's'},   {"tile", required_argument, NULL, 't'},
        {"null", no_argument, NULL, '0'},        {0, 0, 0, 0}};
    const char *out = NULL, *query = NULL, *label = NULL, *tsv = NULL;
    int tile = 0, null_sep = 0, c;
    while ((c = getopt_long(argc, argv, "0", longs, NULL)) != -1) {
        if (c == 'q')
            query = optarg;
        else if (c == 'l')
            label = optarg;
        else if (c == 's')
            tsv = optarg;
        else if (c == 't') {
            if (cli_int_arg("--tile", optarg, 16, 1024, &tile)) return CLI_USAGE;
        } else if (c == '0')
            null_sep = 1;
        else
            return cli_usage(&cs_cmd_montage);
    }
    if (optind < argc) out = argv[optind++];
    if (optind < argc) {
        cli_error("montage: unexpected argument '%s'", argv[optind]);
        return cli_usage(&cs_cmd_montage);
    }
    if (!out) return cli_usage(&cs_cmd_montage);

    FILE *f = tsv ? fopen(tsv, "r") : stdin;
    if (!f) {
        cli_error("%s: cannot open", tsv);
        return CLI_FAIL;
    }
    results r = {0};
    const char *source = tsv ? tsv : "standard input";
    int rc = read_results(f, source, null_sep, &r);
    if (tsv) fclose(f);
    if (rc == CLI_OK && r.n == 0) {
        cli_error("montage: no results in %s (expected SCORE<TAB>PATH lines, as `clipsearch "
                  "search ... --tsv` prints them); %s not written",
                  source, out);
        rc = CLI_FAIL;
    }
    if (rc == CLI_OK) {
        cs_montage_opts mo = {.tile = tile, .log = cli_log_stderr};
        cs_error err = {0};
        if (cs_montage_write(out, label, query, (const char *const *)r.paths, r.scores, r.n, &mo,
                             &err) != CS_OK)
            rc = cli_fail(&err);
    }
    results_free(&r);
    return rc;
}
