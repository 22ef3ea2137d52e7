/* The organiser's batched path: a batch of entries scored against the search matrix in one pass
 * (vecindex_scan) and organised in order, against the same entries organised one per pass (each
 * pass re-reading the store: the plain, obviously sequential path). */
#include <math.h>

#include "../src/index/indexer.h"
#include "../src/organize/organize.h"
#include "../src/search/vecindex.h"
#include "../src/store/store.h"
#include "testutil.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((int32_t)(rng >> 32)) / 2147483648.0f;
}

static void unit(float *v, int dim) {
    double n = 0;
    for (int i = 0; i < dim; i++) n += (double)v[i] * v[i];
    for (int i = 0; i < dim; i++) v[i] = (float)(v[i] / sqrt(n));
}

static int even_only(int64_t id, void *arg) {
    (void)arg;
    return id % 2 == 0;
}

/* Every query of a batch gets exactly what it gets alone, over more rows than one block, with
 * several rows per entry (text windows) and a filter. */
Test(organize_batch, scan_of_a_batch_equals_single_queries) {
    enum { ROWS = 1500, DIM = 96, NQ = 37 };
    float *mat = malloc(sizeof(float) * ROWS * DIM), *q = malloc(sizeof(float) * NQ * DIM);
    int64_t *ids = malloc(sizeof(int64_t) * ROWS);
    for (int r = 0; r < ROWS; r++) {
        for (int k = 0; k < DIM; k++) mat[r * DIM + k] = frand();
        unit(mat + r * DIM, DIM);
        ids[r] = 1 + r / 3; /* three rows per entry */
    }
    for (int j = 0; j < NQ; j++) { /* half of them near a row, so the top scores are close */
        for (int k = 0; k < DIM; k++) q[j * DIM + k] = frand() + (j % 2 ? 4 * mat[(j * 41) % ROWS * DIM + k] : 0);
        unit(q + j * DIM, DIM);
    }
    vecindex *vi = vecindex_from_memory(mat, ids, ROWS, DIM);
    cr_assert_not_null(vi);
    vecindex_scan *sc;
    cs_err e;
    cr_assert_eq(vecindex_scan_open(vi, q, NQ, &sc, &e), 0, "%s", e.msg);
    for (int j = 0; j < NQ; j++)
        for (int f = 0; f < 2; f++) {
            vec_hit *a, *b;
            size_t na, nb;
            int (*keep)(int64_t, void *) = f ? even_only : NULL;
            cr_assert_eq(vecindex_topk(vi, q + j * DIM, 10, keep, NULL, &a, &na, &e), 0, "%s", e.msg);
            cr_assert_eq(vecindex_scan_topk(sc, (size_t)j, 10, keep, NULL, &b, &nb, &e), 0, "%s", e.msg);
            cr_assert_eq(na, 10);
            cr_assert_eq(nb, na, "query %d: %zu hits in the batch, %zu alone", j, nb, na);
            for (size_t i = 0; i < na; i++) {
                cr_assert_eq(b[i].entry, a[i].entry, "query %d hit %zu: entry %lld in the batch, %lld alone", j, i,
                             (long long)b[i].entry, (long long)a[i].entry);
                cr_assert_eq(b[i].score, a[i].score, "query %d hit %zu: scores differ", j, i);
            }
            free(a);
            free(b);
        }
    vecindex_scan_close(sc);
    vecindex_scan_close(NULL);
    vecindex_close(vi);
    free(ids);
    free(q);
    free(mat);
}

/* A store with the toyworld images, near-duplicate copies of some of them and texts, embedded
 * by the toyworld model. */
static store *fill(char *dir, size_t dn, const char *model, const char *evald, clip_ctx **c, char **mid) {
    store *s = tmp_store(dir, dn);
    cs_err e;
    for (int i = 0; i < 48; i++)
        for (int copy = 0; copy < (i % 5 == 0 ? 2 : 1); copy++) {
            char p[4200];
            snprintf(p, sizeof p, "%s/img%02d.png", evald, i);
            size_t len;
            unsigned char *d = read_all(p, &len);
            /* the copy lacks the last byte (after IEND): a different file, the same picture */
            store_new n = {"image", "image/png", NULL, d, len - (size_t)copy, p, 64, 64, 0, NULL, NULL};
            cr_assert_eq(store_add(s, &n, NULL, NULL, &e), 0, "%s", e.msg);
            free(d);
        }
    static const char *texts[] = {"a red star",    "a blue circle",   "a green square",  "a red circle",
                                  "a yellow star", "a purple square", "a red triangle",  "a blue square",
                                  "two red stars", "a big green one", "a small red dot", "the blue circle"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        store_new n = {"text", "text/plain;charset=utf-8", NULL, texts[i], strlen(texts[i]), NULL, 0, 0, 0, NULL, NULL};
        cr_assert_eq(store_add(s, &n, NULL, NULL, &e), 0, "%s", e.msg);
    }
    if (!*c) {
        clip_params p = clip_default_params();
        p.threads = 2;
        cr_assert_eq(clip_load(model, &p, c, &e), 0, "%s", e.msg);
        *mid = index_model_id(model, &e);
        cr_assert_not_null(*mid, "%s", e.msg);
    }
    index_stats ist;
    cr_assert_eq(index_run(s, *c, *mid, 0, &ist, NULL, NULL, &e), 0, "%s", e.msg);
    return s;
}

