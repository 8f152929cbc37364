/* The indexing pipeline with a synthetic "model": folder walk rules (hidden,
 * excludes, symlinks, images by content or extension), incremental runs
 * (unchanged, touched, modified, renamed, copied, deleted, broken), stopping
 * after a batch and resuming without duplicates, the precision each row
 * records (embedded, reused, copied within a batch, stored by cs_db_put)
 * and the column added to a database that lacks it. The synthetic format:
 * "SYNI" + u32 payload length + payload; its embedding is a fixed function
 * of the payload bytes, computed independently here to check stored rows. */
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/db_internal.h"
#include "index/indexer.h"
#include "test.h"

#define DIM 6

static int embed_calls, embedded_rows;
static int first_more; /* the `more` hint of a run's first embed call (-1: none yet) */
/* be->ready: called for each batch with files to embed, before embed (which
 * checks and clears ready_pending); fails when ready_fails is set */
static int ready_calls, ready_pending, ready_fails;

static int syn_is_image(const uint8_t *head, size_t n) {
    return n >= 4 && !memcmp(head, "SYNI", 4);
}

static void payload_vector(const uint8_t *p, size_t n, float *v) {
    for (int j = 0; j < DIM; j++) v[j] = 0.5f;
    for (size_t i = 0; i < n; i++) v[i % DIM] += (float)p[i] * (float)(1 + i % 5);
}

static cs_status syn_prepare(void *user, const void *data, size_t size, const char *name,
                             float *input, int *w, int *h, cs_error *err) {
    (void)user;
    const uint8_t *b = data;
    if (size < 8 || memcmp(b, "SYNI", 4) != 0)
        return cs_fail(err, CS_EFORMAT, "%s: not a synthetic image", name);
    uint32_t len;
    memcpy(&len, b + 4, 4);
    if (size != 8 + (size_t)len) return cs_fail(err, CS_EFORMAT, "%s: truncated", name);
    payload_vector(b + 8, len, input);
    *w = (int)len;
    *h = 1;
    return CS_OK;
}

static cs_status syn_ready(void *user, int n, int more, cs_error *err) {
    (void)user;
    CHECK(n > 0 && more >= 0);
    ready_calls++;
    ready_pending = 1;
    return ready_fails ? cs_fail(err, CS_ENOMEM, "synthetic: no room for the model") : CS_OK;
}

static cs_status syn_embed(void *user, const float *in, int n, int more, float *out,
                           cs_error *err) {
    (void)user;
    (void)err;
    CHECK(ready_pending); /* readied for this batch */
    ready_pending = 0;
    if (first_more < 0) first_more = more;
    embed_calls++;
    embedded_rows += n;
    memcpy(out, in, (size_t)n * DIM * sizeof(float));
    return CS_OK;
}

/* what the synthetic model says its embeddings were computed at */
static const char *syn_prec = "int8";

static const char *syn_precision(void *user) {
    (void)user;
    return syn_prec;
}

static char root[512];

static void write_file(const char *rel, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    if (system(cmd) != 0) exit(1);
    *slash = '/';
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
}

static void write_syn(const char *rel, const char *payload) {
    uint8_t buf[256];
    uint32_t len = (uint32_t)strlen(payload);
    memcpy(buf, "SYNI", 4);
    memcpy(buf + 4, &len, 4);
    memcpy(buf + 8, payload, len);
    write_file(rel, buf, 8 + len);
}

/* root + "/" + rel; four buffers in turn, so two calls may share a line */
static const char *at(const char *rel) {
    static char paths[4][1024];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, 1024, "%s/%s", root, rel);
    return path;
}

typedef struct errors {
    int n;
    char paths[32][1024];
} errors;

static void on_error(void *user, const char *path, const cs_error *e) {
    errors *er = user;
    if (er->n < 32) snprintf(er->paths[er->n++], 1024, "%s", path);
    CHECK(e->status != CS_OK && e->message[0]);
}

static int stop_after = -1, last_phase = -1;

