/*
 * clipsearch/hub.h - CLIP models from the Hugging Face hub: download into a
 * local cache, and turn a model name into a local folder.
 *
 * Names. A model is named either by a folder (a Hugging Face model folder:
 * config.json, weights, tokenizer and preprocessor files) or by a hub repo
 * id such as "openai/clip-vit-base-patch32".
 *
 * Our cache. `cs_hub_download` writes repo "ORG/NAME" into
 *     <cache>/ORG--NAME/
 * as a plain model folder (the files side by side, usable as --model DIR),
 * plus `.clipsearch-download.json`, which records the repo, revision, commit
 * and each verified file's size and sha256. It is rewritten after each file
 * and says "complete": true only at the end: a folder without that is an
 * unfinished download, never returned by `cs_hub_resolve`, and the next
 * download keeps the files it vouches for.
 * <cache> is, first found: the cache_dir argument, $CLIPSEARCH_CACHE/models,
 * $XDG_CACHE_HOME/clipsearch/models, $HOME/.cache/clipsearch/models.
 *
 * The Hugging Face cache (what transformers, sentence-transformers and
 * huggingface_hub write) is read, never written:
 *     <hf>/models--ORG--NAME/refs/main          -> a commit id
 *     <hf>/models--ORG--NAME/snapshots/<commit>/ (the model folder)
 * <hf> is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
 * else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 * A sentence-transformers CLIP repo (the model in its 0_CLIPModel/ folder)
 * resolves to that sub-folder, and a bare name is also looked up, as
 * sentence-transformers does, as "sentence-transformers/NAME" (the common
 * "clip-ViT-B-32"), by cs_hub_resolve and cs_hub_download alike.
 *
 * The network. Downloads use `{endpoint}/api/models/{repo}/revision/{rev}
 * ?blobs=true` for the file list, sizes and LFS sha256 sums, then
 * `{endpoint}/{repo}/resolve/{commit}/{file}` for each file (redirects
 * followed). endpoint: the option, else $HF_ENDPOINT (a mirror), else
 * https://huggingface.co. Token: the option, else $HF_TOKEN, else the file
 * $HF_TOKEN_PATH or $HF_HOME/token; sent as "Authorization: Bearer".
 * Each file goes to FILE.part, is resumed from there (HTTP Range) after an
 * interruption, is checked (size always, sha256 where the hub gives one),
 * and only then renamed into place; a file that fails the check is deleted.
 */
#ifndef CLIPSEARCH_HUB_H
#define CLIPSEARCH_HUB_H

#include "clipsearch/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* "openai/clip-vit-base-patch32": the model used when none is named. */
CS_API const char *cs_hub_default_model(void);

/* Non-zero when name has the shape of a hub repo id: "NAME" or "ORG/NAME",
 * letters, digits, '-', '_', '.', no "--" or "..", not starting with '.' or
 * '-'. Says nothing about whether the repo exists. */
CS_API int cs_hub_is_repo_id(const char *name);

/* Our cache folder (see above) and the Hugging Face hub cache folder, into
 * buf. Neither needs to exist. CS_ENOTFOUND when no variable gives one. */
CS_API cs_status cs_hub_cache_dir(char *buf, size_t cap, cs_error *err);
CS_API cs_status cs_hub_hf_cache_dir(char *buf, size_t cap, cs_error *err);
/* Where packed weights are kept (cs_model_opts.pack_cache): "packed" beside
 * the models in our cache folder. Need not exist. */
CS_API cs_status cs_hub_pack_cache_dir(char *buf, size_t cap, cs_error *err);

/* Turns a --model value into a local model folder, without any network:
 *  - NULL or "": the default model;
 *  - an existing folder: itself (or its 0_CLIPModel/ sub-folder);
 *  - a repo id: our cache (cache_dir, NULL for the default), then the
 *    Hugging Face cache (its refs/main snapshot, else the newest complete
 *    snapshot).
 * A folder counts only when it has config.json and weights
 * (model.safetensors, model.safetensors.index.json or pytorch_model.bin).
 * CS_ENOTFOUND, with a message naming the places looked in, when the model
 * is nowhere; CS_EINVAL when the name is neither a folder nor a repo id. */
