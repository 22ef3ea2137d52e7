/* The store on real SQLite files and blob folders: permissions, deduplication, blobs, listing,
 * pins and tags, retention, consistency checks and gc, foreign and corrupted databases, vectors;
 * the indexer's text windows and a full index run with the toyworld model. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <time.h>
#include <sys/stat.h>

#include "../src/index/indexer.h"
#include "../src/organize/organize.h"
#include "../src/store/store.h"
#include "../src/store/store_int.h"
#include "testutil.h"

static store *open_tmp(char *dir, size_t n) { return tmp_store(dir, n); }

/* Two connections to one fresh store (as two threads or processes have). */
static store *open_tmp_twice(char *dir, size_t n, store **second) {
    store *s = open_tmp(dir, n);
    cs_err e;
    cr_assert_eq(store_open(dir, second, &e), 0, "%s", e.msg);
    return s;
}

static void rm_parent(const char *dir) {
    char p[256];
    snprintf(p, sizeof p, "%s", dir);
    *strrchr(p, '/') = 0;
    rm_rf(p);
}

static int64_t add_text(store *s, const char *t, int *added) {
    store_new n = {"text", "text/plain;charset=utf-8", NULL, t, strlen(t), NULL, 0, 0, 0, NULL, NULL};
    int64_t id;
    cs_err e;
    cr_assert_eq(store_add(s, &n, &id, added, &e), 0, "%s", e.msg);
    return id;
}

Test(store, private_permissions) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    struct stat st;
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    char p[300];
    snprintf(p, sizeof p, "%s/clipseek.db", dir);
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 1, 2, 3};
    store_new n = {"image", "image/png", NULL, png, sizeof png, "/x.png", 1, 1, 0, NULL, NULL};
    int64_t id;
    cr_assert_eq(store_add(s, &n, &id, NULL, NULL), 0);
    store_entry e;
    cr_assert_eq(store_get(s, id, &e, NULL), 0);
    char *bp = store_blob_path(s, &e);
    cr_assert_eq(stat(bp, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    free(bp);
    store_entry_free(&e);
    store_close(s);
    /* loose permissions are tightened on open */
    chmod(dir, 0755);
    cr_assert_eq(store_open(dir, &s, NULL), 0);
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    store_close(s);
    rm_parent(dir);
}

Test(store, dedup_bumps_existing_entry) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    int added;
    int64_t a = add_text(s, "the IBAN DE89 3704 0044 0532 0130 00", &added);
    cr_assert_eq(added, 1);
    int64_t b = add_text(s, "something else", &added);
    int64_t c = add_text(s, "the IBAN DE89 3704 0044 0532 0130 00", &added);
    cr_assert_eq(added, 0);
    cr_assert_eq(a, c);
    cr_assert_neq(a, b);
    store_entry e;
    cr_assert_eq(store_get(s, a, &e, NULL), 0);
    cr_assert_eq(e.copies, 2);
    cr_assert_str_eq(e.text, "the IBAN DE89 3704 0044 0532 0130 00");
    store_entry_free(&e);
    /* the bumped entry is now the newest */
    store_entry *l;
    size_t n;
    cr_assert_eq(store_list(s, NULL, &l, &n, NULL), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(l[0].id, a);
    for (size_t i = 0; i < n; i++) store_entry_free(&l[i]);
    free(l);
    store_close(s);
    rm_parent(dir);
}

Test(store, refuses_bad_text_and_reads_back_blobs) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    cs_err e;
    store_new bad = {"text", "text/plain", NULL, "a\xff" "b", 3, NULL, 0, 0, 0, NULL, NULL};
    cr_assert_lt(store_add(s, &bad, NULL, NULL, &e), 0);
    store_new nul = {"text", "text/plain", NULL, "a\0b", 3, NULL, 0, 0, 0, NULL, NULL};
    cr_assert_lt(store_add(s, &nul, NULL, NULL, &e), 0);
    unsigned char img[5000];
    for (int i = 0; i < 5000; i++) img[i] = (unsigned char)(i * 31);
    store_new n = {"image", "image/png", NULL, img, sizeof img, NULL, 10, 20, 0, NULL, NULL};
    int64_t id;
    cr_assert_eq(store_add(s, &n, &id, NULL, &e), 0, "%s", e.msg);
    store_entry en;
    cr_assert_eq(store_get(s, id, &en, NULL), 0);
    unsigned char *d;
    size_t len;
    cr_assert_eq(store_content(s, &en, &d, &len, &e), 0, "%s", e.msg);
    cr_assert_eq(len, sizeof img);
    cr_assert_arr_eq(d, img, len);
    free(d);
    /* a corrupted blob is detected, not served */
    char *bp = store_blob_path(s, &en);
    write_file(bp, "garbage", 7);
    cr_assert_lt(store_content(s, &en, &d, &len, &e), 0);
    cr_assert(strstr(e.msg, "SHA-256"), "%s", e.msg);
    free(bp);
    store_entry_free(&en);
    store_close(s);
    rm_parent(dir);
}

