/* ops_blas: the fast linear layer through a CBLAS (or oneDNN's sgemm), chosen at build time with
 * `make BLAS=auto|blis|openblas|dnnl|none`. See ops.h.
 *
 * auto (the default) links BLIS and oneDNN and picks per call: BLIS when the product has at most
 * OPS_SMALL_M rows (a short text: the weights stream from memory and BLIS's small-m path moves
 * them fastest), oneDNN otherwise (image batches, long texts). Measured on the 2-core build
 * machine, cold weights, 2 threads (docs/performance.md): 8x2048x512 BLIS 0.47 ms vs oneDNN
 * 0.59 ms; 400x768x3072 BLIS 35.3 ms vs oneDNN 16.9 ms.
 *
 * Threads: each library has its own knob; ops_set_threads sets it and OpenMP's, so our own loops
 * and the GEMM agree. BLIS (the openmp build) and oneDNN share libgomp's pool with our loops. */
#include "ops.h"

#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(CS_BLAS_AUTO)
#define CS_BLAS_BLIS_USED
#define CS_BLAS_DNNL_USED
#define OPS_SMALL_M 16
#include <blis.h>
#include <dnnl.h>
#elif defined(CS_BLAS_DNNL)
#define CS_BLAS_DNNL_USED
#include <dnnl.h>
#elif defined(CS_BLAS_BLIS)
#define CS_BLAS_BLIS_USED
#include <blis.h>
#elif defined(CS_BLAS_OPENBLAS)
#include <cblas.h>
void openblas_set_num_threads(int);
#endif

static int g_threads = 1;

void ops_set_threads(int n) {
    if (n < 1) n = 1;
    g_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
#if defined(CS_BLAS_BLIS_USED)
    bli_thread_set_num_threads(n);
#elif defined(CS_BLAS_OPENBLAS)
    openblas_set_num_threads(n);
#endif
}

int ops_threads(void) { return g_threads; }

const char *ops_blas_name(void) {
#if defined(CS_BLAS_AUTO)
    static char buf[96];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "BLIS %s (m <= %d) + oneDNN %d.%d.%d", bli_info_get_version_str(), OPS_SMALL_M, v->major,
             v->minor, v->patch);
    return buf;
#elif defined(CS_BLAS_DNNL)
    static char buf[64];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    return buf;
#elif defined(CS_BLAS_BLIS)
    static char buf[64];
    snprintf(buf, sizeof buf, "BLIS %s", bli_info_get_version_str());
    return buf;
#elif defined(CS_BLAS_OPENBLAS)
    return "OpenBLAS";
#else
    return "reference (no BLAS)";
#endif
}

static void gemm(const float *x, const float *w, float *y, int m, int n, int k) {
#if defined(CS_BLAS_AUTO)
    if (m <= OPS_SMALL_M) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
    else dnnl_sgemm('N', 'T', m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
#elif defined(CS_BLAS_DNNL)
    dnnl_sgemm('N', 'T', m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
#elif defined(CS_BLAS_BLIS) || defined(CS_BLAS_OPENBLAS)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
#else
    ops_linear_ref(x, w, NULL, y, m, n, k);
#endif
}

static void add_bias(float *y, const float *b, int m, int n) {
#pragma omp parallel for schedule(static) num_threads(g_threads) if ((size_t)m * n > 65536)
    for (int i = 0; i < m; i++) {
        float *r = y + (size_t)i * n;
        for (int j = 0; j < n; j++) r[j] += b[j];
    }
}

void ops_linear(const float *x, const float *w, const float *b, float *y, int m, int n, int k) {
    gemm(x, w, y, m, n, k);
    if (b) add_bias(y, b, m, n);
}

