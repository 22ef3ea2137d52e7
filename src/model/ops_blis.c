/* ops_blis: the fast path on BLIS's sgemm micro-kernel (compiled for BLAS=auto and BLAS=blis;
 * ops_nopack.c takes its place otherwise): weights prepacked once into the micro-kernel's panel
 * order, the products that finish each tile (bias, activation, residual) while it is in cache,
 * attention as two small products per (sequence, head), and the split of a few-row product
 * between threads by their measured speeds. See ops.h and ops_int.h.
 *
 * The only process-wide state is g_pk: the micro-kernel and blocksizes BLIS reports for this CPU,
 * found once, and BLIS_ARCH_TYPE, set once before BLIS's first use on a CPU newer than BLIS
 * (blisarch.h). Thread counts and the load-balancing shares are the caller's ops_ctx. */
#include "blisarch.h"
#include "ops.h"
#include "ops_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __AVX__
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include <blis.h>

/* ---------------- the BLIS configuration (blisarch.h) ----------------
 * BLIS reads BLIS_ARCH_TYPE once, when it first initialises (a pthread_once of its own), and a
 * query of its choice (bli_arch_query_id) fixes it too; so the variable is set here, before any
 * BLIS call: every entry point of ops_blis.c and ops_gemm_{blis,auto}.c runs ops_blis_arch_once
 * first, and a constructor runs it at program start, while the process has one thread (setenv is
 * not safe against a getenv in another thread). The value, BLIS's index of the configuration, is
 * inherited by child processes, which then use the same configuration. */
static int blis_config_built(int id) {
    /* a configuration named by bli_arch_string but left out of the library would abort BLIS at
     * its initialisation; blis.h says which were built */
    switch (id) {
#ifdef BLIS_CONFIG_ZEN3
    case BLIS_ARCH_ZEN3: return 1;
#endif
#ifdef BLIS_CONFIG_ZEN2
    case BLIS_ARCH_ZEN2: return 1;
#endif
#ifdef BLIS_CONFIG_HASWELL
    case BLIS_ARCH_HASWELL: return 1;
#endif
    default: return 0;
    }
}

static void blis_arch_init(void) {
    blisarch_cpu c;
    if (blisarch_probe(&c)) return;
    const char *names[BLIS_NUM_ARCHS];
    for (int id = 0; id < BLIS_NUM_ARCHS; id++) names[id] = blis_config_built(id) ? bli_arch_string((arch_t)id) : NULL;
    int id = blisarch_choose(&c, names, BLIS_NUM_ARCHS);
    if (id < 0) return;
    char v[16];
    snprintf(v, sizeof v, "%d", id);
    setenv("BLIS_ARCH_TYPE", v, 0); /* 0: never over a value that appeared meanwhile */
}

static pthread_once_t g_arch_once = PTHREAD_ONCE_INIT;

void ops_blis_arch_once(void) { pthread_once(&g_arch_once, blis_arch_init); }

__attribute__((constructor)) static void blis_arch_at_start(void) { ops_blis_arch_once(); }

const char *ops_blis_config(void) {
    ops_blis_arch_once();
    bli_init(); /* BLIS 0.9.0 looks a forced configuration up in its table, filled here */
    return bli_arch_string(bli_arch_query_id());
}

/* Sharing a product's columns between threads by their measured speed. With an even split, one
 * thread waited at the end of each product for 4-10% of an image pass (0.4-1 s per 10 s, two
 * threads): the host slows one vCPU or the other. Each thread's speed (units of work per second
 * in the products it just ran) is kept as a moving average, one per kind of product, and the
 * next product is split in proportion: -2.6% per image at batch 8. What it cannot follow is
 * faster than a product: about 4% of waiting remains, and handing out work dynamically cost more
 * than it saved (docs/performance.md). Which thread computes a column changes no result: every
 * column is computed the same way. */
/* (the state, ops_bal, lives in the ops_ctx) */

static double bal_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* cut[t]..cut[t+1] are thread t's panels, for tn threads over np panels */
static void bal_split(ops_bal *g, int tn, int np, int *cut) {
    double share[PK_MAXT], acc = 0.0;
    pthread_mutex_lock(&g->lock);
    if (g->n != tn)
        for (int t = 0; t < tn; t++) share[t] = 1.0 / tn;
    else
        memcpy(share, g->share, (size_t)tn * sizeof *share);
    pthread_mutex_unlock(&g->lock);
    cut[0] = 0;
    for (int t = 0; t < tn; t++) {
        acc += share[t];
        cut[t + 1] = t + 1 == tn ? np : (int)(acc * np + 0.5);
        if (cut[t + 1] < cut[t]) cut[t + 1] = cut[t];
    }
}

