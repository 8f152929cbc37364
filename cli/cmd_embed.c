/* cli/cmd_embed.c - `clipsearch embed`: texts and images to CLIP embeddings,
 * one JSON object per input per line. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>
#include <utf8proc.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

extern const cs_cli_command cs_cmd_embed;

typedef enum { IN_TEXT, IN_IMAGE, IN_BAD } in_kind;

typedef struct input {
    in_kind kind;
    const char *value; /* the text, the path, or (IN_BAD) why the request was refused */
} input;

/* s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void print_json_string(const char *s) {
    size_t n = strlen(s), o = 0;
    char *clean = malloc(3 * n + 1);
    if (!clean) return;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0) {
            memcpy(clean + o, "\xef\xbf\xbd", 3), o += 3, i++;
        } else {
            memcpy(clean + o, s + i, (size_t)k), o += (size_t)k, i += (size_t)k;
        }
    }
    json_t *v = json_stringn(clean, o);
    free(clean);
    char *js = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    fputs(js ? js : "null", stdout);
    free(js);
    json_decref(v);
}

/* {"text": "...", "embedding": [...]}, {"image": "...", "error": "..."} or
 * {"error": "..."} for a request that could not be read. */
static void print_result(const input *in, const float *e, int d, const char *error) {
    if (in->kind == IN_BAD) {
        fputs("{\"error\": ", stdout);
        print_json_string(in->value);
        fputs("}\n", stdout);
        return;
    }
    printf("{\"%s\": ", in->kind == IN_IMAGE ? "image" : "text");
    print_json_string(in->value);
    if (error) {
        fputs(", \"error\": ", stdout);
        print_json_string(error);
        fputs("}\n", stdout);
        return;
    }
    fputs(", \"embedding\": [", stdout);
    for (int j = 0; j < d; j++) printf(j ? ", %.9g" : "%.9g", (double)e[j]);
    fputs("]}\n", stdout);
}

/* Embeds a batch (texts in one call, image files in one call, decoded on
 * both cores) and prints one line per input, in order. Returns how many
 * failed, or -1 if the whole batch could not run. */
static int embed_batch(cs_model *m, const input *ins, int n, int flags) {
    cs_model_info info;
    cs_model_get_info(m, &info);
    int d = info.embed_dim, n_txt = 0, n_img = 0, failed = 0;
    const char **txt = calloc((size_t)n, sizeof *txt), **img = calloc((size_t)n, sizeof *img);
    float *et = calloc((size_t)n * d, sizeof *et), *ei = calloc((size_t)n * d, sizeof *ei);
    cs_status *ts = calloc((size_t)n, sizeof *ts), *is = calloc((size_t)n, sizeof *is);
    cs_error *te = calloc((size_t)n, sizeof *te), *ie = calloc((size_t)n, sizeof *ie), err = {0};
    if (!txt || !img || !et || !ei || !ts || !is || !te || !ie) {
        cli_error("out of memory");
        failed = -1;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (ins[i].kind == IN_IMAGE)
            img[n_img++] = ins[i].value;
        else if (ins[i].kind == IN_TEXT)
            txt[n_txt++] = ins[i].value;
    }
    /* one call for all texts; if it fails (e.g. invalid UTF-8 in one), each
     * text alone, so the error lands on its own line */
    if (n_txt && cs_embed_texts(m, txt, n_txt, flags, et, &err) != CS_OK)
        for (int t = 0; t < n_txt; t++)
            ts[t] = cs_embed_texts(m, &txt[t], 1, flags, et + (size_t)t * d, &te[t]);
    if (n_img && cs_embed_image_files(m, img, n_img, flags, ei, is, ie, &err) != CS_OK) {
        cli_fail(&err);
        failed = -1;
        goto done;
    }
    for (int i = 0, t = 0, k = 0; i < n; i++) {
        if (ins[i].kind == IN_TEXT) {
            failed += ts[t] != CS_OK;
            print_result(&ins[i], et + (size_t)t * d, d, ts[t] ? te[t].message : NULL);
            t++;
        } else if (ins[i].kind == IN_IMAGE) {
            failed += is[k] != CS_OK;
            print_result(&ins[i], ei + (size_t)k * d, d, is[k] ? ie[k].message : NULL);
            k++;
        } else {
            failed++;
            print_result(&ins[i], NULL, d, NULL);
        }
    }
    fflush(stdout);
done:
    free(txt), free(img), free(et), free(ei), free(ts), free(is), free(te), free(ie);
    return failed;
}

/* ---- JSON Lines on stdin ------------------------------------------------------ */

/* A line reader over fd 0 that can tell whether another line is ready
 * without blocking: requests that arrive together are embedded together,
 * a lone interactive request is answered at once. */
typedef struct reader {
    char *buf;
    size_t len, cap, pos;
    int eof;
} reader;

