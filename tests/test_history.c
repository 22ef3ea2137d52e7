/* The history basics on real SQLite files: the trash and undo (indexes, blobs, secrets, purge,
 * all-or-nothing), clear's selection, editing a text entry, the timed pause and pause --next,
 * and export/import archives (round trip, duplicates, damaged and hostile archives). */
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>

#include "../src/capture/ingest.h"
#include "../src/image/image.h"
#include "../src/store/store.h"
#include "testutil.h"


static int64_t add(store *s, const char *kind, const char *mime, const char *data, const char *subkind) {
    store_new n = {kind, mime, NULL, data, strlen(data), NULL, 10, 10, 0, subkind, NULL};
    int64_t id;
    cs_err e;
    cr_assert_eq(store_add(s, &n, &id, NULL, &e), 0, "%s", e.msg);
    return id;
}

/* Number of full-text hits of q (word index, or trigram index). */
static size_t hits(store *s, int tri, const char *q) {
    store_fts_hit *h;
    size_t n;
    cs_err e;
    cr_assert_eq(store_fts_ranked(s, tri, q, 50, &h, &n, &e), 0, "%s", e.msg);
    free(h);
    return n;
}

static size_t listed(store *s) {
    store_entry *es;
    size_t n;
    cs_err e;
    cr_assert_eq(store_list(s, NULL, &es, &n, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < n; i++) store_entry_free(&es[i]);
    free(es);
    return n;
}

static int blob_exists(store *s, int64_t id) {
    store_entry en;
    cs_err e;
    cr_assert_eq(store_get(s, id, &en, &e), 0, "%s", e.msg);
    char *p = store_blob_path(s, &en);
    struct stat st;
    int r = p && stat(p, &st) == 0;
    free(p);
    store_entry_free(&en);
    return r;
}

static char *path_of_blob(store *s, int64_t id) {
    store_entry en;
    cs_err e;
    cr_assert_eq(store_get(s, id, &en, &e), 0, "%s", e.msg);
    char *p = store_blob_path(s, &en);
    store_entry_free(&en);
    return p;
}

Test(history, trash_hides_everywhere_and_undo_restores) {
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    int64_t t = add(s, "text", "text/plain", "quarterly invoice from the plumber", NULL);
    int64_t img = add(s, "image", "image/png", "fake png bytes of a receipt", NULL);
    int64_t keep = add(s, "text", "text/plain", "something else entirely", NULL);
    cr_assert_eq(store_tag(s, t, "bills", 1, &e), 0);
    cr_assert_eq(store_set_pinned(s, t, 1, &e), 0);
    float v[4] = {1, 0, 0, 0};
    cr_assert_eq(store_put_vector(s, t, "m", 0, v, 4, &e), 0);
    char *bp = path_of_blob(s, img);
    char tdir[200], thumb[300];
    snprintf(tdir, sizeof tdir, "%s/thumbs", dir);
    mkdir(tdir, 0700);
    store_entry ie;
    cr_assert_eq(store_get(s, img, &ie, &e), 0);
    snprintf(thumb, sizeof thumb, "%s/%s.jpg", tdir, ie.sha256);
    store_entry_free(&ie);
    FILE *tf = fopen(thumb, "w");
    cr_assert_not_null(tf);
    fclose(tf);
    int64_t ids[2] = {t, img}, moved = 0;
    cr_assert_eq(store_trash(s, ids, 2, &moved, &e), 0, "%s", e.msg);
    cr_expect_eq(moved, 2);
    cr_expect_eq(listed(s), 1, "only the kept entry is listed");
    store_entry en;
    cr_expect_eq(store_get(s, t, &en, &e), 1, "a trashed entry is not an entry");
    cr_expect_eq(hits(s, 0, "invoice"), 0, "word index forgets it");
    cr_expect_eq(hits(s, 1, "nvoic"), 0, "trigram index forgets it");
    cr_expect_eq(hits(s, 0, "bills"), 0, "its tags too");
    struct stat st;
    cr_expect_eq(stat(bp, &st), 0, "the blob stays while in the trash");
    cr_expect_neq(stat(thumb, &st), 0, "its thumbnail (a cache) goes at once");
    int64_t rep = -1, tr = 0, last = 0;
    cr_assert_eq(store_gc(s, &rep, &e), 0, "%s", e.msg);
    cr_expect_eq(stat(bp, &st), 0, "gc keeps a blob the trash names");
    cr_assert_eq(store_trash_count(s, &tr, &last, &e), 0);
    cr_expect_eq(tr, 2);
    cr_expect_eq(last, 2);
    int64_t *back;
    size_t n;
    cr_assert_eq(store_undo(s, &back, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 2);
    cr_expect_eq(back[0], t);
    cr_expect_eq(back[1], img);
    free(back);
    cr_expect_eq(listed(s), 3);
    cr_assert_eq(store_get(s, t, &en, &e), 0);
    cr_expect_eq(en.pinned, 1, "pin restored");
    cr_assert_eq(en.ntags, 1, "tags restored");
    cr_expect_str_eq(en.tags[0], "bills");
    store_entry_free(&en);
    cr_expect_eq(hits(s, 0, "invoice"), 1);
    cr_expect_eq(hits(s, 1, "nvoic"), 1);
    cr_expect(blob_exists(s, img));
    int64_t *miss;
    cr_assert_eq(store_missing_vectors(s, "m", 0, &miss, &n, &e), 0);
    int again = 0;
    for (size_t i = 0; i < n; i++) again |= miss[i] == t;
    free(miss);
    cr_expect(again, "a restored entry is embedded again");
    cr_assert_eq(store_undo(s, &back, &n, &e), 0);
    cr_expect_eq(n, 0, "one undo step, then nothing");
    free(back);
    (void)keep;
    free(bp);
    store_close(s);
}

Test(history, secrets_never_wait_in_the_trash) {
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    int64_t sec = add(s, "text", "text/plain", "password=hunter2hunter2", "secret");
    int64_t moved = 9;
    cr_assert_eq(store_trash(s, &sec, 1, &moved, &e), 0, "%s", e.msg);
    cr_expect_eq(moved, 0);
    int64_t tr = 9;
    cr_assert_eq(store_trash_count(s, &tr, NULL, &e), 0);
    cr_expect_eq(tr, 0, "nothing of the secret is kept");
    int64_t *back;
    size_t n;
    cr_assert_eq(store_undo(s, &back, &n, &e), 0);
    cr_expect_eq(n, 0);
    free(back);
    cr_expect_eq(hits(s, 0, "hunter2hunter2"), 0);
    store_close(s);
}

Test(history, trash_is_all_or_nothing_and_purged) {
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    int64_t a = add(s, "image", "image/png", "image bytes A", NULL);
    int64_t ids[2] = {a, 999};
    cr_expect_eq(store_trash(s, ids, 2, NULL, &e), 1, "an unknown id refuses the whole step");
    cr_expect(strstr(e.msg, "999"), "%s", e.msg);
    cr_expect_eq(listed(s), 1, "nothing deleted");
    char *bp = path_of_blob(s, a);
    cr_assert_eq(store_trash(s, &a, 1, NULL, &e), 0);
    int64_t removed = 0;
    cr_assert_eq(store_trash_purge(s, store_now_ms() - 60000, &removed, &e), 0);
    cr_expect_eq(removed, 0, "a fresh delete is kept for undo");
    cr_assert_eq(store_trash_purge(s, INT64_MAX, &removed, &e), 0);
    cr_expect_eq(removed, 1);
    struct stat st;
    cr_expect_neq(stat(bp, &st), 0, "the purged entry's blob is gone");
    free(bp);
    store_close(s);
}

Test(history, undo_after_the_same_content_came_back) {
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    int64_t a = add(s, "text", "text/plain", "copied twice", NULL);
    cr_assert_eq(store_tag(s, a, "t1", 1, &e), 0);
    cr_assert_eq(store_trash(s, &a, 1, NULL, &e), 0);
    int64_t b = add(s, "text", "text/plain", "copied twice", NULL);
    cr_assert_neq(a, b, "ids are never reused");
    int64_t *back;
    size_t n;
    cr_assert_eq(store_undo(s, &back, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 1);
    cr_expect_eq(back[0], b, "merged into the entry that has the content");
    free(back);
    cr_expect_eq(listed(s), 1, "no duplicate");
    store_entry en;
    cr_assert_eq(store_get(s, b, &en, &e), 0);
    cr_expect_eq(en.ntags, 1, "its tag carried over");
    store_entry_free(&en);
    store_close(s);
}

Test(history, clear_selects_by_age_kind_and_pin) {
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    store_new old = {"text", "text/plain", NULL, "old one", 7, NULL, 0, 0, store_now_ms() - 10LL * 86400000, NULL, NULL};
    int64_t o;
    cr_assert_eq(store_add(s, &old, &o, NULL, &e), 0);
    int64_t u = add(s, "text", "text/plain", "https://example.org", "url");
    int64_t p = add(s, "text", "text/plain", "pinned one", NULL);
    cr_assert_eq(store_set_pinned(s, p, 1, &e), 0);
    int64_t *ids;
    size_t n;
    store_clear c = {0};
    cr_assert_eq(store_clear_ids(s, &c, &ids, &n, &e), 0);
    cr_expect_eq(n, 2, "pinned kept by default");
    free(ids);
    c.include_pinned = 1;
    cr_assert_eq(store_clear_ids(s, &c, &ids, &n, &e), 0);
    cr_expect_eq(n, 3);
    free(ids);
    c = (store_clear){7LL * 86400000, NULL, 0};
    cr_assert_eq(store_clear_ids(s, &c, &ids, &n, &e), 0);
    cr_assert_eq(n, 1);
    cr_expect_eq(ids[0], o, "only the one older than 7 days");
    free(ids);
    c = (store_clear){0, "url", 0};
    cr_assert_eq(store_clear_ids(s, &c, &ids, &n, &e), 0);
    cr_assert_eq(n, 1);
    cr_expect_eq(ids[0], u, "a text kind selects too");
    free(ids);
    store_close(s);
}

Test(history, edit_reindexes_a_text_entry) {
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    int64_t t = add(s, "text", "text/plain", "meeting on tuesday", NULL);
    int64_t other = add(s, "text", "text/plain", "taken already", NULL);
    int64_t img = add(s, "image", "image/png", "image bytes", NULL);
    float v[2] = {1, 0};
    cr_assert_eq(store_put_vector(s, t, "m", 0, v, 2, &e), 0);
    const char *nt = "https://example.org/agenda";
    cr_assert_eq(store_set_text(s, t, nt, strlen(nt), "url", NULL, &e), 0, "%s", e.msg);
    store_entry en;
    cr_assert_eq(store_get(s, t, &en, &e), 0);
    cr_expect_str_eq(en.text, nt);
    cr_expect_eq(en.size, (int64_t)strlen(nt));
    cr_expect_str_eq(en.subkind, "url");
    char sha[65];
    store_sha256_hex(nt, strlen(nt), sha);
    cr_expect_str_eq(en.sha256, sha);
    store_entry_free(&en);
    cr_expect_eq(hits(s, 0, "tuesday"), 0, "old words gone from the word index");
    cr_expect_eq(hits(s, 0, "agenda"), 1);
    cr_expect_eq(hits(s, 1, "gend"), 1, "trigram index follows");
    int64_t *miss;
    size_t n;
    cr_assert_eq(store_missing_vectors(s, "m", 0, &miss, &n, &e), 0);
    int again = 0;
    for (size_t i = 0; i < n; i++) again |= miss[i] == t;
    free(miss);
    cr_expect(again, "the old vector is dropped, so it is embedded again");
    cr_expect_eq(store_set_text(s, img, "x", 1, NULL, NULL, &e), 2, "images are not edited");
    cr_expect_eq(store_set_text(s, t, "taken already", 13, NULL, NULL, &e), 2, "no second entry with the same text");
    cr_expect(strstr(e.msg, "already"), "%s", e.msg);
    cr_expect_eq(store_set_text(s, t, "bad\0nul", 7, NULL, NULL, &e), 2);
    cr_expect_eq(store_set_text(s, 4242, "x", 1, NULL, NULL, &e), 1);
    (void)other;
    store_close(s);
}

Test(history, timed_pause_ends_by_itself_and_fails_closed) {
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    ingest_pause p;
    cr_assert_eq(ingest_pause_set(s, store_now_ms() + 600000, &e), 0);
    cr_assert_eq(ingest_pause_state(s, &p, &e), 0);
    cr_expect_eq(p.paused, 1);
    cr_expect_gt(p.until_ms, store_now_ms());
    char why[256];
    cr_expect_eq(ingest_paused(s, why, sizeof why), 1);
    /* the expiry is what is stored: a time in the past means resumed, whoever reads it */
    cr_assert_eq(ingest_pause_set(s, store_now_ms() - 1, &e), 0);
    cr_assert_eq(ingest_pause_state(s, &p, &e), 0);
    cr_expect_eq(p.paused, 0, "an expired pause is over");
    cr_expect_eq(ingest_paused(s, why, sizeof why), 0);
    cr_assert_eq(ingest_pause_set(s, 0, &e), 0);
    cr_assert_eq(ingest_pause_state(s, &p, &e), 0);
    cr_expect(p.paused && p.until_ms == 0, "until resumed");
    cr_assert_eq(store_meta_set(s, "paused", "until:garbage", &e), 0);
    cr_assert_eq(ingest_pause_state(s, &p, &e), 0);
    cr_expect_eq(p.paused, 1, "a damaged value keeps capture paused (fail closed)");
    cr_assert_eq(ingest_pause_set(s, -1, &e), 0);
    cr_expect_eq(ingest_paused(s, why, sizeof why), 0);
    store_close(s);
}

Test(history, pause_next_skips_exactly_one_captured_clip) {
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    rules *r;
    cr_assert_eq(rules_parse("", 0, "test", &r, &e), 0, "%s", e.msg);
    cr_assert_eq(store_meta_set(s, "skip_next", "1", &e), 0);
    ingest_pause p;
    cr_assert_eq(ingest_pause_state(s, &p, &e), 0);
    cr_expect_eq(p.skip_next, 1);
    cr_expect_eq(p.paused, 0);
    capture_clip c1 = {(const unsigned char *)"first copy", 10, NULL, NULL, NULL};
    capture_clip c2 = {(const unsigned char *)"second copy", 11, NULL, NULL, NULL};
    ingest_result res;
    /* an explicit import does not use it up */
    cr_assert_eq(ingest_clip(s, r, &c1, 0, &res, &e), 0);
    cr_expect_eq(res.decision, INGEST_STORED);
    cr_assert_eq(ingest_clip(s, r, &c2, INGEST_CAPTURED, &res, &e), 0);
    cr_expect_eq(res.decision, INGEST_PAUSED, "the next copy is skipped");
    cr_assert_eq(ingest_clip(s, r, &c2, INGEST_CAPTURED, &res, &e), 0);
    cr_expect_eq(res.decision, INGEST_STORED, "only that one");
    cr_assert_eq(ingest_pause_state(s, &p, &e), 0);
    cr_expect_eq(p.skip_next, 0);
    rules_free(r);
    store_close(s);
}

static size_t count_files(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "find '%s/blobs' -type f ! -name '.*' | wc -l", dir);
    FILE *f = popen(cmd, "r");
    size_t n = 0;
    if (f && fscanf(f, "%zu", &n) != 1) n = 0;
    if (f) pclose(f);
    return n;
}

/* Imports a copy of archive arch (at bad) changed by sql into store d (folder dir): the import
 * fails naming `why`, and takes nothing, not even an image file. */
static void import_tampered(store *d, const char *dir, const char *arch, const char *bad, const char *sql,
                            const char *why) {
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", arch, bad);
    cr_assert_eq(system(cmd), 0);
    sql_exec(bad, sql);
    store_archive_counts c;
    cs_err e = {0};
    cr_expect_eq(store_import(d, bad, &c, &e), -1);
    cr_expect(strstr(e.msg, why), "%s", e.msg);
    cr_expect_eq(listed(d), 0, "nothing half-imported");
    cr_expect_eq(count_files(dir), 0, "no image file left behind");
}

Test(history, export_import_round_trip_and_refusals) {
    char da[128], db[128], arch[256];
    store *a = tmp_store(da, sizeof da);
    cs_err e;
    int64_t t = add(a, "text", "text/plain", "exported text", NULL);
    int64_t img = add(a, "image", "image/png", "exported image bytes", NULL);
    add(a, "text", "text/plain", "token=abcdefabcdefabcdef123456", "secret");
    int64_t gone = add(a, "text", "text/plain", "deleted before export", NULL);
    cr_assert_eq(store_trash(a, &gone, 1, NULL, &e), 0);
    cr_assert_eq(store_tag(a, t, "work", 1, &e), 0);
    cr_assert_eq(store_set_pinned(a, img, 1, &e), 0);
    int64_t coll;
    cr_assert_eq(store_collection_create(a, "Receipts", 1, NULL, NULL, 0, &coll, &e), 0);
    cr_assert_eq(store_set_collection(a, img, coll, &e), 0);
    snprintf(arch, sizeof arch, "%s/../archive.db", da);
    store_archive_counts c;
    cr_assert_eq(store_export(a, arch, &c, &e), 0, "%s", e.msg);
    cr_expect_eq(c.entries, 2, "secrets and the trash stay home");
    cr_expect_eq(c.blobs, 1);
    struct stat st;
    cr_assert_eq(stat(arch, &st), 0);
    cr_expect_eq(st.st_mode & 0777, 0600);
    store *b = tmp_store(db, sizeof db);
    add(b, "text", "text/plain", "exported text", NULL); /* already here */
    cr_assert_eq(store_import(b, arch, &c, &e), 0, "%s", e.msg);
    cr_expect_eq(c.entries, 1);
    cr_expect_eq(c.duplicates, 1);
    store_entry *es;
    size_t n;
    cr_assert_eq(store_list(b, NULL, &es, &n, &e), 0);
    cr_assert_eq(n, 2);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(es[i].kind, "image")) {
            found = 1;
            cr_expect_eq(es[i].pinned, 1);
            cr_expect_neq(es[i].collection, 0, "collection by name");
            unsigned char *d;
            size_t l;
            cr_assert_eq(store_content(b, &es[i], &d, &l, &e), 0, "%s", e.msg);
            cr_expect_eq(l, strlen("exported image bytes"));
            cr_expect_eq(memcmp(d, "exported image bytes", l), 0);
            free(d);
        }
        store_entry_free(&es[i]);
    }
    free(es);
    cr_expect(found);
    cr_assert_eq(store_import(b, arch, &c, &e), 0);
    cr_expect_eq(c.entries, 0, "importing twice adds nothing");
    cr_expect_eq(c.duplicates, 2);

    /* hostile: an entry whose text does not match its sha256; the import must take nothing,
     * not even the valid image before it, and leave no image file behind */
    char dc[128], bad[300];
    store *d = tmp_store(dc, sizeof dc);
    snprintf(bad, sizeof bad, "%s.bad", arch);
    import_tampered(d, dc, arch, bad, "UPDATE entries SET text = 'tampered' WHERE kind = 'text'", "sha256");
    /* hostile after the images are written: a tag with a control character fails inside the
     * transaction; the rows roll back and the image written for them goes again */
    import_tampered(d, dc, arch, bad, "UPDATE tags SET tag = 'bad' || char(1)", "control");
    char cmd[2000];
    /* damaged: cut in half (a copy that did not finish) */
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && truncate -s %lld '%s'", arch, bad, (long long)st.st_size / 2, bad);
    cr_assert_eq(system(cmd), 0);
    cr_expect_eq(store_import(d, bad, &c, &e), -1);
    cr_expect_eq(listed(d), 0);
    /* a live store is not an archive */
    char live[200];
    snprintf(live, sizeof live, "%s/clipseek.db", da);
    cr_expect_eq(store_import(d, live, &c, &e), -1);
    cr_expect(strstr(e.msg, "not a clipseek archive"), "%s", e.msg);
    store_close(d);
    store_close(b);
    store_close(a);
}

