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
 * (text_config.max_position_embeddings of config.json, else 77). */
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
