/* CLIP towers against Hugging Face transformers: tiny-clip-quickgelu-p32 reference outputs,
 * toyworld retrieval and embeddings, F16/BF16 and sharded checkpoints, the reference kernels, and
 * broken checkpoints (clear errors, no crash). */
#include <jansson.h>
#include <math.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/common/cs_proc.h"
#include "../src/model/clip.h"
#include "../src/model/ops.h"
#include "testutil.h"
#include "clip_checks.h"

Test(model, tiny_clip_matches_transformers) {
    FIXTURE(dir, TINY);
    FIXTURE(rp, TINY "/refs.safetensors");
    st_set *refs;
    cr_assert_eq(st_open(rp, &refs, NULL), 0);
    clip_ctx *c = load_model(dir, 0);
    check_tiny(c, refs, 1e-4f);
    clip_free(c);
    st_close(refs);
}

Test(model, reference_kernels_match_transformers_too) {
    FIXTURE(dir, TINY);
    FIXTURE(rp, TINY "/refs.safetensors");
    st_set *refs;
    cr_assert_eq(st_open(rp, &refs, NULL), 0);
    clip_ctx *c = load_model(dir, 1);
    check_tiny(c, refs, 1e-4f);
    clip_free(c);
    st_close(refs);
}

/* Without last_hidden, the towers run their last layer's out-projection and MLP on the pooled
 * rows alone (clip.c, encoder). The embeddings must be those of the full pass: texts of different
 * lengths in one batch (each pooled at its own end-of-text row) and a batch of images. */
Test(model, pooled_rows_only_pass_matches_full_pass) {
    FIXTURE(dir, TINY);
    clip_ctx *c = load_model(dir, 0);
    const clip_info *in = clip_get_info(c);
    int P = in->projection_dim, H = in->text.hidden, VH = in->vision.hidden, S = in->image_size;
    const char *texts[3] = {"a photo of a cat", "red", "the screenshot with the red error banner, taken yesterday"};
    int32_t *ids[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(clip_tokenize(c, texts[i], strlen(texts[i]), 77, &ids[i], &lens[i], NULL), 0);
    float batched[3 * 64], one[64], *last = malloc(77 * (size_t)H * sizeof *last);
    cr_assert_leq(P, 64);
    cr_assert_eq(clip_text_embed(c, (const int32_t *const *)ids, lens, 3, 0, batched, NULL), 0);
    for (int i = 0; i < 3; i++) {
        /* one text, pooled rows only against the full pass: the same kernels on the same rows */
        float pooled_one[64];
        cr_assert_eq(clip_text_forward(c, ids[i], NULL, (int)lens[i], 0, NULL, pooled_one, NULL), 0);
        cr_assert_eq(clip_text_forward(c, ids[i], NULL, (int)lens[i], 0, last, one, NULL), 0);
        cr_expect_leq(max_abs_diff(pooled_one, one, P), 1e-6f, "text %d: %g", i, max_abs_diff(pooled_one, one, P));
        /* in a batch (where the product may take another BLAS path: rounding only) */
        cr_expect_leq(max_abs_diff(batched + i * P, one, P), 1e-5f, "text %d in a batch: %g", i,
                      max_abs_diff(batched + i * P, one, P));
        free(ids[i]);
    }
    size_t npx = (size_t)3 * 3 * S * S;
    float *px = malloc(npx * sizeof *px), pooled[3 * 64], full[3 * 64];
    float *vlast = malloc((size_t)3 * ((S / in->patch_size) * (S / in->patch_size) + 1) * VH * sizeof *vlast);
    for (size_t i = 0; i < npx; i++) px[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    cr_assert_eq(clip_vision_forward(c, px, 3, 0, NULL, pooled, NULL), 0);
    cr_assert_eq(clip_vision_forward(c, px, 3, 0, vlast, full, NULL), 0);
    cr_expect_leq(max_abs_diff(pooled, full, 3 * (size_t)P), 1e-6f, "images");
    free(last);
    free(px);
    free(vlast);
    clip_free(c);
}

/* The BLAS path against the plain loops: one large product, and short ones (a text query's
 * rows), which two threads split by their measured speeds, several times so the split moves. */
Test(model, fast_linear_matches_reference) {
    const int shapes[][3] = {{37, 65, 129}, {8, 300, 129}, {1, 1000, 64}, {16, 130, 200}, {5, 2048, 512}};
    for (int th = 1; th <= 2; th++) {
        ops_ctx *o = ops_ctx_new(th);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int rep = 0; rep < 3; rep++) {
                int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
                float *x = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4), *b = malloc((size_t)n * 4),
                      *y1 = malloc((size_t)m * n * 4), *y2 = malloc((size_t)m * n * 4);
                for (int i = 0; i < m * k; i++) x[i] = sinf(i * 0.37f + rep);
                for (int i = 0; i < n * k; i++) w[i] = cosf(i * 0.11f) * 0.1f;
                for (int i = 0; i < n; i++) b[i] = i * 0.01f;
                ops_linear(o, x, w, b, y1, m, n, k);
                ops_linear_ref(x, w, b, y2, m, n, k);
                cr_assert_leq(max_abs_diff(y1, y2, (size_t)m * n), 1e-5f * (float)k, "%dx%dx%d threads %d", m, n, k, th);
                free(x); free(w); free(b); free(y1); free(y2);
            }
        ops_ctx_free(o);
    }
}

