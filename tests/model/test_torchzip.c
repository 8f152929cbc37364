/* tests/model/test_torchzip.c - PyTorch checkpoints as torch.save writes
 * them (made here by /usr/bin/python3 + Debian's python3-torch; skipped
 * without them): F32/F16/BF16/I64 tensors, storage offsets, views with other
 * strides (gathered into row-major copies), a module's state dict with its
 * _metadata, and shared storages. */
#include <math.h>
#include <unistd.h>

#include "model/tensors.h"
#include "test.h"

static const char *script =
    "import collections, sys, torch\n"
    "base = torch.arange(24, dtype=torch.float32)\n"
    "sd = collections.OrderedDict()\n"
    "sd['t'] = base[:12].reshape(3, 4).t()\n" /* a transposed view */
    "sd['s'] = base[2:14:3]\n"                /* offset 2, stride 3 */
    "sd['o'] = base[12:].reshape(3, 4)\n"     /* contiguous at an offset */
    "sd['h'] = torch.arange(6, dtype=torch.float16).reshape(2, 3).t()\n"
    "sd['b'] = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)\n"
    "sd['i'] = torch.arange(5, dtype=torch.int64)\n"
    "torch.save(sd, sys.argv[1])\n"
    "lin = torch.nn.Linear(3, 2)\n"
    "torch.nn.init.constant_(lin.weight, 0.25); torch.nn.init.constant_(lin.bias, -1.0)\n"
    "torch.save(lin.state_dict(), sys.argv[2])\n";

static float at(const cs_tensor *t, int i) {
    if (t->dtype == CS_DT_F32) return ((const float *)t->data)[i];
    uint16_t h = ((const uint16_t *)t->data)[i];
    if (t->dtype == CS_DT_BF16) {
        uint32_t b = (uint32_t)h << 16;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    /* F16 of small integers: exact via ldexp */
    int e = (h >> 10) & 31, m = h & 1023;
    return e ? ldexpf((float)(m | 1024), e - 25) : ldexpf((float)m, -24);
}

int main(void) {
    const char *dir = cs_test_tmpdir();
    char py[4096], a[4096], b[4096], cmd[16384];
    snprintf(py, sizeof py, "%s/make.py", dir);
    snprintf(a, sizeof a, "%s/views.pt", dir);
    snprintf(b, sizeof b, "%s/linear.pt", dir);
    FILE *f = fopen(py, "w");
    fputs(script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s 2>/dev/null", py, a, b);
    if (access("/usr/bin/python3", X_OK) != 0 || system(cmd) != 0) {
        printf("SKIP: /usr/bin/python3 with torch is not available\n");
        return 77;
    }
    cs_tensor_table tab = {0};
    cs_error err = {0};
    CHECK_OK(cs_torchzip_load(a, &tab, &err), &err);
    const cs_tensor *t = cs_tensors_find(&tab, "t"), *s = cs_tensors_find(&tab, "s"),
                    *o = cs_tensors_find(&tab, "o"), *h = cs_tensors_find(&tab, "h"),
                    *bf = cs_tensors_find(&tab, "b"), *i64 = cs_tensors_find(&tab, "i");
    CHECK(t && s && o && h && bf && i64);
    if (t && s && o && h && bf && i64) {
        CHECK(t->ndim == 2 && t->shape[0] == 4 && t->shape[1] == 3 && t->owned);
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 3; c++) CHECK(at(t, r * 3 + c) == (float)(c * 4 + r));
        CHECK(s->ndim == 1 && s->shape[0] == 4);
        for (int k = 0; k < 4; k++) CHECK(at(s, k) == (float)(2 + 3 * k));
        CHECK(!o->owned); /* contiguous: points into the mapped file */
        for (int k = 0; k < 12; k++) CHECK(at(o, k) == (float)(12 + k));
        CHECK(h->dtype == CS_DT_F16 && h->shape[0] == 3 && h->shape[1] == 2);
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 2; c++) CHECK(at(h, r * 2 + c) == (float)(c * 3 + r));
        CHECK(bf->dtype == CS_DT_BF16 && at(bf, 0) == 1.5f && at(bf, 1) == -2.0f);
        CHECK(i64->dtype == CS_DT_I64 && ((const int64_t *)i64->data)[4] == 4);
    }
    cs_tensors_free(&tab);

    /* a module's state dict carries _metadata (a BUILD on the dict) */
    CHECK_OK(cs_torchzip_load(b, &tab, &err), &err);
    const cs_tensor *w = cs_tensors_find(&tab, "weight"), *bias = cs_tensors_find(&tab, "bias");
    CHECK(tab.n == 2 && w && bias);
    if (w && bias) CHECK(at(w, 5) == 0.25f && at(bias, 1) == -1.0f);
    cs_tensors_free(&tab);

    snprintf(cmd, sizeof cmd, "rm -f %s %s %s && rmdir %s", py, a, b, dir);
    CHECK(system(cmd) == 0);
    return cs_test_done("model.torchzip");
}
