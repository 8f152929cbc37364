/* hub/transfer.c - cs_hub_download: each planned file into FILE.part,
 * resumed after interruptions, checked, renamed into place; the manifest
 * after each file, marked complete at the end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file.h"
#include "hub/download.h"
#include "hub/hub_internal.h"

static int report(hub_dl *d, int force) {
    if (!d->opts->progress) return 0;
    if (!force && d->pos - d->reported < (64u << 10)) return 0;
    d->reported = d->pos;
    d->progress.file_done = d->pos;
    d->progress.all_done = d->done_before + d->pos;
    if (d->opts->progress(d->opts->progress_user, &d->progress)) d->cancelled = 1;
    return d->cancelled;
}

static int sink_begin(void *user, uint64_t start) {
    hub_dl *d = user;
    if (start == 0 && d->pos > 0) {
        /* The server sent the whole file instead of the rest. */
        cs_log(&d->log, CS_LOG_INFO, "%s: the server does not resume; starting over",
               d->progress.file);
        if (ftruncate(d->fd, 0) != 0) {
            d->write_errno = errno;
            return 1;
        }
        cs_sha256_init(&d->sha);
        d->pos = 0;
        d->wlen = 0;
        d->progress.resumed = 0;
    }
    /* What the server announces bounds what we take: a body that runs past
     * it (a broken or hostile server) is cut off, not written to disk. */
    if (!d->limit) d->limit = d->meta->linked_size ? d->meta->linked_size : d->meta->total;
    if (!d->progress.file_total && d->meta->total) {
        d->progress.all_total += d->meta->total;
        d->progress.file_total = d->meta->total;
    }
    return report(d, 1);
}

/* Writes n bytes at `at`; 1 (write_errno set) on failure. */
static int write_at(hub_dl *d, const uint8_t *p, size_t n, uint64_t at) {
    while (n) {
        ssize_t w = pwrite(d->fd, p, n, (off_t)at);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            d->write_errno = w < 0 ? errno : EIO;
            return 1;
        }
        p += w;
        n -= (size_t)w;
        at += (uint64_t)w;
    }
    return 0;
}

/* The pending bytes to the file. */
static int flush_pending(hub_dl *d) {
    size_t n = d->wlen;
    d->wlen = 0;
    return n && write_at(d, d->wbuf, n, d->pos - n);
}

/* The server's bytes go out in whole WRITE_PIECE pieces at multiples of it
 * (the first piece of a resumed file up to the next one): the page cache
 * then holds the weights in 2 MiB folios, and the first searches after a
 * download map them 2 MiB at a time, as they do once the file has been
 * read back from disk (cs_map_hint_huge; the cold search's figures in
 * docs/performance.md). Written as they come (16 kB at a time), the file
 * would sit in small folios until the cache dropped it. */
enum { WRITE_PIECE = 4 << 20 };

static int sink_data(void *user, const void *bytes, size_t size) {
    hub_dl *d = user;
    const uint8_t *p = bytes;
    size_t left = size;
    if (d->limit && (d->pos > d->limit || size > d->limit - d->pos)) {
        d->too_long = 1;
        return 1;
    }
    cs_sha256_update(&d->sha, p, size);
    if (!d->wbuf) {
        if (write_at(d, p, size, d->pos)) return 1;
        d->pos += size;
        return report(d, 0);
    }
    while (left) {
        uint64_t end = ((d->pos - d->wlen) / WRITE_PIECE + 1) * WRITE_PIECE;
        size_t take = end - d->pos < left ? (size_t)(end - d->pos) : left;
        memcpy(d->wbuf + d->wlen, p, take);
        d->wlen += take;
        d->pos += take;
        p += take;
        left -= take;
        if (d->pos == end && flush_pending(d)) return 1;
    }
    return report(d, 0);
}