/* The packed path against the reference linear + bias/activation/residual, on shapes that cut
 * every block edge: rows not a multiple of MR, columns not a multiple of NR, K over two KC blocks;
 * one and two threads. */
Test(model, packed_linear_matches_reference) {
    if (!ops_pack_available()) {
        cr_skip_test("this build has no packed path (BLAS without BLIS)");
        return;
    }
    const int shapes[][3] = {{1, 1, 1}, {7, 17, 3}, {50, 96, 64}, {61, 33, 600}, {400, 48, 257}};
    for (int th = 1; th <= 2; th++) {
        ops_ctx *o = ops_ctx_new(th);
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
            float *x = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4), *b = malloc((size_t)n * 4);
            float *y = malloc((size_t)m * n * 4), *r = malloc((size_t)m * n * 4), *res = malloc((size_t)m * n * 4),
                  *res2 = malloc((size_t)m * n * 4);
            float *scr = malloc(ops_linear_packed_scratch(m, k) * 4);
            for (int i = 0; i < m * k; i++) x[i] = sinf(i * 0.37f);
            for (int i = 0; i < n * k; i++) w[i] = cosf(i * 0.11f) * 0.1f;
            for (int i = 0; i < n; i++) b[i] = i * 0.01f - 0.2f;
            ops_packed *pw = ops_pack(o, w, n, k);
            cr_assert_not_null(pw);
            float tol = 1e-5f * (float)k;
            /* plain product, bias, and each activation */
            for (int act = OPS_ACT_QUICK_GELU; act <= OPS_ACT_NONE; act++) {
                const float *bb = act == OPS_ACT_NONE && si % 2 ? NULL : b;
                ops_linear_packed(o, x, pw, bb, act, y, NULL, m, scr);
                ops_linear_ref(x, w, bb, r, m, n, k);
                if (act != OPS_ACT_NONE) ops_act_ref(r, (size_t)m * n, act);
                cr_assert_leq(max_abs_diff(y, r, (size_t)m * n), tol, "%dx%dx%d act %d threads %d", m, n, k, act, th);
            }
            /* residual: res += x w^T + b, accumulated in place (y is not used) */
            for (int i = 0; i < m * n; i++) res[i] = res2[i] = cosf(i * 0.7f);
            ops_linear_packed(o, x, pw, si % 2 ? NULL : b, OPS_ACT_NONE, NULL, res, m, scr);
            ops_linear_ref(x, w, NULL, r, m, n, k);
            ops_residual(o, res2, r, si % 2 ? NULL : b, m, n);
            cr_assert_leq(max_abs_diff(res, res2, (size_t)m * n), tol, "%dx%dx%d residual", m, n, k);
            ops_packed_free(pw);
            free(x); free(w); free(b); free(y); free(r); free(res); free(res2); free(scr);
        }
        ops_ctx_free(o);
    }
}

Test(model, fast_activation_matches_libm) {
    ops_ctx *o = ops_ctx_new(2);
    size_t n = 200001;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    for (int act = OPS_ACT_QUICK_GELU; act <= OPS_ACT_RELU; act++) {
        for (size_t i = 0; i < n; i++) a[i] = b[i] = -100.0f + 200.0f * (float)i / (float)(n - 1);
        ops_act(o, a, n, act);
        ops_act_ref(b, n, act);
        for (size_t i = 0; i < n; i++)
            cr_assert_leq(fabsf(a[i] - b[i]), 1e-6f * (1.0f + fabsf(b[i])), "act %d at x=%g: %g vs %g", act,
                          -100.0f + 200.0f * (float)i / (float)(n - 1), a[i], b[i]);
    }
    free(a);
    free(b);
    ops_ctx_free(o);
}

/* The residual add and layer norm in one pass: bit for bit the two separate steps, for row counts
 * on both sides of the parallel threshold, with and without a bias. */
