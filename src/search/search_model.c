/* search_model: see search_model.h. */
#include "search_model.h"

#include <stdio.h>
#include <stdlib.h>

#include "../common/cs_clock.h"
#include "search_neutral.h"
#include "vecindex.h"

/* The query vector (malloc'd into *qv, or NULL when the query has none). */
static int query_vector(store *s, clip_ctx *model, stm_ctx *tmodel, const char *model_id, const search_query *q,
                        const char *image, float **qv, double *embed_ms, cs_err *err) {
    *qv = NULL;
    int P = clip_get_info(model)->projection_dim;
    int want = image || (q->text && *q->text) || q->exclude;
    if (!want) return 0;
    float *v = malloc((size_t)P * sizeof *v);
    if (!v) return cs_errc(err, CS_ENOMEM, "out of memory");
    int rc;
    if (image)
        rc = clip_image_files_embed(model, &image, 1, 1, v, err);
    else if (q->text && *q->text) {
        double t0 = cs_mono_ms();
        if (tmodel && stm_dim(tmodel) != P)
            rc = cs_errc(err, CS_EINVAL, "the text model embeds into %d dimensions, the CLIP model %d", stm_dim(tmodel),
                         P);
        else
            rc = tmodel ? stm_embed_texts(tmodel, &q->text, 1, 1, v, err)
                        : clip_texts_embed(model, &q->text, 1, 1, v, err);
        if (embed_ms) *embed_ms = cs_mono_ms() - t0;
    } else if (store_get_vector(s, q->exclude, model_id, 0, v, P, NULL))
        rc = cs_errc(err, CS_ENOTFOUND, "entry %lld has no vector yet (run `clipseek index`)", (long long)q->exclude);
    else
        rc = 0;
    if (rc)
        free(v);
    else
        *qv = v;
    return rc;
}

/* The query in the text embedder's space (search.h "Two spaces"): q->qvec2, q->vecs2 and
 * q->neutral2 set for search_run (*qv2, *vi2 and *own2 to free afterwards). Nothing for a query
 * by example or without words: that space holds text entries only. */
static int space2_open(store *s, const search_embedder *emb, search_query *q, const char *image, float **qv2,
                       vecindex **vi2, float **own2, double *embed_ms, cs_err *err) {
    *qv2 = NULL;
    *vi2 = NULL;
    *own2 = NULL;
    if (!emb || !emb->model || !emb->id || image || !q->text || !*q->text) return 0;
    int D = stm_dim(emb->model);
    float *v = malloc((size_t)D * sizeof *v);
    if (!v) return cs_errc(err, CS_ENOMEM, "out of memory");
    double t0 = cs_mono_ms();
    int rc = stm_embed_texts(emb->model, &q->text, 1, 1, v, err);
    if (embed_ms) *embed_ms += cs_mono_ms() - t0;
    if (!rc) rc = vecindex_open(s, emb->id, vi2, err);
    if (!rc && vecindex_dim(*vi2) && vecindex_dim(*vi2) != D)
        rc = cs_errc(err, CS_EINVAL, "the text embedder's search matrix has %d dimensions, the embedder %d",
                     vecindex_dim(*vi2), D);
    if (!rc && !emb->neutral) rc = search_neutral_embed_st(emb->model, own2, err);
    if (rc) {
        free(v);
        vecindex_close(*vi2);
        *vi2 = NULL;
        return -1;
    }
    *qv2 = v;
    q->qvec2 = v;
    q->vecs2 = *vi2;
    q->neutral2 = emb->neutral ? emb->neutral : *own2;
    q->n_neutral2 = SEARCH_NEUTRAL_N;
    return 0;
}

int search_with_model(store *s, clip_ctx *model, stm_ctx *tmodel, const char *model_id, search_query *q,
                      const char *image, search_hit **hits, size_t *n, double *embed_ms, cs_err *err) {
    return search_with_models(s, model, tmodel, model_id, NULL, q, image, hits, n, embed_ms, err);
}

int search_with_models(store *s, clip_ctx *model, stm_ctx *tmodel, const char *model_id, const search_embedder *emb,
                       search_query *q, const char *image, search_hit **hits, size_t *n, double *embed_ms,
                       cs_err *err) {
    *hits = NULL;
    *n = 0;
    if (embed_ms) *embed_ms = 0;
    if (image && !model)
        return cs_errc(err, CS_EINVAL, "searching by an image needs a model (`clipseek model use DIR`)");
    float *qv = NULL;
    vecindex *vi = NULL;
    int rc = model ? query_vector(s, model, tmodel, model_id, q, image, &qv, embed_ms, err) : 0;
    double t0 = cs_mono_ms();
    if (!rc && qv) rc = vecindex_open(s, model_id, &vi, err);
    if (q->timing) q->timing->matrix += cs_mono_ms() - t0;
    if (!rc && vi) {
        int P = clip_get_info(model)->projection_dim;
        if (vecindex_dim(vi) && vecindex_dim(vi) != P)
            rc = cs_errc(err, CS_EINVAL, "the search matrix has %d dimensions, the model %d", vecindex_dim(vi), P);
        else if (vecindex_stale(vi)) /* the results still come, from what was indexed */
            snprintf(q->warning, sizeof q->warning, "%s", vecindex_stale(vi));
    }
    /* a text query's likeness to gibberish raises the meaning floor (search_neutral.h): the
     * caller's prompt vectors for this model if it keeps them (the index worker does, per
     * loaded model), else embedded here for this search. Not for a query embedded by a text
     * model: the prompts are CLIP text-tower vectors, and the text model's own floor
     * (search_textmodel_min) was measured without the raise. */
    float *own = NULL;
    int by_tmodel = tmodel && !image && q->text && *q->text;
    const float *neutral = by_tmodel ? NULL : q->neutral;
    int n_neutral = by_tmodel ? 0 : q->n_neutral;
    if (!rc && vi && !image && q->text && *q->text && !neutral && !by_tmodel) {
        rc = search_neutral_embed(model, &own, err);
        neutral = own;
        n_neutral = own ? SEARCH_NEUTRAL_N : 0;
    }
    const char *text = q->text;
    const double *mmin = q->meaning_min;
    /* a query embedded by the text model: its own scale (search.h) */
    if (by_tmodel && !q->meaning_min) q->meaning_min = search_textmodel_min;
    const float *caller_neutral = q->neutral;
    int caller_n_neutral = q->n_neutral;
    if (image) q->text = NULL; /* a query by example: ranked by cosine, no words */
    q->qvec = qv;
    q->vecs = vi;
    q->neutral = qv && !image && text && *text ? neutral : NULL;
    q->n_neutral = q->neutral ? n_neutral : 0;
    float *qv2 = NULL, *own2 = NULL;
    vecindex *vi2 = NULL;
    if (!rc) rc = space2_open(s, emb, q, image, &qv2, &vi2, &own2, embed_ms, err);
    if (!rc && (q->text || qv || qv2)) rc = search_run(s, q, hits, n, err);
    if (q->timing && embed_ms) q->timing->embed = *embed_ms;
    q->qvec2 = NULL;
    q->vecs2 = NULL;
    q->neutral2 = NULL;
    q->n_neutral2 = 0;
    free(qv2);
    free(own2);
    vecindex_close(vi2);
    q->text = text;
    q->meaning_min = mmin;
    q->qvec = NULL;
    q->vecs = NULL;
    q->neutral = caller_neutral;
    q->n_neutral = caller_n_neutral;
    free(own);
    free(qv);
    vecindex_close(vi);
    return rc;
}
