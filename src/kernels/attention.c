/* kernels/attention.c - one head of scaled dot-product attention on the GEMM
 * micro-kernels (kernels/gemm_kernel.h).
 *
 *   S = Q K^T            [n, n]
 *   P = softmax_rows(scale S)     (causal: row i sees keys j <= i, the rest get 0)
 *   O = P V              [n, hd]
 *
 * Both products are tiles of the kernel cs_gemm uses on this CPU: K is
 * packed into panels of nr keys (kc = hd), V into panels of nr columns
 * (kc = n), so a head runs at GEMM speed rather than a dot product per
 * score. 4 n^2 hd FLOPs per head: ViT-B/32 has n = 50, hd = 64, 640 kFLOP,
 * 144 heads an image: 1% of its FLOPs, which a dot product per score made
 * a far larger share of its time.
 * Every row is summed in one fixed order whatever the batch, like cs_gemm,
 * and whatever other rows of Q are computed with it: cs_attention_rows
 * computes only some (the last layer of a tower needs one row a sequence).
 *
 * Scratch (floats), with n_p = n rounded up to NR_MAX, n_m = n + MR_MAX and
 * hd_p = hd rounded up to NR_MAX, so that any kernel's tiles fit:
 *   kp [hd, n_p] packed K | s [n_m, n_p] scores | vp [n, hd_p] packed V |
 *   o [n_m, hd_p] output  | q [MR_MAX, hd] the last, zero-padded rows of Q */
#include "kernels/attention.h"

#include <stdint.h>
#include <string.h>

#include "kernels/gemm_kernel.h"
#include "kernels/vecops.h"

enum { MR_MAX = 16, NR_MAX = 64 };

static size_t round_up(size_t v, size_t to) {
    return (v + to - 1) / to * to;
}

size_t cs_attention_scratch_floats(int n, int hd) {
    size_t n_p = round_up((size_t)n, NR_MAX), n_m = (size_t)n + MR_MAX;
    size_t hd_p = round_up((size_t)hd, NR_MAX);
    return (size_t)hd * n_p + n_m * n_p + (size_t)n * hd_p + n_m * hd_p + MR_MAX * (size_t)hd +
           16 /* to align the start to 64 bytes */;
}

void cs_attention_head(const float *q, const float *k, const float *v, size_t ld, int n, int hd,
                       float scale, int causal, float *out, float *scratch) {
    cs_attention_rows(q, ld, 0, n, k, v, ld, n, hd, scale, causal, out, scratch);
}

void cs_attention_rows(const float *q, size_t ldq, int first, int nq, const float *k,
                       const float *v, size_t ld, int n, int hd, float scale, int causal,
                       float *out, float *scratch) {
    const cs_mm_kernel *kn = cs_mm_kernel_pick();
    const int mr = kn->mr, nr = kn->nr;
    size_t n_p = round_up((size_t)n, NR_MAX), n_m = (size_t)n + MR_MAX;
    size_t hd_p = round_up((size_t)hd, NR_MAX);
    /* the packers store whole vectors at 64-byte boundaries: every part
     * below starts at one (each size is a multiple of 16 floats) */
    float *kp = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *s = kp + (size_t)hd * n_p, *vp = s + n_m * n_p;
    float *o = vp + (size_t)n * hd_p, *qt = o + n_m * hd_p;

    /* K [n, hd] -> panels of nr keys: kp[jp][c][j] = K[jp * nr + j][c] */
    for (int j = 0; j < n; j += nr)
        kn->pack_b(&(cs_mm_src){k + (size_t)j * ld, ld, CS_DT_F32, 0, NULL},
                   n - j < nr ? n - j : nr, hd, nr, NULL, kp + (size_t)j * hd);
    /* S = Q K^T, mr rows at a time; the last rows through a zero-padded copy */
    for (int i = 0; i < nq; i += mr) {
        const float *a = q + (size_t)i * ldq;
        size_t lda = ldq;
        if (i + mr > nq) {
            memset(qt, 0, (size_t)mr * hd * sizeof(float));
            for (int r = i; r < nq; r++)
                memcpy(qt + (size_t)(r - i) * hd, q + (size_t)r * ldq, (size_t)hd * sizeof(float));
            a = qt, lda = (size_t)hd;
        }
        for (int j = 0; j < n; j += nr)
            kn->micro(hd, a, lda, kp + (size_t)j * hd, s + (size_t)i * n_p + j, n_p, NULL, 0);
    }
    /* P = softmax(scale S) over each row's visible keys; padded rows are
     * zero. (HF scales q before the product instead: the same up to rounding,
     * and one multiply per score here rather than per element of q.) */
    for (int i = 0; i < nq; i++)
        cs_vec_softmax(s + (size_t)i * n_p, causal ? first + i + 1 : n, n, scale);
    for (size_t i = (size_t)nq; i < round_up((size_t)nq, (size_t)mr); i++)
        memset(s + i * n_p, 0, (size_t)n * sizeof(float));
    /* V [n, hd] -> panels of nr columns: vp[cp][j][c] = V[j][cp * nr + c] */
    for (int c = 0; c < hd; c += nr)
        kn->pack_b(&(cs_mm_src){v + c, ld, CS_DT_F32, 1, NULL}, hd - c < nr ? hd - c : nr, n, nr,
                   NULL, vp + (size_t)c * n);
    /* O = P V, into o (padded), then the nq valid rows out */
    for (int i = 0; i < nq; i += mr)
        for (int c = 0; c < hd; c += nr)
            kn->micro(n, s + (size_t)i * n_p, n_p, vp + (size_t)c * n, o + (size_t)i * hd_p + c,
                      hd_p, NULL, 0);
    for (int i = 0; i < nq; i++)
        memcpy(out + (size_t)i * ldq, o + (size_t)i * hd_p, (size_t)hd * sizeof(float));
}