static int on_progress(void *user, const cs_index_progress *p) {
    (void)user;
    last_phase = (int)p->phase;
    CHECK(p->processed <= p->to_process || p->phase == CS_INDEX_WALK);
    return stop_after >= 0 && p->phase == CS_INDEX_EMBED && p->processed >= stop_after;
}

static cs_index_stats run_index(cs_db *db, const cs_index_opts *extra, errors *er) {
    /* two threads read, hash and decode, as the program does */
    static cs_pool *pool;
    if (!pool) pool = cs_pool_create(2);
    cs_index_backend be = {.input_floats = DIM,
                           .is_image = syn_is_image,
                           .prepare = syn_prepare,
                           .embed = syn_embed,
                           .ready = syn_ready,
                           .precision = syn_precision,
                           .pool = pool};
    cs_index_opts o = {0};
    if (extra) o = *extra;
    o.on_error = on_error;
    o.error_user = er;
    o.progress = on_progress;
    memset(er, 0, sizeof *er);
    const char *roots[] = {root};
    cs_index_stats st;
    cs_error err;
    embedded_rows = 0;
    first_more = -1;
    CHECK_OK(cs_index_run(db, &be, roots, 1, &o, &st, &err), &err);
    CHECK_EQ_INT(last_phase, CS_INDEX_DONE);
    CHECK_EQ_INT(st.embedded, embedded_rows);
    return st;
}

static int64_t count(cs_db *db) {
    cs_db_info info;
    cs_error err;
    CHECK_OK(cs_db_get_info(db, &info, &err), &err);
    return info.count;
}

static int64_t id_of(cs_db *db, const char *rel) {
    int64_t id = -1;
    cs_error err;
    cs_db_find(db, at(rel), &id, &err);
    return id;
}

/* After a run the vector file is current: a new reader maps it, and it holds
 * the rows the database holds. */
static void check_vector_file(const char *dbpath, cs_db *db) {
    cs_db_opts o = {.flags = CS_DB_READONLY};
    cs_db *r = NULL;
    cs_error err;
    CHECK_OK(cs_db_open(dbpath, &o, &r, &err), &err);
    if (!r) return;
    cs_vecs *v = NULL;
    CHECK_OK(cs_db_vectors(r, &v, &err), &err);
    CHECK(v && v->source == VECS_FILE);
    if (v) CHECK_EQ_INT(cs_vecs_count(v), count(db));
    cs_vecs_release(v);
    cs_db_close(r);
}

static void check_vector(cs_db *db, const char *rel, const char *payload) {
    float want[DIM], got[DIM];
    payload_vector((const uint8_t *)payload, strlen(payload), want);
    cs_db_normalize(want, DIM);
    cs_error err;
    int64_t id = id_of(db, rel);
    CHECK_MSG(id >= 0, "%s not indexed", rel);
    if (id < 0) return;
    CHECK_OK(cs_db_get_vector(db, id, got, &err), &err);
    for (int j = 0; j < DIM; j++) CHECK_MSG(fabsf(got[j] - want[j]) < 1e-6, "%s[%d]", rel, j);
}

/* The precision stored with row id ("-" where none is, "?" for no row). */
static const char *precision_at(cs_db *db, int64_t id) {
    static char out[32];
    snprintf(out, sizeof out, "?");
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT precision FROM images WHERE id = ?", -1, &s, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(s, 1, id);
        if (sqlite3_step(s) == SQLITE_ROW) {
            const char *p = (const char *)sqlite3_column_text(s, 0);
            snprintf(out, sizeof out, "%s", p ? p : "-");
        }
    }
    sqlite3_finalize(s);
    return out;
}

static const char *precision_of(cs_db *db, const char *rel) {
    return precision_at(db, id_of(db, rel));
}

/* cs_db_precisions as "int8 4, fp32 1" ("-" for rows without one). */
static const char *precisions(cs_db *db) {
    static char out[256];
    cs_db_precision p[8];
    int n = -1;
    cs_error err;
    CHECK_OK(cs_db_precisions(db, p, 8, &n, &err), &err);
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && i < 8; i++)
        len += (size_t)snprintf(out + len, sizeof out - len, "%s%s %lld", i ? ", " : "",
                                p[i].name ? p[i].name : "-", (long long)p[i].count);
    return out;
}

