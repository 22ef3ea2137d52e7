/* ops_fast: the fast kernels that need no BLAS, and the ops_ctx. See ops.h.
 *
 * Cache-friendly loops parallelised with OpenMP on the ops_ctx's threads, written so GCC
 * vectorises them without reordering sums. They may call the reference helpers (ops.c), never
 * the other way round. ops_linear's product is the build's BLAS (ops_gemm, one ops_gemm_*.c). */
#include "ops.h"
#include "ops_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __AVX512F__
#include <immintrin.h>
#endif

ops_ctx *ops_ctx_new(int threads) {
    ops_ctx *o = calloc(1, sizeof *o);
    if (!o) return NULL;
    o->threads = o->max_threads = threads < 1 ? 1 : threads;
    pthread_mutex_init(&o->bal_packed.lock, NULL);
    pthread_mutex_init(&o->bal_small.lock, NULL);
    return o;
}

void ops_ctx_free(ops_ctx *o) {
    if (!o) return;
    pthread_mutex_destroy(&o->bal_packed.lock);
    pthread_mutex_destroy(&o->bal_small.lock);
    free(o);
}

int ops_ctx_threads(const ops_ctx *o) { return o->threads; }
int ops_ctx_max_threads(const ops_ctx *o) { return o->max_threads; }
void ops_ctx_set_threads(ops_ctx *o, int n) { o->threads = n < 1 ? 1 : n > o->max_threads ? o->max_threads : n; }

void ops_linear(ops_ctx *o, const float *x, const float *w, const float *b, float *y, int m, int n, int k) {
    ops_gemm(o, x, w, y, m, n, k);
    if (!b) return;
#pragma omp parallel for schedule(static) num_threads(o->threads) if ((size_t)m * n > 65536)
    for (int i = 0; i < m; i++) {
        float *r = y + (size_t)i * n;
        for (int j = 0; j < n; j++) r[j] += b[j];
    }
}

void ops_layernorm(ops_ctx *o, const float *x, const float *g, const float *b, float *y, int m, int d, float eps) {
#pragma omp parallel for schedule(static) num_threads(o->threads) if (m > 16)
    for (int i = 0; i < m; i++) ops_layernorm_ref(x + (size_t)i * d, g, b, y + (size_t)i * d, 1, d, eps);
}

void ops_residual(ops_ctx *o, float *x, const float *y, const float *b, int m, int n) {
#pragma omp parallel for schedule(static) num_threads(o->threads) if ((size_t)m * n > 65536)
    for (int i = 0; i < m; i++) {
        float *xr = x + (size_t)i * n;
        const float *yr = y + (size_t)i * n;
        if (b)
            for (int j = 0; j < n; j++) xr[j] += yr[j] + b[j];
        else
            for (int j = 0; j < n; j++) xr[j] += yr[j];
    }
}

void ops_residual_layernorm(ops_ctx *o, float *x, const float *y, const float *b, const float *g, const float *beta,
                            float *h, int m, int n, float eps) {
#pragma omp parallel for schedule(static) num_threads(o->threads) if (m > 16)
    for (int i = 0; i < m; i++) {
        float *xr = x + (size_t)i * n;
        const float *yr = y + (size_t)i * n;
        if (b)
            for (int j = 0; j < n; j++) xr[j] += yr[j] + b[j];
        else
            for (int j = 0; j < n; j++) xr[j] += yr[j];
        ops_layernorm_ref(xr, g, beta, h + (size_t)i * n, 1, n, eps);
    }
}

void ops_bias_act(ops_ctx *o, float *x, const float *b, int m, int n, int act) {
    /* one pass per row, rows shared between the threads (the bias alone was a serial loop: the
     * Q8/F16 products' Q, K, V bias ran on one thread while the other waited) */
    if (act == OPS_ACT_NONE && !b) return;
#pragma omp parallel for schedule(static) num_threads(o->threads) if ((size_t)m * n > 65536)
    for (int i = 0; i < m; i++) ops_row_bias_act(x + (size_t)i * n, b, n, act);
}

