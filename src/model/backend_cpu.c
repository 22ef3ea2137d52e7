/* backend_cpu: the two CPU backends behind backend.h.
 *
 * "reference": the plain ops_*_ref kernels over the weights as given (the test oracle; every row of
 * the last layer is computed). "cpu": the fast path: the build's BLAS for few-row products, weights
 * prepacked for BLIS's micro-kernel for many-row ones (when the build has BLIS), the OpenMP kernels
 * of ops.c, and the pooled last layer.
 *
 * Both keep activations in one host workspace; they share everything but the kernels. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "../common/cs_proc.h"
#include "ops.h"
#include "ops_lp.h"
#include "safetensors.h"

typedef struct cpu_w {
    be_w h;
    const float *f;  /* plain float weight (not owned), or NULL when packed */
    ops_packed *p;   /* packed copy, or NULL */
    ops_lpw *lp;     /* F16 or Q8_0 copy (be.keep), or NULL */
    const void *raw; /* BE_W_TABLE: the source rows, in `dtype` */
    int dtype;
} cpu_w;

typedef struct cpu_be {
    be b;
    int ref;
    ops_ctx *o;      /* thread count and load-balancing state of the fast kernels */
    int busy_seen;   /* cpu_fit_threads: the last check found CPUs taken */
    size_t cap;      /* floats of workspace */
    float *scratch;  /* attention scratch */
    float *pscratch; /* packed-product scratch */
    float *tmp;      /* a product before it joins the residual stream: maxrows x maxk */
    size_t scr_cap, pscr_cap, tmp_cap;
    void *lpscr;      /* activations quantised for a Q8_0 product */
    size_t lpscr_cap; /* bytes */
    int fmts;         /* bit BE_KEEP_*: the formats linear weights are kept in (for info.precision) */
} cpu_be;

#define CB(b)    ((cpu_be *)(b))
#define CW(w)    ((const cpu_w *)(w))
#define AT(b, o) (CB(b)->b.host + (o))

static void cpu_destroy(be *b) {
    cpu_be *c = CB(b);
    free(c->b.host);
    free(c->scratch);
    free(c->pscratch);
    free(c->tmp);
    free(c->lpscr);
    ops_ctx_free(c->o);
    free(c);
}

/* Grows a buffer to at least `floats`; large ones on 2 MB-aligned memory the kernel may back with
 * huge pages: 1% faster per image at batch 8 (79 of 120 interleaved rounds won), likely because a
 * product's output rows are 3-12 KB apart, so each 6-row tile touches six 4 KB pages. The contents
 * need not survive: every pass rewrites them. */
static int grow(float **buf, size_t *cap, size_t floats) {
    if (floats <= *cap) return 0;
    size_t bytes = floats * sizeof(float), align = bytes >= (4u << 20) ? (2u << 20) : 64;
    float *n = NULL;
    if (posix_memalign((void **)&n, align, bytes)) return -1;
#ifdef MADV_HUGEPAGE
    if (align > 64) madvise(n, bytes, MADV_HUGEPAGE); /* advice only: its failure changes nothing */
#endif
    free(*buf);
    *buf = n;
    *cap = floats;
    return 0;
}

static int cpu_reserve(be *b, size_t floats, int maxseq, int hd, int maxrows, int maxk, cs_err *err) {
    cpu_be *c = CB(b);
    size_t scr = ops_attention_scratch(c->o, maxseq, hd), tmp = (size_t)maxrows * maxk,
           pscr = !c->ref && ops_pack_available() ? ops_linear_packed_scratch(maxrows, maxk) : 0;
    if (grow(&c->b.host, &c->cap, floats) || grow(&c->scratch, &c->scr_cap, scr) ||
        grow(&c->pscratch, &c->pscr_cap, pscr) || grow(&c->tmp, &c->tmp_cap, tmp))
        return cs_err_set(err, "out of memory for a %zu MB workspace",
                          (floats + scr + tmp + pscr) * sizeof(float) >> 20);
    size_t lps = ops_lp_scratch(maxrows, maxk, OPS_LP_Q8);
    if (lps > c->lpscr_cap) {
        void *n = NULL;
        if (posix_memalign(&n, 64, lps))
            return cs_errc(err, CS_ENOMEM, "out of memory for a %zu MB workspace", lps >> 20);
        free(c->lpscr);
        c->lpscr = n;
        c->lpscr_cap = lps;
    }
    c->b.info.work_bytes = (c->cap + c->scr_cap + c->pscr_cap + c->tmp_cap) * sizeof(float) + c->lpscr_cap;
    return 0;
}

