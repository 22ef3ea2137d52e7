/* search ranking without a model (words only): exact hits first, the last word as a prefix, one
 * typo, pieces inside words, stop words, the empty query as the recent list, nonsense as nothing,
 * and the words a front end highlights. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/search/search.h"
#include "../src/store/store.h"

static store *st;
static char dir[64];
static int64_t ids[16];

static int64_t add(const char *text) {
    store_new n = {0};
    n.kind = "text";
    n.mime = "text/plain;charset=utf-8";
    n.data = text;
    n.len = strlen(text);
    int64_t id;
    cs_err e;
    cr_assert_eq(store_add(st, &n, &id, NULL, &e), 0, "%s", e.msg);
    return id;
}

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

Test(search, exact_word_first) {
    search_hit *h;
    size_t n = run("fib", &h);
    cr_assert_geq(n, 1);
    cr_assert_eq(h[0].id, ids[0]);
    cr_assert_eq(h[0].match, SEARCH_EXACT);
    free(h);
}

Test(search, last_word_as_prefix_while_typing) {
    const char *steps[] = {"inv", "invo", "invoi", "invoic", "quarterly bud", "quar"};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        search_hit *h;
        size_t n = run(steps[i], &h);
        cr_assert_geq(n, 1, "%s found nothing", steps[i]);
        cr_assert_eq(h[0].id, i < 4 ? ids[2] : ids[3], "%s", steps[i]);
        cr_assert_eq(h[0].match, SEARCH_PREFIX, "%s", steps[i]);
        free(h);
    }
}

Test(search, one_typo_in_a_long_word) {
    const char *typos[] = {"meting", "budgte", "quartrly", "invoize"};
    for (size_t i = 0; i < sizeof typos / sizeof *typos; i++) {
        search_hit *h;
        size_t n = run(typos[i], &h);
        cr_assert_geq(n, 1, "%s found nothing", typos[i]);
        cr_assert_eq(h[0].id, i < 3 ? ids[3] : ids[2], "%s", typos[i]);
        cr_assert_eq(h[0].match, SEARCH_FUZZY, "%s", typos[i]);
        free(h);
    }
    search_hit *h; /* short words are not guessed at: "fob" is not "fib" */
    cr_assert_eq(run("fob", &h), 0);
    free(h);
}

Test(search, piece_inside_a_word) {
    search_hit *h;
    size_t n = run("board", &h);
    cr_assert_eq(n, 1);
    cr_assert_eq(h[0].id, ids[5]);
    cr_assert_eq(h[0].match, SEARCH_SUBSTRING);
    free(h);
}

Test(search, stop_words_left_out_and_phrase_beats_scattered) {
    search_hit *h;
    size_t n = run("the red star", &h); /* "red" and "star" are in entry 4, not as a phrase */
    cr_assert_geq(n, 1);
    cr_assert_eq(h[0].id, ids[4]);
    cr_assert_eq(h[0].match, SEARCH_WORDS);
    free(h);
}

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

/* A store from before the trigram index (version 4 here: the index, its triggers and the version
 * taken back) gets it when opened, filled with the entries it already has. */
Test(search, migration_builds_the_trigram_index) {
    store_close(st);
    char db[128];
    snprintf(db, sizeof db, "%s/clipseek.db", dir);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "DROP TABLE entries_tri; DROP TRIGGER IF EXISTS entries_tri_ai;"
                                 " DROP TRIGGER IF EXISTS entries_tri_ad; DROP TRIGGER IF EXISTS entries_tri_au;"
                                 " PRAGMA user_version = 4;", NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
    cs_err e;
    cr_assert_eq(store_open(dir, &st, &e), 0, "%s", e.msg);
    search_hit *hh;
    size_t n = run("board", &hh);
    cr_assert_eq(n, 1);
    cr_assert_eq(hh[0].id, ids[5]);
    free(hh);
    int64_t id = add("a keyboard shortcut"); /* and keeps it up to date */
    n = run("board", &hh);
    cr_assert_eq(n, 2);
    cr_assert(hh[0].id == id || hh[1].id == id);
    free(hh);
}

/* The same when the table is already there (a development build's version 5) but stale and
 * without its triggers: the migration empties, refills and re-arms it. */
Test(search, migration_repairs_a_stale_trigram_index) {
    store_close(st);
    char db[128];
    snprintf(db, sizeof db, "%s/clipseek.db", dir);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "DELETE FROM entries_tri; DROP TRIGGER entries_tri_ai; PRAGMA user_version = 5;", NULL,
                              NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
    cs_err e;
    cr_assert_eq(store_open(dir, &st, &e), 0, "%s", e.msg);
    search_hit *hh;
    cr_assert_eq(run("board", &hh), 1);
    free(hh);
    add("a keyboard shortcut");
    cr_assert_eq(run("board", &hh), 2);
    free(hh);
}