/* folds one product's timings in: thread t ran panels[t] in secs[t] */
static void bal_update(ops_bal *g, int tn, const int *panels, const double *secs) {
    double rate[PK_MAXT], sum = 0.0;
    for (int t = 0; t < tn; t++) {
        if (panels[t] < 1 || secs[t] <= 0.0) return; /* nothing to learn from */
        rate[t] = panels[t] / secs[t];
        sum += rate[t];
    }
    pthread_mutex_lock(&g->lock);
    if (g->n != tn) {
        g->n = tn;
        for (int t = 0; t < tn; t++) g->share[t] = 1.0 / tn;
    }
    double tot = 0.0;
    for (int t = 0; t < tn; t++) {
        /* half the old share, half the new estimate; bounded so one odd product cannot starve a
         * thread */
        double s = 0.5 * g->share[t] + 0.5 * rate[t] / sum, lo = 0.5 / tn, hi = 1.5 / tn;
        g->share[t] = s < lo ? lo : s > hi ? hi : s;
        tot += g->share[t];
    }
    for (int t = 0; t < tn; t++) g->share[t] /= tot;
    pthread_mutex_unlock(&g->lock);
}

/* A product of few rows (a short text; BLAS=auto) streams its weights from memory. BLIS
 * splits the columns evenly between its threads; here each thread runs BLIS alone
 * (bli_sgemm_ex, a one-thread runtime) on a slice of the weight rows, in units of 16 columns
 * sized by the threads' measured speeds, as for the packed path: text at 8 tokens 4% faster
 * (76 of 90 interleaved rounds won). Which thread computes a column changes no result. */
void ops_blis_gemm_split(ops_ctx *o, const float *x, const float *w, float *y, int m, int n, int k) {
    ops_blis_arch_once();
    int nth = o->threads > PK_MAXT ? PK_MAXT : o->threads, units = n / 16, cut[PK_MAXT + 1], done[PK_MAXT] = {0};
    double secs[PK_MAXT];
    bal_split(&o->bal_small, nth, units, cut);
#pragma omp parallel num_threads(nth)
    {
#ifdef _OPENMP
        int t = omp_get_thread_num(), tn = omp_get_num_threads();
#else
        int t = 0, tn = 1;
#endif
        int c0 = tn == nth ? cut[t] * 16 : (int)((long)units * t / tn) * 16,
            c1 = t + 1 == tn ? n
                 : tn == nth ? cut[t + 1] * 16
                             : (int)((long)units * (t + 1) / tn) * 16;
        rntm_t rntm = BLIS_RNTM_INITIALIZER;
        bli_rntm_set_num_threads(1, &rntm);
        float one = 1.0f, zero = 0.0f;
        double t0 = bal_now();
        if (c1 > c0)
            bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, c1 - c0, k, &one, (float *)x, k, 1,
                         (float *)w + (size_t)c0 * k, 1, k, &zero, y + c0, n, 1, NULL, &rntm);
        if (tn == nth) {
            done[t] = (c1 - c0 + 15) / 16;
            secs[t] = bal_now() - t0;
        }
    }
    bal_update(&o->bal_small, nth, done, secs);
}

/* ---------------- prepacked weights (BLIS's micro-kernel) ----------------
 *
 * Layout of a packed w[n, k]: K is cut into blocks of KC; within a block, the n columns of the
 * product (rows of w) are cut into panels of NR, and a panel holds kc rows of NR floats: element
 * (p, j) of panel J in block P is w[J * NR + j, P + p], at P * NP * NR + J * kc * NR + p * NR + j
 * (NP panels; columns past n are zero). That is the "B micro-panel" BLIS's gemm micro-kernel
 * reads. The activations x are packed per call, all of them, by all threads together, into
 * "A micro-panels" (MR rows, column by column) in the caller's scratch.
 *
 * Loop nest (BLIS's, minus the B packing): for each K block, for each MC block of rows, for each
 * of the thread's own panels, for each MR rows, one micro-kernel call. Threads split the panels,
 * so each owns whole output columns: no two threads write the same tile, and the K blocks need
 * no barrier between them. The last K block finishes each tile (bias, activation) right after
 * the micro-kernel writes it; a product feeding the residual stream is accumulated into it
 * directly, every K block with beta 1. */
