/* tests/model/test_convert.c - pytorch_model.bin -> model.safetensors.
 *
 * The oracle's tiny-bin holds the same weights as tiny (whose safetensors
 * was written by PyTorch's own tooling): after conversion every tensor must
 * have the same name, dtype, shape and bytes as tiny's, and the converted
 * folder must open as safetensors. */
#include <sys/stat.h>
#include <unistd.h>

#include "model/tensors.h"
#include "test.h"

static void copy(const char *src, const char *dir, const char *name) {
    size_t n;
    char *buf = cs_test_read(src, &n), path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, n, f) == n);
    if (f) fclose(f);
    free(buf);
}

int main(void) {
    cs_test_oracle();
    const char *dir = cs_test_tmpdir();
    char path[4096];
    copy(cs_test_oracle_path("models/tiny-bin/config.json"), dir, "config.json");
    copy(cs_test_oracle_path("models/tiny-bin/pytorch_model.bin"), dir, "pytorch_model.bin");
    cs_error err = {0};
    CHECK_OK(cs_model_convert(dir, 0, &err), &err);

    cs_tensor_table got = {0}, want = {0};
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    CHECK_OK(cs_safetensors_load(path, &got, &err), &err);
    CHECK_OK(cs_safetensors_load(cs_test_oracle_path("models/tiny/model.safetensors"), &want, &err),
             &err);
    CHECK_EQ_INT(got.n, want.n);
    for (int i = 0; i < want.n; i++) {
        const cs_tensor *w = &want.t[i], *g = cs_tensors_find(&got, w->name);
        CHECK_MSG(g != NULL, "%s missing after conversion", w->name);
        if (!g) continue;
        CHECK_EQ_INT(g->dtype, w->dtype);
        /* logit_scale (unused by the engine) is [1] in tiny-bin, [] in tiny */
        if (strcmp(w->name, "logit_scale") != 0) {
            CHECK_EQ_INT(g->ndim, w->ndim);
            for (int d = 0; d < w->ndim; d++) CHECK_EQ_INT(g->shape[d], w->shape[d]);
        }
        CHECK_MSG(g->nbytes == w->nbytes && !memcmp(g->data, w->data, w->nbytes),
                  "%s: bytes differ", w->name);
        /* the writer keeps every tensor aligned: none needed an aligned copy */
        CHECK_MSG(g->owned == NULL, "%s is misaligned", g->name);
    }
    cs_tensors_free(&got);
    cs_tensors_free(&want);

    /* a second call leaves the file alone; the folder now opens as safetensors */
    struct stat st1, st2;
    CHECK(stat(path, &st1) == 0);
    CHECK_OK(cs_model_convert(dir, 0, &err), &err);
    CHECK(stat(path, &st2) == 0 && st1.st_ino == st2.st_ino);
    cs_model *m = NULL;
    CHECK_OK(cs_model_open(dir, NULL, &m, &err), &err);
    cs_model_info info;
    cs_model_get_info(m, &info);
    CHECK(info.dtype && !strcmp(info.dtype, "F32"));
    char id[64];
    snprintf(id, sizeof id, "%s", info.id ? info.id : "");
    cs_model_close(m);
    /* and its id is that of the oracle's safetensors folder: same weights */
    cs_model *t = NULL;
    CHECK_OK(cs_model_open(cs_test_oracle_path("models/tiny"), NULL, &t, &err), &err);
    cs_model_info ti;
    cs_model_get_info(t, &ti);
    CHECK(ti.id && !strcmp(ti.id, id));
    cs_model_close(t);

    /* no temporary file is left behind */
    snprintf(path, sizeof path, "rm -f %s/*.json %s/*.bin %s/*.safetensors && rmdir %s", dir, dir,
             dir, dir);
    CHECK(system(path) == 0);
    return cs_test_done("model.convert");
}
