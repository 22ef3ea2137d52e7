/* search ranking without a model (words only): exact hits first, the last word as a prefix, one
 * typo, pieces inside words, stop words, the empty query as the recent list, nonsense as nothing,
 * and the words a front end highlights. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/search/search.h"
#include "../src/store/store.h"

static store *st;
static char dir[64];
static int64_t ids[16];

static int64_t add_entry(const char *kind, const char *mime, const char *data) {
    store_new n = {0};
    n.kind = kind;
    n.mime = mime;
    n.data = data;
    n.len = strlen(data);
    int64_t id;
    cs_err e;
    cr_assert_eq(store_add(st, &n, &id, NULL, &e), 0, "%s", e.msg);
    return id;
}

static int64_t add(const char *text) { return add_entry("text", "text/plain;charset=utf-8", text); }

static void setup(void) {
    strcpy(dir, "/tmp/clipseek-test-search-XXXXXX"); /* each test its own store */
    cr_assert_not_null(mkdtemp(dir));
    cs_err e;
    cr_assert_eq(store_open(dir, &st, &e), 0, "%s", e.msg);
    ids[0] = add("def fib(n): return n if n < 2 else fib(n - 1) + fib(n - 2)");
    ids[1] = add("fibonacci numbers grow like the golden ratio, see fibs and fibers");
    ids[2] = add("invoice 4471 total due");
    ids[3] = add("quarterly budget meeting notes");
    ids[4] = add("a red car and a star on the hood of it");
    ids[5] = add("my clipboard history");
}

