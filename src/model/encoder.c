/* encoder: see encoder.h. */
#include "encoder.h"

#include "ops.h"

int enc_layer_prepare(wset *ws, be *b, enc_layer *L, int H, int I, int kind, cs_err *err) {
    if (ws_stack3(ws, &L->q_w, &L->k_w, &L->v_w, L->q_b, L->k_b, L->v_b, (size_t)H, (size_t)H, &L->qkv_w, &L->qkv_b,
                  err))
        return -1;
    const float *qkv = L->qkv_w, *qkvb = L->qkv_b;
    if (ws_prep(ws, b, &L->ln1_w, H, 1, BE_W_VEC, &L->ln1g, err) ||
        ws_prep(ws, b, &L->ln1_b, H, 1, BE_W_VEC, &L->ln1b, err) ||
        ws_prep(ws, b, &qkv, 3 * H, H, kind, &L->qkvw, err) ||
        ws_prep(ws, b, &qkvb, 3 * H, 1, BE_W_VEC, &L->qkvb, err) || ws_prep(ws, b, &L->o_w, H, H, kind, &L->ow, err) ||
        ws_prep(ws, b, &L->o_b, H, 1, BE_W_VEC, &L->ob, err) ||
        ws_prep(ws, b, &L->ln2_w, H, 1, BE_W_VEC, &L->ln2g, err) ||
        ws_prep(ws, b, &L->ln2_b, H, 1, BE_W_VEC, &L->ln2b, err) ||
        ws_prep(ws, b, &L->fc1_w, I, H, kind, &L->fc1w, err) ||
        ws_prep(ws, b, &L->fc1_b, I, 1, BE_W_VEC, &L->fc1b, err) ||
        ws_prep(ws, b, &L->fc2_w, H, I, kind, &L->fc2w, err) ||
        ws_prep(ws, b, &L->fc2_b, H, 1, BE_W_VEC, &L->fc2b, err))
        return -1;
    if (!qkv) L->qkv_w = NULL; /* the backend keeps its own copy; ours was freed */
    if (!qkvb) L->qkv_b = NULL;
    return 0;
}

static void free_all(be *b, be_w **const *w, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (b) be_wfree(b, *w[i]);
        *w[i] = NULL;
    }
}

void enc_layer_unprepare(be *b, enc_layer *L) {
    be_w **lw[] = {&L->ln1g, &L->ln1b, &L->qkvw, &L->qkvb, &L->ow,   &L->ob,
                   &L->ln2g, &L->ln2b, &L->fc1w, &L->fc1b, &L->fc2w, &L->fc2b};
    free_all(b, lw, sizeof lw / sizeof *lw);
}

void enc_unprepare(be *b, be_w **const *w, size_t n, enc_layer *L, int layers) {
    free_all(b, w, n);
    for (int l = 0; L && l < layers; l++) enc_layer_unprepare(b, &L[l]);
}

void enc_layer_post_ln(be *b, const enc_layer *L, be_off x, int T, int H, int heads, int act, float eps, const int *off,
                       const int *len, int nseq, const int *keymask, be_off qkv, be_off att, be_off m) {
    const be_vtbl *v = b->v;
    v->linear(b, x, L->qkvw, L->qkvb, OPS_ACT_NONE, qkv, 0, T, 0, 0);
    v->attention(b, qkv, H, att, off, len, nseq, heads, 0, keymask);
    v->linear(b, att, L->ow, L->ob, OPS_ACT_NONE, x, 1, T, 0, 0);
    v->layernorm(b, x, L->ln1g, L->ln1b, x, T, H, eps);
    v->linear(b, x, L->fc1w, L->fc1b, act, m, 0, T, 0, 0);
    v->linear(b, m, L->fc2w, L->fc2b, OPS_ACT_NONE, x, 1, T, 0, 0);
    v->layernorm(b, x, L->ln2g, L->ln2b, x, T, H, eps);
}