struct ops_packed {
    int n, k, np;
    size_t bytes;
    float *p;
};

static struct {
    pthread_once_t once;
    int ok, mr, nr, kc, mc;
    sgemm_ukr_ft ukr;
    cntx_t *cntx;
} g_pk = {PTHREAD_ONCE_INIT, 0, 0, 0, 0, 0, NULL, NULL};

static void pk_init(void) {
    ops_blis_arch_once();
    bli_init();
    cntx_t *cx = bli_gks_query_cntx();
    if (!cx) return;
    int mr = (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MR, cx),
        nr = (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NR, cx);
    /* the packed micro-panels' leading dimensions (PACKMR, PACKNR) must equal MR and NR, as
     * they do for every x86 sgemm kernel in BLIS; anything else keeps the CBLAS path */
    if (mr < 1 || nr < 1 || mr > 32 || nr > 64 || bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_MR, cx) != mr ||
        bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_NR, cx) != nr)
        return;
    int kc = (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, cx),
        mc = (int)bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MC, cx);
    if (kc < 16 || kc > 4096) kc = 256;
    if (mc < mr || mc > 4096) mc = 24 * mr;
    g_pk.mr = mr;
    g_pk.nr = nr;
    g_pk.kc = kc;
    g_pk.mc = (mc + mr - 1) / mr * mr;
    g_pk.ukr = (sgemm_ukr_ft)bli_cntx_get_l3_nat_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cx);
    g_pk.cntx = cx;
    g_pk.ok = g_pk.ukr != NULL;
}

int ops_pack_available(void) {
    pthread_once(&g_pk.once, pk_init);
    return g_pk.ok;
}

ops_packed *ops_pack(ops_ctx *o, const float *w, int n, int k) {
    if (!ops_pack_available() || n < 1 || k < 1) return NULL;
    const int NR = g_pk.nr, KC = g_pk.kc, np = (n + NR - 1) / NR;
    ops_packed *pw = calloc(1, sizeof *pw);
    size_t floats = (size_t)np * NR * (size_t)k;
    float *p = NULL;
    if (!pw || posix_memalign((void **)&p, 64, floats * sizeof *p)) {
        free(pw);
        errno = ENOMEM;
        return NULL;
    }
    *pw = (ops_packed){n, k, np, floats * sizeof *p, p};
#pragma omp parallel for schedule(static) num_threads(o->threads) if (floats > 65536)
    for (int J = 0; J < np; J++)
        for (int P = 0; P < k; P += KC) {
            int kc = k - P < KC ? k - P : KC;
            float *dst = p + (size_t)P * np * NR + (size_t)J * kc * NR;
            for (int j = 0; j < NR; j++) {
                int col = J * NR + j;
                if (col < n) {
                    const float *src = w + (size_t)col * k + P;
                    for (int q = 0; q < kc; q++) dst[(size_t)q * NR + j] = src[q];
                } else
                    for (int q = 0; q < kc; q++) dst[(size_t)q * NR + j] = 0.0f;
            }
        }
    return pw;
}

void ops_packed_free(ops_packed *p) {
    if (!p) return;
    free(p->p);
    free(p);
}

size_t ops_packed_bytes(const ops_packed *p) { return p ? p->bytes + sizeof *p : 0; }

#ifdef __AVX__
/* pk_panel for six full rows (BLIS's MR on x86): eight columns at a time, read as six vectors,
 * transposed in registers and written as 48 consecutive floats. Twice as fast as the scalar
 * loop (0.42 -> 0.22 ns per float on 400 x 3072); packing was about 2% of an image pass. */
