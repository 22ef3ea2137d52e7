/* vecindex: the int8 scan with exact rescoring must give exactly what a float scan gives, on
 * isotropic random vectors and on CLIP-like ones (a strong shared direction, tight clusters,
 * near-duplicates), with filters and with several rows per entry. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/search/vecindex.h"
#include "testutil.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (float)(rng >> 40) / (float)(1 << 24) - 0.5f;
}

static void unit(float *v, int d) {
    double n = 0;
    for (int i = 0; i < d; i++) n += (double)v[i] * v[i];
    for (int i = 0; i < d; i++) v[i] = (float)(v[i] / sqrt(n));
}

static float dotf(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static int even_only(int64_t id, void *arg) { (void)arg; return id % 2 == 0; }

typedef struct { int64_t id; float s; } ref;
static int by_s(const void *a, const void *b) {
    float x = ((const ref *)a)->s, y = ((const ref *)b)->s;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* best k distinct entries by a float scan (an entry scores its best row) */
static size_t brute(const float *m, const int64_t *ids, size_t rows, int d, const float *q, int k, int filter, ref *out) {
    ref *all = malloc(rows * sizeof *all);
    size_t n = 0;
    for (size_t r = 0; r < rows; r++)
        if (!filter || ids[r] % 2 == 0) all[n++] = (ref){ids[r], dotf(q, m + r * d, d)};
    qsort(all, n, sizeof *all, by_s);
    size_t k2 = 0;
    for (size_t i = 0; i < n && k2 < (size_t)k; i++) {
        int dup = 0;
        for (size_t j = 0; j < k2; j++) dup |= out[j].id == all[i].id;
        if (!dup) out[k2++] = all[i];
    }
    free(all);
    return k2;
}

static void run(int clip_like, int windows, int tight) {
    const int D = 512, K = 20;
    const size_t R = 20000;
    float *m = malloc(R * D * sizeof *m), *common = malloc(D * sizeof *common), *centres = malloc(50 * D * sizeof *centres);
    int64_t *ids = malloc(R * sizeof *ids);
    for (int i = 0; i < D; i++) common[i] = frand();
    unit(common, D);
    for (int c = 0; c < 50; c++) {
        for (int i = 0; i < D; i++) centres[c * D + i] = frand();
        unit(centres + c * D, D);
    }
    for (size_t r = 0; r < R; r++) {
        float *v = m + r * D;
        if (clip_like && r % 10 == 9) memcpy(v, m + (r - 1) * D, D * sizeof *v); /* near-duplicates */
        if (tight && r >= 1 && r < 3000) { /* 3000 rows within quantisation noise of each other */
            for (int i = 0; i < D; i++) v[i] = m[i] + 0.0005f * frand();
            unit(v, D);
            ids[r] = (int64_t)r + 1;
            continue;
        }
        for (int i = 0; i < D; i++)
            v[i] = clip_like ? (r % 10 == 9 ? v[i] + 0.002f * frand() : 2.0f * common[i] + 1.2f * centres[(r % 50) * D + i] + frand() * 0.6f)
                             : frand();
        unit(v, D);
        ids[r] = windows ? (int64_t)(r / 3) + 1 : (int64_t)r + 1;
    }
    vecindex *vi = vecindex_from_memory(m, ids, R, D);
    cr_assert_not_null(vi);
    float q[512];
    ref want[20];
    for (int t = 0; t < 40; t++) {
        if (tight) memcpy(q, m + (size_t)(t % 3) * D, sizeof q); /* inside the tight cluster */
        else if (t % 2) memcpy(q, m + (size_t)(t * 977 % R) * D, sizeof q); /* a stored vector */
        else {
            for (int i = 0; i < D; i++) q[i] = (clip_like ? 0.8f * common[i] : 0) + frand();
            unit(q, D);
        }
        int filter = t % 4 == 3;
        size_t nw = brute(m, ids, R, D, q, K, filter, want);
        vec_hit *h;
        size_t n;
        cs_err e;
        cr_assert_eq(vecindex_topk(vi, q, K, filter ? even_only : NULL, NULL, &h, &n, &e), 0);
        cr_assert_eq(n, nw, "query %d: %zu hits, want %zu", t, n, nw);
        /* rank by rank the same scores; each id truly has its score (ties may order either way) */
        char msg[256] = "";
        for (size_t i = 0; i < n && !msg[0]; i++) {
            float truth = -2;
            for (size_t r = 0; r < R; r++)
                if (ids[r] == h[i].entry) { float d = dotf(q, m + r * D, D); truth = d > truth ? d : truth; }
            int dup = 0;
            for (size_t j = 0; j < i; j++) dup |= h[j].entry == h[i].entry;
            if (h[i].score != want[i].s || truth != h[i].score || dup)
                snprintf(msg, sizeof msg, "query %d rank %zu: got entry %lld score %.7f (its own %.7f), want score %.7f%s", t, i,
                         (long long)h[i].entry, h[i].score, truth, want[i].s, dup ? ", twice" : "");
        }
        if (msg[0]) { /* free first: a failed assertion leaves the test */
            free(h); vecindex_close(vi); free(m); free(ids); free(common); free(centres);
            cr_assert_fail("%s", msg);
        }
        free(h);
    }
    vecindex_close(vi);
    free(m); free(ids); free(common); free(centres);
}

