/* ops_int: helpers shared by the CPU kernels (private to src/model/ops*).
 *
 * The files and who calls whom (one direction only):
 *   ops.c          the reference kernels: plain loops, no threads; they call nothing else here.
 *   ops_fast.c     the fast kernels that need no BLAS (layer norm, activations, attention loops),
 *                  the ops_ctx, and ops_linear; may call the reference helpers.
 *   ops_gemm_*.c   one per BLAS= choice (the Makefile compiles exactly one): ops_gemm and
 *                  ops_blas_name for that vendor.
 *   ops_blis.c     BLIS's micro-kernel: prepacked weights, attention, the speed-balanced splits
 *                  (BLAS=auto and blis); ops_nopack.c stands in for it in the other builds. */
#ifndef OPS_INT_H
#define OPS_INT_H

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

#include "ops.h"

/* Sharing a product's columns between threads by their measured speed (ops_blis.c). One per kind
 * of product, kept in the ops_ctx (so in the backend object), not in the process. */
#define PK_MAXT 64
typedef struct {
    pthread_mutex_t lock;
    int n;                 /* thread count the shares are for (0: none learnt yet) */
    double share[PK_MAXT]; /* sums to 1 */
} ops_bal;

struct ops_ctx {
    int threads;        /* >= 1: our OpenMP loops and the BLAS's own threads, for the next runs */
    int max_threads;    /* what the context was made for: threads never exceeds it */
    ops_bal bal_packed; /* the packed products (vision tower) */
    ops_bal bal_small;  /* BLAS=auto's few-row products split between threads (text tower) */
};

/* y[m, n] = x[m, k] . w[n, k]^T on the build's BLAS (ops_gemm_<vendor>.c), o->threads threads. */
void ops_gemm(ops_ctx *o, const float *x, const float *w, float *y, int m, int n, int k);

/* Sets BLIS_ARCH_TYPE for a CPU newer than BLIS (blisarch.h), once, unless the user set it; to be
 * run before any BLIS call, as BLIS reads it once (ops_blis.c; only in builds with BLIS). */
void ops_blis_arch_once(void);

/* A few-row product split between o->threads threads by their measured speeds, each running BLIS
 * alone on a slice of the weight rows (ops_blis.c; only in builds with BLIS). */
void ops_blis_gemm_split(ops_ctx *o, const float *x, const float *w, float *y, int m, int n, int k);

/* The calling OpenMP thread's part of a scratch of per floats per thread (plus 64 bytes each for
 * alignment), 64-byte aligned: the attention kernels' per-(sequence, head) workspace. */
static inline float *ops_thread_scratch(float *scratch, size_t per) {
#ifdef _OPENMP
    float *base = scratch + (size_t)omp_get_thread_num() * per;
#else
    float *base = scratch;
#endif
    return (float *)(((uintptr_t)base + 63) & ~(uintptr_t)63);
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
    float p =
        1.0f +
        r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f + r * (0.0083333338f + r * 0.0013888889f)))));
    int32_t e = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

/* x[j] = quick_gelu(x[j] + b[j]) = v / (1 + exp(-1.702 v)) for one row (b may be NULL). The
 * denominators are computed in one loop and divided in another: written as one expression, GCC
 * splits it around exp_poly's clamps into two divisions and three blends, and it ran at half the
 * speed (3.2 against 1.7 ns per value on one core here). */
static inline void quick_gelu_row(float *x, const float *b, int n) {
#ifdef __AVX512F__
    /* The same operations in 16-wide registers, one by one as above and in exp_poly (no FMA, the
     * clamps as max/min that keep a NaN), so the same results bit for bit; GCC's own vectorisation
     * of the two loops below mixed 128-, 256- and 512-bit code. The tail is masked. */
    for (int j0 = 0; j0 < n; j0 += 16) {
        const __mmask16 k = n - j0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j0)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(k, x + j0);
        if (b) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, b + j0));
        __m512 e = _mm512_mul_ps(_mm512_set1_ps(-1.702f), v);
        e = _mm512_max_ps(_mm512_set1_ps(-87.0f), e);
        e = _mm512_min_ps(_mm512_set1_ps(88.0f), e);
        const __m512 big = _mm512_set1_ps(12582912.0f);
        __m512 nn = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(e, _mm512_set1_ps(1.44269504088896341f)), big), big);
        __m512 r = _mm512_sub_ps(e, _mm512_mul_ps(nn, _mm512_set1_ps(0.693145751953125f)));
        r = _mm512_sub_ps(r, _mm512_mul_ps(nn, _mm512_set1_ps(1.428606765330187e-06f)));
        __m512 p = _mm512_add_ps(_mm512_set1_ps(0.0083333338f), _mm512_mul_ps(r, _mm512_set1_ps(0.0013888889f)));
        p = _mm512_add_ps(_mm512_set1_ps(0.041666668f), _mm512_mul_ps(r, p));
        p = _mm512_add_ps(_mm512_set1_ps(0.16666667f), _mm512_mul_ps(r, p));
        p = _mm512_add_ps(_mm512_set1_ps(0.5f), _mm512_mul_ps(r, p));
        p = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(r, p));
        p = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(r, p));
        __m512i ei = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(nn), _mm512_set1_epi32(127)), 23);
        __m512 d = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(p, _mm512_castsi512_ps(ei)));
        _mm512_mask_storeu_ps(x + j0, k, _mm512_div_ps(v, d));
    }
    return;
