/* index/indexer.h - the indexing pipeline, independent of the model.
 *
 * cs_db_index (index_model.c) runs it with the CLIP engine as its backend;
 * tests run it with a synthetic one. Per batch of new or changed files:
 *   1. read + hash (pool)           -> unchanged content? same hash elsewhere?
 *   2. read + decode + preprocess (pool) the files whose content is new
 *   3. embed the batch (backend, on its own threads)
 *   4. store: one transaction (a crash loses at most this batch)
 * then rows of files no longer found are dropped, and the vector file is
 * rewritten. */
#ifndef CS_INDEX_INDEXER_H
#define CS_INDEX_INDEXER_H

#include "clipsearch/index.h"
#include "core/guard.h"

typedef struct cs_index_backend {
    void *user;
    size_t input_floats; /* floats of one prepared image */
    /* 1 when the first bytes of a file are an image's (see walk.h); may be NULL */
    int (*is_image)(const uint8_t *head, size_t n);
    /* The bytes of one file -> the model input (input_floats floats) and the
     * upright image size. Called from pool threads, concurrently. */
    cs_status (*prepare)(void *user, const void *data, size_t size, const char *name, float *input,
                         int *width, int *height, cs_error *err);
    /* n prepared inputs -> n embeddings of the database's dim. more: how
     * many files of the run are still to come after these (a hint). */
    cs_status (*embed)(void *user, const float *inputs, int n, int more, float *out, cs_error *err);
    /* Readies what embed(n, more) will need first (the model's tower), from
     * a pool thread while the others prepare inputs. May be NULL. */
    cs_status (*ready)(void *user, int n, int more, cs_error *err);
    /* What the embeddings of the last embed call were computed at
     * (cs_model_info.image_precision), recorded with each row. May be NULL. */
    const char *(*precision)(void *user);
    cs_pool *pool; /* for reading/hashing/decoding; NULL: the calling thread */
    /* 0 to leave a file out of the run (a shard of the files); may be NULL */
    int (*keep)(void *user, const char *path);
    void *keep_user;
} cs_index_backend;

cs_status cs_index_run(cs_db *db, const cs_index_backend *be, const char *const *roots, int n_roots,
                       const cs_index_opts *opts, cs_index_stats *stats, cs_error *err);

/* The CLIP model as a backend (index_model.c): be->user is malloc'd (free
 * it after the run); be->pool is opts->pool. */
cs_status cs_index_model_backend(cs_model *model, const cs_index_opts *opts, cs_index_backend *be,
                                 cs_error *err);

/* ---- the stages of a run, for a driver that spreads the batches over
 * processes (src/dist): one process walks, plans and stores (cs_index_job_*,
 * the database's one writer), the others read, hash and embed
 * (cs_index_hash_items, cs_index_embed_items). cs_index_run is these stages
 * in one process. ---- */

#define CS_INDEX_MAX_FILE_BYTES ((size_t)1 << 31) /* larger files are not photos we decode */

typedef struct cs_index_file {
    char *path;
    int64_t size, mtime_ns;
} cs_index_file;

typedef enum cs_index_act {
    CS_ACT_EMBED, /* new content: through the model */
    CS_ACT_REUSE, /* content stored under another path: its vector reused */
    CS_ACT_DUP,   /* a copy of another item of the same batch (slot: that item) */
    CS_ACT_TOUCH, /* same content as its own row: only the mtime moves */
    CS_ACT_FAIL   /* unreadable or broken (error says why) */
} cs_index_act;

/* One new or changed file of a batch. */
typedef struct cs_index_item {
    const cs_index_file *f;
    int64_t old_id; /* the row of this path, or -1 */
    uint8_t old_hash[16], hash[16];
    cs_index_act act;
    int slot; /* CS_ACT_EMBED: its input row; CS_ACT_DUP: the item it copies */
    int width, height;
    const float *vec;
    const void *data; /* the file's bytes when already in memory (else read by path) */
    size_t data_size;
    cs_error error;
    char precision[16]; /* what vec was computed at (cs_index_backend.precision); "": unknown */
} cs_index_item;

typedef struct cs_index_job cs_index_job;

/* Resolves the roots, walks them and finds the new and changed files. */
cs_status cs_index_job_start(cs_db *db, const cs_index_backend *be, const char *const *roots,
                             int n_roots, const cs_index_opts *opts, cs_index_stats *stats,
                             cs_index_job **out, cs_error *err);
/* The new and changed files in path order (the job owns them), *n of them. */
cs_index_item *cs_index_job_todo(cs_index_job *job, size_t *n);
/* 1 once the progress callback asked to stop. */
int cs_index_job_stopped(const cs_index_job *job);
/* Decides, by content hash, what each hashed item needs (reuse buffer:
 * n x dim floats); *n_embed items get CS_ACT_EMBED with slots 0.. */
cs_status cs_index_job_plan(cs_index_job *job, cs_index_item *items, int n, float *reused,
                            int *n_embed, cs_error *err);
/* Stores a batch whose vectors are set (one transaction) and counts it. */
cs_status cs_index_job_store(cs_index_job *job, cs_index_item *items, int n, cs_error *err);
/* Reports progress: processed of the todo files done, current the last. */
void cs_index_job_progress(cs_index_job *job, int64_t processed, const char *current);
/* Drops the rows of files gone (unless the run failed with st or was
 * stopped), rewrites the vector file, frees the job; returns st. */
cs_status cs_index_job_finish(cs_index_job *job, cs_status st, cs_error *err);

/* Reads and hashes the items (on the pool); those that cannot be read get
 * CS_ACT_FAIL. guard (may be NULL): files never to read (the catalogue's own,
 * core/guard.h). */
void cs_index_hash_items(cs_pool *pool, cs_file_guard *guard, cs_index_item *items, int n);
/* Reads, decodes and embeds the n_embed items with CS_ACT_EMBED (inputs:
 * n_embed x be->input_floats floats; out: n_embed x dim), then points each
 * item's vec at its row of out and resolves the copies (CS_ACT_DUP). Those
 * that fail get CS_ACT_FAIL. decode_s, embed_s (may be NULL) accumulate
 * the seconds of each stage. more: files of the run after these (a hint).
 * ahead (may be NULL): the next batch's n_ahead items, hashed as
 * cs_index_hash_items would, as the decoding's last tasks: they fill the
 * time a thread would wait for another's last image (their seconds count
 * in decode_s). */
cs_status cs_index_embed_items(const cs_index_backend *be, cs_file_guard *guard,
                               cs_index_item *items, int n, int n_embed, int more, int dim,
                               float *inputs, float *out, cs_index_item *ahead, int n_ahead,
                               double *decode_s, double *embed_s, cs_error *err);
/* The copies within a batch (CS_ACT_DUP) take their original's vector, or
 * its failure. */
void cs_index_resolve_dups(cs_index_item *items, int n);

#endif
