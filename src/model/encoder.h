/* encoder: one transformer encoder layer's weights and operations, shared by the model families
 * (clip.c: pre-LN layers; bert.c: post-LN layers).
 *
 * A layer holds float views of its checkpoint tensors (filled through a wset's slots: q, k, v, out
 * projections, two layer norms, two MLP/FFN linears, weights and biases), q/k/v stacked into one
 * [3H, H] matrix, and the backend's prepared copies. Ownership: the views belong to the wset (or
 * its st_set); the prepared weights are freed by enc_layer_unprepare. */
#ifndef ENCODER_H
#define ENCODER_H

#include "../common/cs_err.h"
#include "backend.h"
#include "wset.h"

typedef struct enc_layer {
    const float *ln1_w, *ln1_b, *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
    const float *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float *qkv_w, *qkv_b; /* q, k, v stacked ([3H, H], [3H]): one GEMM instead of three */
    /* the same weights as the backend prepared them (packed, uploaded, or the views above) */
    be_w *ln1g, *ln1b, *qkvw, *qkvb, *ow, *ob, *ln2g, *ln2b, *fc1w, *fc1b, *fc2w, *fc2b;
} enc_layer;

/* Stacks q, k, v (the originals are dropped) and hands the layer's weights to backend b; `kind` is
 * BE_W_LINEAR or BE_W_LINEAR_FEW for the linear weights (H = width, I = MLP width). Weights the
 * backend copied are dropped from the wset. Returns 0, or -1 with *err (the caller decides about
 * a GPU failure). */
int enc_layer_prepare(wset *ws, be *b, enc_layer *L, int H, int I, int kind, cs_err *err);
/* Frees the prepared weights (b may be NULL: nothing was prepared). */
void enc_layer_unprepare(be *b, enc_layer *L);
/* Frees a model's prepared weights: the n listed ones (each set to NULL) and those of its `layers`
 * layers L (L may be NULL: not allocated). b may be NULL: nothing was prepared. */
void enc_unprepare(be *b, be_w **const *w, size_t n, enc_layer *L, int layers);

/* One post-LN layer (BertLayer, DistilBERT's TransformerBlock) over x[T, H], in place:
 * x = LN1(x + out(attn(qkv(x)))); x = LN2(x + fc2(act(fc1(x)))). Bidirectional attention over the
 * nseq stacked sequences (off/len), keymask as be_vtbl.attention. Workspace: qkv [T, 3H],
 * att [T, H], m [T, I]. */
void enc_layer_post_ln(be *b, const enc_layer *L, be_off x, int T, int H, int heads, int act, float eps, const int *off,
                       const int *len, int nseq, const int *keymask, be_off qkv, be_off att, be_off m);

#endif
