/* The Vulkan backend against the CPU reference: each operation on odd shapes, the towers against
 * transformers (tiny-clip-quickgelu-p32 within 2e-3 with F16 weights, 1e-4 with F32; toyworld
 * 48/48 with cosine >= 0.9999), the fallback shader paths, and falling back to the CPU.
 *
 * Device: Mesa's lavapipe (Vulkan on the CPU, in every CI run): VK_ICD_FILENAMES is pointed at its
 * ICD file, so it is device vulkan:0. CLIPSEEK_TEST_VK_DEVICE=vulkan:N runs the same tests on
 * another device as the machine's loader lists it (bench/gpu_check.sh: a real GPU), leaving
 * VK_ICD_FILENAMES alone. */
#include <glob.h>
#include <math.h>

#include "../src/model/backend.h"
#include "../src/model/clip.h"
#include "../src/model/ops.h"
#include "clip_checks.h"
#include "testutil.h"


static const char *vk_device(void) {
    const char *d = getenv("CLIPSEEK_TEST_VK_DEVICE");
    if (d && *d) return d;
    static char icd[4096];
    glob_t g;
    if (glob("/usr/share/vulkan/icd.d/lvp_icd.*.json", 0, NULL, &g) != 0 || g.gl_pathc < 1)
        cr_skip_test("lavapipe (mesa-vulkan-drivers) is not installed: no lvp_icd json in /usr/share/vulkan/icd.d");
    snprintf(icd, sizeof icd, "%s", g.gl_pathv[0]);
    globfree(&g);
    setenv("VK_ICD_FILENAMES", icd, 1);
    return "vulkan:0";
}

static int vk_index(void) {
    const char *d = vk_device();
    int kind, idx;
    cr_assert_eq(be_parse_device(d, &kind, &idx, NULL), 0);
    return idx < 0 ? 0 : idx;
}

