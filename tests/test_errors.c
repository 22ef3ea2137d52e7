/* Distinguishable errors (cs_err.h): the places that know set a code, and each edge maps it once.
 * Real failures on real files and a real SQLite database: a missing file, a corrupt store, a
 * store locked by another connection, bad JSON; then the web page's mapping to HTTP statuses. */
#include <errno.h>
#include <sqlite3.h>
#include <string.h>

#include "../src/common/cs_err.h"
#include "../src/common/cs_file.h"
#include "../src/common/cs_json.h"
#include "../src/search/search_model.h"
#include "../src/store/store.h"
#include "../src/web/web.h"
#include "testutil.h"

static char dir[64];
static void setup(void) { make_tmpdir(dir, sizeof dir); }
static void teardown(void) { rm_rf(dir); }
TestSuite(errors, .init = setup, .fini = teardown);

Test(errors, generic_messages_keep_working) {
    cs_err e = {0};
    cs_err_set(&e, "plain %d", 1);
    cr_expect_eq(cs_err_code_of(&e), CS_EFAIL);
    cs_errc(&e, CS_EBUSY, "locked");
    cs_err_prefix(&e, "store");
    cr_expect_str_eq(e.msg, "store: locked");
    cr_expect_eq(cs_err_code_of(&e), CS_EBUSY, "a prefix keeps the code");
    cr_expect_eq(cs_err_code_of(NULL), CS_EFAIL);
    e.code = 12345; /* never set by a failing call: reads as generic */
    cr_expect_eq(cs_err_code_of(&e), CS_EFAIL);
    cr_expect_str_eq(cs_err_code_name(CS_ENOTFOUND), "not found");
}

Test(errors, missing_file_is_notfound) {
    char p[128], *txt;
    size_t len;
    cs_err e = {0};
    snprintf(p, sizeof p, "%s/absent.json", dir);
    cr_assert_lt(cs_read_file(p, 1 << 20, &txt, &len, &e), 0);
    cr_expect_eq(cs_err_code_of(&e), CS_ENOTFOUND, "%s", e.msg);
    cr_expect(strstr(e.msg, "absent.json") != NULL, "%s", e.msg);
    cr_expect_null(cs_json_read_object(p, 1 << 20, &e));
    cr_expect_eq(cs_err_code_of(&e), CS_ENOTFOUND, "%s", e.msg);
    cr_expect_eq(cs_err_sys(&e, EACCES, "%s", p), -1);
    cr_expect_eq(cs_err_code_of(&e), CS_EPERM);
    cr_expect_eq(cs_err_from_errno(ENOSPC), CS_ENOSPC);
}

Test(errors, bad_json_is_invalid_input) {
    char p[128];
    cs_err e = {0};
    snprintf(p, sizeof p, "%s/bad.json", dir);
    write_file(p, "{\"a\": ", 6);
    cr_expect_null(cs_json_read_object(p, 1 << 20, &e));
    cr_expect_eq(cs_err_code_of(&e), CS_EINVAL, "%s", e.msg);
    cr_expect(strstr(e.msg, "not a JSON object") != NULL, "%s", e.msg);
    write_file(p, "[1, 2]", 6); /* valid JSON, but not an object */
    cr_expect_null(cs_json_read_object(p, 1 << 20, &e));
    cr_expect_eq(cs_err_code_of(&e), CS_EINVAL, "%s", e.msg);
    write_file(p, "{\"a\": 1}", 8);
    json_t *o = cs_json_read_object(p, 1 << 20, &e);
    cr_assert_not_null(o);
    cr_expect_eq(json_integer_value(json_object_get(o, "a")), 1);
    json_decref(o);
}

Test(errors, corrupt_store_is_corrupt) {
    char p[128];
    snprintf(p, sizeof p, "%s/clipseek.db", dir);
    char junk[8192];
    memset(junk, 'x', sizeof junk);
    write_file(p, junk, sizeof junk);
    store *s = NULL;
    cs_err e = {0};
    cr_assert_lt(store_open(dir, &s, &e), 0);
    cr_expect_eq(cs_err_code_of(&e), CS_ECORRUPT, "%s (%s)", e.msg, cs_err_code_name(cs_err_code_of(&e)));
}

Test(errors, store_dir_that_is_a_file_is_invalid) {
    char p[128];
    snprintf(p, sizeof p, "%s/file", dir);
    write_file(p, "x", 1);
    store *s = NULL;
    cs_err e = {0};
    cr_assert_lt(store_open(p, &s, &e), 0);
    cr_expect_eq(cs_err_code_of(&e), CS_EINVAL, "%s", e.msg);
}

/* Another connection holds the write lock past SQLite's 5 s busy wait: the write fails BUSY,
 * which the daemon retries and the CLI exits 75 for. */
Test(errors, locked_store_is_busy, .timeout = 30) {
    store *s = NULL;
    cs_err e = {0};
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    char p[128];
    snprintf(p, sizeof p, "%s/clipseek.db", dir);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(p, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    cr_expect_lt(store_meta_set(s, "k", "v", &e), 0);
    cr_expect_eq(cs_err_code_of(&e), CS_EBUSY, "%s", e.msg);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    cr_expect_eq(store_meta_set(s, "k", "v", &e), 0, "%s", e.msg);
    store_close(s);
}

Test(errors, image_query_without_model_is_invalid) {
    store *s = NULL;
    cs_err e = {0};
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    search_query q = {0};
    q.limit = 5;
    search_hit *h = NULL;
    size_t n = 1;
    cr_expect_lt(search_with_model(s, NULL, NULL, &q, "/nonexistent.png", &h, &n, NULL, &e), 0);
    cr_expect_eq(cs_err_code_of(&e), CS_EINVAL, "%s", e.msg);
    cr_expect_eq(n, 0);
    /* no words and no model: no hits, no error */
    cr_expect_eq(search_with_model(s, NULL, NULL, &q, NULL, &h, &n, NULL, &e), 0, "%s", e.msg);
    cr_expect_eq(n, 0);
    store_close(s);
}

Test(errors, web_maps_codes_to_http) {
    cs_err e = {0};
    cs_errc(&e, CS_ENOTFOUND, "x");
    cr_expect_eq(web_status_for(&e), 404);
    cs_errc(&e, CS_EINVAL, "x");
    cr_expect_eq(web_status_for(&e), 400);
    cs_errc(&e, CS_EBUSY, "x");
    cr_expect_eq(web_status_for(&e), 503);
    cs_errc(&e, CS_ECORRUPT, "x");
    cr_expect_eq(web_status_for(&e), 500);
    cs_err_set(&e, "x");
    cr_expect_eq(web_status_for(&e), 500);
}
