/* WordPiece conformance: every case of wordpiece-refs.json (Hugging Face's Rust BertTokenizer ids)
 * under the cased (mBERT) and uncased (bert-base-uncased) tokenizers, with and without truncation
 * to 128; special ids from the vocabulary; settings and bad vocabularies. */
#include <jansson.h>
#include <time.h>

#include "../src/model/wordpiece.h"
#include "testutil.h"

static wp_ctx *load_wp(const char *rel) {
    char d[4096];
    if (!fixture_path(d, sizeof d, rel)) return NULL;
    wp_ctx *w;
    cs_err e;
    cr_assert_eq(wp_load(d, &w, &e), 0, "%s", e.msg);
    return w;
}

static int ids_equal(const int32_t *ids, size_t n, json_t *ref) {
    if (n != json_array_size(ref)) return 0;
    for (size_t k = 0; k < n; k++)
        if (ids[k] != json_integer_value(json_array_get(ref, k))) return 0;
    return 1;
}

static void check_all(const char *which, const char *dir) {
    FIXTURE(refs, "wordpiece-refs.json");
    wp_ctx *w = load_wp(dir);
    if (!w) FIXTURE_MISSING("fixture %s not found", dir);
    json_error_t je;
    json_t *root = json_load_file(refs, JSON_ALLOW_NUL, &je);
    cr_assert_not_null(root, "%s", je.text);
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t i, bad = 0, badt = 0;
    cr_assert_eq(json_array_size(cases), 3000);
    json_array_foreach(cases, i, c) {
        json_t *jt = json_object_get(c, "text"), *r = json_object_get(c, which);
        int32_t *ids;
        size_t n;
        cs_err e;
        cr_assert_eq(wp_encode(w, json_string_value(jt), json_string_length(jt), 0, &ids, &n, &e), 0, "%s", e.msg);
        if (!ids_equal(ids, n, json_object_get(r, "ids")) && bad++ < 8)
            cr_log_error("%s case %zu differs: %s", which, i, json_string_value(jt));
        free(ids);
        cr_assert_eq(wp_encode(w, json_string_value(jt), json_string_length(jt), 128, &ids, &n, &e), 0, "%s", e.msg);
        if (!ids_equal(ids, n, json_object_get(r, "ids_truncated_128"))) badt++;
        cr_assert_leq(n, 128);
        free(ids);
    }
    cr_expect_eq(bad, 0, "%s: %zu of 3000 cases differ", which, bad);
    cr_expect_eq(badt, 0, "%s: %zu truncated cases differ", which, badt);
    json_decref(root);
    wp_free(w);
}

Test(wordpiece, cased_every_reference_case) { check_all("cased", "tiny-distilbert-multilingual"); }
Test(wordpiece, uncased_every_reference_case) { check_all("uncased", "tiny-bert-minilm"); }

/* The mBERT vocabulary is 119,547 lines: loading it must stay a one-pass affair. */
Test(wordpiece, loads_the_multilingual_vocabulary_fast) {
    char d[4096];
    if (!fixture_path(d, sizeof d, "tiny-distilbert-multilingual/vocab.txt")) FIXTURE_MISSING("mBERT vocab not found");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    wp_ctx *w = load_wp("tiny-distilbert-multilingual");
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    cr_log_info("mBERT vocab (119,547 tokens) loaded in %.1f ms", ms);
    cr_assert_eq(wp_vocab_size(w), 119547);
    cr_assert_eq(wp_cls(w), 101);
    cr_assert_eq(wp_sep(w), 102);
    cr_assert_eq(wp_unk(w), 100);
    cr_assert_eq(wp_id(w, "Hello"), 31178);
    cr_assert_eq(wp_id(w, "world"), 11356);
    cr_expect_lt(ms, 500.0, "loading took %.1f ms", ms);
    wp_free(w);
}

/* toyworld-multilingual's sub-vocabulary puts the specials at 0..4: nothing may assume 100..103. */
Test(wordpiece, special_ids_come_from_the_vocabulary) {
    wp_ctx *w = load_wp("toyworld-multilingual");
    if (!w) FIXTURE_MISSING("toyworld-multilingual not found");
    cr_assert_eq(wp_pad(w), 0);
    cr_assert_eq(wp_unk(w), 1);
    cr_assert_eq(wp_cls(w), 2);
    cr_assert_eq(wp_sep(w), 3);
    int32_t *ids;
    size_t n;
    cs_err e;
    cr_assert_eq(wp_encode(w, "[MASK] zzqx", 11, 0, &ids, &n, &e), 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(ids[0], 2);
    cr_assert_eq(ids[1], 4);
    cr_assert_eq(ids[2], 1);
    cr_assert_eq(ids[3], 3);
    free(ids);
    wp_free(w);
}

Test(wordpiece, settings_and_bad_input) {
    wp_opts o = wp_default_opts();
    cs_err e;
    const char *cfg = "{\"do_lower_case\": true, \"strip_accents\": false, \"unk_token\": {\"content\": \"<unk>\"}}";
    cr_assert_eq(wp_parse_config(cfg, strlen(cfg), "t.json", &o, &e), 0, "%s", e.msg);
    cr_assert_eq(o.lowercase, 1);
    cr_assert_eq(o.strip_accents, 0);
    cr_assert_str_eq(o.unk, "<unk>");
    const char *bad = "{\"do_lower_case\": \"yes\"}";
    cr_assert_eq(wp_parse_config(bad, strlen(bad), "t.json", &o, &e), -1);
    cr_assert(strstr(e.msg, "do_lower_case"), "%s", e.msg);
    cr_assert_eq(wp_parse_config("[1]", 3, "t.json", &o, &e), -1);

    /* lowercase without stripping keeps the accent; CRLF lines give the same tokens */
    const char *voc = "[PAD]\r\n<unk>\r\n[CLS]\r\n[SEP]\r\ncafé\r\ncafe\r\n";
    wp_ctx *w;
    cr_assert_eq(wp_load_mem(voc, strlen(voc), &o, "v.txt", &w, &e), 0, "%s", e.msg);
    int32_t *ids;
    size_t n;
    cr_assert_eq(wp_encode(w, "CAFÉ", strlen("CAFÉ"), 0, &ids, &n, &e), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[1], 4);
    free(ids);
    cr_assert_eq(wp_encode(w, "x", 1, 1, &ids, &n, &e), -1);
    wp_free(w);

    wp_opts d = wp_default_opts();
    cr_assert_eq(wp_load_mem("a\nb\n", 4, &d, "v.txt", &w, &e), -1);
    cr_assert(strstr(e.msg, "[UNK]"), "%s", e.msg);
    cr_assert_eq(wp_load_mem("", 0, &d, "v.txt", &w, &e), -1);
    cr_assert_eq(wp_load_mem("[UNK]\n[CLS]\n\xff\n[SEP]\n", 20, &d, "v.txt", &w, &e), -1);
    cr_assert(strstr(e.msg, "line 3"), "%s", e.msg);
}
