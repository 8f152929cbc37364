/* tests/kernels/test_attention.c - one attention head (kernels/attention.c) at
 * every kernel level this CPU runs, against a float64 reference: sequence
 * lengths around the kernels' tiles (1, 5, 50, 64, 77, 130), head sizes that
 * are and are not multiples of the panels (12, 32, 64, 80), causal or not,
 * a row stride wider than the head (several heads side by side), and a
 * misaligned scratch buffer. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/attention.h"
#include "core/cpu.h"
#include "test.h"

static uint32_t rng = 777;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) / 16777216.0 - 0.5) * 4.0f;
}

/* out_i = sum_j softmax_j(scale q_i . k_j) v_j in double. */
static void reference(const float *q, const float *k, const float *v, size_t ld, int n, int hd,
                      double scale, int causal, double *out) {
    double *s = malloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
        int nj = causal ? i + 1 : n;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < nj; j++) {
            double t = 0;
            for (int c = 0; c < hd; c++) t += (double)q[i * ld + c] * k[j * ld + c];
            s[j] = t * scale;
            mx = s[j] > mx ? s[j] : mx;
        }
        for (int j = 0; j < nj; j++) sum += s[j] = exp(s[j] - mx);
        for (int c = 0; c < hd; c++) {
            double o = 0;
            for (int j = 0; j < nj; j++) o += s[j] / sum * v[j * ld + c];
            out[(size_t)i * hd + c] = o;
        }
    }
    free(s);
}

static void check_case(int n, int hd, int causal, const char *level) {
    size_t ld = (size_t)hd * 3 + 5; /* this head among others in a row */
    float *q = malloc((size_t)n * ld * sizeof(float)), *k = malloc((size_t)n * ld * sizeof(float));
    float *v = malloc((size_t)n * ld * sizeof(float)),
          *out = malloc((size_t)n * ld * sizeof(float));
    double *ref = malloc((size_t)n * hd * sizeof(double));
    for (size_t i = 0; i < (size_t)n * ld; i++) q[i] = frand(), k[i] = frand(), v[i] = frand();
    for (size_t i = 0; i < (size_t)n * ld; i++) out[i] = 1234.5f; /* other heads' columns */
    size_t floats = cs_attention_scratch_floats(n, hd);
    float *scratch = malloc((floats + 1) * sizeof(float));
    double scale = 1.0 / sqrt((double)hd);
    cs_attention_head(q, k, v, ld, n, hd, (float)scale, causal, out, scratch + 1);
    reference(q, k, v, ld, n, hd, scale, causal, ref);
    double worst = 0;
    int others_kept = 1;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < hd; c++) {
            double e = fabs(out[(size_t)i * ld + c] - ref[(size_t)i * hd + c]);
            worst = e > worst ? e : worst;
        }
        for (size_t c = (size_t)hd; c < ld; c++) others_kept &= out[(size_t)i * ld + c] == 1234.5f;
    }
    CHECK_MSG(worst < 2e-5, "%s: n=%d hd=%d causal=%d: max error %.3g", level, n, hd, causal,
              worst);
    CHECK_MSG(others_kept, "%s: n=%d hd=%d: wrote outside its head's columns", level, n, hd);
    /* some queries alone (the first, the last, a run across tiles): the
     * bits of the same rows among all n */
    const int firsts[3] = {0, n - 1, n / 3}, counts[3] = {1, 1, n - n / 3 < 7 ? n - n / 3 : 7};
    float *part = malloc((size_t)n * ld * sizeof(float));
    for (int c = 0; c < 3; c++) {
        int first = firsts[c], nq = counts[c], same = 1;
        cs_attention_rows(q + (size_t)first * ld, ld, first, nq, k, v, ld, n, hd, (float)scale,
                          causal, part, scratch + 1);
        for (int i = 0; i < nq; i++)
            same &= !memcmp(part + (size_t)i * ld, out + (size_t)(first + i) * ld,
                            (size_t)hd * sizeof(float));
        CHECK_MSG(same, "%s: n=%d hd=%d causal=%d: queries [%d, %d) alone differ from among all",
                  level, n, hd, causal, first, first + nq);
    }
    free(part);
    free(q), free(k), free(v), free(out), free(ref), free(scratch);
}

int main(void) {
    static const int ns[] = {1, 5, 50, 64, 77, 130};
    static const int hds[] = {12, 32, 64, 80};
    const char *levels[] = {"generic", "avx2", "avx512"};
    int top = cs_cpu_level_get();
    for (int lv = 0; lv <= top; lv++) {
        setenv("CLIPSEARCH_CPU", levels[lv], 1);
        cs_cpu_level_reload();
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t b = 0; b < sizeof hds / sizeof *hds; b++)
                for (int causal = 0; causal < 2; causal++)
                    check_case(ns[a], hds[b], causal, levels[lv]);
    }
    return cs_test_done("attention");
}