Test(store, list_filters_pins_tags_delete) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    int64_t ids[5];
    char t[32];
    for (int i = 0; i < 5; i++) {
        snprintf(t, sizeof t, "text %d", i);
        store_new n = {"text", "text/plain", NULL, t, strlen(t), NULL, 0, 0, 1000 + i, NULL, NULL};
        cr_assert_eq(store_add(s, &n, &ids[i], NULL, NULL), 0);
    }
    cr_assert_eq(store_set_pinned(s, ids[1], 1, NULL), 0);
    cr_assert_eq(store_tag(s, ids[2], "work", 1, NULL), 0);
    cr_assert_eq(store_tag(s, ids[2], "iban", 1, NULL), 0);
    cr_assert_eq(store_tag(s, ids[2], "work", 1, NULL), 0); /* idempotent */
    cs_err e;
    cr_assert_lt(store_tag(s, ids[2], "", 1, &e), 0);
    cr_assert_lt(store_tag(s, ids[2], "a\nb", 1, &e), 0);
    cr_assert_eq(store_tag(s, 999, "x", 1, &e), 1);
    store_query q = {.limit = 2};
    store_entry *l;
    size_t n;
    cr_assert_eq(store_list(s, &q, &l, &n, NULL), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(l[0].id, ids[4]);
    cr_assert_eq(l[1].id, ids[3]);
    for (size_t i = 0; i < n; i++) store_entry_free(&l[i]);
    free(l);
    store_query qp = {.pinned_only = 1};
    cr_assert_eq(store_list(s, &qp, &l, &n, NULL), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(l[0].id, ids[1]);
    store_entry_free(&l[0]);
    free(l);
    store_entry en;
    cr_assert_eq(store_get(s, ids[2], &en, NULL), 0);
    cr_assert_eq(en.ntags, 2);
    cr_assert_str_eq(en.tags[0], "iban");
    store_entry_free(&en);
    cr_assert_eq(store_tag(s, ids[2], "iban", 0, NULL), 0);
    cr_assert_eq(store_delete(s, ids[2], NULL), 0);
    cr_assert_eq(store_get(s, ids[2], &en, &e), 1);
    cr_assert_eq(store_delete(s, ids[2], &e), 1);
    store_close(s);
    rm_parent(dir);
}

/* store_briefs_of asks for all ids in one statement: whatever order and repeats the caller gives,
 * the briefs come sorted by id, once each, and deleted or unknown ids are left out; inside a read
 * transaction (store_read_begin) as outside. */
Test(store, briefs_of_sorted_once_without_deleted) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    static const char *const text[] = {"brief 0", "brief 1", "brief 2", "brief 3", "brief 4", "brief 5"};
    int64_t id[6];
    for (int i = 0; i < 6; i++) id[i] = add_text(s, text[i], NULL);
    cr_assert_eq(store_delete(s, id[3], NULL), 0);
    int64_t ask[] = {id[5], id[0], id[3], id[5], 999999, id[2], id[0]};
    for (int txn = 0; txn < 2; txn++) {
        cs_err e;
        if (txn) cr_assert_eq(store_read_begin(s, &e), 1, "%s", e.msg);
        if (txn) cr_assert_eq(store_read_begin(s, &e), 0); /* already in one: nothing to end */
        store_brief *b;
        size_t n;
        cr_assert_eq(store_briefs_of(s, ask, sizeof ask / sizeof *ask, &b, &n, &e), 0, "%s", e.msg);
        cr_assert_eq(n, 3);
        cr_assert_eq(b[0].id, id[0]);
        cr_assert_eq(b[1].id, id[2]);
        cr_assert_eq(b[2].id, id[5]);
        cr_assert_str_eq(b[1].kind, "text");
        cr_assert(b[0].seq < b[1].seq && b[1].seq < b[2].seq);
        free(b);
        cr_assert_eq(store_briefs_of(s, ask, 0, &b, &n, &e), 0);
        cr_assert_eq(n, 0);
        free(b);
        if (txn) store_read_end(s);
    }
    store_close(s);
    rm_parent(dir);
}

Test(store, prune_keeps_pins_and_removes_blobs) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    int64_t now = store_now_ms(), first = 0;
    for (int i = 0; i < 10; i++) {
        unsigned char img[100];
        memset(img, i, sizeof img);
        store_new n = {"image", "image/png", NULL, img, sizeof img, NULL, 1, 1, now - (10 - i) * 86400000LL, NULL, NULL};
        int64_t id;
        cr_assert_eq(store_add(s, &n, &id, NULL, NULL), 0);
        if (i == 0) first = id;
    }
    cr_assert_eq(store_set_pinned(s, first, 1, NULL), 0);
    store_limits lim = {.max_entries = 5};
    int64_t removed;
    cr_assert_eq(store_prune(s, &lim, &removed, NULL), 0);
    cr_assert_eq(removed, 5);
    store_report r;
    cr_assert_eq(store_check(s, 1, &r, NULL), 0);
    cr_assert_eq(r.entries, 5);
    cr_assert_eq(r.blobs, 5, "blobs of pruned entries are deleted");
    cr_assert_eq(r.orphan_blobs, 0);
    cr_assert_eq(r.integrity_ok, 1);
    store_entry en;
    cr_assert_eq(store_get(s, first, &en, NULL), 0, "the pinned oldest entry survives");
    store_entry_free(&en);
    store_limits age = {.max_age_ms = 3 * 86400000LL};
    cr_assert_eq(store_prune(s, &age, &removed, NULL), 0);
    cr_assert_eq(store_check(s, 0, &r, NULL), 0);
    cr_assert_eq(r.entries, 3, "two younger than 3 days plus the pin");
    store_limits bytes = {.max_bytes = 150};
    cr_assert_eq(store_prune(s, &bytes, &removed, NULL), 0);
    cr_assert_eq(store_check(s, 0, &r, NULL), 0);
    cr_assert_eq(r.entries, 1);
    store_close(s);
    rm_parent(dir);
}

