/* clip_checks: end-to-end checks of a loaded model against the Hugging Face references, shared by
 * the CPU tests (test_model.c), the PyTorch checkpoint tests (test_torch.c) and the Vulkan
 * conformance tests (test_vulkan.c). */
#ifndef CLIP_CHECKS_H
#define CLIP_CHECKS_H

#include <jansson.h>
#include <math.h>

#include "../src/model/clip.h"
#include "testutil.h"

#define TINY "tiny-clip-quickgelu-p32"

/* Loads a model on two threads (reference: the plain reference kernels); fails the test if it cannot.
 * F32 weights on the CPU: these checks hold the engine to transformers' F32 outputs (the lower
 * dtypes are held to F32 in test_dtype.c). */
static inline clip_ctx *load_model(const char *dir, int reference) {
    clip_params p = clip_default_params();
    p.threads = 2;
    p.dtype = CLIP_DTYPE_F32;
    p.reference = reference;
    clip_ctx *c;
    cs_err e;
    cr_assert_eq(clip_load(dir, &p, &c, &e), 0, "%s", e.msg);
    return c;
}

/* tiny-clip-quickgelu-p32: every output of refs.safetensors (padded and unpadded texts, hidden
 * states, pooled features, image embeds, logits) within tol. */
static inline void check_tiny(clip_ctx *c, st_set *refs, float tol) {
    /* logits are logit_scale times a dot product of two embeddings: an embedding tolerance above
     * the CPU's (F16 weights on a GPU) scales up with them */
    const float ltol = tol > 1e-4f ? 2.0f * tol * clip_get_info(c)->logit_scale : 1e-3f;
    const clip_info *in = clip_get_info(c);
    int P = in->projection_dim, H = in->text.hidden, VH = in->vision.hidden;
    cr_assert_eq(P, 32);
    int64_t n;
    float *ids_f = load_ref(refs, "input_ids", &n), *mask_f = load_ref(refs, "attention_mask", NULL);
    float *te = load_ref(refs, "text_embeds", NULL), *tp = load_ref(refs, "text_pooled", NULL),
          *tl = load_ref(refs, "text_last_hidden", NULL);
    int B = (int)(n / 77);
    cr_assert_eq(B, 8);
    float emb[32], feat[32], *last = malloc(77 * H * sizeof *last);
    for (int b = 0; b < B; b++) {
        int32_t ids[77], mask[77], real = 0;
        for (int i = 0; i < 77; i++) {
            ids[i] = (int32_t)ids_f[b * 77 + i];
            mask[i] = (int32_t)mask_f[b * 77 + i];
            real += mask[i];
        }
        /* the padded 77-token pass with HF's attention mask reproduces every hidden state */
        cr_assert_eq(clip_text_forward(c, ids, mask, 77, 1, last, emb, NULL), 0);
        cr_expect_leq(max_abs_diff(last, tl + (size_t)b * 77 * H, 77 * (size_t)H), tol, "text %d last hidden", b);
        cr_expect_leq(max_abs_diff(emb, te + b * P, P), tol, "text %d embeds (padded)", b);
        /* only the real tokens: the causal tower gives the same pooled vector */
        cr_assert_eq(clip_text_forward(c, ids, NULL, real, 1, NULL, emb, NULL), 0);
        cr_expect_leq(max_abs_diff(emb, te + b * P, P), tol, "text %d embeds", b);
        cr_assert_eq(clip_text_forward(c, ids, NULL, real, 0, NULL, feat, NULL), 0);
        cr_expect_leq(max_abs_diff(feat, tp + b * P, P), tol, "text %d features", b);
    }
    /* the one unpadded text */
    float *sid = load_ref(refs, "single_text_ids", &n), *sf = load_ref(refs, "single_text_features_unnormalized", NULL);
    int32_t one[77];
    for (int i = 0; i < n; i++) one[i] = (int32_t)sid[i];
    cr_assert_eq(clip_text_forward(c, one, NULL, (int)n, 0, NULL, feat, NULL), 0);
    cr_expect_leq(max_abs_diff(feat, sf, P), tol, "single text features");
    /* vision, batched */
    float *px = load_ref(refs, "pixel_values", NULL), *ie = load_ref(refs, "image_embeds", NULL),
          *vp = load_ref(refs, "vision_pooled", NULL), *vl = load_ref(refs, "vision_last_hidden", NULL),
          *logits = load_ref(refs, "logits_per_image", NULL);
    float iemb[3 * 32], ifeat[3 * 32], *vlast = malloc(3 * 50 * VH * sizeof *vlast);
    cr_assert_eq(clip_vision_forward(c, px, 3, 1, vlast, iemb, NULL), 0);
    cr_expect_leq(max_abs_diff(vlast, vl, 3 * 50 * (size_t)VH), tol, "vision last hidden");
    cr_expect_leq(max_abs_diff(iemb, ie, 3 * (size_t)P), tol, "image embeds");
    cr_assert_eq(clip_vision_forward(c, px, 3, 0, NULL, ifeat, NULL), 0);
    cr_expect_leq(max_abs_diff(ifeat, vp, 3 * (size_t)P), tol, "vision features");
    /* logits_per_image = logit_scale * image . text */
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 8; t++) {
            float s = 0;
            for (int k = 0; k < P; k++) s += iemb[i * P + k] * te[t * P + k];
            cr_expect_leq(fabsf(in->logit_scale * s - logits[i * 8 + t]), ltol, "logit %d,%d", i, t);
        }
    free(ids_f); free(mask_f); free(te); free(tp); free(tl); free(last); free(sid); free(sf);
    free(px); free(ie); free(vp); free(vl); free(logits); free(vlast);
}