static float *wave_px(size_t n) {
    float *v = malloc(n * sizeof *v);
    cr_assert_not_null(v);
    for (size_t i = 0; i < n; i++) v[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    return v;
}

static clip_ctx *load_on(const char *dir, const char *device, int f32) {
    clip_params p = clip_default_params();
    p.threads = 2;
    p.device = device;
    p.f32 = f32;
    p.dtype = CLIP_DTYPE_F32; /* on the CPU: the F32 oracle the GPU is held to */
    clip_ctx *c;
    cs_err e;
    cr_assert_eq(clip_load(dir, &p, &c, &e), 0, "%s", e.msg);
    return c;
}

/* Loads on the Vulkan device; a silent fallback to the CPU would make these tests meaningless. */
static clip_ctx *load_vk(const char *dir, int f32) {
    clip_ctx *c = load_on(dir, vk_device(), f32);
    clip_device d;
    clip_get_device(c, &d);
    const char *note = clip_device_note(c, NULL);
    cr_assert_str_eq(d.backend, "vulkan", "not on Vulkan: %s", note ? note : "?");
    cr_log_info("device %s, driver %s, %s", d.device, d.driver, d.precision);
    return c;
}

static void tiny_on_vulkan(int f32, float tol) {
    FIXTURE(dir, TINY);
    FIXTURE(rp, TINY "/refs.safetensors");
    st_set *refs;
    cr_assert_eq(st_open(rp, &refs, NULL), 0);
    clip_ctx *c = load_vk(dir, f32);
    check_tiny(c, refs, tol);
    clip_device d;
    clip_get_device(c, &d);
    cr_assert_str_eq(d.backend, "vulkan", "fell back during the passes");
    cr_assert_str_eq(d.precision, f32 ? "F32" : "F16");
    cr_assert_gt(d.weight_bytes, 0);
    clip_free(c);
    st_close(refs);
}

Test(vulkan, tiny_clip_f16_within_2e3) { tiny_on_vulkan(0, 2e-3f); }
Test(vulkan, tiny_clip_f32_within_1e4) { tiny_on_vulkan(1, 1e-4f); }

/* The paths for devices without 16-bit storage (F16 read two per uint) and without subgroup
 * arithmetic (shared-memory reductions). */
Test(vulkan, tiny_clip_without_16bit_storage_or_subgroups) {
    setenv("CLIPSEEK_VK_NO16", "1", 1);
    setenv("CLIPSEEK_VK_NOSUBGROUP", "1", 1);
    tiny_on_vulkan(0, 2e-3f);
}

Test(vulkan, toyworld_each_query_finds_its_image) {
    FIXTURE(dir, "toyworld-clip");
    FIXTURE(q, "toyworld-eval/queries.json");
    FIXTURE(he, "toyworld-eval/hf-embeds.safetensors");
    clip_ctx *c = load_vk(dir, 0);
    check_toyworld(c, q, he);
    clip_free(c);
}

/* No driver at all: the asked device is reported, the CPU runs, the results are the CPU's. */
Test(vulkan, falls_back_to_cpu_without_a_driver) {
    FIXTURE(dir, TINY);
    FIXTURE(rp, TINY "/refs.safetensors");
    setenv("VK_ICD_FILENAMES", "/nonexistent/clipseek-no-icd.json", 1);
    clip_ctx *c = load_on(dir, "vulkan", 0);
    clip_device d;
    clip_get_device(c, &d);
    cr_assert_str_eq(d.backend, "cpu");
    int asked = 0;
    const char *note = clip_device_note(c, &asked);
    cr_assert_not_null(note);
    cr_assert_eq(asked, 1, "a named device that fails is said");
    cr_assert(strstr(note, "running on the CPU"), "%s", note);
    st_set *refs;
    cr_assert_eq(st_open(rp, &refs, NULL), 0);
    check_tiny(c, refs, 1e-4f);
    st_close(refs);
    clip_free(c);
    /* "auto" without a GPU: the CPU, quietly */
    c = load_on(dir, "auto", 0);
    clip_get_device(c, &d);
    cr_assert_str_eq(d.backend, "cpu");
    cr_assert_not_null(clip_device_note(c, &asked));
    cr_assert_eq(asked, 0);
    clip_free(c);
}

/* A failure after the device was opened (here: out of device memory, on a device capped at 40 MB
 * when a batch of 40 images needs a bigger workspace) moves the context to the CPU, says why, and
 * still answers. */
Test(vulkan, falls_back_to_cpu_when_the_device_fails) {
    setenv("CLIPSEEK_VK_MEMORY_MB", "40", 1);
    FIXTURE(dir, TINY);
    clip_ctx *c = load_vk(dir, 0), *ref = load_on(dir, "cpu", 0);
    const clip_info *in = clip_get_info(c);
    int B = 40, S = in->image_size, P = in->projection_dim;
    size_t npx = (size_t)B * 3 * S * S;
    float *px = wave_px(npx), *a = malloc((size_t)B * P * sizeof *a), *b = malloc((size_t)B * P * sizeof *b);
    cs_err e;
    cr_assert_eq(clip_vision_forward(c, px, 2, 1, NULL, a, &e), 0, "%s", e.msg); /* fine on the device */
    cr_assert_eq(clip_vision_forward(c, px, B, 1, NULL, a, &e), 0, "%s", e.msg);
    cr_assert_eq(clip_vision_forward(ref, px, B, 1, NULL, b, &e), 0, "%s", e.msg);
    clip_device d;
    clip_get_device(c, &d);
    cr_assert_str_eq(d.backend, "cpu");
    int asked = 0;
    const char *note = clip_device_note(c, &asked);
    cr_assert(note && asked, "the failure is said");
    cr_log_info("%s", note);
    cr_assert_leq(max_abs_diff(a, b, (size_t)B * P), 1e-6f);
    free(px); free(a); free(b);
    clip_free(c);
    clip_free(ref);
}

/* A pass slower than the fence wait's slice is waited for, not given up. The lavapipe crash on
 * the ViT-B/32-shaped model (image batch 8, a pass of minutes on a loaded CPU) was ours: after a
 * 60 s fence timeout the pass was called a lost device and its command buffer reset while
 * lavapipe's queue thread was still running it (SIGSEGV reading the freed command list). A 1 ms
 * slice gives every pass here that timeout. One submission for the whole pass (no split), an
 * image batch of 8 and a text batch; results must be the device's own, as good as ever. */
Test(vulkan, pass_slower_than_the_wait_slice_is_waited_for) {
    setenv("CLIPSEEK_VK_WAIT_SLICE_MS", "1", 1);
    setenv("CLIPSEEK_VK_SPLIT", "0", 1);
    FIXTURE(dir, TINY);
    clip_ctx *c = load_vk(dir, 0), *ref = load_on(dir, "cpu", 0);
    const clip_info *in = clip_get_info(c);
    int B = 8, S = in->image_size, P = in->projection_dim;
    float *px = wave_px((size_t)B * 3 * S * S), *a = malloc((size_t)B * P * sizeof *a), *b = malloc((size_t)B * P * sizeof *b);
    cs_err e;
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(clip_vision_forward(c, px, B, 1, NULL, a, &e), 0, "%s", e.msg);
        cr_assert_eq(clip_vision_forward(ref, px, B, 1, NULL, b, &e), 0, "%s", e.msg);
        cr_assert_leq(max_abs_diff(a, b, (size_t)B * P), 2e-3f, "round %d", round);
        const char *texts[] = {"a photo of a cat", "two dogs playing in the snow", "x"};
        cr_assert_eq(clip_texts_embed(c, texts, 3, 1, a, &e), 0, "%s", e.msg);
        cr_assert_eq(clip_texts_embed(ref, texts, 3, 1, b, &e), 0, "%s", e.msg);
        cr_assert_leq(max_abs_diff(a, b, (size_t)3 * P), 2e-3f, "round %d", round);
    }
    clip_device d;
    clip_get_device(c, &d);
    const char *note = clip_device_note(c, NULL);
    cr_assert_str_eq(d.backend, "vulkan", "gave up on the device: %s", note ? note : "?");
    free(px); free(a); free(b);
    clip_free(c);
    clip_free(ref);
}