Test(history, svg_documents_are_stored_as_their_drawing) {
    const char *doc = "<?xml version=\"1.0\"?>\n<!-- icon -->\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"24\""
                      " height=\"16\"><rect width=\"12\" height=\"16\" fill=\"#ff0000\"/></svg>\n";
    cr_expect(img_svg_sniff((const unsigned char *)doc, strlen(doc)));
    const char *frag = "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"1\" height=\"1\"/>";
    cr_expect_not(img_svg_sniff((const unsigned char *)frag, strlen(frag)), "a fragment is text being edited");
    cr_expect_not(img_svg_sniff((const unsigned char *)"<svgx></svg>", 12));
    cr_expect_not(img_svg_sniff((const unsigned char *)"hello", 5));
    char dir[128];
    store *s = tmp_store(dir, sizeof dir);
    cs_err e;
    rules *r;
    cr_assert_eq(rules_parse("", 0, "test", &r, &e), 0, "%s", e.msg);
    capture_clip c = {(const unsigned char *)doc, strlen(doc), "text/plain", NULL, NULL};
    ingest_result res;
    cr_assert_eq(ingest_clip(s, r, &c, 0, &res, &e), 0, "%s", e.msg);
    cr_assert_eq(res.decision, INGEST_STORED);
    store_entry en;
    cr_assert_eq(store_get(s, res.id, &en, &e), 0);
    cr_expect_str_eq(en.kind, "image");
    cr_expect_str_eq(en.mime, "image/png");
    cr_expect_eq(en.width, 256, "a small drawing is drawn larger (24 -> 256)");
    cr_expect_eq(en.height, 171);
    unsigned char *d;
    size_t n;
    cr_assert_eq(store_content(s, &en, &d, &n, &e), 0, "%s", e.msg);
    img_rgb im;
    cr_assert_eq(img_decode(d, n, IMG_DEFAULT_MAX_PIXELS, &im, &e), 0, "%s", e.msg);
    const unsigned char *left = im.px + (10 * im.w + 10) * 3, *right = im.px + (100 * im.w + 200) * 3;
    cr_expect(left[0] > 240 && left[1] < 16 && left[2] < 16, "the red half: %d %d %d", left[0], left[1], left[2]);
    cr_expect(right[0] > 240 && right[1] > 240 && right[2] > 240, "on white");
    img_free(&im);
    free(d);
    store_entry_free(&en);
    /* looks like SVG but cannot be drawn: kept as the text it is */
    const char *broken = "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect></g></svg>";
    capture_clip b = {(const unsigned char *)broken, strlen(broken), "text/plain", NULL, NULL};
    cr_assert_eq(ingest_clip(s, r, &b, 0, &res, &e), 0, "%s", e.msg);
    cr_assert_eq(res.decision, INGEST_STORED);
    cr_expect_str_eq(res.kind, "text");
    rules_free(r);
    store_close(s);
}
