/* The daemon's index worker (src/index/worker.h) on the toyworld CLIP fixture: it embeds what the
 * store holds, searches share its model, and a `model use` to a folder that does not load swaps
 * the model out (reported, searches fall back to full text) without a crash; new rules (a reload)
 * reopen the organiser on them, and the config's `text_model =` loads a text model next to the CLIP
 * model (one from another space is refused, searches keep CLIP's own text tower). The model tests wait on the worker's own idle signal; the rules
 * test polls its counters (a label file's error has no signal of its own). A change of the stored
 * dtype loads the model again. */
#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include "../src/config/rules.h"
#include "../src/index/worker.h"
#include "../src/store/store.h"
#include "testutil.h"

static char dir[64];
static void setup(void) {
    make_tmpdir(dir, sizeof dir);
    unsetenv("CLIPSEEK_MODEL");
    unsetenv("CLIPSEEK_DEVICE");
    unsetenv("CLIPSEEK_TEXT_MODEL");
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

/* Starts a worker on dir with one thread, the given rules and device (NULL: the defaults), its
 * errors counted from zero. */
static index_worker *start_worker(rules *r, const char *device) {
    index_worker_params p = index_worker_default_params();
    p.data_dir = dir;
    p.threads = 1;
    p.rules = r;
    p.device = device;
    p.on_error = on_error;
    errors = 0;
    last_error[0] = 0;
    index_worker *w;
    cs_err e = {0};
    cr_assert_eq(index_worker_start(&p, &w, &e), 0, "%s", e.msg);
    return w;
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

    index_worker *w = start_worker(NULL, NULL);
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

/* Once work runs out the worker hands its freed heap back (malloc_trim), once: not again on the
 * idle passes that follow, and once more after new work. Counted by its stats, observed at the
 * idle signal (the trim comes before it). */
Test(worker, trims_the_heap_once_after_work, .timeout = 300) {
    FIXTURE(model, "toyworld-clip");
    store *s;
    cs_err e = {0};
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    add_text(s, "a red circle");
    add_text(s, "a blue square");
    cr_assert_eq(store_meta_set(s, "model_dir", model, &e), 0, "%s", e.msg);
    index_worker *w = start_worker(NULL, NULL);
    int64_t indexed = -1;
    cr_assert_eq(index_worker_wait_idle(w, &indexed), 0, "no model loaded: %s", last_error);
    index_worker_stats st;
    index_worker_get_stats(w, &st);
    cr_expect_eq(st.trims, 1, "the model load and the first embeddings, then one trim: %lld", (long long)st.trims);
    for (int i = 0; i < 3; i++) { /* idle passes: nothing done, nothing to trim */
        index_worker_kick(w);
        cr_assert_eq(index_worker_wait_idle(w, &indexed), 0);
    }
    index_worker_get_stats(w, &st);
    cr_expect_eq(st.trims, 1, "idle passes trimmed again: %lld", (long long)st.trims);
    add_text(s, "a green triangle");
    index_worker_kick(w);
    cr_assert_eq(index_worker_wait_idle(w, &indexed), 0);
    index_worker_get_stats(w, &st);
    cr_expect_eq(indexed, 3);
    cr_expect_eq(st.trims, 2, "new work, then one more trim: %lld", (long long)st.trims);
    index_worker_stop(w);
    index_worker_free(w);
    store_close(s);
}

/* A reload hands the worker new rules: it reopens its organiser on them before its next step (a
 * label file that does not load is reported and organising stops), and once
 * index_worker_set_rules returns the old rules may be freed. Each set_rules reopens: bad, good,
 * then another bad label file is reported again, the good rules in between report nothing. */
static void wait_for_error(index_worker *w, const char *what) {
    for (int i = 0; i < 300 && !strstr(last_error, what); i++) {
        index_worker_kick(w);
        usleep(10000);
    }
}

static void wait_passes(index_worker *w, int k) {
    index_worker_stats st;
    index_worker_get_stats(w, &st);
    int64_t want = st.passes + k;
    for (int i = 0; i < 300 && st.passes < want; i++) {
        index_worker_kick(w);
        usleep(10000);
        index_worker_get_stats(w, &st);
    }
    cr_expect_geq(st.passes, want, "the worker keeps running passes");
}

Test(worker, set_rules_reopens_the_organiser, .timeout = 120) {
    cs_err e = {0};
    rules *good, *bad, *bad2;
    const char *g = "ocr = false\n", *b = "ocr = false\nlabels = /nonexistent/labels.txt\n",
               *b2 = "ocr = false\nlabels = /nonexistent/other-labels.txt\n";
    cr_assert_eq(rules_parse(g, strlen(g), "good", &good, &e), 0, "%s", e.msg);
    cr_assert_eq(rules_parse(b, strlen(b), "bad", &bad, &e), 0, "%s", e.msg);
    cr_assert_eq(rules_parse(b2, strlen(b2), "bad2", &bad2, &e), 0, "%s", e.msg);
    index_worker *w = start_worker(good, NULL);
    wait_passes(w, 2);
    cr_expect_eq(errors, 0, "%s", last_error);

    index_worker_set_rules(w, bad);
    rules_free(good); /* the worker no longer reads them */
    wait_for_error(w, "/nonexistent/labels.txt");
    cr_expect(strstr(last_error, "/nonexistent/labels.txt") != NULL, "the bad label file reported: %s", last_error);
    cr_expect_eq(errors, 1, "reported once, not at every pass");

    cr_assert_eq(rules_parse(g, strlen(g), "good", &good, &e), 0, "%s", e.msg);
    index_worker_set_rules(w, good);
    rules_free(bad);
    wait_passes(w, 3);
    cr_expect_eq(errors, 1, "good rules again: nothing to report (%s)", last_error);

    index_worker_set_rules(w, bad2);
    rules_free(good);
    wait_for_error(w, "/nonexistent/other-labels.txt");
    cr_expect(strstr(last_error, "/nonexistent/other-labels.txt") != NULL, "reopened again: %s", last_error);
    cr_expect_eq(errors, 2);

    index_worker_stop(w);
    index_worker_free(w);
    rules_free(bad2);
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

    index_worker *w = start_worker(NULL, "cpu");
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

/* The config's `text_model =` (a reload hands the worker new rules): the worker loads the text
 * model next to the CLIP model at its next pass. One that embeds into another space is reported
 * and not used (searches keep CLIP's own text tower); a fitting one loads without a report and
 * searches embed through it. */
Test(worker, text_model_from_the_config, .timeout = 300) {
    FIXTURE(model, "toyworld-clip");
    FIXTURE(ml, "toyworld-multilingual");
    FIXTURE(other, "tiny-distilbert-multilingual");
    store *s;
    cs_err e = {0};
    cr_assert_eq(store_open(dir, &s, &e), 0, "%s", e.msg);
    add_text(s, "a red circle");
    add_text(s, "a blue square");
    cr_assert_eq(store_meta_set(s, "model_dir", model, &e), 0, "%s", e.msg);
    char cfg[4200];
    rules *r0, *bad, *good;
    cr_assert_eq(rules_parse("ocr = false\n", 12, "r0", &r0, &e), 0, "%s", e.msg);
    snprintf(cfg, sizeof cfg, "ocr = false\ntext_model = %s\n", other);
    cr_assert_eq(rules_parse(cfg, strlen(cfg), "bad", &bad, &e), 0, "%s", e.msg);
    snprintf(cfg, sizeof cfg, "ocr = false\ntext_model = %s\n", ml);
    cr_assert_eq(rules_parse(cfg, strlen(cfg), "good", &good, &e), 0, "%s", e.msg);

    index_worker *w = start_worker(r0, NULL);
    int64_t indexed = -1;
    cr_assert_eq(index_worker_wait_idle(w, &indexed), 0, "no model loaded: %s", last_error);

    index_worker_set_rules(w, bad);
    rules_free(r0);
    wait_for_error(w, "dimensions");
    cr_expect(strstr(last_error, "dimensions") != NULL, "a text model of another space refused: %s", last_error);
    cr_expect_eq(errors, 1, "%s", last_error);
    search_query q = {0};
    q.text = "red circle";
    q.limit = 3;
    search_hit *h = NULL;
    size_t n = 0;
    cr_assert_eq(index_worker_search(w, s, &q, &h, &n, NULL, &e), 0, "CLIP's own tower still answers: %s", e.msg);
    cr_expect_gt(n, 0);
    free(h);

    index_worker_set_rules(w, good);
    rules_free(bad);
    wait_passes(w, 3);
    cr_expect_eq(errors, 1, "the fitting text model loads without a report (%s)", last_error);
    q.text = "ein roter Kreis";
    cr_assert_eq(index_worker_search(w, s, &q, &h, &n, NULL, &e), 0, "through the text model: %s", e.msg);
    cr_expect(q.meaning_min == NULL, "search_with_model leaves the caller's meaning_min as it was");
    free(h);

    index_worker_stop(w);
    index_worker_free(w);
    rules_free(good);
    store_close(s);
}