/* One GET of the file into part, from where an earlier try stopped. */
static cs_status try_once(hub_dl *d, const hub_file *f, const char *part, const char *url,
                          uint64_t *started_at, cs_http_meta *meta, cs_error *err) {
    d->fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d->fd < 0) return cs_fail(err, CS_EIO, "%s: %s", part, strerror(errno));
    struct stat st;
    cs_status s = fstat(d->fd, &st) == 0 ? CS_OK : cs_fail(err, CS_EIO, "%s: stat failed", part);
    uint64_t have = s == CS_OK ? (uint64_t)st.st_size : 0;
    if (s == CS_OK && f->size && have > f->size) {
        if (ftruncate(d->fd, 0) != 0) s = cs_fail(err, CS_EIO, "%s: %s", part, strerror(errno));
        have = 0;
    }
    cs_sha256_init(&d->sha);
    if (s == CS_OK) s = cs_sha256_fd(&d->sha, d->fd, have, part, err);
    d->pos = have;
    d->write_errno = 0;
    d->limit = f->size;
    d->too_long = 0;
    d->progress.resumed = have > 0;
    *started_at = have;
    memset(meta, 0, sizeof *meta);
    d->meta = meta;
    if (s == CS_OK && have > 0)
        cs_log(&d->log, CS_LOG_INFO, "%s: resuming at byte %llu", f->local,
               (unsigned long long)have);
    if (s == CS_OK && !(f->size && have == f->size)) {
        cs_http_sink sink = {sink_begin, sink_data, d};
        d->wbuf = cs_alloc_huge(WRITE_PIECE); /* NULL: written as they come */
        d->wlen = 0;
        s = cs_http_get(d->http, url, have, &sink, meta, err);
        if (!d->write_errno) flush_pending(d); /* kept, whatever happened, to resume */
        free(d->wbuf);
        d->wbuf = NULL;
        d->wlen = 0;
        if (d->write_errno)
            s = cs_fail(err, CS_EIO, "%s: write: %s", part, strerror(d->write_errno));
        else if (d->too_long)
            s = cs_fail(err, CS_EMISMATCH,
                        "%s: size mismatch: the server sends more than the %llu bytes announced",
                        f->local, (unsigned long long)d->limit);
        else if (d->cancelled)
            s = cs_fail(err, CS_ENETWORK, "%s: download cancelled (kept %s to resume)", f->local,
                        part);
    }
    if (s == CS_OK && fsync(d->fd) != 0)
        s = cs_fail(err, CS_EIO, "%s: fsync: %s", part, strerror(errno));
    close(d->fd);
    d->fd = -1;
    /* nothing worth resuming, or bytes of something else than the file */
    if (s != CS_OK && (d->pos == 0 || d->too_long)) unlink(part);
    return s;
}

/* Size and sha256 of a finished part against what the hub announced. */
static cs_status verify(hub_dl *d, const hub_file *f, const cs_http_meta *meta, const char *part,
                        char sha_hex[65], cs_error *err) {
    uint8_t digest[32];
    cs_sha256_final(&d->sha, digest);
    cs_sha256_hex(digest, sha_hex);
    uint64_t want = f->size ? f->size : meta->linked_size ? meta->linked_size : meta->total;
    const char *want_sha = f->sha256;
    /* Without the API's sum, an LFS file's X-Linked-Etag is its sha256. */
    if (!want_sha[0] && meta->etag_linked && strlen(meta->etag) == 64 &&
        strspn(meta->etag, "0123456789abcdef") == 64)
        want_sha = meta->etag;
    cs_status s = CS_OK;
    if (want && d->pos != want)
        s = cs_fail(err, CS_EMISMATCH, "%s: size mismatch: got %llu bytes, expected %llu", f->local,
                    (unsigned long long)d->pos, (unsigned long long)want);
    else if (want_sha[0] && strcmp(want_sha, sha_hex) != 0)
        s = cs_fail(err, CS_EMISMATCH, "%s: sha256 mismatch: got %s, expected %s", f->local,
                    sha_hex, want_sha);
    if (s != CS_OK) unlink(part);
    return s;
}

static void backoff(int attempt) {
    struct timespec ts = {attempt / 2, (attempt % 2) * 500000000L};
    nanosleep(&ts, NULL);
}

static cs_status fetch_file(hub_dl *d, hub_file *f, char sha_hex[65], cs_error *err) {
    char final[4600], part[4700], url[2048], commit[400];
    cs_hub_join(final, sizeof final, d->dir, f->local);
    snprintf(part, sizeof part, "%s.part", final);
    cs_status s = cs_http_escape(d->http, d->commit, commit, sizeof commit, err);
    if (s != CS_OK) return s;
    snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", d->endpoint, d->repo, commit, f->name);
    int retries = d->opts->retries < 0 ? 0 : d->opts->retries == 0 ? 3 : d->opts->retries;
    d->progress.file = f->local;
    d->progress.file_total = f->size;
    d->progress.skipped = 0;
    int restarted = 0; /* a failed resume got its one fresh try */
    for (int attempt = 0;; attempt++) {
        uint64_t started_at = 0;
        cs_http_meta meta = {0};
        d->reported = 0;
        s = try_once(d, f, part, url, &started_at, &meta, err);
        int again = 0;
        if (s == CS_OK) {
            s = verify(d, f, &meta, part, sha_hex, err);
            /* A resumed part may hold bytes of another version of the file:
             * one fresh try from zero settles it, whatever the retries. */
            if (s == CS_EMISMATCH && started_at > 0 && !restarted) again = restarted = 1;
        } else if (meta.status == 416 && started_at > 0 && !restarted) {
            unlink(part); /* the part does not fit the file any more */
            again = restarted = 1;
        } else {
            again = meta.retryable && !d->cancelled && attempt < retries;
        }
        if (s == CS_OK || !again) break;
        if (restarted == 1) {
            cs_log(&d->log, CS_LOG_WARN, "%s; downloading it again from the start", err->message);
            restarted = 2;
        } else {
            cs_log(&d->log, CS_LOG_WARN, "%s; trying again (%d of %d)", err->message, attempt + 1,
                   retries);
        }
        backoff(attempt + 1);
    }
    if (s == CS_EMISMATCH) {
        char why[sizeof err->message];
        snprintf(why, sizeof why, "%s", err->message);
        return cs_fail(err, CS_EMISMATCH, "%s (%s): the download was deleted", why, url);
    }
    if (s != CS_OK) return s;
    if (rename(part, final) != 0)
        return cs_fail(err, CS_EIO, "%s: rename: %s", final, strerror(errno));
    d->progress.file_done = d->pos;
    report(d, 1);
    return CS_OK;
}

