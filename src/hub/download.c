/* hub/download.c - the first half of a download: settings, the lock, the
 * hub's description of the revision, and which files to fetch. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "hub/download.h"
#include "hub/http_client.h"
#include "hub/hub_internal.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"
#define API_MAX_BYTES    (16u << 20)

/* A file name from the server or an index that is safe to put in a URL and
 * in our folder: segments of name characters, none starting with '.'. */
int cs_hub_safe_name(const char *name) {
    if (!*name || strlen(name) > 200) return 0;
    int seg_start = 1;
    for (const char *p = name; *p; p++) {
        if (*p == '/') {
            if (seg_start) return 0;
            seg_start = 1;
            continue;
        }
        if (!cs_hub_name_char(*p) || (seg_start && *p == '.')) return 0;
        seg_start = 0;
    }
    return !seg_start;
}

static void add_file(hub_plan *plan, const json_t *siblings, const char *prefix,
                     const char *local) {
    if (plan->n == CS_HUB_MAX_FILES) return;
    hub_file *f = &plan->files[plan->n++];
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s%s", prefix, local);
    snprintf(f->local, sizeof f->local, "%s", local);
    size_t i;
    json_t *s;
    json_array_foreach(siblings, i, s) {
        const char *r = json_string_value(json_object_get(s, "rfilename"));
        if (!r || strcmp(r, f->name) != 0) continue;
        json_t *lfs = json_object_get(s, "lfs");
        json_t *size = json_object_get(lfs ? lfs : s, "size");
        if (!json_is_integer(size)) size = json_object_get(s, "size");
        if (json_is_integer(size) && json_integer_value(size) >= 0)
            f->size = (uint64_t)json_integer_value(size);
        const char *sha = json_string_value(json_object_get(lfs, "sha256"));
        if (sha && strlen(sha) == 64 && strspn(sha, "0123456789abcdef") == 64)
            memcpy(f->sha256, sha, 65);
        return;
    }
}

static int has_sibling(const json_t *siblings, const char *prefix, const char *name) {
    char full[512];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    size_t i;
    json_t *s;
    json_array_foreach(siblings, i, s) {
        const char *r = json_string_value(json_object_get(s, "rfilename"));
        if (r && !strcmp(r, full)) return 1;
    }
    return 0;
}

cs_status cs_hub_plan_files(const json_t *siblings, hub_plan *plan, char *prefix, size_t cap,
                            cs_error *err) {
    static const char *const extra[] = {
        "preprocessor_config.json", "tokenizer.json",         "vocab.json", "merges.txt",
        "tokenizer_config.json",    "special_tokens_map.json"};
    plan->n = 0;
    snprintf(prefix, cap, "%s", "");
    if (!has_sibling(siblings, "", "config.json")) {
        /* sentence-transformers keeps the CLIP model in a sub-folder. */
        if (!has_sibling(siblings, CS_HUB_ST_SUBDIR "/", "config.json"))
            return cs_fail(err, CS_ENOTFOUND,
                           "no config.json in the repo: not a Hugging Face model");
        snprintf(prefix, cap, "%s/", CS_HUB_ST_SUBDIR);
    }
    add_file(plan, siblings, prefix, "config.json");
    for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
        if (has_sibling(siblings, prefix, extra[i])) add_file(plan, siblings, prefix, extra[i]);
    if (has_sibling(siblings, prefix, "model.safetensors"))
        add_file(plan, siblings, prefix, "model.safetensors");
    else if (has_sibling(siblings, prefix, "model.safetensors.index.json"))
        add_file(plan, siblings, prefix, "model.safetensors.index.json");
    else if (has_sibling(siblings, prefix, "pytorch_model.bin"))
        add_file(plan, siblings, prefix, "pytorch_model.bin");
    else
        return cs_fail(err, CS_EUNSUPPORTED,
                       "no weights clipsearch reads in the repo (model.safetensors, "
                       "model.safetensors.index.json or pytorch_model.bin)");
    return CS_OK;
}