/* Dispatches per pass, and the layer norms the products run themselves: an image pass and a text
 * pass with and without (CLIPSEEK_VK_NOFUSE=1). Each layer's ln1 and ln2, and the post-LN before
 * the projection, stop being dispatches of their own (the in-place pre-LN stays one); the
 * embeddings stay the same (F32 weights, so only the order of the layer norms' sums differs). */
static void passes(clip_ctx *c, const float *px, int B, float *img, float *txt, uint64_t *ni, uint64_t *nt) {
    const char *texts[] = {"a photo of a cat", "two dogs playing in the snow"};
    clip_device d0, d1, d2;
    cs_err e;
    clip_get_device(c, &d0);
    cr_assert_eq(clip_vision_forward(c, px, B, 1, NULL, img, &e), 0, "%s", e.msg);
    clip_get_device(c, &d1);
    cr_assert_eq(clip_texts_embed(c, texts, 2, 1, txt, &e), 0, "%s", e.msg);
    clip_get_device(c, &d2);
    cr_assert_str_eq(d2.backend, "vulkan");
    *ni = d1.dispatches - d0.dispatches;
    *nt = d2.dispatches - d1.dispatches;
}

Test(vulkan, layer_norms_run_inside_the_products) {
    FIXTURE(dir, TINY);
    clip_ctx *c = load_vk(dir, 1);
    const clip_info *in = clip_get_info(c);
    int B = 3, S = in->image_size, P = in->projection_dim;
    float *px = wave_px((size_t)B * 3 * S * S), *i1 = malloc((size_t)B * P * 4), *i2 = malloc((size_t)B * P * 4),
          t1[2 * 512], t2[2 * 512];
    cr_assert_leq(P, 512);
    uint64_t fi, ft, ui, ut;
    passes(c, px, B, i1, t1, &fi, &ft);
    setenv("CLIPSEEK_VK_NOFUSE", "1", 1); /* read when the next context opens its device */
    clip_ctx *u = load_vk(dir, 1);
    passes(u, px, B, i2, t2, &ui, &ut);
    cr_log_info("dispatches per pass: image %llu (unfused %llu), text %llu (unfused %llu)", (unsigned long long)fi,
                (unsigned long long)ui, (unsigned long long)ft, (unsigned long long)ut);
    cr_assert_eq(ui - fi, (uint64_t)(2 * in->vision.layers + 1), "image: %llu vs %llu", (unsigned long long)fi,
                 (unsigned long long)ui);
    cr_assert_eq(ut - ft, (uint64_t)(2 * in->text.layers + 1), "text: %llu vs %llu", (unsigned long long)ft,
                 (unsigned long long)ut);
    cr_assert_leq(max_abs_diff(i1, i2, (size_t)B * P), 1e-5f);
    cr_assert_leq(max_abs_diff(t1, t2, (size_t)2 * P), 1e-5f);
    free(px); free(i1); free(i2);
    clip_free(c);
    clip_free(u);
}

