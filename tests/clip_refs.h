/* clip_refs: the tiny-clip-quickgelu-p32 conformance check shared by the model tests (safetensors)
 * and the PyTorch checkpoint tests: every output transformers saved in refs.safetensors (padded and
 * unpadded texts, hidden states, pooled features, image embeds, logits) within `tol`. */
#ifndef CLIP_REFS_H
#define CLIP_REFS_H

#include <math.h>

#include "../src/model/clip.h"
#include "testutil.h"

#define TINY "tiny-clip-quickgelu-p32"

static clip_ctx *load_model(const char *dir, int reference) {
    clip_params p = clip_default_params();
    p.threads = 2;
    p.reference = reference;
    clip_ctx *c;
    cs_err e;
    cr_assert_eq(clip_load(dir, &p, &c, &e), 0, "%s", e.msg);
    return c;
}

static void check_tiny(clip_ctx *c, st_set *refs, float tol) {
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
            cr_expect_leq(fabsf(in->logit_scale * s - logits[i * 8 + t]), fmaxf(1e-3f, 10 * tol), "logit %d,%d", i, t);
        }
    free(ids_f); free(mask_f); free(te); free(tp); free(tl); free(last); free(sid); free(sf);
    free(px); free(ie); free(vp); free(vl); free(logits); free(vlast);
}

#endif
