/* The one ingest path (src/capture/ingest.h): the pause flag fails closed, the offered types are
 * stored, captured clips follow the secret policy and explicit imports do not; and a deleted
 * secret's bytes are gone from the database file and its WAL (store.c's index scrub). */
#include <sqlite3.h>

#include "../src/capture/ingest.h"
#include "testutil.h"

static rules *parse_rules(const char *text) {
    rules *r;
    cs_err e;
    cr_assert_eq(rules_parse(text, strlen(text), "test", &r, &e), 0, "%s", e.msg);
    return r;
}

static void db_exec(const char *dir, const char *sql) {
    char p[4200];
    snprintf(p, sizeof p, "%s/clipseek.db", dir);
    sql_exec(p, sql);
}

/* A fresh store in a temporary directory and a config parsed from text. */
typedef struct fx { char dir[64]; store *s; rules *r; } fx;

static void fx_open(fx *f, const char *config) {
    cs_err e;
    make_tmpdir(f->dir, sizeof f->dir);
    cr_assert_eq(store_open(f->dir, &f->s, &e), 0, "%s", e.msg);
    f->r = parse_rules(config);
}

static void fx_close(fx *f) {
    rules_free(f->r);
    store_close(f->s);
    rm_rf(f->dir);
}

static capture_clip text_clip(const char *t, const char *offered) {
    capture_clip c = {(const unsigned char *)t, strlen(t), "text/plain;charset=utf-8", offered, NULL};
    return c;
}

Test(ingest, stores_with_offered_types_and_reports) {
    fx f;
    fx_open(&f, "");
    cs_err e;
    capture_clip c = text_clip("hello from the ingest test", "text/plain;charset=utf-8\ntext/html\nx-custom");
    ingest_result res;
    cr_assert_eq(ingest_clip(f.s, f.r, &c, INGEST_CAPTURED, &res, &e), 0, "%s", e.msg);
    cr_assert_eq(res.decision, INGEST_STORED);
    store_entry en;
    cr_assert_eq(store_get(f.s, res.id, &en, &e), 0);
    cr_assert_str_eq(en.mimes, "text/plain;charset=utf-8\ntext/html\nx-custom");
    store_entry_free(&en);
    cr_assert_eq(ingest_clip(f.s, f.r, &c, 0, &res, &e), 0);
    cr_assert_eq(res.decision, INGEST_BUMPED);
    char line[1400];
    cr_assert(strstr(ingest_describe(&res, &c, line, sizeof line), "bumped entry"), "%s", line);
    capture_clip empty = text_clip("", NULL);
    cr_assert_eq(ingest_clip(f.s, f.r, &empty, INGEST_CAPTURED, &res, &e), 0);
    cr_assert_eq(res.decision, INGEST_INVALID);
    cr_assert(strstr(res.reason, "empty"), "%s", res.reason);
    fx_close(&f);
}

Test(ingest, secret_policy_applies_to_captured_clips_only) {
    fx f;
    fx_open(&f, "store_secrets = false\n");
    cs_err e;
    capture_clip c = text_clip("ghp_R7cQ2mV9xK4tB8nL1pW6yH3jF5dS0aZ2eU7i", NULL);
    ingest_result res;
    cr_assert_eq(ingest_clip(f.s, f.r, &c, INGEST_CAPTURED, &res, &e), 0);
    cr_assert_eq(res.decision, INGEST_REJECTED);
    cr_assert(strstr(res.reason, "secret"), "%s", res.reason);
    cr_assert_eq(ingest_clip(f.s, f.r, &c, 0, &res, &e), 0); /* an explicit import */
    cr_assert_eq(res.decision, INGEST_STORED);
    cr_assert_str_eq(res.subkind, "secret");
    fx_close(&f);
}