cs_status cs_hub_plan_shards(const char *index_path, const json_t *siblings, const char *prefix,
                             hub_plan *plan, cs_error *err) {
    json_error_t jerr;
    json_t *index = json_load_file(index_path, 0, &jerr);
    json_t *map = json_object_get(index, "weight_map");
    if (!json_is_object(map)) {
        json_decref(index);
        return cs_fail(err, CS_EFORMAT, "%s: no weight_map%s%s", index_path, index ? "" : ": ",
                       index ? "" : jerr.text);
    }
    const char *key;
    json_t *v;
    cs_status st = CS_OK;
    json_object_foreach(map, key, v) {
        const char *shard = json_string_value(v);
        if (!shard || !cs_hub_safe_name(shard) || strchr(shard, '/')) {
            st = cs_fail(err, CS_EFORMAT, "%s: bad shard name for %s", index_path, key);
            break;
        }
        int seen = 0;
        for (int i = 0; i < plan->n && !seen; i++) seen = !strcmp(plan->files[i].local, shard);
        if (seen) continue;
        if (plan->n == CS_HUB_MAX_FILES) {
            st = cs_fail(err, CS_ELIMIT, "%s: more than %d files", index_path, CS_HUB_MAX_FILES);
            break;
        }
        add_file(plan, siblings, prefix, shard);
    }
    json_decref(index);
    return st;
}

/* ---- settings ------------------------------------------------------------------ */

static int env_true(const char *name) {
    const char *v = cs_hub_env(name);
    return v && (!strcasecmp(v, "1") || !strcasecmp(v, "on") || !strcasecmp(v, "yes") ||
                 !strcasecmp(v, "true"));
}

/* The token: the option, $HF_TOKEN, then huggingface_hub's token file. */
static void find_token(const cs_hub_opts *o, char *buf, size_t cap) {
    buf[0] = 0;
    if (o->token) {
        snprintf(buf, cap, "%s", o->token);
        return;
    }
    const char *v = cs_hub_env("HF_TOKEN");
    if (v) {
        snprintf(buf, cap, "%s", v);
        return;
    }
    char path[4096];
    cs_error ignored;
    if ((v = cs_hub_env("HF_TOKEN_PATH"))) {
        if (cs_hub_expand(path, sizeof path, v, &ignored) != CS_OK) return;
    } else {
        char home[4000];
        if (cs_hub_hf_home(home, sizeof home, &ignored) != CS_OK) return;
        snprintf(path, sizeof path, "%s/token", home);
    }
    FILE *f = fopen(path, "r");
    if (!f) return;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n > 0 && strchr(" \t\r\n", buf[n - 1])) buf[--n] = 0;
}

cs_status cs_hub_setup(const char *repo_id, const cs_hub_opts *o, hub_dl *d, cs_error *err) {
    memset(d, 0, sizeof *d);
    d->opts = o;
    d->log.fn = o->log;
    d->log.user = o->log_user;
    d->lock_fd = -1;
    d->fd = -1;
    if (!cs_hub_is_repo_id(repo_id))
        return cs_fail(err, CS_EINVAL, "'%s': not a Hugging Face repo id (like %s)", repo_id,
                       cs_hub_default_model());
    if (env_true("HF_HUB_OFFLINE"))
        return cs_fail(err, CS_ENETWORK, "%s: not downloaded, HF_HUB_OFFLINE is set", repo_id);
    snprintf(d->repo, sizeof d->repo, "%s", repo_id);
    snprintf(d->revision, sizeof d->revision, "%s",
             o->revision && *o->revision ? o->revision : "main");
    const char *ep = o->endpoint ? o->endpoint : cs_hub_env("HF_ENDPOINT");
    int n = snprintf(d->endpoint, sizeof d->endpoint, "%s", ep ? ep : DEFAULT_ENDPOINT);
    if (n < 0 || (size_t)n >= sizeof d->endpoint)
        return cs_fail(err, CS_ELIMIT, "endpoint too long");
    while (n > 0 && d->endpoint[n - 1] == '/') d->endpoint[--n] = 0;
    if (strncmp(d->endpoint, "http://", 7) && strncmp(d->endpoint, "https://", 8))
        return cs_fail(err, CS_EINVAL, "endpoint '%s': not an http(s) URL", d->endpoint);

    char root[4096], folder[512];
    cs_status st = cs_hub_cache_root(o->cache_dir, root, sizeof root, err);
    if (st == CS_OK) st = cs_hub_repo_folder(folder, sizeof folder, "", repo_id, err);
    if (st != CS_OK) return st;
    n = snprintf(d->dir, sizeof d->dir, "%s/%s", root, folder);
    if (n < 0 || (size_t)n >= sizeof d->dir - 300)
        return cs_fail(err, CS_ELIMIT, "%s: too long", root);

    char token[2048];
    find_token(o, token, sizeof token);
    cs_http_config hc = {token, o->connect_timeout_s > 0 ? o->connect_timeout_s : 10,
                         o->stall_timeout_s > 0 ? o->stall_timeout_s : 30, &d->log};
    return cs_http_new(&hc, &d->http, err);
}