/* info.precision names every format linear weights are kept in ("F32", "F16+Q8_0", ...) */
static void set_precision(cpu_be *c, int keep) {
    static const char *names[8] = {"F32", "F32", "F16", "F32+F16", "Q8_0", "F32+Q8_0", "F16+Q8_0", "F32+F16+Q8_0"};
    c->fmts |= 1 << keep;
    c->b.info.precision = names[c->fmts & 7];
}

static be_w *cpu_prepare(be *b, const void *data, int dtype, int n, int k, int kind, cs_err *err) {
    cpu_be *c = CB(b);
    cpu_w *w = calloc(1, sizeof *w);
    if (!w) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        return NULL;
    }
    w->h.n = n;
    w->h.k = k;
    w->dtype = dtype;
    if (kind == BE_W_TABLE) { /* rows are read (and widened) as they are gathered */
        w->raw = data;
        return &w->h;
    }
    int lpfmt = c->b.keep == BE_KEEP_F16 ? OPS_LP_F16 : OPS_LP_Q8;
    if (dtype == BE_LPW) { /* converted before (a cache): taken over as it is */
        ops_lpw *lw = (ops_lpw *)data;
        if (c->b.keep == BE_KEEP_F32 || (kind != BE_W_LINEAR && kind != BE_W_LINEAR_FEW) ||
            ops_lp_family(lw->fmt) != lpfmt || lw->n != n || lw->k != k) {
            free(w);
            cs_errc(err, CS_EINVAL, "a converted %dx%d weight does not match what is asked", n, k);
            return NULL;
        }
        w->lp = lw;
        w->h.copied = 1;
        c->b.info.weight_bytes += lw->bytes;
        set_precision(c, c->b.keep);
        return &w->h;
    }
    if (dtype != BE_F32) {
        free(w);
        cs_err_set(err, "the CPU backend takes F32 weights");
        return NULL;
    }
    if (c->b.keep != BE_KEEP_F32 && (kind == BE_W_LINEAR || kind == BE_W_LINEAR_FEW)) {
        /* q8 weights in panels for the outer-product kernels (ops_q8p.c, ops_lp_fmt_for); the
         * reference backend keeps the rows its kernel was written for */
        w->lp = ops_lp_pack(c->o, data, n, k, c->ref ? lpfmt : ops_lp_fmt_for(lpfmt));
        if (!w->lp) {
            free(w);
            cs_errc(err, CS_ENOMEM, "out of memory converting a %dx%d weight", n, k);
            return NULL;
        }
        w->h.copied = 1;
        c->b.info.weight_bytes += w->lp->bytes;
        set_precision(c, c->b.keep);
        return &w->h;
    }
    if (kind == BE_W_LINEAR || kind == BE_W_LINEAR_FEW) set_precision(c, BE_KEEP_F32);
    /* The vision tower's products have 50+ rows (a patch grid per image): pack its weights once.
     * The text tower keeps the CBLAS path, whose small-m kernels suit a short query better. */
    if (kind == BE_W_LINEAR && !c->ref && ops_pack_available()) {
        w->p = ops_pack(c->o, data, n, k);
        if (!w->p) {
            free(w);
            cs_err_set(err, "out of memory packing a %dx%d weight", n, k);
            return NULL;
        }
        w->h.copied = 1;
        c->b.info.weight_bytes += ops_packed_bytes(w->p);
        return &w->h;
    }
    w->f = data;
    return &w->h;
}

static void cpu_wfree(be *b, be_w *w) {
    cpu_w *cw = (cpu_w *)w;
    if (cw->p) CB(b)->b.info.weight_bytes -= ops_packed_bytes(cw->p);
    if (cw->lp) CB(b)->b.info.weight_bytes -= cw->lp->bytes;
    ops_packed_free(cw->p);
    ops_lp_free(cw->lp);
    free(cw);
}

const struct ops_lpw *be_cpu_lpw(const be_w *w) { return CW(w)->lp; }

static void cpu_write(be *b, be_off dst, const float *src, size_t n) { memcpy(AT(b, dst), src, n * sizeof *src); }
static void cpu_read(be *b, be_off src, float *dst, size_t n) { memcpy(dst, AT(b, src), n * sizeof *dst); }
static int cpu_sync(be *b, cs_err *err) {
    (void)b;
    (void)err;
    return 0;
}

