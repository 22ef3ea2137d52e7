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
/* Rows i..i+mr-1 (mr <= R <= 4) of the quantised x against weight rows j..j+nr-1 (nr <= 4), the
 * register-blocked way of llamafile's tinyBLAS: each weight block is loaded once for 4 rows, each
 * activation block once for 4 columns.
 * vpmaddubsw multiplies unsigned by signed bytes, so x's magnitudes go in unsigned and its signs
 * move onto the weights (vpsignb); |q| <= 127 keeps each pair sum (at most 2 * 127 * 127) inside
 * int16, so nothing saturates. vpmaddwd then sums pairs into int32: exact, as the reference.
 * The scaling is what costs on AVX2 (a conversion, a multiply and an FMA per block pair), so the
 * four columns' int32 partial sums are first folded into one vector (vphaddd twice: lanes c0..c3
 * in each half), converted once and scaled by d_x times the four columns' d_w in one multiply. */
static inline __attribute__((always_inline)) void q8_tile(const int8_t *q, const float *d, const ops_q8_block *w,
                                                          float *y, int n, int nb, int i, int j, int mr, int nr,
                                                          const int R) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int a = 0; a < R; a++) acc[a] = _mm256_setzero_ps();
    const int8_t *xr[4];
    const float *dr[4];
    const ops_q8_block *wr[4];
    for (int a = 0; a < R; a++) {
        int r = i + (a < mr ? a : 0);
        xr[a] = q + (size_t)r * nb * OPS_Q8_BLOCK;
        dr[a] = d + (size_t)r * nb;
    }
    for (int c = 0; c < 4; c++) wr[c] = w + (size_t)(j + (c < nr ? c : 0)) * nb;
    for (int b = 0; b < nb; b++) {
        __m256i w0 = _mm256_loadu_si256((const __m256i *)wr[0][b].qs);
        __m256i w1 = _mm256_loadu_si256((const __m256i *)wr[1][b].qs);
        __m256i w2 = _mm256_loadu_si256((const __m256i *)wr[2][b].qs);
        __m256i w3 = _mm256_loadu_si256((const __m256i *)wr[3][b].qs);
        /* d_w of the four columns, twice: [d0 d1 d2 d3 d0 d1 d2 d3] */
        __m128 dw4 = _mm_cvtph_ps(
            _mm_setr_epi16((short)wr[0][b].d, (short)wr[1][b].d, (short)wr[2][b].d, (short)wr[3][b].d, 0, 0, 0, 0));
        __m256 dw = _mm256_set_m128(dw4, dw4);
        for (int a = 0; a < R; a++) {
            __m256i xv = _mm256_load_si256((const __m256i *)(xr[a] + (size_t)b * OPS_Q8_BLOCK));
            __asm__("" : "+x"(xv)); /* one load, not one folded into each vpsignb */
            __m256i ax = _mm256_sign_epi8(xv, xv);
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, xv)), ones);
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, xv)), ones);
            __m256i p2 = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w2, xv)), ones);
            __m256i p3 = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, _mm256_sign_epi8(w3, xv)), ones);
            /* [c0 c1 c0 c1 | ...] and [c2 c3 c2 c3 | ...], then [c0 c1 c2 c3 | c0 c1 c2 c3] */
            __m256i t01 = _mm256_add_epi32(_mm256_unpacklo_epi32(p0, p1), _mm256_unpackhi_epi32(p0, p1));
            __m256i t23 = _mm256_add_epi32(_mm256_unpacklo_epi32(p2, p3), _mm256_unpackhi_epi32(p2, p3));
            __m256i s = _mm256_add_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
            __m256 sc = _mm256_mul_ps(dw, _mm256_broadcast_ss(&dr[a][b]));
            acc[a] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, acc[a]);
        }
    }
    for (int a = 0; a < mr; a++) {
        /* lanes c0..c3 of both halves */
        __m128 v = _mm_add_ps(_mm256_castps256_ps128(acc[a]), _mm256_extractf128_ps(acc[a], 1));
        float o[4];
        _mm_storeu_ps(o, v);
        for (int c = 0; c < nr; c++) y[(size_t)(i + a) * n + j + c] = o[c];
    }
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
    /* R a constant in each call, so a short tile (the last rows, or a query's few) works on R rows */
    if (mr <= 2)
        q8_tile(J->q, J->d, J->w, J->y, J->n, J->nb, i, j, mr, nr, 2);
    else
        q8_tile(J->q, J->d, J->w, J->y, J->n, J->nb, i, j, mr, nr, 4);
}

static void q8_avx2(int nt, const int8_t *q, const float *d, const ops_q8_block *w, float *y, int m, int n, int nb) {
    q8_job J = {q, d, w, y, n, nb};
    ops_lp_tiles(nt, m, n, 4, 4, (size_t)nb * sizeof *w, (size_t)m * n * nb > 30000, q8_tile_job, &J);
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