Test(ingest, pause_set_and_unreadable_keep_clips_out) {
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    store *s;
    cs_err e;
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    rules *r = parse_rules("");
    capture_clip c = text_clip("copied while paused", NULL);
    ingest_result res;
    cr_assert_eq(store_meta_set(s, "paused", "1", &e), 0);
    cr_assert_eq(ingest_clip(s, r, &c, INGEST_CAPTURED, &res, &e), 0);
    cr_assert_eq(res.decision, INGEST_PAUSED);
    cr_assert_eq(ingest_clip(s, r, &c, 0, &res, &e), 0);
    cr_assert_eq(res.decision, INGEST_PAUSED, "explicit imports honour pause too");
    store_close(s);
    /* a meta table whose read fails (json() of bad text raises an error at step time): the flag
     * cannot be read, so nothing is stored */
    db_exec(dir, "ALTER TABLE meta RENAME TO meta_kept;"
                 "CREATE VIEW meta(key, value) AS SELECT key, json('not json') FROM meta_kept;");
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    char why[1100];
    cr_assert_eq(ingest_paused(s, why, sizeof why), -1);
    cr_assert_eq(ingest_clip(s, r, &c, INGEST_CAPTURED, &res, &e), -1);
    cr_assert_eq(res.decision, INGEST_FAILED);
    cr_assert(strstr(e.msg, "fail closed"), "%s", e.msg);
    int64_t n = -1, pending;
    cr_assert_eq(store_counts(s, NULL, &n, &pending, &e), 0);
    cr_assert_eq(n, 0, "nothing stored while the flag is unreadable");
    rules_free(r);
    store_close(s);
    rm_rf(dir);
}

static int file_has(const char *path, const char *needle) {
    struct stat st;
    if (stat(path, &st) != 0) return 0;
    size_t n;
    unsigned char *b = read_all(path, &n);
    size_t k = strlen(needle);
    int found = 0;
    for (size_t i = 0; !found && i + k <= n; i++) found = !strncasecmp((const char *)b + i, needle, k);
    free(b);
    return found;
}

Test(ingest, deleted_secret_bytes_leave_the_database_file) {
    fx f;
    fx_open(&f, "");
    cs_err e;
    char db[128], wal[140];
    snprintf(db, sizeof db, "%s/clipseek.db", f.dir);
    snprintf(wal, sizeof wal, "%s/clipseek.db-wal", f.dir);
    /* other entries around it, so the index has segments of its own to keep */
    for (int i = 0; i < 20; i++) {
        char t[64];
        snprintf(t, sizeof t, "ordinary note number %d about gardening", i);
        capture_clip c = text_clip(t, NULL);
        ingest_result res;
        cr_assert_eq(ingest_clip(f.s, f.r, &c, INGEST_CAPTURED, &res, &e), 0);
    }
    const char *secret = "ghp_Q8wErTy5uIoP3aSdFgH7jKlZ1xCvBnM4qWe2";
    capture_clip c = text_clip(secret, NULL);
    ingest_result res;
    cr_assert_eq(ingest_clip(f.s, f.r, &c, INGEST_CAPTURED, &res, &e), 0);
    cr_assert_eq(res.decision, INGEST_STORED);
    cr_assert_str_eq(res.subkind, "secret");
    cr_assert(file_has(db, "Q8wErTy5uIoP3aSdFgH7") || file_has(wal, "Q8wErTy5uIoP3aSdFgH7"), "the secret was written");
    cr_assert_eq(store_delete(f.s, res.id, &e), 0, "%s", e.msg);
    /* FTS5 keeps terms lowercased: search without case, the token's body and its prefix */
    cr_assert_not(file_has(db, "Q8wErTy5uIoP3aSdFgH7"), "secret bytes still in %s", db);
    cr_assert_not(file_has(wal, "Q8wErTy5uIoP3aSdFgH7"), "secret bytes still in %s", wal);
    /* the rest of the index still answers */
    int64_t *ids = NULL;
    size_t n = 0;
    cr_assert_eq(store_fts(f.s, "gardening", 100, &ids, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 20);
    free(ids);
    fx_close(&f);
}