Test(vecindex, exact_on_random_vectors) { run(0, 0, 0); }
Test(vecindex, exact_on_clip_like_vectors) { run(1, 0, 0); }
Test(vecindex, exact_with_several_rows_per_entry) { run(1, 1, 0); }
/* the int8 scores cannot order these: only the bound and the float rescoring can */
Test(vecindex, exact_inside_a_tight_cluster) { run(0, 0, 1); }

/* One long text: 600 windows all nearer the query than any of 30 other entries. Counting rows
 * instead of entries would keep only that entry's windows and return 1 hit instead of k. */
Test(vecindex, exact_when_one_entry_has_hundreds_of_windows) {
    const int D = 64, K = 10, W = 600, O = 30;
    const size_t R = (size_t)W + O;
    float *m = malloc(R * D * sizeof *m), q[64];
    int64_t *ids = malloc(R * sizeof *ids);
    for (int i = 0; i < D; i++) q[i] = frand();
    unit(q, D);
    for (size_t r = 0; r < R; r++) {
        float *v = m + r * D;
        float noise = r < (size_t)W ? 0.05f : 1.0f; /* windows close to q, the others further */
        for (int i = 0; i < D; i++) v[i] = q[i] + noise * frand();
        unit(v, D);
        ids[r] = r < (size_t)W ? 1 : (int64_t)(r - W) + 2;
    }
    vecindex *vi = vecindex_from_memory(m, ids, R, D);
    cr_assert_not_null(vi);
    ref want[10];
    size_t nw = brute(m, ids, R, D, q, K, 0, want);
    cr_assert_eq(nw, (size_t)K);
    vec_hit *h;
    size_t n;
    cs_err e;
    cr_assert_eq(vecindex_topk(vi, q, K, NULL, NULL, &h, &n, &e), 0);
    size_t got = n;
    int same = n == nw;
    for (size_t i = 0; same && i < n; i++) same = h[i].entry == want[i].id && h[i].score == want[i].s;
    free(h);
    vecindex_close(vi);
    free(m);
    free(ids);
    cr_assert(same, "%zu hits (want %zu distinct entries, the float scan's)", got, nw);
}

/* A k near the number of entries (search's score sample keeps 2,048) with six rows per entry:
 * the heap fills, evicts and raises entries in place all the time, and its entry index (hash
 * slots shifted back on every eviction) must follow each move. Ids spaced by a power of two, so
 * that many share hash bits. Same entries and scores as the float scan, rank by rank. */
Test(vecindex, exact_for_a_large_k_with_windows) {
    const int D = 32;
    const size_t R = 9000, E = 1500;
    float *m = malloc(R * D * sizeof *m), q[32];
    int64_t *ids = malloc(R * sizeof *ids);
    ref *want = malloc(E * sizeof *want);
    for (size_t r = 0; r < R; r++) { /* an entry's rows: near its first one, as windows of one text */
        for (int i = 0; i < D; i++) m[r * D + i] = (r < E ? 0 : m[(r % E) * D + i]) + frand();
        unit(m + r * D, D);
        ids[r] = (int64_t)(r % E) * 4096 + 4096; /* rows of one entry far apart in the matrix */
    }
    vecindex *vi = vecindex_from_memory(m, ids, R, D);
    cr_assert_not_null(vi);
    static const int ks[] = {1024, 1499, 1500, 300};
    char msg[256] = "";
    for (int t = 0; t < 8 && !msg[0]; t++) {
        for (int i = 0; i < D; i++) q[i] = frand();
        unit(q, D);
        int k = ks[t % 4];
        size_t nw = brute(m, ids, R, D, q, k, 0, want);
        vec_hit *h;
        size_t n;
        cs_err e;
        cr_assert_eq(vecindex_topk(vi, q, k, NULL, NULL, &h, &n, &e), 0);
        if (n != nw) snprintf(msg, sizeof msg, "k %d: %zu hits, want %zu", k, n, nw);
        for (size_t i = 0; i < n && !msg[0]; i++)
            if (h[i].entry != want[i].id || h[i].score != want[i].s)
                snprintf(msg, sizeof msg, "k %d rank %zu: entry %lld score %.7f, want %lld %.7f", k, i,
                         (long long)h[i].entry, h[i].score, (long long)want[i].id, want[i].s);
        free(h);
    }
    vecindex_close(vi);
    free(m);
    free(ids);
    free(want);
    cr_assert(!msg[0], "%s", msg);
}

