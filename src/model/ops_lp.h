/* ops_lp: linear layers on lower-precision weights (F16 and Q8_0) for the CPU backend.
 *
 * Formats (ops_lp_fmt):
 * - OPS_LP_F16: each weight kept as IEEE half (rounded to nearest even from F32), widened to F32
 *   in the kernel (F16C's vcvtph2ps on x86); products and sums in F32. Half the bytes of F32.
 * - OPS_LP_Q8: ggml's q8_0 layout: each weight row cut into blocks of 32 values, each block one
 *   F16 scale d = max|w| / 127 followed by 32 int8 q = round(w / d) (34 bytes per 32 weights,
 *   ops_q8_block). A row whose k is not a multiple of 32 ends in a block padded with zeros, so
 *   any k >= 1 works. The activations are quantised the same way on the fly, per row and block,
 *   but keep their scale in F32 (it costs nothing and loses less); each block pair's product is
 *   an exact int32 sum, scaled by d_w * d_x and summed in F32 (as ggml_vec_dot_q8_0_q8_0).
 * - OPS_LP_Q8P: the same q8_0 blocks (and numbers) repacked into panels of OPS_Q8P_NR = 16 output
 *   columns for an outer-product kernel (ops_q8p.c): per panel and block of 32 k values, the 16
 *   columns' F16 scales, then 8 steps of 4 k values, each two 32-byte vectors of 8 columns x 4 k.
 *   The columns past n are zero-padded to a whole panel. Same bytes as Q8 when 16 divides n. How
 *   every q8 weight is kept when the build has the AVX2 kernel (ops_lp_fmt_for): faster than Q8's
 *   tile of dot products at any row count; its results equal Q8's bit for bit on the same weights.
 *
 * Kernels: y[m, n] = x[m, k] . W[n, k]^T (no bias: the backend adds bias, activation or residual
 * as it does for F32). Each format has the reference kernel (plain loops in one fixed order, the
 * oracle), a portable C kernel, and an AVX2 kernel (F16C + FMA for F16, in 6-row x 2-column tiles;
 * vpmaddubsw/vpmaddwd on sign-adjusted operands for Q8, in 4 x 4 tiles) when the build targets AVX2.
 * Q8P also has two VNNI kernels (vpdpbusd: four u8 x s8 products summed into an int32 lane in one
 * instruction), compiled for their instruction sets whatever the build targets and run only on a
 * CPU that has them (checked at run time): OPS_LP_VNNI512 (AVX512-VNNI, 6 rows x 32 columns) and
 * OPS_LP_AVXVNNI (the VEX-encoded AVX-VNNI of CPUs without AVX-512, 4 x 16). Their results equal
 * the reference's bit for bit like the AVX2 kernel's. For F16 and Q8 weights they run the AVX2
 * kernel. ops_lp_linear picks the fastest the build and CPU have; ops_lp_linear_impl runs a named
 * one (tests compare them).
 * Threads: the fast kernels take the backend's ops_ctx first (ops.h), like the other fast kernels:
 * the output columns are shared among its ops_ctx_threads() OpenMP threads (NULL: one thread).
 * Errors: ops_lp_pack returns NULL only when memory runs out or the format is unknown. */
#ifndef OPS_LP_H
#define OPS_LP_H

#include <stddef.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __AVX__
#include <immintrin.h>
#endif

#include "ops.h"

typedef enum { OPS_LP_F16 = 1, OPS_LP_Q8 = 2, OPS_LP_Q8P = 3 } ops_lp_fmt;
typedef enum { OPS_LP_REF, OPS_LP_PORTABLE, OPS_LP_AVX2, OPS_LP_AVXVNNI, OPS_LP_VNNI512 } ops_lp_impl;

#define OPS_Q8_BLOCK 32
#define OPS_Q8P_NR   16 /* columns per Q8P panel */
/* One q8_0 block, byte for byte ggml's block_q8_0: a little-endian F16 scale then 32 int8. */
typedef struct {
    uint16_t d;
    int8_t qs[OPS_Q8_BLOCK];
} ops_q8_block;

typedef struct ops_lpw {
    int fmt;      /* ops_lp_fmt */
    int n, k;     /* rows and columns of the F32 weight it came from */
    int nb;       /* Q8, Q8P: blocks per row, ceil(k / 32); F16: 0 */
    size_t bytes; /* of data */
    void *data;   /* F16: n * k uint16; Q8: n * nb ops_q8_block; Q8P: ceil(n / 16) * nb panel blocks
                   * of 16 * 34 bytes; 64-byte aligned, owned */
} ops_lpw;

/* Converts w[n, k] (row-major F32) to fmt. Returns a new weight (free with ops_lp_free), or NULL
 * when memory runs out or fmt is unknown. */
ops_lpw *ops_lp_pack(ops_ctx *o, const float *w, int n, int k, int fmt);
/* An empty weight of the format and shape whose data the caller fills (a cache read back):
 * data is allocated, uninitialised, bytes long. NULL when out of memory. */
