/*
 * clipsearch/tokenizer.h - the CLIP tokenizer, identical to Hugging Face's
 * CLIPTokenizerFast (NFC, whitespace collapse, lowercase, CLIP split regex,
 * byte-level BPE with "</w>", [<|startoftext|>] + ids + [<|endoftext|>],
 * truncated to the context length).
 */
#ifndef CLIPSEARCH_TOKENIZER_H
#define CLIPSEARCH_TOKENIZER_H

#include "clipsearch/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_tokenizer cs_tokenizer;

/* Loads from a Hugging Face model folder: tokenizer.json when present, else
 * vocab.json + merges.txt. context_length <= 0 takes the folder's value
 * (text_config.max_position_embeddings of config.json, else 77).
 *
 * tokenizer.json must declare CLIP's pipeline (normalizer, Split + ByteLevel
 * pre-tokenizer, BPE, RobertaProcessing); another one is refused with
 * CS_EUNSUPPORTED rather than tokenized differently. Without tokenizer.json,
 * vocab.json + merges.txt are read the way transformers' CLIPTokenizer reads
 * them (first line of merges.txt skipped, at most 48894 merges) with CLIP's
 * fixed pipeline. Missing files give CS_ENOTFOUND, malformed ones CS_EFORMAT,
 * each naming the file (and the line for JSON and merges.txt).
 *
 * Unicode data (NFC, categories, lowercase) is the installed libutf8proc's;
 * it matches the tokenizers library for every character assigned up to
 * Unicode 14. */
CS_API cs_status cs_tokenizer_load(const char *model_dir, int context_length, cs_tokenizer **out,
                                   cs_error *err);
CS_API void cs_tokenizer_free(cs_tokenizer *tok);

/* The maximum number of ids encode produces, start and end tokens included. */
CS_API int cs_tokenizer_context_length(const cs_tokenizer *tok);
CS_API int32_t cs_tokenizer_bos(const cs_tokenizer *tok); /* 49406 */
CS_API int32_t cs_tokenizer_eos(const cs_tokenizer *tok); /* 49407 */

/* Encodes `len` bytes of UTF-8 (NUL bytes allowed) into ids[0..*n_ids), at most
 * cs_tokenizer_context_length(tok) of them, start and end tokens included.
 * Invalid UTF-8 is refused with CS_EFORMAT naming the byte offset.
 * Thread-safe: one tokenizer may encode from many threads at once. */
CS_API cs_status cs_tokenizer_encode(cs_tokenizer *tok, const char *text, size_t len, int32_t *ids,
                                     int *n_ids, cs_error *err);

#ifdef __cplusplus
}
#endif

#endif
