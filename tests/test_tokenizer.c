/* Tokenizer conformance: every case of tokenizer-refs.json (Hugging Face CLIPTokenizer ids), with
 * and without truncation to 77; invalid UTF-8; bad vocabulary files. */
#include <jansson.h>

#include "../src/common/cs_hash.h"
#include "../src/model/tokenizer.h"
#include "testutil.h"

static tok_ctx *load_tok(void) {
    char v[4096], m[4096];
    if (!fixture_path(v, sizeof v, "clip-vocab/vocab.json") || !fixture_path(m, sizeof m, "clip-vocab/merges.txt"))
        return NULL;
    tok_ctx *t;
    cs_err e;
    cr_assert_eq(tok_load(v, m, &t, &e), 0, "%s", e.msg);
    return t;
}

static int ids_equal(const int32_t *ids, size_t n, json_t *ref) {
    if (n != json_array_size(ref)) return 0;
    for (size_t k = 0; k < n; k++)
        if (ids[k] != json_integer_value(json_array_get(ref, k))) return 0;
    return 1;
}

Test(tokenizer, every_reference_case) {
    FIXTURE(refs, "tokenizer-refs.json");
    tok_ctx *t = load_tok();
    cr_assert_not_null(t);
    json_error_t je;
    json_t *root = json_load_file(refs, 0, &je);
    cr_assert_not_null(root);
    json_t *cases = json_object_get(root, "cases"), *c;
    size_t i, bad = 0, badt = 0, with_trunc = 0;
    cr_assert_gt(json_array_size(cases), 3000);
    json_array_foreach(cases, i, c) {
        json_t *jt = json_object_get(c, "text");
        int32_t *ids;
        size_t n;
        cs_err e;
        cr_assert_eq(tok_encode(t, json_string_value(jt), json_string_length(jt), 0, &ids, &n, &e), 0);
        if (!ids_equal(ids, n, json_object_get(c, "ids"))) {
            if (bad++ < 5) cr_log_error("case %zu differs: %s", i, json_string_value(jt));
        }
        free(ids);
        json_t *tr = json_object_get(c, "ids_truncated_77");
        if (tr) {
            with_trunc++;
            cr_assert_eq(tok_encode(t, json_string_value(jt), json_string_length(jt), 77, &ids, &n, &e), 0);
            if (!ids_equal(ids, n, tr)) badt++;
            cr_assert_leq(n, 77);
            free(ids);
        }
    }
    cr_expect_eq(bad, 0, "%zu of %zu cases differ", bad, json_array_size(cases));
    cr_expect_eq(badt, 0, "%zu truncated cases differ", badt);
    cr_expect_gt(with_trunc, 10);
    json_decref(root);
    tok_free(t);
}

Test(tokenizer, truncation_keeps_final_eos) {
    tok_ctx *t = load_tok();
    if (!t) FIXTURE_MISSING("clip-vocab fixture not found");
    char text[4000] = "";
    for (int i = 0; i < 300; i++) strcat(text, "cat ");
    int32_t *ids;
    size_t n;
    cr_assert_eq(tok_encode(t, text, strlen(text), 77, &ids, &n, NULL), 0);
    cr_assert_eq(n, 77);
    cr_assert_eq(ids[0], 49406);
    cr_assert_eq(ids[76], 49407);
    free(ids);
    cr_assert_eq(tok_encode(t, text, strlen(text), 0, &ids, &n, NULL), 0);
    cr_assert_eq(n, 302);
    free(ids);
    cs_err e;
    cr_assert_lt(tok_encode(t, text, strlen(text), 1, &ids, &n, &e), 0);
    tok_free(t);
}

