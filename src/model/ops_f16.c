/* ops_f16: y = x . W^T on F16 weights (see ops_lp.h). Widening costs one instruction per 8 weights
 * with F16C; the products and sums stay in F32. */
#include <string.h>
#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#include <immintrin.h>
#define F16_AVX2 1
#endif

#include "ops.h"
#include "ops_lp.h"

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
/* The tile: F16_MR rows of x by F16_NR weight rows, F16_MR * F16_NR sums in registers (12 of the
 * 16 ymm), each weight vector widened once (vcvtph2ps) and used F16_MR times, each x vector
 * loaded once and used F16_NR times. */
enum { F16_MR = 6, F16_NR = 2 };
/* Rows i..i+mr-1 (mr <= R <= F16_MR) of x against weight rows j..j+nr-1 (nr <= F16_NR). R is a
 * constant where it is inlined, so a short tile (the last rows, or a query's few) computes R rows,
 * not F16_MR. */
static inline __attribute__((always_inline)) void f16_tile(const float *x, const uint16_t *w, float *y, int k, int n,
                                                           int i, int j, int mr, int nr, const int R) {
    __m256 acc[F16_MR][F16_NR];
    for (int a = 0; a < R; a++)
        for (int c = 0; c < F16_NR; c++) acc[a][c] = _mm256_setzero_ps();
    const float *xr[F16_MR];
    const uint16_t *wr[F16_NR];
    for (int a = 0; a < R; a++) xr[a] = x + (size_t)(i + (a < mr ? a : 0)) * k;
    for (int c = 0; c < F16_NR; c++) wr[c] = w + (size_t)(j + (c < nr ? c : 0)) * k;
    int t = 0;
    for (; t + 8 <= k; t += 8) {
        __m256 wv[F16_NR];
        for (int c = 0; c < F16_NR; c++) wv[c] = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wr[c] + t)));
        for (int a = 0; a < R; a++) {
            __m256 xv = _mm256_loadu_ps(xr[a] + t);
            /* in a register: GCC would otherwise fold the load into each FMA, and two loads per
             * FMA pair, not the FMAs, then bound the loop */
            __asm__("" : "+x"(xv));
            for (int c = 0; c < F16_NR; c++) acc[a][c] = _mm256_fmadd_ps(xv, wv[c], acc[a][c]);
        }
    }
    for (int a = 0; a < mr; a++)
        for (int c = 0; c < nr; c++) {
            float s = ops_lp_hsum(acc[a][c]);
            for (int u = t; u < k; u++) s += xr[a][u] * _cvtsh_ss(wr[c][u]);
            y[(size_t)(i + a) * n + j + c] = s;
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
    if (mr <= 2)
        f16_tile(J->x, J->w, J->y, J->k, J->n, i, j, mr, nr, 2);
    else if (mr <= 4)
        f16_tile(J->x, J->w, J->y, J->k, J->n, i, j, mr, nr, 4);
    else
        f16_tile(J->x, J->w, J->y, J->k, J->n, i, j, mr, nr, F16_MR);
}

static void f16_avx2(int nt, const float *x, const uint16_t *w, float *y, int m, int n, int k) {
    f16_job J = {x, w, y, k, n};
    ops_lp_tiles(nt, m, n, F16_MR, F16_NR, (size_t)k * sizeof *w, (size_t)m * n * k > 1000000, f16_tile_job, &J);
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
