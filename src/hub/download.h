/* hub/download.h - the state of one cs_hub_download, shared by
 * download.c (settings, file list) and transfer.c (the transfers). */
#ifndef CS_HUB_DOWNLOAD_H
#define CS_HUB_DOWNLOAD_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"
#include "hub/http_client.h"
#include "hub/hub_internal.h"
#include "hub/sha256.h"

#define CS_HUB_MAX_FILES 256

typedef struct hub_file {
    char name[256];  /* path in the repo ("0_CLIPModel/config.json") */
    char local[256]; /* name in our folder ("config.json") */
    uint64_t size;   /* 0: unknown */
    char sha256[65]; /* "": unknown (not an LFS file) */
} hub_file;

typedef struct hub_plan {
    hub_file files[CS_HUB_MAX_FILES];
    int n;
} hub_plan;

typedef struct hub_dl {
    const cs_hub_opts *opts;
    cs_logger log;
    cs_http *http;
    char repo[256], revision[256], commit[256], endpoint[1024];
    char dir[4096];    /* the model folder in our cache */
    char result[4096]; /* the folder to return, when not dir */
    int lock_fd;
    json_t *info;     /* the API's answer */
    json_t *siblings; /* its file list (borrowed from info) */
    json_t *old_manifest;
    char prefix[64]; /* "" or "0_CLIPModel/" */
    hub_plan plan;
    /* the file in flight */
    int fd;
    uint64_t pos;  /* bytes received, the buffered ones included */
    uint8_t *wbuf; /* pending bytes (NULL: written as they come) */
    size_t wlen;   /* how many: the file holds pos - wlen */
    cs_sha256 sha;
    int write_errno;
    int cancelled;
    uint64_t limit; /* the size announced for the file in flight (0: unknown) */
    int too_long;   /* the server sent more than that */
    cs_hub_progress progress;
    uint64_t done_before; /* bytes of the files before this one */
    uint64_t reported;    /* pos at the last progress report */
    const cs_http_meta *meta;
} hub_dl;

int cs_hub_safe_name(const char *name);
cs_status cs_hub_setup(const char *repo_id, const cs_hub_opts *opts, hub_dl *d, cs_error *err);
void cs_hub_teardown(hub_dl *d);
cs_status cs_hub_lock(hub_dl *d, cs_error *err);
cs_status cs_hub_fetch_info(hub_dl *d, cs_error *err);
/* The files a CLIP model needs, from the API's siblings; prefix gets the
 * sub-folder they sit in ("" or "0_CLIPModel/"). */
cs_status cs_hub_plan_files(const json_t *siblings, hub_plan *plan, char *prefix, size_t cap,
                            cs_error *err);
/* Non-zero, with the folder in out, when the Hugging Face cache already has
 * every planned file of this commit. */
int cs_hub_in_hf_cache(hub_dl *d, char *out, size_t cap);
/* Adds the shards a model.safetensors.index.json names. */
cs_status cs_hub_plan_shards(const char *index_path, const json_t *siblings, const char *prefix,
                             hub_plan *plan, cs_error *err);

#endif
