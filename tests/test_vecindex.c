/* vecindex: the int8 scan with exact rescoring must give exactly what a float scan gives, on
 * isotropic random vectors and on CLIP-like ones (a strong shared direction, tight clusters,
 * near-duplicates), with filters and with several rows per entry. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../src/search/vecindex.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1 << 24) - 0.5f;
}

static void unit(float *v, int d) {
    double n = 0;
    for (int i = 0; i < d; i++) n += (double)v[i] * v[i];
    for (int i = 0; i < d; i++) v[i] = (float)(v[i] / sqrt(n));
}

static float dotf(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static int even_only(int64_t id, void *arg) { (void)arg; return id % 2 == 0; }

typedef struct { int64_t id; float s; } ref;
static int by_s(const void *a, const void *b) {
    float x = ((const ref *)a)->s, y = ((const ref *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* best k distinct entries by a float scan (an entry scores its best row) */
static size_t brute(const float *m, const int64_t *ids, size_t rows, int d, const float *q, int k, int filter, ref *out) {
    ref *all = malloc(rows * sizeof *all);
    size_t n = 0;
    for (size_t r = 0; r < rows; r++)
        if (!filter || ids[r] % 2 == 0) all[n++] = (ref){ids[r], dotf(q, m + r * d, d)};
    qsort(all, n, sizeof *all, by_s);
    size_t k2 = 0;
    for (size_t i = 0; i < n && k2 < (size_t)k; i++) {
        int dup = 0;
        for (size_t j = 0; j < k2; j++) dup |= out[j].id == all[i].id;
        if (!dup) out[k2++] = all[i];
    }
    free(all);
    return k2;
}

static void run(int clip_like, int windows, int tight) {
    const int D = 512, K = 20;
    const size_t R = 20000;
    float *m = malloc(R * D * sizeof *m), *common = malloc(D * sizeof *common), *centres = malloc(50 * D * sizeof *centres);
    int64_t *ids = malloc(R * sizeof *ids);
    for (int i = 0; i < D; i++) common[i] = frand();
    unit(common, D);
    for (int c = 0; c < 50; c++) {
        for (int i = 0; i < D; i++) centres[c * D + i] = frand();
        unit(centres + c * D, D);
    }
    for (size_t r = 0; r < R; r++) {
        float *v = m + r * D;
        if (clip_like && r % 10 == 9) memcpy(v, m + (r - 1) * D, D * sizeof *v); /* near-duplicates */
        if (tight && r >= 1 && r < 3000) { /* 3000 rows within quantisation noise of each other */
            for (int i = 0; i < D; i++) v[i] = m[i] + 0.0005f * frand();
            unit(v, D);
            ids[r] = (int64_t)r + 1;
            continue;
        }
        for (int i = 0; i < D; i++)
            v[i] = clip_like ? (r % 10 == 9 ? v[i] + 0.002f * frand() : 2.0f * common[i] + 1.2f * centres[(r % 50) * D + i] + frand() * 0.6f)
                             : frand();
        unit(v, D);
        ids[r] = windows ? (int64_t)(r / 3) + 1 : (int64_t)r + 1;
    }
    vecindex *vi = vecindex_from_memory(m, ids, R, D);
    cr_assert_not_null(vi);
    float q[512];
    ref want[20];
    for (int t = 0; t < 40; t++) {
        if (tight) memcpy(q, m + (size_t)(t % 3) * D, sizeof q); /* inside the tight cluster */
        else if (t % 2) memcpy(q, m + (size_t)(t * 977 % R) * D, sizeof q); /* a stored vector */
        else {
            for (int i = 0; i < D; i++) q[i] = (clip_like ? 0.8f * common[i] : 0) + frand();
            unit(q, D);
        }
        int filter = t % 4 == 3;
        size_t nw = brute(m, ids, R, D, q, K, filter, want);
        vec_hit *h;
        size_t n;
        cs_err e;
        cr_assert_eq(vecindex_topk(vi, q, K, filter ? even_only : NULL, NULL, &h, &n, &e), 0);
        cr_assert_eq(n, nw, "query %d: %zu hits, want %zu", t, n, nw);
        /* rank by rank the same scores; each id truly has its score (ties may order either way) */
        char msg[256] = "";
        for (size_t i = 0; i < n && !msg[0]; i++) {
            float truth = -2;
            for (size_t r = 0; r < R; r++)
                if (ids[r] == h[i].entry) { float d = dotf(q, m + r * D, D); truth = d > truth ? d : truth; }
            int dup = 0;
            for (size_t j = 0; j < i; j++) dup |= h[j].entry == h[i].entry;
            if (h[i].score != want[i].s || truth != h[i].score || dup)
                snprintf(msg, sizeof msg, "query %d rank %zu: got entry %lld score %.7f (its own %.7f), want score %.7f%s", t, i,
                         (long long)h[i].entry, h[i].score, truth, want[i].s, dup ? ", twice" : "");
        }
        if (msg[0]) { /* free first: a failed assertion leaves the test */
            free(h); vecindex_close(vi); free(m); free(ids); free(common); free(centres);
            cr_assert_fail("%s", msg);
        }
        free(h);
    }
    vecindex_close(vi);
    free(m); free(ids); free(common); free(centres);
}

Test(vecindex, exact_on_random_vectors) { run(0, 0, 0); }
Test(vecindex, exact_on_clip_like_vectors) { run(1, 0, 0); }
Test(vecindex, exact_with_several_rows_per_entry) { run(1, 1, 0); }
/* the int8 scores cannot order these: only the bound and the float rescoring can */
Test(vecindex, exact_inside_a_tight_cluster) { run(0, 0, 1); }

/* One long text: 600 windows all nearer the query than any of 30 other entries. Counting rows
 * instead of entries would keep only that entry's windows and return 1 hit instead of k. */
Test(vecindex, exact_when_one_entry_has_hundreds_of_windows) {
    const int D = 64, K = 10, W = 600, O = 30;
    const size_t R = (size_t)W + O;
    float *m = malloc(R * D * sizeof *m), q[64];
    int64_t *ids = malloc(R * sizeof *ids);
    for (int i = 0; i < D; i++) q[i] = frand();
    unit(q, D);
    for (size_t r = 0; r < R; r++) {
        float *v = m + r * D;
        float noise = r < (size_t)W ? 0.05f : 1.0f; /* windows close to q, the others further */
        for (int i = 0; i < D; i++) v[i] = q[i] + noise * frand();
        unit(v, D);
        ids[r] = r < (size_t)W ? 1 : (int64_t)(r - W) + 2;
    }
    vecindex *vi = vecindex_from_memory(m, ids, R, D);
    cr_assert_not_null(vi);
    ref want[10];
    size_t nw = brute(m, ids, R, D, q, K, 0, want);
    cr_assert_eq(nw, (size_t)K);
    vec_hit *h;
    size_t n;
    cs_err e;
    cr_assert_eq(vecindex_topk(vi, q, K, NULL, NULL, &h, &n, &e), 0);
    size_t got = n;
    int same = n == nw;
    for (size_t i = 0; same && i < n; i++) same = h[i].entry == want[i].id && h[i].score == want[i].s;
    free(h);
    vecindex_close(vi);
    free(m);
    free(ids);
    cr_assert(same, "%zu hits (want %zu distinct entries, the float scan's)", got, nw);
}