static void pk_panel6(const float *src, size_t ld, int k, float *dst) {
    int t = 0;
    for (; t + 8 <= k; t += 8, dst += 48) {
        __m256 a0 = _mm256_loadu_ps(src + t), a1 = _mm256_loadu_ps(src + ld + t),
               a2 = _mm256_loadu_ps(src + 2 * ld + t), a3 = _mm256_loadu_ps(src + 3 * ld + t),
               a4 = _mm256_loadu_ps(src + 4 * ld + t), a5 = _mm256_loadu_ps(src + 5 * ld + t);
        /* u0 = a0[0] a1[0] a0[1] a1[1] | a0[4] a1[4] a0[5] a1[5], and so on */
        __m256 u0 = _mm256_unpacklo_ps(a0, a1), u1 = _mm256_unpackhi_ps(a0, a1), u2 = _mm256_unpacklo_ps(a2, a3),
               u3 = _mm256_unpackhi_ps(a2, a3), u4 = _mm256_unpacklo_ps(a4, a5), u5 = _mm256_unpackhi_ps(a4, a5);
        /* v0 = column 0, rows 0-3 | column 4, rows 0-3; v1 columns 1|5; v2 2|6; v3 3|7 */
        __m256 v0 = _mm256_shuffle_ps(u0, u2, 0x44), v1 = _mm256_shuffle_ps(u0, u2, 0xEE),
               v2 = _mm256_shuffle_ps(u1, u3, 0x44), v3 = _mm256_shuffle_ps(u1, u3, 0xEE);
        /* each column: four rows from v, rows 4-5 from the low or high half of u4 / u5 */
        __m128 lo4 = _mm256_castps256_ps128(u4), lo5 = _mm256_castps256_ps128(u5), hi4 = _mm256_extractf128_ps(u4, 1),
               hi5 = _mm256_extractf128_ps(u5, 1);
        _mm_storeu_ps(dst + 0, _mm256_castps256_ps128(v0));
        _mm_storel_pi((__m64 *)(dst + 4), lo4);
        _mm_storeu_ps(dst + 6, _mm256_castps256_ps128(v1));
        _mm_storeh_pi((__m64 *)(dst + 10), lo4);
        _mm_storeu_ps(dst + 12, _mm256_castps256_ps128(v2));
        _mm_storel_pi((__m64 *)(dst + 16), lo5);
        _mm_storeu_ps(dst + 18, _mm256_castps256_ps128(v3));
        _mm_storeh_pi((__m64 *)(dst + 22), lo5);
        _mm_storeu_ps(dst + 24, _mm256_extractf128_ps(v0, 1));
        _mm_storel_pi((__m64 *)(dst + 28), hi4);
        _mm_storeu_ps(dst + 30, _mm256_extractf128_ps(v1, 1));
        _mm_storeh_pi((__m64 *)(dst + 34), hi4);
        _mm_storeu_ps(dst + 36, _mm256_extractf128_ps(v2, 1));
        _mm_storel_pi((__m64 *)(dst + 40), hi5);
        _mm_storeu_ps(dst + 42, _mm256_extractf128_ps(v3, 1));
        _mm_storeh_pi((__m64 *)(dst + 46), hi5);
    }
    for (; t < k; t++, dst += 6)
        for (int i = 0; i < 6; i++) dst[i] = src[(size_t)i * ld + t];
}

/* pk_panel for full panels a multiple of 8 rows wide (BLIS's NR = 16 on x86: the keys of
 * attention): 8 x 8 blocks transposed in registers. */
static void pk_panel8n(const float *src, size_t ld, int width, int k, float *dst) {
    int t = 0;
    for (; t + 8 <= k; t += 8)
        for (int g = 0; g < width; g += 8) {
            const float *r = src + (size_t)g * ld + t;
            __m256 r0 = _mm256_loadu_ps(r), r1 = _mm256_loadu_ps(r + ld), r2 = _mm256_loadu_ps(r + 2 * ld),
                   r3 = _mm256_loadu_ps(r + 3 * ld), r4 = _mm256_loadu_ps(r + 4 * ld), r5 = _mm256_loadu_ps(r + 5 * ld),
                   r6 = _mm256_loadu_ps(r + 6 * ld), r7 = _mm256_loadu_ps(r + 7 * ld);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
                   t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                   t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                   s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                   s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                   s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            /* column c of the block (rows g..g+7) goes to dst[(t + c) * width + g] */
            float *d = dst + (size_t)t * width + g;
            _mm256_storeu_ps(d, _mm256_permute2f128_ps(s0, s4, 0x20));
            _mm256_storeu_ps(d + width, _mm256_permute2f128_ps(s1, s5, 0x20));
            _mm256_storeu_ps(d + 2 * width, _mm256_permute2f128_ps(s2, s6, 0x20));
            _mm256_storeu_ps(d + 3 * width, _mm256_permute2f128_ps(s3, s7, 0x20));
            _mm256_storeu_ps(d + 4 * width, _mm256_permute2f128_ps(s0, s4, 0x31));
            _mm256_storeu_ps(d + 5 * width, _mm256_permute2f128_ps(s1, s5, 0x31));
            _mm256_storeu_ps(d + 6 * width, _mm256_permute2f128_ps(s2, s6, 0x31));
            _mm256_storeu_ps(d + 7 * width, _mm256_permute2f128_ps(s3, s7, 0x31));
        }
    for (; t < k; t++)
        for (int i = 0; i < width; i++) dst[(size_t)t * width + i] = src[(size_t)i * ld + t];
}
#endif

