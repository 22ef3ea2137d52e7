/* testutil: shared helpers for the Criterion tests.
 *
 * Fixtures are read in place: $CLIPSEEK_FIXTURES first, then ../shared/fixtures (tests run from the
 * repository root). A test whose fixture is absent is skipped with the reason, never passed; with
 * CLIPSEEK_REQUIRE_FIXTURES=1 (CI) it fails instead, so a lost fixture cannot pass as a skip. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/model/safetensors.h"

static inline const char *fixtures_dir(void) {
    const char *e = getenv("CLIPSEEK_FIXTURES");
    return e && *e ? e : "../shared/fixtures";
}

/* Writes fixtures_dir()/rel into buf; returns 1 if it exists. */
static inline int fixture_path(char *buf, size_t n, const char *rel) {
    snprintf(buf, n, "%s/%s", fixtures_dir(), rel);
    struct stat st;
    return stat(buf, &st) == 0;
}

static inline int fixtures_required(void) {
    const char *r = getenv("CLIPSEEK_REQUIRE_FIXTURES");
    return r && !strcmp(r, "1");
}

/* Skips the test for a missing fixture (printf-style reason), or fails it when fixtures are
 * required. */
#define FIXTURE_MISSING(...)                                                                            \
    do {                                                                                                \
        if (fixtures_required()) cr_assert_fail("CLIPSEEK_REQUIRE_FIXTURES=1: " __VA_ARGS__);           \
        cr_skip_test(__VA_ARGS__);                                                                      \
    } while (0)

#define FIXTURE(var, rel)                                                                               \
    char var[4096];                                                                                     \
    if (!fixture_path(var, sizeof var, rel))                                                            \
        FIXTURE_MISSING("fixture %s not found (set CLIPSEEK_FIXTURES or place ../shared/fixtures)", var)

/* Loads a float tensor of a safetensors file into a malloc'd array; asserts on failure. */
static inline float *load_ref(st_set *s, const char *name, int64_t *numel) {
    const st_tensor *t = st_find(s, name);
    cr_assert_not_null(t, "reference tensor %s missing", name);
    float *v = malloc((size_t)t->numel * sizeof *v);
    cr_assert_not_null(v);
    cr_assert_eq(st_to_f32(t, v), 0);
    if (numel) *numel = t->numel;
    return v;
}

static inline float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (d > m || d != d) m = d != d ? 1e30f : d;
    }
    return m;
}

/* A fresh temporary directory (mode 0700); caller removes it with rm_rf. */
/* Runs sql on the SQLite file db (a store's clipseek.db or an archive) behind the store's back,
 * the way a damaged or tampered file comes about; asserts it succeeded. */
static inline void sql_exec(const char *db, const char *sql) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(h);
}

static inline void make_tmpdir(char *buf, size_t n) {
    snprintf(buf, n, "/tmp/clipseek-test-XXXXXX");
    cr_assert_not_null(mkdtemp(buf));
}

static inline void rm_rf(const char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

#ifdef STORE_H
/* A fresh store in a new temporary directory's data/ (dir gets that path); asserts it opens. */
static inline store *tmp_store(char *dir, size_t n) {
    char base[64];
    make_tmpdir(base, sizeof base);
    snprintf(dir, n, "%s/data", base);
    store *s;
    cs_err e;
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    return s;
}
#endif

static inline void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

static inline unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

#endif
