/* ops_q8p: y = x . W^T on q8_0 weights repacked into column panels (OPS_LP_Q8P, see ops_lp.h) for
 * an outer-product micro-kernel, the way BLIS and MLAS lay out a GEMM's B operand.
 *
 * The numbers are q8_0's (the same weight blocks and scales, the same quantised activations): each
 * output is, block by block in order, an exact int32 sum of 32 products, converted to F32 and
 * multiplied by d_x * d_w, added to an F32 sum. The reference and portable kernels here read the
 * panels in that order; the AVX2 kernel keeps that order too, so all three give the reference q8
 * kernel's (ops_q8.c) results bit for bit: the int32 sums are exact whatever their order, and the
 * F32 steps are the same operations in the same order (the build is -std=c11, so GCC does not
 * contract a multiply and an add into an FMA). */
#include <string.h>
#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
#include <cpuid.h>
#include <immintrin.h>
#define Q8P_AVX2 1
#endif

#include "ops.h"
#include "ops_lp.h"

/* One panel block: OPS_Q8P_NR columns x 32 k values, as the kernel reads it. */
typedef struct {
    uint16_t d[OPS_Q8P_NR]; /* F16 scale of each column's block */
    /* [step s = k / 4][half h][column c in the half][k % 4]: one 32-byte vector per (s, h) holds
     * 8 columns x 4 consecutive k values */
    int8_t q[OPS_Q8_BLOCK / 4][OPS_Q8P_NR / 8][8][4];
} q8p_block;
_Static_assert(sizeof(q8p_block) == OPS_Q8P_NR * sizeof(ops_q8_block), "a panel block is its columns' q8_0 blocks");

static inline const q8p_block *pblock(const ops_lpw *w, int p, int b) {
    return (const q8p_block *)w->data + (size_t)p * w->nb + b;
}
/* weight (column j, block b, t-th value of the block) and its block's scale */
static inline int8_t pq(const ops_lpw *w, int j, int b, int t) {
    int c = j % OPS_Q8P_NR;
    return pblock(w, j / OPS_Q8P_NR, b)->q[t / 4][c / 8][c % 8][t % 4];
}
static inline float pd(const ops_lpw *w, int j, int b) {
    return ops_f16_to_f32(pblock(w, j / OPS_Q8P_NR, b)->d[j % OPS_Q8P_NR]);
}

void ops_q8p_repack(const ops_q8_block *rows, int n, int nb, void *panels) {
    int np = (n + OPS_Q8P_NR - 1) / OPS_Q8P_NR;
    q8p_block *out = panels;
    for (int p = 0; p < np; p++)
        for (int b = 0; b < nb; b++) {
            q8p_block *o = &out[(size_t)p * nb + b];
            memset(o, 0, sizeof *o); /* columns past n: zero weights, zero scales */
            for (int c = 0; c < OPS_Q8P_NR && p * OPS_Q8P_NR + c < n; c++) {
                const ops_q8_block *src = &rows[(size_t)(p * OPS_Q8P_NR + c) * nb + b];
                o->d[c] = src->d;
                for (int t = 0; t < OPS_Q8_BLOCK; t++) o->q[t / 4][c / 8][c % 8][t % 4] = src->qs[t];
            }
        }
}

/* The activations in scratch (ops_lp_scratch): q[m][nb * 32] (64-byte aligned), then a[m][nb * 32],
 * then d[m][nb]. For the AVX2 kernel a holds |q|: it multiplies |x| by the weights carrying x's
 * signs, so |x| is taken once per row here, not once per use. For the VNNI kernels a holds, as
 * int32, each block's correction -128 * sum(q) (see vnni_tile): 4 bytes of the block's 32. */