void ops_act(ops_ctx *o, float *x, size_t n, int act) {
    switch (act) {
    case OPS_ACT_QUICK_GELU:
#pragma omp parallel for schedule(static) num_threads(o->threads) if (n > 65536)
        for (size_t i = 0; i < n; i += 4096) quick_gelu_row(x + i, NULL, n - i < 4096 ? (int)(n - i) : 4096);
        break;
    case OPS_ACT_GELU:
#pragma omp parallel for schedule(static) num_threads(o->threads) if (n > 65536)
        for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    case OPS_ACT_GELU_TANH:
#pragma omp parallel for schedule(static) num_threads(o->threads) if (n > 65536)
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
        }
        break;
    default:
        for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

/* GCC/Clang vector extension: 8 floats, one AVX register (two SSE ones without AVX). Plain
 * multiply and add, no contraction: each lane rounds as the scalar reference does. */
typedef float v8f __attribute__((vector_size(32)));
/* (a macro: a function returning a vector type draws GCC's ABI note in builds without AVX) */
#define V8F_LOAD(p)                                                                                                    \
    ({                                                                                                                 \
        v8f v_;                                                                                                        \
        memcpy(&v_, (p), sizeof v_);                                                                                   \
        v_;                                                                                                            \
    })
#define V8F_STORE(p, v)                                                                                                \
    do {                                                                                                               \
        v8f v_ = (v);                                                                                                  \
        memcpy((p), &v_, sizeof v_);                                                                                   \
    } while (0)

/* keys are padded to a multiple of ATT_JB in the transposed K, so the score loop runs whole blocks */
#define ATT_JB 16
static size_t att_pad(int n) { return ((size_t)n + ATT_JB - 1) / ATT_JB * ATT_JB; }

/* queries per block: the score and p.V loops keep ATT_QB x 2 (or 2 x 4) sums in registers, enough
 * independent additions to hide their latency */
#define ATT_QB 4 /* the score loop below names its 4 x 2 sums */
/* per thread: K's head slice transposed (hd x padded n), then rows of scores (ATT_QB here, AVX512_QB
 * in the AVX-512 kernel), and 16 floats to align the start to a cache line */
#define AVX512_QB 6
static size_t att_scratch1(int n, int hd) { return ((size_t)hd + AVX512_QB) * att_pad(n) + 16; }
size_t ops_attention_scratch(const ops_ctx *o, int n, int hd) {
    size_t a = (size_t)o->max_threads * att_scratch1(n, hd), b = ops_attention_blis_scratch(o, n, hd);
    return a > b ? a : b;
}

void ops_attention_rows(ops_ctx *o, const float *q, int ldq, const int *qpos, const float *k, const float *v, int ld,
                        float *out, int ldo, const int *seq_off, const int *seq_len, int nseq, int heads, int hd,
                        int causal, const int *keymask, float *scratch) {
    const float scale = 1.0f / sqrtf((float)hd);
    int maxn = 0;
    for (int s = 0; s < nseq; s++) maxn = seq_len[s] > maxn ? seq_len[s] : maxn;
    const size_t per = att_scratch1(maxn, hd);
    /* a few dot products per pair: worth threads only for many pairs */
#pragma omp parallel for schedule(static) num_threads(o->threads) if (nseq * heads >= 32)
    for (int sh = 0; sh < nseq * heads; sh++) {
        const int s = sh / heads, h = sh % heads, o0 = seq_off[s], jn = causal ? qpos[s] + 1 : seq_len[s];
#ifdef _OPENMP
        float *p = scratch + (size_t)omp_get_thread_num() * per;
#else
        float *p = scratch;
#endif
        const float *qi = q + (size_t)s * ldq + h * hd;
        float *o = out + (size_t)s * ldo + h * hd;
        for (int j = 0; j < jn; j++) {
            const float *kj = k + (size_t)(o0 + j) * ld + h * hd;
            float d = 0.0f;
            for (int t = 0; t < hd; t++) d += qi[t] * kj[t];
            p[j] = d;
        }
        ops_softmax_row(p, jn, scale, keymask ? keymask + o0 : NULL); /* all keys masked: zeros */
        for (int t = 0; t < hd; t++) o[t] = 0.0f;
        for (int j = 0; j < jn; j++) {
            const float w = p[j], *vj = v + (size_t)(o0 + j) * ld + h * hd;
            for (int t = 0; t < hd; t++) o[t] += w * vj[t];
        }
    }
}

void ops_attention(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo, int n,
                   int heads, int hd, int causal, const int *keymask, float *scratch) {
    int off = 0;
    ops_attention_batch(o, q, k, v, ld, out, ldo, &off, &n, 1, heads, hd, causal, keymask, scratch);
}

#ifdef __AVX512F__
/* dst[c][r] = src[r][c] for a 16 x 16 block (rows past `rows` read as zeros): 64 shuffles in
 * registers instead of 256 scalar stores, each to another row of dst */
static inline void att512_tr16(const float *src, int lds, int rows, float *dst, int ldd) {
    __m512 r[16], t[16], u[16], v[16];
    for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_loadu_ps(src + (size_t)i * lds) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm512_shuffle_f32x4(u[i], u[i + 4], 0x88);
        v[i + 4] = _mm512_shuffle_f32x4(u[i], u[i + 4], 0xdd);
        v[i + 8] = _mm512_shuffle_f32x4(u[i + 8], u[i + 12], 0x88);
        v[i + 12] = _mm512_shuffle_f32x4(u[i + 8], u[i + 12], 0xdd);
    }
    for (int i = 0; i < 8; i++) {
        _mm512_storeu_ps(dst + (size_t)i * ldd, _mm512_shuffle_f32x4(v[i], v[i + 8], 0x88));
        _mm512_storeu_ps(dst + (size_t)(i + 8) * ldd, _mm512_shuffle_f32x4(v[i], v[i + 8], 0xdd));
    }
}

