/*
 * clipsearch/index.h - the catalogue: folders of images -> a SQLite database
 * of embeddings -> queries.
 *
 *   cs_db_open        a database bound to one model (refuses another's)
 *   cs_db_index       walk folders, embed new/changed images, drop deleted ones
 *   cs_query_*        a query from texts, image files/bytes, embeddings, weighted
 *   cs_db_search      top-k by cosine, with threshold and exclusions (exact scan,
 *                     or an approximate index beside large catalogues: PATH.ann)
 *   cs_db_get         one image by id (ids, never paths, go in URLs)
 *   cs_db_foreach     every (id, path, vector) row in id order (export)
 *   cs_db_duplicates  groups of near-identical images, each with a keeper
 *
 * Storage: one SQLite file (WAL; one transaction per batch, so a crash loses
 * at most the batch in flight) plus a memory-mapped copy of the vectors
 * beside it (PATH.vectors) that makes a cold search fast; the copy carries
 * the database's commit counter and is ignored (and rebuilt) when stale.
 *
 * Threads: a cs_db may be shared by any number of threads. Reads (search,
 * get, info, foreach) run concurrently; writes (index, put, remove) are
 * serialised. Another process indexing the same database is seen by the
 * next search (the vector snapshot is reloaded when the counter moves).
 */
#ifndef CLIPSEARCH_INDEX_H
#define CLIPSEARCH_INDEX_H

#include "clipsearch/common.h"
#include "clipsearch/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cs_db cs_db;

/* ---- opening -------------------------------------------------------------- */

enum {
    CS_DB_CREATE = 1,   /* create the file (and its folder) when missing */
    CS_DB_READONLY = 2, /* never write (search, info, export, the server) */
    CS_DB_RESET = 4     /* empty it and bind it to opts->model_id (re-index for a new model) */
};

