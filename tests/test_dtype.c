/* Lower-precision weights (ops_lp.h): the F16 conversion, q8_0 quantisation, each kernel (portable
 * C, AVX2) against the reference kernel on odd shapes, the reference against the F32 product within
 * the quantisation's error bound, whole models (tiny-clip, toyworld) per dtype against F32, and the
 * cache of converted weights (written once, read back, rebuilt when stale or damaged). */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>

#include "../src/common/cs_file.h"
#include "../src/model/clip.h"
#include "../src/model/lpcache.h"
#include "../src/model/ops.h"
#include "../src/model/ops_lp.h"
#include "clip_checks.h"
#include "testutil.h"

static uint64_t rng = 0x243F6A8885A308D3ull;
static float frand(void) { /* uniform in [-1, 1) */
    rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
    return (float)((rng * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
}

static float *rand_mat(size_t n, float scale) {
    float *v = malloc(n * sizeof *v);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) v[i] = scale * frand();
    return v;
}

static void *scratch_for(int m, int k) {
    void *s = NULL;
    size_t b = ops_lp_scratch(m, k, OPS_LP_Q8);
    cr_assert_eq(posix_memalign(&s, 64, b ? b : 64), 0);
    return s;
}

Test(dtype, f16_conversion_rounds_to_nearest_even_and_round_trips) {
    /* every half (but NaNs) survives half -> float -> half */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ops_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            cr_assert(ops_f32_to_f16(f) >= 0x7c01 || (ops_f32_to_f16(f) & 0x7fff) > 0x7c00, "NaN %04x", h);
            continue;
        }
        cr_assert_eq(ops_f32_to_f16(f), h, "half %04x -> %g -> %04x", h, f, ops_f32_to_f16(f));
        cr_assert_eq(f, st_f16_to_f32((uint16_t)h), "half %04x: %g, safetensors' %g", h, f, st_f16_to_f32((uint16_t)h));
    }
    cr_assert_eq(ops_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);          /* a tie: to even (1.0) */
    cr_assert_eq(ops_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);          /* a tie: to even (1 + 2^-9) */
    cr_assert_eq(ops_f32_to_f16(1.0f + 1.0f / 2048 + 1e-7f), 0x3c01);  /* above the tie: up */
    cr_assert_eq(ops_f32_to_f16(65504.0f), 0x7bff);
    cr_assert_eq(ops_f32_to_f16(65520.0f), 0x7c00);                    /* rounds past the largest: inf */
    cr_assert_eq(ops_f32_to_f16(-1e-8f), 0x8000);                      /* under half the smallest subnormal */
    cr_assert_eq(ops_f32_to_f16(3.0f * 5.9604644775390625e-08f), 0x0003);
}

Test(dtype, q8_quantize_row_is_within_half_a_step_and_pads_with_zeros) {
    int ks[] = {1, 7, 31, 32, 33, 64, 100};
    for (size_t c = 0; c < sizeof ks / sizeof *ks; c++) {
        int k = ks[c], nb = (k + 31) / 32;
        float *x = rand_mat((size_t)k, 3.0f);
        if (k > 40) for (int j = 32; j < 64 && j < k; j++) x[j] = 0.0f; /* an all-zero block */
        int8_t *q = malloc((size_t)nb * 32);
        float *d = malloc((size_t)nb * sizeof *d);
        ops_q8_quantize_row(x, k, q, d);
        for (int b = 0; b < nb; b++) {
            float amax = 0;
            int qmax = 0;
            for (int j = b * 32; j < k && j < b * 32 + 32; j++) {
                amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
                qmax = abs(q[j]) > qmax ? abs(q[j]) : qmax;
                cr_assert_leq(fabsf(q[j] * d[b] - x[j]), 0.5f * d[b] * 1.0001f + 1e-30f, "k %d, value %d", k, j);
            }
            cr_assert_float_eq(d[b], amax / 127.0f, 1e-9f, "k %d block %d scale", k, b);
            cr_assert_eq(qmax, amax > 0 ? 127 : 0, "k %d block %d: the largest value maps to 127", k, b);
        }
        for (int j = k; j < nb * 32; j++) cr_assert_eq(q[j], 0, "k %d: padding %d", k, j);
        free(x); free(q); free(d);
    }
}

/* Odd shapes: k not a multiple of 32 (or 8), m and n not multiples of the tiles (Q8: 4 rows by 4
 * columns, F16: 6 rows by 2 columns) and one row; shapes whose columns span several of the L2
 * column blocks (ops_lp_tiles: 192 KB of weights, so 60 Q8 or 32 F16 columns at k = 3072); and
 * the ViT-B/32 widths. */
static const int shapes[][3] = {{1, 1, 1}, {1, 3, 7}, {3, 5, 33}, {5, 3, 64}, {7, 9, 100}, {4, 2, 32},
                                {13, 17, 200}, {50, 96, 768}, {9, 40, 3072}, {2, 1537, 512},
                                {1, 9, 31}, {6, 4, 64}, {11, 7, 65}, {2, 6, 96}, {12, 8, 40},
                                {7, 150, 2999}, {1, 130, 3072}, {77, 70, 512}};

/* The fast kernels against the reference, per format and shape. Q8's portable kernel sums as the
 * reference (bit for bit); the others in their own order: within 1e-5 of sum |x_t w_t|. */