static void quantize(int nt, const float *x, int m, int k, int nb, void *scratch, int vnni, int8_t **q, uint8_t **a,
                     float **d) {
    size_t row = (size_t)nb * OPS_Q8_BLOCK;
    *q = (int8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    *a = (uint8_t *)(*q + (size_t)m * row);
    *d = (float *)(*a + (size_t)m * row);
    int8_t *qq = *q;
    uint8_t *aa = *a;
    float *dd = *d;
#pragma omp parallel for schedule(static) num_threads(nt) if ((size_t)m * k > 32768)
    for (int i = 0; i < m; i++) {
        const int8_t *qi = qq + i * row;
        ops_q8_quantize_row(x + (size_t)i * k, k, qq + i * row, dd + (size_t)i * nb);
        if (vnni) {
            int32_t *c = (int32_t *)(void *)(aa + i * row); /* row is a multiple of 32: aligned */
            for (int b = 0; b < nb; b++) {
                int32_t sum = 0;
                for (int t = 0; t < OPS_Q8_BLOCK; t++) sum += qi[b * OPS_Q8_BLOCK + t];
                c[b] = -128 * sum;
            }
        } else
            for (size_t t = 0; t < row; t++) aa[i * row + t] = (uint8_t)(qi[t] < 0 ? -qi[t] : qi[t]);
    }
}

/* One output, as ops_q8.c's reference: the blocks in order, each an exact int32 sum scaled by
 * d_x * d_w. */
static float dot(const int8_t *qx, const float *dx, const ops_lpw *w, int j) {
    float s = 0.0f;
    for (int b = 0; b < w->nb; b++) {
        int32_t is = 0;
        for (int t = 0; t < OPS_Q8_BLOCK; t++) is += (int32_t)qx[b * OPS_Q8_BLOCK + t] * pq(w, j, b, t);
        s += (float)is * (dx[b] * pd(w, j, b));
    }
    return s;
}

static void q8p_ref(const int8_t *q, const float *d, const ops_lpw *w, float *y, int m) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < w->n; j++)
            y[(size_t)i * w->n + j] = dot(q + (size_t)i * w->nb * OPS_Q8_BLOCK, d + (size_t)i * w->nb, w, j);
}

/* Portable: the reference's sums, the columns shared among threads. */
static void q8p_portable(int nt, const int8_t *q, const float *d, const ops_lpw *w, float *y, int m) {
#pragma omp parallel for schedule(static) num_threads(nt) if ((size_t)m * w->n * w->nb > 30000)
    for (int j = 0; j < w->n; j++)
        for (int i = 0; i < m; i++)
            y[(size_t)i * w->n + j] = dot(q + (size_t)i * w->nb * OPS_Q8_BLOCK, d + (size_t)i * w->nb, w, j);
}

#ifdef Q8P_AVX2
typedef struct {
    const int8_t *q;
    const uint8_t *a; /* |q| (AVX2) or the blocks' int32 corrections (VNNI) */
    const float *d;
    const ops_lpw *w;
    float *y;
} q8p_job;

/* The end of a block for R rows of a 16-column tile (the AVX2 and AVX-VNNI kernels): each exact
 * int32 sum converted and added to the F32 sums as the reference does, s += (float)is * (d_x *
 * d_w), operation for operation. dx: the rows' activation scales for this block, nb apart. */
static inline __attribute__((always_inline)) void q8p_scale(const q8p_block *pb, const float *dx, int nb, const int R,
                                                            __m256i acc[4][2], __m256 sum[4][2]) {
    __m256 dw0 = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)pb->d));
    __m256 dw1 = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(pb->d + 8)));
    for (int r = 0; r < R; r++) {
        __m256 d = _mm256_broadcast_ss(&dx[r * nb]);
        sum[r][0] = _mm256_add_ps(sum[r][0], _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][0]), _mm256_mul_ps(d, dw0)));
        sum[r][1] = _mm256_add_ps(sum[r][1], _mm256_mul_ps(_mm256_cvtepi32_ps(acc[r][1]), _mm256_mul_ps(d, dw1)));
    }
}

/* Stores R rows of a 16-column tile's sums at y (rows n apart), nr of its columns. */
static inline __attribute__((always_inline)) void q8p_store(float *y, int n, int nr, const int R, __m256 sum[4][2]) {
    for (int r = 0; r < R; r++) {
        float *yr = y + (size_t)r * n;
        if (nr == OPS_Q8P_NR) {
            _mm256_storeu_ps(yr, sum[r][0]);
            _mm256_storeu_ps(yr + 8, sum[r][1]);
        } else {
            float o[OPS_Q8P_NR];
            _mm256_storeu_ps(o, sum[r][0]);
            _mm256_storeu_ps(o + 8, sum[r][1]);
            memcpy(yr, o, (size_t)nr * sizeof *o);
        }
    }
}