/* The row of cands[n][P] with the largest dot product with q[P] (the first on a tie): the top-1
 * search result of a query embedding among image embeddings. */
static inline size_t best_match(const float *q, const float *cands, size_t n, int P) {
    size_t best = 0;
    float bs = -2;
    for (size_t j = 0; j < n; j++) {
        float s = 0;
        for (int k = 0; k < P; k++) s += q[k] * cands[j * P + k];
        if (s > bs) { bs = s; best = j; }
    }
    return best;
}

/* toyworld: each of the 48 queries finds its image first, and every embedding has cosine >= 0.9999
 * with transformers' (q: queries.json, he: hf-embeds.safetensors). */
static inline void check_toyworld(clip_ctx *c, const char *q, const char *he) {
    int P = clip_get_info(c)->projection_dim;
    json_t *root = json_load_file(q, 0, NULL), *items = json_object_get(root, "items");
    size_t N = json_array_size(items);
    cr_assert_eq(N, 48);
    const char **paths = malloc(N * sizeof *paths), **texts = malloc(N * sizeof *texts);
    char (*pbuf)[4096] = malloc(N * 4096);
    int *row = malloc(N * sizeof *row);
    for (size_t i = 0; i < N; i++) {
        json_t *it = json_array_get(items, i);
        snprintf(pbuf[i], 4096, "%s/toyworld-eval/%s", fixtures_dir(), json_string_value(json_object_get(it, "file")));
        paths[i] = pbuf[i];
        texts[i] = json_string_value(json_object_get(it, "query"));
        row[i] = (int)json_integer_value(json_object_get(it, "ref_row"));
    }
    float *ie = malloc(N * P * sizeof *ie), *te = malloc(N * P * sizeof *te);
    cs_err e;
    cr_assert_eq(clip_image_files_embed(c, paths, (int)N, 1, ie, &e), 0, "%s", e.msg);
    cr_assert_eq(clip_texts_embed(c, texts, (int)N, 1, te, &e), 0, "%s", e.msg);
    st_set *ref;
    cr_assert_eq(st_open(he, &ref, NULL), 0);
    float *hi = load_ref(ref, "image_embeds", NULL), *ht = load_ref(ref, "text_embeds", NULL);
    float worst_i = 1, worst_t = 1;
    int top1 = 0;
    for (size_t i = 0; i < N; i++) {
        float ci = 0, ct = 0;
        for (int k = 0; k < P; k++) {
            ci += ie[i * P + k] * hi[row[i] * P + k];
            ct += te[i * P + k] * ht[row[i] * P + k];
        }
        if (ci < worst_i) worst_i = ci;
        if (ct < worst_t) worst_t = ct;
        size_t best = best_match(te + i * P, ie, N, P);
        if (best == i) top1++;
        else cr_log_error("query '%s' found %s, not %s", texts[i], paths[best], paths[i]);
    }
    cr_log_info("toyworld: top-1 %d/48, min image cosine %.6f, min text cosine %.6f", top1, worst_i, worst_t);
    cr_expect_eq(top1, 48);
    cr_expect_geq(worst_i, 0.9999f, "image cosine %.6f", worst_i);
    cr_expect_geq(worst_t, 0.9999f, "text cosine %.6f", worst_t);
    free(paths); free(texts); free(pbuf); free(row); free(ie); free(te); free(hi); free(ht);
    st_close(ref);
    json_decref(root);
}

#endif