static void kernels_match_reference(int fmt) {
    ops_ctx *o = ops_ctx_new(2); /* the fast kernels on two threads, as the backend runs them */
    cr_assert_not_null(o);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *x = rand_mat((size_t)m * k, 2.0f), *w = rand_mat((size_t)n * k, 0.05f);
        float *ref = malloc((size_t)m * n * sizeof *ref), *y = malloc((size_t)m * n * sizeof *y);
        ops_lpw *lw = ops_lp_pack(o, w, n, k, fmt);
        cr_assert_not_null(lw);
        void *scr = scratch_for(m, k);
        cr_assert_eq(ops_lp_linear_impl(o, x, lw, ref, m, scr, OPS_LP_REF), 0);
        int impls[] = {OPS_LP_PORTABLE, OPS_LP_AVX2, OPS_LP_AVXVNNI, OPS_LP_VNNI512};
        for (int t = 0; t < 4; t++) {
            if (!ops_lp_have(impls[t])) {
                cr_log_warn("this build or CPU has no %s kernel", ops_lp_impl_name(impls[t]));
                continue;
            }
            for (size_t i = 0; i < (size_t)m * n; i++) y[i] = NAN;
            cr_assert_eq(ops_lp_linear_impl(o, x, lw, y, m, scr, impls[t]), 0);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    float mag = 0;
                    for (int u = 0; u < k; u++) mag += fabsf(x[(size_t)i * k + u] * w[(size_t)j * k + u]);
                    float got = y[(size_t)i * n + j], want = ref[(size_t)i * n + j];
                    float tol = fmt == OPS_LP_Q8 && impls[t] == OPS_LP_PORTABLE ? 0.0f : 1e-5f * mag + 1e-30f;
                    cr_assert_leq(fabsf(got - want), tol, "%s kernel %d, %dx%dx%d, y[%d,%d] = %g, reference %g",
                                  ops_lp_name(fmt), impls[t], m, n, k, i, j, got, want);
                }
        }
        ops_lp_free(lw);
        free(x); free(w); free(ref); free(y); free(scr);
    }
    ops_ctx_free(o);
}

Test(dtype, f16_kernels_match_the_reference_on_odd_shapes) { kernels_match_reference(OPS_LP_F16); }
Test(dtype, q8_kernels_match_the_reference_on_odd_shapes) { kernels_match_reference(OPS_LP_Q8); }

/* Q8P (q8_0 in column panels, ops_q8p.c) against the Q8 reference on the same weights, bit for
 * bit: the int32 block sums are exact and each kernel adds the scaled blocks in the reference's
 * order. Rows 1-5 (short tiles), 50 and 400 (image batch 1 and 8), 77 (text); columns not a
 * multiple of the 16-column panel; k = 32, 64, 768, 3072 and k not a multiple of 32. */
static const int q8p_shapes[][3] = {{1, 1, 1},     {1, 17, 32},     {3, 16, 64},    {4, 33, 768},  {5, 40, 3072},
                                    {2, 9, 31},    {13, 31, 33},    {4, 16, 100},   {6, 48, 65},   {50, 96, 768},
                                    {77, 70, 512}, {400, 40, 768},  {400, 17, 3072}, {7, 150, 2999}, {2, 1537, 512},
                                    {50, 64, 3072},  {12, 64, 64},   {8, 512, 512}, {6, 32, 32}};

static void q8p_matches_q8_reference(const float *x, const float *w, int m, int n, int k, ops_ctx *o) {
    ops_lpw *q = ops_lp_pack(o, w, n, k, OPS_LP_Q8), *p = ops_lp_pack(o, w, n, k, OPS_LP_Q8P);
    cr_assert(q && p);
    cr_assert_eq(p->fmt, OPS_LP_Q8P);
    cr_assert_eq(p->bytes, ops_lp_size(n, k, OPS_LP_Q8P));
    /* packing straight to panels is quantising to q8_0 and then repacking */
    void *re = NULL;
    cr_assert_eq(posix_memalign(&re, 64, p->bytes), 0);
    ops_q8p_repack(q->data, n, q->nb, re);
    cr_assert_eq(memcmp(re, p->data, p->bytes), 0, "%dx%d: Q8P pack differs from Q8 pack + repack", n, k);
    free(re);
    float *ref = malloc((size_t)m * n * sizeof *ref), *y = malloc((size_t)m * n * sizeof *y);
    void *scr = scratch_for(m, k);
    cr_assert_eq(ops_lp_linear_impl(o, x, q, ref, m, scr, OPS_LP_REF), 0);
    int impls[] = {OPS_LP_REF, OPS_LP_PORTABLE, OPS_LP_AVX2, OPS_LP_AVXVNNI, OPS_LP_VNNI512};
    for (int t = 0; t < 5; t++) {
        if (!ops_lp_have(impls[t])) {
            cr_log_warn("this build or CPU has no %s kernel", ops_lp_impl_name(impls[t]));
            continue;
        }
        for (size_t i = 0; i < (size_t)m * n; i++) y[i] = NAN;
        cr_assert_eq(ops_lp_linear_impl(o, x, p, y, m, scr, impls[t]), 0);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                cr_assert_eq(memcmp(&y[(size_t)i * n + j], &ref[(size_t)i * n + j], sizeof *y), 0,
                             "Q8P %s kernel, %dx%dx%d, y[%d,%d] = %.9g, Q8 reference %.9g", ops_lp_impl_name(impls[t]), m, n, k, i, j,
                             y[(size_t)i * n + j], ref[(size_t)i * n + j]);
    }
    ops_lp_free(q); ops_lp_free(p);
    free(ref); free(y); free(scr);
}