/* A block's 8 steps for 4 rows, in assembly: with intrinsics GCC 12 kept two of the 8
 * accumulators on the stack and moved others between registers every step. Here the 8
 * accumulators and ones stay in registers, ymm10-15 hold the two panel vectors, the two
 * broadcasts and two products. Per row and step: the row's 4 signed and 4 |x| bytes broadcast,
 * then for each 8 columns vpsignb, vpmaddubsw, vpmaddwd with ones, vpaddd (as the intrinsics
 * below for 1 and 2 rows). Rows r of x at xr + r * row, their |x| at ar + r * row. */
#define Q8P_ROW(X, A, ACC0, ACC1)                                                                                      \
    "vpbroadcastd " X ", %%ymm12\n\t"                                                                                  \
    "vpbroadcastd " A ", %%ymm13\n\t"                                                                                  \
    "vpsignb %%ymm12, %%ymm10, %%ymm14\n\t"                                                                            \
    "vpsignb %%ymm12, %%ymm11, %%ymm15\n\t"                                                                            \
    "vpmaddubsw %%ymm14, %%ymm13, %%ymm14\n\t"                                                                         \
    "vpmaddubsw %%ymm15, %%ymm13, %%ymm15\n\t"                                                                         \
    "vpmaddwd %[ones], %%ymm14, %%ymm14\n\t"                                                                           \
    "vpmaddwd %[ones], %%ymm15, %%ymm15\n\t"                                                                           \
    "vpaddd %%ymm14, %[" ACC0 "], %[" ACC0 "]\n\t"                                                                     \
    "vpaddd %%ymm15, %[" ACC1 "], %[" ACC1 "]\n\t"
static inline __attribute__((always_inline)) void q8p_steps4(const q8p_block *pb, const int8_t *xr, const uint8_t *ar,
                                                             size_t row, __m256i ones, __m256i acc[4][2]) {
    __m256i a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1], a20 = acc[2][0], a21 = acc[2][1],
            a30 = acc[3][0], a31 = acc[3][1];
    size_t row3 = 3 * row;
    for (int s = 0; s < OPS_Q8_BLOCK / 4; s++) {
        const int8_t *x = xr + 4 * s;
        const uint8_t *a = ar + 4 * s;
        __asm__("vmovdqa (%[w]), %%ymm10\n\t"
                "vmovdqa 32(%[w]), %%ymm11\n\t" Q8P_ROW("(%[x])", "(%[a])", "a00", "a01")
                    Q8P_ROW("(%[x],%[row],1)", "(%[a],%[row],1)", "a10", "a11")
                        Q8P_ROW("(%[x],%[row],2)", "(%[a],%[row],2)", "a20", "a21")
                            Q8P_ROW("(%[x],%[row3],1)", "(%[a],%[row3],1)", "a30", "a31")
                : [a00] "+x"(a00), [a01] "+x"(a01), [a10] "+x"(a10), [a11] "+x"(a11), [a20] "+x"(a20), [a21] "+x"(a21),
                  [a30] "+x"(a30), [a31] "+x"(a31)
                : [w] "r"(pb->q[s]), [x] "r"(x), [a] "r"(a), [row] "r"(row), [row3] "r"(row3), [ones] "x"(ones)
                : "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory"); /* it reads memory only */
    }
    acc[0][0] = a00, acc[0][1] = a01, acc[1][0] = a10, acc[1][1] = a11;
    acc[2][0] = a20, acc[2][1] = a21, acc[3][0] = a30, acc[3][1] = a31;
}

/* Rows i..i+R-1 (R <= 4) of x against the 16 columns of panel j / 16, of which nr are stored.
 * Per 4 k values of a row: vpbroadcastd of the row's 4 |x| bytes and of its 4 signed bytes, then
 * per 8 columns vpsignb (x's signs onto the panel's weights; a zero x zeroes them), vpmaddubsw
 * (|x| unsigned times the weights signed: int16 pairs, at most 2 * 127 * 127 = 32258, so nothing
 * saturates: q8_0 never makes -128), vpmaddwd with ones (the 4 products of each column in one
 * int32 lane) and vpaddd: 4 uops per 32 products and no horizontal sums. After a block's 8 steps
 * each int32 sum (at most 32 * 127 * 127, exact, and exact in F32 too: below 2^24) is converted
 * and added to the F32 sums as the reference does. 8 int32 accumulators, 2 panel vectors, ones
 * and the two broadcasts fit in the 16 ymm registers; the F32 sums live in L1. */