/* y[m, n] = act(y + b) (b may be NULL); ops_bias_act_ref has no OPS_ACT_NONE */
static void add_bias_act(const cpu_be *c, float *y, const float *b, int m, int n, int act) {
    if (!c->ref)
        ops_bias_act(c->o, y, b, m, n, act);
    else if (act != OPS_ACT_NONE)
        ops_bias_act_ref(y, b, m, n, act);
    else if (b)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) y[(size_t)i * n + j] += b[j];
}

static void cpu_linear(be *b, be_off xo, const be_w *w, const be_w *bias, int act, be_off yo, int resid, int m, int c0,
                       int c1) {
    cpu_be *c = CB(b);
    const cpu_w *W = CW(w);
    const float *x = AT(b, xo), *bv = bias ? CW(bias)->f : NULL;
    float *y = AT(b, yo);
    int n = w->n, k = w->k;
    if (W->p) {
        if (c1 > 0)
            ops_linear_packed_cols(c->o, x, W->p, bv, act, resid ? NULL : y, resid ? y : NULL, m, c0, c1, c->pscratch);
        else
            ops_linear_packed(c->o, x, W->p, bv, act, resid ? NULL : y, resid ? y : NULL, m, c->pscratch);
        return;
    }
    /* plain weights compute every column; c0..c1 is an upper bound on what the caller reads */
    if (W->lp) { /* F16/Q8_0: the product alone, then the same passes as for F32 */
        float *dst = resid ? c->tmp : y;
        if (c->ref)
            ops_lp_linear_impl(c->o, x, W->lp, dst, m, c->lpscr, OPS_LP_REF);
        else
            ops_lp_linear(c->o, x, W->lp, dst, m, c->lpscr);
        if (resid)
            ops_residual(c->o, y, c->tmp, bv, m, n);
        else
            add_bias_act(c, y, bv, m, n, act);
        return;
    }
    if (c->ref) {
        ops_linear_ref(x, W->f, resid || act != OPS_ACT_NONE ? NULL : bv, resid ? c->tmp : y, m, n, k);
        if (resid)
            ops_residual(c->o, y, c->tmp, bv, m, n);
        else if (act != OPS_ACT_NONE)
            ops_bias_act_ref(y, bv, m, n, act);
    } else if (resid) { /* the GEMM writes with beta = 0, then one pass adds it and the bias to the stream */
        ops_linear(c->o, x, W->f, NULL, c->tmp, m, n, k);
        ops_residual(c->o, y, c->tmp, bv, m, n);
    } else if (act == OPS_ACT_NONE) {
        ops_linear(c->o, x, W->f, bv, y, m, n, k);
    } else {
        ops_linear(c->o, x, W->f, NULL, y, m, n, k);
        ops_bias_act(c->o, y, bv, m, n, act);
    }
}

static void cpu_layernorm(be *b, be_off x, const be_w *g, const be_w *bias, be_off y, int m, int d, float eps) {
    if (CB(b)->ref)
        ops_layernorm_ref(AT(b, x), CW(g)->f, CW(bias)->f, AT(b, y), m, d, eps);
    else
        ops_layernorm(CB(b)->o, AT(b, x), CW(g)->f, CW(bias)->f, AT(b, y), m, d, eps);
}

static void cpu_linear_ln(be *b, be_off xo, const be_w *w, const be_w *bias, be_off yo, int m, const be_w *g,
                          const be_w *gb, be_off ho, float eps) {
    cpu_be *c = CB(b);
    const cpu_w *W = CW(w);
    if (c->ref || W->p) { /* the reference's two steps; packed weights add the residual tile by tile */
        cpu_linear(b, xo, w, bias, OPS_ACT_NONE, yo, 1, m, 0, 0);
        cpu_layernorm(b, yo, g, gb, ho, m, w->n, eps);
        return;
    }
    /* the product alone, then the residual and the layer norm in one pass over the rows */
    if (W->lp)
        ops_lp_linear(c->o, AT(b, xo), W->lp, c->tmp, m, c->lpscr);
    else
        ops_linear(c->o, AT(b, xo), W->f, NULL, c->tmp, m, w->n, w->k);
    ops_residual_layernorm(c->o, AT(b, yo), c->tmp, bias ? CW(bias)->f : NULL, CW(g)->f, CW(gb)->f, AT(b, ho), m, w->n,
                           eps);
}

