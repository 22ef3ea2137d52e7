/* ops: reference kernels and the non-GEMM fast kernels. See ops.h.
 *
 * Numerics: accumulations are in float (as PyTorch's CPU kernels) except layernorm statistics,
 * which use double so that large activations do not lose the variance. No fast-math: the
 * conformance tests compare against PyTorch at 1e-4. */
#include "ops.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

void ops_linear_ref(const float *x, const float *w, const float *b, float *y, int m, int n, int k) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            const float *xr = x + (size_t)i * k, *wr = w + (size_t)j * k;
            for (int t = 0; t < k; t++) s += xr[t] * wr[t];
            y[(size_t)i * n + j] = s + (b ? b[j] : 0.0f);
        }
}

void ops_residual(float *x, const float *y, const float *b, int m, int n) {
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if ((size_t)m * n > 65536)
    for (int i = 0; i < m; i++) {
        float *xr = x + (size_t)i * n;
        const float *yr = y + (size_t)i * n;
        if (b)
            for (int j = 0; j < n; j++) xr[j] += yr[j] + b[j];
        else
            for (int j = 0; j < n; j++) xr[j] += yr[j];
    }
}

void ops_layernorm(const float *x, const float *g, const float *b, float *y, int m, int d, float eps) {
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if (m > 16)
    for (int i = 0; i < m; i++) {
        const float *xr = x + (size_t)i * d;
        float *yr = y + (size_t)i * d;
        double mean = 0.0, var = 0.0;
        for (int t = 0; t < d; t++) mean += xr[t];
        mean /= d;
        for (int t = 0; t < d; t++) {
            double c = xr[t] - mean;
            var += c * c;
        }
        var /= d;
        float inv = (float)(1.0 / sqrt(var + eps)), mu = (float)mean;
        for (int t = 0; t < d; t++) yr[t] = (xr[t] - mu) * inv * g[t] + b[t];
    }
}

/* exp(x) for the activations, written so that GCC vectorises it (glibc's vector expf is only
 * used under fast-math, which we do not use): Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2,
 * a degree-6 polynomial for e^r, and 2^n put straight into the exponent bits. Relative error
 * under 2e-7 (about 2 ulp) for x in [-87, 88]; inputs are clamped there, so the result is
 * finite, and ~1e-38 or ~1.6e38 at the ends, where sigmoid is already 0 or 1. */
static inline float exp_poly(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* round to nearest with the 1.5 * 2^23 trick (roundf does not vectorise on x86) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.428606765330187e-06f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.0083333338f + r * 0.0013888889f)))));
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

void ops_act_ref(float *x, size_t n, int act) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        switch (act) {
        case OPS_ACT_QUICK_GELU: x[i] = v / (1.0f + expf(-1.702f * v)); break;
        case OPS_ACT_GELU: x[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f)); break;
        case OPS_ACT_GELU_TANH: x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v))); break;
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

void ops_bias_act(float *x, const float *b, int m, int n, int act) {
    if (act != OPS_ACT_QUICK_GELU) { /* the rare activations keep two passes */
        if (b)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) x[(size_t)i * n + j] += b[j];
        ops_act(x, (size_t)m * n, act);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if ((size_t)m * n > 65536)
    for (int i = 0; i < m; i++) {
        float *r = x + (size_t)i * n;
        for (int j = 0; j < n; j++) {
            float v = r[j] + (b ? b[j] : 0.0f);
            r[j] = v / (1.0f + exp_poly(-1.702f * v));
        }
    }
}

void ops_act(float *x, size_t n, int act) {
    switch (act) {
    case OPS_ACT_QUICK_GELU:
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if (n > 65536)
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + exp_poly(-1.702f * x[i]));
        break;
    case OPS_ACT_GELU:
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if (n > 65536)
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    case OPS_ACT_GELU_TANH:
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if (n > 65536)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
        }
        break;
    default:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

void ops_attention_ref(const float *q, const float *k, const float *v, int ld, float *out, int ldo, int n, int heads,
                       int hd, int causal, const int *keymask) {
    const float scale = 1.0f / sqrtf((float)hd);
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) abort(); /* reference kernel, tests only */
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < n; i++) {
            const float *qi = q + (size_t)i * ld + h * hd;
            float *o = out + (size_t)i * ldo + h * hd, mx = -INFINITY, sum = 0.0f;
            int jn = causal ? i + 1 : n;
            for (int j = 0; j < jn; j++) {
                const float *kj = k + (size_t)j * ld + h * hd;
                float s = 0.0f;
                for (int t = 0; t < hd; t++) s += qi[t] * kj[t];
                p[j] = (keymask && !keymask[j]) ? -INFINITY : s * scale;
                if (p[j] > mx) mx = p[j];
            }
            for (int t = 0; t < hd; t++) o[t] = 0.0f;
            if (mx == -INFINITY) continue;
            for (int j = 0; j < jn; j++) {
                p[j] = p[j] == -INFINITY ? 0.0f : expf(p[j] - mx);
                sum += p[j];
            }
            for (int j = 0; j < jn; j++)
                for (int t = 0; t < hd; t++) o[t] += p[j] / sum * v[(size_t)j * ld + h * hd + t];
        }
    free(p);
}

size_t ops_attention_scratch(int n, int hd) { return (size_t)ops_threads() * ((size_t)hd * n + n); }

void ops_attention(const float *q, const float *k, const float *v, int ld, float *out, int ldo, int n, int heads,
                   int hd, int causal, const int *keymask, float *scratch) {
    const float scale = 1.0f / sqrtf((float)hd);
    /* One head per iteration. K's head slice is transposed first so the scores of all keys are
     * computed in a loop the compiler vectorises across keys, while each score is still summed
     * in the head dimension's order (the reference dot product's order). */
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if (heads > 1 && n > 8)
    for (int h = 0; h < heads; h++) {
#ifdef _OPENMP
        float *kt = scratch + (size_t)omp_get_thread_num() * ((size_t)hd * n + n);
#else
        float *kt = scratch;
#endif
        float *p = kt + (size_t)hd * n;
        for (int j = 0; j < n; j++)
            for (int t = 0; t < hd; t++) kt[(size_t)t * n + j] = k[(size_t)j * ld + h * hd + t];
        for (int i = 0; i < n; i++) {
            const float *qi = q + (size_t)i * ld + h * hd;
            int jn = causal ? i + 1 : n;
            for (int j = 0; j < jn; j++) p[j] = 0.0f;
            for (int t = 0; t < hd; t++) {
                const float qt = qi[t], *kr = kt + (size_t)t * n;
                for (int j = 0; j < jn; j++) p[j] += qt * kr[j];
            }
            float mx = -INFINITY;
            for (int j = 0; j < jn; j++) {
                p[j] = (keymask && !keymask[j]) ? -INFINITY : p[j] * scale;
                if (p[j] > mx) mx = p[j];
            }
            float *o = out + (size_t)i * ldo + h * hd;
            for (int t = 0; t < hd; t++) o[t] = 0.0f;
            if (mx == -INFINITY) continue; /* every key masked: torch gives NaN; we give zeros */
            float sum = 0.0f;
            for (int j = 0; j < jn; j++) {
                p[j] = p[j] == -INFINITY ? 0.0f : expf(p[j] - mx);
                sum += p[j];
            }
            float inv = 1.0f / sum;
            for (int j = 0; j < jn; j++) {
                if (p[j] == 0.0f) continue;
                const float *vj = v + (size_t)j * ld + h * hd;
                const float pj = p[j] * inv;
                for (int t = 0; t < hd; t++) o[t] += pj * vj[t];
            }
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
