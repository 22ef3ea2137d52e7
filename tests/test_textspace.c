/* The text embedder's space (docs/text-models.md): the store keeps its vectors beside the CLIP
 * space's and lists what it still lacks (text entries only), index_run_text fills it with a real
 * sentence model (tiny-bert-minilm) and re-embeds only what is missing, and search_run fuses it
 * with its own scale: a text entry found by that space alone, its meaning score the better of the
 * two spaces' (not their sum), and the gibberish raise measured in that space's own units. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/index/indexer.h"
#include "../src/model/stmodel.h"
#include "../src/search/search.h"
#include "../src/search/search_neutral.h"
#include "../src/search/vecindex.h"
#include "../src/store/store.h"
#include "testutil.h"

#define NT  30 /* text entries */
#define NI  4  /* images */
#define DIM 64

static store *st;
static char dir[64];
static int64_t txt[NT], img[NI];

static int64_t add(const char *kind, const char *data, size_t len) {
    store_new n = {0};
    n.kind = kind;
    n.mime = strcmp(kind, "image") ? "text/plain;charset=utf-8" : "image/png";
    n.data = data;
    n.len = len;
    int64_t id;
    cs_err e;
    cr_assert_eq(store_add(st, &n, &id, NULL, &e), 0, "%s", e.msg);
    return id;
}

/* a fixed pseudo-random unit vector per (seed) */
static void unit(float *v, unsigned seed) {
    double n = 0;
    for (int j = 0; j < DIM; j++) {
        seed = seed * 1103515245u + 12345u;
        v[j] = (float)((double)(seed >> 8 & 0xffff) / 65535.0 - 0.5);
        n += (double)v[j] * v[j];
    }
    for (int j = 0; j < DIM; j++) v[j] = (float)(v[j] / sqrt(n));
}

