/* bench_lp: the linear-layer kernels alone, per dtype, on the CLIP ViT-B/32 products, for finding
 * where a tower's time goes without the rest of the model around it.
 *
 *   bench_lp [--threads N] [--rounds R]
 *
 * For each shape (m rows of activations, n outputs, k inputs: the image tower's at batch 1 and 8,
 * the text tower's at 8 and 77 tokens) it times the F32 packed GEMM the backend uses
 * (ops_linear_packed), the F16, the Q8_0 (tile of dot products) and the Q8_0P (q8_0 in column
 * panels, outer products: ops_q8p.c) kernels (ops_lp_linear), interleaved: each round runs the
 * four back to back, and each prints the median over R rounds (default 7) in milliseconds of CPU
 * time and GFLOP/s, with the ratio to F32 ("ratio_q8 0.62": below 1 is faster). Random values:
 * speed does not depend on them.
 *
 *   bench_lp --only q8p|q8|f32|f16 --shape M N K [--seconds S]
 *
 * runs one kernel on one product for about S seconds (default 5), for `perf stat`.
 * --kernel avx2|avx-vnni|avx512-vnni (either form): the q8/f16 kernels run that one
 * (ops_lp_linear_impl) instead of the fastest this CPU has; an absent one is an error (exit 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../src/model/ops.h"
#include "../src/model/ops_lp.h"

/* CPU time of the process: on a loaded machine it counts the cycles the kernels got, not the time
 * they waited for a core (with more than one thread it includes OpenMP's spinning). */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *rnd(size_t n, float s) {
    float *v = malloc(n * sizeof *v);
    if (!v) exit(1);
    for (size_t i = 0; i < n; i++) v[i] = s * ((float)rand() / RAND_MAX * 2.0f - 1.0f);
    return v;
}

static int impl = -1; /* --kernel, or -1: the fastest (ops_lp_linear) */

/* One product with one kernel (v: 0 F32 packed, 1 F16, 2 Q8, 3 Q8P). */
static void run(ops_ctx *o, int v, const float *x, const float *w, ops_packed *p, ops_lpw *const *lw, float *y, int m,
                int n, int k, float *ps, void *qs) {
    if (v == 0 && p)
        ops_linear_packed(o, x, p, NULL, OPS_ACT_NONE, y, NULL, m, ps);
    else if (v == 0)
        ops_linear(o, x, w, NULL, y, m, n, k);
    else if (impl >= 0)
        ops_lp_linear_impl(o, x, lw[v - 1], y, m, qs, impl);
    else
        ops_lp_linear(o, x, lw[v - 1], y, m, qs);
}

