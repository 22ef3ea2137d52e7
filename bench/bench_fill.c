/* bench_fill: fills a data directory with N synthetic text entries and random unit vectors for
 * the model in MODEL_DIR (as if the indexer had embedded them), for end-to-end search benchmarks
 * without hours of embedding. Words come from a small vocabulary so full text has work to do.
 *   bench_fill DATA_DIR MODEL_DIR N */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/index/indexer.h"
#include "../src/store/store.h"

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t next(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: bench_fill DATA_DIR MODEL_DIR N\n"); return 2; }
    static const char *words[] = {"invoice", "meeting", "kernel", "panic", "receipt", "coffee", "deploy", "token", "server",
                                  "photo", "screenshot", "address", "berlin", "password", "error", "banner", "iban",
                                  "yesterday", "report", "draft", "budget", "python", "rust", "query", "index", "vector"};
    const int W = sizeof words / sizeof *words, D = 512;
    long n = atol(argv[3]);
    store *s;
    cs_err e;
    char *model = index_model_id(argv[2], &e);
    if (!model || store_open(argv[1], &s, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
    store_meta_set(s, "model_dir", argv[2], NULL);
    /* decided before any vector exists, as the indexer does on a fresh store: the store keeps the
     * default dtype (q8 on the CPU). Asked after the vectors are in, it would take them for an
     * older F32 store's and keep F32, and every search would run the F32 text tower. */
    index_store_dtype(s, argv[2]);
    float v[512];
    char text[256];
    for (long i = 0; i < n; i++) {
        int len = snprintf(text, sizeof text, "note %ld:", i);
        for (int k = 0; k < 8; k++) len += snprintf(text + len, sizeof text - (size_t)len, " %s", words[next() % W]);
        store_new ne = {"text", "text/plain;charset=utf-8", NULL, text, (size_t)len, "bench", 0, 0, 0, "", NULL};
        int64_t id;
        if (store_add(s, &ne, &id, NULL, &e)) { fprintf(stderr, "%s\n", e.msg); return 1; }
        double nn = 0;
        for (int k = 0; k < D; k++) { v[k] = (float)((int32_t)next()) / 2147483648.0f; nn += (double)v[k] * v[k]; }
        for (int k = 0; k < D; k++) v[k] = (float)(v[k] / sqrt(nn));
        if (store_put_vector(s, id, model, 0, v, D, &e) < 0) { fprintf(stderr, "%s\n", e.msg); return 1; }
        if (i % 10000 == 9999) fprintf(stderr, "bench_fill: %ld entries\n", i + 1);
    }
    store_close(s);
    free(model);
    return 0;
}