Test(store, check_finds_missing_and_orphan_blobs_and_gc_removes) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    unsigned char a[10] = {1}, b[10] = {2};
    store_new na = {"image", "image/png", NULL, a, 10, NULL, 1, 1, 0, NULL, NULL}, nb = {"image", "image/png", NULL, b, 10, NULL, 1, 1, 0, NULL, NULL};
    int64_t ia, ib;
    cr_assert_eq(store_add(s, &na, &ia, NULL, NULL), 0);
    cr_assert_eq(store_add(s, &nb, &ib, NULL, NULL), 0);
    store_entry e;
    cr_assert_eq(store_get(s, ia, &e, NULL), 0);
    char *p = store_blob_path(s, &e);
    cr_assert_eq(unlink(p), 0);
    free(p);
    store_entry_free(&e);
    char orphan[400], sub[300];
    snprintf(sub, sizeof sub, "%s/blobs/ab", dir);
    mkdir(sub, 0700);
    snprintf(orphan, sizeof orphan, "%s/abababababababababababababababababababababababababababababababab", sub);
    write_file(orphan, "x", 1);
    store_report r;
    cr_assert_eq(store_check(s, 0, &r, NULL), 0);
    cr_assert_eq(r.missing_blobs, 1);
    cr_assert_eq(r.orphan_blobs, 1);
    char tmpf[400];
    snprintf(tmpf, sizeof tmpf, "%s/.tmp-dead-add", sub);
    write_file(tmpf, "partial", 7);
    int64_t removed;
    cr_assert_eq(store_gc(s, &removed, NULL), 0);
    cr_assert_eq(removed, 2, "the orphan and the dead add's temporary file");
    cr_assert_eq(access(tmpf, F_OK), -1);
    cr_assert_eq(access(orphan, F_OK), -1);
    store_close(s);
    rm_parent(dir);
}

/* A temporary base with an empty data dir (0700) in it, and the database path there. */
static void fresh_data_dir(char base[64], char dir[128], char db[200]) {
    make_tmpdir(base, 64);
    snprintf(dir, 128, "%s/data", base);
    mkdir(dir, 0700);
    snprintf(db, 200, "%s/clipseek.db", dir);
}

Test(store, foreign_corrupt_and_newer_databases_are_refused) {
    char base[64], dir[128], db[200];
    fresh_data_dir(base, dir, db);
    store *s;
    cs_err e;
    /* garbage */
    write_file(db, "this is not a database, just some bytes that are long enough......", 67);
    cr_assert_lt(store_open(dir, &s, &e), 0);
    cr_assert(strstr(e.msg, "clipseek.db"), "%s", e.msg);
    /* another application's SQLite database */
    unlink(db);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "CREATE TABLE accounts(x); INSERT INTO accounts VALUES(1)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    cr_assert_lt(store_open(dir, &s, &e), 0);
    cr_assert(strstr(e.msg, "not a clipseek database"), "%s", e.msg);
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(h, "SELECT count(*) FROM accounts", -1, &st, NULL), SQLITE_OK, "left untouched");
    sqlite3_finalize(st);
    sqlite3_close(h);
    /* a newer clipseek's database */
    unlink(db);
    cr_assert_eq(store_open(dir, &s, &e), 0);
    store_close(s);
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    cr_assert_lt(store_open(dir, &s, &e), 0);
    cr_assert(strstr(e.msg, "newer"), "%s", e.msg);
    rm_rf(base);
}

/* Two connections (threads) add the same content at the same moment, 40 times over: the UNIQUE
 * index settles each race, so every round ends with one row, both told its id, one of them
 * "added". */
typedef struct { store *s; pthread_barrier_t *go; int round; int64_t id; int added, rc; } racer;
static void *race_add(void *arg) {
    racer *r = arg;
    char t[64];
    snprintf(t, sizeof t, "same content, round %d", r->round);
    store_new n = {"text", "text/plain;charset=utf-8", NULL, t, strlen(t), NULL, 0, 0, 0, NULL, NULL};
    pthread_barrier_wait(r->go);
    r->rc = store_add(r->s, &n, &r->id, &r->added, NULL);
    return NULL;
}

Test(store, two_connections_racing_same_content_one_row) {
    char dir[128];
    store *b, *a = open_tmp_twice(dir, sizeof dir, &b);
    const int rounds = 40;
    for (int i = 0; i < rounds; i++) {
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        racer x = {a, &go, i, 0, 0, -1}, y = {b, &go, i, 0, 0, -1};
        pthread_t tx, ty;
        pthread_create(&tx, NULL, race_add, &x);
        pthread_create(&ty, NULL, race_add, &y);
        pthread_join(tx, NULL);
        pthread_join(ty, NULL);
        pthread_barrier_destroy(&go);
        cr_assert(x.rc == 0 && y.rc == 0, "round %d: both adds succeed", i);
        cr_assert_eq(x.id, y.id, "round %d: one entry", i);
        cr_assert_eq(x.added + y.added, 1, "round %d: exactly one added it", i);
    }
    store_report r;
    cr_assert_eq(store_check(b, 0, &r, NULL), 0);
    cr_assert_eq(r.entries, rounds);
    store_close(a);
    store_close(b);
    rm_parent(dir);
}

