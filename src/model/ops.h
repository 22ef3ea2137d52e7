/* ops: the numeric kernels of the CLIP towers.
 *
 * Each kernel has a plain reference version (ops_*_ref in ops.c: straightforward loops on one
 * thread, kept forever as the ground truth; they never call the fast path) and the fast path
 * used by default. The fast linear goes through the BLAS chosen at build time (the Makefile's
 * BLAS= compiles one ops_gemm_<vendor>.c); the rest are cache-friendly loops parallelised with
 * OpenMP (ops_fast.c). Tests compare the two paths.
 *
 * Conventions: matrices are row-major float32. A linear layer's weight is [out, in] as PyTorch
 * stores it, so y = x W^T + b.
 * Threading: the fast kernels take an ops_ctx, which holds their thread count and the
 * load-balancing state of the split products; the CPU backend owns one. Nothing is process-wide
 * but BLIS's blocksizes (constants of the CPU), its configuration (BLIS_ARCH_TYPE, set once on a
 * CPU newer than BLIS: blisarch.h) and the BLAS libraries' own thread knobs, which each call sets
 * from its ops_ctx. One call at a time per ops_ctx. */
#ifndef OPS_H
#define OPS_H

#include <stddef.h>

typedef struct ops_ctx ops_ctx;
/* A context for threads >= 1 (less is taken as 1). NULL when out of memory. */
ops_ctx *ops_ctx_new(int threads);
void ops_ctx_free(ops_ctx *o); /* NULL is a no-op */
int ops_ctx_threads(const ops_ctx *o); /* the threads the next runs use */
int ops_ctx_max_threads(const ops_ctx *o); /* the count it was made for */
/* The threads of the next runs: n, within 1..the count it was made for (scratch is sized for that).
 * Not while a run is in progress on o. */
void ops_ctx_set_threads(ops_ctx *o, int n);

/* y[m, n] = x[m, k] . w[n, k]^T (+ b[n] if b is not NULL). */
void ops_linear(ops_ctx *o, const float *x, const float *w, const float *b, float *y, int m, int n, int k);
void ops_linear_ref(const float *x, const float *w, const float *b, float *y, int m, int n, int k);

/* The residual stream: x[m, n] += y[m, n] + b[n] in one pass (b may be NULL). The GEMM before it
 * writes y with beta = 0: oneDNN's beta = 1 path measured slower here than this extra pass. */
void ops_residual(ops_ctx *o, float *x, const float *y, const float *b, int m, int n);

/* ops_residual, then h[m, n] = layernorm(x) * g + beta, row by row in one parallel pass: each
 * row is still in cache for the layer norm, and one parallel region replaces two. The same
 * results as ops_residual followed by ops_layernorm_ref, bit for bit. h may not overlap x. */
void ops_residual_layernorm(ops_ctx *o, float *x, const float *y, const float *b, const float *g, const float *beta,
                            float *h, int m, int n, float eps);

/* x[m, n] = act(x[m, n] + b[n]) in one pass (b may be NULL). The fast version also takes
 * OPS_ACT_NONE (the bias alone); the reference does not (it would apply relu). */
void ops_bias_act(ops_ctx *o, float *x, const float *b, int m, int n, int act);
void ops_bias_act_ref(float *x, const float *b, int m, int n, int act);

/* y[m, d] = layernorm(x[m, d]) * g + b (biased variance, as torch). y may equal x. The fast
 * version runs the reference's rows on o's threads: the same results. */
void ops_layernorm_ref(const float *x, const float *g, const float *b, float *y, int m, int d, float eps);
void ops_layernorm(ops_ctx *o, const float *x, const float *g, const float *b, float *y, int m, int d, float eps);

enum { OPS_ACT_QUICK_GELU, OPS_ACT_GELU, OPS_ACT_GELU_TANH, OPS_ACT_RELU, OPS_ACT_NONE };
/* In place: quick_gelu x*sigmoid(1.702x); gelu (exact, erf); gelu_tanh; relu (OPS_ACT_NONE is
 * only for ops_linear_packed). */
void ops_act(ops_ctx *o, float *x, size_t n, int act);
void ops_act_ref(float *x, size_t n, int act); /* libm expf/erff/tanhf */

/* Multi-head scaled dot-product attention for one sequence.
 * qkv: q, k, v each [n, heads * hd] with row stride ld. out: [n, heads * hd] with stride ldo.
 * causal: position i attends to j <= i. keymask: NULL, or n flags (0 = key is padding).
 * scratch: ops_attention_scratch(o, n, hd) floats (for o's thread count). */
size_t ops_attention_scratch(const ops_ctx *o, int n, int hd);
/* The plain version: one dot product per score, libm expf. Needs no scratch. */
void ops_attention_ref(const float *q, const float *k, const float *v, int ld, float *out, int ldo, int n, int heads,
                       int hd, int causal, const int *keymask);
void ops_attention(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo, int n,
                   int heads, int hd, int causal, const int *keymask, float *scratch);