Test(tokenizer, invalid_utf8_becomes_replacement_characters) {
    tok_ctx *t = load_tok();
    if (!t) FIXTURE_MISSING("clip-vocab fixture not found");
    /* U+FFFD as text is the reference for what each invalid sequence turns into */
    int32_t *ref, *ids;
    size_t nref, n;
    cr_assert_eq(tok_encode(t, "a \xEF\xBF\xBD b", 7, 0, &ref, &nref, NULL), 0);
    cr_assert_eq(tok_encode(t, "a \xFF b", 5, 0, &ids, &n, NULL), 0);
    cr_assert_eq(n, nref);
    cr_assert_arr_eq(ids, ref, n * sizeof *ids);
    free(ids);
    /* a truncated 3-byte sequence is one maximal subpart: one U+FFFD */
    cr_assert_eq(tok_encode(t, "a \xE2\x82 b", 6, 0, &ids, &n, NULL), 0);
    cr_assert_eq(n, nref);
    cr_assert_arr_eq(ids, ref, n * sizeof *ids);
    free(ids);
    free(ref);
    /* every byte value, NULs, and lone continuation bytes: no crash, bos/eos framing */
    unsigned char all[512];
    for (int i = 0; i < 512; i++) all[i] = (unsigned char)(i * 7 + 3);
    cr_assert_eq(tok_encode(t, (const char *)all, sizeof all, 0, &ids, &n, NULL), 0);
    cr_assert_geq(n, 2);
    cr_assert_eq(ids[0], 49406);
    cr_assert_eq(ids[n - 1], 49407);
    free(ids);
    tok_free(t);
}

/* what it checks: a 200,000-byte word encodes (without exhausting memory or hanging on the BPE
 * merges) into many ids; it does not time anything */
Test(tokenizer, long_single_word_of_200000_bytes_encodes_to_many_ids) {
    tok_ctx *t = load_tok();
    if (!t) FIXTURE_MISSING("clip-vocab fixture not found");
    size_t len = 200000;
    char *s = malloc(len);
    for (size_t i = 0; i < len; i++) s[i] = (char)('a' + (i * 7919) % 26);
    int32_t *ids;
    size_t n;
    cr_assert_eq(tok_encode(t, s, len, 0, &ids, &n, NULL), 0);
    cr_assert_gt(n, 1000);
    free(ids);
    free(s);
    tok_free(t);
}

Test(tokenizer, bad_files_are_clear_errors) {
    char dir[64], v[128], m[128];
    make_tmpdir(dir, sizeof dir);
    snprintf(v, sizeof v, "%s/vocab.json", dir);
    snprintf(m, sizeof m, "%s/merges.txt", dir);
    tok_ctx *t;
    cs_err e;
    write_file(v, "{not json", 9);
    write_file(m, "#version: 0.2\n", 14);
    cr_assert_lt(tok_load(v, m, &t, &e), 0);
    cr_assert(strstr(e.msg, "vocab.json"), "%s", e.msg);
    write_file(v, "{\"a\": 0, \"b\": 99}", 17);
    cr_assert_lt(tok_load(v, m, &t, &e), 0);
    cr_assert(strstr(e.msg, "id outside"), "%s", e.msg);
    write_file(v, "{\"a\": 0, \"b\": 1}", 16);
    cr_assert_lt(tok_load(v, m, &t, &e), 0);
    cr_assert(strstr(e.msg, "not a byte-level BPE"), "%s", e.msg);
    cr_assert_lt(tok_load("/nonexistent/vocab.json", m, &t, &e), 0);
    cr_assert(strstr(e.msg, "/nonexistent/vocab.json"), "%s", e.msg);
    rm_rf(dir);
}

/* The vocabularies' hash (and the converted-weights cache's file names) is FNV-1a 64: the
 * published test vectors, so a file name written by one build is found by the next. */
Test(tokenizer, cs_hash_is_fnv1a_64) {
    cr_expect_eq(cs_hash("", 0), 0xcbf29ce484222325ull);
    cr_expect_eq(cs_hash("a", 1), 0xaf63dc4c8601ec8cull);
    cr_expect_eq(cs_hash("foobar", 6), 0x85944171f73967e8ull);
}