/* One micro-panel: rows 0..rows-1 of src (row stride ld), k values each, stored column by
 * column as dst[t * width + i]; rows up to width are zero. Reads the rows together, t by t, so
 * the panel is written in order while its source rows stream in. */
static void pk_panel(const float *src, size_t ld, int rows, int width, int k, float *dst) {
#ifdef __AVX__
    if (rows == 6 && width == 6) {
        pk_panel6(src, ld, k, dst);
        return;
    }
    if (rows == width && width % 8 == 0) {
        pk_panel8n(src, ld, width, k, dst);
        return;
    }
#endif
    const float *r[64];
    for (int i = 0; i < rows; i++) r[i] = src + (size_t)i * ld;
    for (int t = 0; t < k; t++, dst += width) {
        int i = 0;
        for (; i < rows; i++) dst[i] = r[i][t];
        for (; i < width; i++) dst[i] = 0.0f;
    }
}

/* The packed x: all of it, K block by K block, each block as micro-panels of MR rows. */
static size_t pk_a_floats(int m, int k) { return ((size_t)(m + g_pk.mr - 1) / g_pk.mr * g_pk.mr) * (size_t)k; }

size_t ops_linear_packed_scratch(int m, int k) {
    if (!ops_pack_available() || m < 1 || k < 1) return 0;
    return pk_a_floats(m, k) + 16; /* + 16: room to align the start */
}

void ops_linear_packed(ops_ctx *o, const float *x, const ops_packed *w, const float *b, int act, float *y, float *resid,
                       int m, float *scratch) {
    ops_linear_packed_cols(o, x, w, b, act, y, resid, m, 0, w->n, scratch);
}