/* A database made before rows recorded a precision (the column dropped):
 * read-only, every row counts as not recorded; opened to write, it gets the
 * column, and new rows record theirs. */
static void check_old_database(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/old.db", dir);
    cs_db_opts o = {.model_id = "syn", .dim = DIM, .flags = CS_DB_CREATE};
    cs_db *db = NULL;
    cs_error err;
    float v[DIM] = {1, 2, 3, 4, 5, 6};
    cs_db_entry e[2] = {{.path = "/x/one.syn", .size = 1, .embedding = v},
                        {.path = "/x/two.syn", .size = 2, .embedding = v}};
    e[1].hash[0] = 1;
    CHECK_OK(cs_db_open(path, &o, &db, &err), &err);
    if (!db) return;
    CHECK_OK(cs_db_put(db, e, 2, &err), &err);
    CHECK_STR_EQ(precisions(db), "- 2"); /* cs_db_put records none */
    CHECK_OK(cs_db_exec(db, "DROP INDEX images_precision; ALTER TABLE images DROP COLUMN precision",
                        &err),
             &err);
    cs_db_close(db);

    cs_db_opts ro = {.flags = CS_DB_READONLY};
    CHECK_OK(cs_db_open(path, &ro, &db, &err), &err);
    if (!db) return;
    CHECK(!db->has_precision);
    CHECK_STR_EQ(precisions(db), "- 2");
    cs_db_close(db);

    cs_db_opts rw = {0};
    CHECK_OK(cs_db_open(path, &rw, &db, &err), &err);
    if (!db) return;
    CHECK(db->has_precision);
    CHECK_STR_EQ(precisions(db), "- 2");
    cs_db_entry three = {.path = "/x/three.syn", .size = 3, .embedding = v};
    three.hash[0] = 3;
    CHECK_OK(cs_db_begin(db, &err), &err);
    CHECK_OK(cs_db_put_one(db, &three, "bf16", &err), &err);
    CHECK_OK(cs_db_commit(db, &err), &err);
    CHECK_STR_EQ(precisions(db), "- 2, bf16 1");
    /* a row written through another handle (another process) counts too */
    cs_db *other = NULL;
    CHECK_OK(cs_db_open(path, &rw, &other, &err), &err);
    if (!other) return;
    cs_db_entry four = {.path = "/x/four.syn", .size = 4, .embedding = v};
    four.hash[0] = 4;
    CHECK_OK(cs_db_begin(other, &err), &err);
    CHECK_OK(cs_db_put_one(other, &four, "int8", &err), &err);
    CHECK_OK(cs_db_commit(other, &err), &err);
    cs_db_close(other);
    CHECK_STR_EQ(precisions(db), "- 2, bf16 1, int8 1");
    /* room for one: the first, and how many there are */
    cs_db_precision one[1];
    int n = 0;
    CHECK_OK(cs_db_precisions(db, one, 1, &n, &err), &err);
    CHECK_EQ_INT(n, 3);
    CHECK(one[0].name == NULL && one[0].count == 2);
    cs_db_close(db);
}

static int has_error(const errors *er, const char *rel) {
    for (int i = 0; i < er->n; i++)
        if (!strcmp(er->paths[i], at(rel))) return 1;
    return 0;
}