Test(store, vectors_and_meta) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    int64_t a = add_text(s, "one", NULL), b = add_text(s, "two", NULL);
    float v[4] = {1, 2, 3, 4};
    int64_t *ids;
    size_t n;
    cr_assert_eq(store_missing_vectors(s, "m1", 0, &ids, &n, NULL), 0);
    cr_assert_eq(n, 2);
    free(ids);
    cr_assert_eq(store_put_vector(s, a, "m1", 0, v, 4, NULL), 0);
    cr_assert_eq(store_put_vector(s, b, "m1", -1, NULL, 0, NULL), 0); /* could-not-embed marker */
    cr_assert_eq(store_missing_vectors(s, "m1", 0, &ids, &n, NULL), 0);
    cr_assert_eq(n, 0);
    free(ids);
    cr_assert_eq(store_missing_vectors(s, "m2", 0, &ids, &n, NULL), 0);
    cr_assert_eq(n, 2, "another model sees everything as missing");
    free(ids);
    int64_t dropped;
    cr_assert_eq(store_drop_other_vectors(s, "m2", &dropped, NULL), 0);
    cr_assert_eq(dropped, 2);
    cr_assert_eq(store_put_vector(s, 12345, "m1", 0, v, 4, NULL), 1, "a deleted entry's vector is refused");
    char *val;
    cr_assert_eq(store_meta_set(s, "k", "v", NULL), 0);
    cr_assert_eq(store_meta_get(s, "k", &val, NULL), 0);
    cr_assert_str_eq(val, "v");
    free(val);
    cr_assert_eq(store_meta_set(s, "k", NULL, NULL), 0);
    cr_assert_eq(store_meta_get(s, "k", &val, NULL), 0);
    cr_assert_null(val);
    store_close(s);
    rm_parent(dir);
}

Test(index, text_windows_overlap_and_cover) {
    int32_t ids[302];
    ids[0] = 49406;
    for (int i = 1; i <= 300; i++) ids[i] = i;
    ids[301] = 49407;
    int32_t *w[64];
    size_t lens[64];
    int k = index_text_windows(ids, 302, 49406, 49407, w, lens, 64);
    cr_assert_eq(k, 5); /* starts 0, 59, 118, 177, 236 */
    for (int i = 0; i < k; i++) {
        cr_assert_leq(lens[i], 77);
        cr_assert_eq(w[i][0], 49406);
        cr_assert_eq(w[i][lens[i] - 1], 49407);
        cr_assert_eq(w[i][1], 1 + i * (INDEX_WINDOW - INDEX_OVERLAP));
    }
    cr_assert_eq(w[k - 1][lens[k - 1] - 2], 300, "the last token is covered");
    for (int i = 0; i < k; i++) free(w[i]);
    int32_t empty[2] = {49406, 49407};
    k = index_text_windows(empty, 2, 49406, 49407, w, lens, 64);
    cr_assert_eq(k, 1);
    cr_assert_eq(lens[0], 2);
    free(w[0]);
}