/* The same over nseq sequences stacked in q, k, v and out: sequence s is rows seq_off[s] ..
 * seq_off[s] + seq_len[s] - 1 (keymask, if given, is indexed by row). One parallel region for
 * all (sequence, head) pairs. scratch: ops_attention_scratch(longest sequence, hd) floats.
 * Softmax uses exp_poly (within 2 ulp of expf). In builds with BLIS, Q K^T and P V run on its
 * sgemm micro-kernel (its own summation order, FMA); otherwise plain loops summing in the
 * reference's order. */
void ops_attention_batch(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                         const int *seq_off, const int *seq_len, int nseq, int heads, int hd, int causal,
                         const int *keymask, float *scratch);

/* ops_attention_batch's AVX-512 kernel, which it runs whenever ops_attention_avx512_ok(hd) (the
 * build targets AVX-512F and hd is a multiple of 16): scores and P V as chains of FMAs in 16-wide
 * registers (summed in the reference's order, each step fused), softmax as above. Exposed for the
 * tests; does nothing when not ok. */
int ops_attention_avx512_ok(int hd);
void ops_attention_avx512(ops_ctx *o, const float *q, const float *k, const float *v, int ld, float *out, int ldo,
                          const int *seq_off, const int *seq_len, int nseq, int heads, int hd, int causal,
                          const int *keymask, float *scratch);

/* The same attention for one query row per sequence: what a tower's last layer needs when only
 * its pooled rows are read. Sequence s's query is row s of q (row stride ldq), at position
 * qpos[s] within the sequence (the causal limit); its keys and values are rows seq_off[s] ..
 * seq_off[s] + seq_len[s] - 1 of k and v (stride ld), keymask by those rows. Writes row s of out
 * (stride ldo). scratch: ops_attention_scratch(longest sequence, hd) floats. Plain loops: a few
 * dot products per (sequence, head). */
void ops_attention_rows(ops_ctx *o, const float *q, int ldq, const int *qpos, const float *k, const float *v, int ld,
                        float *out, int ldo, const int *seq_off, const int *seq_len, int nseq, int heads, int hd,
                        int causal, const int *keymask, float *scratch);

/* ---- Prepacked weights ----
 * A CBLAS call repacks its weight matrix into the micro-kernel's panel order on every call, and
 * the bias, activation and residual then take extra passes over the output. ops_pack lays a
 * weight out once in the order BLIS's sgemm micro-kernel reads (columns in panels of NR, K in
 * blocks of KC, the blocksizes BLIS reports for this CPU), and ops_linear_packed drives that
 * micro-kernel over it, finishing each output tile (bias, activation or residual) while it is
 * still in cache. Used by the vision tower, whose products always have 50+ rows; measured in
 * docs/performance.md.
 * Available in builds with BLIS (BLAS=auto or blis): ops_pack_available() says so; elsewhere
 * ops_pack returns NULL and callers keep ops_linear on the plain weight. */
typedef struct ops_packed ops_packed;

int ops_pack_available(void);
/* Packs w[n, k] (the PyTorch layout of ops_linear). Returns a new packed weight (free with
 * ops_packed_free; w is not referenced afterwards), or NULL when the build has no packed path or
 * memory ran out (errno ENOMEM). */
ops_packed *ops_pack(ops_ctx *o, const float *w, int n, int k);
void ops_packed_free(ops_packed *p); /* NULL is a no-op */
size_t ops_packed_bytes(const ops_packed *p);
/* Floats of scratch ops_linear_packed needs for x[m, k]. */
size_t ops_linear_packed_scratch(int m, int k);
/* If resid is NULL: y[m, n] = act(x[m, k] . w^T + b), tile by tile. Otherwise the product is
 * accumulated into the residual stream in place, resid[m, n] += x . w^T + b, and y is not used
 * (may be NULL; act must be OPS_ACT_NONE). b may be NULL. The same sums as ops_linear +
 * ops_bias_act / ops_residual, up to float rounding order (with resid, each K block's partial
 * product is added to resid in turn, then b). */
void ops_linear_packed(ops_ctx *o, const float *x, const ops_packed *w, const float *b, int act, float *y, float *resid,
                       int m, float *scratch);
/* The same for output columns [c0, c1) only (0 <= c0 < c1 <= n): y and resid keep their row
 * stride n, and b is indexed by column as before. Work is done in whole panels of the packed
 * layout, so the columns from c0 rounded down to a panel start (BLIS's NR) up to c0 are written
 * too; none at or past c1. */
void ops_linear_packed_cols(ops_ctx *o, const float *x, const ops_packed *w, const float *b, int act, float *y,
                            float *resid, int m, int c0, int c1, float *scratch);

/* Names the BLAS the fast path was built with ("OpenBLAS 0.3.21", "BLIS 0.9.0 (zen3)", "oneDNN",
 * "reference"); with BLIS, the configuration (kernels) it runs, as ops_blis_config. */
const char *ops_blas_name(void);
/* The BLIS configuration in use ("zen3", "haswell", "generic": BLIS's plain C), initialising BLIS
 * (after choosing it for a CPU newer than BLIS, blisarch.h); NULL in builds without BLIS. */
const char *ops_blis_config(void);

/* L2-normalises each of m rows of length d in place (a zero row stays zero). */
void ops_l2_normalize(float *x, int m, int d);

#endif