int main(void) {
    const char *dir = cs_test_tmpdir();
    snprintf(root, sizeof root, "%s/photos", dir);
    write_syn("a.syn", "alpha");
    write_syn("b.syn", "bravo bravo");
    write_syn("sub/c.syn", "charlie");
    write_syn(".hidden/d.syn", "delta");
    write_syn(".e.syn", "echo");
    write_file("notes.txt", "just text", 9);
    write_file("broken.jpg", "<html>not a jpeg</html>", 23);
    write_file("trunc.syn", "SYNI\x40\0\0\0abc", 11);
    write_syn("skip/f.syn", "foxtrot");
    write_syn("g.tmp", "golf");
    write_syn("noext", "no extension, found by content");
    CHECK(symlink(at("b.syn"), at("link.syn")) == 0);
    CHECK(symlink(at("sub"), at("dirlink")) == 0);

    char dbpath[600];
    snprintf(dbpath, sizeof dbpath, "%s/cat.db", dir);
    cs_db_opts dbo = {.model_id = "syn", .dim = DIM, .flags = CS_DB_CREATE};
    cs_db *db = NULL;
    cs_error err;
    CHECK_OK(cs_db_open(dbpath, &dbo, &db, &err), &err);
    if (!db) return cs_test_done("index.indexer");

    const char *excludes[] = {"skip", "*.tmp"};
    cs_index_opts o = {.excludes = excludes, .n_excludes = 2, .batch_size = 2};
    errors er;

    /* first run: a, b, c, noext embedded; broken.jpg and trunc.syn reported */
    cs_index_stats st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.found, 6);
    CHECK_EQ_INT(st.embedded, 4);
    CHECK_EQ_INT(st.failed, 2);
    CHECK_EQ_INT(er.n, 2);
    CHECK(has_error(&er, "broken.jpg") && has_error(&er, "trunc.syn"));
    CHECK_EQ_INT(count(db), 4);
    check_vector(db, "a.syn", "alpha");
    check_vector(db, "sub/c.syn", "charlie");
    check_vector(db, "noext", "no extension, found by content");
    CHECK(id_of(db, ".e.syn") < 0 && id_of(db, "g.tmp") < 0 && id_of(db, "skip/f.syn") < 0);
    cs_db_image img;
    CHECK_OK(cs_db_get(db, id_of(db, "b.syn"), &img, &err), &err);
    CHECK_EQ_INT(img.width, 11); /* the synthetic "width" is the payload length */
    cs_db_image_clear(&img);
    CHECK_STR_EQ(precisions(db), "int8 4");

    check_vector_file(dbpath, db);

    /* second run: nothing to embed */
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.embedded, 0);
    CHECK_EQ_INT(st.unchanged, 4);
    CHECK_EQ_INT(st.failed, 2);

    /* rename and copy: vectors reused, the old path dropped; their rows keep
     * the precision of the embeddings they reuse */
    syn_prec = "fp32";
    int64_t id_a = id_of(db, "a.syn");
    CHECK(rename(at("a.syn"), at("a2.syn")) == 0);
    write_syn("sub/b_copy.syn", "bravo bravo");
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.embedded, 0);
    CHECK_EQ_INT(st.reused, 2);
    CHECK_EQ_INT(st.removed, 1);
    CHECK(id_of(db, "a.syn") < 0);
    CHECK(id_of(db, "a2.syn") >= 0 && id_of(db, "a2.syn") != id_a);
    check_vector(db, "a2.syn", "alpha");
    check_vector(db, "sub/b_copy.syn", "bravo bravo");
    CHECK_EQ_INT(count(db), 5);
    CHECK_STR_EQ(precision_of(db, "a2.syn"), "int8");
    CHECK_STR_EQ(precision_of(db, "sub/b_copy.syn"), "int8");

    /* touched (same bytes, new mtime): no embedding, then fully unchanged */
    struct timespec times[2] = {{0, UTIME_NOW}, {1000000000, 0}};
    CHECK(utimensat(AT_FDCWD, at("b.syn"), times, 0) == 0);
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.embedded, 0);
    CHECK_EQ_INT(st.unchanged, 5);
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.unchanged, 5);

    /* modified: embedded again under the same id */
    int64_t id_c = id_of(db, "sub/c.syn");
    write_syn("sub/c.syn", "charlie, changed to something longer");
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.embedded, 1);
    CHECK_EQ_INT(id_of(db, "sub/c.syn"), id_c);
    check_vector(db, "sub/c.syn", "charlie, changed to something longer");
    CHECK_STR_EQ(precision_of(db, "sub/c.syn"), "fp32");
    CHECK_STR_EQ(precisions(db), "int8 4, fp32 1");

    /* changed into a broken file: reported, and its old row dropped */
    write_file("sub/c.syn", "SYNI\x10\0\0\0short", 13);
    st = run_index(db, &o, &er);
    CHECK(has_error(&er, "sub/c.syn"));
    CHECK(id_of(db, "sub/c.syn") < 0);
    CHECK_EQ_INT(count(db), 4);

    /* deleted */
    CHECK(unlink(at("sub/c.syn")) == 0);
    CHECK(unlink(at("noext")) == 0);
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.removed, 1);
    CHECK_EQ_INT(count(db), 3);

    /* two identical new files in one batch: embedded once, and the copy
     * records the precision of the embedding it shares */
    syn_prec = "bf16";
    write_syn("new/x1.syn", "xray");
    write_syn("new/x2.syn", "xray");
    o.batch_size = 8; /* with broken.jpg and trunc.syn, which fail every run */
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.embedded, 1);
    CHECK_EQ_INT(st.reused, 1);
    check_vector(db, "new/x2.syn", "xray");
    CHECK_STR_EQ(precision_of(db, "new/x1.syn"), "bf16");
    CHECK_STR_EQ(precision_of(db, "new/x2.syn"), "bf16");
    CHECK_STR_EQ(precisions(db), "int8 3, bf16 2");

    /* stopped after the first batch, then resumed: each file exactly once */
    char name[64], payload[64];
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof name, "many/m%d.syn", i);
        snprintf(payload, sizeof payload, "payload number %d", i);
        write_syn(name, payload);
    }
    int64_t before = count(db);
    o.batch_size = 4;
    stop_after = 1;
    st = run_index(db, &o, &er);
    stop_after = -1;
    CHECK(st.stopped);
    int64_t first = st.embedded; /* the first batch also holds a broken file */
    CHECK(first > 0 && first < 9);
    /* the backend heard that more files were to come after the first 4 */
    CHECK(first_more >= 9 - 4);
    CHECK_EQ_INT(count(db), before + first);
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.embedded, 9 - first);
    CHECK_EQ_INT(count(db), before + 9);
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof name, "many/m%d.syn", i);
        snprintf(payload, sizeof payload, "payload number %d", i);
        check_vector(db, name, payload);
    }

    check_vector_file(dbpath, db);

    /* a backend that cannot ready its model: the run fails with its error
     * and stores nothing; the next run embeds the file */
    write_syn("many/late.syn", "a late arrival");
    before = count(db);
    ready_fails = 1;
    int calls = ready_calls;
    cs_index_backend fb = {.input_floats = DIM,
                           .is_image = syn_is_image,
                           .prepare = syn_prepare,
                           .embed = syn_embed,
                           .ready = syn_ready};
    const char *one_root[] = {root};
    CHECK_EQ_INT(cs_index_run(db, &fb, one_root, 1, NULL, NULL, &err), CS_ENOMEM);
    CHECK(strstr(err.message, "no room for the model") != NULL);
    CHECK_EQ_INT(ready_calls, calls + 1);
    CHECK_EQ_INT(count(db), before);
    ready_fails = ready_pending = 0;
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.embedded, 1);
    CHECK_EQ_INT(count(db), before + 1);
    check_vector(db, "many/late.syn", "a late arrival");

    /* following symlinks: the linked file and folder are found (by hash,
     * no new embedding), and a link loop does not hang the walk */
    CHECK(symlink(root, at("many/loop")) == 0);
    o.follow_symlinks = 1;
    st = run_index(db, &o, &er);
    CHECK_EQ_INT(st.embedded, 0);
    CHECK(id_of(db, "link.syn") >= 0);
    o.follow_symlinks = 0;
    st = run_index(db, &o, &er);
    CHECK(id_of(db, "link.syn") < 0);

    /* a root that does not exist is an error, not an empty run */
    cs_index_backend be = {.input_floats = DIM, .prepare = syn_prepare, .embed = syn_embed};
    const char *missing[] = {at("no/such/folder")};
    CHECK(cs_index_run(db, &be, missing, 1, NULL, NULL, &err) == CS_ENOTFOUND);

    cs_db_close(db);
    check_old_database(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return cs_test_done("index.indexer");
}