/* Loads the model (2 threads) and runs one index pass over s; *mid is the model id (free it). */
static clip_ctx *load_and_index(store *s, const char *model, char **mid, index_stats *st) {
    cs_err e;
    *mid = index_model_id(model, &e);
    cr_assert_not_null(*mid, "%s", e.msg);
    clip_params p = clip_default_params();
    p.threads = 2;
    clip_ctx *c;
    cr_assert_eq(clip_load(model, &p, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(index_run(s, c, *mid, 0, st, NULL, NULL, &e), 0, "%s", e.msg);
    return c;
}

Test(index, toyworld_images_get_hf_vectors) {
    FIXTURE(model, "toyworld-clip");
    FIXTURE(evald, "toyworld-eval");
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    for (int i = 0; i < 48; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/img%02d.png", evald, i);
        size_t len;
        unsigned char *d = read_all(p, &len);
        store_new n = {"image", "image/png", NULL, d, len, p, 64, 64, 0, NULL, NULL};
        cr_assert_eq(store_add(s, &n, NULL, NULL, NULL), 0);
        free(d);
    }
    unsigned char junk[20] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0};
    store_new nj = {"image", "image/png", NULL, junk, sizeof junk, NULL, 0, 0, 0, NULL, NULL};
    cr_assert_eq(store_add(s, &nj, NULL, NULL, NULL), 0);
    add_text(s, "a red star", NULL);
    cs_err e;
    char *mid;
    index_stats st;
    clip_ctx *c = load_and_index(s, model, &mid, &st);
    cr_assert_eq(st.embedded, 49);
    cr_assert_eq(st.failed, 1, "the broken PNG is marked, not retried");
    int64_t *ids;
    size_t n;
    cr_assert_eq(store_missing_vectors(s, mid, 0, &ids, &n, NULL), 0);
    cr_assert_eq(n, 0);
    free(ids);
    index_stats again;
    cr_assert_eq(index_run(s, c, mid, 0, &again, NULL, NULL, &e), 0);
    cr_assert_eq(again.embedded + again.failed, 0, "nothing to redo");
    clip_free(c);
    free(mid);
    store_close(s);
    rm_parent(dir);
}

/* Short texts (one window each) are written in groups: one commit (one WAL fsync) per batch of
 * up to 32, not one per text; every text still gets its vector, the same as alone. */
/* The dtype a store's model runs in without --dtype (index_store_dtype): `model use --dtype` wins;
 * a store that already holds this model's vectors (made when F32 was the default) keeps F32, so
 * its queries are never q8 against F32 vectors; a new store takes the towers' defaults; the
 * answer is kept, so the vectors made later do not turn a new store into an old one. */
Test(index, store_dtype_keeps_an_older_stores_f32) {
    FIXTURE(model, "toyworld-clip");
    char dir[128], dir2[128];
    store *s = open_tmp(dir, sizeof dir), *old = open_tmp(dir2, sizeof dir2);
    cs_err e;
    char *mid = index_model_id(model, &e), *v = NULL;
    cr_assert_not_null(mid, "%s", e.msg);
    /* new: nothing embedded yet */
    cr_assert_eq(index_store_dtype(s, model), CLIP_DTYPE_DEFAULT);
    cr_assert_eq(store_meta_get(s, "default_dtype", &v, &e), 0, "%s", e.msg);
    cr_assert_str_eq(v, "default");
    free(v);
    int64_t id = add_text(s, "a red star", NULL), id2 = add_text(old, "a red star", NULL);
    float vec[64] = {1};
    cr_assert_eq(store_put_vector(s, id, mid, 0, vec, 64, &e), 0, "%s", e.msg);
    cr_assert_eq(index_store_dtype(s, model), CLIP_DTYPE_DEFAULT, "its own vectors keep the default");
    /* old: vectors of this model and no dtype recorded */
    cr_assert_eq(store_put_vector(old, id2, mid, 0, vec, 64, &e), 0, "%s", e.msg);
    cr_assert_eq(index_store_dtype(old, model), CLIP_DTYPE_F32);
    cr_assert_eq(store_meta_get(old, "default_dtype", &v, &e), 0, "%s", e.msg);
    cr_assert_str_eq(v, "f32");
    free(v);
    /* `model use --dtype` decides over both */
    cr_assert_eq(store_meta_set(old, "model_dtype", "q8", &e), 0, "%s", e.msg);
    cr_assert_eq(index_store_dtype(old, model), CLIP_DTYPE_Q8);
    cr_assert_eq(store_meta_set(old, "model_dtype", NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(index_store_dtype(old, model), CLIP_DTYPE_F32);
    free(mid);
    store_close(s);
    store_close(old);
    rm_parent(dir);
    rm_parent(dir2);
}

Test(index, short_texts_commit_in_groups) {
    FIXTURE(model, "toyworld-clip");
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    int64_t ids[40];
    for (int i = 0; i < 40; i++) {
        char t[64];
        snprintf(t, sizeof t, "short note number %d", i);
        ids[i] = add_text(s, t, NULL);
    }
    int64_t before = store_commits(s);
    char *mid;
    index_stats st;
    clip_ctx *c = load_and_index(s, model, &mid, &st);
    int64_t commits = store_commits(s) - before;
    cr_assert_eq(st.embedded, 40);
    cr_assert_eq(st.windows, 40);
    cr_assert_leq(commits, 3, "40 short texts took %lld commits", (long long)commits);
    int P = clip_get_info(c)->projection_dim;
    float *got = malloc((size_t)P * sizeof *got), *want = malloc((size_t)P * sizeof *want);
    cs_err e;
    for (int i = 0; i < 40; i += 13) {
        cr_assert_eq(store_get_vector(s, ids[i], mid, 0, got, P, &e), 0, "entry %d has its vector", i);
        char t[64];
        snprintf(t, sizeof t, "short note number %d", i);
        int32_t *tok;
        size_t n;
        cr_assert_eq(clip_tokenize(c, t, strlen(t), 0, &tok, &n, &e), 0, "%s", e.msg);
        int32_t *w[1];
        size_t wl[1];
        const clip_info *in = clip_get_info(c);
        cr_assert_eq(index_text_windows(tok, n, in->bos_id, in->eos_id, w, wl, 1), 1);
        cr_assert_eq(clip_text_embed(c, (const int32_t *const *)w, wl, 1, 1, want, &e), 0, "%s", e.msg);
        free(w[0]);
        free(tok);
        for (int k = 0; k < P; k++) cr_assert_float_eq(got[k], want[k], 1e-5, "entry %d dim %d", i, k);
    }
    free(got);
    free(want);
    clip_free(c);
    free(mid);
    store_close(s);
    rm_parent(dir);
}

/* Writes db as version 1 shipped it, with one entry (tagged, with a vector); returns it open. */
static sqlite3 *write_v1_db(const char *db) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    const char *v1 =
        "CREATE TABLE entries(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, mime TEXT NOT NULL, mimes TEXT NOT NULL DEFAULT '',"
        " size INTEGER NOT NULL, sha256 TEXT NOT NULL UNIQUE, text TEXT, blob TEXT, width INTEGER NOT NULL DEFAULT 0,"
        " height INTEGER NOT NULL DEFAULT 0, source TEXT, first_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL,"
        " copies INTEGER NOT NULL DEFAULT 1, pinned INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX entries_last ON entries(last_ms); CREATE INDEX entries_seq ON entries(seq);"
        "CREATE INDEX entries_blob ON entries(blob) WHERE blob IS NOT NULL;"
        "CREATE TABLE tags(entry INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE, tag TEXT NOT NULL, PRIMARY KEY(entry, tag));"
        "CREATE TABLE vectors(entry INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE, model TEXT NOT NULL,"
        " part INTEGER NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL, PRIMARY KEY(entry, model, part));"
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO entries(kind, mime, size, sha256, text, first_ms, last_ms, seq)"
        " VALUES('text', 'text/plain', 20, 'abc', 'https://old.example/x', 1, 1, 1);"
        "INSERT INTO tags VALUES(1, 'kept'); INSERT INTO vectors VALUES(1, 'm', 0, 1, x'0000803f');"
        "PRAGMA application_id = 1131171955; /* 0x436c5073 */ PRAGMA user_version = 1;";
    cr_assert_eq(sqlite3_exec(h, v1, NULL, NULL, NULL), SQLITE_OK);
    return h;
}

Test(store, v1_database_migrates_and_organises) {
    char base[64], dir[128], db[200];
    fresh_data_dir(base, dir, db);
    sqlite3_close(write_v1_db(db));
    /* a search matrix made while ids were reused: its rows may name later clips */
    char vdir[200], vf[260];
    snprintf(vdir, sizeof vdir, "%s/vectors", dir);
    snprintf(vf, sizeof vf, "%s/m.f32", vdir);
    mkdir(vdir, 0700);
    write_file(vf, "CSVEC001", 8);
    store *s;
    cs_err e;
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    int64_t *ids;
    size_t n;
    cr_assert_eq(access(vf, F_OK), -1, "the migration to never-reused ids drops the old search matrix");
    cr_assert_eq(store_fts(s, "\"old\"", 10, &ids, &n, NULL), 0);
    cr_assert_eq(n, 1, "the old entry is in the full-text index");
    free(ids);
    cr_assert_eq(store_unorganised(s, 0, &ids, &n, NULL), 0);
    cr_assert_eq(n, 1, "and waits to be organised");
    cr_assert_eq(store_set_subkind(s, ids[0], "url", NULL, NULL), 0);
    free(ids);
    store_entry en;
    cr_assert_eq(store_get(s, 1, &en, NULL), 0);
    cr_assert_str_eq(en.subkind, "url");
    cr_assert_eq(en.ntags, 1, "the tag survived the v5 table rebuild");
    store_entry_free(&en);
    float v = 0;
    cr_assert_eq(store_get_vector(s, 1, "m", 0, &v, 1, NULL), 0, "the vector survived the rebuild");
    cr_assert_eq(v, 1.0f);
    /* the migrated table never hands out a deleted id again */
    cr_assert_eq(store_delete(s, 1, NULL), 0);
    int added;
    cr_assert_gt(add_text(s, "after the migration", &added), 1);
    store_close(s);
    rm_rf(base);
}

static void *release_after_6s(void *h) {
    struct timespec d = {6, 0}; /* the stimulus: a migration that holds the write lock this long */
    nanosleep(&d, NULL);
    cr_assert_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    return NULL;
}

/* A store opened while another process migrates it (the v5 rebuild of a large history held the
 * write lock 14 s for 150k entries) waits for that, instead of failing after the usual 5 s with
 * "database is locked" (a clip captured then was lost). */
Test(store, open_waits_for_a_migration_in_progress, .timeout = 60) {
    char base[64], dir[128], db[200];
    fresh_data_dir(base, dir, db);
    sqlite3 *h = write_v1_db(db);
    cr_assert_eq(sqlite3_exec(h, "PRAGMA journal_mode=WAL; BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, release_after_6s, h), 0);
    store *s;
    cs_err e;
    int rc = store_open(dir, &s, &e);
    pthread_join(t, NULL);
    sqlite3_close(h);
    cr_assert_eq(rc, 0, "%s", e.msg);
    store_entry en;
    cr_assert_eq(store_get(s, 1, &en, NULL), 0, "the old entry is there, migrated");
    store_entry_free(&en);
    store_close(s);
    rm_rf(base);
}

static int last_rowid(int64_t rowid, int64_t entry, int part, const float *v, int dim, void *arg) {
    (void)entry; (void)part; (void)v; (void)dim;
    *(int64_t *)arg = rowid;
    return 0;
}

/* Deleting the newest entry must not give its id (or its vectors' rowids, which the search
 * matrix syncs by) to the next clip: a stale matrix row, web tab or picker line would name it. */
Test(store, ids_and_vector_rowids_are_never_reused) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    int added;
    int64_t a = add_text(s, "first", &added), b = add_text(s, "second, deleted", &added);
    float v[2] = {1, 0};
    cr_assert_eq(store_put_vector(s, b, "m", 0, v, 2, NULL), 0);
    int64_t r1 = 0, r2 = 0;
    cr_assert_eq(store_each_vector(s, "m", 0, last_rowid, &r1, NULL), 0);
    cr_assert_eq(store_delete(s, b, NULL), 0);
    int64_t c = add_text(s, "third", &added);
    cr_assert_eq(store_put_vector(s, c, "m", 0, v, 2, NULL), 0);
    cr_assert_eq(store_each_vector(s, "m", r1, last_rowid, &r2, NULL), 0);
    cr_assert_gt(c, b, "id %lld of a deleted entry reused (first %lld)", (long long)c, (long long)a);
    cr_assert_gt(r2, r1, "the new vector is past the matrix's last rowid");
    /* the same across a reopen, and after the store was emptied */
    cr_assert_eq(store_delete(s, c, NULL), 0);
    cr_assert_eq(store_delete(s, a, NULL), 0);
    store_close(s);
    cr_assert_eq(store_open(dir, &s, NULL), 0);
    cr_assert_gt(add_text(s, "fourth", &added), c);
    store_close(s);
    rm_parent(dir);
}

/* ---- a delete racing an add of the same image (issue: the blob was unlinked between the add
 * finding it on disk and committing its row). The hooks force that interleaving every time. */
typedef struct { sem_t ready, go; store *s; int64_t id; int added, rc; } race;

static int wait_sem(sem_t *x) { /* bounded: a broken lock order fails the test, never hangs it */
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 10;
    return sem_timedwait(x, &t);
}
static void adder_hook(store *s, const char *point, void *arg) {
    (void)s;
    race *r = arg;
    if (!strcmp(point, "add-blob-written")) { sem_post(&r->ready); wait_sem(&r->go); }
}
static void deleter_hook(store *s, const char *point, void *arg) {
    (void)s;
    if (!strcmp(point, "drop-blob")) sem_post(&((race *)arg)->go); /* the add may commit now */
}
static void *adder(void *arg) {
    race *r = arg;
    store_new n = {"image", "image/png", NULL, "not really a png", 16, NULL, 1, 1, 0, NULL, NULL};
    r->rc = store_add(r->s, &n, &r->id, &r->added, NULL);
    return NULL;
}

Test(store, delete_racing_readd_of_the_same_image_keeps_its_blob) {
    char dir[128];
    store *add, *del = open_tmp_twice(dir, sizeof dir, &add);
    race r = {.s = add};
    sem_init(&r.ready, 0, 0);
    sem_init(&r.go, 0, 0);
    store_new n = {"image", "image/png", NULL, "not really a png", 16, NULL, 1, 1, 0, NULL, NULL};
    int64_t first;
    cr_assert_eq(store_add(del, &n, &first, NULL, NULL), 0);
    add->test_hook = adder_hook;
    add->test_hook_arg = &r;
    del->test_hook = deleter_hook;
    del->test_hook_arg = &r;
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, adder, &r), 0);
    cr_assert_eq(wait_sem(&r.ready), 0, "the add reached its blob");
    /* 1. the add found the blob and skipped writing it; 2. the delete commits and drops the blob;
     * 3. the add commits a row naming it */
    cr_assert_eq(store_delete(del, first, NULL), 0);
    pthread_join(t, NULL);
    cr_assert_eq(r.rc, 0);
    cr_assert_eq(r.added, 1, "the row was gone, so the add made a new one");
    store_entry e;
    cr_assert_eq(store_get(del, r.id, &e, NULL), 0);
    unsigned char *data = NULL;
    size_t len = 0;
    int rc = store_content(del, &e, &data, &len, NULL);
    store_entry_free(&e);
    free(data);
    cr_assert_eq(rc, 0, "the acknowledged entry %lld has its blob", (long long)r.id);
    cr_assert_eq(len, 16);
    store_report rep;
    cr_assert_eq(store_check(del, 0, &rep, NULL), 0);
    cr_assert_eq(rep.missing_blobs, 0);
    sem_destroy(&r.ready);
    sem_destroy(&r.go);
    store_close(add);
    store_close(del);
    rm_parent(dir);
}

/* ---- a disk that fails reads with EIO: a VFS shim over SQLite's default one, as a failing
 * disk looks to SQLite (pread returns -1 with errno EIO) ---- */
typedef struct { sqlite3_file base; sqlite3_file *real; int main_db; } eio_file;
static sqlite3_vfs eio_vfs, *real_vfs;
static volatile int eio_on;

#define REAL(f) (((eio_file *)(f))->real)
static int eio_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int eio_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) {
    if (eio_on && ((eio_file *)f)->main_db) { errno = EIO; return SQLITE_IOERR_READ; }
    return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int eio_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xWrite(REAL(f), b, n, o); }
