/* ops_gemm_openblas: BLAS=openblas. OpenBLAS's CBLAS, its thread count set from the ops_ctx on
 * each call (cheap when it does not change). No prepacked path (ops_nopack.c). */
#include "ops_int.h"

#include <cblas.h>

void openblas_set_num_threads(int); /* not declared by every cblas.h */

void ops_gemm(ops_ctx *o, const float *x, const float *w, float *y, int m, int n, int k) {
    openblas_set_num_threads(o->threads);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, n);
}

const char *ops_blas_name(void) { return "OpenBLAS"; }