Test(model, fused_residual_layernorm_matches_two_steps) {
    ops_ctx *o = ops_ctx_new(2);
    int ms[3] = {1, 17, 203}, n = 771;
    for (int mi = 0; mi < 3; mi++)
        for (int hasb = 0; hasb < 2; hasb++) {
            int m = ms[mi];
            size_t sz = (size_t)m * n;
            float *x1 = malloc(sz * 4), *x2 = malloc(sz * 4), *y = malloc(sz * 4), *h1 = malloc(sz * 4),
                  *h2 = malloc(sz * 4), *b = malloc((size_t)n * 4), *g = malloc((size_t)n * 4),
                  *be = malloc((size_t)n * 4);
            for (size_t i = 0; i < sz; i++) {
                x1[i] = x2[i] = sinf((float)i * 0.37f) * 5.0f + 1.0f;
                y[i] = cosf((float)i * 0.11f) * 3.0f;
            }
            for (int j = 0; j < n; j++) {
                b[j] = 0.01f * (float)(j % 13);
                g[j] = 1.0f + 0.001f * (float)j;
                be[j] = -0.002f * (float)(j % 7);
            }
            ops_residual_layernorm(o, x1, y, hasb ? b : NULL, g, be, h1, m, n, 1e-5f);
            ops_residual(o, x2, y, hasb ? b : NULL, m, n);
            ops_layernorm_ref(x2, g, be, h2, m, n, 1e-5f);
            cr_assert(!memcmp(x1, x2, sz * 4), "residual stream, m %d bias %d", m, hasb);
            cr_assert(!memcmp(h1, h2, sz * 4), "layer norm, m %d bias %d", m, hasb);
            free(x1); free(x2); free(y); free(h1); free(h2); free(b); free(g); free(be);
        }
    ops_ctx_free(o);
}

/* The fast bias + activation (rows in parallel) against the reference, bit for bit for the
 * activations that use libm in both, the bias alone (OPS_ACT_NONE) against a plain loop, and
 * quick_gelu (exp_poly) within 1e-6 relative. */
Test(model, fast_bias_act_matches_reference) {
    ops_ctx *o = ops_ctx_new(2);
    int m = 150, n = 600; /* above the parallel threshold */
    size_t sz = (size_t)m * n;
    float *a = malloc(sz * 4), *r = malloc(sz * 4), *b = malloc((size_t)n * 4);
    for (int j = 0; j < n; j++) b[j] = 0.5f * sinf((float)j);
    int acts[4] = {OPS_ACT_GELU, OPS_ACT_GELU_TANH, OPS_ACT_RELU, OPS_ACT_NONE};
    for (int ai = 0; ai < 4; ai++) {
        for (size_t i = 0; i < sz; i++) a[i] = r[i] = 4.0f * sinf((float)i * 0.013f);
        ops_bias_act(o, a, b, m, n, acts[ai]);
        if (acts[ai] == OPS_ACT_NONE)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) r[(size_t)i * n + j] += b[j];
        else
            ops_bias_act_ref(r, b, m, n, acts[ai]);
        cr_assert(!memcmp(a, r, sz * 4), "act %d", acts[ai]);
    }
    /* quick_gelu: exp_poly (AVX-512 where built, a masked tail: 600 = 37 x 16 + 8) against libm */
    for (size_t i = 0; i < sz; i++) a[i] = r[i] = 12.0f * sinf((float)i * 0.013f);
    ops_bias_act(o, a, b, m, n, OPS_ACT_QUICK_GELU);
    ops_bias_act_ref(r, b, m, n, OPS_ACT_QUICK_GELU);
    for (size_t i = 0; i < sz; i++)
        cr_assert_leq(fabsf(a[i] - r[i]), 1e-6f * (1.0f + fabsf(r[i])), "quick_gelu at %zu: %g vs %g", i, a[i], r[i]);
    free(a); free(r); free(b);
    ops_ctx_free(o);
}

Test(model, fast_attention_matches_reference) {
    ops_ctx *o = ops_ctx_new(2);
    int n = 77, heads = 8, hd = 64, ld = 3 * heads * hd, ldo = heads * hd;
    float *qkv = malloc((size_t)n * ld * 4), *o1 = malloc((size_t)n * ldo * 4), *o2 = malloc((size_t)n * ldo * 4);
    float *scr = malloc(ops_attention_scratch(o, n, hd) * 4);
    int mask[77];
    for (int i = 0; i < n * ld; i++) qkv[i] = sinf(i * 0.013f) * 2.0f;
    for (int i = 0; i < n; i++) mask[i] = i < 60;
    for (int causal = 0; causal < 2; causal++)
        for (int m = 0; m < 2; m++) {
            ops_attention(o, qkv, qkv + ldo, qkv + 2 * ldo, ld, o1, ldo, n, heads, hd, causal, m ? mask : NULL, scr);
            ops_attention_ref(qkv, qkv + ldo, qkv + 2 * ldo, ld, o2, ldo, n, heads, hd, causal, m ? mask : NULL);
            cr_assert_leq(max_abs_diff(o1, o2, (size_t)n * ldo), 1e-5f, "causal %d mask %d", causal, m);
        }
    free(qkv); free(o1); free(o2); free(scr);
    ops_ctx_free(o);
}

/* Sequences of different lengths stacked, as the towers batch them, against the reference run
 * sequence by sequence. */