static int eio_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int eio_sync(sqlite3_file *f, int fl) { return REAL(f)->pMethods->xSync(REAL(f), fl); }
static int eio_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int eio_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int eio_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int eio_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int eio_fctl(sqlite3_file *f, int op, void *a) { return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int eio_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int eio_devchar(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int eio_shmmap(sqlite3_file *f, int i, int sz, int ext, void volatile **p) { return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p); }
static int eio_shmlock(sqlite3_file *f, int o, int n, int fl) { return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl); }
static void eio_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int eio_shmunmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static const sqlite3_io_methods eio_methods = {2, eio_close, eio_read, eio_write, eio_truncate, eio_sync, eio_size, eio_lock,
                                               eio_unlock, eio_reserved, eio_fctl, eio_sector, eio_devchar, eio_shmmap,
                                               eio_shmlock, eio_shmbarrier, eio_shmunmap, NULL, NULL};
static int eio_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
    (void)v;
    eio_file *e = (eio_file *)f;
    e->real = (sqlite3_file *)&e[1];
    e->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
    int rc = real_vfs->xOpen(real_vfs, name, e->real, flags, out);
    e->base.pMethods = rc == SQLITE_OK ? &eio_methods : NULL;
    return rc;
}

/* A read that fails with EIO is an I/O error, and must be called one: SQLite's wording for
 * other failures ("database disk image is malformed") invites deleting a healthy database. */
