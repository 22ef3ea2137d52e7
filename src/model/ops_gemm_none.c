/* ops_gemm_none: BLAS=none. No BLAS library: the product is the reference loop (ops.c), which the
 * fast path may call. For builds where no BLAS package is at hand; slow. */
#include "ops_int.h"

void ops_gemm(ops_ctx *o, const float *x, const float *w, float *y, int m, int n, int k) {
    (void)o;
    ops_linear_ref(x, w, NULL, y, m, n, k);
}

const char *ops_blas_name(void) { return "reference (no BLAS)"; }
