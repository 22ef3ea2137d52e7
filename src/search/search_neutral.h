/* search_neutral: what this model makes of gibberish, as a yardstick for the meaning floor.
 *
 * A CLIP text tower has no "I do not know": a string of random letters gets an embedding like any
 * other, and against a small history it can lead its runners-up as clearly as a real description
 * does. What gives nonsense away is that it resembles other nonsense: its cosine with a few fixed
 * gibberish prompts (keyboard mash, consonant runs, made-up words) is high, while a query with
 * words the model knows sits far from them. search.h raises the meaning floor by that likeness.
 * The prompts are embedded once per loaded model (the CLI per search, the daemon per model); a
 * text pass each, so about as cheap as the query's own embedding times SEARCH_NEUTRAL_N. */
#ifndef SEARCH_NEUTRAL_H
#define SEARCH_NEUTRAL_H

#include "../common/cs_err.h"
#include "../model/clip.h"
#include "../model/stmodel.h"

#define SEARCH_NEUTRAL_N 16

/* Embeds the gibberish prompts with c's text tower: *out gets SEARCH_NEUTRAL_N unit vectors of
 * the model's projection_dim floats, row after row (malloc'd, caller frees). -1 with err when the
 * model cannot embed text (no tokenizer) or memory runs out; *out is then NULL. */
int search_neutral_embed(clip_ctx *c, float **out, cs_err *err);

/* The same prompts through a sentence-transformers model (the text embedder's own space,
 * docs/text-models.md): SEARCH_NEUTRAL_N unit vectors of stm_dim(t) floats; errors as above. */
int search_neutral_embed_st(stm_ctx *t, float **out, cs_err *err);

/* The query's likeness to gibberish: its largest cosine with the n prompt vectors (dim floats
 * each, unit length, as q). 0 when n is 0. */
double search_neutral_likeness(const float *q, const float *neutral, int n, int dim);

#endif