void cs_hub_teardown(hub_dl *d) {
    cs_http_free(d->http);
    json_decref(d->info);
    json_decref(d->old_manifest);
    if (d->fd >= 0) close(d->fd);
    if (d->lock_fd >= 0) close(d->lock_fd); /* releases the flock */
    d->http = NULL;
    d->info = d->old_manifest = NULL;
}

/* One download of a folder at a time: a second process would write the same
 * .part files. */
cs_status cs_hub_lock(hub_dl *d, cs_error *err) {
    cs_status st = cs_mkdirs(d->dir, err);
    if (st != CS_OK) return st;
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", d->dir);
    d->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->lock_fd < 0) return cs_fail(err, CS_EIO, "%s: %s", path, strerror(errno));
    if (flock(d->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return cs_fail(err, CS_EIO, "%s: another clipsearch is downloading into this folder",
                       d->dir);
    return CS_OK;
}

/* The revision's commit and file list from the hub's API. */
cs_status cs_hub_fetch_info(hub_dl *d, cs_error *err) {
    char rev[512], url[2048];
    cs_status st = cs_http_escape(d->http, d->revision, rev, sizeof rev, err);
    if (st != CS_OK) return st;
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s?blobs=true", d->endpoint, d->repo, rev);
    char *body = NULL;
    size_t size = 0;
    cs_http_meta meta;
    st = cs_http_get_mem(d->http, url, API_MAX_BYTES, &body, &size, &meta, err);
    if (st == CS_ENOTFOUND) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        if (!strcmp(meta.error_code, "RevisionNotFound"))
            return cs_fail(err, CS_ENOTFOUND, "%s: no revision '%s' at %s (%s)", d->repo,
                           d->revision, d->endpoint, why);
        if (!strcmp(meta.error_code, "RepoNotFound"))
            return cs_fail(err, CS_ENOTFOUND, "%s: no such model at %s (%s)", d->repo, d->endpoint,
                           why);
        return cs_fail(err, CS_ENOTFOUND, "%s: no such model or revision '%s' at %s (%s)", d->repo,
                       d->revision, d->endpoint, why);
    }
    if (st != CS_OK) return st;
    json_error_t jerr;
    d->info = json_loadb(body, size, 0, &jerr);
    free(body);
    d->siblings = json_object_get(d->info, "siblings");
    if (!json_is_array(d->siblings))
        return cs_fail(err, CS_EFORMAT, "%s: not a model description (%s)", url,
                       d->info ? "no \"siblings\"" : jerr.text);
    /* Every file comes from this one commit, even if the branch moves on. */
    const char *sha = json_string_value(json_object_get(d->info, "sha"));
    int ok = sha && *sha && strlen(sha) < sizeof d->commit;
    for (const char *p = sha; ok && *p; p++) ok = cs_hub_name_char(*p);
    snprintf(d->commit, sizeof d->commit, "%s", ok ? sha : d->revision);
    return CS_OK;
}

/* The revision's commit already complete in the Hugging Face cache (what
 * transformers downloaded): every planned file there, of the announced size.
 * Sharded weights count when their index and every shard are there. */
int cs_hub_in_hf_cache(hub_dl *d, char *out, size_t cap) {
    char hf[4096], folder[512], snap[4600], path[4900];
    cs_error ignored;
    if (cs_hub_hf_cache_dir(hf, sizeof hf, &ignored) != CS_OK ||
        cs_hub_repo_folder(folder, sizeof folder, "models--", d->repo, &ignored) != CS_OK)
        return 0;
    int n = snprintf(snap, sizeof snap, "%s/%s/snapshots/%s/%s", hf, folder, d->commit, d->prefix);
    if (n < 0 || (size_t)n >= sizeof snap) return 0;
    if (n > 0 && snap[n - 1] == '/') snap[n - 1] = 0;
    for (int i = 0; i < d->plan.n; i++) {
        const hub_file *f = &d->plan.files[i];
        struct stat st;
        if (!cs_hub_join(path, sizeof path, snap, f->local) || stat(path, &st) != 0 ||
            !S_ISREG(st.st_mode) || (f->size && (uint64_t)st.st_size != f->size))
            return 0;
        size_t len = strlen(f->local);
        if (len > 11 && !strcmp(f->local + len - 11, ".index.json") &&
            cs_hub_plan_shards(path, d->siblings, d->prefix, &d->plan, &ignored) != CS_OK)
            return 0;
    }
    return snprintf(out, cap, "%s", snap) < (int)cap;
}