Test(dtype, q8p_kernels_equal_the_q8_reference_bit_for_bit) {
    ops_ctx *o = ops_ctx_new(2);
    cr_assert_not_null(o);
    for (size_t s = 0; s < sizeof q8p_shapes / sizeof *q8p_shapes; s++) {
        int m = q8p_shapes[s][0], n = q8p_shapes[s][1], k = q8p_shapes[s][2];
        float *x = rand_mat((size_t)m * k, 2.0f), *w = rand_mat((size_t)n * k, 0.05f);
        if (k >= 64) /* a zero block in one row and one column: zero scales */
            for (int t = 32; t < 64; t++) x[t] = w[t] = 0.0f;
        q8p_matches_q8_reference(x, w, m, n, k, o);
        free(x); free(w);
    }
    ops_ctx_free(o);
}

/* The extremes: activations -128 or 127 (quantised to -127..127: q8_0 never makes -128), weights
 * +-127, so every int16 pair of vpmaddubsw is +-2 * 127 * 127 or +-2 * 127 * 126, the most it
 * takes. A kernel whose pairs saturated (x + 128 as the unsigned operand, 2 * 255 * 127) would be
 * off by thousands. The VNNI kernels do take w + 128 as the unsigned operand, but vpdpbusd sums
 * its four products into int32 without saturating: their sums reach 4 * 255 * 127 per step here.
 * The result must equal the reference and the exact sum. */
Test(dtype, q8p_extreme_values_match_the_reference_exactly) {
    ops_ctx *o = ops_ctx_new(2);
    int ks[] = {64, 3072}, m = 6, n = 20;
    for (int c = 0; c < 2; c++) {
        int k = ks[c];
        float *x = malloc((size_t)m * k * sizeof *x), *w = malloc((size_t)n * k * sizeof *w);
        for (int i = 0; i < m; i++) /* rows: all -128, all 127, alternating, and -128 / 127 by block */
            for (int t = 0; t < k; t++)
                x[(size_t)i * k + t] = i == 0 ? -128.0f : i == 1 ? 127.0f : i == 2 ? (t % 2 ? 127.0f : -128.0f)
                                                       : i == 3 ? ((t / 32) % 2 ? 127.0f : -128.0f)
                                                       : i == 4 ? (t % 3 ? -128.0f : 127.0f) : -128.0f;
        for (int j = 0; j < n; j++) /* columns: all +127, all -127, alternating, by block */
            for (int t = 0; t < k; t++)
                w[(size_t)j * k + t] = j % 4 == 0 ? 127.0f : j % 4 == 1 ? -127.0f : j % 4 == 2 ? (t % 2 ? -127.0f : 127.0f)
                                                                               : ((t / 32) % 2 ? 127.0f : -127.0f);
        q8p_matches_q8_reference(x, w, m, n, k, o);
        /* and the value itself: row 0 (every x -128: q -127, d_x 128/127) by column 1 (every w -127:
         * q -127, d_w 1): each block 32 * 127 * 127 * (128 / 127) = 32 * 127 * 128 */
        ops_lpw *p = ops_lp_pack(o, w, n, k, OPS_LP_Q8P);
        float *y = malloc((size_t)m * n * sizeof *y);
        void *scr = scratch_for(m, k);
        ops_lp_linear(o, x, p, y, m, scr);
        double want = (double)k * 127.0 * 128.0;
        cr_assert_leq(fabs(y[1] - want), want * 1e-6, "k %d: %.9g, want %.9g", k, y[1], want);
        cr_assert_leq(fabs(y[0] + want), want * 1e-6, "k %d: %.9g, want %.9g", k, y[0], -want);
        ops_lp_free(p);
        free(y); free(scr); free(x); free(w);
    }
    ops_ctx_free(o);
}

/* The reference itself against the F32 product: F16 within its rounding (2^-11 relative per
 * weight); Q8 within the bound its quantisation allows, per block: |x| d_w / 2 + |w| d_x / 2 +
 * 32 d_w d_x / 4 summed over the block, plus F32 rounding. */