/* Organises s to the end, max entries per pass; returns the totals. */
static org_stats organise(store *s, const rules *r, clip_ctx *c, const char *mid, int max) {
    cs_err e;
    organizer *o;
    cr_assert_eq(org_open(r, &o, &e), 0, "%s", e.msg);
    cr_assert_eq(org_set_model(o, c, mid, &e), 0, "%s", e.msg);
    org_stats st = {0};
    for (int pass = 0; pass < 1000; pass++) {
        int64_t before = st.organised;
        cr_assert_eq(org_model(o, s, max, &st, &e), 0, "%s", e.msg);
        if (st.organised == before) break;
    }
    org_close(o);
    return st;
}

Test(organize_batch, batched_organising_equals_one_by_one, .timeout = 240) {
    FIXTURE(model, "toyworld-clip");
    FIXTURE(evald, "toyworld-eval");
    char d1[128], d2[128];
    clip_ctx *c = NULL;
    char *mid = NULL;
    store *one = fill(d1, sizeof d1, model, evald, &c, &mid), *batch = fill(d2, sizeof d2, model, evald, &c, &mid);
    /* thresholds that make many collections, joins and new pairs in one batch */
    const char *conf = "collection_threshold = 0.9\nduplicate_threshold = 0.99\n";
    rules *r;
    cs_err e;
    cr_assert_eq(rules_parse(conf, strlen(conf), "test", &r, &e), 0, "%s", e.msg);
    org_stats a = organise(one, r, c, mid, 1), b = organise(batch, r, c, mid, 64);
    cr_assert_eq(a.organised, 70);
    cr_assert_eq(b.organised, a.organised);
    cr_assert_eq(b.categorised, a.categorised);
    cr_assert_eq(b.duplicates, a.duplicates);
    cr_assert_eq(b.collected, a.collected);
    cr_assert_geq(a.duplicates, 10, "the copies are near-duplicates (%lld)", (long long)a.duplicates);
    store_collection *ca, *cb;
    size_t na, nb;
    cr_assert_eq(store_collections(one, &ca, &na, &e), 0, "%s", e.msg);
    cr_assert_eq(store_collections(batch, &cb, &nb, &e), 0, "%s", e.msg);
    cr_assert_geq(na, 3, "something to compare: %zu collections", na);
    cr_assert_eq(nb, na);
    int grew = 0;
    for (size_t i = 0; i < na; i++) {
        cr_assert_eq(cb[i].id, ca[i].id);
        cr_assert_str_eq(cb[i].name, ca[i].name);
        cr_assert_eq(cb[i].members, ca[i].members, "collection %s: %lld members in the batch, %lld one by one",
                     ca[i].name, (long long)cb[i].members, (long long)ca[i].members);
        grew |= ca[i].members > 2;
        store_collection_free(&ca[i]);
        store_collection_free(&cb[i]);
    }
    cr_assert(grew, "an entry joined an existing collection");
    free(ca);
    free(cb);
    for (int64_t id = 1; id <= 70; id++) {
        store_entry x, y;
        cr_assert_eq(store_get(one, id, &x, &e), 0, "%s", e.msg);
        cr_assert_eq(store_get(batch, id, &y, &e), 0, "%s", e.msg);
        cr_assert_eq(y.collection, x.collection, "entry %lld", (long long)id);
        cr_assert_eq(y.dup_of, x.dup_of, "entry %lld", (long long)id);
        cr_assert_eq(!y.category, !x.category, "entry %lld", (long long)id);
        if (x.category) cr_assert_str_eq(y.category, x.category, "entry %lld", (long long)id);
        store_entry_free(&x);
        store_entry_free(&y);
    }
    rules_free(r);
    clip_free(c);
    free(mid);
    store_close(one);
    store_close(batch);
    for (char *d = d1; d; d = d == d1 ? d2 : NULL) { /* the temporary folder above data/ */
        *strrchr(d, '/') = 0;
        rm_rf(d);
    }
}
