/* ops_gemm_auto: BLAS=auto (the default). Links BLIS and oneDNN and picks per call: BLIS when the
 * product has at most OPS_SMALL_M rows (a short text: the weights stream from memory and BLIS's
 * small-m path moves them fastest), oneDNN otherwise (image batches, long texts). Measured on the
 * 2-core build machine, cold weights, 2 threads (docs/performance.md): 8x2048x512 BLIS 0.47 ms vs
 * oneDNN 0.59 ms; 400x768x3072 BLIS 35.3 ms vs oneDNN 16.9 ms.
 *
 * Threads: each library has its own knob, process- or thread-wide; each call sets it from the
 * ops_ctx (BLIS's own count; oneDNN reads OpenMP's for the calling thread). Both are cheap. */
#include "ops_int.h"

#include <stdio.h>
#include <omp.h>

#include <blis.h>
#include <dnnl.h>

#define OPS_SMALL_M 16

void ops_gemm(ops_ctx *o, const float *x, const float *w, float *y, int m, int n, int k) {
    ops_blis_arch_once(); /* before BLIS's first call, which fixes its configuration */
    if (m <= OPS_SMALL_M && o->threads > 1 && n >= 64 * o->threads) {
        ops_blis_gemm_split(o, x, w, y, m, n, k);
    } else if (m <= OPS_SMALL_M) {
        bli_thread_set_num_threads(o->threads);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
    } else {
        omp_set_num_threads(o->threads);
        dnnl_sgemm('N', 'T', m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
    }
}

const char *ops_blas_name(void) {
    static char buf[96];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "BLIS %s (%s, m <= %d) + oneDNN %d.%d.%d", bli_info_get_version_str(), ops_blis_config(),
             OPS_SMALL_M, v->major, v->minor, v->patch);
    return buf;
}