Test(dtype, reference_kernels_stay_within_the_quantisation_error_of_f32) {
    int m = 3, n = 5, k = 100, nb = 4;
    float *x = rand_mat((size_t)m * k, 2.0f), *w = rand_mat((size_t)n * k, 0.05f);
    float y32[15], y[15];
    ops_linear_ref(x, w, NULL, y32, m, n, k);
    void *scr = scratch_for(m, k);
    ops_ctx *o = ops_ctx_new(2);
    ops_lpw *h = ops_lp_pack(o, w, n, k, OPS_LP_F16), *q = ops_lp_pack(o, w, n, k, OPS_LP_Q8);
    cr_assert_eq(ops_lp_linear_impl(o, x, h, y, m, scr, OPS_LP_REF), 0);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float mag = 0;
            for (int u = 0; u < k; u++) mag += fabsf(x[i * k + u] * w[j * k + u]);
            cr_assert_leq(fabsf(y[i * n + j] - y32[i * n + j]), mag * (1.0f / 2048 + 1e-5f), "F16 y[%d,%d]", i, j);
        }
    cr_assert_eq(ops_lp_linear_impl(o, x, q, y, m, scr, OPS_LP_REF), 0);
    const ops_q8_block *blk = q->data;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float bound = 0, mag = 0;
            for (int b = 0; b < nb; b++) {
                float dw = ops_f16_to_f32(blk[j * nb + b].d), ax = 0, sx = 0, sw = 0;
                for (int u = b * 32; u < k && u < b * 32 + 32; u++) {
                    ax = fabsf(x[i * k + u]) > ax ? fabsf(x[i * k + u]) : ax;
                    sx += fabsf(x[i * k + u]);
                    sw += fabsf(w[j * k + u]);
                    mag += fabsf(x[i * k + u] * w[j * k + u]);
                }
                float dx = ax / 127.0f;
                bound += 0.5f * dw * sx + 0.5f * dx * sw + 8.0f * dw * dx;
            }
            float err = fabsf(y[i * n + j] - y32[i * n + j]);
            cr_assert_leq(err, bound + 1e-5f * mag, "Q8 y[%d,%d]: error %g, bound %g", i, j, err, bound);
            cr_assert_gt(err, 0.0f, "Q8 y[%d,%d] equals F32 exactly: not quantised?", i, j);
        }
    ops_lp_free(h); ops_lp_free(q);
    ops_ctx_free(o);
    free(x); free(w); free(scr);
}

Test(dtype, packed_sizes_are_half_and_about_a_quarter) {
    float *w = rand_mat(64 * 100, 1.0f);
    ops_lpw *h = ops_lp_pack(NULL, w, 64, 100, OPS_LP_F16), *q = ops_lp_pack(NULL, w, 64, 100, OPS_LP_Q8);
    cr_assert_eq(h->bytes, 64 * 100 * 2);
    cr_assert_eq(q->bytes, 64 * 4 * 34); /* 100 columns: 4 blocks of 34 bytes per row */
    cr_assert_eq(ops_lp_size(3, 64, OPS_LP_Q8), 3 * 2 * 34); /* a multiple of 32: no padding block */
    cr_assert_eq(sizeof(ops_q8_block), 34, "ggml's block_q8_0 is 34 bytes");
    cr_assert_eq(ops_lp_size(17, 64, OPS_LP_Q8P), 32 * 2 * 34); /* 17 columns: two 16-column panels */
    cr_assert_eq(ops_lp_size(32, 100, OPS_LP_Q8P), ops_lp_size(32, 100, OPS_LP_Q8));
    cr_assert_null(ops_lp_pack(NULL, w, 64, 100, 7));
    ops_lp_free(h); ops_lp_free(q);
    ops_lp_free(NULL);
    free(w);
}

/* ---- whole models ---- */

static clip_ctx *load_dtype(const char *dir, int dtype, int reference) {
    clip_params p = clip_default_params();
    p.threads = 2;
    p.reference = reference;
    p.dtype = dtype;
    p.device = "cpu";
    clip_ctx *c;
    cs_err e;
    cr_assert_eq(clip_load(dir, &p, &c, &e), 0, "%s", e.msg);
    return c;
}

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* min and median cosine of the rows of a against b (n rows of P, L2-normalised) */
static void cosines(const float *a, const float *b, int n, int P, float *mn, float *med) {
    float *c = malloc((size_t)n * sizeof *c);
    for (int i = 0; i < n; i++) {
        float s = 0;
        for (int k = 0; k < P; k++) s += a[(size_t)i * P + k] * b[(size_t)i * P + k];
        c[i] = s;
    }
    qsort(c, (size_t)n, sizeof *c, cmpf);
    *mn = c[0];
    *med = n % 2 ? c[n / 2] : 0.5f * (c[n / 2 - 1] + c[n / 2]);
    free(c);
}

/* The floor a dtype's cosines against F32 must keep: the rule for a default (0.999) where it is
 * a tower's default, else what the measurements in docs/performance.md leave room for. */
static float floor_for(int dtype, int vision) {
    if (dtype == clip_dtype_default(vision)) return 0.999f;
    return dtype == CLIP_DTYPE_F16 ? 0.999f : 0.99f;
}