Test(model, batched_attention_matches_reference) {
    ops_ctx *o = ops_ctx_new(2);
    int heads = 4, hd = 40, ld = 3 * heads * hd, ldo = heads * hd, lens[3] = {5, 50, 17}, offs[3] = {0, 5, 55}, T = 72;
    float *qkv = malloc((size_t)T * ld * 4), *o1 = malloc((size_t)T * ldo * 4), *o2 = malloc((size_t)T * ldo * 4);
    float *scr = malloc(ops_attention_scratch(o, 50, hd) * 4);
    int mask[72];
    for (int i = 0; i < T * ld; i++) qkv[i] = sinf(i * 0.017f) * 3.0f;
    for (int i = 0; i < T; i++) mask[i] = i % 7 != 3;
    for (int causal = 0; causal < 2; causal++) {
        ops_attention_batch(o, qkv, qkv + ldo, qkv + 2 * ldo, ld, o1, ldo, offs, lens, 3, heads, hd, causal, mask, scr);
        for (int s = 0; s < 3; s++) {
            const float *q = qkv + (size_t)offs[s] * ld;
            ops_attention_ref(q, q + ldo, q + 2 * ldo, ld, o2 + (size_t)offs[s] * ldo, ldo, lens[s], heads, hd, causal,
                              mask + offs[s]);
        }
        cr_assert_leq(max_abs_diff(o1, o2, (size_t)T * ldo), 1e-5f, "causal %d", causal);
    }
    free(qkv); free(o1); free(o2); free(scr);
    ops_ctx_free(o);
}

/* The AVX-512 kernel (ops_attention_batch's choice for head sizes that are multiples of 16, when the
 * build has AVX-512) against the reference sequence by sequence: head sizes that fill 4, 2 and 5
 * registers of P V (64, 32, 80), sequences shorter than a query block, one past a 64-key block, a
 * sequence with every key masked (zeros), causal and masked. */
Test(model, avx512_attention_matches_reference) {
    if (!ops_attention_avx512_ok(64)) {
        cr_skip_test("this build has no AVX-512 attention");
        return;
    }
    ops_ctx *o = ops_ctx_new(2);
    int hds[3] = {64, 32, 80}, lens[4] = {5, 50, 77, 3}, offs[4] = {0, 5, 55, 132}, T = 135, heads = 3;
    for (int hi = 0; hi < 3; hi++) {
        int hd = hds[hi], ld = 3 * heads * hd, ldo = heads * hd;
        cr_assert(ops_attention_avx512_ok(hd));
        float *qkv = malloc((size_t)T * ld * 4), *o1 = malloc((size_t)T * ldo * 4), *o2 = malloc((size_t)T * ldo * 4);
        float *scr = malloc(ops_attention_scratch(o, 77, hd) * 4);
        int mask[135];
        for (int i = 0; i < T * ld; i++) qkv[i] = sinf(i * 0.017f) * 3.0f;
        for (int i = 0; i < T; i++) mask[i] = i >= 132 ? 0 : i % 7 != 3; /* the last sequence: all masked */
        for (int causal = 0; causal < 2; causal++)
            for (int masked = 0; masked < 2; masked++) {
                memset(o1, 0xff, (size_t)T * ldo * 4); /* NaN: every output must be written */
                ops_attention_avx512(o, qkv, qkv + ldo, qkv + 2 * ldo, ld, o1, ldo, offs, lens, 4, heads, hd, causal,
                                     masked ? mask : NULL, scr);
                for (int s = 0; s < 4; s++) {
                    const float *q = qkv + (size_t)offs[s] * ld;
                    ops_attention_ref(q, q + ldo, q + 2 * ldo, ld, o2 + (size_t)offs[s] * ldo, ldo, lens[s], heads, hd,
                                      causal, masked ? mask + offs[s] : NULL);
                }
                for (size_t i = 0; i < (size_t)T * ldo; i++)
                    cr_assert_leq(fabsf(o1[i] - o2[i]), 1e-5f, "hd %d causal %d masked %d at %zu: %g vs %g", hd, causal,
                                  masked, i, o1[i], o2[i]);
            }
        free(qkv); free(o1); free(o2); free(scr);
    }
    ops_ctx_free(o);
}

/* ---- toyworld: retrieval and HF embeddings ---- */