static void cpu_attention(be *b, be_off qkvo, int H, be_off outo, const int *seq_off, const int *seq_len, int nseq,
                          int heads, int causal, const int *keymask) {
    cpu_be *c = CB(b);
    const float *qkv = AT(b, qkvo);
    float *att = AT(b, outo);
    int hd = H / heads;
    if (c->ref)
        for (int s = 0; s < nseq; s++) {
            const float *q = qkv + (size_t)seq_off[s] * 3 * H;
            ops_attention_ref(q, q + H, q + 2 * H, 3 * H, att + (size_t)seq_off[s] * H, H, seq_len[s], heads, hd,
                              causal, keymask ? keymask + seq_off[s] : NULL);
        }
    else
        ops_attention_batch(c->o, qkv, qkv + H, qkv + 2 * H, 3 * H, att, H, seq_off, seq_len, nseq, heads, hd, causal,
                            keymask, c->scratch);
}

/* Moves row seq_off[s] + pool[s] of a[., ld] to row s, for each sequence s, in order: row s is
 * never past its source, so no row is overwritten before it is moved. */
static void cpu_take_rows(be *b, be_off ao, int ld, const int *seq_off, const int *pool, int nseq) {
    float *a = AT(b, ao);
    for (int s = 0; s < nseq; s++)
        memmove(a + (size_t)s * ld, a + ((size_t)seq_off[s] + (size_t)pool[s]) * ld, (size_t)ld * sizeof *a);
}

/* The last layer's attention when only the pooled rows are read: keys and values for every row,
 * the query and its attention for one row per sequence (pool[s]), into att rows 0..nseq-1. h holds
 * ln1(x) and is overwritten. */
static void cpu_attention_pooled(be *b, const be_w *qkv_w, const be_w *qkv_b, be_off ho, be_off qkvo, be_off atto,
                                 int T, int H, const int *seq_off, const int *seq_len, const int *pool, int nseq,
                                 int heads, int causal, const int *keymask) {
    cpu_be *c = CB(b);
    float *h = AT(b, ho), *qkv = AT(b, qkvo), *att = AT(b, atto);
    const cpu_w *W = CW(qkv_w);
    const float *bv = CW(qkv_b)->f, *q;
    int ldq;
    if (W->p) {
        /* K and V columns for all rows; then the pooled rows of ln1(x) to the top of h, and their
         * Q columns only, so rows 0..nseq-1 of qkv keep their K and V */
        ops_linear_packed_cols(c->o, h, W->p, bv, OPS_ACT_NONE, qkv, NULL, T, H, 3 * H, c->pscratch);
        cpu_take_rows(b, ho, H, seq_off, pool, nseq);
        ops_linear_packed_cols(c->o, h, W->p, bv, OPS_ACT_NONE, qkv, NULL, nseq, 0, H, c->pscratch);
        q = qkv;
        ldq = 3 * H;
    } else { /* BLAS on the plain weight: all of Q, K, V, then the pooled queries copied to h */
        if (W->lp) {
            ops_lp_linear(c->o, h, W->lp, qkv, T, c->lpscr);
            add_bias_act(c, qkv, bv, T, 3 * H, OPS_ACT_NONE);
        } else
            ops_linear(c->o, h, W->f, bv, qkv, T, 3 * H, H);
        for (int s = 0; s < nseq; s++)
            memcpy(h + (size_t)s * H, qkv + ((size_t)seq_off[s] + (size_t)pool[s]) * 3 * H, (size_t)H * sizeof *h);
        q = h;
        ldq = H;
    }
    ops_attention_rows(c->o, q, ldq, pool, qkv + H, qkv + 2 * H, 3 * H, att, H, seq_off, seq_len, nseq, heads,
                       H / heads, causal, keymask, c->scratch);
}

static void table_row(const cpu_w *t, int32_t id, float *dst) {
    int H = t->h.k;
    if (t->dtype == BE_F32) {
        memcpy(dst, (const float *)t->raw + (size_t)id * H, (size_t)H * sizeof *dst);
        return;
    }
    const unsigned char *row = (const unsigned char *)t->raw + (size_t)id * H * 2;
    for (int i = 0; i < H; i++) {
        uint16_t u;
        memcpy(&u, row + (size_t)i * 2, 2);
        dst[i] = t->dtype == BE_F16 ? st_f16_to_f32(u) : st_bf16_to_f32(u);
    }
}