static void setup(void) {
    strcpy(dir, "/tmp/clipseek-test-tspace-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    cs_err e;
    cr_assert_eq(store_open(dir, &st, &e), 0, "%s", e.msg);
    static const char *const texts[] = {"A man is eating food.", "The girl is carrying a baby.",
                                        "A man is riding a horse.", "A woman is playing violin.",
                                        "北京是中国的首都，也是一座历史悠久的城市"};
    for (int i = 0; i < NT; i++) {
        char t[96];
        if (i < 5)
            snprintf(t, sizeof t, "%s", texts[i]);
        else
            snprintf(t, sizeof t, "note number %d about something else entirely", i);
        txt[i] = add("text", t, strlen(t));
    }
    for (int i = 0; i < NI; i++) {
        char b[32];
        snprintf(b, sizeof b, "\x89PNG-%d", i);
        img[i] = add("image", b, strlen(b));
    }
}

static void teardown(void) {
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(textspace, .init = setup, .fini = teardown);

/* the CLIP space ("clip": every entry, seeds 1000+) and the text space ("st": text only, seeds
 * 5000+) as synthetic unit vectors */
static void put_spaces(void) {
    float v[DIM];
    cs_err e;
    for (int i = 0; i < NT; i++) {
        unit(v, 1000u + (unsigned)i);
        cr_assert_geq(store_put_vector(st, txt[i], "clip", 0, v, DIM, &e), 0, "%s", e.msg);
        unit(v, 5000u + (unsigned)i);
        cr_assert_geq(store_put_vector(st, txt[i], "st", 0, v, DIM, &e), 0, "%s", e.msg);
    }
    for (int i = 0; i < NI; i++) {
        unit(v, 3000u + (unsigned)i);
        cr_assert_geq(store_put_vector(st, img[i], "clip", 0, v, DIM, &e), 0, "%s", e.msg);
    }
}

Test(textspace, store_lists_text_entries_only_and_keeps_both_spaces) {
    int64_t *ids;
    size_t n;
    cs_err e;
    cr_assert_eq(store_missing_text_vectors(st, "st", 0, &ids, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, NT, "images are not the text space's: %zu", n);
    for (size_t i = 0; i < n; i++) cr_assert_eq(ids[i], txt[i]);
    free(ids);
    put_spaces();
    float v[DIM];
    unit(v, 9);
    cr_assert_geq(store_put_vector(st, txt[0], "old-embedder", 0, v, DIM, &e), 0);
    int64_t texts, pending, removed;
    cr_assert_eq(store_text_counts(st, "st", &texts, &pending, &e), 0, "%s", e.msg);
    cr_assert_eq(texts, NT);
    cr_assert_eq(pending, 0);
    /* a NULL item is skipped, not a "keep nothing" */
    const char *keep[3] = {"clip", NULL, "st"};
    cr_assert_eq(store_drop_vectors_except(st, keep, 3, &removed, &e), 0, "%s", e.msg);
    cr_assert_eq(removed, 1, "only the old embedder's vector goes: %lld", (long long)removed);
    int64_t c;
    cr_assert_eq(store_vector_count(st, "st", &c, &e), 0);
    cr_assert_eq(c, NT);
    cr_assert_eq(store_vector_count(st, "clip", &c, &e), 0);
    cr_assert_eq(c, NT + NI);
    const char *only[1] = {"clip"}; /* the embedder removed: its space goes */
    cr_assert_eq(store_drop_vectors_except(st, only, 1, &removed, &e), 0);
    cr_assert_eq(removed, NT);
}

/* Runs a words query whose words are in no entry, with the CLIP space's query vector qv (NULL:
 * none) and the text space's qv2 (NULL: none), neutral2 as the text space's gibberish. */
static size_t run(const float *qv, const float *qv2, const float *neutral2, search_hit **h) {
    vecindex *v1 = NULL, *v2 = NULL;
    cs_err e;
    cr_assert_eq(vecindex_open(st, "clip", &v1, &e), 0, "%s", e.msg);
    cr_assert_eq(vecindex_open(st, "st", &v2, &e), 0, "%s", e.msg);
    search_query q = {0};
    q.text = "capital history";
    q.limit = 10;
    q.qvec = qv;
    q.vecs = qv ? v1 : NULL;
    q.qvec2 = qv2;
    q.vecs2 = qv2 ? v2 : NULL;
    q.neutral2 = neutral2;
    q.n_neutral2 = neutral2 ? 1 : 0;
    size_t n;
    cr_assert_eq(search_run(st, &q, h, &n, &e), 0, "%s", e.msg);
    vecindex_close(v1);
    vecindex_close(v2);
    return n;
}

/* a query vector near entry i's vector of seed base + i, with noise of length off */
static void near_by(float *q, unsigned base, int i, float off) {
    float a[DIM], b[DIM];
    unit(a, base + (unsigned)i);
    unit(b, 777);
    double n = 0;
    for (int j = 0; j < DIM; j++) {
        q[j] = a[j] + off * b[j];
        n += (double)q[j] * q[j];
    }
    for (int j = 0; j < DIM; j++) q[j] = (float)(q[j] / sqrt(n));
}

static void near(float *q, unsigned base, int i) { near_by(q, base, i, 0.15f); }

Test(textspace, found_by_the_text_space_alone) {
    put_spaces();
    float q1[DIM], q2[DIM];
    unit(q1, 424242); /* the CLIP space sees nothing in particular */
    near(q2, 5000, 4);
    search_hit *h;
    size_t n = run(q1, NULL, NULL, &h);
    for (size_t i = 0; i < n; i++) cr_assert_neq(h[i].id, txt[4], "not found without the text space");
    free(h);
    n = run(q1, q2, NULL, &h);
    cr_assert_geq(n, 1);
    cr_assert_eq(h[0].id, txt[4]);
    cr_assert(h[0].signals & SEARCH_MEANING_TEXT);
    cr_assert(h[0].signals & SEARCH_MEANING);
    cr_assert_geq(h[0].standout, search_textembed_min, "%f", h[0].standout);
    for (size_t i = 0; i < n; i++) cr_assert_neq(h[i].id, img[0]); /* images have no text-space vector */
    free(h);
}

Test(textspace, meaning_is_the_better_space_not_the_sum) {
    put_spaces();
    float q1[DIM], q2[DIM];
    near(q1, 1000, 4); /* entry 4 stands out in both spaces */
    near(q2, 5000, 4);
    search_hit *h;
    cr_assert_geq(run(q1, NULL, NULL, &h), 1);
    cr_assert_eq(h[0].id, txt[4]);
    double s1 = h[0].score;
    cr_assert_eq(h[0].signals & SEARCH_MEANING_TEXT, 0);
    free(h);
    cr_assert_geq(run(NULL, q2, NULL, &h), 1);
    cr_assert_eq(h[0].id, txt[4]);
    double s2 = h[0].score;
    free(h);
    cr_assert_geq(run(q1, q2, NULL, &h), 1);
    cr_assert_eq(h[0].id, txt[4]);
    cr_assert_float_eq(h[0].score, fmax(s1, s2), 1e-9, "%f vs %f, %f", h[0].score, s1, s2);
    free(h);
}

Test(textspace, nearer_gibberish_than_any_entry_is_raised_away) {
    put_spaces();
    float q2[DIM];
    near_by(q2, 5000, 4, 1.2f); /* entry 4 leads, at a cosine of about 0.6 */
    search_hit *h;
    cr_assert_geq(run(NULL, q2, NULL, &h), 1);
    cr_assert_eq(h[0].id, txt[4]);
    free(h);
    /* a gibberish prompt nearer to the query than its best entry is (here: the query itself):
     * the floor rises by that gap in this space's units, and the entry no longer counts */
    size_t n = run(NULL, q2, q2, &h);
    cr_assert_eq(n, 0, "%zu hits", n);
    free(h);
    float far[DIM]; /* a prompt unlike the query: no raise */
    unit(far, 99);
    for (int j = 0; j < DIM; j++) far[j] = -q2[j];
    cr_assert_geq(run(NULL, q2, far, &h), 1);
    cr_assert_eq(h[0].id, txt[4]);
    free(h);
}

Test(textspace, index_run_text_with_a_real_sentence_model, .timeout = 120) {
    FIXTURE(d, "tiny-bert-minilm");
    bert_params bp = bert_default_params();
    bp.threads = 1;
    stm_ctx *t;
    cs_err e;
    cr_assert_eq(stm_load(d, &bp, &t, &e), 0, "%s", e.msg);
    index_stats s;
    cr_assert_eq(index_run_text(st, t, "st", 0, &s, &e), 0, "%s", e.msg);
    cr_assert_eq(s.embedded, NT);
    cr_assert_eq(s.pending, 0);
    int64_t c;
    cr_assert_eq(store_vector_count(st, "st", &c, &e), 0);
    cr_assert_eq(c, NT, "text entries only: %lld", (long long)c);
    /* the stored vector is the model's sentence embedding of the text */
    float got[64], want[64];
    cr_assert_eq(stm_dim(t), 64);
    cr_assert_eq(store_get_vector(st, txt[2], "st", 0, got, 64, &e), 0);
    const char *x = "A man is riding a horse.";
    cr_assert_eq(stm_embed_texts(t, &x, 1, 1, want, &e), 0);
    cr_assert_lt(max_abs_diff(got, want, 64), 1e-6f);
    /* nothing left: a second pass embeds nothing; a new text entry alone is embedded */
    cr_assert_eq(index_run_text(st, t, "st", 0, &s, &e), 0);
    cr_assert_eq(s.embedded, 0);
    add("text", "a new clip", 10);
    cr_assert_eq(index_run_text(st, t, "st", 0, &s, &e), 0);
    cr_assert_eq(s.embedded, 1);
    /* the gibberish prompts through the same model, for its own raise */
    float *nv;
    cr_assert_eq(search_neutral_embed_st(t, &nv, &e), 0, "%s", e.msg);
    double l = 0;
    for (int j = 0; j < 64; j++) l += (double)nv[j] * nv[j];
    cr_assert_float_eq(l, 1.0, 1e-5);
    free(nv);
    stm_free(t);
}
