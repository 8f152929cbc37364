/* tests/hub/test_api.c - cs_hub_download through the C API against the
 * local hub stand-in (hub_server.py): the progress contract (files counted,
 * bytes monotonic, totals reached, resumed flagged), cancelling from the
 * callback (the .part is kept and the next call resumes it), and calls
 * without an error struct. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/file.h"
#include "test.h"

static pid_t server;

static void stop_server(void) {
    if (server > 0) {
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
    }
    server = 0;
}

/* Starts the stand-in serving dir as repo; returns its endpoint. */
static const char *start_server(const char *tmp, const char *dir, const char *repo) {
    static char endpoint[64];
    char script[1024], port_file[512], log[512];
    snprintf(script, sizeof script, "%s/tests/hub/hub_server.py", getenv("CS_SOURCE_DIR"));
    snprintf(port_file, sizeof port_file, "%s/port", tmp);
    snprintf(log, sizeof log, "%s/log", tmp);
    const char *python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    server = fork();
    if (server == 0) {
        execlp(python, python, script, "--root", dir, "--repo", repo, "--port-file", port_file,
               "--log", log, "--lifetime", "300", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) { /* up to 30 s on a loaded machine */
        FILE *f = fopen(port_file, "r");
        int port = 0;
        if (f && fscanf(f, "%d", &port) == 1 && port > 0) {
            fclose(f);
            snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
            return endpoint;
        }
        if (f) fclose(f);
        usleep(50000);
    }
    return NULL;
}

typedef struct seen {
    int calls, files_seen, resumed_model, monotonic_broken, cancel_after;
    uint64_t last_all, all_total, all_done;
    int n_files;
} seen;

static int on_progress(void *user, const cs_hub_progress *p) {
    seen *s = user;
    s->calls++;
    if (p->all_done < s->last_all || p->file_done > p->file_total || p->all_done > p->all_total)
        s->monotonic_broken = 1;
    s->last_all = p->all_done;
    s->all_done = p->all_done;
    s->all_total = p->all_total;
    s->n_files = p->n_files;
    if (p->file_index + 1 > s->files_seen) s->files_seen = p->file_index + 1;
    if (!strcmp(p->file, "model.safetensors") && p->resumed) s->resumed_model = 1;
    return s->cancel_after && !strcmp(p->file, "model.safetensors") &&
           p->file_done > (uint64_t)s->cancel_after;
}

typedef struct listed {
    int count;
    char name[64], source[16], commit[64];
    uint64_t bytes;
} listed;

static int on_entry(void *user, const cs_hub_entry *e) {
    listed *l = user;
    l->count++;
    snprintf(l->name, sizeof l->name, "%s", e->name);
    snprintf(l->source, sizeof l->source, "%s", e->source);
    snprintf(l->commit, sizeof l->commit, "%s", e->commit);
    l->bytes = e->bytes;
    return 0;
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* kB of path mapped by PMDs once mapped (hinted, as the model is) and
 * prefaulted; -1 when unknown. */
static long pmd_kb(const char *path) {
    cs_map m;
    cs_error err;
    if (cs_map_file(path, &m, &err) != CS_OK || !m.data) return -1;
    cs_map_hint_huge(m.data, m.size);
    cs_prefault(m.data, m.size, 0);
    long kb = cs_test_pmd_mapped_kb(m.data);
    cs_unmap(&m);
    return kb;
}

/* The weights were written in whole 4 MiB pieces (transfer.c): the page
 * cache holds the 16 MB file's whole pieces after the resumed part (from
 * 8 MiB) in 2 MiB folios, mapped by PMDs - where a control file written
 * with 4 MiB write() calls in the same folder is (else the kernel or file
 * system does not do this, and there is nothing to check). */
static void check_large_folios(const char *tmp, const char *model_dir) {
    char control[600], weights[1200];
    snprintf(control, sizeof control, "%s/control.bin", tmp);
    snprintf(weights, sizeof weights, "%s/model.safetensors", model_dir);
    int fd = open(control, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    char *buf = calloc(1, 4u << 20);
    for (int i = 0; fd >= 0 && buf && i < 4; i++) CHECK(write(fd, buf, 4u << 20) == 4 << 20);
    free(buf);
    if (fd >= 0) close(fd);
    long base = pmd_kb(control);
    unlink(control);
    if (base <= 0) {
        printf("note: this kernel or file system maps no file with PMDs (%ld kB)\n", base);
        return;
    }
    long got = pmd_kb(weights);
    CHECK_MSG(got >= 4096, "downloaded weights: %ld kB mapped by PMDs (control: %ld)", got, base);
}

int main(void) {
    const char *src = cs_test_oracle_path("models/tiny");
    char src_dir[1024], tmp[256], cache[512], out[1024], path[1200];
    snprintf(src_dir, sizeof src_dir, "%s", src);
    snprintf(tmp, sizeof tmp, "%s", cs_test_tmpdir());
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    snprintf(path, sizeof path, "%s/hf", tmp); /* an empty Hugging Face cache */
    setenv("HF_HOME", path, 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_TOKEN");
    unsetenv("HF_HUB_OFFLINE");
    setenv("NO_PROXY", "127.0.0.1", 1);
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("ALL_PROXY");

    /* Without an error struct: no crash, the status still tells. */
    CHECK_EQ_INT(cs_hub_download("../x", NULL, out, sizeof out, NULL), CS_EINVAL);

    const char *endpoint = start_server(tmp, src_dir, "t/tiny");
    if (!endpoint) {
        stop_server();
        printf("SKIP: the hub stand-in did not start (python3?)\n");
        return 77;
    }
    cs_error err;
    seen s = {.cancel_after = 4000000};
    cs_hub_opts o = {
        .cache_dir = cache, .endpoint = endpoint, .progress = on_progress, .progress_user = &s};
    /* Cancelled from the callback: fails, keeps the part. */
    cs_status st = cs_hub_download("t/tiny", &o, out, sizeof out, &err);
    CHECK_EQ_INT(st, CS_ENETWORK);
    CHECK_MSG(strstr(err.message, "cancelled") != NULL, "%s", err.message);
    snprintf(path, sizeof path, "%s/t--tiny/model.safetensors.part", cache);
    CHECK_MSG(file_size(path) > 4000000, "part of %llu bytes", (unsigned long long)file_size(path));
    CHECK(!s.monotonic_broken);
    CHECK_EQ_INT(cs_hub_resolve("t/tiny", cache, out, sizeof out, &err), CS_ENOTFOUND);

    /* Again: resumes, and the totals add up to the files' sizes. */
    seen s2 = {0};
    o.progress_user = &s2;
    CHECK_OK(cs_hub_download("t/tiny", &o, out, sizeof out, &err), &err);
    snprintf(path, sizeof path, "%s/t--tiny", cache);
    CHECK(!strcmp(out, path));
    CHECK(s2.resumed_model);
    CHECK(!s2.monotonic_broken);
    CHECK_EQ_INT(s2.n_files, 8);
    CHECK_EQ_INT(s2.files_seen, 8);
    uint64_t total = 0;
    const char *names[] = {
        "config.json", "preprocessor_config.json", "tokenizer.json",          "vocab.json",
        "merges.txt",  "tokenizer_config.json",    "special_tokens_map.json", "model.safetensors"};
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof path, "%s/%s", src_dir, names[i]);
        total += file_size(path);
    }
    CHECK_EQ_INT(s2.all_total, total);
    CHECK_EQ_INT(s2.all_done, total);
    char resolved[1024];
    CHECK_OK(cs_hub_resolve("t/tiny", cache, resolved, sizeof resolved, &err), &err);
    CHECK(!strcmp(resolved, out));
    check_large_folios(tmp, out);

    /* The list: one model of ours, with its commit and size. */
    listed l = {0};
    CHECK_OK(cs_hub_list(cache, on_entry, &l, &err), &err);
    CHECK_EQ_INT(l.count, 1);
    CHECK(!strcmp(l.name, "t/tiny") && !strcmp(l.source, "clipsearch"));
    CHECK_EQ_INT(strlen(l.commit), 40);
    CHECK_EQ_INT(l.bytes, total);
    stop_server();
    char rm[400];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmp);
    CHECK(system(rm) == 0);
    return cs_test_done("test_api");
}
