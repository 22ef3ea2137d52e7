/* search_model: the one search entry point for a caller that may hold a CLIP model, shared by
 * `clipseek search`/`similar` (cli_search.c) and the daemon (SEARCH requests and the web page,
 * through the index worker that owns the loaded model).
 *
 * It turns a query into a query vector with the model, opens the search matrix of that model,
 * and runs search_run (search.h, the ranking). Without a model it is full text only. */
#ifndef SEARCH_MODEL_H
#define SEARCH_MODEL_H

#include <stddef.h>

#include "../common/cs_err.h"
#include "../model/clip.h"
#include "../model/stmodel.h"
#include "../store/store.h"
#include "search.h"

/* Searches s for q with model (NULL: no model) whose vectors carry model_id (index_model_id).
 * The query vector is, in order: image (a file path, not NULL: query by example, q->text is
 * ignored) embedded by the vision tower; q->text, if not empty, embedded by the text tower (or by
 * tmodel, a sentence-transformers text model trained into the model's space, when not NULL:
 * `model use ... --text-model`, docs/text-models.md; q->meaning_min, when NULL, is then
 * search_textmodel_min for the call, the text model's own scale); with
 * no text and q->exclude set, that entry's own stored vector (similar entries). q->qvec and
 * q->vecs are filled and reset to NULL before returning; q->warning gets vecindex_stale's reason
 * when the search matrix is out of date (the hits then come from what was indexed). With neither
 * words nor a query vector there are no hits (*n = 0).
 * A text query with a model is also measured against the model's gibberish prompts
 * (search_neutral.h, the meaning floor): q->neutral, when the caller set it (q->n_neutral
 * vectors of this model, as the index worker keeps per loaded model), else they are embedded
 * here for this one search (the CLI: once per process). q->neutral is left as the caller set it.
 * A text query embedded by tmodel is not (its floor, search_textmodel_min, has no such raise).
 * *hits is malloc'd (the caller frees it), *n its length. embed_ms (may be NULL) gets the text
 * tower's time in milliseconds (0 when no text was embedded).
 * Errors: CS_EINVAL for an image without a model, or a search matrix whose dimension differs from
 * the model's (or a text model whose dimension differs); CS_ENOTFOUND when the q->exclude entry has no vector yet; else what the model,
 * the store or search_run report. */
int search_with_model(store *s, clip_ctx *model, stm_ctx *tmodel, const char *model_id, search_query *q,
                      const char *image, search_hit **hits, size_t *n, double *embed_ms, cs_err *err);

/* The text embedder (`model use ... --text-embedder`, docs/text-models.md): a sentence model whose
 * own space holds a vector per text entry (index_run_text). Borrowed by the search. */
typedef struct search_embedder {
    stm_ctx *model;       /* the sentence model */
    const char *id;       /* its vectors' model id (index_model_id of its folder) */
    const float *neutral; /* SEARCH_NEUTRAL_N gibberish prompts through it (search_neutral_embed_st),
                           * or NULL: embedded for this one search */
} search_embedder;

/* search_with_model plus the text embedder's space when emb (may be NULL) has a model: a text
 * query is also embedded by emb->model and search_run ranks text entries by that space too
 * (q->qvec2, q->vecs2, q->neutral2 are set for the call and reset to NULL; search.h "Two
 * spaces"). embed_ms then counts both models' time. Works without a CLIP model as well (words
 * and the text space). Errors as search_with_model's, and CS_EINVAL when the text space's
 * search matrix has another dimension than emb->model. */
int search_with_models(store *s, clip_ctx *model, stm_ctx *tmodel, const char *model_id, const search_embedder *emb,
                       search_query *q, const char *image, search_hit **hits, size_t *n, double *embed_ms, cs_err *err);

#endif