/* toyworld per dtype: 48/48 top-1, and the cosine of every embedding against F32 */
static void toyworld_dtype(int dtype) {
    FIXTURE(dir, "toyworld-clip");
    FIXTURE(qp, "toyworld-eval/queries.json");
    json_t *root = json_load_file(qp, 0, NULL), *items = json_object_get(root, "items");
    int N = (int)json_array_size(items);
    cr_assert_eq(N, 48);
    const char *paths[48], *texts[48];
    char pbuf[48][4096];
    for (int i = 0; i < N; i++) {
        json_t *it = json_array_get(items, (size_t)i);
        snprintf(pbuf[i], 4096, "%s/toyworld-eval/%s", fixtures_dir(), json_string_value(json_object_get(it, "file")));
        paths[i] = pbuf[i];
        texts[i] = json_string_value(json_object_get(it, "query"));
    }
    clip_ctx *c32 = load_dtype(dir, CLIP_DTYPE_F32, 0), *c = load_dtype(dir, dtype, 0);
    int P = clip_get_info(c)->projection_dim;
    float *i32 = malloc((size_t)N * P * 4), *t32 = malloc((size_t)N * P * 4), *ie = malloc((size_t)N * P * 4),
          *te = malloc((size_t)N * P * 4);
    cs_err e;
    cr_assert_eq(clip_image_files_embed(c32, paths, N, 1, i32, &e), 0, "%s", e.msg);
    cr_assert_eq(clip_texts_embed(c32, texts, N, 1, t32, &e), 0, "%s", e.msg);
    cr_assert_eq(clip_image_files_embed(c, paths, N, 1, ie, &e), 0, "%s", e.msg);
    cr_assert_eq(clip_texts_embed(c, texts, N, 1, te, &e), 0, "%s", e.msg);
    clip_device d;
    clip_get_device(c, &d);
    cr_assert_str_eq(d.precision, dtype == CLIP_DTYPE_F16 ? "F16" : dtype == CLIP_DTYPE_Q8 ? "Q8_0" : "F32");
    int top1 = 0;
    for (int i = 0; i < N; i++) top1 += best_match(te + (size_t)i * P, ie, (size_t)N, P) == (size_t)i;
    float imin, imed, tmin, tmed;
    cosines(ie, i32, N, P, &imin, &imed);
    cosines(te, t32, N, P, &tmin, &tmed);
    cr_log_info("toyworld %s: top-1 %d/48; image cosine vs F32 min %.7f median %.7f; text min %.7f median %.7f",
                clip_dtype_name(dtype), top1, imin, imed, tmin, tmed);
    cr_expect_eq(top1, 48, "%s top-1 %d/48", clip_dtype_name(dtype), top1);
    cr_expect_geq(imin, floor_for(dtype, 1), "%s image cosine %.6f", clip_dtype_name(dtype), imin);
    cr_expect_geq(tmin, floor_for(dtype, 0), "%s text cosine %.6f", clip_dtype_name(dtype), tmin);
    free(i32); free(t32); free(ie); free(te);
    clip_free(c32);
    clip_free(c);
    json_decref(root);
}

/* The default (no --dtype) on the CPU is q8 for both towers (docs/performance.md, the fidelity
 * table): what a tower keeps after it ran, and the floor the toyworld and tiny-clip tests hold it
 * to (0.999, the rule for a default). */
Test(dtype, the_default_on_the_cpu_is_q8_for_both_towers) {
    FIXTURE(dir, "toyworld-clip");
    cr_assert_eq(clip_dtype_default(0), CLIP_DTYPE_Q8);
    cr_assert_eq(clip_dtype_default(1), CLIP_DTYPE_Q8);
    cr_assert_float_eq(floor_for(CLIP_DTYPE_Q8, 0), 0.999f, 1e-9f);
    clip_ctx *c = load_dtype(dir, CLIP_DTYPE_DEFAULT, 0);
    int P = clip_get_info(c)->projection_dim;
    float v[2][256];
    const char *t = "a red star";
    cs_err e;
    cr_assert_leq(P, 256);
    cr_assert_eq(clip_texts_embed(c, &t, 1, 1, v[0], &e), 0, "%s", e.msg);
    clip_device d;
    clip_get_device(c, &d);
    cr_assert_str_eq(d.precision, "Q8_0", "the text tower kept %s", d.precision);
    char img[4200];
    snprintf(img, sizeof img, "%s/toyworld-eval/img00.png", fixtures_dir());
    const char *paths[1] = {img};
    cr_assert_eq(clip_image_files_embed(c, paths, 1, 1, v[1], &e), 0, "%s", e.msg);
    clip_get_device(c, &d);
    cr_assert_str_eq(d.precision, "Q8_0", "a tower kept another format: %s", d.precision);
    clip_free(c);
}

Test(dtype, toyworld_f16_keeps_top1_and_cosines) { toyworld_dtype(CLIP_DTYPE_F16); }
Test(dtype, toyworld_q8_keeps_top1_and_cosines) { toyworld_dtype(CLIP_DTYPE_Q8); }

/* tiny-clip per dtype: the fast backend against the reference backend of the same dtype (the
 * whole tower's conformance), and both against F32 (fidelity), on the fixture's 8 texts (padded
 * and not) and 3 images. */
