/* ops_gemm_dnnl: BLAS=dnnl. oneDNN's sgemm, which takes OpenMP's thread count of the calling
 * thread: set from the ops_ctx on each call. No prepacked path (ops_nopack.c). */
#include "ops_int.h"

#include <stdio.h>
#include <omp.h>

#include <dnnl.h>

void ops_gemm(ops_ctx *o, const float *x, const float *w, float *y, int m, int n, int k) {
    omp_set_num_threads(o->threads);
    dnnl_sgemm('N', 'T', m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
}

const char *ops_blas_name(void) {
    static char buf[64];
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, sizeof buf, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
    return buf;
}