/* Attention on AVX-512 for a head size that is a multiple of 16 (CLIP's 64). Per (sequence, head):
 * K's head slice is transposed once, 16 x 16 blocks in registers (keys padded with zeros to a
 * multiple of 16), then per block of AVX512_QB queries: the scores of all keys, 4 x 16 keys at a
 * time, each a chain of FMAs over the head dimension in order, q broadcast from its row; the
 * softmax of ops_softmax_row; and out = P V with V read in place (a head's hd values of a key are
 * contiguous), 16 dims per register, keys in order. 24 sums live in registers in both loops.
 * Neither Q nor V is copied, and no P panels are packed: what the micro-kernel path spends
 * around its products. */
static void att512_pair(const float *qs, const float *ks, const float *vs, int ld, float *out, int ldo, int n, int hd,
                        int causal, const int *km, float scale, float *base) {
    enum { QB = AVX512_QB };
    const int np = (int)att_pad(n);
    float *kt = base, *P = kt + (size_t)hd * np;
    for (int j0 = 0; j0 < np; j0 += 16) /* keys past n: zeros */
        for (int t0 = 0; t0 < hd; t0 += 16)
            att512_tr16(ks + (size_t)j0 * ld + t0, ld, n - j0 < 16 ? n - j0 : 16, kt + (size_t)t0 * np + j0, np);
    for (int i0 = 0; i0 < n; i0 += QB) {
        const int ib = n - i0 < QB ? n - i0 : QB, jmax = causal ? i0 + ib : n, jv = (jmax + 15) / 16;
        const float *qr[QB];
        for (int r = 0; r < QB; r++) qr[r] = qs + (size_t)(i0 + (r < ib ? r : ib - 1)) * ld; /* spare rows repeat */
        /* scores: QB queries x 64 keys (4 registers), then the last keys 16 at a time */
        int j0 = 0;
        for (; j0 + 64 <= jv * 16; j0 += 64) {
            __m512 a[QB][4];
            for (int r = 0; r < QB; r++)
                for (int c = 0; c < 4; c++) a[r][c] = _mm512_setzero_ps();
            for (int t = 0; t < hd; t++) {
                const float *kr = kt + (size_t)t * np + j0;
                __m512 k0 = _mm512_loadu_ps(kr), k1 = _mm512_loadu_ps(kr + 16), k2 = _mm512_loadu_ps(kr + 32),
                       k3 = _mm512_loadu_ps(kr + 48);
                for (int r = 0; r < QB; r++) {
                    __m512 qv = _mm512_set1_ps(qr[r][t]);
                    a[r][0] = _mm512_fmadd_ps(qv, k0, a[r][0]);
                    a[r][1] = _mm512_fmadd_ps(qv, k1, a[r][1]);
                    a[r][2] = _mm512_fmadd_ps(qv, k2, a[r][2]);
                    a[r][3] = _mm512_fmadd_ps(qv, k3, a[r][3]);
                }
            }
            for (int r = 0; r < QB; r++)
                for (int c = 0; c < 4; c++) _mm512_storeu_ps(P + (size_t)r * np + j0 + 16 * c, a[r][c]);
        }
        for (; j0 < jv * 16; j0 += 16) {
            __m512 a[QB];
            for (int r = 0; r < QB; r++) a[r] = _mm512_setzero_ps();
            for (int t = 0; t < hd; t++) {
                __m512 k0 = _mm512_loadu_ps(kt + (size_t)t * np + j0);
                for (int r = 0; r < QB; r++) a[r] = _mm512_fmadd_ps(_mm512_set1_ps(qr[r][t]), k0, a[r]);
            }
            for (int r = 0; r < QB; r++) _mm512_storeu_ps(P + (size_t)r * np + j0, a[r]);
        }
        /* softmax per query; keys past a causal row's end get 0, so P V may run to jmax */
        for (int r = 0; r < ib; r++) {
            float *p = P + (size_t)r * np;
            int jn = causal ? i0 + r + 1 : n;
            ops_softmax_row(p, jn, scale, km); /* every key masked: zeros (torch: NaN) */
            for (int j = jn; j < jmax; j++) p[j] = 0.0f;
        }
        /* out = P V: QB queries x 64 dims (4 registers) at a time, keys in order */
        for (int t0 = 0; t0 < hd; t0 += 64) {
            const int nv = hd - t0 < 64 ? (hd - t0) / 16 : 4;
            __m512 a[QB][4];
            for (int r = 0; r < QB; r++)
                for (int c = 0; c < 4; c++) a[r][c] = _mm512_setzero_ps();
            if (nv == 4)
                for (int j = 0; j < jmax; j++) {
                    const float *vr = vs + (size_t)j * ld + t0;
                    __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16), v2 = _mm512_loadu_ps(vr + 32),
                           v3 = _mm512_loadu_ps(vr + 48);
                    for (int r = 0; r < QB; r++) {
                        __m512 pv = _mm512_set1_ps(P[(size_t)r * np + j]);
                        a[r][0] = _mm512_fmadd_ps(pv, v0, a[r][0]);
                        a[r][1] = _mm512_fmadd_ps(pv, v1, a[r][1]);
                        a[r][2] = _mm512_fmadd_ps(pv, v2, a[r][2]);
                        a[r][3] = _mm512_fmadd_ps(pv, v3, a[r][3]);
                    }
                }
            else
                for (int j = 0; j < jmax; j++)
                    for (int c = 0; c < nv; c++) {
                        __m512 vv = _mm512_loadu_ps(vs + (size_t)j * ld + t0 + 16 * c);
                        for (int r = 0; r < QB; r++)
                            a[r][c] = _mm512_fmadd_ps(_mm512_set1_ps(P[(size_t)r * np + j]), vv, a[r][c]);
                    }
            for (int r = 0; r < ib; r++)
                for (int c = 0; c < nv; c++) _mm512_storeu_ps(out + (size_t)(i0 + r) * ldo + t0 + 16 * c, a[r][c]);
        }
    }
}
#endif