static inline __attribute__((always_inline)) void q8p_tile(const q8p_job *J, int i, int j, int nr, const int R) {
    const ops_lpw *w = J->w;
    int nb = w->nb, n = w->n;
    size_t row = (size_t)nb * OPS_Q8_BLOCK;
    const __m256i ones = _mm256_set1_epi16(1);
    const int8_t *xr = J->q + (size_t)i * row; /* row r of the tile at xr + r * row, its |x| at ar + r * row */
    const uint8_t *ar = J->a + (size_t)i * row;
    const float *dr = J->d + (size_t)i * nb;
    __m256 sum[4][2];
    for (int r = 0; r < R; r++) sum[r][0] = sum[r][1] = _mm256_setzero_ps();
    const q8p_block *pb = pblock(w, j / OPS_Q8P_NR, 0);
    for (int b = 0; b < nb; b++, pb++, xr += OPS_Q8_BLOCK, ar += OPS_Q8_BLOCK) {
        __m256i acc[4][2];
        for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
        if (R == 4) {
            q8p_steps4(pb, xr, ar, row, ones, acc);
        } else
            for (int s = 0; s < OPS_Q8_BLOCK / 4; s++) {
                __m256i w0 = _mm256_load_si256((const __m256i *)pb->q[s][0]);
                __m256i w1 = _mm256_load_si256((const __m256i *)pb->q[s][1]);
                for (int r = 0; r < R; r++) {
                    int32_t xs, as;
                    memcpy(&xs, xr + r * row + 4 * s, 4);
                    memcpy(&as, ar + r * row + 4 * s, 4);
                    __m256i xb = _mm256_set1_epi32(xs), ab = _mm256_set1_epi32(as);
                    __m256i t0 = _mm256_maddubs_epi16(ab, _mm256_sign_epi8(w0, xb));
                    __m256i t1 = _mm256_maddubs_epi16(ab, _mm256_sign_epi8(w1, xb));
                    acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(t0, ones));
                    acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(t1, ones));
                }
            }
        q8p_scale(pb, dr + b, nb, R, acc, sum);
    }
    q8p_store(J->y + (size_t)i * n + j, n, nr, R, sum);
}

static void q8p_tile_job(const void *ctx, int i, int j, int mr, int nr) {
    /* R a constant in each call; the rows of a short tile (the last rows, a pooled row per image)
     * go 2 and 1 at a time, so every row computed is stored */
    for (; mr >= 4; i += 4, mr -= 4) q8p_tile(ctx, i, j, nr, 4);
    for (; mr >= 2; i += 2, mr -= 2) q8p_tile(ctx, i, j, nr, 2);
    if (mr) q8p_tile(ctx, i, j, nr, 1);
}

/* ---------------- the VNNI kernels ----------------
 * vpdpbusd adds to each int32 lane the four products of its unsigned bytes (first operand) and
 * signed bytes (second), exactly (no saturation: that is vpdpbusds). The weights are made the
 * unsigned side: w + 128 (w ^ 0x80 as a byte: 1..255, q8_0 never makes -128), the activations the
 * signed side, broadcast four bytes at a time. Each block's sum of (w + 128) x is then sum(w x)
 * + 128 sum(x), so the accumulators start at the block's correction -128 sum(x), which quantize
 * took once per row and block, and end at the exact int32 sum of w x: no sign tricks per use,
 * one instruction per 64 products. Every partial sum stays exact in int32 (at most
 * 32 * 255 * 127 + 128 * 32 * 127). From there the F32 steps are the reference's, in its order,
 * as in the AVX2 kernel.
 * The kernels are compiled for their instruction sets (target attributes) whatever the build's
 * -march, and run only where the CPU reports them (ops_q8p_cpu_has). */
#define VNNI512_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define AVXVNNI_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))

/* Rows i..i+R-1 (R <= 6) against NP (1 or 2) panels from column j, of which nr are stored: per
 * panel and step of 4 k values one 64-byte vector (16 columns x 4 k), per row 2 vpdpbusd with the
 * row's 4 bytes broadcast. 12 int32 accumulators, 12 F32 sums, 2 panel vectors and the flip
 * constant fit AVX-512's 32 registers. */
