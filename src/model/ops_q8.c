/* ops_q8: y = x . W^T on q8_0 weights (see ops_lp.h). The rows of x are quantised into the same
 * blocks first; a block pair's 32 products are summed exactly in int32, then scaled in F32, as
 * ggml_vec_dot_q8_0_q8_0 does. */
#include <string.h>
#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#include <immintrin.h>
#define Q8_AVX2 1
#endif

#include "ops.h"
#include "ops_lp.h"

/* The quantised activations in scratch: q[m][nb * 32] (64-byte aligned), then d[m][nb]. */
static void quantize_rows(int nt, const float *x, int m, int k, int nb, void *scratch, int8_t **q, float **d) {
    uintptr_t a = ((uintptr_t)scratch + 63) & ~(uintptr_t)63;
    *q = (int8_t *)a;
    *d = (float *)(*q + (size_t)m * nb * OPS_Q8_BLOCK);
    int8_t *qq = *q;
    float *dd = *d;
#pragma omp parallel for schedule(static) num_threads(nt) if ((size_t)m * k > 32768)
    for (int i = 0; i < m; i++)
        ops_q8_quantize_row(x + (size_t)i * k, k, qq + (size_t)i * nb * OPS_Q8_BLOCK, dd + (size_t)i * nb);
}

/* One output: the blocks in order, each an exact int32 sum scaled by both scales. */
static float dot_blocks(const int8_t *qx, const float *dx, const ops_q8_block *w, int nb) {
    float s = 0.0f;
    for (int b = 0; b < nb; b++) {
        int32_t is = 0;
        for (int t = 0; t < OPS_Q8_BLOCK; t++) is += (int32_t)qx[b * OPS_Q8_BLOCK + t] * w[b].qs[t];
        s += (float)is * (dx[b] * ops_f16_to_f32(w[b].d));
    }
    return s;
}

static void q8_ref(const int8_t *q, const float *d, const ops_q8_block *w, float *y, int m, int n, int nb) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            y[(size_t)i * n + j] =
                dot_blocks(q + (size_t)i * nb * OPS_Q8_BLOCK, d + (size_t)i * nb, w + (size_t)j * nb, nb);
}

/* Portable: the reference's sums (bit for bit), with the weight rows shared among threads and the
 * int8 loops in a form GCC vectorises. */
static void q8_portable(int nt, const int8_t *q, const float *d, const ops_q8_block *w, float *y, int m, int n,
                        int nb) {
#pragma omp parallel for schedule(static) num_threads(nt) if ((size_t)m * n * nb > 30000)
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++)
            y[(size_t)i * n + j] =
                dot_blocks(q + (size_t)i * nb * OPS_Q8_BLOCK, d + (size_t)i * nb, w + (size_t)j * nb, nb);
}

#ifdef Q8_AVX2
/* Rows i..i+mr-1 (mr <= 4) of the quantised x against weight rows j..j+nr-1 (nr <= 2).
 * vpmaddubsw multiplies unsigned by signed bytes, so x's magnitudes go in unsigned and its signs
 * move onto the weights (vpsignb); |q| <= 127 keeps each pair sum (at most 2 * 127 * 127) inside
 * int16, so nothing saturates. vpmaddwd then sums pairs into int32: exact, as the reference. */
static inline void q8_tile(const int8_t *q, const float *d, const ops_q8_block *w, float *y, int n, int nb, int i,
                           int j, int mr, int nr) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4][2];
    for (int a = 0; a < 4; a++) acc[a][0] = acc[a][1] = _mm256_setzero_ps();
    const int8_t *xr[4];
    const float *dr[4];
    const ops_q8_block *wr[2];
    for (int a = 0; a < 4; a++) {
        int r = i + (a < mr ? a : 0);
        xr[a] = q + (size_t)r * nb * OPS_Q8_BLOCK;
        dr[a] = d + (size_t)r * nb;
    }
    for (int b = 0; b < 2; b++) wr[b] = w + (size_t)(j + (b < nr ? b : 0)) * nb;
    for (int b = 0; b < nb; b++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)wr[0][b].qs);
        __m256i w1 = _mm256_loadu_si256((const __m256i *)wr[1][b].qs);
        float d0 = _cvtsh_ss(wr[0][b].d), d1 = _cvtsh_ss(wr[1][b].d);
        for (int a = 0; a < 4; a++) {
            __m256i xv = _mm256_load_si256((const __m256i *)(xr[a] + (size_t)b * OPS_Q8_BLOCK));
            __m256i ax = _mm256_sign_epi8(xv, xv);
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, xv)), ones);
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, xv)), ones);
            float dx = dr[a][b];
            acc[a][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(dx * d0), acc[a][0]);
            acc[a][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(dx * d1), acc[a][1]);
        }
    }
    for (int a = 0; a < mr; a++)
        for (int b = 0; b < nr; b++) y[(size_t)(i + a) * n + j + b] = ops_lp_hsum(acc[a][b]);
}

typedef struct {
    const int8_t *q;
    const float *d;
    const ops_q8_block *w;
    float *y;
    int n, nb;
} q8_job;
static void q8_tile_job(const void *ctx, int i, int j, int mr, int nr) {
    const q8_job *J = ctx;
    q8_tile(J->q, J->d, J->w, J->y, J->n, J->nb, i, j, mr, nr);
}

static void q8_avx2(int nt, const int8_t *q, const float *d, const ops_q8_block *w, float *y, int m, int n, int nb) {
    /* rows of x kept hot while a thread walks its weight rows: about 64 KB of them */
    int rb = (64 * 1024) / (nb * OPS_Q8_BLOCK);
    q8_job J = {q, d, w, y, n, nb};
    ops_lp_tiles(nt, m, n, rb < 4 ? 4 : rb - rb % 4, (size_t)m * n * nb > 30000, q8_tile_job, &J);
}
#endif

void ops_q8_linear(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, void *scratch, int impl) {
    int nt = o ? ops_ctx_threads(o) : 1;
    int8_t *q;
    float *d;
    quantize_rows(nt, x, m, w->k, w->nb, scratch, &q, &d);
#ifdef Q8_AVX2
    if (impl == OPS_LP_AVX2) {
        q8_avx2(nt, q, d, w->data, y, m, w->n, w->nb);
        return;
    }
#endif
    if (impl == OPS_LP_REF)
        q8_ref(q, d, w->data, y, m, w->n, w->nb);
    else
        q8_portable(nt, q, d, w->data, y, m, w->n, w->nb);
}
