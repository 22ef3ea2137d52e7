/* ops: reference kernels and the non-GEMM fast kernels. See ops.h.
 *
 * Numerics: accumulations are in float (as PyTorch's CPU kernels) except layernorm statistics,
 * which use double so that large activations do not lose the variance. No fast-math: the
 * conformance tests compare against PyTorch at 1e-4. */
#include "ops.h"

#include <math.h>
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

void ops_act(float *x, size_t n, int act) {
    switch (act) {
    case OPS_ACT_QUICK_GELU:
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if (n > 65536)
        for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
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

void ops_attention(const float *q, const float *k, const float *v, int ld, float *out, int ldo, int n, int heads,
                   int hd, int causal, const int *keymask, float *scratch) {
    const float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static) num_threads(ops_threads()) if (heads * n > 64)
    for (int hi = 0; hi < heads * n; hi++) {
        int h = hi / n, i = hi % n;
#ifdef _OPENMP
        float *p = scratch + (size_t)omp_get_thread_num() * n;
#else
        float *p = scratch;
#endif
        const float *qi = q + (size_t)i * ld + h * hd;
        int jn = causal ? i + 1 : n;
        float mx = -INFINITY;
        for (int j = 0; j < jn; j++) {
            if (keymask && !keymask[j]) { p[j] = -INFINITY; continue; }
            const float *kj = k + (size_t)j * ld + h * hd;
            float s = 0.0f;
            for (int t = 0; t < hd; t++) s += qi[t] * kj[t];
            p[j] = s * scale;
            if (p[j] > mx) mx = p[j];
        }
        float *o = out + (size_t)i * ldo + h * hd;
        memset(o, 0, sizeof(float) * hd);
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
            float pj = p[j] * inv;
            for (int t = 0; t < hd; t++) o[t] += pj * vj[t];
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