/* lavapipe is a CPU implementation: "auto" and "vulkan" never take it; vulkan:N does. */
Test(vulkan, auto_never_picks_lavapipe) {
    if (getenv("CLIPSEEK_TEST_VK_DEVICE")) cr_skip_test("runs on lavapipe only");
    vk_device();
    int found = 0;
    cs_err e;
    cr_assert_null(be_vk_new(-1, 1, &found, &e));
    cr_assert_eq(found, 0);
    cr_log_info("auto: %s", e.msg);
    be *b = be_vk_new(0, 1, &found, &e);
    cr_assert_not_null(b, "%s", e.msg);
    cr_assert(strstr(b->info.device, "CPU implementation"), "%s", b->info.device);
    be_free(b);
}

Test(vulkan, bad_device_names_are_refused) {
    int k, i;
    cs_err e;
    cr_assert_eq(be_parse_device("vulkan:3", &k, &i, &e), 0);
    cr_assert_eq(k, 2);
    cr_assert_eq(i, 3);
    cr_assert_eq(be_parse_device("gpu", &k, &i, &e), -1);
    cr_assert_eq(be_parse_device("vulkan:", &k, &i, &e), -1);
    cr_assert_eq(be_parse_device("vulkan:x1", &k, &i, &e), -1);
    clip_params p = clip_default_params();
    p.device = "cuda";
    clip_ctx *c = NULL;
    FIXTURE(dir, TINY);
    cr_assert_eq(clip_load(dir, &p, &c, &e), -1);
    cr_assert(strstr(e.msg, "cuda"), "%s", e.msg);
}

/* ---- each operation against the reference backend ---- */

typedef struct pair {
    be *r, *g;
    be_w *w[32][2]; /* prepared weights, freed with the pair */
    int nw;
} pair;

static pair pair_new(int f16, size_t floats, int maxseq, int hd, int maxrows, int maxk) {
    pair p = {0};
    cs_err e;
    int found;
    p.r = be_ref_new(2);
    p.g = be_vk_new(vk_index(), f16, &found, &e);
    cr_assert_not_null(p.g, "%s", e.msg);
    cr_assert_eq(be_reserve(p.r, floats, maxseq, hd, maxrows, maxk, &e), 0, "%s", e.msg);
    cr_assert_eq(be_reserve(p.g, floats, maxseq, hd, maxrows, maxk, &e), 0, "%s", e.msg);
    return p;
}

static void pair_free(pair *p) {
    for (int i = 0; i < p->nw; i++) {
        be_wfree(p->r, p->w[i][0]);
        be_wfree(p->g, p->w[i][1]);
    }
    be_free(p->r);
    be_free(p->g);
}

typedef struct wpair {
    be_w *r, *g;
} wpair;

static wpair wprep(pair *p, const float *data, int n, int k, int kind) {
    cs_err e;
    wpair w = {be_prepare(p->r, data, BE_F32, n, k, kind, &e), be_prepare(p->g, data, BE_F32, n, k, kind, &e)};
    cr_assert(w.r && w.g, "%s", e.msg);
    cr_assert_lt(p->nw, 32);
    p->w[p->nw][0] = w.r;
    p->w[p->nw++][1] = w.g;
    return w;
}

static void both_write(pair *p, be_off o, const float *src, size_t n) {
    be_write(p->r, o, src, n);
    be_write(p->g, o, src, n);
}

