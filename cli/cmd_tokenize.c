/* cli/cmd_tokenize.c - `clipsearch tokenize`: text -> CLIP token ids. */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int run(int argc, char **argv);

const cs_cli_command cs_cmd_tokenize = {
    "tokenize", "print the CLIP token ids of texts",
    "usage: clipsearch tokenize [--model DIR] [--context N] [TEXT...]\n"
    "\n"
    "Prints the token ids of each TEXT (start and end tokens included,\n"
    "truncated to the context length), space-separated, one line per TEXT.\n"
    "Without TEXT, reads JSON Lines from stdin - one JSON string per line -\n"
    "and writes one JSON array of ids per line, so any text (newlines, NUL)\n"
    "can be given.\n"
    "\n"
    "  --model DIR   the model folder (tokenizer.json, or vocab.json and\n"
    "                merges.txt); default $CLIPSEARCH_MODEL\n"
    "  --context N   the context length (default: the model's, else 77)\n",
    run};

static int encode(cs_tokenizer *tok, const char *text, size_t len, int32_t *ids, int *n,
                  const char *what) {
    cs_error err;
    if (cs_tokenizer_encode(tok, text, len, ids, n, &err) != CS_OK) {
        cli_error("%s: %s", what, err.message);
        return CLI_FAIL;
    }
    return CLI_OK;
}

static int from_args(cs_tokenizer *tok, int32_t *ids, char **texts, int n_texts) {
    for (int t = 0; t < n_texts; t++) {
        int n;
        char what[32];
        snprintf(what, sizeof what, "text %d", t + 1);
        if (encode(tok, texts[t], strlen(texts[t]), ids, &n, what)) return CLI_FAIL;
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        putchar('\n');
    }
    return CLI_OK;
}

static int from_jsonl(cs_tokenizer *tok, int32_t *ids) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = CLI_OK;
    for (size_t line_no = 1; rc == CLI_OK && (got = getline(&line, &cap, stdin)) >= 0; line_no++) {
        char what[48];
        snprintf(what, sizeof what, "stdin line %zu", line_no);
        json_error_t je;
        json_t *v = json_loadb(line, (size_t)got, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!json_is_string(v)) {
            cli_error("%s: %s", what, v ? "not a JSON string" : je.text);
            rc = CLI_FAIL;
        } else {
            int n;
            rc = encode(tok, json_string_value(v), json_string_length(v), ids, &n, what);
            for (int i = 0; rc == CLI_OK && i < n; i++) printf(i ? ",%d" : "[%d", (int)ids[i]);
            if (rc == CLI_OK) puts("]");
        }
        json_decref(v);
    }
    free(line);
    return rc;
}

static int run(int argc, char **argv) {
    static const struct option longs[] = {{"model", required_argument, NULL, 'm'},
                                          {"context", required_argument, NULL, 'c'},
                                          {0, 0, 0, 0}};
    const char *model = NULL;
    int context = 0, c;
    /* "+": the texts start at the first word that is not an option, so a
     * text may begin with "-" after "--" or after another text */
    while ((c = getopt_long(argc, argv, "+", longs, NULL)) != -1) {
        if (c == 'm')
            model = optarg;
        else if (c == 'c') {
            if (cli_int_arg("--context", optarg, 2, 1 << 20, &context)) return CLI_USAGE;
        } else
            return cli_usage(&cs_cmd_tokenize);
    }
    int a = optind;
    model = cli_resolve_model(model); /* prints why when it fails */
    if (!model) return CLI_FAIL;
    cs_error err;
    cs_tokenizer *tok;
    if (cs_tokenizer_load(model, context, &tok, &err) != CS_OK) return cli_fail(&err);
    int32_t *ids = malloc((size_t)cs_tokenizer_context_length(tok) * sizeof *ids);
    int rc = CLI_FAIL;
    if (!ids)
        cli_error("out of memory");
    else if (a < argc)
        rc = from_args(tok, ids, argv + a, argc - a);
    else
        rc = from_jsonl(tok, ids);
    if (fflush(stdout) != 0 && rc == CLI_OK) {
        cli_error("writing the output failed");
        rc = CLI_FAIL;
    }
    free(ids);
    cs_tokenizer_free(tok);
    return rc;
}
