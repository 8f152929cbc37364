/*
 * clipsearch/model.h - the CLIP engine: a Hugging Face CLIP model folder in,
 * embeddings out.
 *
 * A model folder holds config.json, model.safetensors (or a sharded index, or
 * pytorch_model.bin), preprocessor_config.json and the tokenizer files.
 * Weights are memory-mapped; each tower is touched only when first used.
 * Every embedding call is thread-safe; the work of one call is spread over
 * the model's thread pool.
 */
#ifndef CLIPSEARCH_MODEL_H
#define CLIPSEARCH_MODEL_H

#include "clipsearch/common.h"
#include "clipsearch/image.h"
#include "clipsearch/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_model cs_model;

/* The arithmetic of the encoders (cs_model_opts.precision). */
typedef enum cs_precision {
    /* float32 throughout: the reference's embeddings (cosine 1 - 1e-13 to a
     * float64 forward pass). The default. */
    CS_PRECISION_FP32 = 0,
    /* BF16 products summed in float32 (AVX512_BF16): about twice the
     * images/s, embeddings at cosine 0.9999+ to the reference; weights
     * packed to BF16 (half of F32). Elsewhere: fp32. */
    CS_PRECISION_BF16,
    /* int8 products summed in int32 (AVX-512 VNNI), weights per output
     * channel, activations per token and block of 256; a quarter of the F32
     * weight memory, cosine 0.999+. Without VNNI: int8 weights only, float
     * arithmetic (the memory win, not the speed). */
    CS_PRECISION_INT8
} cs_precision;

/* "fp32", "bf16", "int8" to a precision; -1 if none. */
CS_API int cs_precision_parse(const char *name);

typedef struct cs_model_opts {
    cs_pool *pool; /* the program's pool (not owned); NULL: the model makes one */
    int n_threads; /* threads of that pool when the model makes it; 0 = one per core */
    cs_log_fn log; /* optional log hook */
    void *log_user;
    cs_decode_opts decode; /* how image files are decoded (limits, fast path) */
    /* 1: the encoder layers' matrices quantised to int8 (one scale per
     * output channel) when a tower is first used. Opt-in: a quarter of their
     * F32 memory, and embeddings close to but not equal to the stored
     * weights' (cosine 0.999+; `clipsearch bench --int8` reports both).
     * The same as precision = CS_PRECISION_INT8 (kept for older callers). */
    int int8;
    /* What the encoders compute in (see cs_precision). One this CPU cannot
     * run falls back to the nearest it can, with a log message;
     * cs_model_info.precision says what runs. A tower whose first call
     * embeds a single input without CS_EMBED_BULK (a query) computes in
     * fp32 from the mapped weights for the model's life: converting them
     * would cost more than that one pass saves. */
    cs_precision precision;
    /* 1: the image tower's weights are always read from the file's map.
     * By default, when the tower is first used for bulk work (CS_EMBED_BULK,
     * or 64+ images in one call), its F32 matrices are packed once into the
     * layout the matrix-multiply kernel reads, instead of per product:
     * faster batches, the same results to the bit, and the same resident
     * memory (the mapped originals are released); but that copy is the
     * process's own, not the page cache's, which other processes share
     * (unless pack_cache names a folder). */
    int no_prepack;
    /* A folder where packed weights are kept (NULL: none). The first process
     * that packs a tower's matrices (for BF16 or int8, or F32 panels for
     * bulk work) writes them there, one file per model, tower, precision
     * and kernel; later processes map that file instead of packing again
     * (the page cache's copy, shared between them), and kept F32 panels
     * serve batches of any size. Files made for another checkpoint or
     * layout are ignored; a folder that cannot be written costs nothing
     * but the saving. `clipsearch` uses cs_hub_pack_cache_dir (packed/
     * beside the downloaded models). */
    const char *pack_cache;
    uint64_t reserved[CS_RESERVED_WORDS - 1]; /* zero: room for later fields */
} cs_model_opts;

/* Opens a model folder. opts may be NULL (defaults). */
CS_API cs_status cs_model_open(const char *model_dir, const cs_model_opts *opts, cs_model **out,
                               cs_error *err);
CS_API void cs_model_close(cs_model *model);

