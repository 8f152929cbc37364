/* cli/cli_results.c - see cli_results.h. */
#include "cli_results.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MAX_K 10000000 /* results of one search; more is a typo */

static char *join(const char *const *words, int n) {
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(words[i]) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(s, " ");
        strcat(s, words[i]);
    }
    return s;
}

/* JSON strings must be UTF-8; file names need not be. Bytes that are not
 * UTF-8 become U+FFFD (the path is then for reading, not for opening). */
json_t *cli_json_path(const char *path) {
    json_t *j = json_string(path);
    if (j) return j;
    size_t n = strlen(path);
    char *fixed = malloc(3 * n + 1);
    if (!fixed) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t len =
            utf8proc_iterate((const utf8proc_uint8_t *)path + i, (utf8proc_ssize_t)(n - i), &cp);
        if (len > 0) {
            memcpy(fixed + o, path + i, (size_t)len);
            o += (size_t)len;
            i += (size_t)len;
        } else {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    fixed[o] = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}

static int print_json(const char *const *words, int n_words, const cs_result *res, int n) {
    char *query = join(words, n_words);
    json_t *results = json_array();
    json_t *root = json_object();
    int ok = query && results && root;
    for (int i = 0; ok && i < n; i++)
        ok = json_array_append_new(
                 results, json_pack("{s:o, s:f, s:I}", "path", cli_json_path(res[i].path), "score",
                                    (double)res[i].score, "id", (json_int_t)res[i].id)) == 0;
    ok = ok && json_object_set_new(root, "query", cli_json_path(query)) == 0 &&
         json_object_set(root, "results", results) == 0;
    char *s = ok ? json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(7)) : NULL;
    if (s) puts(s);
    free(s);
    free(query);
    json_decref(results);
    json_decref(root);
    return s ? CLI_OK : CLI_FAIL;
}

int cli_print_results(const cli_result_opts *o, const char *const *words, int n_words,
                      const cs_result *res, int n) {
    if (o->fmt == CLI_FORMAT_JSON) {
        if (print_json(words, n_words, res, n) != CLI_OK) {
            cli_error("could not write the results as JSON");
            return CLI_FAIL;
        }
    } else {
        /* -0: records end with NUL and names go out as they are (xargs -0);
         * else a name with a control character is quoted (cli_put_path) */
        for (int i = 0; i < n; i++) {
            if (o->fmt == CLI_FORMAT_TSV)
                printf("%.6f\t", res[i].score);
            else if (o->fmt == CLI_FORMAT_TEXT)
                printf("%7.4f  ", res[i].score);
            if (o->null_sep)
                fputs(res[i].path, stdout);
            else
                cli_put_path(res[i].path, stdout);
            putchar(o->null_sep ? '\0' : '\n');
        }
    }
    if (fflush(stdout) != 0) {
        cli_error("writing the results failed");
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cli_write_montage(const char *out_path, const char *const *words, int n_words,
                      const char *query_image, const cs_result *res, int n) {
    char *label = join(words, n_words);
    const char **paths = malloc(((size_t)n + 1) * sizeof *paths);
    float *scores = malloc(((size_t)n + 1) * sizeof *scores);
    int rc = CLI_OK;
    if (!label || !paths || !scores) {
        cli_error("out of memory");
        rc = CLI_FAIL;
    } else {
        for (int i = 0; i < n; i++) {
            paths[i] = res[i].path;
            scores[i] = res[i].score;
        }
        cs_error err;
        cs_montage_opts mo = {.log = cli_log_stderr};
        if (cs_montage_write(out_path, label, query_image, paths, scores, n, &mo, &err) != CS_OK)
            rc = cli_fail(&err);
    }
    free(label);
    free(paths);
    free(scores);
    return rc;
}

int cli_result_opts_check(cli_result_opts *o) {
    if (!o->null_sep) return CLI_OK;
    if (o->fmt == CLI_FORMAT_JSON) {
        cli_error("-0 goes with --paths or --tsv, not --json");
        return CLI_USAGE;
    }
    if (o->fmt == CLI_FORMAT_TEXT) o->fmt = CLI_FORMAT_PATHS;
    return CLI_OK;
}

cli_result_opts cli_result_opts_default(void) {
    cli_result_opts o = {.search = {.k = 10}, .fmt = CLI_FORMAT_TEXT};
    return o;
}

int cli_result_opt(int c, const char *arg, cli_result_opts *o) {
    switch (c) {
    case 'k':
        return cli_int_arg("-k", arg, 1, MAX_K, &o->search.k) ? -1 : 1;
    case CLI_OPT_THRESHOLD: {
        double t;
        if (cli_double_arg("--threshold", arg, -1, 1, &t)) return -1;
        o->search.use_threshold = 1;
        o->search.threshold = (float)t;
        return 1;
    }
    case '0':
        o->null_sep = 1;
        return 1;
    case CLI_OPT_JSON:
        o->fmt = CLI_FORMAT_JSON;
        return 1;
    case CLI_OPT_TSV:
        o->fmt = CLI_FORMAT_TSV;
        return 1;
    case CLI_OPT_PATHS:
        o->fmt = CLI_FORMAT_PATHS;
        return 1;
    case CLI_OPT_DB:
        o->db = arg;
        return 1;
    case CLI_OPT_MONTAGE:
        o->montage = arg;
        return 1;
    case CLI_OPT_EXACT:
        o->search.exact = 1;
        return 1;
    case CLI_OPT_NPROBE:
        return cli_int_arg("--nprobe", arg, 1, 1 << 22, &o->search.nprobe) ? -1 : 1;
    default:
        return 0;
    }
}
