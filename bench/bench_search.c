/* bench_search: exact vector search latency (the meaning half of `clipseek search`: int8 scan,
 * float rescoring of the rows the error bound cannot rule out) at 10k,
 * 100k and 1M entries of 512 dimensions, random unit vectors, top 20. Prints "metric value"
 * lines: search_<N>_median_ms and search_<N>_p99_ms over 50 queries (after one warm-up).
 *   bench_search [--threads N] [--max ROWS] */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>

#include "../src/model/ops.h"
#include "../src/search/vecindex.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}
static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1 << 24) - 0.5f;
}
static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int threads = 2;
    size_t maxrows = 1000000;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max")) maxrows = (size_t)atoll(argv[i + 1]);
    }
    omp_set_num_threads(threads); /* the index scan's OpenMP loop */
    const int D = 512, Q = 50;
    float *mat = malloc(maxrows * D * sizeof *mat);
    int64_t *ids = malloc(maxrows * sizeof *ids);
    if (!mat || !ids) { fprintf(stderr, "out of memory\n"); return 1; }
    for (size_t r = 0; r < maxrows; r++) {
        float *v = mat + r * D, n = 0;
        for (int k = 0; k < D; k++) { v[k] = frand(); n += v[k] * v[k]; }
        n = 1.0f / sqrtf(n);
        for (int k = 0; k < D; k++) v[k] *= n;
        ids[r] = (int64_t)r + 1;
    }
    printf("# exact top-20 over 512-dim unit vectors, %d threads\n", threads);
    size_t sizes[] = {10000, 100000, 1000000};
    for (int s = 0; s < 3; s++) {
        size_t rows = sizes[s];
        if (rows > maxrows) break;
        vecindex *vi = vecindex_from_memory(mat, ids, rows, D);
        double t[Q];
        for (int qn = -1; qn < Q; qn++) {
            const float *q = mat + (size_t)(qn < 0 ? 0 : (qn * 7919) % rows) * D;
            vec_hit *h;
            size_t n;
            double t0 = now();
            if (vecindex_topk(vi, q, 20, NULL, NULL, &h, &n, NULL) || n != 20) { fprintf(stderr, "search failed\n"); return 1; }
            double dt = (now() - t0) * 1e3;
            if (qn >= 0) t[qn] = dt;
            if (h[0].entry != (int64_t)((qn < 0 ? 0 : (qn * 7919) % rows) + 1)) { fprintf(stderr, "wrong top hit\n"); return 1; }
            free(h);
        }
        qsort(t, Q, sizeof t[0], cmpd);
        const char *label = rows == 10000 ? "10k" : rows == 100000 ? "100k" : "1m";
        printf("search_%s_median_ms %.2f\nsearch_%s_p99_ms %.2f\n", label, t[Q / 2], label, t[Q - 1]);
        vecindex_close(vi);
    }
    free(mat);
    free(ids);
    return 0;
}