/* One query row per sequence (the pooled last layer) against the reference's row for it. */
Test(model, attention_rows_match_reference) {
    ops_ctx *o = ops_ctx_new(2);
    int heads = 4, hd = 40, ld = 3 * heads * hd, ldo = heads * hd, lens[3] = {5, 50, 17}, offs[3] = {0, 5, 55}, T = 72;
    int qpos[3] = {4, 0, 9};
    float *qkv = malloc((size_t)T * ld * 4), *full = malloc((size_t)T * ldo * 4), *rows = malloc(3 * (size_t)ldo * 4);
    float *q = malloc(3 * (size_t)ldo * 4), *scr = malloc(ops_attention_scratch(o, 50, hd) * 4);
    int mask[72];
    for (int i = 0; i < T * ld; i++) qkv[i] = sinf(i * 0.017f) * 3.0f;
    for (int i = 0; i < T; i++) mask[i] = i % 7 != 3;
    for (int s = 0; s < 3; s++) memcpy(q + (size_t)s * ldo, qkv + (size_t)(offs[s] + qpos[s]) * ld, (size_t)ldo * 4);
    for (int causal = 0; causal < 2; causal++)
        for (int masked = 0; masked < 2; masked++) {
            for (int s = 0; s < 3; s++) {
                const float *b = qkv + (size_t)offs[s] * ld;
                ops_attention_ref(b, b + ldo, b + 2 * ldo, ld, full + (size_t)offs[s] * ldo, ldo, lens[s], heads, hd,
                                  causal, masked ? mask + offs[s] : NULL);
            }
            ops_attention_rows(o, q, ldo, qpos, qkv + ldo, qkv + 2 * ldo, ld, rows, ldo, offs, lens, 3, heads, hd, causal,
                               masked ? mask : NULL, scr);
            for (int s = 0; s < 3; s++)
                cr_assert_leq(max_abs_diff(rows + (size_t)s * ldo, full + (size_t)(offs[s] + qpos[s]) * ldo, ldo), 1e-5f,
                              "sequence %d causal %d masked %d", s, causal, masked);
        }
    free(qkv); free(full); free(rows); free(q); free(scr);
    ops_ctx_free(o);
}

/* A column range of a packed product: those columns as the whole product has them, nothing at or
 * past c1 written, nothing before c0 rounded down to a panel. */
Test(model, packed_column_range_matches_whole_product) {
    if (!ops_pack_available()) {
        cr_skip_test("this build has no packed path (BLAS without BLIS)");
        return;
    }
    const int m = 13, n = 100, k = 70, ranges[][2] = {{0, 100}, {0, 37}, {37, 100}, {48, 64}, {50, 51}, {99, 100}};
    float *x = malloc((size_t)m * k * 4), *w = malloc((size_t)n * k * 4), *b = malloc((size_t)n * 4);
    float *whole = malloc((size_t)m * n * 4), *part = malloc((size_t)m * n * 4), *scr = malloc(ops_linear_packed_scratch(m, k) * 4);
    for (int i = 0; i < m * k; i++) x[i] = sinf(i * 0.37f);
    for (int i = 0; i < n * k; i++) w[i] = cosf(i * 0.11f) * 0.1f;
    for (int i = 0; i < n; i++) b[i] = i * 0.01f - 0.2f;
    ops_ctx *o = ops_ctx_new(1);
    ops_packed *pw = ops_pack(o, w, n, k);
    cr_assert_not_null(pw);
    for (int th = 1; th <= 2; th++) {
        ops_ctx_free(o);
        o = ops_ctx_new(th);
        ops_linear_packed(o, x, pw, b, OPS_ACT_QUICK_GELU, whole, NULL, m, scr);
        for (size_t ri = 0; ri < sizeof ranges / sizeof ranges[0]; ri++) {
            int c0 = ranges[ri][0], c1 = ranges[ri][1];
            for (int i = 0; i < m * n; i++) part[i] = 12345.0f;
            ops_linear_packed_cols(o, x, pw, b, OPS_ACT_QUICK_GELU, part, NULL, m, c0, c1, scr);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    float got = part[i * n + j];
                    if (j >= c0 && j < c1)
                        cr_assert_eq(got, whole[i * n + j], "[%d, %d) row %d col %d", c0, c1, i, j);
                    else if (j >= c1 || j < c0 - 64) /* panels are at most 64 wide (pk_init) */
                        cr_assert_eq(got, 12345.0f, "[%d, %d) wrote row %d col %d", c0, c1, i, j);
                }
        }
    }
    ops_ctx_free(o);
    ops_packed_free(pw);
    free(x); free(w); free(b); free(whole); free(part); free(scr);
}

Test(model, toyworld_each_query_finds_its_image) {
    FIXTURE(dir, "toyworld-clip");
    FIXTURE(q, "toyworld-eval/queries.json");
    FIXTURE(he, "toyworld-eval/hf-embeds.safetensors");
    clip_ctx *c = load_model(dir, 0);
    check_toyworld(c, q, he);
    clip_free(c);
}

/* ---- writing modified checkpoints ---- */

typedef struct { const char *name; st_dtype dt; int ndim; int64_t shape[8]; const void *data; size_t nbytes; } wtensor;

