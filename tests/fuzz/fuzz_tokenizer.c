/* tests/fuzz/fuzz_tokenizer.c - libFuzzer harness for the tokenizer.
 *
 *   CC=clang CXX=clang++ cmake -B build-fuzz -DCS_FUZZ=ON -DCS_SANITIZE=ON
 *   cmake --build build-fuzz --target fuzz_tokenizer
 *   CS_FUZZ_MODEL=../shared/oracle/tokenizer build-fuzz/tests/fuzz_tokenizer -max_total_time=60
 *
 * Each input is encoded as text: valid UTF-8 must encode to [bos] ids [eos]
 * within the context length, invalid UTF-8 must be refused with CS_EFORMAT.
 * Inputs starting with '{' are also read as a vocab.json and as a
 * tokenizer.json (which must be accepted or refused, never crash or leak). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clipsearch.h"
#include "text/text.h"

static cs_tokenizer *tok;
static int32_t max_id;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *dir = getenv("CS_FUZZ_MODEL");
    if (!dir) dir = "../shared/oracle/tokenizer";
    cs_error err;
    if (cs_tokenizer_load(dir, 0, &tok, &err) != CS_OK) {
        fprintf(stderr, "fuzz_tokenizer: %s (set CS_FUZZ_MODEL to a model folder)\n", err.message);
        exit(1);
    }
    const cs_vocab *v = &tok->bpe.vocab;
    for (size_t i = 0; i < v->n_slots; i++)
        if (v->slots[i].off != UINT32_MAX && cs_vocab_slot_id(v, &v->slots[i]) > max_id)
            max_id = cs_vocab_slot_id(v, &v->slots[i]);
    for (size_t i = 0; i < tok->n_added; i++)
        if (tok->added[i].id > max_id) max_id = tok->added[i].id;
    return 0;
}

static void read_as_files(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    cs_vocab v = {0};
    cs_jscan j = {text, text, text + size, "fuzz", NULL, 0, 0};
    cs_error err;
    (void)cs_vocab_read(&j, &v, &err);
    cs_js_release(&j);
    cs_vocab_free(&v);
    cs_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return;
    (void)cs_tokenizer_json_parse(text, size, "fuzz", t, &err);
    cs_tokenizer_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int32_t ids[77 + 8];
    int n = -1;
    cs_error err;
    int ctx = cs_tokenizer_context_length(tok);
    if (ctx > 77) abort(); /* the buffer above assumes CLIP's context */
    cs_status st = cs_tokenizer_encode(tok, (const char *)data, size, ids, &n, &err);
    bool valid = cs_utf8_check((const char *)data, size) == size;
    if (valid != (st == CS_OK)) abort();
    if (!valid && st != CS_EFORMAT) abort();
    if (st == CS_OK) {
        if (n < 2 || n > ctx) abort();
        if (ids[0] != cs_tokenizer_bos(tok) || ids[n - 1] != cs_tokenizer_eos(tok)) abort();
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] > max_id) abort();
    }
    if (size && data[0] == '{') read_as_files(data, size);
    return 0;
}