/* Reads n floats at o from both and returns the largest difference relative to max(1, |ref|). */
static float compare(pair *p, be_off o, size_t n) {
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    cs_err e;
    be_read(p->r, o, a, n);
    be_read(p->g, o, b, n);
    cr_assert_eq(be_sync(p->r, &e), 0, "%s", e.msg);
    cr_assert_eq(be_sync(p->g, &e), 0, "%s", e.msg);
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]) / fmaxf(1.0f, fabsf(a[i]));
        if (!(d <= m)) m = d != d ? 1e30f : d;
    }
    free(a);
    free(b);
    return m;
}

static float *wave(size_t n, float f, float amp) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = amp * sinf((float)i * f + 0.3f);
    return v;
}

/* Products on shapes that cut every tile edge (a 64 x 64 tile, K in steps of 16): each activation,
 * with and without bias, into the residual stream, a column range; F32 and F16 weights. */
Test(vulkan, linear_matches_reference) {
    const int shapes[][3] = {{1, 1, 1}, {37, 53, 71}, {65, 130, 17}, {50, 770, 768}, {3, 7, 200}};
    for (int f16 = 0; f16 < 2; f16++)
        for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
            int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
            pair p = pair_new(f16, (size_t)m * k + 2 * (size_t)m * n, 1, 1, m, n > k ? n : k);
            float *x = wave((size_t)m * k, 0.37f, 1.0f), *w = wave((size_t)n * k, 0.11f, 0.1f), *b = wave((size_t)n, 0.7f, 0.5f);
            wpair W = wprep(&p, w, n, k, BE_W_LINEAR), B = wprep(&p, b, n, 1, BE_W_VEC);
            be_off xo = 0, yo = (size_t)m * k, ro = yo + (size_t)m * n;
            both_write(&p, xo, x, (size_t)m * k);
            /* F16 weights: 11-bit mantissas, errors growing with sqrt(k) */
            float tol = f16 ? 2e-3f * sqrtf((float)k) : 1e-5f * sqrtf((float)k);
            for (int act = 0; act <= OPS_ACT_NONE; act++)
                for (int hb = 0; hb < 2; hb++) {
                    p.r->v->linear(p.r, xo, W.r, hb ? B.r : NULL, act, yo, 0, m, 0, 0);
                    p.g->v->linear(p.g, xo, W.g, hb ? B.g : NULL, act, yo, 0, m, 0, 0);
                    float d = compare(&p, yo, (size_t)m * n);
                    cr_expect_leq(d, tol, "%dx%dx%d f16 %d act %d bias %d: %g", m, n, k, f16, act, hb, d);
                }
            /* residual: r += x . w^T + b, from the same start on both */
            float *r0 = wave((size_t)m * n, 0.05f, 2.0f);
            both_write(&p, ro, r0, (size_t)m * n);
            p.r->v->linear(p.r, xo, W.r, B.r, OPS_ACT_NONE, ro, 1, m, 0, 0);
            p.g->v->linear(p.g, xo, W.g, B.g, OPS_ACT_NONE, ro, 1, m, 0, 0);
            float d = compare(&p, ro, (size_t)m * n);
            cr_expect_leq(d, tol, "%dx%dx%d f16 %d residual: %g", m, n, k, f16, d);
            /* a column range: those columns as the whole product has them, the rest untouched */
            if (n > 8) {
                int c0 = n / 3, c1 = n - n / 4;
                float *y = malloc((size_t)m * n * sizeof *y), *whole = malloc((size_t)m * n * sizeof *y);
                cs_err e;
                p.g->v->linear(p.g, xo, W.g, B.g, OPS_ACT_NONE, yo, 0, m, 0, 0);
                be_read(p.g, yo, whole, (size_t)m * n);
                both_write(&p, ro, r0, (size_t)m * n);
                p.g->v->linear(p.g, xo, W.g, B.g, OPS_ACT_NONE, ro, 0, m, c0, c1);
                be_read(p.g, ro, y, (size_t)m * n);
                cr_assert_eq(be_sync(p.g, &e), 0, "%s", e.msg);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        float want = j >= c0 && j < c1 ? whole[i * n + j] : r0[i * n + j];
                        cr_assert_eq(y[i * n + j], want, "cols [%d, %d) row %d col %d", c0, c1, i, j);
                    }
                free(y);
                free(whole);
            }
            free(r0); free(x); free(w); free(b);
            pair_free(&p);
        }
}