VNNI512_TARGET static inline __attribute__((always_inline)) void v512_tile(const q8p_job *J, int i, int j, int nr,
                                                                            const int R, const int NP) {
    const ops_lpw *w = J->w;
    int nb = w->nb, n = w->n;
    size_t row = (size_t)nb * OPS_Q8_BLOCK;
    const int8_t *xr = J->q + (size_t)i * row;
    const int32_t *cr = (const int32_t *)(const void *)(J->a + (size_t)i * row);
    const float *dr = J->d + (size_t)i * nb;
    const q8p_block *p0 = pblock(w, j / OPS_Q8P_NR, 0), *p1 = p0 + nb;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512 sum[6][2];
    for (int r = 0; r < R; r++) sum[r][0] = sum[r][1] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i acc[6][2];
        for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_set1_epi32(cr[(size_t)r * (row / 4) + b]);
        for (int s = 0; s < OPS_Q8_BLOCK / 4; s++) {
            __m512i w0 = _mm512_xor_si512(_mm512_loadu_si512(p0[b].q[s]), flip);
            __m512i w1 = NP == 2 ? _mm512_xor_si512(_mm512_loadu_si512(p1[b].q[s]), flip) : w0;
            for (int r = 0; r < R; r++) {
                int32_t xs;
                memcpy(&xs, xr + r * row + (size_t)b * OPS_Q8_BLOCK + 4 * s, 4);
                __m512i xb = _mm512_set1_epi32(xs);
                acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], w0, xb);
                if (NP == 2) acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], w1, xb);
            }
        }
        __m512 dw0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p0[b].d));
        __m512 dw1 = NP == 2 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p1[b].d)) : dw0;
        for (int r = 0; r < R; r++) {
            __m512 dx = _mm512_set1_ps(dr[r * nb + b]);
            /* s += (float)is * (d_x * d_w), operation for operation */
            sum[r][0] = _mm512_add_ps(sum[r][0], _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][0]), _mm512_mul_ps(dx, dw0)));
            if (NP == 2)
                sum[r][1] =
                    _mm512_add_ps(sum[r][1], _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][1]), _mm512_mul_ps(dx, dw1)));
        }
    }
    /* nr of the NP * 16 columns are stored: masked stores for a short last panel */
    __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
    __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
    for (int r = 0; r < R; r++) {
        float *yr = J->y + (size_t)(i + r) * n + j;
        _mm512_mask_storeu_ps(yr, m0, sum[r][0]);
        if (NP == 2) _mm512_mask_storeu_ps(yr + 16, m1, sum[r][1]);
    }
}

VNNI512_TARGET static void v512_rows(const q8p_job *J, int i, int j, int mr, int nr, const int NP) {
    /* R a constant in each call (the loops unroll); a short tile's rows 5..1 at a time */
    for (; mr >= 6; i += 6, mr -= 6) v512_tile(J, i, j, nr, 6, NP);
    switch (mr) {
    case 5: v512_tile(J, i, j, nr, 5, NP); break;
    case 4: v512_tile(J, i, j, nr, 4, NP); break;
    case 3: v512_tile(J, i, j, nr, 3, NP); break;
    case 2: v512_tile(J, i, j, nr, 2, NP); break;
    case 1: v512_tile(J, i, j, nr, 1, NP); break;
    }
}

VNNI512_TARGET static void v512_job(const void *ctx, int i, int j, int mr, int nr) {
    if (nr > OPS_Q8P_NR)
        v512_rows(ctx, i, j, mr, nr, 2);
    else /* the last, odd panel */
        v512_rows(ctx, i, j, mr, nr, 1);
}

/* AVX-VNNI: the VEX form, 16 ymm registers: 4 rows x one 16-column panel (two 32-byte vectors of
 * 8 columns x 4 k per step), like the AVX2 kernel's tile; the F32 sums live in L1. */