static char *next_line(reader *r, int block) {
    for (;;) {
        char *nl = r->pos < r->len ? memchr(r->buf + r->pos, '\n', r->len - r->pos) : NULL;
        if (nl || (r->eof && r->pos < r->len)) {
            char *line = r->buf + r->pos;
            size_t n = nl ? (size_t)(nl - line) : r->len - r->pos;
            r->pos += n + (nl != NULL);
            return strndup(line, n);
        }
        if (r->eof) return NULL;
        if (!block) {
            struct pollfd p = {.fd = 0, .events = POLLIN};
            if (poll(&p, 1, 0) <= 0) return NULL;
        }
        if (r->pos) memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
        if (r->cap - r->len < 65536) {
            char *b = realloc(r->buf, r->cap * 2 + 65536);
            if (!b) return NULL;
            r->buf = b;
            r->cap = r->cap * 2 + 65536;
        }
        ssize_t got = read(0, r->buf + r->len, r->cap - r->len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
            r->eof = 1;
        else
            r->len += (size_t)got;
    }
}

/* One request line -> an input; the strings are new allocations. */
static input parse_request(char *line, long lineno) {
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = '\0';
    json_error_t jerr;
    json_t *req = json_loadb(line, len, 0, &jerr);
    json_t *t = json_object_get(req, "text"), *im = json_object_get(req, "image");
    input in;
    if (!req || (!json_is_string(t) == !json_is_string(im))) {
        char msg[300];
        snprintf(msg, sizeof msg, "line %ld: expected {\"text\": STRING} or {\"image\": PATH}%s%s",
                 lineno, req ? "" : ": ", req ? "" : jerr.text);
        in = (input){IN_BAD, strdup(msg)};
    } else {
        in = (input){json_is_string(im) ? IN_IMAGE : IN_TEXT,
                     strdup(json_string_value(im ? im : t))};
    }
    json_decref(req);
    return in;
}

#define STDIN_BATCH 16

static int embed_stdin(cs_model *m, int flags) {
    reader r = {0};
    input batch[STDIN_BATCH];
    long lineno = 0;
    int failed = 0, n = 0;
    char *line;
    while ((line = next_line(&r, n == 0)) || n > 0) {
        if (line) {
            lineno++;
            if (line[0] && strspn(line, " \t\r") != strlen(line))
                batch[n++] = parse_request(line, lineno);
            free(line);
            if (n < STDIN_BATCH) continue; /* more may be ready */
        }
        int f = embed_batch(m, batch, n, flags);
        for (int i = 0; i < n; i++) free((char *)batch[i].value);
        n = 0;
        if (f < 0) {
            free(r.buf);
            return CLI_FAIL;
        }
        failed += f;
    }
    free(r.buf);
    return failed ? CLI_PARTIAL : CLI_OK;
}

static int run(int argc, char **argv) {
    const char *model = NULL;
    int flags = 0, threads = 0, n = 0;
    input *ins = calloc((size_t)argc, sizeof *ins);
    if (!ins) return CLI_FAIL;
    static const struct option longs[] = {{"model", required_argument, NULL, 'm'},
                                          {"image", required_argument, NULL, 'i'},
                                          {"text", required_argument, NULL, 't'},
                                          {"raw", no_argument, NULL, 'r'},
                                          {"threads", required_argument, NULL, 'T'},
                                          {"precision", required_argument, NULL, 'p'},
                                          {0, 0, 0, 0}};
    int c, rc = CLI_OK;
    while (rc == CLI_OK && (c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'm')
            model = optarg;
        else if (c == 'i' || c == 't') /* in the order given */
            ins[n++] = (input){c == 'i' ? IN_IMAGE : IN_TEXT, optarg};
        else if (c == 'r')
            flags |= CS_EMBED_RAW;
        else if (c == 'T')
            rc = cli_int_arg("--threads", optarg, 0, 4096, &threads) ? CLI_USAGE : CLI_OK;
        else if (c == 'p')
            rc = cli_precision_opt(optarg) != CLI_OK ? CLI_USAGE : CLI_OK;
        else
            rc = cli_usage(&cs_cmd_embed);
    }
    if (rc == CLI_OK && optind != argc) rc = cli_usage(&cs_cmd_embed);
    if (rc != CLI_OK) {
        free(ins);
        return rc;
    }
    model = cli_resolve_model(model);
    if (!model) {
        free(ins);
        return CLI_FAIL;
    }
    cs_model_opts opts = {.n_threads = threads, .log = cli_log_stderr};
    cli_model_env(&opts);
    cs_model *m = NULL;
    cs_error err = {0};
    if (cs_model_open(model, &opts, &m, &err) != CS_OK) {
        free(ins);
        return cli_fail(&err);
    }
    if (n) {
        int f = embed_batch(m, ins, n, flags);
        rc = f < 0 ? CLI_FAIL : f > 0 ? CLI_PARTIAL : CLI_OK;
    } else {
        rc = embed_stdin(m, flags);
    }
    cs_model_close(m);
    free(ins);
    return rc;
}

const cs_cli_command cs_cmd_embed = {
    "embed", "print CLIP embeddings of images and texts as JSON Lines",
    "usage: clipsearch embed --model DIR [--image FILE]... [--text STR]... [--raw]\n"
    "\n"
    "Prints one JSON object per input per line, in the order given:\n"
    "  {\"text\": \"a cat\", \"embedding\": [0.0123, ...]}\n"
    "  {\"image\": \"a.jpg\", \"embedding\": [...]}\n"
    "An image that cannot be read gets {\"image\": ..., \"error\": \"...\"} and the\n"
    "others go on (exit status 3). With no --image/--text, reads JSON Lines\n"
    "requests from stdin, {\"text\": ...} or {\"image\": PATH}, and answers one\n"
    "line per request, in order (requests that arrive together are embedded\n"
    "together).\n"
    "\n"
    "  --model DIR    a Hugging Face CLIP folder (default: $CLIPSEARCH_MODEL)\n"
    "  --image FILE   embed an image file (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIF)\n"
    "  --text STR     embed a text\n"
    "  --raw          the projected features as they are (default: L2-normalised)\n"
    "  --threads N    threads to use (default: one per core)\n" CLI_PRECISION_HELP,
    run};
