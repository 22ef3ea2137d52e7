/* ops_blas: the fast linear layer through a CBLAS (or oneDNN's sgemm), chosen at build time with
 * `make BLAS=blis|openblas|dnnl|none`. See ops.h.
 *
 * Threads: each library has its own knob; ops_set_threads sets it and OpenMP's, so our own loops
 * and the GEMM agree. BLIS (the openmp build) and oneDNN share libgomp's pool with our loops. */
#include "ops.h"

#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(CS_BLAS_DNNL)
#include <dnnl.h>
#elif defined(CS_BLAS_BLIS)
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
#if defined(CS_BLAS_BLIS)
    bli_thread_set_num_threads(n);
#elif defined(CS_BLAS_OPENBLAS)
    openblas_set_num_threads(n);
#endif
}

int ops_threads(void) { return g_threads; }

const char *ops_blas_name(void) {
#if defined(CS_BLAS_DNNL)
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

void ops_linear(const float *x, const float *w, const float *b, float *y, int m, int n, int k) {
#if defined(CS_BLAS_DNNL)
    dnnl_sgemm('N', 'T', m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
#elif defined(CS_BLAS_BLIS) || defined(CS_BLAS_OPENBLAS)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
#else
    ops_linear_ref(x, w, NULL, y, m, n, k);
#endif
    if (b) {
#pragma omp parallel for schedule(static) num_threads(g_threads) if ((size_t)m * n > 65536)
        for (int i = 0; i < m; i++) {
            float *r = y + (size_t)i * n;
            for (int j = 0; j < n; j++) r[j] += b[j];
        }
    }
}