static void tiny_dtype(int dtype) {
    FIXTURE(dir, TINY);
    FIXTURE(rp, TINY "/refs.safetensors");
    st_set *refs;
    cr_assert_eq(st_open(rp, &refs, NULL), 0);
    clip_ctx *c32 = load_dtype(dir, CLIP_DTYPE_F32, 0), *c = load_dtype(dir, dtype, 0), *cr = load_dtype(dir, dtype, 1);
    int64_t n;
    float *ids_f = load_ref(refs, "input_ids", &n), *mask_f = load_ref(refs, "attention_mask", NULL),
          *px = load_ref(refs, "pixel_values", NULL);
    float t32[8 * 32], tq[8 * 32], tr[8 * 32], i32[3 * 32], iq[3 * 32], ir[3 * 32];
    for (int b = 0; b < 8; b++) {
        int32_t ids[77], real = 0;
        for (int i = 0; i < 77; i++) {
            ids[i] = (int32_t)ids_f[b * 77 + i];
            real += mask_f[b * 77 + i] != 0;
        }
        cr_assert_eq(clip_text_forward(c32, ids, NULL, real, 1, NULL, t32 + b * 32, NULL), 0);
        cr_assert_eq(clip_text_forward(c, ids, NULL, real, 1, NULL, tq + b * 32, NULL), 0);
        cr_assert_eq(clip_text_forward(cr, ids, NULL, real, 1, NULL, tr + b * 32, NULL), 0);
    }
    cr_assert_eq(clip_vision_forward(c32, px, 3, 1, NULL, i32, NULL), 0);
    cr_assert_eq(clip_vision_forward(c, px, 3, 1, NULL, iq, NULL), 0);
    cr_assert_eq(clip_vision_forward(cr, px, 3, 1, NULL, ir, NULL), 0);
    cr_expect_leq(max_abs_diff(tq, tr, 8 * 32), 1e-4f, "%s text: fast vs reference kernels", clip_dtype_name(dtype));
    cr_expect_leq(max_abs_diff(iq, ir, 3 * 32), 1e-4f, "%s image: fast vs reference kernels", clip_dtype_name(dtype));
    float imin, imed, tmin, tmed;
    cosines(iq, i32, 3, 32, &imin, &imed);
    cosines(tq, t32, 8, 32, &tmin, &tmed);
    cr_log_info("tiny-clip %s: image cosine vs F32 min %.7f median %.7f; text min %.7f median %.7f",
                clip_dtype_name(dtype), imin, imed, tmin, tmed);
    cr_expect_geq(imin, floor_for(dtype, 1), "%s image cosine %.6f", clip_dtype_name(dtype), imin);
    cr_expect_geq(tmin, floor_for(dtype, 0), "%s text cosine %.6f", clip_dtype_name(dtype), tmin);
    /* not F32 in disguise: the embeddings moved */
    cr_expect_gt(max_abs_diff(tq, t32, 8 * 32), 0.0f, "%s text equals F32", clip_dtype_name(dtype));
    cr_expect_gt(max_abs_diff(iq, i32, 3 * 32), 0.0f, "%s image equals F32", clip_dtype_name(dtype));
    free(ids_f); free(mask_f); free(px);
    clip_free(c32); clip_free(c); clip_free(cr);
    st_close(refs);
}

Test(dtype, tiny_clip_f16_conforms_and_keeps_cosines) { tiny_dtype(CLIP_DTYPE_F16); }
Test(dtype, tiny_clip_q8_conforms_and_keeps_cosines) { tiny_dtype(CLIP_DTYPE_Q8); }

Test(dtype, dtype_names_parse) {
    int d;
    cs_err e;
    cr_assert_eq(clip_dtype_parse("q8", &d, &e), 0);
    cr_assert_eq(d, CLIP_DTYPE_Q8);
    cr_assert_eq(clip_dtype_parse("f16", &d, &e), 0);
    cr_assert_eq(d, CLIP_DTYPE_F16);
    cr_assert_eq(clip_dtype_parse("int4", &d, &e), -1);
    cr_assert(strstr(e.msg, "int4") && strstr(e.msg, "q8"), "%s", e.msg);
}

/* ---- the converted-weights cache (lpcache.h) ---- */

static void copy_file(const char *from, const char *to) {
    char *buf;
    size_t len;
    cs_err e;
    cr_assert_eq(cs_read_file(from, 64u << 20, &buf, &len, &e), 0, "%s", e.msg);
    FILE *f = fopen(to, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    free(buf);
}

/* Embeds the fixture's 3 images and one text with a fresh context; returns which towers came from
 * the cache (clip_device.cached). */
static int embed_cached(const char *model, const char *cache, const float *px, float *img, float *txt) {
    clip_params p = clip_default_params();
    p.threads = 2;
    p.dtype = CLIP_DTYPE_Q8;
    p.device = "cpu";
    p.cache_dir = cache;
    clip_ctx *c;
    cs_err e;
    cr_assert_eq(clip_load(model, &p, &c, &e), 0, "%s", e.msg);
    int32_t ids[5] = {49406, 320, 1929, 539, 49407};
    cr_assert_eq(clip_vision_forward(c, px, 3, 1, NULL, img, &e), 0, "%s", e.msg);
    cr_assert_eq(clip_text_forward(c, ids, NULL, 5, 1, NULL, txt, &e), 0, "%s", e.msg);
    clip_device d;
    clip_get_device(c, &d);
    clip_free(c);
    return d.cached;
}

static void flip_byte(const char *path, long off_from_end) {
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fseek(f, -off_from_end, SEEK_END), 0);
    int ch = fgetc(f);
    cr_assert_eq(fseek(f, -off_from_end, SEEK_END), 0);
    fputc(ch ^ 0x10, f);
    fclose(f);
}

static void flip_magic(const char *path, const char *magic) {
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(magic, 1, 8, f), 8);
    fclose(f);
}