/* 1 when the AVX-512 kernel runs this head size (else the micro-kernel or the loops below) */
int ops_attention_avx512_ok(int hd) {
#ifdef __AVX512F__
    return hd > 0 && hd % 16 == 0;
#else
    (void)hd;
    return 0;
#endif
}

void ops_attention_avx512(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                          const int *seq_off, const int *seq_len, int nseq, int heads, int hd, int causal,
                          const int *keymask, float *scratch) {
#ifdef __AVX512F__
    const float scale = 1.0f / sqrtf((float)hd);
    int maxn = 0;
    for (int s = 0; s < nseq; s++) maxn = seq_len[s] > maxn ? seq_len[s] : maxn;
    const size_t per = att_scratch1(maxn, hd);
    /* pairs handed out one at a time: a pair is a few microseconds, and a thread the host slows
     * does fewer of them instead of holding the others at the end */
#pragma omp parallel for schedule(dynamic, 1) num_threads(o->threads) if (nseq * heads > 1 && maxn > 8)
    for (int sh = 0; sh < nseq * heads; sh++) {
        const int s = sh / heads, h = sh % heads, o0 = seq_off[s];
        float *base = ops_thread_scratch(scratch, per);
        att512_pair(q + (size_t)o0 * ld + h * hd, k + (size_t)o0 * ld + h * hd, v + (size_t)o0 * ld + h * hd, ld,
                    out + (size_t)o0 * ldo + h * hd, ldo, seq_len[s], hd, causal, keymask ? keymask + o0 : NULL, scale,
                    base);
    }
#else
    (void)o, (void)q, (void)k, (void)v, (void)ld, (void)out, (void)ldo, (void)seq_off, (void)seq_len, (void)nseq;
    (void)heads, (void)hd, (void)causal, (void)keymask, (void)scratch;
#endif
}

