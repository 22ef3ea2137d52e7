/* backend: the seam between the CLIP towers (clip.c) and the hardware that runs them, after
 * ggml-backend's shape: a backend object with its own state, weights it prepares once, and a small
 * set of operations on activations that live in the backend's own workspace.
 *
 * Backends: "reference" (the plain ops_*_ref kernels, kept forever as the test oracle), "cpu" (the
 * fast CPU path: BLAS/BLIS prepacked weights, OpenMP loops; the vendor is chosen by the Makefile's
 * BLAS=) and "vulkan" (backend_vk.c: GLSL compute shaders). clip.c only calls the operations below,
 * so a further backend (CUDA) fits without touching it.
 *
 * Activations: the workspace is an array of floats owned by the backend (host memory on the CPU,
 * device memory on a GPU). clip.c addresses it by float offsets (be_off); it never dereferences
 * them. Host data enters with be_write and leaves with be_read; small host index arrays (sequence
 * offsets, pooled rows, token ids) are passed to the operations directly and copied by the backend
 * as it needs.
 *
 * Ordering: operations run in call order. A GPU backend records them and submits the whole pass at
 * be_sync (one submission per forward pass); be_read's destination is filled only after be_sync
 * returns 0. The CPU backends run each operation at once (be_sync only reports errors).
 *
 * Errors: operations return nothing; a failure (device lost, out of device memory) is kept and
 * reported by the next be_sync, after which the pass's outputs are not valid. Library code: nothing
 * is printed.
 *
 * Threading: one pass at a time per backend (clip.c holds its context lock). */
#ifndef BACKEND_H
#define BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"

typedef struct be be;
typedef struct be_w be_w; /* a prepared weight: this head, then backend-specific fields */
struct be_w {
    int n, k;   /* rows and columns ([n] for a vector: k = 1) */
    int copied; /* 1: the backend holds its own copy; the caller may drop the source */
};
typedef size_t be_off; /* float offset into the backend's workspace */

/* What a weight is used as; decides how a backend prepares it. */
enum {
    BE_W_VEC,        /* bias, layer norm gain/bias, class token, positions: read as float rows */
    BE_W_LINEAR,     /* [n, k] linear weight (PyTorch layout), many-row products (vision tower) */
    BE_W_LINEAR_FEW, /* [n, k] linear weight whose products have few rows (text tower, projections) */
    BE_W_TABLE       /* [n, k] embedding table, rows gathered by id; may be F16/BF16 on the host */
};

/* Source element types for be_prepare. BE_LPW (CPU backends, linear kinds only): data is an
 * ops_lpw (ops_lp.h) already in be.keep's format, read back from a cache; on success the backend
 * owns it. */
enum { BE_F32, BE_F16, BE_BF16, BE_LPW };

/* How the CPU backends keep linear weights (BE_W_LINEAR, BE_W_LINEAR_FEW) prepared from now on:
 * the caller sets be.keep before preparing a tower's weights (so each tower may differ). F32:
 * as given (packed or used in place); F16 and Q8 (q8_0): converted copies, ops_lp.h. Other
 * backends ignore it (Vulkan has its own F16/F32 choice). */
enum { BE_KEEP_F32, BE_KEEP_F16, BE_KEEP_Q8 };

/* Capabilities. */
enum {
    BE_CAP_POOLED = 1, /* implements be_attention_pooled's short cut (else clip.c runs the full last layer) */
    BE_CAP_HOST = 2    /* the workspace is host memory: be_host() is valid */
};

typedef struct be_info {
    const char *name;      /* "reference", "cpu", "vulkan" */
    char device[128];      /* "CPU (BLIS)", "NVIDIA H200 (discrete)", ... */
    char driver[128];      /* driver name and version, or "" on the CPU */
    const char *precision; /* weights as the backend keeps them: "F32", "F16" */
    uint64_t weight_bytes; /* bytes of prepared weights (device memory on a GPU; packed/copied on the CPU) */
    uint64_t work_bytes;   /* bytes of workspace and staging */
    double upload_ms;      /* time spent preparing weights so far */
    uint64_t dispatches;   /* kernels recorded so far (a GPU's dispatches; 0 on the CPU): per pass by difference */
} be_info;