/* ---- a full disk (a real one: a 16 MiB tmpfs in a private mount namespace) ---- */

static int write_str(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* Runs scenario(dir/data) in a child process that first mounts a small tmpfs on dir, in a
 * mount namespace of its own (and a user namespace, mapped to our ids, when not root). A child
 * because a user namespace needs a single-threaded process, which a test runner's worker is
 * not; the namespace (and the file system) end with it. Returns 0 with the child's verdict in
 * out ("ok" or what failed), or -1 with why no file system could be mounted here. */
static int on_small_tmpfs(const char *dir, void (*scenario)(const char *data, char *fail, size_t n), char *out, size_t n) {
    int up[2];
    if (pipe(up)) { snprintf(out, n, "pipe: %s", strerror(errno)); return -1; }
    uid_t uid = geteuid();
    gid_t gid = getegid();
    pid_t pid = fork();
    if (pid == 0) {
        close(up[0]);
        char msg[512] = "";
        if (unshare(uid == 0 ? CLONE_NEWNS : CLONE_NEWUSER | CLONE_NEWNS) != 0) snprintf(msg, sizeof msg, "-unshare: %s", strerror(errno));
        if (!msg[0] && uid != 0) {
            char map[64];
            snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
            write_str("/proc/self/setgroups", "deny");
            if (write_str("/proc/self/uid_map", map)) snprintf(msg, sizeof msg, "-uid_map: %s", strerror(errno));
            snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
            if (!msg[0] && write_str("/proc/self/gid_map", map)) snprintf(msg, sizeof msg, "-gid_map: %s", strerror(errno));
        }
        if (!msg[0] && (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
                        mount("clipseek-test", dir, "tmpfs", 0, "size=16m,mode=0700") != 0))
            snprintf(msg, sizeof msg, "-mount: %s", strerror(errno));
        if (!msg[0]) {
            char data[300];
            snprintf(data, sizeof data, "%s/data", dir);
            snprintf(msg, sizeof msg, "ok");
            scenario(data, msg, sizeof msg);
        }
        if (write(up[1], msg, strlen(msg)) < 0) _exit(1);
        _exit(0);
    }
    close(up[1]);
    if (pid < 0) { close(up[0]); snprintf(out, n, "fork: %s", strerror(errno)); return -1; }
    size_t got = 0;
    ssize_t k;
    while (got + 1 < n && ((k = read(up[0], out + got, n - 1 - got)) > 0 || (k < 0 && errno == EINTR)))
        if (k > 0) got += (size_t)k;
    close(up[0]);
    out[got] = 0;
    int st = 0;
    waitpid(pid, &st, 0);
    if (!got) snprintf(out, n, "the child died (status %d)", st);
    if (out[0] == '-') { memmove(out, out + 1, strlen(out)); return -1; }
    return 0;
}

static int add_with_vector(store *s, int i, int dim, cs_err *err) {
    char t[64];
    snprintf(t, sizeof t, "entry number %d", i);
    store_new e = {"text", "text/plain", NULL, t, strlen(t), NULL, 0, 0, 0, NULL, NULL};
    int64_t id;
    if (store_add(s, &e, &id, NULL, err)) return -1;
    float v[64];
    for (int k = 0; k < dim; k++) v[k] = frand();
    unit(v, dim);
    return store_put_vector(s, id, "m", 0, v, dim, err);
}

#define CHECK(cond, ...) do { if (!(cond)) { snprintf(fail, n, __VA_ARGS__); return; } } while (0)

/* In the child, on a 16 MiB file system of its own: index 3 vectors, store 200 more, fill the
 * disk, search. */
static void disk_full_scenario(const char *dir, char *fail, size_t n) {
    const int D = 64;
    char fill[400], q8[400];
    snprintf(fill, sizeof fill, "%s/../filler", dir);
    snprintf(q8, sizeof q8, "%s/vectors/m.q8", dir);
    store *s;
    cs_err e;
    CHECK(store_open(dir, &s, &e) == 0, "%s", e.msg);
    for (int i = 0; i < 3; i++) CHECK(add_with_vector(s, i, D, &e) == 0, "%s", e.msg);
    vecindex *v;
    CHECK(vecindex_open(s, "m", &v, &e) == 0, "%s", e.msg);
    CHECK(vecindex_rows(v) == 3 && !vecindex_stale(v), "3 rows indexed, up to date");
    vecindex_close(v);
    for (int i = 3; i < 203; i++) CHECK(add_with_vector(s, i, D, &e) == 0, "%s", e.msg); /* 52 KB to append */
    unlink(q8); /* the int8 copy must be rebuilt too, and cannot be written */
    int fd = open(fill, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0, "%s: %s", fill, strerror(errno));
    char buf[4096];
    memset(buf, 0x5a, sizeof buf);
    while (write(fd, buf, sizeof buf) > 0) {}
    while (write(fd, buf, 1) > 0) {}
    int full = errno;
    close(fd);
    CHECK(full == ENOSPC, "filling the disk: %s", strerror(full));
    CHECK(vecindex_open(s, "m", &v, &e) == 0, "a full disk must not fail the search: %s", e.msg);
    size_t rows = vecindex_rows(v);
    const char *why = vecindex_stale(v);
    char stale[128];
    snprintf(stale, sizeof stale, "%s", why ? why : "(up to date)");
    float q[64];
    for (int k = 0; k < D; k++) q[k] = frand();
    unit(q, D);
    vec_hit *h = NULL;
    size_t nh = 0;
    int rc = vecindex_topk(v, q, 10, NULL, NULL, &h, &nh, &e);
    free(h);
    vecindex_close(v);
    CHECK(rows == 3, "%zu rows, want the 3 indexed before the disk filled", rows);
    CHECK(!strcmp(stale, "index out of date: disk full"), "stale: %s", stale);
    CHECK(rc == 0 && nh == 3, "search on a full disk: rc %d, %zu hits: %s", rc, nh, e.msg);
    int64_t *ids;
    CHECK(store_fts(s, "\"number\"", 500, &ids, &nh, &e) == 0, "full text on a full disk: %s", e.msg);
    free(ids);
    CHECK(nh == 203, "full text found %zu of 203", nh);
    unlink(fill); /* room again: the file was left whole, the rest is appended */
    CHECK(vecindex_open(s, "m", &v, &e) == 0, "%s", e.msg);
    rows = vecindex_rows(v);
    why = vecindex_stale(v);
    vecindex_close(v);
    store_close(s);
    CHECK(rows == 203 && !why, "after freeing space: %zu rows, %s", rows, why ? why : "up to date");
}

/* With the disk full the matrix cannot take the new vectors. Searches must go on from the rows
 * already there (the int8 copy made in memory when it cannot be written either), say that the
 * index is out of date, and leave the file whole, so the rest is appended once there is room. */
Test(vecindex, disk_full_still_searches_what_is_indexed) {
    char base[64], mnt[128], verdict[512];
    make_tmpdir(base, sizeof base);
    snprintf(mnt, sizeof mnt, "%s/fs", base);
    cr_assert_eq(mkdir(mnt, 0700), 0);
    int rc = on_small_tmpfs(mnt, disk_full_scenario, verdict, sizeof verdict);
    rm_rf(base);
    if (rc) cr_skip_test("cannot mount a small file system to fill here (%s)", verdict);
    cr_assert_str_eq(verdict, "ok");
}

/* Adds an entry with a random unit vector of dim (<= 512) for model "m"; its id into *id. */
static int add_vec(store *s, int i, int dim, float *v, int64_t *id, cs_err *err) {
    char t[64];
    snprintf(t, sizeof t, "kept mapping entry %d", i);
    store_new e = {"text", "text/plain", NULL, t, strlen(t), NULL, 0, 0, 0, NULL, NULL};
    if (store_add(s, &e, id, NULL, err)) return -1;
    for (int k = 0; k < dim; k++) v[k] = frand();
    unit(v, dim);
    return store_put_vector(s, *id, "m", 0, v, dim, err);
}

/* The best hit of q in a fresh open of the index (-1: none), which must be q's own row (a cosine
 * of 1) unless gone; and the number of rows. */
static int64_t best_of_(store *s, const float *q, size_t *rows, int gone) {
    vecindex *v;
    cs_err e;
    cr_assert_eq(vecindex_open(s, "m", &v, &e), 0, "%s", e.msg);
    vec_hit *h = NULL;
    size_t nh = 0;
    cr_assert_eq(vecindex_topk(v, q, 3, NULL, NULL, &h, &nh, &e), 0, "%s", e.msg);
    *rows = vecindex_rows(v);
    int64_t best = nh ? h[0].entry : -1;
    cr_assert(gone || (nh && h[0].score > 0.999f), "the entry's own vector scores %f", nh ? h[0].score : 0);
    cr_assert(!gone || !nh || h[0].score < 0.999f, "a gone row scores %f", h[0].score);
    free(h);
    vecindex_close(v);
    return best;
}
#define best_of(s, q, rows) best_of_(s, q, rows, 0)

/* The files' mappings are kept between opens (a searching process maps them once): a later open
 * must still see every row appended since (also past the room the mapping was made with), a file
 * rebuilt in place (same inode) after damage, and a file replaced by a new one (compaction), while
 * an index opened before keeps answering from its own rows. */
Test(vecindex, kept_mapping_follows_appends_rebuilds_and_new_files) {
    enum { D = 512, N = 700 }; /* 700 rows of 2,056 bytes: past the 1 MiB of room */
    char dir[64], path[256];
    make_tmpdir(dir, sizeof dir);
    store *s;
    cs_err e;
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    static float vecs[N][D];
    int64_t ids[N];
    for (int i = 0; i < 3; i++) cr_assert_eq(add_vec(s, i, D, vecs[i], &ids[i], &e), 0, "%s", e.msg);
    vecindex *first;
    cr_assert_eq(vecindex_open(s, "m", &first, &e), 0, "%s", e.msg);
    cr_assert_eq(vecindex_rows(first), 3);
    size_t rows;
    cr_assert_eq(best_of(s, vecs[1], &rows), ids[1]);
    for (int i = 3; i < N; i++) {
        cr_assert_eq(add_vec(s, i, D, vecs[i], &ids[i], &e), 0, "%s", e.msg);
        if (i == 10 || i == 300 || i == N - 1) { /* opens in between: the mapping grows with the file */
            cr_assert_eq(best_of(s, vecs[i], &rows), ids[i], "the row appended last (%d) is found", i);
            cr_assert_eq(rows, (size_t)i + 1);
        }
    }
    cr_assert_eq(best_of(s, vecs[N - 2], &rows), ids[N - 2]);
    /* the index opened first still answers from its 3 rows */
    vec_hit *h = NULL;
    size_t nh = 0;
    cr_assert_eq(vecindex_topk(first, vecs[2], 10, NULL, NULL, &h, &nh, &e), 0, "%s", e.msg);
    cr_assert(nh == 3 && h[0].entry == ids[2], "%zu hits from the first open", nh);
    free(h);
    vecindex_close(first);
    /* damaged header: rebuilt in place from the store (the same file, the same inode) */
    snprintf(path, sizeof path, "%s/vectors/m.f32", dir);
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    fputs("garbage!", f);
    fclose(f);
    cr_assert_eq(best_of(s, vecs[5], &rows), ids[5]);
    cr_assert_eq(rows, (size_t)N);
    /* entries deleted, files dropped by compaction: the next open maps the new files */
    for (int i = 0; i < N; i += 2) cr_assert_eq(store_delete(s, ids[i], &e), 0, "%s", e.msg);
    int64_t dropped = 0;
    cr_assert_eq(vecindex_compact(s, &dropped, &e), 0, "%s", e.msg);
    cr_assert_eq(dropped, 1);
    cr_assert_eq(best_of(s, vecs[7], &rows), ids[7]);
    cr_assert_eq(rows, (size_t)N / 2, "%zu rows after compaction", rows);
    cr_assert_neq(best_of_(s, vecs[8], &rows, 1), ids[8], "a deleted entry's row is gone");
    store_close(s);
    rm_rf(dir);
}