Test(vulkan, layernorm_matches_reference) {
    const int shapes[][2] = {{1, 1}, {3, 7}, {50, 768}, {17, 1000}, {2, 300}};
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        int m = shapes[si][0], d = shapes[si][1];
        pair p = pair_new(1, 2 * (size_t)m * d, 1, 1, m, d);
        float *x = wave((size_t)m * d, 0.013f, 4.0f), *g = wave((size_t)d, 0.3f, 1.0f), *b = wave((size_t)d, 0.2f, 0.1f);
        for (int i = 0; i < m * d; i++) x[i] += (float)(i / d) * 10.0f; /* rows with large means */
        wpair G = wprep(&p, g, d, 1, BE_W_VEC), B = wprep(&p, b, d, 1, BE_W_VEC);
        both_write(&p, 0, x, (size_t)m * d);
        p.r->v->layernorm(p.r, 0, G.r, B.r, (size_t)m * d, m, d, 1e-5f);
        p.g->v->layernorm(p.g, 0, G.g, B.g, (size_t)m * d, m, d, 1e-5f);
        float e1 = compare(&p, (size_t)m * d, (size_t)m * d);
        /* the reference's statistics are in double, the shader's in float */
        cr_expect_leq(e1, 5e-5f, "%dx%d: %g", m, d, e1);
        /* in place */
        p.r->v->layernorm(p.r, 0, G.r, B.r, 0, m, d, 1e-5f);
        p.g->v->layernorm(p.g, 0, G.g, B.g, 0, m, d, 1e-5f);
        float e2 = compare(&p, 0, (size_t)m * d);
        cr_expect_leq(e2, 5e-5f, "%dx%d in place: %g", m, d, e2);
        free(x); free(g); free(b);
        pair_free(&p);
    }
}

/* Sequences of different lengths stacked, causal or not, with padding keys or not; and the pooled
 * form (one query per sequence) against the full attention's rows. */
Test(vulkan, attention_matches_reference) {
    const int heads = 3, hd = 20, H = heads * hd, nseq = 3, lens[3] = {5, 50, 18}, offs[3] = {0, 5, 55}, T = 73;
    const int pool[3] = {4, 0, 9};
    int mask[73];
    for (int i = 0; i < T; i++) mask[i] = i % 7 != 3;
    for (int causal = 0; causal < 2; causal++)
        for (int masked = 0; masked < 2; masked++) {
            pair p = pair_new(0, (size_t)T * H * 10, 50, hd, T, 3 * H);
            float *qkv = wave((size_t)T * 3 * H, 0.017f, 3.0f);
            be_off qo = 0, ao = (size_t)T * 3 * H;
            both_write(&p, qo, qkv, (size_t)T * 3 * H);
            p.r->v->attention(p.r, qo, H, ao, offs, lens, nseq, heads, causal, masked ? mask : NULL);
            p.g->v->attention(p.g, qo, H, ao, offs, lens, nseq, heads, causal, masked ? mask : NULL);
            float d = compare(&p, ao, (size_t)T * H);
            cr_expect_leq(d, 1e-5f, "causal %d masked %d: %g", causal, masked, d);
            /* pooled: ln1 output h, the stacked qkv weight, one query row per sequence */
            float *full = malloc((size_t)T * H * sizeof *full), *rows = malloc((size_t)nseq * H * sizeof *rows);
            float *hx = wave((size_t)T * H, 0.029f, 1.0f), *w = wave((size_t)3 * H * H, 0.07f, 0.2f), *b = wave((size_t)3 * H, 0.5f, 0.1f);
            wpair W = wprep(&p, w, 3 * H, H, BE_W_LINEAR), B = wprep(&p, b, 3 * H, 1, BE_W_VEC);
            be_off ho = ao + (size_t)T * H, q2 = ho + (size_t)T * H, a2 = q2 + (size_t)T * 3 * H;
            cs_err e;
            both_write(&p, ho, hx, (size_t)T * H);
            p.r->v->linear(p.r, ho, W.r, B.r, OPS_ACT_NONE, q2, 0, T, 0, 0);
            p.r->v->attention(p.r, q2, H, a2, offs, lens, nseq, heads, causal, masked ? mask : NULL);
            be_read(p.r, a2, full, (size_t)T * H);
            cr_assert_eq(be_sync(p.r, &e), 0);
            p.g->v->attention_pooled(p.g, W.g, B.g, ho, q2, a2, T, H, offs, lens, pool, nseq, heads, causal,
                                     masked ? mask : NULL);
            be_read(p.g, a2, rows, (size_t)nseq * H);
            cr_assert_eq(be_sync(p.g, &e), 0, "%s", e.msg);
            for (int s = 0; s < nseq; s++) {
                float dd = max_abs_diff(rows + (size_t)s * H, full + (size_t)(offs[s] + pool[s]) * H, (size_t)H);
                cr_expect_leq(dd, 1e-4f, "pooled sequence %d causal %d masked %d: %g", s, causal, masked, dd);
            }
            free(full); free(rows); free(hx); free(w); free(b); free(qkv);
            pair_free(&p);
        }
}