static void teardown(void) {
    store_close(st);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static size_t run(const char *text, search_hit **h) {
    search_query q = {0};
    q.text = text;
    q.limit = 10;
    size_t n;
    cs_err e;
    cr_assert_eq(search_run(st, &q, h, &n, &e), 0, "%s", e.msg);
    return n;
}

TestSuite(search, .init = setup, .fini = teardown);

/* q's first hit is entry id, found by words the way `match` says */
static void expect_first(const char *q, int64_t id, int match) {
    search_hit *h;
    size_t n = run(q, &h);
    cr_assert_geq(n, 1, "%s found nothing", q);
    cr_assert_eq(h[0].id, id, "%s", q);
    cr_assert_eq(h[0].match, match, "%s", q);
    free(h);
}

Test(search, exact_word_first) { expect_first("fib", ids[0], SEARCH_EXACT); }

Test(search, last_word_as_prefix_while_typing) {
    const char *steps[] = {"inv", "invo", "invoi", "invoic", "quarterly bud", "quar"};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        expect_first(steps[i], i < 4 ? ids[2] : ids[3], SEARCH_PREFIX);
}

Test(search, one_typo_in_a_long_word) {
    const char *typos[] = {"meting", "budgte", "quartrly", "invoize"};
    for (size_t i = 0; i < sizeof typos / sizeof *typos; i++)
        expect_first(typos[i], i < 3 ? ids[3] : ids[2], SEARCH_FUZZY);
    search_hit *h; /* short words are not guessed at: "fob" is not "fib" */
    cr_assert_eq(run("fob", &h), 0);
    free(h);
}

Test(search, piece_inside_a_word) {
    expect_first("board", ids[5], SEARCH_SUBSTRING);
    search_hit *h;
    cr_assert_eq(run("board", &h), 1);
    free(h);
}

/* "red" and "star" are in entry 4, not as a phrase; "the" is left out */
Test(search, stop_words_left_out_and_phrase_beats_scattered) { expect_first("the red star", ids[4], SEARCH_WORDS); }

Test(search, nonsense_finds_nothing) {
    search_hit *h;
    cr_assert_eq(run("zzqxvkw", &h), 0);
    free(h);
}

Test(search, empty_query_lists_recent) {
    const char *empties[] = {"", "   ", "\"!?"};
    for (size_t i = 0; i < 3; i++) {
        search_hit *h;
        size_t n = run(empties[i], &h);
        cr_assert_eq(n, 6, "'%s'", empties[i]);
        cr_assert_eq(h[0].id, ids[5]);
        cr_assert_eq(h[5].id, ids[0]);
        cr_assert_eq(h[0].signals, 0);
        free(h);
    }
}

Test(search, one_edit) {
    cr_assert(search_one_edit("meeting", 7, "meting", 6));
    cr_assert(search_one_edit("budget", 6, "budgte", 6));
    cr_assert(search_one_edit("budget", 6, "budgex", 6));
    cr_assert(search_one_edit("budget", 6, "budgets", 7));
    cr_assert(!search_one_edit("budget", 6, "bugdte", 6));
    cr_assert(!search_one_edit("budget", 6, "budge", 4));
}

Test(search, matched_words_for_highlighting) {
    char *w[8];
    size_t n = search_matched_words("Quarterly Budget: the meeting, quarterly.", "quartrly meet", w, 8);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(w[0], "quarterly");
    cr_assert_str_eq(w[1], "meeting");
    for (size_t i = 0; i < n; i++) free(w[i]);
}

/* Closes the store, runs sql on its file as an older or damaged store would have it, reopens
 * (migrating), then checks that "board" finds entry 5 alone and that a new entry joins it. */
static void reopen_after(const char *sql) {
    store_close(st);
    char db[128];
    snprintf(db, sizeof db, "%s/clipseek.db", dir);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
    cs_err e;
    cr_assert_eq(store_open(dir, &st, &e), 0, "%s", e.msg);
    expect_first("board", ids[5], SEARCH_SUBSTRING);
    search_hit *hh;
    cr_assert_eq(run("board", &hh), 1);
    free(hh);
    int64_t id = add("a keyboard shortcut"); /* and the index is kept up to date */
    cr_assert_eq(run("board", &hh), 2);
    cr_assert(hh[0].id == id || hh[1].id == id);
    free(hh);
}

/* A store from before the trigram index (version 4 here: the index, its triggers and the version
 * taken back) gets it when opened, filled with the entries it already has. */
Test(search, migration_builds_the_trigram_index) {
    reopen_after("DROP TABLE entries_tri; DROP TRIGGER IF EXISTS entries_tri_ai; DROP TRIGGER IF EXISTS entries_tri_ad;"
                 " DROP TRIGGER IF EXISTS entries_tri_au; PRAGMA user_version = 4;");
}

/* The same when the table is already there (a development build's version 5) but stale and
 * without its triggers: the migration empties, refills and re-arms it. */
Test(search, migration_repairs_a_stale_trigram_index) {
    reopen_after("DELETE FROM entries_tri; DROP TRIGGER entries_tri_ai; PRAGMA user_version = 5;");
}

/* The meaning floor rises with the query's likeness to gibberish (search_neutral.h): a text hit
 * that stands out by 1.5 (floor 1.15) is listed for a query unlike the gibberish prompts, and not
 * for one at cosine 0.9 with them (floor 1.15 + 0.9 - 0.5). Vectors by hand: the query is axis 0;
 * entry i has cosine c_i with it and its own axis for the rest. */
Test(search, gibberish_likeness_raises_the_meaning_floor) {
    enum { D = 40, R = 21 };
    static float m[R * D], qv[D], far[D], near[D];
    static int64_t vid[R];
    for (int i = 0; i < R; i++) {
        char t[32];
        snprintf(t, sizeof t, "filler %d", i);
        vid[i] = i < 6 ? ids[i] : add(t);
        /* ids[2] ("invoice") is the target at 0.30; the rest at 0.00 .. 0.19: reference (3rd
         * best) 0.18, median 0.10, so its standout is (0.30 - 0.18) / 0.08 = 1.5 */
        double c = vid[i] == ids[2] ? 0.30 : 0.01 * (i < 2 ? i : i - 1);
        m[i * D] = (float)c;
        m[i * D + 1 + i] = (float)sqrt(1 - c * c);
    }
    qv[0] = 1;
    far[0] = 0.3f, far[D - 1] = (float)sqrt(1 - 0.09);
    near[0] = 0.9f, near[D - 1] = (float)sqrt(1 - 0.81);
    vecindex *vi = vecindex_from_memory(m, vid, R, D);
    cr_assert_not_null(vi);
    const float *neutral[] = {NULL, far, near};
    for (int k = 0; k < 3; k++) {
        search_query q = {0};
        q.text = "zzkqxv"; /* no words match: meaning alone */
        q.limit = 10;
        q.qvec = qv;
        q.vecs = vi;
        q.neutral = neutral[k];
        q.n_neutral = neutral[k] ? 1 : 0;
        search_hit *h;
        size_t n;
        cs_err e;
        cr_assert_eq(search_run(st, &q, &h, &n, &e), 0, "%s", e.msg);
        if (k < 2) {
            cr_expect_eq(n, 1, "prompts %d: only the target stands out, got %zu hits", k, n);
            cr_expect(n >= 1 && h[0].id == ids[2] && (h[0].signals & SEARCH_MEANING), "prompts %d", k);
            cr_expect(n >= 1 && fabsf(h[0].standout - 1.5f) < 0.01f, "standout %f", n ? h[0].standout : 0);
        } else
            cr_expect_eq(n, 0, "a gibberish-like query lists nothing, got %zu hits", n);
        free(h);
    }
    vecindex_close(vi);
}

/* Typing a prefix, the entry holding its rarer completion comes first: "quar" completes the
 * "quarterly" of one entry and the "quarter" of three shorter ones, which BM25 alone prefers. */
Test(search, rarer_completion_of_a_prefix_first) {
    for (int i = 0; i < 3; i++) add(i == 0 ? "quarter quarter" : i == 1 ? "a quarter past" : "quarter to");
    expect_first("quar", ids[3], SEARCH_PREFIX);
    expect_first("budget quar", ids[3], SEARCH_PREFIX);
}

/* A word starting with what was typed comes before one that only holds it inside. */
Test(search, word_start_before_inside_a_word) {
    int64_t inside = add("rebudgeting"); /* newest: recency would put it first on a tie */
    search_hit *h;
    size_t n = run("budg", &h);
    cr_assert_geq(n, 1);
    cr_expect_eq(h[0].id, ids[3]);
    int64_t last = h[n - 1].id;
    cr_expect(n == 1 || last == inside, "the piece inside a word comes last");
    free(h);
}

/* While a word is typed it may still grow: "valid" is a whole word in three entries and the start
 * of "validity" in one. The best exact hit stays first, then the best entry of each other
 * completion, then the other exact hits; a trailing space says the word is complete, and every
 * exact hit then comes first. */
Test(search, completions_not_buried_while_typing) {
    int64_t ex[3] = {add("the value is valid"), add("valid json"), add("a valid key")};
    int64_t v = add("check the validity of the date");
    search_hit *h;
    size_t n = run("valid", &h);
    cr_assert_eq(n, 4);
    cr_expect_eq(h[0].match, SEARCH_EXACT);
    cr_expect(h[0].id == ex[0] || h[0].id == ex[1] || h[0].id == ex[2]);
    cr_expect_eq(h[1].id, v, "the completion comes second while typing");
    free(h);
    n = run("valid ", &h);
    cr_assert_eq(n, 4);
    for (int i = 0; i < 3; i++) cr_expect_eq(h[i].match, SEARCH_EXACT, "hit %d", i);
    cr_expect_eq(h[3].id, v, "a complete word: exact hits first");
    free(h);
    n = run("json val", &h); /* the last word only: "val" completes "valid" and "value" */
    cr_assert_geq(n, 1);
    cr_expect_eq(h[0].id, ex[1]);
    free(h);
}

/* Without an exact hit too: three short URLs hold "gnome", one long paragraph the rarer
 * "gnomovision"; by score (length factor) the paragraph comes last, while typing it comes second. */
Test(search, rare_completion_near_the_top_while_typing) {
    for (int i = 0; i < 3; i++) {
        char u[64];
        snprintf(u, sizeof u, "https://gitlab.gnome.org/project%d", i);
        add(u);
    }
    char para[3200] = "Gnomovision version 69, Copyright (C) year name of author.";
    while (strlen(para) + 40 < sizeof para) strcat(para, " This is free software, see the licence.");
    int64_t g = add(para);
    search_hit *h;
    size_t n = run("gnom", &h);
    cr_assert_eq(n, 4);
    cr_expect_neq(h[0].id, g);
    cr_expect_eq(h[1].id, g, "the rarer completion comes second while typing");
    free(h);
    n = run("gnom ", &h); /* the word is complete: by score */
    cr_assert_eq(n, 4);
    cr_expect_eq(h[3].id, g);
    free(h);
}

/* The completions' best entries come rarest first: the entry with "validation" (in one entry)
 * before an exact hit on "valid" that stands for "validate" (in two), whatever its exact bonus. */
Test(search, rarer_completion_first_among_completions) {
    add("valid");
    add("is it valid? validate the form before sending it");
    add("valid input: validate it");
    int64_t v = add("the validation of the form");
    search_hit *h;
    size_t n = run("valid", &h);
    cr_assert_eq(n, 4);
    cr_expect_eq(h[0].match, SEARCH_EXACT);
    cr_expect_eq(h[1].id, v);
    free(h);
}

static int64_t add_image(int i, const char *ocr) {
    char data[32];
    snprintf(data, sizeof data, "not really a png %d", i);
    int64_t id = add_entry("image", "image/png", data);
    cs_err e;
    cr_assert_eq(store_set_ocr(st, id, ocr, &e), 0, "%s", e.msg);
    return id;
}

/* The scene of the two tests below: the six texts of setup, 20 pictures at cosine 0.00 .. 0.19
 * with the query, the target picture at 0.54 and 16 screenshots at 0.55 .. 0.5575 (vectors by
 * hand: one shared axis and one axis each). Returns the search matrix; *target is the picture. */
enum { SC_NP = 20, SC_NT = 16, SC_R = 6 + SC_NP + 1 + SC_NT, SC_D = SC_R + 1 };
static float sc_m[SC_R * SC_D], sc_q[SC_D];
static int64_t sc_vid[SC_R];
static vecindex *screenshot_scene(int64_t *target) {
    for (int i = 0; i < SC_R; i++) {
        double c = 0;
        if (i < 6)
            sc_vid[i] = ids[i];
        else if (i <= 6 + SC_NP) {
            sc_vid[i] = add_image(i, "");
            c = i == 6 + SC_NP ? 0.54 : 0.01 * (i - 6);
        } else {
            sc_vid[i] = add_image(i, "Invoice 4471 total due");
            c = 0.55 + 0.0005 * (i - 7 - SC_NP);
        }
        sc_m[i * SC_D] = (float)c;
        sc_m[i * SC_D + 1 + i] = (float)sqrt(1 - c * c);
    }
    sc_q[0] = 1;
    *target = sc_vid[6 + SC_NP];
    vecindex *vi = vecindex_from_memory(sc_m, sc_vid, SC_R, SC_D);
    cr_assert_not_null(vi);
    return vi;
}

/* A crowd of screenshots (images whose OCR found text) that all rise together for a query must
 * not hide the picture that matches it, and must not stand out within their own tight crowd:
 * pictures are measured against pictures, images of text against every image (search.c,
 * crowd_of). 20 pictures at cosine 0.00 .. 0.19 and the target picture at 0.54; 16 screenshots
 * at 0.55 .. 0.5575. Vectors by hand as above. */
Test(search, screenshot_crowd_does_not_hide_the_picture) {
    int64_t target;
    vecindex *vi = screenshot_scene(&target);
    search_query q = {0};
    q.text = "zzkqxv"; /* no words match: meaning alone */
    q.limit = 10;
    q.qvec = sc_q;
    q.vecs = vi;
    search_hit *h;
    size_t n;
    cs_err e;
    cr_assert_eq(search_run(st, &q, &h, &n, &e), 0, "%s", e.msg);
    cr_expect_eq(n, 1, "only the picture stands out, got %zu hits", n);
    cr_expect(n >= 1 && h[0].id == target && (h[0].signals & SEARCH_MEANING));
    free(h);
    vecindex_close(vi);
}

/* The same search on a fresh connection (no kind map kept yet): what every search must equal. */
static size_t run_fresh(search_query *q, search_hit **h) {
    store *s2;
    cs_err e;
    size_t n;
    cr_assert_eq(store_open(dir, &s2, &e), 0, "%s", e.msg);
    cr_assert_eq(search_run(s2, q, h, &n, &e), 0, "%s", e.msg);
    store_close(s2);
    return n;
}

static int same_hits(const search_hit *a, size_t na, const search_hit *b, size_t nb) {
    if (na != nb) return 0;
    for (size_t i = 0; i < na; i++)
        if (a[i].id != b[i].id || a[i].score != b[i].score || a[i].signals != b[i].signals ||
            a[i].standout != b[i].standout)
            return 0;
    return 1;
}

/* A search reads the sampled entries' kinds from the store's kind map (store_kind_map), kept on
 * the connection between searches. When the kinds change (here 16 screenshots lose their OCR text
 * and join the pictures' crowd, burying the target picture; then get it back), the next search on
 * the same connection must rank exactly as a fresh connection does: after a change committed by
 * another connection (data_version) and after one made on this connection (its own writes). */
Test(search, kept_kind_map_follows_every_change) {
    int64_t target;
    vecindex *vi = screenshot_scene(&target);
    search_query q = {0};
    q.text = "zzkqxv"; /* meaning alone */
    q.limit = 10;
    q.qvec = sc_q;
    q.vecs = vi;
    search_hit *h[3] = {NULL, NULL, NULL};
    size_t n[3] = {0, 0, 0};
    cs_err e;
    store *other;
    cr_assert_eq(store_open(dir, &other, &e), 0, "%s", e.msg);
    int ok = 1;
    char why[160] = "";
    for (int step = 0; step < 3 && ok; step++) {
        /* step 1: the screenshots lose their text through another connection; step 2: they get it
         * back through this one */
        for (int i = 7 + SC_NP; step && i < SC_R; i++)
            cr_assert_eq(store_set_ocr(step == 1 ? other : st, sc_vid[i], step == 1 ? "" : "Invoice 4471 total due", &e),
                         0, "%s", e.msg);
        cr_assert_eq(search_run(st, &q, &h[step], &n[step], &e), 0, "%s", e.msg);
        search_hit *f;
        size_t nf = run_fresh(&q, &f);
        ok = same_hits(h[step], n[step], f, nf);
        if (!ok)
            snprintf(why, sizeof why, "step %d: the kept connection found %zu hits, a fresh one %zu", step, n[step],
                     nf);
        free(f);
    }
    store_close(other);
    vecindex_close(vi);
    if (ok) { /* the change mattered: the picture stood out, then did not, then did again */
        ok = !same_hits(h[0], n[0], h[1], n[1]) && same_hits(h[0], n[0], h[2], n[2]);
        snprintf(why, sizeof why, "hits %zu, %zu, %zu: the kinds' change did not change the ranking", n[0], n[1],
                 n[2]);
    }
    for (int i = 0; i < 3; i++) free(h[i]);
    cr_assert(ok, "%s", why);
}

/* The word index's own words: which of a list it holds (store_fts_have_terms), repeats and
 * characters that need escaping in the statement's JSON included. */
Test(search, the_index_says_which_words_it_holds) {
    const char *t[] = {"meeting", "meting", "quarterly", "a\"b", "x\\y", "tab\there", "meeting", "cafe", ""};
    const unsigned char want[] = {1, 0, 1, 0, 0, 0, 1, 0, 0};
    unsigned char have[sizeof t / sizeof *t];
    cs_err e;
    cr_assert_eq(store_fts_have_terms(st, t, sizeof t / sizeof *t, have, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) cr_assert_eq(have[i], want[i], "%s", t[i]);
    add("Café crème");
    cr_assert_eq(store_fts_have_terms(st, t, sizeof t / sizeof *t, have, &e), 0, "%s", e.msg);
    cr_assert_eq(have[7], 1, "cafe, as the index folds café");
}

/* Many terms that share two leading bytes are asked by one range scan of the vocabulary instead of
 * a seek each: the answers must be the seeks' (each term asked alone), repeats, the shortest and
 * the longest of the group and terms that only begin like held words included. */
Test(search, a_range_of_the_vocabulary_answers_as_the_seeks_do) {
    add("me mea meal meals meant meantime meanwhile measure measured mew");
    add("mead meander zebra");
    const char *t[64];
    char buf[40][4];
    size_t n = 0;
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < 36; i++) { /* me? */
        snprintf(buf[i], sizeof buf[i], "me%c", al[i]);
        t[n++] = buf[i];
    }
    const char *more[] = {"meal", "meals", "meant", "meantime", "meanwhile", "meal", "mea", "me", "meanwhiles",
                          "measur", "m", "zebra", "zebr"};
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) t[n++] = more[i];
    unsigned char have[64], one;
    cs_err e;
    cr_assert_eq(store_fts_have_terms(st, t, n, have, &e), 0, "%s", e.msg);
    size_t held = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(store_fts_have_terms(st, &t[i], 1, &one, &e), 0, "%s", e.msg);
        cr_expect_eq(have[i], one, "%s: %d in the group, %d alone", t[i], have[i], one);
        held += have[i];
    }
    /* mea and mew; meal twice, meals, meant, meantime, meanwhile, mea, me, zebra */
    cr_expect_eq(held, 11, "%zu of the terms held", held);
}