#endif
    float d[16];
    for (int j0 = 0; j0 < n; j0 += 16) {
        int w = n - j0 < 16 ? n - j0 : 16;
        float *xr = x + j0;
        if (b)
            for (int j = 0; j < w; j++) xr[j] += b[j0 + j];
        if (w == 16) {
            for (int j = 0; j < 16; j++) d[j] = 1.0f + exp_poly(-1.702f * xr[j]);
            for (int j = 0; j < 16; j++) xr[j] = xr[j] / d[j];
        } else {
            for (int j = 0; j < w; j++) d[j] = 1.0f + exp_poly(-1.702f * xr[j]);
            for (int j = 0; j < w; j++) xr[j] = xr[j] / d[j];
        }
    }
}

/* x[i] = act(x[i] + b[i]) for one row of n values (b may be NULL); OPS_ACT_NONE adds the bias
 * only. quick_gelu uses exp_poly (vectorised); the rare activations use libm. */
static inline void ops_row_bias_act(float *x, const float *b, int n, int act) {
    switch (act) {
    case OPS_ACT_QUICK_GELU: quick_gelu_row(x, b, n); break;
    case OPS_ACT_GELU:
        for (int j = 0; j < n; j++) {
            float v = x[j] + (b ? b[j] : 0.0f);
            x[j] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
        }
        break;
    case OPS_ACT_GELU_TANH:
        for (int j = 0; j < n; j++) {
            float v = x[j] + (b ? b[j] : 0.0f);
            x[j] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
        }
        break;
    case OPS_ACT_RELU:
        for (int j = 0; j < n; j++) {
            float v = x[j] + (b ? b[j] : 0.0f);
            x[j] = v > 0.0f ? v : 0.0f;
        }
        break;
    default:
        if (b)
            for (int j = 0; j < n; j++) x[j] += b[j];
    }
}

/* p[0..n) = softmax(p * scale) over the keys km marks (km NULL: all); an all-masked row is 0
 * (torch gives NaN). Maxima and sums over 8 interleaved lanes, so the loops vectorise. */
static inline void ops_softmax_row(float *p, int n, float scale, const int *km) {
    float m8[8], s8[8] = {0}, mx = -INFINITY, sum = 0.0f;
    int j;
    for (int l = 0; l < 8; l++) m8[l] = -INFINITY;
    if (km)
        for (j = 0; j < n; j++) p[j] = km[j] ? p[j] * scale : -INFINITY;
    else
        for (j = 0; j < n; j++) p[j] *= scale;
    for (j = 0; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) m8[l] = p[j + l] > m8[l] ? p[j + l] : m8[l];
    for (; j < n; j++) mx = p[j] > mx ? p[j] : mx;
    for (int l = 0; l < 8; l++) mx = m8[l] > mx ? m8[l] : mx;
    if (mx == -INFINITY) {
        memset(p, 0, (size_t)n * sizeof *p);
        return;
    }
    for (j = 0; j < n; j++) p[j] = p[j] == -INFINITY ? 0.0f : exp_poly(p[j] - mx);
    for (j = 0; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) s8[l] += p[j + l];
    for (; j < n; j++) sum += p[j];
    for (int l = 0; l < 8; l++) sum += s8[l];
    const float inv = 1.0f / sum;
    for (j = 0; j < n; j++) p[j] *= inv;
}

/* Attention on BLIS's micro-kernel (ops_blis.c): the same contract as ops_attention_batch.
 * Returns 1 when it ran, 0 when the build has no BLIS micro-kernel (the caller runs its own
 * loops). Scratch: ops_attention_blis_scratch(o, longest sequence, hd) floats (0 without BLIS). */
size_t ops_attention_blis_scratch(const ops_ctx *o, int n, int hd);
int ops_attention_blis(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       const int *seq_off, const int *seq_len, int nseq, int heads, int hd, int causal,
                       const int *keymask, float *scratch);

#endif
