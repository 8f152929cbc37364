/* hub/resolve.c - model names to local folders (no network), and the list
 * of what the caches hold. */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "hub/hub_internal.h"

static int copy_out(char *out, size_t cap, const char *s) {
    int n = snprintf(out, cap, "%s", s);
    return n >= 0 && (size_t)n < cap;
}

/* dir itself, or its sentence-transformers sub-folder, when usable. */
static int usable_model_dir(const char *dir, char *out, size_t cap) {
    if (cs_hub_model_usable(dir)) return copy_out(out, cap, dir);
    char sub[4096];
    if (cs_hub_join(sub, sizeof sub, dir, CS_HUB_ST_SUBDIR) && cs_hub_model_usable(sub))
        return copy_out(out, cap, sub);
    return 0;
}

/* Reads a small text file (a ref: a commit id) without its trailing
 * whitespace. */
static int read_ref(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = 0;
    return n > 0 && !strchr(buf, '/');
}

/* The snapshot of a Hugging Face cache repo folder: refs/main's commit, else
 * the most recently modified complete snapshot (a cache copied without its
 * refs, or one that only ever held a pinned commit). commit gets its id. */
static int hf_snapshot(const char *repo_dir, char *out, size_t cap, char *commit, size_t ccap,
                       int *via_ref) {
    char path[4096], ref[256];
    *via_ref = 0;
    snprintf(path, sizeof path, "%s/refs/main", repo_dir);
    if (read_ref(path, ref, sizeof ref)) {
        snprintf(path, sizeof path, "%s/snapshots/%s", repo_dir, ref);
        if (usable_model_dir(path, out, cap)) {
            snprintf(commit, ccap, "%s", ref);
            *via_ref = 1;
            return 1;
        }
    }
    snprintf(path, sizeof path, "%s/snapshots", repo_dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    time_t best_time = 0;
    int found = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char snap[4096], model[4096];
        struct stat st;
        cs_hub_join(snap, sizeof snap, path, e->d_name);
        if (stat(snap, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        if (!usable_model_dir(snap, model, sizeof model)) continue;
        if (found && st.st_mtime <= best_time) continue;
        if (!copy_out(out, cap, model)) continue;
        snprintf(commit, ccap, "%s", e->d_name);
        best_time = st.st_mtime;
        found = 1;
    }
    closedir(d);
    return found;
}

/* Our cache: the folder counts once its manifest says it is complete. */
static int ours_complete(const char *dir) {
    char path[4096];
    if (!cs_hub_join(path, sizeof path, dir, CS_HUB_MANIFEST) || !cs_hub_model_usable(dir))
        return 0;
    json_t *m = json_load_file(path, 0, NULL);
    int complete = json_is_true(json_object_get(m, "complete"));
    json_decref(m);
    return complete;
}

/* A repo id in our cache, then in the Hugging Face cache; 0 if in neither.
 * ours_dir and hf get the places looked in, for the message. */
static int find_cached(const char *name, const char *ours, char *out, size_t cap, char *ours_dir,
                       size_t ocap, char *hf, size_t hcap) {
    char folder[512], hf_repo[4096], commit[256];
    cs_error ignored;
    int via_ref;
    ours_dir[0] = 0;
    if (cs_hub_repo_folder(folder, sizeof folder, "", name, &ignored) != CS_OK) return 0;
    cs_hub_join(ours_dir, ocap, ours, folder);
    if (ours_complete(ours_dir)) return copy_out(out, cap, ours_dir);
    if (cs_hub_hf_cache_dir(hf, hcap, &ignored) != CS_OK) {
        snprintf(hf, hcap, "(no Hugging Face cache)");
        return 0;
    }
    cs_hub_repo_folder(folder, sizeof folder, "models--", name, &ignored);
    cs_hub_join(hf_repo, sizeof hf_repo, hf, folder);
    return hf_snapshot(hf_repo, out, cap, commit, sizeof commit, &via_ref);
}

cs_status cs_hub_resolve(const char *name, const char *cache_dir, char *out, size_t cap,
                         cs_error *err) {
    if (!name || !*name) name = cs_hub_default_model();
    if (cs_hub_is_dir(name)) {
        /* A folder is taken as it is; the model loader names what it lacks. */
        if (!usable_model_dir(name, out, cap) && !copy_out(out, cap, name))
            return cs_fail(err, CS_ELIMIT, "%s: path too long", name);
        return CS_OK;
    }
    if (!cs_hub_is_repo_id(name))
        return cs_fail(err, CS_EINVAL, "'%s': no such folder, and not a model name like %s", name,
                       cs_hub_default_model());
    char ours[4096], dir[4096], hf[4096];
    cs_status st = cs_hub_cache_root(cache_dir, ours, sizeof ours, err);
    if (st != CS_OK) return st;
    char found[4096];
    int hit = find_cached(name, ours, found, sizeof found, dir, sizeof dir, hf, sizeof hf);
    /* A bare name, as sentence-transformers takes it ("clip-ViT-B-32", the
     * model of the usual sentence-transformers pipeline): its organisation's repo. */
    if (!hit && !strchr(name, '/')) {
        char st_name[300], st_dir[4096], st_hf[4096];
        snprintf(st_name, sizeof st_name, "%s/%s", CS_HUB_ST_ORG, name);
        hit = find_cached(st_name, ours, found, sizeof found, st_dir, sizeof st_dir, st_hf,
                          sizeof st_hf);
    }
    if (hit) {
        if (!copy_out(out, cap, found)) return cs_fail(err, CS_ELIMIT, "%s: path too long", found);
        return CS_OK;
    }
    return cs_fail(err, CS_ENOTFOUND, "model %s is not downloaded (looked in %s/ and %s/)", name,
                   dir, hf);
}

/* ---- listing ---------------------------------------------------------------- */

static uint64_t folder_bytes(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        struct stat st;
        cs_hub_join(path, sizeof path, dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names of a folder's entries (no dot files); NULL if absent. */
static char **sorted_entries(const char *dir, size_t *count) {
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    size_t cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*count == cap) {
            char **grown = realloc(names, 2 * cap * sizeof *names);
            if (!grown) break;
            names = grown;
            cap *= 2;
        }
        if ((names[*count] = strdup(e->d_name))) (*count)++;
    }
    closedir(d);
    if (names) qsort(names, *count, sizeof *names, cmp_names);
    return names;
}

static void free_entries(char **names, size_t count) {
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
}

/* "ORG--NAME" back to "ORG/NAME". */
static void folder_to_repo(const char *folder, char *buf, size_t cap) {
    const char *sep = strstr(folder, "--");
    if (sep)
        snprintf(buf, cap, "%.*s/%s", (int)(sep - folder), folder, sep + 2);
    else
        snprintf(buf, cap, "%s", folder);
}

static int list_ours(const char *root, int (*fn)(void *, const cs_hub_entry *), void *user) {
    size_t n;
    char **names = sorted_entries(root, &n);
    int stop = 0;
    for (size_t i = 0; i < n && !stop; i++) {
        char dir[4096], manifest[4200], repo[512];
        cs_hub_join(dir, sizeof dir, root, names[i]);
        if (!ours_complete(dir)) continue;
        cs_hub_join(manifest, sizeof manifest, dir, CS_HUB_MANIFEST);
        json_t *m = json_load_file(manifest, 0, NULL);
        folder_to_repo(names[i], repo, sizeof repo);
        const char *r = json_string_value(json_object_get(m, "repo"));
        const char *rev = json_string_value(json_object_get(m, "revision"));
        const char *commit = json_string_value(json_object_get(m, "commit"));
        cs_hub_entry e = {r ? r : repo,     dir, "clipsearch", rev ? rev : "", commit ? commit : "",
                          folder_bytes(dir)};
        stop = fn(user, &e);
        json_decref(m);
    }
    free_entries(names, n);
    return stop;
}

static void list_hf(const char *root, int (*fn)(void *, const cs_hub_entry *), void *user) {
    size_t n;
    char **names = sorted_entries(root, &n);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "models--", 8) != 0) continue;
        char repo_dir[4096], model[4096], commit[256], repo[512];
        int via_ref;
        cs_hub_join(repo_dir, sizeof repo_dir, root, names[i]);
        if (!hf_snapshot(repo_dir, model, sizeof model, commit, sizeof commit, &via_ref)) continue;
        /* The Hugging Face cache holds every kind of model: list CLIP ones. */
        char type[64];
        if (!cs_hub_model_type(model, type, sizeof type) || strcmp(type, "clip") != 0) continue;
        folder_to_repo(names[i] + 8, repo, sizeof repo);
        cs_hub_entry e = {
            repo, model, "huggingface", via_ref ? "main" : "", commit, folder_bytes(model)};
        if (fn(user, &e)) break;
    }
    free_entries(names, n);
}

cs_status cs_hub_list(const char *cache_dir, int (*fn)(void *user, const cs_hub_entry *entry),
                      void *user, cs_error *err) {
    char ours[4096], hf[4096];
    cs_status st = cs_hub_cache_root(cache_dir, ours, sizeof ours, err);
    if (st != CS_OK) return st;
    if (list_ours(ours, fn, user)) return CS_OK;
    cs_error ignored;
    if (cs_hub_hf_cache_dir(hf, sizeof hf, &ignored) == CS_OK) list_hf(hf, fn, user);
    return CS_OK;
}
