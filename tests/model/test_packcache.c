/* tests/model/test_packcache.c - packed weights kept in a folder
 * (cs_model_opts.pack_cache, model/packcache.c): at every precision this
 * CPU runs, the first process writes the file (bulk work), a second maps it
 * instead of packing (a plain batch, and at BF16/int8 also a lone image,
 * which without a kept packing runs at fp32), and both embed to the same
 * bits as a model with no folder. A damaged packing (a byte of the matrix
 * re-packed on every hit), a file of the wrong size, a checkpoint changed
 * since, and a folder that cannot be written all fall back to packing,
 * with the same bits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/cpu.h"
#include "model/model_internal.h"
#include "test.h"

enum { N = 3 };

typedef struct logbook {
    int mapped, differs;
} logbook;

static void on_log(void *user, cs_log_level level, const char *message) {
    (void)level;
    logbook *b = user;
    if (strstr(message, "mapped from the cache")) b->mapped++;
    if (strstr(message, "differs from a fresh one")) b->differs++;
}

static float *pixels(const cs_model_info *mi) {
    size_t n = (size_t)N * 3 * mi->image_size * mi->image_size;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 7919 + 13) % 255) / 64.0f - 2.0f;
    return x;
}

/* Embeds n images through a model opened with this folder (NULL: none);
 * out gets the embeddings, *b what was logged, and *q_at (if asked) where
 * layer 0's q lies in the packing mapped from the file (-1: none mapped). */
static void embed_n(const char *model, cs_precision p, const char *dir, int n, float *out,
                    logbook *b, long *q_at, int flags) {
    memset(b, 0, sizeof *b);
    cs_model_opts o = {
        .n_threads = 2, .precision = p, .pack_cache = dir, .log = on_log, .log_user = b};
    cs_model *m = NULL;
    cs_error err;
    CHECK_OK(cs_model_open(model, &o, &m, &err), &err);
    if (!m) return;
    cs_model_info mi;
    cs_model_get_info(m, &mi);
    float *x = pixels(&mi);
    CHECK_OK(cs_embed_pixels(m, x, n, flags, out, &err), &err);
    if (q_at) {
        const cs_weight *q = &m->vision.layers[0].q;
        const uint8_t *at = q->lp.type ? q->lp.p : (const uint8_t *)q->panels.p;
        const uint8_t *payload = (const uint8_t *)m->vision.kept.map + (2 << 20);
        *q_at = m->vision.kept.map && at ? (long)(at - payload) : -1;
    }
    free(x);
    cs_model_close(m);
}

