/* ops_nopack: the prepacked-weight and micro-kernel attention entry points for builds without
 * BLIS (BLAS=openblas, dnnl, none; the Makefile compiles this file instead of ops_blis.c).
 * ops_pack_available() is 0, so callers keep ops_linear on the plain weights and
 * ops_attention_batch runs its own loops. */
#include "ops.h"
#include "ops_int.h"

#include <stdlib.h>

struct ops_packed {
    int unused;
};
int ops_pack_available(void) { return 0; }
const char *ops_blis_config(void) { return NULL; }
ops_packed *ops_pack(ops_ctx *o, const float *w, int n, int k) {
    (void)o;
    (void)w;
    (void)n;
    (void)k;
    return NULL;
}
void ops_packed_free(ops_packed *p) { (void)p; }
size_t ops_packed_bytes(const ops_packed *p) {
    (void)p;
    return 0;
}
size_t ops_linear_packed_scratch(int m, int k) {
    (void)m;
    (void)k;
    return 0;
}
size_t ops_attention_blis_scratch(const ops_ctx *o, int n, int hd) {
    (void)o;
    (void)n;
    (void)hd;
    return 0;
}
int ops_attention_blis(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                       const int *seq_off, const int *seq_len, int nseq, int heads, int hd, int causal,
                       const int *keymask, float *scratch) {
    (void)o;
    (void)q;
    (void)k;
    (void)v;
    (void)ld;
    (void)out;
    (void)ldo;
    (void)seq_off;
    (void)seq_len;
    (void)nseq;
    (void)heads;
    (void)hd;
    (void)causal;
    (void)keymask;
    (void)scratch;
    return 0;
}
void ops_linear_packed(ops_ctx *o, const float *x, const ops_packed *w, const float *b, int act, float *y, float *resid,
                       int m, float *scratch) {
    (void)o;
    (void)x;
    (void)w;
    (void)b;
    (void)act;
    (void)y;
    (void)resid;
    (void)m;
    (void)scratch;
    abort(); /* unreachable: ops_pack never returns a weight in this build */
}
void ops_linear_packed_cols(ops_ctx *o, const float *x, const ops_packed *w, const float *b, int act, float *y,
                            float *resid, int m, int c0, int c1, float *scratch) {
    (void)o;
    (void)x;
    (void)w;
    (void)b;
    (void)act;
    (void)y;
    (void)resid;
    (void)m;
    (void)c0;
    (void)c1;
    (void)scratch;
    abort(); /* unreachable, as ops_linear_packed */
}