/* The fuzzy way names only the one-edit variants the index holds: an absent word matches nothing
 * and adds exactly 0 to each BM25 sum, so the hits and their scores must be those of the query
 * that names every variant, bit for bit. */
Test(search, fuzzy_query_without_absent_variants_scores_the_same) {
    add("meeting meetings meting mating; budget budgets, a quarterly quartely memo");
    add("the quartrly budget of the meeting");
    const char *words[] = {"meting", "budgte", "quartrly", "metings", "zzzzz"};
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t k = 0; k < sizeof words / sizeof *words; k++) {
        const char *w = words[k];
        size_t n = strlen(w), nv = 0;
        char *v[1024];
        for (size_t i = 0; i <= n; i++) { /* the variants, as search.c names them */
            for (const char *c = al; *c; c++) {
                char *x = malloc(n + 2);
                memcpy(x, w, i);
                x[i] = *c;
                memcpy(x + i + 1, w + i, n - i + 1);
                v[nv++] = x;
            }
            if (i == n) break;
            for (const char *c = al; *c; c++)
                if (*c != w[i]) {
                    v[nv] = strdup(w);
                    v[nv++][i] = *c;
                }
            char *d = malloc(n + 1);
            memcpy(d, w, i);
            memcpy(d + i, w + i + 1, n - i);
            v[nv++] = d;
            if (i + 1 < n && w[i] != w[i + 1]) {
                v[nv] = strdup(w);
                v[nv][i] = w[i + 1];
                v[nv++][i + 1] = w[i];
            }
        }
        unsigned char have[1024];
        cs_err e;
        cr_assert_eq(store_fts_have_terms(st, (const char *const *)v, nv, have, &e), 0, "%s", e.msg);
        size_t la = 0, lb = 0;
        char *all = malloc(nv * 16 + 64), *held = malloc(nv * 16 + 64);
        la += (size_t)sprintf(all + la, "(\"%s\"*", w);
        lb += (size_t)sprintf(held + lb, "(\"%s\"*", w);
        for (size_t i = 0; i < nv; i++) {
            la += (size_t)sprintf(all + la, " OR \"%s\"", v[i]);
            if (have[i]) lb += (size_t)sprintf(held + lb, " OR \"%s\"", v[i]);
            free(v[i]);
        }
        strcpy(all + la, ")");
        strcpy(held + lb, ")");
        store_fts_hit *a, *b;
        size_t na, nb;
        cr_assert_eq(store_fts_ranked(st, 0, all, 400, &a, &na, &e), 0, "%s", e.msg);
        cr_assert_eq(store_fts_ranked(st, 0, held, 400, &b, &nb, &e), 0, "%s", e.msg);
        cr_assert(strlen(held) < strlen(all), "%s: some variants are absent", w);
        cr_assert_eq(na, nb, "%s: %zu hits naming every variant, %zu naming the held ones", w, na, nb);
        cr_assert(k == 4 || na > 0, "%s finds something", w);
        for (size_t i = 0; i < na; i++) {
            cr_assert_eq(a[i].id, b[i].id, "%s: hit %zu", w, i);
            cr_assert(memcmp(&a[i].bm25, &b[i].bm25, sizeof a[i].bm25) == 0, "%s: hit %zu scores %.17g and %.17g", w,
                      i, a[i].bm25, b[i].bm25);
        }
        free(a);
        free(b);
        free(all);
        free(held);
    }
}