/* Pooled-row selection, token + position gathering, and the patch embedding (im2col, product,
 * class token, positions) on a 3-channel 20 px image of 5 px patches. */
Test(vulkan, rows_embeddings_and_patches_match_reference) {
    const int H = 12, V = 30, maxpos = 9, nseq = 3, lens[3] = {4, 9, 1}, offs[3] = {0, 4, 13}, pool[3] = {3, 2, 0};
    const int32_t i0[4] = {1, 5, 29, 0}, i1[9] = {2, 2, 3, 4, 5, 6, 7, 8, 9}, i2[1] = {17};
    const int32_t *ids[3] = {i0, i1, i2};
    const int S = 20, P = 5, g = S / P, np = g * g, K = 3 * P * P, batch = 2, n = np + 1;
    size_t T = 14, npix = (size_t)batch * 3 * S * S;
    pair p = pair_new(0, 4096 + npix + (size_t)batch * np * K, 1, 1, batch * n, K);
    float *tab = wave((size_t)V * H, 0.31f, 1.0f), *pos = wave((size_t)maxpos * H, 0.19f, 0.5f);
    wpair TB = wprep(&p, tab, V, H, BE_W_TABLE), PS = wprep(&p, pos, maxpos, H, BE_W_VEC);
    p.r->v->embed_tokens(p.r, 0, TB.r, PS.r, ids, lens, nseq, H);
    p.g->v->embed_tokens(p.g, 0, TB.g, PS.g, ids, lens, nseq, H);
    float d = compare(&p, 0, T * H);
    cr_expect_leq(d, 0.0f, "token embeddings: %g", d);
    p.r->v->take_rows(p.r, 0, H, offs, pool, nseq);
    p.g->v->take_rows(p.g, 0, H, offs, pool, nseq);
    d = compare(&p, 0, (size_t)nseq * H);
    cr_expect_leq(d, 0.0f, "pooled rows: %g", d);
    float *px = wave(npix, 0.0123f, 1.5f), *pw = wave((size_t)H * K, 0.041f, 0.2f), *cls = wave((size_t)H, 0.9f, 0.3f);
    float *vpos = wave((size_t)n * H, 0.23f, 0.2f);
    wpair PW = wprep(&p, pw, H, K, BE_W_LINEAR), CL = wprep(&p, cls, H, 1, BE_W_VEC), VP = wprep(&p, vpos, n, H, BE_W_VEC);
    be_off xo = 0, pix = 4096, cols = pix + npix, tmp = 2048;
    both_write(&p, pix, px, npix);
    p.r->v->patch_embed(p.r, xo, pix, cols, tmp, batch, S, P, H, PW.r, CL.r, VP.r);
    p.g->v->patch_embed(p.g, xo, pix, cols, tmp, batch, S, P, H, PW.g, CL.g, VP.g);
    d = compare(&p, xo, (size_t)batch * n * H);
    cr_expect_leq(d, 1e-5f, "patch embeddings: %g", d);
    free(tab); free(pos); free(px); free(pw); free(cls); free(vpos);
    pair_free(&p);
}
