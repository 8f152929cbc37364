/* model/ops.c - layer norm over rows, attention over heads (both spread over
 * the pool), and the encoder layer built from them and cs_linear. */
#include "model/ops.h"

#include "kernels/attention.h"
#include "kernels/vecops.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct ln_job {
    float *x, *y;
    int rows, d;
    const float *w, *b;
    float eps;
} ln_job;

#define ROWS_PER_TASK 16

static void ln_task(void *ctx, int task, int worker) {
    (void)worker;
    ln_job *J = ctx;
    int r1 = (task + 1) * ROWS_PER_TASK < J->rows ? (task + 1) * ROWS_PER_TASK : J->rows;
    for (int r = task * ROWS_PER_TASK; r < r1; r++)
        cs_vec_layernorm_row(J->x + (size_t)r * J->d, J->d, J->w, J->b, J->eps,
                             J->y + (size_t)r * J->d);
}

void cs_layernorm(cs_pool *pool, float *x, int rows, int d, const float *w, const float *b,
                  float eps, float *y) {
    ln_job J = {x, y, rows, d, w, b, eps};
    cs_pool_for(pool, (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK, ln_task, &J);
}

/* ---- attention ---------------------------------------------------------------- */

typedef struct attn_job {
    const float *q, *k, *v; /* [rows, d]; q: [n_seq, d] with only */
    float *out;             /* as q */
    const int *start, *len;
    const int *only; /* the one query row of each sequence, or NULL: all */
    int d, heads, causal, max_seq;
    float *scores; /* [threads, cs_attention_scratch_floats] */
    float scale;   /* head_dim^-0.5 */
} attn_job;

/* One (sequence, head): softmax(q k^T) v over that head's hd columns. */
static void attn_task(void *ctx, int task, int worker) {
    attn_job *J = ctx;
    int s = task / J->heads, h = task % J->heads, d = J->d, hd = d / J->heads;
    size_t base = (size_t)J->start[s] * d + (size_t)h * hd;
    int n = J->len[s];
    float *sc = J->scores + (size_t)worker * cs_attention_scratch_floats(J->max_seq, hd);
    if (J->only) {
        size_t row = (size_t)s * d + (size_t)h * hd;
        cs_attention_rows(J->q + row, (size_t)d, J->only[s] - J->start[s], 1, J->k + base,
                          J->v + base, (size_t)d, n, hd, J->scale, J->causal, J->out + row, sc);
    } else
        cs_attention_head(J->q + base, J->k + base, J->v + base, (size_t)d, n, hd, J->scale,
                          J->causal, J->out + base, sc);
}

/* Row i of dst = row rows[i] of src, i < n (rows of d floats). */
static void gather_rows(float *dst, const float *src, const int *rows, int n, int d) {
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)i * d, src + (size_t)rows[i] * d, (size_t)d * sizeof(float));
}

/* Row rows[i] of dst = row i of src, i < n. */
static void scatter_rows(float *dst, const float *src, const int *rows, int n, int d) {
    for (int i = 0; i < n; i++)
        memcpy(dst + (size_t)rows[i] * d, src + (size_t)i * d, (size_t)d * sizeof(float));
}

/* ---- the encoder layer -------------------------------------------------------- */

size_t cs_encoder_scratch_floats(const cs_tower_config *cfg, int rows, int max_seq, int threads) {
    return (size_t)rows * (5 * (size_t)cfg->width + (size_t)cfg->mlp) +
           (size_t)threads * cs_attention_scratch_floats(max_seq, cfg->width / cfg->heads);
}

cs_status cs_encoder_layer(cs_pool *pool, const cs_tower_config *cfg, const cs_layer_weights *L,
                           float *x, int rows, const int *start, const int *len, int n_seq,
                           int causal, const int *only, float *scratch, cs_error *err) {
    int d = cfg->width, hd = d / cfg->heads, max_seq = 0;
    size_t rd = (size_t)rows * d;
    float *h = scratch, *q = h + rd, *k = q + rd, *v = k + rd, *a = v + rd, *m = a + rd;
    float *scores = m + (size_t)rows * cfg->mlp;
    for (int s = 0; s < n_seq; s++)
        if (len[s] > max_seq) max_seq = len[s];
    cs_status st;

    /* attention block: x += out_proj(attention(ln1(x))), [rows, d]; keys
     * and values from every row, the rest from the rows computed (nq) */
    int nq = only ? n_seq : rows;
    cs_layernorm(pool, x, rows, d, L->ln1_w, L->ln1_b, cfg->ln_eps, h);
    if ((st = cs_linear(pool, h, rows, &L->k, L->k_b, k, err)) ||
        (st = cs_linear(pool, h, rows, &L->v, L->v_b, v, err)))
        return st;
    float *xq = x; /* the rows computed: x, or with only the rows only[s] of x, copied to h */
    if (only) {
        gather_rows(a, h, only, n_seq, d);
        st = cs_linear(pool, a, nq, &L->q, L->q_b, q, err);
        gather_rows(h, x, only, n_seq, d);
        xq = h;
    } else
        st = cs_linear(pool, h, rows, &L->q, L->q_b, q, err);
    if (st) return st;
    attn_job J = {.q = q,
                  .k = k,
                  .v = v,
                  .out = a,
                  .start = start,
                  .len = len,
                  .only = only,
                  .d = d,
                  .heads = cfg->heads,
                  .causal = causal,
                  .max_seq = max_seq,
                  .scores = scores,
                  .scale = 1.0f / sqrtf((float)hd)};
    cs_pool_for(pool, n_seq * cfg->heads, attn_task, &J);
    if ((st = cs_linear_add(pool, a, nq, &L->o, L->o_b, xq, err))) return st;

    /* MLP block: x += fc2(act(fc1(ln2(x)))), [nq, d] -> [nq, mlp] -> [nq, d] */
    float *hn = only ? q : h; /* with only, h holds xq */
    cs_layernorm(pool, xq, nq, d, L->ln2_w, L->ln2_b, cfg->ln_eps, hn);
    if ((st = cs_linear_act(pool, hn, nq, &L->fc1, L->fc1_b, cfg->act, m, err)) ||
        (st = cs_linear_add(pool, m, nq, &L->fc2, L->fc2_b, xq, err)))
        return st;
    if (only) scatter_rows(x, xq, only, n_seq, d);
    return CS_OK;
}