Test(store, io_errors_are_called_io_errors) {
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    int added;
    add_text(s, "kept on a disk that fails later", &added);
    store_close(s);
    real_vfs = sqlite3_vfs_find(NULL);
    eio_vfs = *real_vfs;
    eio_vfs.zName = "eio";
    eio_vfs.szOsFile = (int)sizeof(eio_file) + real_vfs->szOsFile;
    eio_vfs.xOpen = eio_open;
    cr_assert_eq(sqlite3_vfs_register(&eio_vfs, 1), SQLITE_OK);
    cs_err e;
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    for (int i = 0; i < 300; i++) {
        char t[160];
        snprintf(t, sizeof t, "filler %d filler filler filler filler filler filler filler filler filler", i);
        add_text(s, t, &added);
    }
    store *s2;
    cr_assert_eq(store_open(dir, &s2, &e), 0, "%s", e.msg);
    eio_on = 1;
    store_entry *es;
    size_t n;
    int64_t *ids;
    store_report r;
    char list[1024], fts[1024];
    int rl = store_list(s2, NULL, &es, &n, &e);
    snprintf(list, sizeof list, "%s", e.msg);
    int rf = store_fts(s2, "\"filler\"", 10, &ids, &n, &e);
    snprintf(fts, sizeof fts, "%s", e.msg);
    int rchk = store_check(s2, 1, &r, &e);
    eio_on = 0;
    store_close(s2);
    store_close(s);
    s = NULL;
    eio_on = 1;
    int rc = store_open(dir, &s, &e);
    eio_on = 0;
    cr_assert(rl != 0 && strstr(list, "I/O error") && strstr(list, "may be intact"), "list: %s", list);
    cr_assert(rf != 0 && strstr(fts, "I/O error"), "full text: %s", fts);
    cr_assert(rchk != 0 || (r.integrity_ok == 0 && strstr(r.integrity, "I/O error")), "integrity: %s", r.integrity);
    cr_assert(rc != 0 && strstr(e.msg, "I/O error") && !strstr(e.msg, "malformed"), "open: %s", e.msg);
}

