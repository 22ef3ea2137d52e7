/* The daemon's index worker (src/index/worker.h) on the toyworld CLIP fixture: it embeds what the
 * store holds, searches share its model, and a `model use` to a folder that does not load swaps
 * the model out (reported, searches fall back to full text) without a crash. Every wait is the
 * worker's own idle signal, never a sleep. */
#include <dirent.h>
#include <string.h>

#include "../src/index/worker.h"
#include "../src/store/store.h"
#include "testutil.h"

static char dir[64];
static void setup(void) {
    make_tmpdir(dir, sizeof dir);
    unsetenv("CLIPSEEK_MODEL");
    unsetenv("CLIPSEEK_DEVICE");
}
static void teardown(void) { rm_rf(dir); }
TestSuite(worker, .init = setup, .fini = teardown);

static char last_error[1024];
static int errors;
static void on_error(const char *msg, void *arg) {
    (void)arg;
    snprintf(last_error, sizeof last_error, "%s", msg);
    errors++;
}

static void add_text(store *s, const char *t) {
    store_new n = {0};
    n.kind = "text";
    n.mime = "text/plain;charset=utf-8";
    n.data = t;
    n.len = strlen(t);
    int64_t id;
    int added;
    cs_err e;
    cr_assert_eq(store_add(s, &n, &id, &added, &e), 0, "%s", e.msg);
}

Test(worker, indexes_searches_and_swaps_models, .timeout = 300) {
    FIXTURE(model, "toyworld-clip");
    store *s;
    cs_err e = {0};
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    add_text(s, "a red circle");
    add_text(s, "a blue square");
    add_text(s, "a green triangle");
    cr_assert_eq(store_meta_set(s, "model_dir", model, &e), 0, "%s", e.msg);

    index_worker_params p = index_worker_default_params();
    p.data_dir = dir;
    p.threads = 1;
    p.on_error = on_error;
    index_worker *w;
    cr_assert_eq(index_worker_start(&p, &w, &e), 0, "%s", e.msg);
    int64_t indexed = -1;
    cr_assert_eq(index_worker_wait_idle(w, &indexed), 0, "no model loaded: %s", last_error);
    cr_expect_eq(indexed, 3);
    index_worker_stats st;
    index_worker_get_stats(w, &st);
    cr_expect(st.have_model);
    cr_expect(!strncmp(st.model_id, "toyworld-clip-", 14), "%s", st.model_id);
    cr_expect_geq(st.passes, 1);

    search_query q = {0};
    q.text = "red circle";
    q.limit = 3;
    search_hit *h = NULL;
    size_t n = 0;
    cr_assert_eq(index_worker_search(w, s, &q, &h, &n, NULL, &e), 0, "%s", e.msg);
    cr_assert_gt(n, 0);
    int meaning = 0;
    for (size_t i = 0; i < n; i++) meaning |= h[i].signals & SEARCH_MEANING;
    cr_expect(meaning, "the worker's model embedded the query");
    free(h);

    /* `model use` of a folder that does not load: the worker drops the model and says why */
    cr_assert_eq(store_meta_set(s, "model_dir", "/nonexistent/model", &e), 0, "%s", e.msg);
    index_worker_kick(w);
    int r = 0;
    for (int i = 0; i < 100 && (r = index_worker_wait_idle(w, &indexed)) == 0; i++) index_worker_kick(w);
    cr_expect_eq(r, -1, "no model in use after the swap");
    cr_expect_gt(errors, 0);
    cr_expect(strstr(last_error, "/nonexistent/model") != NULL, "%s", last_error);
    index_worker_get_stats(w, &st);
    cr_expect(!st.have_model);
    cr_expect_str_eq(st.model_id, "");
    q.text = "circle"; /* full text still answers */
    cr_assert_eq(index_worker_search(w, s, &q, &h, &n, NULL, &e), 0, "%s", e.msg);
    cr_expect_eq(n, 1);
    cr_expect_eq(h[0].signals, SEARCH_TEXT);
    free(h);

    index_worker_stop(w);
    index_worker_free(w);
    index_worker_stop(NULL);
    index_worker_free(NULL);
    store_close(s);
}

/* files in dir/weights whose name ends in suffix (the converted-weights cache, lpcache.h) */
static int cached(const char *suffix) {
    char wd[128];
    snprintf(wd, sizeof wd, "%s/weights", dir);
    DIR *d = opendir(wd);
    if (!d) return 0;
    int n = 0;
    size_t sl = strlen(suffix);
    for (struct dirent *de; (de = readdir(d));) {
        size_t l = strlen(de->d_name);
        n += l >= sl && !strcmp(de->d_name + l - sl, suffix);
    }
    closedir(d);
    return n;
}

/* The dtype `model use` stores with the model ("model_dtype"): the worker loads with it, and loads
 * again when it changes (same folder); converted weights go to <data dir>/weights. */
Test(worker, reloads_when_the_stored_dtype_changes, .timeout = 300) {
    FIXTURE(model, "toyworld-clip");
    store *s;
    cs_err e = {0};
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    add_text(s, "a red circle");
    cr_assert_eq(store_meta_set(s, "model_dir", model, &e), 0, "%s", e.msg);
    cr_assert_eq(store_meta_set(s, "model_dtype", "f16", &e), 0, "%s", e.msg);

    index_worker_params p = index_worker_default_params();
    p.data_dir = dir;
    p.threads = 1;
    p.device = "cpu";
    p.on_error = on_error;
    index_worker *w;
    cr_assert_eq(index_worker_start(&p, &w, &e), 0, "%s", e.msg);
    int64_t indexed = -1;
    cr_assert_eq(index_worker_wait_idle(w, &indexed), 0, "no model loaded: %s", last_error);
    cr_expect_eq(indexed, 1);
    cr_expect_eq(cached("-text-f16.lpw"), 1, "the text tower was converted to F16 and cached");
    cr_expect_eq(cached("-text-q8.lpw"), 0);

    /* `model use --dtype q8` of the same folder: the worker loads it again in q8 */
    cr_assert_eq(store_meta_set(s, "model_dtype", "q8", &e), 0, "%s", e.msg);
    add_text(s, "a blue square");
    index_worker_kick(w);
    cr_assert_eq(index_worker_wait_idle(w, &indexed), 0, "no model after the dtype change: %s", last_error);
    cr_expect_eq(indexed, 2);
    cr_expect_eq(cached("-text-q8.lpw"), 1, "the model was loaded again with Q8 weights");
    index_worker_stats st;
    index_worker_get_stats(w, &st);
    cr_expect(st.have_model);

    index_worker_stop(w);
    index_worker_free(w);
    store_close(s);
}