static void cpu_embed_tokens(be *b, be_off xo, const be_w *table, const be_w *pos, const int32_t *const *ids,
                             const int *lens, int batch, int H) {
    float *x = AT(b, xo);
    const float *pe0 = CW(pos)->f;
    for (int s = 0, o = 0; s < batch; s++) {
        for (int i = 0; i < lens[s]; i++) {
            float *row = x + (size_t)(o + i) * H;
            table_row(CW(table), ids[s][i], row);
            const float *pe = pe0 + (size_t)i * H;
            for (int j = 0; j < H; j++) row[j] += pe[j];
        }
        o += lens[s];
    }
}

static void cpu_patch_embed(be *b, be_off xo, be_off pixo, be_off colso, be_off tmpo, int batch, int S, int p, int H,
                            const be_w *patch_w, const be_w *class_emb, const be_w *pos) {
    int g = S / p, np = g * g, n = np + 1, K = 3 * p * p, nth = ops_ctx_threads(CB(b)->o);
    const float *pixels = AT(b, pixo), *cls = CW(class_emb)->f, *pe0 = CW(pos)->f;
    float *cols = AT(b, colso), *x = AT(b, xo), *h = AT(b, tmpo);
    /* im2col: row (b, patch) holds the patch's pixels in the conv weight's (c, ky, kx) order */
#pragma omp parallel for schedule(static) num_threads(nth) if (batch * np > 16)
    for (int r = 0; r < batch * np; r++) {
        int bi = r / np, pi = r % np, py = pi / g, px = pi % g;
        float *dst = cols + (size_t)r * K;
        for (int ch = 0; ch < 3; ch++)
            for (int ky = 0; ky < p; ky++)
                memcpy(dst + (size_t)(ch * p + ky) * p,
                       pixels + (((size_t)bi * 3 + ch) * S + (size_t)py * p + ky) * S + (size_t)px * p,
                       (size_t)p * sizeof(float));
    }
    /* patch embeddings land in tmp, then are placed after each image's class token */
    cpu_linear(b, colso, patch_w, NULL, OPS_ACT_NONE, tmpo, 0, batch * np, 0, 0);
    for (int bi = 0; bi < batch; bi++) {
        float *xb = x + (size_t)bi * n * H;
        for (int j = 0; j < H; j++) xb[j] = cls[j] + pe0[j];
        for (int i = 0; i < np; i++) {
            float *row = xb + (size_t)(i + 1) * H;
            const float *e = h + ((size_t)bi * np + i) * H, *pe = pe0 + (size_t)(i + 1) * H;
            for (int j = 0; j < H; j++) row[j] = e[j] + pe[j];
        }
    }
}

/* An OpenMP team on a machine whose CPUs are taken waits at every barrier for a thread the
 * scheduler has not run: with two threads on two busy CPUs a tower took 2-10x the time of one
 * thread (docs/performance.md). So a run uses only the CPUs that are free when it starts, once two
 * checks in a row found them taken: a task that ran for an instant must not halve a quiet
 * machine's next run. */
static void cpu_fit_threads(be *b) {
    cpu_be *c = CB(b);
    int max = ops_ctx_max_threads(c->o), n = cs_proc_cpus_free(max), busy = n < max;
    ops_ctx_set_threads(c->o, busy && c->busy_seen ? n : max);
    c->busy_seen = busy;
}

static const be_vtbl cpu_vtbl = {
    cpu_destroy,
    cpu_reserve,
    cpu_prepare,
    cpu_wfree,
    cpu_write,
    cpu_read,
    cpu_sync,
    cpu_linear,
    cpu_layernorm,
    cpu_attention,
    cpu_attention_pooled,
    cpu_take_rows,
    cpu_embed_tokens,
    cpu_patch_embed,
    cpu_linear_ln,
    cpu_fit_threads,
};

static be *cpu_new(int ref, int threads) {
    cpu_be *c = calloc(1, sizeof *c);
    if (!c || !(c->o = ops_ctx_new(threads))) {
        free(c);
        return NULL;
    }
    c->b.v = &cpu_vtbl;
    c->ref = ref;
    c->b.caps = BE_CAP_HOST | (ref ? 0 : BE_CAP_POOLED);
    c->b.info.name = ref ? "reference" : "cpu";
    snprintf(c->b.info.device, sizeof c->b.info.device, "CPU (%s)", ref ? "reference kernels" : ops_blas_name());
    c->b.info.precision = "F32";
    return &c->b;
}

be *be_ref_new(int threads) { return cpu_new(1, threads); }
be *be_cpu_new(int threads) { return cpu_new(0, threads); }