CS_API cs_status cs_hub_resolve(const char *name_or_dir, const char *cache_dir, char *out,
                                size_t cap, cs_error *err);

/* Progress of a download, reported often (about every 64 KiB and at the
 * start and end of each file). Sizes the server did not announce are 0. */
typedef struct cs_hub_progress {
    const char *file; /* the file in flight, e.g. "model.safetensors" */
    int file_index;   /* 0-based, among n_files */
    int n_files;
    uint64_t file_done; /* bytes of this file on disk, resumed part included */
    uint64_t file_total;
    uint64_t all_done; /* bytes of all files */
    uint64_t all_total;
    int resumed; /* this file continues an earlier, interrupted transfer */
    int skipped; /* this file was already complete and verified */
} cs_hub_progress;

/* Return non-zero to cancel the download (it then fails with CS_ENETWORK,
 * "cancelled", and keeps the .part file for a later resume). */
typedef int (*cs_hub_progress_fn)(void *user, const cs_hub_progress *progress);

typedef struct cs_hub_opts {
    const char *revision;  /* branch, tag or commit; NULL: "main" */
    const char *cache_dir; /* NULL: cs_hub_cache_dir() */
    const char *endpoint;  /* NULL: $HF_ENDPOINT or https://huggingface.co */
    const char *token;     /* NULL: $HF_TOKEN or the token file; "" sends none */
    int connect_timeout_s; /* 0: 10 */
    int stall_timeout_s;   /* give up on a transfer silent this long; 0: 30 */
    int retries;           /* resumed tries after a failed transfer; < 0: none; 0: 3 */
    int force;             /* download again even files already verified */
    cs_hub_progress_fn progress;
    void *progress_user;
    cs_log_fn log; /* optional log hook */
    void *log_user;
    uint64_t reserved[CS_RESERVED_WORDS]; /* zero: room for later fields */
} cs_hub_opts;

/* Downloads the files a CLIP model needs from repo_id: config.json,
 * preprocessor_config.json, the tokenizer files present (tokenizer.json,
 * vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json)
 * and the weights: model.safetensors where the revision has it, else
 * model.safetensors.index.json and its shards, else pytorch_model.bin.
 * Files already downloaded and verified for the same commit are kept. When
 * the Hugging Face cache already holds every one of them for the commit,
 * nothing is downloaded and out gets that snapshot folder (unless force).
 * On success writes the model folder into out (cap bytes). opts may be NULL.
 * Errors: CS_ENETWORK (transfer, HTTP status, timeout), CS_ENOTFOUND (repo,
 * revision or file absent), CS_EMISMATCH (a file failed its size or sha256
 * check: it is deleted), CS_EIO (the cache folder), CS_EFORMAT (bad JSON). */
CS_API cs_status cs_hub_download(const char *repo_id, const cs_hub_opts *opts, char *out,
                                 size_t cap, cs_error *err);

/* One model found in a cache by cs_hub_list. Strings valid during the call. */
typedef struct cs_hub_entry {
    const char *name;     /* repo id, e.g. "openai/clip-vit-base-patch32" */
    const char *dir;      /* the model folder */
    const char *source;   /* "clipsearch" or "huggingface" */
    const char *revision; /* "main", ... ("" when unknown) */
    const char *commit;   /* "" when unknown */
    uint64_t bytes;       /* total size of the folder's files */
} cs_hub_entry;

/* Calls fn for every complete model in our cache (cache_dir, NULL for the
 * default) and in the Hugging Face cache, ours first, each sorted by name.
 * fn returns non-zero to stop. Absent caches are simply empty. */
CS_API cs_status cs_hub_list(const char *cache_dir,
                             int (*fn)(void *user, const cs_hub_entry *entry), void *user,
                             cs_error *err);

#ifdef __cplusplus
}
#endif

#endif /* CLIPSEARCH_HUB_H */