static void embed(const char *model, cs_precision p, const char *dir, float *out, logbook *b,
                  long *q_at, int flags) {
    embed_n(model, p, dir, N, out, b, q_at, flags);
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void poke(const char *path, long at) {
    FILE *f = fopen(path, "r+b");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, at, SEEK_SET);
    int c = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

static void copy_file(const char *from, const char *to) {
    size_t n;
    char *data = cs_test_read(from, &n);
    FILE *f = fopen(to, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    if (f) fclose(f);
    free(data);
}

static void check_precision(const char *model, cs_precision p, const char *kind) {
    const char *tmp = cs_test_tmpdir();
    char dir[4096], file[4200];
    snprintf(dir, sizeof dir, "%s/packed", tmp);
    static float ref[N * 1024], out[N * 1024];
    memset(ref, 0, sizeof ref), memset(out, 0, sizeof out);
    logbook b;
    long q_at = -1;
    embed(model, p, NULL, ref, &b, NULL, 0);

    /* the first process packs and keeps; the second maps */
    embed(model, p, dir, out, &b, NULL, CS_EMBED_BULK);
    CHECK_MSG(!memcmp(out, ref, sizeof out), "%s: packing and keeping changed the bits", kind);
    CHECK_EQ_INT(b.mapped, 0);
    cs_model_opts o = {0};
    cs_model *m = NULL;
    cs_error err;
    CHECK_OK(cs_model_open(model, &o, &m, &err), &err);
    cs_model_info mi;
    cs_model_get_info(m, &mi);
    snprintf(file, sizeof file, "%s/%s.vision.%s.pack", dir, mi.id, kind);
    cs_model_close(m);
    long size = file_size(file);
    CHECK_MSG(size > (2 << 20), "%s: no file kept (%s)", kind, file);
    embed(model, p, dir, out, &b, &q_at, 0);
    CHECK_MSG(b.mapped == 1, "%s: the kept packing was not mapped", kind);
    CHECK_MSG(!memcmp(out, ref, sizeof out), "%s: the mapped packing gave other bits", kind);
    CHECK(q_at >= 0);

    /* a lone image (a first call of one input) maps a kept BF16/int8
     * packing too: the batch's first row, not fp32's */
    if (p != CS_PRECISION_FP32) {
        static float one[1024], f32[1024];
        embed_n(model, p, dir, 1, one, &b, NULL, 0);
        CHECK_MSG(b.mapped == 1, "%s: a lone image did not map the kept packing", kind);
        CHECK_MSG(!memcmp(one, ref, (size_t)mi.embed_dim * sizeof *one),
                  "%s: a lone image differs from the batch's first", kind);
        embed_n(model, CS_PRECISION_FP32, NULL, 1, f32, &b, NULL, 0);
        CHECK_MSG(memcmp(one, f32, (size_t)mi.embed_dim * sizeof *one) != 0,
                  "%s: a lone image with a kept packing ran at fp32", kind);
    }

    /* a byte of the matrix re-packed on a hit: noticed, packed again, rewritten */
    poke(file, (2 << 20) + q_at + 5);
    embed(model, p, dir, out, &b, NULL, CS_EMBED_BULK);
    CHECK_MSG(b.differs == 1 && b.mapped == 0, "%s: a damaged packing was used", kind);
    CHECK(!memcmp(out, ref, sizeof out));
    embed(model, p, dir, out, &b, NULL, 0);
    CHECK_MSG(b.mapped == 1, "%s: the rewritten packing was not mapped", kind);

    /* the wrong size: not used, rewritten */
    CHECK(truncate(file, size - 64) == 0);
    embed(model, p, dir, out, &b, NULL, CS_EMBED_BULK);
    CHECK(b.mapped == 0 && !memcmp(out, ref, sizeof out));
    CHECK_EQ_INT((int)(file_size(file) == size), 1);

    /* a folder that cannot be made: packed as without one */
    embed(model, p, "/proc/self/no-such-folder", out, &b, NULL, CS_EMBED_BULK);
    CHECK(b.mapped == 0 && !memcmp(out, ref, sizeof out));
}

/* A checkpoint touched after its packing was kept: the packing is not used. */
static void check_changed_checkpoint(void) {
    const char *tmp = cs_test_tmpdir();
    char model[4096], dir[4096], path[4200];
    snprintf(model, sizeof model, "%s/model", tmp);
    snprintf(dir, sizeof dir, "%s/packed", tmp);
    CHECK(mkdir(model, 0755) == 0);
    static const char *const files[] = {"config.json", "model.safetensors",
                                        "preprocessor_config.json"};
    for (int i = 0; i < 3; i++) {
        char from[4200];
        snprintf(from, sizeof from, "models/tiny/%s", files[i]);
        snprintf(path, sizeof path, "%s/%s", model, files[i]);
        copy_file(cs_test_oracle_path(from), path);
    }
    static float ref[N * 1024], out[N * 1024];
    memset(ref, 0, sizeof ref), memset(out, 0, sizeof out);
    logbook b;
    embed(model, CS_PRECISION_FP32, dir, ref, &b, NULL, CS_EMBED_BULK);
    embed(model, CS_PRECISION_FP32, dir, out, &b, NULL, 0);
    CHECK_EQ_INT(b.mapped, 1);
    struct timeval later[2] = {{2000000000, 0}, {2000000000, 0}};
    snprintf(path, sizeof path, "%s/model.safetensors", model);
    CHECK(utimes(path, later) == 0);
    embed(model, CS_PRECISION_FP32, dir, out, &b, NULL, 0);
    CHECK_MSG(b.mapped == 0, "a packing made before the checkpoint changed was used");
    CHECK(!memcmp(out, ref, sizeof out));
}

int main(void) {
    cs_test_oracle();
    char model[4096]; /* cs_test_oracle_path's buffer is reused */
    snprintf(model, sizeof model, "%s", cs_test_oracle_path("models/tiny"));
    check_precision(model, CS_PRECISION_FP32, "f32");
    if (cs_cpu_has(CS_CPU_BF16)) check_precision(model, CS_PRECISION_BF16, "bf16");
    if (cs_cpu_has(CS_CPU_VNNI)) check_precision(model, CS_PRECISION_INT8, "int8");
    check_changed_checkpoint();
    return cs_test_done("model.packcache");
}