int main(int argc, char **argv) {
    int threads = 1, rounds = 7, only = -1, sm = 0, sn = 0, sk = 0;
    double seconds = 5;
    static const char *names[] = {"f32", "f16", "q8", "q8p"};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--shape") && i + 3 < argc) {
            sm = atoi(argv[++i]);
            sn = atoi(argv[++i]);
            sk = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            i++;
            for (int v = 0; v < 4; v++)
                if (!strcmp(argv[i], names[v])) only = v;
            if (only < 0) return 2;
        } else if (!strcmp(argv[i], "--kernel") && i + 1 < argc) {
            i++;
            for (int v = OPS_LP_AVX2; v <= OPS_LP_VNNI512; v++)
                if (!strcasecmp(argv[i], ops_lp_impl_name(v))) impl = v;
            if (impl < 0) return 2;
            if (!ops_lp_have(impl)) {
                fprintf(stderr, "bench_lp: this build or CPU has no %s kernel\n", ops_lp_impl_name(impl));
                return 3;
            }
        } else {
            fprintf(stderr, "usage: bench_lp [--threads N] [--rounds R] | [--threads N] --only "
                            "f32|f16|q8|q8p --shape M N K [--seconds S] [--kernel avx2|avx-vnni|avx512-vnni]\n");
            return 2;
        }
    }
    if (threads < 1 || rounds < 1 || rounds > 100 || (only >= 0) != (sm > 0 && sn > 0 && sk > 0)) return 2;
    if (only >= 0) {
        ops_ctx *o = ops_ctx_new(threads);
        float *x = rnd((size_t)sm * sk, 1.0f), *w = rnd((size_t)sn * sk, 0.05f), *y = malloc((size_t)sm * sn * 4);
        ops_packed *p = only == 0 ? ops_pack(o, w, sn, sk) : NULL;
        ops_lpw *lw[3] = {only == 1 ? ops_lp_pack(o, w, sn, sk, OPS_LP_F16) : NULL,
                          only == 2 ? ops_lp_pack(o, w, sn, sk, OPS_LP_Q8) : NULL,
                          only == 3 ? ops_lp_pack(o, w, sn, sk, OPS_LP_Q8P) : NULL};
        float *ps = malloc((ops_linear_packed_scratch(sm, sk) + 16) * sizeof(float));
        void *qs = aligned_alloc(64, (ops_lp_scratch(sm, sk, OPS_LP_Q8) + 63) / 64 * 64);
        if (!o || !y || !ps || !qs || (only && !lw[only - 1])) return 1;
        double t0 = now(), flop = 2.0 * sm * sn * sk;
        long reps = 0;
        while (now() - t0 < seconds) {
            run(o, only, x, w, p, lw, y, sm, sn, sk, ps, qs);
            reps++;
        }
        double t = (now() - t0) / reps;
        printf("%s m=%d n=%d k=%d: %ld runs, %.3f ms CPU each, %.1f GF/s\n", names[only], sm, sn, sk, reps, t * 1e3,
               flop / t * 1e-9);
        return 0;
    }
    static const struct {
        const char *name;
        int m, n, k;
    } S[] = {
        {"image_b8_qkv", 400, 2304, 768}, {"image_b8_fc1", 400, 3072, 768}, {"image_b8_fc2", 400, 768, 3072},
        {"image_b1_qkv", 50, 2304, 768},  {"image_b1_fc1", 50, 3072, 768},  {"image_b1_fc2", 50, 768, 3072},
        {"text_77_fc1", 77, 2048, 512},   {"text_8_qkv", 8, 1536, 512},     {"text_8_fc1", 8, 2048, 512},
        {"text_8_fc2", 8, 512, 2048},
    };
    ops_ctx *o = ops_ctx_new(threads);
    if (!o) return 1;
    printf("# bench_lp: %d threads, %d rounds, %s, q8/f16 kernel %s\n", threads, rounds, ops_blas_name(),
           ops_lp_impl_name(impl >= 0 ? impl : ops_lp_best()));
    for (size_t s = 0; s < sizeof S / sizeof *S; s++) {
        int m = S[s].m, n = S[s].n, k = S[s].k;
        float *x = rnd((size_t)m * k, 1.0f), *w = rnd((size_t)n * k, 0.05f), *y = malloc((size_t)m * n * 4);
        ops_packed *p = ops_pack(o, w, n, k);
        ops_lpw *lw[3] = {ops_lp_pack(o, w, n, k, OPS_LP_F16), ops_lp_pack(o, w, n, k, OPS_LP_Q8),
                          ops_lp_pack(o, w, n, k, OPS_LP_Q8P)};
        float *ps = malloc((ops_linear_packed_scratch(m, k) + 16) * sizeof(float));
        void *qs = aligned_alloc(64, (ops_lp_scratch(m, k, OPS_LP_Q8) + 63) / 64 * 64);
        if (!y || !lw[0] || !lw[1] || !lw[2] || !ps || !qs) return 1;
        /* enough repetitions for about 20 ms a sample */
        double flop = 2.0 * m * n * k;
        int reps = (int)(4e9 * threads / flop * 0.02) + 1;
        double t[4][100];
        for (int r = 0; r < rounds + 1; r++)
            for (int v = 0; v < 4; v++) {
                double t0 = now();
                for (int u = 0; u < reps; u++) run(o, v, x, w, p, lw, y, m, n, k, ps, qs);
                if (r) t[v][r - 1] = (now() - t0) / reps * 1e3; /* round 0 warms up */
            }
        double med[4];
        for (int v = 0; v < 4; v++) {
            qsort(t[v], rounds, sizeof(double), cmp);
            med[v] = t[v][rounds / 2];
        }
        printf("%-13s m=%3d n=%4d k=%4d  f32 %7.3f ms %5.1f GF/s  f16 %7.3f ms %5.1f GF/s  q8 %7.3f ms %5.1f GF/s  "
               "q8p %7.3f ms %5.1f GF/s  ratio_f16 %.2f ratio_q8 %.2f ratio_q8p %.2f\n",
               S[s].name, m, n, k, med[0], flop / med[0] * 1e-6, med[1], flop / med[1] * 1e-6, med[2],
               flop / med[2] * 1e-6, med[3], flop / med[3] * 1e-6, med[1] / med[0], med[2] / med[0], med[3] / med[0]);
        fflush(stdout);
        ops_packed_free(p);
        for (int v = 0; v < 3; v++) ops_lp_free(lw[v]);
        free(x);
        free(w);
        free(y);
        free(ps);
        free(qs);
    }
    ops_ctx_free(o);
    return 0;
}
