/* ops_gemm_blis: BLAS=blis. BLIS's CBLAS (the openmp build), its thread count set from the ops_ctx
 * on each call. The vision tower's products run on prepacked weights (ops_blis.c) instead. */
#include "ops_int.h"

#include <stdio.h>

#include <blis.h>

void ops_gemm(ops_ctx *o, const float *x, const float *w, float *y, int m, int n, int k) {
    ops_blis_arch_once(); /* before BLIS's first call, which fixes its configuration */
    bli_thread_set_num_threads(o->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
}

const char *ops_blas_name(void) {
    static char buf[64];
    snprintf(buf, sizeof buf, "BLIS %s (%s)", bli_info_get_version_str(), ops_blis_config());
    return buf;
}
