/* hub/hub_internal.h - what the hub's files share: paths, names, the
 * manifest of a finished download. */
#ifndef CS_HUB_INTERNAL_H
#define CS_HUB_INTERNAL_H

#include <stdint.h>

#include "clipsearch/hub.h"

/* Written last into a model folder of our cache: the download is complete. */
#define CS_HUB_MANIFEST ".clipsearch-download.json"
/* Where sentence-transformers looks up a bare model name. */
#define CS_HUB_ST_ORG "sentence-transformers"
/* The sub-folder holding the CLIP model in a sentence-transformers repo. */
#define CS_HUB_ST_SUBDIR "0_CLIPModel"

/* A character of hub names: letters, digits, '-', '_', '.'. */
int cs_hub_name_char(char c);

/* The value of an environment variable, NULL when unset or empty. */
const char *cs_hub_env(const char *name);

/* Copies a path into buf expanding a leading "~/" with $HOME. */
cs_status cs_hub_expand(char *buf, size_t cap, const char *path, cs_error *err);

/* Our cache folder: cache_dir when given (a cs_hub_opts.cache_dir), else
 * cs_hub_cache_dir(). CS_ELIMIT when it does not fit in buf. */
cs_status cs_hub_cache_root(const char *cache_dir, char *buf, size_t cap, cs_error *err);

/* "ORG--NAME" for "ORG/NAME" (the hub forbids "--" in names, so the
 * mapping goes both ways); `prefix` goes in front ("models--" for the
 * Hugging Face cache, "" for ours). */
cs_status cs_hub_repo_folder(char *buf, size_t cap, const char *prefix, const char *repo_id,
                             cs_error *err);

/* Non-zero when dir holds config.json and a weights file we read. */
int cs_hub_model_usable(const char *dir);

/* The "model_type" of dir/config.json ("clip" for CLIP) into buf; 0 when
 * the file or the key is absent. */
int cs_hub_model_type(const char *dir, char *buf, size_t cap);

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
cs_status cs_hub_hf_home(char *buf, size_t cap, cs_error *err);

/* Non-zero when path exists as a regular file (symlinks followed). */
int cs_hub_is_file(const char *path);
int cs_hub_is_dir(const char *path);

/* buf = "dir/name"; 0 (and buf = "") when it does not fit. */
int cs_hub_join(char *buf, size_t cap, const char *dir, const char *name);

#endif