/* Two screenshots of the same key (OCR text set as if read): the collection they form must not be
 * named after the key's pieces. Images have no text kind, so the secret check in the naming only
 * saw text entries, and the pair was named "ghp q8werty5uiop3asdfgh7jklz1xcvbnm4qwe". */
Test(organize, collection_never_named_after_a_secret_read_from_images) {
    FIXTURE(model, "toyworld-clip");
    FIXTURE(evald, "toyworld-eval");
    char dir[128];
    store *s = open_tmp(dir, sizeof dir);
    cs_err e;
    for (int i = 0; i < 2; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/img00.png", evald);
        size_t len;
        unsigned char *d = read_all(p, &len);
        store_new n = {"image", "image/png", NULL, d, len - (size_t)i, NULL, 64, 64, 0, NULL, NULL}; /* the same picture */
        int64_t id;
        cr_assert_eq(store_add(s, &n, &id, NULL, &e), 0, "%s", e.msg);
        cr_assert_eq(store_set_ocr(s, id, "ghp_Q8wErTy5uIoP3aSdFgH7jKlZ1xCvBnM4qWe2", &e), 0, "%s", e.msg);
        free(d);
    }
    char *mid;
    index_stats ist;
    clip_ctx *c = load_and_index(s, model, &mid, &ist);
    const char *conf = "collection_threshold = 0\nduplicate_threshold = 1\n";
    rules *r;
    cr_assert_eq(rules_parse(conf, strlen(conf), "test", &r, &e), 0, "%s", e.msg);
    organizer *o;
    cr_assert_eq(org_open(r, &o, &e), 0, "%s", e.msg);
    cr_assert_eq(org_set_model(o, c, mid, &e), 0, "%s", e.msg);
    org_stats st = {0};
    cr_assert_eq(org_model(o, s, 100, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(st.collected, 2, "the pair forms a collection (organised %lld, collected %lld)", (long long)st.organised, (long long)st.collected);
    store_collection *cs;
    size_t n;
    cr_assert_eq(store_collections(s, &cs, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 1);
    cr_expect_null(strstr(cs[0].name, "q8werty"), "named after the key: %s", cs[0].name);
    store_collection_free(&cs[0]);
    free(cs);
    org_close(o);
    rules_free(r);
    clip_free(c);
    free(mid);
    store_close(s);
    rm_parent(dir);
}