AVXVNNI_TARGET static inline __attribute__((always_inline)) void avxvnni_tile(const q8p_job *J, int i, int j, int nr,
                                                                               const int R) {
    const ops_lpw *w = J->w;
    int nb = w->nb, n = w->n;
    size_t row = (size_t)nb * OPS_Q8_BLOCK;
    const int8_t *xr = J->q + (size_t)i * row;
    const int32_t *cr = (const int32_t *)(const void *)(J->a + (size_t)i * row);
    const float *dr = J->d + (size_t)i * nb;
    const q8p_block *pb = pblock(w, j / OPS_Q8P_NR, 0);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    __m256 sum[4][2];
    for (int r = 0; r < R; r++) sum[r][0] = sum[r][1] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++, pb++) {
        __m256i acc[4][2];
        for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_set1_epi32(cr[(size_t)r * (row / 4) + b]);
        for (int s = 0; s < OPS_Q8_BLOCK / 4; s++) {
            __m256i w0 = _mm256_xor_si256(_mm256_load_si256((const __m256i *)pb->q[s][0]), flip);
            __m256i w1 = _mm256_xor_si256(_mm256_load_si256((const __m256i *)pb->q[s][1]), flip);
            for (int r = 0; r < R; r++) {
                int32_t xs;
                memcpy(&xs, xr + r * row + (size_t)b * OPS_Q8_BLOCK + 4 * s, 4);
                __m256i xb = _mm256_set1_epi32(xs);
                acc[r][0] = _mm256_dpbusd_avx_epi32(acc[r][0], w0, xb);
                acc[r][1] = _mm256_dpbusd_avx_epi32(acc[r][1], w1, xb);
            }
        }
        q8p_scale(pb, dr + b, nb, R, acc, sum);
    }
    q8p_store(J->y + (size_t)i * n + j, n, nr, R, sum);
}

AVXVNNI_TARGET static void avxvnni_job(const void *ctx, int i, int j, int mr, int nr) {
    for (; mr >= 4; i += 4, mr -= 4) avxvnni_tile(ctx, i, j, nr, 4);
    switch (mr) {
    case 3: avxvnni_tile(ctx, i, j, nr, 3); break;
    case 2: avxvnni_tile(ctx, i, j, nr, 2); break;
    case 1: avxvnni_tile(ctx, i, j, nr, 1); break;
    }
}
#endif

int ops_q8p_cpu_has(int impl) {
#ifdef Q8P_AVX2
    static int has[2] = {-1, -1}; /* AVX-VNNI, AVX512-VNNI; a race writes the same answer */
    if (impl == OPS_LP_AVXVNNI) {
        if (has[0] < 0) { /* CPUID.(7,1):EAX bit 4 (GCC names it "avxvnni", clang 14 does not) */
            unsigned a = 0, b = 0, c = 0, d = 0;
            has[0] = __builtin_cpu_supports("avx2") && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a >> 4 & 1);
        }
        return has[0];
    }
    if (impl == OPS_LP_VNNI512) {
        if (has[1] < 0)
            has[1] = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni")
                         ? 1
                         : 0;
        return has[1];
    }
#else
    (void)impl;
#endif
    return 0;
}

void ops_q8p_linear(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, void *scratch, int impl) {
    int nt = o ? ops_ctx_threads(o) : 1, vnni = impl == OPS_LP_AVXVNNI || impl == OPS_LP_VNNI512;
    int8_t *q;
    uint8_t *a;
    float *d;
    quantize(nt, x, m, w->k, w->nb, scratch, vnni, &q, &a, &d);
#ifdef Q8P_AVX2
    q8p_job J = {q, a, d, w, y};
    size_t wrow = (size_t)w->nb * sizeof(ops_q8_block);
    int parallel = (size_t)m * w->n * w->nb > 30000;
    if (impl == OPS_LP_VNNI512) {
        ops_lp_tiles(nt, m, w->n, 6, 2 * OPS_Q8P_NR, wrow, parallel, v512_job, &J);
        return;
    }
    if (impl == OPS_LP_AVXVNNI) {
        ops_lp_tiles(nt, m, w->n, 4, OPS_Q8P_NR, wrow, parallel, avxvnni_job, &J);
        return;
    }
    if (impl == OPS_LP_AVX2) {
        ops_lp_tiles(nt, m, w->n, 4, OPS_Q8P_NR, wrow, parallel, q8p_tile_job, &J);
        return;
    }
#endif
    if (impl == OPS_LP_REF)
        q8p_ref(q, d, w, y, m);
    else
        q8p_portable(nt, q, d, w, y, m);
}