Test(dtype, converted_weights_are_cached_once_and_a_bad_cache_is_rebuilt) {
    FIXTURE(src, TINY);
    FIXTURE(rp, TINY "/refs.safetensors");
    char tmp[] = "/tmp/clipseek-dtype-XXXXXX", model[200], cache[200], path[600];
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(model, sizeof model, "%s/model", tmp);
    snprintf(cache, sizeof cache, "%s/data/weights", tmp);
    cr_assert_eq(mkdir(model, 0700), 0);
    snprintf(path, sizeof path, "%s/data", tmp);
    cr_assert_eq(mkdir(path, 0700), 0);
    const char *files[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt", "preprocessor_config.json"};
    for (int i = 0; i < 5; i++) {
        char a[4200], b[400];
        snprintf(a, sizeof a, "%s/%s", src, files[i]);
        snprintf(b, sizeof b, "%s/%s", model, files[i]);
        copy_file(a, b);
    }
    st_set *refs;
    cr_assert_eq(st_open(rp, &refs, NULL), 0);
    float *px = load_ref(refs, "pixel_values", NULL);
    float img0[96], txt0[32], img[96], txt[32];

    /* first load: converted, then saved (0600 in a 0700 folder), one file per tower */
    cr_assert_eq(embed_cached(model, cache, px, img0, txt0), 0, "nothing can come from an empty cache");
    struct stat st;
    cr_assert_eq(stat(cache, &st), 0, "the cache folder was not made");
    cr_assert_eq(st.st_mode & 0777, 0700);
    char key[8192], vname[128], tname[128], vpath[400], tpath[400];
    cr_assert_eq(lpc_key(model, "vision", OPS_LP_Q8, key, sizeof key, vname, sizeof vname, NULL), 0);
    cr_assert_eq(lpc_key(model, "text", OPS_LP_Q8, key, sizeof key, tname, sizeof tname, NULL), 0);
    snprintf(vpath, sizeof vpath, "%s/%s", cache, vname);
    snprintf(tpath, sizeof tpath, "%s/%s", cache, tname);
    cr_assert_eq(stat(vpath, &st), 0, "no cache file %s", vpath);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(tpath, &st), 0, "no cache file %s", tpath);

    /* second load: both towers read back, the same embeddings bit for bit */
    cr_assert_eq(embed_cached(model, cache, px, img, txt), 3);
    cr_assert_eq(memcmp(img, img0, sizeof img), 0);
    cr_assert_eq(memcmp(txt, txt0, sizeof txt), 0);

    /* a flipped byte in the weights: the checksum catches it, the tower is converted again */
    flip_byte(vpath, 100);
    cr_assert_eq(embed_cached(model, cache, px, img, txt), 1, "a damaged vision cache was trusted");
    cr_assert_eq(memcmp(img, img0, sizeof img), 0);
    cr_assert_eq(embed_cached(model, cache, px, img, txt), 3, "the damaged file was not rewritten");

    /* a truncated file */
    cr_assert_eq(truncate(tpath, 1000), 0);
    cr_assert_eq(embed_cached(model, cache, px, img, txt), 2, "a truncated text cache was trusted");
    cr_assert_eq(memcmp(txt, txt0, sizeof txt), 0);

    /* the model's weights file changed (a new mtime): both are stale */
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000000, 0}};
    char wpath[400];
    snprintf(wpath, sizeof wpath, "%s/model.safetensors", model);
    cr_assert_eq(utimensat(AT_FDCWD, wpath, ts, 0), 0);
    cr_assert_eq(embed_cached(model, cache, px, img, txt), 0, "a stale cache was trusted");
    cr_assert_eq(embed_cached(model, cache, px, img, txt), 3);

    /* the first version of the file format (no per-weight layout): converted again, never misread,
     * even with an otherwise valid body */
    flip_magic(vpath, "CSLPW001");
    ops_lpw **got;
    cs_err le;
    int sh[1][2] = {{1, 1}};
    cr_assert_eq(lpc_load(vpath, "k", OPS_LP_Q8, (const int(*)[2])sh, 1, &got, &le), -1);
    cr_assert(strstr(le.msg, "older cache format"), "%s", le.msg);
    int got_c = embed_cached(model, cache, px, img, txt);
    cr_assert_eq(got_c, 1, "an old-format vision cache was read: %d", got_c);
    cr_assert_eq(memcmp(img, img0, sizeof img), 0);
    cr_assert_eq(embed_cached(model, cache, px, img, txt), 3, "the old-format file was not rewritten");

    /* garbage in place of the file */
    FILE *f = fopen(vpath, "wb");
    fputs("not a cache", f);
    fclose(f);
    cr_assert_eq(embed_cached(model, cache, px, img, txt), 1);
    cr_assert_eq(memcmp(img, img0, sizeof img), 0);

    free(px);
    st_close(refs);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

/* A save killed between mkstemp and rename leaves NAME.tmpXXXXXX: the next save of NAME removes
 * those an hour old (never read, each up to a tower's size), not a younger one (another process's
 * save in progress), and the cache itself is written and reads back. */
Test(dtype, a_save_removes_what_an_interrupted_save_left) {
    char dir[] = "/tmp/clipseek-lpc-XXXXXX", path[200], old[240], young[240], other[240];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/weights/m-text-q8.lpw", dir);
    snprintf(old, sizeof old, "%s.tmpAbC123", path);
    snprintf(young, sizeof young, "%s.tmpXyZ789", path);
    snprintf(other, sizeof other, "%s/weights/n-text-q8.lpw.tmpQqQqQq", dir);
    char wd[220];
    snprintf(wd, sizeof wd, "%s/weights", dir);
    cr_assert_eq(mkdir(wd, 0700), 0);
    const char *made[3] = {old, young, other};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(made[i], "wb");
        cr_assert_not_null(f);
        fputs("half a cache", f);
        fclose(f);
    }
    struct timespec ts[2] = {{0, UTIME_OMIT}, {time(NULL) - 7200, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, old, ts, 0), 0);
    cr_assert_eq(utimensat(AT_FDCWD, other, ts, 0), 0);
    float w[64 * 40];
    for (int i = 0; i < 64 * 40; i++) w[i] = (float)(i % 13) - 6.0f;
    ops_lpw *q = ops_lp_pack(NULL, w, 64, 40, OPS_LP_Q8);
    cr_assert_not_null(q);
    const ops_lpw *ws[1] = {q};
    cs_err e;
    cr_assert_eq(lpc_save(path, "key", ws, 1, &e), 0, "%s", e.msg);
    struct stat st;
    cr_assert_neq(stat(old, &st), 0, "an hour-old temporary file of this cache was left");
    cr_assert_eq(stat(young, &st), 0, "a save in progress (a young temporary file) was removed");
    cr_assert_eq(stat(other, &st), 0, "another cache's temporary file was removed");
    int shapes[1][2] = {{64, 40}};
    ops_lpw **back;
    cr_assert_eq(lpc_load(path, "key", OPS_LP_Q8, (const int(*)[2])shapes, 1, &back, &e), 0, "%s", e.msg);
    cr_assert_eq(memcmp(back[0]->data, q->data, q->bytes), 0);
    ops_lp_free(back[0]);
    free(back);
    ops_lp_free(q);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* One small Q8 cache for the model folder model (tower named tower), saved into <dir>/weights
 * under the key lpc_key gives; its path into path. */