ops_lpw *ops_lp_alloc(int n, int k, int fmt);
void ops_lp_free(ops_lpw *w); /* NULL is a no-op */
/* Bytes of data a weight of this shape takes in fmt (0 for an unknown fmt). */
size_t ops_lp_size(int n, int k, int fmt);
const char *ops_lp_name(int fmt); /* "F16", "Q8_0", "Q8_0P" */
/* The format a weight kept as fmt takes in memory: for Q8, Q8P when the build has Q8P's AVX2
 * kernel (Q8P's AVX2 kernel alone beats Q8's 1.4-2x at 1, 8 and 400 rows, and the VNNI kernels
 * read only Q8P; docs/performance.md), else fmt itself. Depends on the build only, never on the CPU, so a
 * converted-weights cache (lpcache.h) holds the same layout on every CPU the binary runs on. */
int ops_lp_fmt_for(int fmt);
/* The dtype a format stores (Q8 for Q8P, else fmt): what a user chose, what a cache is named by. */
int ops_lp_family(int fmt);

/* Bytes of scratch ops_lp_linear needs for x[m, k] (activations quantised for Q8 and Q8P, the
 * same bytes for both: one scratch serves a tower that keeps both; 0 for F16). */
size_t ops_lp_scratch(int m, int k, int fmt);
/* y[m, n] = x[m, k] . W^T with the fastest kernel the build has. scratch: ops_lp_scratch bytes,
 * 64-byte aligned. */
void ops_lp_linear(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, void *scratch);
/* The same with a named kernel. Returns 0, or -1 (nothing written) when the build lacks it. */
int ops_lp_linear_impl(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, void *scratch, int impl);
int ops_lp_have(int impl); /* 1 when the build has that kernel and, for the VNNI ones, the CPU too */
const char *ops_lp_impl_name(int impl); /* "reference", "portable", "AVX2", "AVX-VNNI", "AVX512-VNNI" */
int ops_lp_best(void); /* the kernel ops_lp_linear runs for Q8P weights */

/* Half precision, round to nearest even (overflow to infinity, NaN stays NaN), and back. */
uint16_t ops_f32_to_f16(float f);
float ops_f16_to_f32(uint16_t h);

/* Quantises one row x[k] into nb = ceil(k / 32) blocks: q[nb * 32] (zeros past k) and d[nb]
 * (F32 scales: max |x| / 127 per block, 0 for an all-zero block). Rounding is to nearest even. */
void ops_q8_quantize_row(const float *x, int k, int8_t *q, float *d);

/* Shared by the AVX2 kernels: runs tile(ctx, i, j, mr, nr) over y[m, n] in tiles of at most MR
 * rows (mr) by NR columns (nr), on nt threads when parallel is set: each thread a contiguous run
 * of column groups (so each weight row is read by one thread). The thread's columns are walked in
 * blocks of about 192 KB of weights (wrow: bytes of one weight row), which stay in L2 while every
 * row tile of x passes over them; a row tile (MR rows of x) stays in L1 while it meets the
 * block's columns. Walking all columns for a few rows kept in L2 instead streamed x from L2 once
 * per column group, and L2's bandwidth, not the arithmetic, set the speed. */
static inline void ops_lp_tiles(int nt, int m, int n, int MR, int NR, size_t wrow, int parallel,
                                void (*tile)(const void *, int, int, int, int), const void *ctx) {
    int cb = (int)((192 * 1024) / (wrow * NR));
    cb = cb < 1 ? 1 : cb;
#pragma omp parallel num_threads(nt) if (parallel)
    {
#ifdef _OPENMP
        int t = omp_get_thread_num(), tn = omp_get_num_threads();
#else
        int t = 0, tn = 1;
#endif
        int groups = (n + NR - 1) / NR, p0 = (int)((long)groups * t / tn), p1 = (int)((long)groups * (t + 1) / tn);
        for (int q0 = p0; q0 < p1; q0 += cb) {
            int q1 = q0 + cb < p1 ? q0 + cb : p1;
            for (int i = 0; i < m; i += MR)
                for (int p = q0; p < q1; p++)
                    tile(ctx, i, NR * p, m - i < MR ? m - i : MR, n - NR * p < NR ? n - NR * p : NR);
        }
    }
}

#ifdef __AVX__
static inline float ops_lp_hsum(__m256 v) { /* the sum of 8 lanes */
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#endif

/* Kernels by format (ops_f16.c, ops_q8.c, ops_q8p.c); the dispatch above is the public way in. */
void ops_f16_linear(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, int impl);
void ops_q8_linear(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, void *scratch, int impl);
void ops_q8p_linear(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, void *scratch, int impl);
int ops_q8p_cpu_has(int impl); /* 1 when this CPU runs that VNNI kernel (and the build has it) */
/* Lays out q8_0 rows[n * nb] as Q8P panels (ops_lp_size(n, k, OPS_LP_Q8P) bytes at panels). */
void ops_q8p_repack(const ops_q8_block *rows, int n, int nb, void *panels);

#endif