void ops_attention_batch(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                         const int *seq_off, const int *seq_len, int nseq, int heads, int hd, int causal,
                         const int *keymask, float *scratch) {
    if (ops_attention_avx512_ok(hd)) {
        ops_attention_avx512(o, q, k, v, ld, out, ldo, seq_off, seq_len, nseq, heads, hd, causal, keymask, scratch);
        return;
    }
    if (ops_attention_blis(o, q, k, v, ld, out, ldo, seq_off, seq_len, nseq, heads, hd, causal, keymask, scratch))
        return;
    const float scale = 1.0f / sqrtf((float)hd);
    int maxn = 0;
    for (int s = 0; s < nseq; s++) maxn = seq_len[s] > maxn ? seq_len[s] : maxn;
        /* Without BLIS: one (sequence, head) pair per iteration, all pairs in one parallel region. K's head slice
     * is transposed first so the scores of all keys are computed in a loop the compiler
     * vectorises across keys, while each score is still summed in the head dimension's order
     * (the reference dot product's order). */
#pragma omp parallel for schedule(static) num_threads(o->threads) if (nseq * heads > 1 && maxn > 8)
    for (int sh = 0; sh < nseq * heads; sh++) {
        int s = sh / heads, h = sh % heads, n = seq_len[s], o0 = seq_off[s];
#ifdef _OPENMP
        float *kt = scratch + (size_t)omp_get_thread_num() * att_scratch1(maxn, hd);
#else
        float *kt = scratch;
#endif
        const size_t np = att_pad(n);
        float *P = kt + (size_t)hd * np; /* ATT_QB rows of scores, then probabilities */
        const float *qs = q + (size_t)o0 * ld + h * hd, *ks = k + (size_t)o0 * ld + h * hd,
                    *vs = v + (size_t)o0 * ld + h * hd;
        const int *km = keymask ? keymask + o0 : NULL;
        for (int t = 0; t < hd; t++) {
            float *kr = kt + (size_t)t * np;
            for (int j = 0; j < n; j++) kr[j] = ks[(size_t)j * ld + t];
            for (size_t j = (size_t)n; j < np; j++) kr[j] = 0.0f;
        }
        for (int i0 = 0; i0 < n; i0 += ATT_QB) {
            const int ib = n - i0 < ATT_QB ? n - i0 : ATT_QB, jmax = causal ? i0 + ib : n;
            const float *qr[ATT_QB];
            for (int r = 0; r < ATT_QB; r++)
                qr[r] = qs + (size_t)(i0 + (r < ib ? r : 0)) * ld; /* spare rows repeat row i0 */
            /* scores, ATT_QB queries x ATT_JB keys at a time; each score adds its terms in t order */
            for (int j0 = 0; j0 < jmax; j0 += ATT_JB) {
                /* eight named sums (an indexed array of them ends up on the stack) */
                v8f a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
                for (int t = 0; t < hd; t++) {
                    const float *kr = kt + (size_t)t * np + j0;
                    const v8f k0 = V8F_LOAD(kr), k1 = V8F_LOAD(kr + 8);
                    const v8f q0 = (v8f){0} + qr[0][t], q1 = (v8f){0} + qr[1][t], q2 = (v8f){0} + qr[2][t],
                              q3 = (v8f){0} + qr[3][t];
                    a00 += q0 * k0;
                    a01 += q0 * k1;
                    a10 += q1 * k0;
                    a11 += q1 * k1;
                    a20 += q2 * k0;
                    a21 += q2 * k1;
                    a30 += q3 * k0;
                    a31 += q3 * k1;
                }
                float *pr = P + j0;
                V8F_STORE(pr, a00);
                V8F_STORE(pr + 8, a01);
                pr += np;
                V8F_STORE(pr, a10);
                V8F_STORE(pr + 8, a11);
                pr += np;
                V8F_STORE(pr, a20);
                V8F_STORE(pr + 8, a21);
                pr += np;
                V8F_STORE(pr, a30);
                V8F_STORE(pr + 8, a31);
            }
            /* softmax per query; keys past its own end (causal) get probability 0, so the p.V
             * sums below may run to jmax: adding zeros changes no sum */
            for (int r = 0; r < ib; r++) {
                float *p = P + (size_t)r * np;
                int jn = causal ? i0 + r + 1 : n;
                ops_softmax_row(p, jn, scale, km); /* every key masked: torch gives NaN; we give zeros */
                for (int j = jn; j < jmax; j++) p[j] = 0.0f;
            }
            /* out = p . V, two queries x 32 dims at a time, keys in order */
            for (int r = 0; r < ib; r += 2) {
                const int two = r + 1 < ib;
                const float *p0 = P + (size_t)r * np, *p1 = two ? p0 + np : p0;
                float *o0r = out + (size_t)(o0 + i0 + r) * ldo + h * hd, *o1r = two ? o0r + ldo : o0r;
                int t0 = 0;
                for (; t0 + 32 <= hd; t0 += 32) {
                    v8f a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0}, a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0};
                    for (int j = 0; j < jmax; j++) {
                        const float *vj = vs + (size_t)j * ld + t0;
                        const v8f v0 = V8F_LOAD(vj), v1 = V8F_LOAD(vj + 8), v2 = V8F_LOAD(vj + 16),
                                  v3 = V8F_LOAD(vj + 24);
                        const v8f pa = (v8f){0} + p0[j], pb = (v8f){0} + p1[j];
                        a00 += pa * v0;
                        a01 += pa * v1;
                        a02 += pa * v2;
                        a03 += pa * v3;
                        a10 += pb * v0;
                        a11 += pb * v1;
                        a12 += pb * v2;
                        a13 += pb * v3;
                    }
                    /* row 1 first: when there is no second row, o1r == o0r and row 0 wins */
                    V8F_STORE(o1r + t0, a10);
                    V8F_STORE(o1r + t0 + 8, a11);
                    V8F_STORE(o1r + t0 + 16, a12);
                    V8F_STORE(o1r + t0 + 24, a13);
                    V8F_STORE(o0r + t0, a00);
                    V8F_STORE(o0r + t0 + 8, a01);
                    V8F_STORE(o0r + t0 + 16, a02);
                    V8F_STORE(o0r + t0 + 24, a03);
                }
                for (int t = t0; t < hd; t++) {
                    float s0 = 0.0f, s1 = 0.0f;
                    for (int j = 0; j < jmax; j++) {
                        s0 += p0[j] * vs[(size_t)j * ld + t];
                        s1 += p1[j] * vs[(size_t)j * ld + t];
                    }
                    o1r[t] = s1;
                    o0r[t] = s0;
                }
            }
        }
    }
}
