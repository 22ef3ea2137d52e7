/* ops_f16: y = x . W^T on F16 weights (see ops_lp.h). Widening costs one instruction per 8 weights
 * with F16C; the products and sums stay in F32. */
#include <string.h>
#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#include <immintrin.h>
#define F16_AVX2 1
#endif

#include "ops.h"
#include "ops_lp.h"

/* Rows of x a thread keeps hot while it walks its weight rows: about 96 KB of them (L2). */
static int row_block(int k) {
    int r = (96 * 1024) / (k * (int)sizeof(float));
    r = r < 4 ? 4 : r;
    return r - r % 4;
}

static void f16_ref(const float *x, const uint16_t *w, float *y, int m, int n, int k) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float s = 0.0f;
            for (int t = 0; t < k; t++) s += x[(size_t)i * k + t] * ops_f16_to_f32(w[(size_t)j * k + t]);
            y[(size_t)i * n + j] = s;
        }
}

/* Portable: each weight row widened once into a buffer (in chunks of 1024), then dotted with every
 * row of x over 8 interleaved sums, which GCC vectorises. */
static void f16_portable(int nt, const float *x, const uint16_t *w, float *y, int m, int n, int k) {
    enum { CH = 1024 };
#pragma omp parallel for schedule(static) num_threads(nt) if ((size_t)m * n * k > 1000000)
    for (int j = 0; j < n; j++) {
        float buf[CH];
        for (int i = 0; i < m; i++) y[(size_t)i * n + j] = 0.0f;
        for (int t0 = 0; t0 < k; t0 += CH) {
            int len = k - t0 < CH ? k - t0 : CH;
            for (int t = 0; t < len; t++) buf[t] = ops_f16_to_f32(w[(size_t)j * k + t0 + t]);
            for (int i = 0; i < m; i++) {
                const float *xr = x + (size_t)i * k + t0;
                float s8[8] = {0}, s = 0.0f;
                int t = 0;
                for (; t + 8 <= len; t += 8)
                    for (int l = 0; l < 8; l++) s8[l] += xr[t + l] * buf[t + l];
                for (; t < len; t++) s += xr[t] * buf[t];
                for (int l = 0; l < 8; l++) s += s8[l];
                y[(size_t)i * n + j] += s;
            }
        }
    }
}

#ifdef F16_AVX2
/* Rows i..i+mr-1 (mr <= 4) of x against weight rows j..j+nr-1 (nr <= 2): 8 sums in registers,
 * each weight vector widened once and used mr times. */
static inline void f16_tile(const float *x, const uint16_t *w, float *y, int k, int n, int i, int j, int mr, int nr) {
    __m256 acc[4][2];
    for (int a = 0; a < 4; a++) acc[a][0] = acc[a][1] = _mm256_setzero_ps();
    const float *xr[4];
    const uint16_t *wr[2];
    for (int a = 0; a < 4; a++) xr[a] = x + (size_t)(i + (a < mr ? a : 0)) * k;
    for (int b = 0; b < 2; b++) wr[b] = w + (size_t)(j + (b < nr ? b : 0)) * k;
    int t = 0;
    for (; t + 8 <= k; t += 8) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr[0] + t)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr[1] + t)));
        for (int a = 0; a < 4; a++) {
            __m256 xv = _mm256_loadu_ps(xr[a] + t);
            acc[a][0] = _mm256_fmadd_ps(xv, w0, acc[a][0]);
            acc[a][1] = _mm256_fmadd_ps(xv, w1, acc[a][1]);
        }
    }
    for (int a = 0; a < mr; a++)
        for (int b = 0; b < nr; b++) {
            float s = ops_lp_hsum(acc[a][b]);
            for (int u = t; u < k; u++) s += xr[a][u] * _cvtsh_ss(wr[b][u]);
            y[(size_t)(i + a) * n + j + b] = s;
        }
}

typedef struct {
    const float *x;
    const uint16_t *w;
    float *y;
    int k, n;
} f16_job;
static void f16_tile_job(const void *ctx, int i, int j, int mr, int nr) {
    const f16_job *J = ctx;
    f16_tile(J->x, J->w, J->y, J->k, J->n, i, j, mr, nr);
}

static void f16_avx2(int nt, const float *x, const uint16_t *w, float *y, int m, int n, int k) {
    f16_job J = {x, w, y, k, n};
    ops_lp_tiles(nt, m, n, row_block(k), (size_t)m * n * k > 1000000, f16_tile_job, &J);
}
#endif

void ops_f16_linear(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, int impl) {
    int nt = o ? ops_ctx_threads(o) : 1;
    const uint16_t *h = w->data;
#ifdef F16_AVX2
    if (impl == OPS_LP_AVX2) {
        f16_avx2(nt, x, h, y, m, w->n, w->k);
        return;
    }
#endif
    if (impl == OPS_LP_REF)
        f16_ref(x, h, y, m, w->n, w->k);
    else
        f16_portable(nt, x, h, y, m, w->n, w->k);
}
