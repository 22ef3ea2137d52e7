/* ops: the reference kernels. See ops.h.
 *
 * Plain loops on one thread, kept forever as the ground truth the fast path (ops_fast.c, the
 * BLAS files) and every other backend are tested against. Nothing here calls the fast path.
 *
 * Numerics: accumulations are in float (as PyTorch's CPU kernels) except layernorm statistics,
 * which use double so that large activations do not lose the variance. No fast-math: the
 * conformance tests compare against PyTorch at 1e-4. */
#include "ops.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void ops_linear_ref(const float *x, const float *w, const float *b, float *y, int m, int n, int k) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            const float *xr = x + (size_t)i * k, *wr = w + (size_t)j * k;
            for (int t = 0; t < k; t++) s += xr[t] * wr[t];
            y[(size_t)i * n + j] = s + (b ? b[j] : 0.0f);
        }
}

void ops_layernorm_ref(const float *x, const float *g, const float *b, float *y, int m, int d, float eps) {
    for (int i = 0; i < m; i++) {
        const float *xr = x + (size_t)i * d;
        float *yr = y + (size_t)i * d;
        /* sums in double, over 8 interleaved partial sums: one running sum is a chain of
         * dependent adds (no vectorising without -ffast-math), and it made the layer norms 1.5%
         * of an image pass; the partial sums vectorise */
        double ps[8] = {0}, mean = 0.0, var = 0.0;
        int t = 0;
        for (; t + 8 <= d; t += 8)
            for (int j = 0; j < 8; j++) ps[j] += xr[t + j];
        for (; t < d; t++) ps[t % 8] += xr[t];
        for (int j = 0; j < 8; j++) mean += ps[j];
        mean /= d;
        for (int j = 0; j < 8; j++) ps[j] = 0.0;
        for (t = 0; t + 8 <= d; t += 8)
            for (int j = 0; j < 8; j++) {
                double c = xr[t + j] - mean;
                ps[j] += c * c;
            }
        for (; t < d; t++) ps[t % 8] += (xr[t] - mean) * (xr[t] - mean);
        for (int j = 0; j < 8; j++) var += ps[j];
        var /= d;
        float inv = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
        for (int t = 0; t < d; t++) yr[t] = (xr[t] - mu) * inv * g[t] + b[t];
    }
}

void ops_act_ref(float *x, size_t n, int act) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        switch (act) {
        case OPS_ACT_QUICK_GELU: x[i] = v / (1.0f + expf(-1.702f * v)); break;
        case OPS_ACT_GELU: x[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); break;
        case OPS_ACT_GELU_TANH:
            x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
            break;
        default: x[i] = v > 0.0f ? v : 0.0f;
        }
    }
}

void ops_bias_act_ref(float *x, const float *b, int m, int n, int act) {
    for (int i = 0; i < m; i++) {
        float *r = x + (size_t)i * n;
        if (b)
            for (int j = 0; j < n; j++) r[j] += b[j];
        ops_act_ref(r, (size_t)n, act);
    }
}

/* One scaled score q_i . k_j, or -INFINITY for a padding key. */
static float ref_score(const float *qi, const float *k, int ld, int j, int hd, float scale, const int *keymask) {
    if (keymask && !keymask[j]) return -INFINITY;
    const float *kj = k + (size_t)j * ld;
    float s = 0.0f;
    for (int t = 0; t < hd; t++) s += qi[t] * kj[t];
    return s * scale;
}

/* Recomputes each score in every pass instead of keeping a row of them, so it needs no memory
 * (a reference kernel has no error to return) and does the same arithmetic as ever. */
void ops_attention_ref(const float *q, const float *k, const float *v, int ld, float *out, int ldo, int n, int heads,
                       int hd, int causal, const int *keymask) {
    const float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < n; i++) {
            const float *qi = q + (size_t)i * ld + h * hd, *kh = k + h * hd;
            float *o = out + (size_t)i * ldo + h * hd, mx = -INFINITY, sum = 0.0f;
            int jn = causal ? i + 1 : n;
            for (int j = 0; j < jn; j++) {
                float s = ref_score(qi, kh, ld, j, hd, scale, keymask);
                if (s > mx) mx = s;
            }
            for (int t = 0; t < hd; t++) o[t] = 0.0f;
            if (mx == -INFINITY) continue;
            for (int j = 0; j < jn; j++) {
                float s = ref_score(qi, kh, ld, j, hd, scale, keymask);
                sum += s == -INFINITY ? 0.0f : expf(s - mx);
            }
            for (int j = 0; j < jn; j++) {
                float s = ref_score(qi, kh, ld, j, hd, scale, keymask), p = s == -INFINITY ? 0.0f : expf(s - mx);
                for (int t = 0; t < hd; t++) o[t] += p / sum * v[(size_t)j * ld + h * hd + t];
            }
        }
}

void ops_l2_normalize(float *x, int m, int d) {
    for (int i = 0; i < m; i++) {
        float *r = x + (size_t)i * d;
        double s = 0.0;
        for (int t = 0; t < d; t++) s += (double)r[t] * r[t];
        if (s <= 0.0) continue;
        float inv = (float)(1.0 / sqrt(s));
        for (int t = 0; t < d; t++) r[t] *= inv;
    }
}