/* Rows of a full-text query, for comparing two queries bit for bit (ids, BM25, lengths). */
static size_t fts_rows(const char *q, store_fts_hit **h) {
    size_t n;
    cs_err e;
    cr_assert_eq(store_fts_ranked(st, 0, q, 400, h, &n, &e), 0, "%s: %s", q, e.msg);
    return n;
}

/* search asks "w"* no more when w is the only indexed word it is a prefix of, and takes the rows
 * of "w" for it: the two must be the same rows in the same order with bitwise-equal scores (and
 * differ where w has longer completions, which the shortcut must not cover). */
Test(search, a_prefix_that_completes_to_itself_alone_ranks_as_the_word) {
    add("budget budget quarterly");
    add("the budget of the quarterly meeting; budget");
    add("fib fibs fib");
    const char *pairs[][2] = {{"\"budget\"", "\"budget\"*"}, {"\"meeting\" AND \"quarterly\"", "\"meeting\" AND \"quarterly\"*"},
                              {"\"fib\"", "\"fib\"*"}};
    for (size_t k = 0; k < 3; k++) {
        const char *p = k == 0 ? "budget" : k == 1 ? "quarterly" : "fib";
        store_fts_term *t;
        size_t nt;
        int64_t total;
        cs_err e;
        cr_assert_eq(store_fts_terms(st, p, 32, &t, &nt, &total, &e), 0, "%s", e.msg);
        int alone = nt == 1 && !strcmp(t[0].term, p);
        cr_assert_eq(search_prefix_alone(t, nt, p), alone, "%s", p);
        store_fts_terms_free(t, nt);
        cr_assert_eq(alone, k < 2, "%s completes to itself alone: %d", p, alone);
        store_fts_hit *a, *b;
        size_t na = fts_rows(pairs[k][0], &a), nb = fts_rows(pairs[k][1], &b);
        int same = na == nb && na > 0;
        for (size_t i = 0; same && i < na; i++)
            same = a[i].id == b[i].id && a[i].len == b[i].len && !memcmp(&a[i].bm25, &b[i].bm25, sizeof a[i].bm25);
        cr_assert_eq(same, alone, "%s and %s: same rows %d", pairs[k][0], pairs[k][1], same);
        free(a);
        free(b);
    }
}

/* When search takes "w"'s rows for "w"*: only for an ASCII word that no longer word extends. */
Test(search, prefix_alone_only_when_no_longer_word_and_ascii) {
    store_fts_term one[] = {{(char *)"budget", 3}}, two[] = {{(char *)"budget", 3}, {(char *)"budgets", 1}},
                   other[] = {{(char *)"budgets", 1}}, folded[] = {{(char *)"muller", 1}}, accented[] = {{(char *)"m\xc3\xbcller", 1}};
    cr_assert(search_prefix_alone(one, 1, "budget"));
    cr_assert(!search_prefix_alone(two, 2, "budget"), "budgets extends it");
    cr_assert(!search_prefix_alone(other, 1, "budget"), "budget itself is not indexed");
    cr_assert(!search_prefix_alone(one, 0, "budget"));
    cr_assert(!search_prefix_alone(folded, 1, "m\xc3\xbcller"));
    cr_assert(!search_prefix_alone(accented, 1, "m\xc3\xbcller"), "not ASCII: FTS5 folds the query's prefix");
}