void ops_linear_packed_cols(ops_ctx *o, const float *x, const ops_packed *w, const float *b, int act, float *y,
                            float *resid, int m, int c0, int c1, float *scratch) {
    const int MR = g_pk.mr, NR = g_pk.nr, KC = g_pk.kc, MC = g_pk.mc, n = w->n < c1 ? w->n : c1, k = w->k, ldy = w->n,
              pnp = w->np;                                            /* panels in the packed layout */
    const int jb = c0 < 0 ? 0 : c0 / NR, np = (n + NR - 1) / NR - jb; /* our panels: jb .. jb + np - 1 */
    if (np < 1 || m < 1) return;
    const int mp = (m + MR - 1) / MR; /* row panels */
    float *apk = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    /* a product too small to share stays on one thread */
    int nth = (double)m * np * NR * k < 2e6 ? 1 : o->threads;
    if (nth > PK_MAXT) nth = PK_MAXT;
    int cut[PK_MAXT + 1], done[PK_MAXT] = {0};
    double secs[PK_MAXT];
    bal_split(&o->bal_packed, nth, np, cut);
#pragma omp parallel num_threads(nth)
    {
        /* 1. x as A micro-panels, once, shared: panel (P, R) holds rows R*MR.. of x[:, P..P+kc),
         * column by column (zero rows past m), at P * mp * MR + R * kc * MR */
#pragma omp for schedule(static)
        for (int R = 0; R < mp; R++) {
            int rows = m - R * MR < MR ? m - R * MR : MR;
            for (int P = 0; P < k; P += KC) {
                int kc = k - P < KC ? k - P : KC;
                pk_panel(x + (size_t)R * MR * k + P, (size_t)k, rows, MR, kc,
                         apk + (size_t)P * mp * MR + (size_t)R * kc * MR);
            }
        }
        /* (the implicit barrier: every thread reads every panel) */
        /* 2. threads split the column panels, so each owns whole output tiles */
#ifdef _OPENMP
        int t = omp_get_thread_num(), tn = omp_get_num_threads();
#else
        int t = 0, tn = 1;
#endif
        int j0 = jb + (tn == nth ? cut[t] : (int)((long)np * t / tn)),
            j1 = jb + (tn == nth ? cut[t + 1] : (int)((long)np * (t + 1) / tn));
        double t0 = bal_now();
        float one = 1.0f, zero = 0.0f;
        auxinfo_t aux;
        memset(&aux, 0, sizeof aux);
        for (int P = 0; P < k; P += KC) {
            int kc = k - P < KC ? k - P : KC, last = P + kc == k;
            const float *bblk = w->p + (size_t)P * pnp * NR, *ablk = apk + (size_t)P * mp * MR;
            /* MC rows at a time, so the A panels a B panel meets stay in L2 */
            for (int I = 0; I < m; I += MC) {
                int mc = m - I < MC ? m - I : MC;
                for (int J = j0; J < j1; J++) {
                    const float *bp = bblk + (size_t)J * kc * NR;
                    int col = J * NR, nr = n - col < NR ? n - col : NR;
                    bli_auxinfo_set_next_b((void *)bp, &aux);
                    for (int r = 0; r < mc; r += MR) {
                        int mr = mc - r < MR ? mc - r : MR;
                        const float *ap = ablk + (size_t)(I + r) * kc;
                        /* with a residual, the micro-kernel accumulates straight into it (beta 1
                         * from the first K block): it prefetches those rows itself, where a
                         * separate add stalled on them (3% of an image pass) */
                        float *c = (resid ? resid : y) + (size_t)(I + r) * ldy + col;
                        bli_auxinfo_set_next_a((void *)(r + MR < mc ? ap + (size_t)MR * kc : ap), &aux);
                        g_pk.ukr(mr, nr, kc, &one, (float *)ap, (float *)bp, P || resid ? &one : &zero, c, ldy, 1, &aux,
                                 g_pk.cntx);
                        if (!last) continue;
                        const float *bb = b ? b + col : NULL;
                        if (resid) {
                            if (bb)
                                for (int i = 0; i < mr; i++)
                                    for (int j = 0; j < nr; j++) c[(size_t)i * ldy + j] += bb[j];
                        } else
                            for (int i = 0; i < mr; i++) ops_row_bias_act(c + (size_t)i * ldy, bb, nr, act);
                    }
                }
            }
        }
        if (tn == nth) {
            done[t] = j1 - j0;
            secs[t] = bal_now() - t0;
        }
    }
    if (nth > 1) bal_update(&o->bal_packed, nth, done, secs);
}

/* ---- attention on the same micro-kernel ----
 * Per (sequence, head): S = Q K^T and O = P V are two small products (n x n x hd and
 * n x hd x n). Q and P are packed as A micro-panels, K^T and V as B micro-panels, and the
 * micro-kernel computes each 6 x 16 tile; the softmax runs on S's rows between the two and writes
 * P straight into its packed layout. Per-thread scratch, laid out by att_layout. */
typedef struct {
    int mp, npn, npv, npad;
    size_t qa, kb, s, pa, vb, total; /* float offsets */
} att_layout;

static att_layout att_layout_of(int n, int hd) {
    att_layout L;
    const int MR = g_pk.mr, NR = g_pk.nr;
    L.mp = (n + MR - 1) / MR;
    L.npn = (n + NR - 1) / NR;
    L.npv = (hd + NR - 1) / NR;
    L.npad = L.npn * NR;
    /* each region starts on a cache line: the micro-kernel loads B panels with aligned moves */
#define ATT_UP(x) (((x) + 15) / 16 * 16)
    L.qa = 0;
    L.kb = ATT_UP(L.qa + (size_t)L.mp * MR * hd);
    L.s = ATT_UP(L.kb + (size_t)L.npn * NR * hd);
    L.pa = ATT_UP(L.s + (size_t)n * L.npad);
    L.vb = ATT_UP(L.pa + (size_t)L.mp * MR * n);
    L.total = ATT_UP(L.vb + (size_t)L.npv * NR * n) + 16;
#undef ATT_UP
    return L;
}

size_t ops_attention_blis_scratch(const ops_ctx *o, int n, int hd) {
    if (!ops_pack_available() || n < 1 || hd < 1) return 0;
    return (size_t)o->max_threads * att_layout_of(n, hd).total;
}