static void write_safetensors(const char *path, const wtensor *t, size_t n) {
    json_t *h = json_object();
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object(), *sh = json_array();
        json_object_set_new(o, "dtype", json_string(st_dtype_name(t[i].dt)));
        for (int d = 0; d < t[i].ndim; d++) json_array_append_new(sh, json_integer(t[i].shape[d]));
        json_object_set_new(o, "shape", sh);
        json_t *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + t[i].nbytes)));
        json_object_set_new(o, "data_offsets", offs);
        json_object_set_new(h, t[i].name, o);
        off += t[i].nbytes;
    }
    char *hs = json_dumps(h, JSON_COMPACT);
    size_t hl = strlen(hs), pad = (8 - hl % 8) % 8;
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint64_t L = hl + pad;
    fwrite(&L, 8, 1, f);
    fwrite(hs, 1, hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    for (size_t i = 0; i < n; i++) fwrite(t[i].data, 1, t[i].nbytes, f);
    fclose(f);
    free(hs);
    json_decref(h);
}

static uint16_t to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t man = x & 0x7fffff;
    if (exp <= 0) return (uint16_t)sign; /* tiny weights flush to zero: fine for this test */
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    uint32_t h = sign | (uint32_t)exp << 10 | man >> 13;
    if ((man >> 12) & 1) h++; /* round half up */
    return (uint16_t)h;
}

/* Makes dir/ a copy of the tiny model with weights converted to dt (F32 = unchanged), optionally
 * sharded into two files with an index. Small files are linked, not copied. */