/* ---- the manifest --------------------------------------------------------- */

/* A file of the old manifest that is on disk with the size and sum the hub
 * announces now needs no new download. Files without a sum count only for
 * the same commit. */
static int already_have(const hub_dl *d, const hub_file *f, char sha_hex[65], uint64_t *have) {
    if (d->opts->force || !d->old_manifest) return 0;
    const char *old_commit = json_string_value(json_object_get(d->old_manifest, "commit"));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(d->old_manifest, "files"), i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!name || strcmp(name, f->local) != 0) continue;
        uint64_t size = (uint64_t)json_integer_value(json_object_get(e, "size"));
        const char *sha = json_string_value(json_object_get(e, "sha256"));
        if (f->size && size != f->size) return 0;
        if (f->sha256[0] ? !sha || strcmp(sha, f->sha256) != 0
                         : !old_commit || strcmp(old_commit, d->commit) != 0)
            return 0;
        char path[4600];
        struct stat st;
        cs_hub_join(path, sizeof path, d->dir, f->local);
        if (stat(path, &st) != 0 || (uint64_t)st.st_size != size) return 0;
        snprintf(sha_hex, 65, "%s", sha ? sha : "");
        *have = size;
        return 1;
    }
    return 0;
}

/* Written after each verified file (complete: false), so that a run cut
 * short keeps what it finished, and at the end (complete: true), which makes
 * the folder a model for cs_hub_resolve. */
static cs_status write_manifest(hub_dl *d, json_t *files, int complete, cs_error *err) {
    json_t *m = json_pack("{s:s, s:s, s:s, s:s, s:b, s:O, s:I}", "repo", d->repo, "revision",
                          d->revision, "commit", d->commit, "endpoint", d->endpoint, "complete",
                          complete, "files", files, "downloaded_at", (json_int_t)time(NULL));
    char *text = m ? json_dumps(m, JSON_INDENT(2)) : NULL;
    json_decref(m);
    if (!text) return cs_fail(err, CS_ENOMEM, "out of memory");
    char path[4200];
    cs_hub_join(path, sizeof path, d->dir, CS_HUB_MANIFEST);
    cs_status s = cs_write_file_atomic(path, text, strlen(text), err);
    free(text);
    return s;
}

/* Files of the previous download that this revision no longer has (e.g.
 * pytorch_model.bin once the branch has model.safetensors). */
static void remove_stale(hub_dl *d) {
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(d->old_manifest, "files"), i, e) {
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!name || !cs_hub_safe_name(name)) continue;
        int kept = 0;
        for (int k = 0; k < d->plan.n && !kept; k++) kept = !strcmp(d->plan.files[k].local, name);
        if (kept) continue;
        char path[4600];
        cs_hub_join(path, sizeof path, d->dir, name);
        if (unlink(path) == 0)
            cs_log(&d->log, CS_LOG_INFO, "removed %s (not in this revision)", name);
    }
}

/* Fails fast on a repo that is not a CLIP model, before its weights. */
static cs_status check_clip(hub_dl *d, cs_error *err) {
    char type[64];
    if (!cs_hub_model_type(d->dir, type, sizeof type) || !strcmp(type, "clip")) return CS_OK;
    return cs_fail(err, CS_EUNSUPPORTED,
                   "%s is a '%s' model, not CLIP (model_type \"clip\"): clipsearch needs a CLIP "
                   "model such as %s",
                   d->repo, type, cs_hub_default_model());
}