int ops_attention_blis(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       const int *seq_off, const int *seq_len, int nseq, int heads, int hd, int causal,
                       const int *keymask, float *scratch) {
    if (!ops_pack_available()) return 0;
    const int MR = g_pk.mr, NR = g_pk.nr;
    const float scale = 1.0f / sqrtf((float)hd);
    int maxn = 0;
    for (int s = 0; s < nseq; s++) maxn = seq_len[s] > maxn ? seq_len[s] : maxn;
    const size_t per = att_layout_of(maxn, hd).total;
#pragma omp parallel for schedule(static) num_threads(o->threads) if (nseq * heads > 1 && maxn > 8)
    for (int sh = 0; sh < nseq * heads; sh++) {
        const int s = sh / heads, h = sh % heads, n = seq_len[s], o0 = seq_off[s];
        float *base = ops_thread_scratch(scratch, per);
        const att_layout L = att_layout_of(n, hd);
        float *qa = base + L.qa, *kb = base + L.kb, *S = base + L.s, *pa = base + L.pa, *vb = base + L.vb;
        const float *qs = q + (size_t)o0 * ld + h * hd, *ks = k + (size_t)o0 * ld + h * hd,
                    *vs = v + (size_t)o0 * ld + h * hd;
        const int *km = keymask ? keymask + o0 : NULL;
        float one = 1.0f, zero = 0.0f;
        auxinfo_t aux;
        memset(&aux, 0, sizeof aux);
        /* Q as A panels (rows past n zero), K^T and V as B panels (columns past the end zero) */
        for (int R = 0; R < L.mp; R++)
            pk_panel(qs + (size_t)R * MR * ld, (size_t)ld, n - R * MR < MR ? n - R * MR : MR, MR, hd,
                     qa + (size_t)R * MR * hd);
        for (int J = 0; J < L.npn; J++)
            pk_panel(ks + (size_t)J * NR * ld, (size_t)ld, n - J * NR < NR ? n - J * NR : NR, NR, hd,
                     kb + (size_t)J * NR * hd);
        /* V row by row (its head's hd values are contiguous), cut into the panels */
        for (int j = 0; j < n; j++)
            for (int J = 0; J < L.npv; J++) {
                int w = hd - J * NR < NR ? hd - J * NR : NR;
                float *b = vb + (size_t)J * NR * n + (size_t)j * NR;
                memcpy(b, vs + (size_t)j * ld + J * NR, (size_t)w * sizeof *b);
                for (int c = w; c < NR; c++) b[c] = 0.0f;
            }
        /* S = Q K^T, tile by tile (keys beyond a causal row are computed and then ignored) */
        for (int J = 0; J < L.npn; J++)
            for (int R = 0; R < L.mp; R++) {
                int mr = n - R * MR < MR ? n - R * MR : MR;
                g_pk.ukr(mr, NR, hd, &one, qa + (size_t)R * MR * hd, kb + (size_t)J * NR * hd, &zero,
                         S + (size_t)R * MR * L.npad + J * NR, L.npad, 1, &aux, g_pk.cntx);
            }
        /* softmax per row of S, in place (keys past a causal row's end are 0), then packed as P's
         * A panels (rows past n are 0) */
        for (int i = 0; i < n; i++) {
            float *p = S + (size_t)i * L.npad;
            int jn = causal ? i + 1 : n;
            ops_softmax_row(p, jn, scale, km);
            for (int j = jn; j < n; j++) p[j] = 0.0f;
        }
        for (int R = 0; R < L.mp; R++)
            pk_panel(S + (size_t)R * MR * L.npad, (size_t)L.npad, n - R * MR < MR ? n - R * MR : MR, MR, n,
                     pa + (size_t)R * MR * n);
        /* O = P V straight into out */
        for (int J = 0; J < L.npv; J++) {
            int nr = hd - J * NR < NR ? hd - J * NR : NR;
            for (int R = 0; R < L.mp; R++) {
                int mr = n - R * MR < MR ? n - R * MR : MR;
                g_pk.ukr(mr, nr, n, &one, pa + (size_t)R * MR * n, vb + (size_t)J * NR * n, &zero,
                         out + (size_t)(o0 + R * MR) * ldo + h * hd + J * NR, ldo, 1, &aux, g_pk.cntx);
            }
        }
    }
    return 1;
}