static void save_for(const char *dir, const char *model, const char *tower, char *path, size_t pn) {
    char key[8192], name[128];
    cs_err e;
    cr_assert_eq(lpc_key(model, tower, OPS_LP_Q8, key, sizeof key, name, sizeof name, &e), 0, "%s", e.msg);
    snprintf(path, pn, "%s/weights/%s", dir, name);
    float w[32 * 32];
    for (int i = 0; i < 32 * 32; i++) w[i] = (float)(i % 7) - 3.0f;
    ops_lpw *q = ops_lp_pack(NULL, w, 32, 32, OPS_LP_Q8);
    const ops_lpw *ws[1] = {q};
    cr_assert_eq(lpc_save(path, key, ws, 1, &e), 0, "%s", e.msg);
    ops_lp_free(q);
}

static int exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* A save removes the cache files no load will read again: those of a model folder that is gone
 * (a '|' in its name included: the key's fields are split by '|'), of the first file format,
 * of an older converter; it keeps those of folders still there, and files it is not sure of. */
Test(dtype, a_save_removes_the_caches_of_models_that_are_gone) {
    char dir[] = "/tmp/clipseek-lpc-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char a[200], b[200], c[200], pa[400], pb[400], pc[400], p[1200];
    snprintf(a, sizeof a, "%s/model-a", dir);
    snprintf(b, sizeof b, "%s/model-b", dir);
    snprintf(c, sizeof c, "%s/model|c", dir);
    const char *models[] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(mkdir(models[i], 0700), 0);
        snprintf(p, sizeof p, "%s/config.json", models[i]);
        FILE *f = fopen(p, "w");
        fputs("{}", f);
        fclose(f);
    }
    save_for(dir, b, "text", pb, sizeof pb);
    save_for(dir, c, "text", pc, sizeof pc);
    /* the first format; an older converter's key for model-a; a .lpw that is not a cache; other files */
    char old[400], oldconv[400], junk[400], notes[400];
    snprintf(old, sizeof old, "%s/weights/0123456789abcdef-text-q8.lpw", dir);
    snprintf(p, sizeof p, "cp '%s' '%s'", pb, old);
    cr_assert_eq(system(p), 0);
    flip_magic(old, "CSLPW001");
    /* "ops_lp 3|" -> "ops_lp 2|" (older: never read again) and "ops_lp 9|" (a newer build's, next to
     * this one during an upgrade: kept); the key starts after the 40-byte header */
    char newconv[400];
    save_for(dir, a, "vision", oldconv, sizeof oldconv);
    snprintf(newconv, sizeof newconv, "%.*s-newer.lpw", (int)(strlen(oldconv) - 4), oldconv);
    snprintf(p, sizeof p, "cp '%s' '%s'", oldconv, newconv);
    cr_assert_eq(system(p), 0);
    const char *conv[] = {oldconv, newconv};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(conv[i], "r+b");
        cr_assert_not_null(f);
        fseek(f, 40 + 7, SEEK_SET);
        fputc(i ? '9' : '2', f);
        fclose(f);
    }
    snprintf(junk, sizeof junk, "%s/weights/fedcba9876543210-text-q8.lpw", dir);
    snprintf(notes, sizeof notes, "%s/weights/notes.txt", dir);
    const char *others[] = {junk, notes};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(others[i], "w");
        fputs("not a cache", f);
        fclose(f);
    }

    /* every folder still there: only the two that cannot be read go */
    save_for(dir, a, "text", pa, sizeof pa);
    cr_expect(exists(pa) && exists(pb) && exists(pc), "a cache of a folder that is there was removed");
    cr_expect(!exists(old), "a cache of the first format was kept");
    cr_expect(!exists(oldconv), "a cache of an older converter was kept");
    cr_expect(exists(newconv), "a cache of a newer converter was removed");
    cr_expect(exists(junk) && exists(notes), "a file that is no cache of ours was removed");

    /* model-b and model|c deleted: their caches go at the next save */
    snprintf(p, sizeof p, "rm -rf '%s' '%s'", b, c);
    cr_assert_eq(system(p), 0);
    save_for(dir, a, "text", pa, sizeof pa);
    cr_expect(!exists(pb), "the cache of a deleted model was kept");
    cr_expect(!exists(pc), "the cache of a deleted model with a '|' in its name was kept");
    cr_expect(exists(pa) && exists(junk) && exists(notes));
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    cr_assert_eq(system(p), 0);
}