static cs_status run(hub_dl *d, cs_error *err) {
    cs_status s = cs_hub_fetch_info(d, err);
    if (s == CS_OK) s = cs_hub_plan_files(d->siblings, &d->plan, d->prefix, sizeof d->prefix, err);
    if (s != CS_OK) return s;
    /* No second copy of what transformers already downloaded. */
    if (!d->opts->force && cs_hub_in_hf_cache(d, d->result, sizeof d->result)) {
        cs_log(&d->log, CS_LOG_INFO, "%s (commit %s) is in the Hugging Face cache: %s", d->repo,
               d->commit, d->result);
        return CS_OK;
    }
    s = cs_hub_lock(d, err);
    if (s != CS_OK) return s;
    cs_log(&d->log, CS_LOG_INFO, "%s at %s (commit %s) into %s", d->repo, d->revision, d->commit,
           d->dir);
    char path[4300];
    cs_hub_join(path, sizeof path, d->dir, CS_HUB_MANIFEST);
    d->old_manifest = json_load_file(path, 0, NULL);
    /* Until the end, the folder is an unfinished download that
     * cs_hub_resolve does not return. */
    json_t *files = json_array();
    if (!files) return cs_fail(err, CS_ENOMEM, "out of memory");
    s = write_manifest(d, files, 0, err);
    for (int i = 0; i < d->plan.n; i++) d->progress.all_total += d->plan.files[i].size;
    for (int i = 0; i < d->plan.n && s == CS_OK; i++) {
        hub_file *f = &d->plan.files[i];
        char sha_hex[65] = "";
        d->progress.file_index = i;
        d->progress.n_files = d->plan.n;
        uint64_t have;
        if (already_have(d, f, sha_hex, &have)) {
            d->progress.file = f->local;
            d->progress.file_total = have;
            d->progress.skipped = 1;
            d->progress.resumed = 0;
            d->pos = have;
            report(d, 1);
        } else {
            s = fetch_file(d, f, sha_hex, err);
        }
        if (s == CS_OK && !strcmp(f->local, "config.json")) s = check_clip(d, err);
        if (s != CS_OK) break;
        /* Record the sum we computed: a later run skips what it vouches for
         * (only LFS files carry a sum from the hub to compare with). */
        json_array_append_new(files, json_pack("{s:s, s:I, s:s}", "name", f->local, "size",
                                               (json_int_t)d->pos, "sha256",
                                               f->sha256[0] ? f->sha256 : sha_hex));
        d->done_before += d->pos;
        d->pos = 0;
        s = write_manifest(d, files, 0, err);
        size_t len = strlen(f->local);
        if (len > 11 && !strcmp(f->local + len - 11, ".index.json")) {
            cs_hub_join(path, sizeof path, d->dir, f->local);
            int before = d->plan.n;
            if (s == CS_OK) s = cs_hub_plan_shards(path, d->siblings, d->prefix, &d->plan, err);
            for (int k = before; k < d->plan.n; k++) d->progress.all_total += d->plan.files[k].size;
        }
    }
    if (s == CS_OK) {
        remove_stale(d);
        s = write_manifest(d, files, 1, err);
    }
    json_decref(files);
    return s;
}

cs_status cs_hub_download(const char *repo_id, const cs_hub_opts *opts, char *out, size_t cap,
                          cs_error *err) {
    static const cs_hub_opts defaults = {0};
    hub_dl *d = calloc(1, sizeof *d);
    if (!d) return cs_fail(err, CS_ENOMEM, "out of memory");
    /* The steps below read back the message of a failure: they always get
     * an error to fill, whatever the caller passed. */
    cs_error e;
    cs_error_clear(&e);
    cs_status s = cs_hub_setup(repo_id, opts ? opts : &defaults, d, &e);
    if (s == CS_OK) s = run(d, &e);
    if (s == CS_ENOTFOUND && !d->info && !strchr(repo_id, '/')) {
        /* A bare name, as sentence-transformers takes it: its organisation's
         * repo ("clip-ViT-B-32", sentence-transformers' CLIP). */
        char st_name[300];
        cs_error e2;
        snprintf(st_name, sizeof st_name, "%s/%s", CS_HUB_ST_ORG, repo_id);
        cs_hub_teardown(d);
        if (cs_hub_setup(st_name, opts ? opts : &defaults, d, &e2) == CS_OK &&
            (s = run(d, &e2)) != CS_ENOTFOUND)
            e = e2;
        if (s == CS_ENOTFOUND) s = e.status;
    }
    if (s == CS_OK) {
        const char *dir = d->result[0] ? d->result : d->dir;
        int n = snprintf(out, cap, "%s", dir);
        if (n < 0 || (size_t)n >= cap) s = cs_fail(&e, CS_ELIMIT, "%s: path too long", dir);
    }
    cs_hub_teardown(d);
    free(d);
    if (err) *err = e;
    return s;
}
