/* cli/cmd_embed.c - `clipsearch embed`: texts and images to CLIP embeddings,
 * one JSON object per input per line. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

extern const cs_cli_command cs_cmd_embed;

typedef struct input {
    int is_image;
    const char *value;
} input;

/* {"text": "...", "embedding": [...]} or {"image": "...", "error": "..."} */
static void print_result(const input *in, const float *e, int d, const char *error) {
    json_t *v = json_stringn(in->value, strlen(in->value));
    char *s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    printf("{\"%s\": %s", in->is_image ? "image" : "text", s ? s : "null");
    free(s);
    json_decref(v);
    if (error) {
        v = json_string(error);
        s = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        printf(", \"error\": %s}\n", s ? s : "\"?\"");
        free(s);
        json_decref(v);
        return;
    }
    printf(", \"embedding\": [");
    for (int j = 0; j < d; j++) printf(j ? ", %.9g" : "%.9g", (double)e[j]);
    printf("]}\n");
}

/* Embeds the inputs given on the command line: texts in one batch, images
 * in one batch, printed in the order given. Returns the exit status. */
static int embed_args(cs_model *m, const input *ins, int n, int flags) {
    cs_model_info info;
    cs_model_get_info(m, &info);
    int d = info.embed_dim, n_txt = 0, n_img = 0, failed = 0;
    const char **txt = calloc((size_t)n, sizeof *txt), **img = calloc((size_t)n, sizeof *img);
    float *et = calloc((size_t)n * d, sizeof *et), *ei = calloc((size_t)n * d, sizeof *ei);
    cs_status *sts = calloc((size_t)n, sizeof *sts);
    cs_error *errs = calloc((size_t)n, sizeof *errs), err = {0};
    int rc = CLI_OK;
    if (!txt || !img || !et || !ei || !sts || !errs) {
        cli_error("out of memory");
        rc = CLI_FAIL;
        goto done;
    }
    for (int i = 0; i < n; i++) {
        if (ins[i].is_image)
            img[n_img++] = ins[i].value;
        else
            txt[n_txt++] = ins[i].value;
    }
    if (n_txt && cs_embed_texts(m, txt, n_txt, flags, et, &err) != CS_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    if (n_img && cs_embed_image_files(m, img, n_img, flags, ei, sts, errs, &err) != CS_OK) {
        rc = cli_fail(&err);
        goto done;
    }
    for (int i = 0, t = 0, k = 0; i < n; i++) {
        if (!ins[i].is_image) {
            print_result(&ins[i], et + (size_t)t++ * d, d, NULL);
        } else {
            const char *e = sts[k] ? errs[k].message : NULL;
            failed += sts[k] != CS_OK;
            print_result(&ins[i], ei + (size_t)k++ * d, d, e);
        }
    }
    if (failed) rc = CLI_PARTIAL;
done:
    free(txt);
    free(img);
    free(et);
    free(ei);
    free(sts);
    free(errs);
    return rc;
}

/* JSON Lines on stdin: {"text": ...} or {"image": path} per line; one
 * answer line per request, in order, flushed as it comes. */
static int embed_stdin(cs_model *m, int flags) {
    cs_model_info info;
    cs_model_get_info(m, &info);
    int d = info.embed_dim, failed = 0;
    float *e = malloc((size_t)d * sizeof *e);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    while (e && (len = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0) continue;
        json_error_t jerr;
        json_t *req = json_loadb(line, (size_t)len, 0, &jerr);
        json_t *t = json_object_get(req, "text"), *im = json_object_get(req, "image");
        cs_error err = {0};
        if (!req || (!json_is_string(t) == !json_is_string(im))) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "line %ld: expected {\"text\": STRING} or {\"image\": PATH}%s%s", lineno,
                     req ? "" : ": ", req ? "" : jerr.text);
            json_t *o = json_pack("{s:s}", "error", msg);
            char *s = json_dumps(o, JSON_COMPACT);
            printf("%s\n", s ? s : "{\"error\": \"bad request\"}");
            free(s);
            json_decref(o);
            failed++;
        } else {
            input in = {json_is_string(im), json_string_value(im ? im : t)};
            cs_status st = in.is_image ? cs_embed_image_file(m, in.value, flags, e, &err)
                                       : cs_embed_texts(m, &in.value, 1, flags, e, &err);
            failed += st != CS_OK;
            print_result(&in, e, d, st ? err.message : NULL);
        }
        json_decref(req);
        fflush(stdout);
    }
    free(line);
    free(e);
    return failed ? CLI_PARTIAL : CLI_OK;
}

static int run(int argc, char **argv) {
    const char *model = NULL;
    int flags = 0, threads = 0, n = 0;
    input *ins = calloc((size_t)argc, sizeof *ins);
    if (!ins) return CLI_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(a, "--image") && i + 1 < argc)
            ins[n++] = (input){1, argv[++i]};
        else if (!strcmp(a, "--text") && i + 1 < argc)
            ins[n++] = (input){0, argv[++i]};
        else if (!strcmp(a, "--raw"))
            flags |= CS_EMBED_RAW;
        else if (!strcmp(a, "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            free(ins);
            return cli_usage(&cs_cmd_embed);
        }
    }
    model = cli_resolve_model(model);
    if (!model) {
        free(ins);
        return CLI_FAIL;
    }
    cs_model_opts opts = {.n_threads = threads, .log = cli_log_stderr};
    cs_model *m = NULL;
    cs_error err = {0};
    if (cs_model_open(model, &opts, &m, &err) != CS_OK) {
        free(ins);
        return cli_fail(&err);
    }
    int rc = n ? embed_args(m, ins, n, flags) : embed_stdin(m, flags);
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
    "line per request, in order.\n"
    "\n"
    "  --model DIR    a Hugging Face CLIP folder (default: $CLIPSEARCH_MODEL)\n"
    "  --image FILE   embed an image file (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIF)\n"
    "  --text STR     embed a text\n"
    "  --raw          the projected features as they are (default: L2-normalised)\n"
    "  --threads N    threads to use (default: one per core)\n",
    run};