static void make_variant(const char *src, const char *dir, st_dtype dt, int shards) {
    const char *links[] = {"config.json", "vocab.json", "merges.txt", "preprocessor_config.json"};
    char abs[4096];
    cr_assert_not_null(realpath(src, abs));
    for (size_t i = 0; i < 4; i++) {
        char a[4200], b[4200];
        snprintf(a, sizeof a, "%s/%s", abs, links[i]);
        snprintf(b, sizeof b, "%s/%s", dir, links[i]);
        cr_assert_eq(symlink(a, b), 0);
    }
    char mp[4200];
    snprintf(mp, sizeof mp, "%s/model.safetensors", src);
    st_set *s;
    cr_assert_eq(st_open(mp, &s, NULL), 0);
    size_t n = st_count(s);
    wtensor *w = calloc(n, sizeof *w);
    void **bufs = calloc(n, sizeof *bufs);
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = st_at(s, i);
        w[i].name = t->name;
        w[i].ndim = t->ndim;
        memcpy(w[i].shape, t->shape, sizeof t->shape);
        w[i].dt = dt;
        if (dt == ST_F32) { w[i].data = t->data; w[i].nbytes = t->nbytes; continue; }
        float *f = malloc((size_t)t->numel * 4);
        uint16_t *h = malloc((size_t)t->numel * 2);
        st_to_f32(t, f);
        for (int64_t k = 0; k < t->numel; k++) {
            uint32_t x;
            memcpy(&x, &f[k], 4);
            h[k] = dt == ST_F16 ? to_f16(f[k]) : (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
        }
        free(f);
        bufs[i] = h;
        w[i].data = h;
        w[i].nbytes = (size_t)t->numel * 2;
    }
    char out[4200];
    if (!shards) {
        snprintf(out, sizeof out, "%s/model.safetensors", dir);
        write_safetensors(out, w, n);
    } else {
        size_t half = n / 2;
        snprintf(out, sizeof out, "%s/model-00001-of-00002.safetensors", dir);
        write_safetensors(out, w, half);
        snprintf(out, sizeof out, "%s/model-00002-of-00002.safetensors", dir);
        write_safetensors(out, w + half, n - half);
        json_t *idx = json_object(), *wm = json_object();
        for (size_t i = 0; i < n; i++)
            json_object_set_new(wm, w[i].name, json_string(i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"));
        json_object_set_new(idx, "weight_map", wm);
        snprintf(out, sizeof out, "%s/model.safetensors.index.json", dir);
        cr_assert_eq(json_dump_file(idx, out, 0), 0);
        json_decref(idx);
    }
    for (size_t i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(w);
    st_close(s);
}

static void embed_pair(clip_ctx *c, st_set *refs, float *t, float *im) {
    int32_t ids[77];
    int64_t n;
    float *sid = load_ref(refs, "single_text_ids", &n), *px = load_ref(refs, "pixel_values", NULL);
    for (int i = 0; i < n; i++) ids[i] = (int32_t)sid[i];
    cr_assert_eq(clip_text_forward(c, ids, NULL, (int)n, 1, NULL, t, NULL), 0);
    cr_assert_eq(clip_vision_forward(c, px, 1, 1, NULL, im, NULL), 0);
    free(sid);
    free(px);
}

static float cosine(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

Test(model, f16_bf16_and_sharded_checkpoints) {
    FIXTURE(src, TINY);
    FIXTURE(rp, TINY "/refs.safetensors");
    st_set *refs;
    cr_assert_eq(st_open(rp, &refs, NULL), 0);
    clip_ctx *base = load_model(src, 0);
    float t0[32], i0[32], t1[32], i1[32];
    embed_pair(base, refs, t0, i0);
    clip_free(base);
    struct { st_dtype dt; int shards; float min_cos; const char *name; } v[] = {
        {ST_F32, 1, 0.999999f, "F32 sharded"}, {ST_F16, 0, 0.999f, "F16"}, {ST_BF16, 1, 0.99f, "BF16 sharded"}};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        char dir[64];
        make_tmpdir(dir, sizeof dir);
        make_variant(src, dir, v[k].dt, v[k].shards);
        clip_ctx *c = load_model(dir, 0);
        cr_assert_str_eq(clip_get_info(c)->dtype, v[k].dt == ST_F32 ? "F32" : st_dtype_name(v[k].dt));
        embed_pair(c, refs, t1, i1);
        float ct = cosine(t0, t1, 32), ci = cosine(i0, i1, 32);
        cr_log_info("%s: text cosine %.7f, image cosine %.7f", v[k].name, ct, ci);
        cr_expect_geq(ct, v[k].min_cos, "%s text cosine %.7f", v[k].name, ct);
        cr_expect_geq(ci, v[k].min_cos, "%s image cosine %.7f", v[k].name, ci);
        clip_free(c);
        rm_rf(dir);
    }
    st_close(refs);
}

Test(model, text_use_leaves_vision_weights_unread) {
    FIXTURE(src, TINY);
    clip_ctx *c = load_model(src, 0);
    uint64_t r0 = clip_resident_bytes(c);
    float t[32];
    cs_err e;
    const char *txt = "a photo of a cat";
    cr_assert_eq(clip_texts_embed(c, &txt, 1, 1, t, &e), 0, "%s", e.msg);
    uint64_t r1 = clip_resident_bytes(c);
    float *px = calloc(3 * 224 * 224, sizeof *px), im[32];
    cr_assert_eq(clip_vision_forward(c, px, 1, 1, NULL, im, NULL), 0);
    uint64_t r2 = clip_resident_bytes(c);
    const clip_info *in = clip_get_info(c);
    cr_log_info("resident: load %llu, after text %llu, after vision %llu bytes (vision weights %llu)",
                (unsigned long long)r0, (unsigned long long)r1, (unsigned long long)r2,
                (unsigned long long)in->vision_params * 4);
    /* the text pass reads its layers and 6 token rows, not the 12.6 MB embedding table or vision */
    cr_expect_lt(r1, 1u << 20, "text-only use made %llu bytes resident", (unsigned long long)r1);
    cr_expect_gt(r2, r1 + in->vision_params * 4 / 2, "the vision pass should read the vision weights");
    free(px);
    clip_free(c);
}

/* ---- broken checkpoints ---- */

static void expect_load_error(const char *dir, const char *needle) {
    clip_ctx *c = NULL;
    cs_err e = {0};
    int rc = clip_load(dir, NULL, &c, &e);
    cr_expect_lt(rc, 0, "loading %s should fail", dir);
    cr_expect(strstr(e.msg, needle) != NULL, "message '%s' should mention '%s'", e.msg, needle);
    clip_free(c);
}

Test(model, broken_checkpoints_give_clear_errors) {
    FIXTURE(src, TINY);
    char dir[64], p[200];
    make_tmpdir(dir, sizeof dir);
    make_variant(src, dir, ST_F32, 0);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    size_t len;
    unsigned char *good = read_all(p, &len);
    /* truncated data */
    write_file(p, good, len - 100);
    expect_load_error(dir, "truncated");
    /* truncated inside the header / length prefix */
    write_file(p, good, 100);
    expect_load_error(dir, "truncated");
    write_file(p, good, 5);
    expect_load_error(dir, "truncated");
    /* header length pointing past the end */
    unsigned char *bad = malloc(len);
    memcpy(bad, good, len);
    bad[6] = 0x7f;
    write_file(p, bad, len);
    expect_load_error(dir, "header length");
    /* garbage JSON in the header */
    memcpy(bad, good, len);
    bad[8] = '!';
    write_file(p, bad, len);
    expect_load_error(dir, "not valid JSON");
    /* an out-of-range offset: replace a digit run in data_offsets */
    memcpy(bad, good, len);
    char *hdr = (char *)bad + 8, *at = strstr(hdr, "\"data_offsets\":[0,");
    cr_assert_not_null(at);
    memcpy(at + 16, "9999", 4);
    write_file(p, bad, len);
    expect_load_error(dir, "model.safetensors");
    /* a misshapen tensor and a missing one: rewrite the header */
    st_set *s;
    write_file(p, good, len);
    cr_assert_eq(st_open(p, &s, NULL), 0);
    size_t n = st_count(s);
    wtensor *w = calloc(n, sizeof *w);
    for (size_t i = 0; i < n; i++) {
        const st_tensor *t = st_at(s, i);
        w[i] = (wtensor){t->name, t->dtype, t->ndim, {0}, t->data, t->nbytes};
        memcpy(w[i].shape, t->shape, sizeof t->shape);
    }
    char p2[200];
    snprintf(p2, sizeof p2, "%s/x.safetensors", dir);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w[i].name, "text_model.encoder.layers.1.mlp.fc1.weight")) { w[i].shape[0] = 64; w[i].shape[1] = 128; }
    write_safetensors(p2, w, n);
    rename(p2, p);
    expect_load_error(dir, "text_model.encoder.layers.1.mlp.fc1.weight");
    expect_load_error(dir, "expected");
    for (size_t i = 0; i < n; i++)
        if (!strcmp(w[i].name, "text_model.encoder.layers.1.mlp.fc1.weight")) { w[i].shape[0] = 128; w[i].shape[1] = 64; }
    size_t k = 0; /* drop one required tensor */
    for (size_t i = 0; i < n; i++)
        if (strcmp(w[i].name, "vision_model.post_layernorm.bias")) w[k++] = w[i];
    cr_assert_eq(k, n - 1);
    write_safetensors(p2, w, k);
    rename(p2, p);
    st_close(s);
    expect_load_error(dir, "'vision_model.post_layernorm.bias' is missing");
    free(w);
    /* bad config */
    write_file(p, good, len);
    char cfg[200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    unlink(cfg);
    write_file(cfg, "{\"text_config\": [1,2", 20);
    expect_load_error(dir, "config.json");
    unlink(cfg);
    write_file(cfg, "{\"text_config\": {\"hidden_size\": 63, \"num_attention_heads\": 4}}", 62);
    expect_load_error(dir, "not divisible");
    unlink(cfg);
    write_file(cfg, "{\"vision_config\": {\"hidden_act\": \"swish\"}}", 42);
    expect_load_error(dir, "swish");
    unlink(cfg);
    write_file(cfg, "{\"text_config\": {\"hidden_size\": -5}}", 36);
    expect_load_error(dir, "hidden_size");
    /* a missing folder */
    expect_load_error("/nonexistent/model", "/nonexistent/model");
    free(good);
    free(bad);
    rm_rf(dir);
}

Test(model, bad_inputs_to_towers) {
    FIXTURE(src, TINY);
    clip_ctx *c = load_model(src, 0);
    cs_err e;
    int32_t ids[100];
    for (int i = 0; i < 100; i++) ids[i] = 320;
    float out[32];
    cr_assert_lt(clip_text_forward(c, ids, NULL, 78, 1, NULL, out, &e), 0);
    cr_assert(strstr(e.msg, "tokens"), "%s", e.msg);
    cr_assert_lt(clip_text_forward(c, ids, NULL, 0, 1, NULL, out, &e), 0);
    ids[3] = 49408;
    cr_assert_lt(clip_text_forward(c, ids, NULL, 5, 1, NULL, out, &e), 0);
    cr_assert(strstr(e.msg, "outside the vocabulary"), "%s", e.msg);
    ids[3] = -1;
    cr_assert_lt(clip_text_forward(c, ids, NULL, 5, 1, NULL, out, &e), 0);
    /* no EOS at all: HF pools at position 0; no crash */
    ids[3] = 320;
    cr_assert_eq(clip_text_forward(c, ids, NULL, 5, 1, NULL, out, &e), 0);
    clip_free(c);
}

/* The threads a run may use (cs_proc_cpus_free, be_fit_threads): with every online CPU taken by
 * other processes, one; never more than asked, never fewer than one; and a context's threads stay
 * within what it was made for. */
Test(model, a_run_uses_only_the_cpus_that_are_free) {
    cr_expect_eq(cs_proc_cpus_free(1), 1);
    cr_expect_eq(cs_proc_cpus_free(0), 1);
    int k = cs_proc_cpus_free(64);
    cr_expect(k >= 1 && k <= 64, "%d", k);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert(online >= 1 && online <= 256);
    pid_t hogs[256];
    for (long i = 0; i < online; i++) {
        hogs[i] = fork();
        cr_assert_geq(hogs[i], 0);
        if (hogs[i] == 0) {
            alarm(30); /* never outlives a test that failed to end it */
            for (volatile unsigned long x = 0;; x++) {}
        }
    }
    /* evidence, not a sleep: the kernel's count of running tasks takes the hogs in at once */
    int got = 0;
    for (int t = 0; t < 500 && (got = cs_proc_cpus_free(2)) != 1; t++) usleep(10000);
    for (long i = 0; i < online; i++) kill(hogs[i], SIGKILL);
    for (long i = 0; i < online; i++) waitpid(hogs[i], NULL, 0);
    cr_expect_eq(got, 1, "every CPU taken by another process, yet %d threads", got);
    ops_ctx *o = ops_ctx_new(4);
    ops_ctx_set_threads(o, 9);
    cr_expect_eq(ops_ctx_threads(o), 4);
    ops_ctx_set_threads(o, 0);
    cr_expect_eq(ops_ctx_threads(o), 1);
    ops_ctx_set_threads(o, 3);
    cr_expect_eq(ops_ctx_threads(o), 3);
    cr_expect_eq(ops_ctx_max_threads(o), 4);
    ops_ctx_free(o);
}
