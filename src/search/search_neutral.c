/* search_neutral: see search_neutral.h. */
#include "search_neutral.h"

#include <stdlib.h>

/* Chosen to cover the ways people and pickers produce nonsense, not one generator: keyboard rows
 * and mash, consonant runs, pronounceable made-up words, letters mixed with digits. None of them
 * is a word or a known abbreviation. */
static const char *const prompts[SEARCH_NEUTRAL_N] = {
    "asdfgh", "qwertz uiop",  "zxcvbnm", "hjkl jkl;",      "xkqzvw",    "bzzrt plmk", "grtchk",    "wprnfs dvtk",
    "blorf",  "snarkle vomp", "quibbit", "flembo trazzle", "zq7x k2vw", "a8fj3 kd9",  "qqqq xxxx", "mmmhh nnrr",
};

/* The prompts through either kind of text tower: c's, or t's when t is not NULL. */
static int embed_prompts(clip_ctx *c, stm_ctx *t, float **out, cs_err *err) {
    *out = NULL;
    int dim = t ? stm_dim(t) : clip_get_info(c)->projection_dim;
    float *v = malloc((size_t)SEARCH_NEUTRAL_N * (size_t)dim * sizeof *v);
    if (!v) return cs_errc(err, CS_ENOMEM, "out of memory");
    if (t ? stm_embed_texts(t, prompts, SEARCH_NEUTRAL_N, 1, v, err)
          : clip_texts_embed(c, prompts, SEARCH_NEUTRAL_N, 1, v, err)) {
        free(v);
        return -1;
    }
    *out = v;
    return 0;
}

int search_neutral_embed(clip_ctx *c, float **out, cs_err *err) { return embed_prompts(c, NULL, out, err); }

int search_neutral_embed_st(stm_ctx *t, float **out, cs_err *err) { return embed_prompts(NULL, t, out, err); }

double search_neutral_likeness(const float *q, const float *neutral, int n, int dim) {
    double best = 0;
    for (int i = 0; i < n; i++) {
        double d = 0;
        for (int j = 0; j < dim; j++) d += (double)q[j] * neutral[(size_t)i * (size_t)dim + (size_t)j];
        if (i == 0 || d > best) best = d;
    }
    return best;
}