typedef struct be_vtbl {
    void (*destroy)(be *b);
    int (*reserve)(be *b, size_t floats, int maxseq, int hd, int maxrows, int maxk, cs_err *err);
    be_w *(*prepare)(be *b, const void *data, int dtype, int n, int k, int kind, cs_err *err);
    void (*wfree)(be *b, be_w *w);
    void (*write)(be *b, be_off dst, const float *src, size_t n);
    void (*read)(be *b, be_off src, float *dst, size_t n);
    int (*sync)(be *b, cs_err *err);
    void (*linear)(be *b, be_off x, const be_w *w, const be_w *bias, int act, be_off y, int resid, int m, int c0,
                   int c1);
    void (*layernorm)(be *b, be_off x, const be_w *g, const be_w *bias, be_off y, int m, int d, float eps);
    void (*attention)(be *b, be_off qkv, int H, be_off out, const int *seq_off, const int *seq_len, int nseq, int heads,
                      int causal, const int *keymask);
    void (*attention_pooled)(be *b, const be_w *qkv_w, const be_w *qkv_b, be_off h, be_off qkv, be_off att, int T,
                             int H, const int *seq_off, const int *seq_len, const int *pool, int nseq, int heads,
                             int causal, const int *keymask);
    void (*take_rows)(be *b, be_off a, int ld, const int *seq_off, const int *pool, int nseq);
    void (*embed_tokens)(be *b, be_off x, const be_w *table, const be_w *pos, const int32_t *const *ids,
                         const int *lens, int batch, int H);
    void (*patch_embed)(be *b, be_off x, be_off pixels, be_off cols, be_off tmp, int batch, int S, int p, int H,
                        const be_w *patch_w, const be_w *class_emb, const be_w *pos);
    /* Optional (NULL: the caller runs linear with resid = 1, then layernorm): the residual stream
     * y[m, n] += x . w^T + bias, then h = layernorm(y) * g + gb, what a pre-LN layer does after its
     * out-projection and after its MLP. The CPU backend does the add and the norm in one pass. */
    void (*linear_ln)(be *b, be_off x, const be_w *w, const be_w *bias, be_off y, int m, const be_w *g, const be_w *gb,
                      be_off h, float eps);
    /* Optional (NULL: a device that does not share the CPUs): the next runs use only as many of
     * the backend's threads as CPUs are free now (cs_proc_cpus_free). */
    void (*fit_threads)(be *b);
} be_vtbl;

/* The common head of every backend object. */
struct be {
    const be_vtbl *v;
    int caps;
    be_info info;
    float *host; /* BE_CAP_HOST: the workspace */
    int keep;    /* BE_KEEP_*: the CPU backends' linear weights from the next be_prepare on */
};

/* Creates the reference backend (plain loops). threads (>= 1) serves only the data movement
 * between its kernels (im2col, residual adds). Never fails but out of memory (NULL). */
be *be_ref_new(int threads);
/* Creates the fast CPU backend (the build's BLAS, BLIS prepacking when available) on threads
 * threads (>= 1). Its thread count and load-balancing state are its own (an ops_ctx). */
be *be_cpu_new(int threads);

/* Vulkan. dev: -1 = auto (discrete, then integrated GPU; never a CPU implementation such as
 * lavapipe), else the index in be_vk_list's order (any type, lavapipe included). f16: keep linear
 * weights in F16 (else F32). Returns NULL with *err saying why (no loader, no device, no suitable
 * device, creation failed); callers fall back to a CPU backend. *found is set to 1 once a device
 * was chosen (so a later failure is worth telling the user about even under "auto"). dev -1 looks
 * for the GPU in a short-lived child process first (once per process, the answer kept): the
 * Vulkan drivers (Mesa's bring LLVM, about 50 MB) are loaded into this process only when a GPU
 * will be used; dev >= 0 and be_vk_list load them here. */
be *be_vk_new(int dev, int f16, int *found, cs_err *err); /* *found: 1 when a device was chosen */
/* Writes one line per Vulkan device ("0: NVIDIA H200 (discrete, driver ...)") into buf (NUL-ended,
 * truncated at n). Returns the number of devices, or -1 with *err when there is no loader/driver. */
int be_vk_list(char *buf, size_t n, cs_err *err);
/* 1 when the build has the Vulkan backend. */
int be_vk_built(void);

void be_free(be *b); /* NULL is a no-op */

/* A CPU backend's F16/Q8_0 copy of a prepared linear weight (to save it to a cache), or NULL
 * (an F32 weight). Only for weights of the CPU backends (caps BE_CAP_HOST). */
const struct ops_lpw *be_cpu_lpw(const be_w *w);

/* Opens the backend for a device name (NULL: $CLIPSEEK_DEVICE, else "auto"; "reference": the
 * reference kernels). f32: a GPU keeps F32 weights (else F16). threads: a CPU backend's thread
 * count (>= 1). When a GPU is asked for but cannot
 * be used, returns the fast CPU backend and writes why into note (nn bytes; else note is ""),
 * with *loud = 1 when the user should be told (a device named, or a GPU found that failed).
 * Returns NULL with *err only for a bad device name or out of memory. */
be *be_open(const char *device, int f32, int threads, char *note, size_t nn, int *loud, cs_err *err);

/* Parses a device name: "auto", "cpu", "vulkan" (= auto among GPUs), "vulkan:N". Returns 0 and sets
 * *kind (0 auto, 1 cpu, 2 vulkan) and *index (-1 or N), or -1 with *err. */
int be_parse_device(const char *s, int *kind, int *index, cs_err *err);

/* Thin wrappers (inline calls through the table). */
static inline void be_fit_threads(be *b) {
    if (b->v->fit_threads) b->v->fit_threads(b);
}
static inline int be_reserve(be *b, size_t f, int maxseq, int hd, int maxrows, int maxk, cs_err *e) {
    return b->v->reserve(b, f, maxseq, hd, maxrows, maxk, e);
}
static inline be_w *be_prepare(be *b, const void *d, int dt, int n, int k, int kind, cs_err *e) {
    return b->v->prepare(b, d, dt, n, k, kind, e);
}
static inline void be_wfree(be *b, be_w *w) {
    if (w) b->v->wfree(b, w);
}
static inline void be_write(be *b, be_off d, const float *s, size_t n) { b->v->write(b, d, s, n); }
static inline void be_read(be *b, be_off s, float *d, size_t n) { b->v->read(b, s, d, n); }
static inline int be_sync(be *b, cs_err *e) { return b->v->sync(b, e); }

#endif
