/* hub/paths.c - where the caches are, and what a repo id looks like. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "hub/hub_internal.h"

const char *cs_hub_default_model(void) {
    return "openai/clip-vit-base-patch32";
}

const char *cs_hub_env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

cs_status cs_hub_expand(char *buf, size_t cap, const char *path, cs_error *err) {
    int n;
    const char *home = cs_hub_env("HOME");
    if (path[0] == '~' && (path[1] == '/' || path[1] == 0) && home)
        n = snprintf(buf, cap, "%s%s", home, path + 1);
    else
        n = snprintf(buf, cap, "%s", path);
    if (n < 0 || (size_t)n >= cap) return cs_fail(err, CS_ELIMIT, "%s: path too long", path);
    return CS_OK;
}

/* buf = expand(base) + suffix. */
static cs_status join_env(char *buf, size_t cap, const char *base, const char *suffix,
                          cs_error *err) {
    char tmp[4096];
    cs_status st = cs_hub_expand(tmp, sizeof tmp, base, err);
    if (st != CS_OK) return st;
    int n = snprintf(buf, cap, "%s%s", tmp, suffix);
    if (n < 0 || (size_t)n >= cap)
        return cs_fail(err, CS_ELIMIT, "%s%s: path too long", tmp, suffix);
    return CS_OK;
}

/* buf = our cache folder + "/" + sub. */
static cs_status cache_sub(char *buf, size_t cap, const char *sub, cs_error *err) {
    const char *v;
    char tail[64];
    if ((v = cs_hub_env("CLIPSEARCH_CACHE"))) {
        snprintf(tail, sizeof tail, "/%s", sub);
    } else if ((v = cs_hub_env("XDG_CACHE_HOME"))) {
        snprintf(tail, sizeof tail, "/clipsearch/%s", sub);
    } else if ((v = cs_hub_env("HOME"))) {
        snprintf(tail, sizeof tail, "/.cache/clipsearch/%s", sub);
    } else {
        return cs_fail(err, CS_ENOTFOUND,
                       "no cache folder: set CLIPSEARCH_CACHE, XDG_CACHE_HOME or HOME");
    }
    return join_env(buf, cap, v, tail, err);
}

cs_status cs_hub_cache_dir(char *buf, size_t cap, cs_error *err) {
    return cache_sub(buf, cap, "models", err);
}

cs_status cs_hub_pack_cache_dir(char *buf, size_t cap, cs_error *err) {
    return cache_sub(buf, cap, "packed", err);
}

cs_status cs_hub_cache_root(const char *cache_dir, char *buf, size_t cap, cs_error *err) {
    if (!cache_dir) return cs_hub_cache_dir(buf, cap, err);
    int n = snprintf(buf, cap, "%s", cache_dir);
    if (n < 0 || (size_t)n >= cap) return cs_fail(err, CS_ELIMIT, "%s: path too long", cache_dir);
    return CS_OK;
}

cs_status cs_hub_hf_home(char *buf, size_t cap, cs_error *err) {
    const char *v;
    if ((v = cs_hub_env("HF_HOME"))) return join_env(buf, cap, v, "", err);
    if ((v = cs_hub_env("XDG_CACHE_HOME"))) return join_env(buf, cap, v, "/huggingface", err);
    if ((v = cs_hub_env("HOME"))) return join_env(buf, cap, v, "/.cache/huggingface", err);
    return cs_fail(err, CS_ENOTFOUND, "no Hugging Face cache: set HF_HOME or HOME");
}

/* The order of huggingface_hub's constants.py: HF_HUB_CACHE, the legacy
 * HUGGINGFACE_HUB_CACHE, then HF_HOME/hub. */
cs_status cs_hub_hf_cache_dir(char *buf, size_t cap, cs_error *err) {
    const char *v;
    if ((v = cs_hub_env("HF_HUB_CACHE"))) return join_env(buf, cap, v, "", err);
    if ((v = cs_hub_env("HUGGINGFACE_HUB_CACHE"))) return join_env(buf, cap, v, "", err);
    char home[4096];
    cs_status st = cs_hub_hf_home(home, sizeof home, err);
    if (st != CS_OK) return st;
    return join_env(buf, cap, home, "/hub", err);
}

int cs_hub_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

/* One part of a repo id: 1..96 name characters, no "--" or "..", not
 * starting or ending with '-' or '.' (the hub's own rules). */
static int valid_part(const char *s, size_t n) {
    if (n == 0 || n > 96) return 0;
    if (s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        if (!cs_hub_name_char(s[i])) return 0;
        if (i > 0 && (s[i] == '-' || s[i] == '.') && s[i - 1] == s[i]) return 0;
    }
    return 1;
}

int cs_hub_is_repo_id(const char *name) {
    if (!name) return 0;
    const char *slash = strchr(name, '/');
    if (!slash) return valid_part(name, strlen(name));
    if (strchr(slash + 1, '/')) return 0;
    return valid_part(name, (size_t)(slash - name)) && valid_part(slash + 1, strlen(slash + 1));
}

cs_status cs_hub_repo_folder(char *buf, size_t cap, const char *prefix, const char *repo_id,
                             cs_error *err) {
    if (!cs_hub_is_repo_id(repo_id))
        return cs_fail(err, CS_EINVAL, "'%s': not a Hugging Face repo id (like %s)", repo_id,
                       cs_hub_default_model());
    const char *slash = strchr(repo_id, '/');
    int n =
        slash ? snprintf(buf, cap, "%s%.*s--%s", prefix, (int)(slash - repo_id), repo_id, slash + 1)
              : snprintf(buf, cap, "%s%s", prefix, repo_id);
    if (n < 0 || (size_t)n >= cap) return cs_fail(err, CS_ELIMIT, "%s: name too long", repo_id);
    return CS_OK;
}

int cs_hub_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cs_hub_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_file(const char *dir, const char *name) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    return n > 0 && (size_t)n < sizeof path && cs_hub_is_file(path);
}

int cs_hub_model_usable(const char *dir) {
    return has_file(dir, "config.json") &&
           (has_file(dir, "model.safetensors") || has_file(dir, "model.safetensors.index.json") ||
            has_file(dir, "pytorch_model.bin"));
}

int cs_hub_join(char *buf, size_t cap, const char *dir, const char *name) {
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = 0; /* a truncated path must not name another file */
        return 0;
    }
    return 1;
}

int cs_hub_model_type(const char *dir, char *buf, size_t cap) {
    char path[4096];
    buf[0] = 0;
    if (!cs_hub_join(path, sizeof path, dir, "config.json")) return 0;
    json_t *config = json_load_file(path, 0, NULL);
    const char *type = json_string_value(json_object_get(config, "model_type"));
    int found = type && snprintf(buf, cap, "%s", type) > 0;
    json_decref(config);
    return found;
}