typedef struct cs_model_info {
    int embed_dim; /* projection_dim: the length of an embedding */
    int image_size, patch_size;
    int vision_width, vision_layers, vision_heads;
    int text_width, text_layers, text_heads;
    int context_length, vocab_size;
    const char *dtype; /* "F32", "F16" or "BF16": the weights as stored */
    int int8;          /* the encoder layers run on int8 copies (cs_model_opts.int8) */
    /* what the encoders compute in: "fp32", "bf16", "int8" (VNNI), or
     * "int8-weights" (int8 weights, float arithmetic: a CPU without VNNI) */
    const char *precision;
    int prepacked;   /* the image tower's matrices are packed (cs_model_opts.no_prepack) */
    const char *dir; /* the folder it was opened from */
    const char *id;  /* stable identity of config + weights, for catalogues */
    /* What the image tower computes in, once a first call has built it (one
     * of the names above; NULL before). It is `precision`, except where a
     * tower built by a lone image, with no packing kept, reads its weights
     * at fp32 (cs_model_opts.precision): what an embedding really came
     * from, as a catalogue records it (cs_db_precisions). */
    const char *image_precision;
    uint64_t reserved[CS_RESERVED_WORDS - 1]; /* zero: room for later fields */
} cs_model_info;

CS_API void cs_model_get_info(const cs_model *model, cs_model_info *out);
CS_API const cs_preprocess *cs_model_preprocess(const cs_model *model);
/* The model's tokenizer (loaded on first use; NULL with *err filled on failure). */
CS_API cs_tokenizer *cs_model_tokenizer(cs_model *model, cs_error *err);

/* Flags of the embed calls. */
enum {
    CS_EMBED_RAW = 1, /* the projected features as they are, not L2-normalised */
    /* A hint: many more images follow (indexing). If the image tower's
     * first call has it (or 64+ images), the tower's F32 weights are packed
     * once, which costs 0.1-1 s and makes every batch after it faster (see
     * cs_model_opts.no_prepack). */
    CS_EMBED_BULK = 2
};

/* Each call writes n embeddings of embed_dim floats, row after row, to out. */
CS_API cs_status cs_embed_texts(cs_model *model, const char *const *texts, int n, int flags,
                                float *out, cs_error *err);
CS_API cs_status cs_embed_tokens(cs_model *model, const int32_t *const *ids, const int *n_ids,
                                 int n, int flags, float *out, cs_error *err);
/* n preprocessed images, each 3 x image_size x image_size (cs_image_normalize). */
CS_API cs_status cs_embed_pixels(cs_model *model, const float *chw, int n, int flags, float *out,
                                 cs_error *err);
/* Builds the image tower now, as a first cs_embed_pixels call of n images
 * with these flags would (mapping a kept packing of its weights, or packing
 * them), so that the call itself does not wait for it: a caller can build
 * it on a thread that is otherwise idle, while others prepare the images.
 * Nothing happens once the tower is built, nor from a task of a pool other
 * than the model's (cs_model_opts.pool): the first embed call builds it. */
CS_API cs_status cs_model_ready_images(cs_model *model, int n, int flags, cs_error *err);
/* n decoded images of any size: preprocessed (resize, crop, normalise) here. */
CS_API cs_status cs_embed_images(cs_model *model, const cs_image *images, int n, int flags,
                                 float *out, cs_error *err);
CS_API cs_status cs_embed_image_file(cs_model *model, const char *path, int flags, float *out,
                                     cs_error *err);
CS_API cs_status cs_embed_image_mem(cs_model *model, const void *data, size_t size, int flags,
                                    float *out, cs_error *err);
/* A batch of files that may contain broken ones: statuses[i] (and errs[i],
 * when errs is not NULL) tells each file's fate; the rows of failed files are
 * zero. Returns CS_OK unless the whole call failed. */
CS_API cs_status cs_embed_image_files(cs_model *model, const char *const *paths, int n, int flags,
                                      float *out, cs_status *statuses, cs_error *errs,
                                      cs_error *err);

/* Towers for cs_model_prefetch. */
enum { CS_PREFETCH_TEXT = 1, CS_PREFETCH_VISION = 2 };

/* Readies towers ahead of their first embed call: builds them and maps their
 * weight matrices into the process now (madvise(MADV_POPULATE_READ)), so the
 * first forward pass takes no page faults. Only what every pass reads (not
 * the token embedding table, of which a text needs a few rows). The work is
 * cut in n_parts (>= 1) slices of encoder layers; this call does slice
 * `part`, so that threads can share it. Worth it on threads that would
 * otherwise wait: a cold text query runs it beside the tokenizer's load
 * (cs_db_search_query). */
CS_API cs_status cs_model_prefetch(cs_model *model, int towers, int part, int n_parts,
                                   cs_error *err);

/* Converts a folder's pytorch_model.bin to model.safetensors (written
 * atomically beside it) so later opens memory-map it directly. The names,
 * shapes and dtypes are checked against config.json first. Does nothing when
 * model.safetensors exists, unless force is set. */
CS_API cs_status cs_model_convert(const char *model_dir, int force, cs_error *err);

#ifdef __cplusplus
}
#endif

#endif