typedef struct cs_db_opts {
    /* The model the caller will embed with (cs_model_info.id and embed_dim).
     * A database made with another model is refused with CS_EMISMATCH.
     * NULL: accept whichever model the database has (info, export, lookups);
     * creating needs a model_id and dim. */
    const char *model_id;
    int dim;
    const char *model_name; /* optional, for messages and info (e.g. the folder name) */
    int flags;              /* CS_DB_* */
    cs_log_fn log;          /* optional log hook */
    void *log_user;
    /* optional: the model's folder (absolute), kept when the database is
     * bound to the model, so that later commands open the same model
     * without being told (cs_db_info.model_source) */
    const char *model_source;
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_db_opts;

CS_API cs_status cs_db_open(const char *path, const cs_db_opts *opts, cs_db **out, cs_error *err);
/* Opens with the identity of an open model (model_id, dim and name from it). */
CS_API cs_status cs_db_open_model(const char *path, const cs_model *model, int flags, cs_db **out,
                                  cs_error *err);
CS_API void cs_db_close(cs_db *db);
/* Sets (or with fn NULL, clears) the log hook of an open database. */
CS_API void cs_db_set_log(cs_db *db, cs_log_fn fn, void *user);

/* The database used when none is named: $CLIPSEARCH_DB when set, else
 * $XDG_DATA_HOME/clipsearch/catalog.db (~/.local/share/clipsearch/catalog.db). */
CS_API cs_status cs_db_default_path(char *buf, size_t cap, cs_error *err);

typedef struct cs_db_info {
    const char *path;       /* as opened */
    const char *model_id;   /* the model the database belongs to */
    const char *model_name; /* as given when it was created ("" if none) */
    int dim;
    int64_t count;            /* images */
    int64_t size_bytes;       /* on disk: database, its WAL and the vector file */
    uint64_t generation;      /* commit counter: moves with every change of the rows */
    const char *model_source; /* the model's folder as kept at creation ("" if none) */
    /* How searches run: "exact" (a scan of every vector), "ivf-sq8" or
     * "ivf-sq4" (the approximate index PATH.ann with codes of 8 or 4 bits,
     * current for this generation: index_bytes, index_lists). index_note says why a file present is
     * not used
     * ("stale", "damaged"), else "". */
    const char *search_index, *index_note;
    int64_t index_bytes;
    int index_lists;
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_db_info;

/* Strings stay valid until cs_db_close. */
CS_API cs_status cs_db_get_info(cs_db *db, cs_db_info *out, cs_error *err);

/* Images that share the precision their embeddings were computed at. */
typedef struct cs_db_precision {
    /* cs_model_info.image_precision of the model that embedded them ("fp32",
     * "bf16", "int8", "int8-weights"), or NULL where it was not recorded:
     * rows stored by cs_db_put (vectors from elsewhere) or by a version
     * before 0.3. Valid until cs_db_close. */
    const char *name;
    int64_t count;
} cs_db_precision;

/* The images by precision, most first: *n kinds (none when empty), the
 * first cap of them into out. */
CS_API cs_status cs_db_precisions(cs_db *db, cs_db_precision *out, int cap, int *n, cs_error *err);

/* ---- indexing ------------------------------------------------------------- */

typedef enum cs_index_phase {
    CS_INDEX_WALK = 0, /* finding files; to_process still growing */
    CS_INDEX_EMBED,    /* embedding and storing */
    CS_INDEX_DONE
} cs_index_phase;

typedef struct cs_index_progress {
    cs_index_phase phase;
    int64_t found;      /* images found by the walk */
    int64_t to_process; /* of those, new or changed (hashed, then embedded unless reused) */
    int64_t processed;  /* of to_process, done (embedded, reused or failed) */
    int64_t embedded, reused, unchanged, removed, failed;
    double elapsed_s;
    const char *current; /* the last file looked at (may be NULL) */
} cs_index_progress;

/* Called on the calling thread, after each batch and now and then during the
 * walk. Return non-zero to stop after the batch in flight (that batch is kept). */
typedef int (*cs_index_progress_fn)(void *user, const cs_index_progress *progress);
/* Called once per file that could not be indexed (unreadable, broken image,
 * too large...), with the reason; that file is skipped. */
typedef void (*cs_index_error_fn)(void *user, const char *path, const cs_error *error);

/* The default batch. Larger ones embed no faster (16 images are already
 * 800 rows for every matrix product), and each image of a batch adds ~2.3 MB
 * of pixels and activations that a process's first batch faults in:
 * docs/performance.md, "Batch size". */
#define CS_INDEX_BATCH 16

typedef struct cs_index_opts {
    /* fnmatch(3) globs, each matched against the base name and against the
     * path relative to its root, e.g. "*.tmp", "@eaDir", "raw/?*" */
    const char *const *excludes;
    int n_excludes;
    int follow_symlinks; /* 0: symlinks are not followed (default) */
    int include_hidden;  /* 0: names starting with '.' are skipped (default) */
    int batch_size;      /* images per embedding batch = per transaction; 0: CS_INDEX_BATCH */
    int keep_missing;    /* 1: keep rows of files no longer found under the roots */
    int exact_decode;    /* 1: no reduced-size JPEG decoding (Pillow-exact pixels) */
    cs_index_progress_fn progress;
    void *progress_user;
    cs_index_error_fn on_error;
    void *error_user;
    cs_pool *pool; /* threads for reading and decoding (e.g. the model's); NULL: the caller's */
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_index_opts;

typedef struct cs_index_stats {
    int64_t found;     /* images seen by the walk */
    int64_t embedded;  /* new or changed, run through the model */
    int64_t reused;    /* new path, known content (renamed or copied): vector reused */
    int64_t unchanged; /* same size and mtime (or same hash) as stored */
    int64_t removed;   /* rows dropped because their file is gone */
    int64_t failed;    /* skipped; each reported through on_error */
    int stopped;       /* 1 when the progress callback asked to stop */
    /* wall seconds per stage: walk, read + hash, decode + preprocess, model,
     * store (after the first batch, a batch's decoding also hashes the next
     * batch's files: that time counts in decode_s) */
    double walk_s, hash_s, decode_s, embed_s, store_s;
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_index_stats;

/* Brings the database up to date with the images under `roots` (folders or
 * single files). Paths are stored absolute (the root resolved, entries below
 * it as found). Returns CS_OK even when some files failed (stats->failed);
 * an error only when the run itself could not go on (database, model). */
CS_API cs_status cs_db_index(cs_db *db, cs_model *model, const char *const *roots, int n_roots,
                             const cs_index_opts *opts, cs_index_stats *stats, cs_error *err);

/* ---- direct writes (for callers that embed themselves) -------------------- */

/* After direct writes (cs_db_put, cs_db_remove): brings the files beside the
 * database that make searches fast up to date: PATH.vectors, and for
 * catalogues past the index threshold PATH.ann (cs_db_index does this at
 * its end). pool: threads for building the index; NULL: this thread. */
CS_API cs_status cs_db_finish(cs_db *db, cs_pool *pool, cs_error *err);

typedef struct cs_db_entry {
    const char *path;       /* stored as given (callers pass absolute paths) */
    int64_t size;           /* bytes */
    int64_t mtime_ns;       /* modification time, ns since the epoch */
    uint8_t hash[16];       /* content hash (cs_hash128 of the bytes) */
    int width, height;      /* the upright image, 0 if unknown */
    const float *embedding; /* dim floats; L2-normalised on the way in */
} cs_db_entry;

/* Inserts or replaces (by path) n rows in one transaction. */
CS_API cs_status cs_db_put(cs_db *db, const cs_db_entry *entries, int n, cs_error *err);
/* Removes rows by path (missing ones are ignored) in one transaction. */
CS_API cs_status cs_db_remove(cs_db *db, const char *const *paths, int n, cs_error *err);

/* The content hash the catalogue uses (128 bits, not cryptographic). */
CS_API void cs_hash128(const void *data, size_t size, uint8_t out[16]);

/* ---- queries -------------------------------------------------------------- */

typedef enum cs_query_kind {
    CS_QUERY_TEXT = 0,   /* text: the text */
    CS_QUERY_IMAGE_FILE, /* text: the path of an image file */
    CS_QUERY_IMAGE_MEM,  /* data, size: the bytes of an image file */
    CS_QUERY_EMBEDDING   /* data: size floats (the model's embed_dim) */
} cs_query_kind;

typedef struct cs_query_term {
    cs_query_kind kind;
    float weight; /* the term's share; negative subtracts ("- grass") */
    const char *text;
    const void *data;
    size_t size;
} cs_query_term;

/* A query: a weighted sum of terms, q = normalise(sum_i w_i * normalise(e_i)). */
typedef struct cs_query cs_query;

CS_API cs_query *cs_query_new(void); /* NULL when out of memory */
CS_API void cs_query_free(cs_query *q);
/* Appends a copy of the term (its text and bytes are copied). */
CS_API cs_status cs_query_add(cs_query *q, const cs_query_term *term, cs_error *err);

enum {
    CS_QUERY_PARSE_IMAGE = 1, /* every term is an image path (--image) */
    CS_QUERY_PARSE_TEXT = 2   /* every term is a text, even if it names a file */
};
/* Parses command-line words the way rclip does:
 *   "2:golden retriever" + ./dog.jpg - "grass"
 * Words "+" and "-" start a new term added or subtracted; other adjacent words
 * are joined with spaces into one term ("a" "ball" = "a ball"); a leading
 * "NUMBER:" is the term's weight (default 1). A term naming an existing file
 * whose bytes are an image is an image query, else it is a text. */
CS_API cs_status cs_query_parse(cs_query *q, const char *const *words, int n, int flags,
                                cs_error *err);
/* One text in the same syntax, as a search box gives it: "2:golden
 * retriever - grass" (a lone "+" or "-" between spaces starts a term added
 * or subtracted); every term is a text, its weight times `weight`. */
CS_API cs_status cs_query_parse_text(cs_query *q, const char *text, float weight, cs_error *err);
CS_API int cs_query_count(const cs_query *q);
CS_API const cs_query_term *cs_query_term_at(const cs_query *q, int i);

/* The query's embedding: embed_dim floats, L2-normalised, into out. A term
 * whose embedding is zero or not finite, or terms that cancel out, are
 * CS_EINVAL. */
CS_API cs_status cs_query_embed(const cs_query *q, cs_model *model, float *out, cs_error *err);

/* Embeds one term into out (dim floats, normalised or not). */
typedef cs_status (*cs_query_embed_fn)(void *user, const cs_query_term *term, float *out,
                                       cs_error *err);
/* cs_query_embed with each term embedded by fn: the same weighting and
 * checks, for a caller that embeds its own way (a cache in front of the
 * model, a remote model). */
CS_API cs_status cs_query_embed_with(const cs_query *q, int dim, cs_query_embed_fn fn, void *user,
                                     float *out, cs_error *err);

/* ---- search --------------------------------------------------------------- */

typedef struct cs_search_opts {
    int k;                      /* results wanted; 0: 10 */
    int use_threshold;          /* 1: drop results scoring below threshold */
    float threshold;            /* cosine in [-1, 1] */
    const int64_t *exclude_ids; /* rows never returned */
    int n_exclude_ids;
    const char *const *exclude_paths; /* files never returned (resolved like indexed paths) */
    int n_exclude_paths;
    cs_pool *pool; /* threads for the scan; NULL: the calling thread only */
    int exact;     /* 1: the exact scan even where the catalogue has an approximate index */
    int nprobe;    /* approximate index: lists scanned; 0: its default (more: better recall) */
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_search_opts;

typedef struct cs_result {
    int64_t id;
    float score; /* cosine similarity */
    char *path;
    int width, height;
} cs_result;

/* Top k rows by cosine with `query` (dim floats, L2-normalised), best first;
 * equal scores: lower id first. *out is an array of *n results (n <= k),
 * freed with cs_results_free. opts may be NULL (k = 10). */
CS_API cs_status cs_db_search(cs_db *db, const float *query, const cs_search_opts *opts,
                              cs_result **out, int *n, cs_error *err);
/* Embeds the query and searches; the files of its image terms are excluded. */
CS_API cs_status cs_db_search_query(cs_db *db, cs_model *model, const cs_query *query,
                                    const cs_search_opts *opts, cs_result **out, int *n,
                                    cs_error *err);
/* Neighbours of an indexed image (itself excluded). */
CS_API cs_status cs_db_similar(cs_db *db, int64_t id, const cs_search_opts *opts, cs_result **out,
                               int *n, cs_error *err);
CS_API void cs_results_free(cs_result *results, int n);

/* ---- lookups -------------------------------------------------------------- */

typedef struct cs_db_image {
    int64_t id;
    char *path; /* malloc'd: cs_db_image_clear frees it */
    int64_t size, mtime_ns;
    int width, height;
    uint8_t hash[16];
} cs_db_image;

/* CS_ENOTFOUND when there is no such row. */
CS_API cs_status cs_db_get(cs_db *db, int64_t id, cs_db_image *out, cs_error *err);
CS_API void cs_db_image_clear(cs_db_image *img);
/* The id of an indexed file (path resolved like indexed paths); CS_ENOTFOUND. */
CS_API cs_status cs_db_find(cs_db *db, const char *path, int64_t *id, cs_error *err);
/* The stored (L2-normalised) embedding of a row, dim floats. */
CS_API cs_status cs_db_get_vector(cs_db *db, int64_t id, float *out, cs_error *err);

/* Every row in id order. fn returns non-zero to stop early (then CS_OK). The
 * strings and vectors passed are valid only during the call. */
typedef int (*cs_db_row_fn)(void *user, int64_t id, const char *path, const float *vector);
CS_API cs_status cs_db_foreach(cs_db *db, cs_db_row_fn fn, void *user, cs_error *err);

/* ---- duplicates ------------------------------------------------------------ */

/* The default threshold: "the same picture" (re-saved, recompressed,
 * resized, slightly cropped), as measured in docs/duplicates.md. */
#define CS_DUPS_DEFAULT_THRESHOLD 0.95

typedef struct cs_dups_opts {
    float threshold; /* cosine in (0, 1]; 0: CS_DUPS_DEFAULT_THRESHOLD */
    int k;           /* each image links to at most its k nearest at >= threshold
                        (1..255; 0: 10); a group can still be larger */
    int strict;      /* 1: every pair of a group passes (complete linkage);
                        0: connected components, so chains are one group */
    cs_pool *pool;   /* threads for the scan; NULL: the calling thread only */
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_dups_opts;

/* One image of a group. Strings stay valid until cs_dups_free. */
typedef struct cs_dup_member {
    int64_t id;
    const char *path;
    int64_t size;     /* bytes, as indexed (0 if unknown) */
    int64_t mtime_ns; /* modification time as indexed (0 if unknown) */
    int width, height;
    float score; /* its best cosine with another member of its group */
} cs_dup_member;

/* Groups of images at cosine >= threshold: each group is a connected
 * component of the graph "A and B score >= threshold" (or, with strict, a
 * complete-linkage group), of 2 or more images. Member 0 of each group is
 * the suggested keeper: the most pixels, then the largest file, then the
 * oldest (an unknown date counts as newest), then the lowest id; the others
 * follow by score, best first. Groups come best score first. Uses only the
 * stored vectors and rows: no model, no file is read. */
typedef struct cs_dups cs_dups;

CS_API cs_status cs_db_duplicates(cs_db *db, const cs_dups_opts *opts, cs_dups **out,
                                  cs_error *err);
CS_API int64_t cs_dups_count(const cs_dups *d);           /* groups */
CS_API int cs_dups_size(const cs_dups *d, int64_t group); /* its members */
/* Member i of a group (0: the keeper); NULL when out of range. */
CS_API const cs_dup_member *cs_dups_member(const cs_dups *d, int64_t group, int i);
/* The cosine of members i and j of a group (NAN when out of range). */
CS_API float cs_dups_score(const cs_dups *d, int64_t group, int i, int j);
CS_API void cs_dups_free(cs_dups *d);

#ifdef __cplusplus
}
#endif

#endif /* CLIPSEARCH_INDEX_H */
