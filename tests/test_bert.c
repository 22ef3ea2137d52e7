/* BERT / DistilBERT encoders and sentence-transformers modules against transformers 4.30.2 and
 * sentence-transformers 2.2.2 (refs.safetensors of tiny-distilbert-multilingual/ and
 * tiny-bert-minilm/): last_hidden_state within 1e-4 where the mask is 1, mean_pooled and
 * sentence_embedding within 1e-5; the padded batch with its mask, the same texts stacked without
 * padding, one text alone, and the long text truncated as sentence-transformers does; on the fast
 * CPU backend and the reference kernels. Plus folder detection and bad module files. */
#include <jansson.h>

#include "../src/model/ops.h"
#include "../src/model/stmodel.h"
#include "testutil.h"

typedef struct refs {
    st_set *st;
    int B, L, H;
    int32_t *ids, *mask;
} refs;

static const int32_t *i32(st_set *s, const char *name, int64_t *d0, int64_t *d1) {
    const st_tensor *t = st_find(s, name);
    cr_assert_not_null(t, "%s missing", name);
    cr_assert_eq(t->dtype, ST_I32);
    *d0 = t->shape[0];
    *d1 = t->shape[1];
    return t->data;
}

static stm_ctx *load(const char *rel, int reference) {
    char d[4096];
    if (!fixture_path(d, sizeof d, rel)) FIXTURE_MISSING("fixture %s not found", d);
    bert_params p = bert_default_params();
    p.reference = reference;
    p.device = "cpu";
    stm_ctx *s;
    cs_err e;
    cr_assert_eq(stm_load(d, &p, &s, &e), 0, "%s", e.msg);
    return s;
}

/* Compares the rows of `got` (stacked sequences, lens[b] rows each) with ref [B, L, H] where the
 * mask is 1. */
static float hidden_diff(const float *got, const float *ref, const int32_t *mask, int B, int L, int H, int padded) {
    float m = 0;
    size_t o = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < L; i++) {
            if (!mask[b * L + i]) {
                if (padded) o++;
                continue;
            }
            float d = max_abs_diff(got + o * H, ref + ((size_t)b * L + i) * H, (size_t)H);
            if (d > m) m = d;
            o++;
        }
    return m;
}

static void check_model(const char *rel, int reference) {
    stm_ctx *s = load(rel, reference);
    char rp[4096];
    snprintf(rp, sizeof rp, "%s/%s/refs.safetensors", fixtures_dir(), rel);
    st_set *st;
    cs_err e;
    cr_assert_eq(st_open(rp, &st, &e), 0, "%s", e.msg);
    int64_t B, L;
    const int32_t *ids = i32(st, "input_ids", &B, &L), *mask = i32(st, "attention_mask", &B, &L);
    int H = stm_encoder_info(s)->hidden, D = stm_dim(s);
    float *lh = load_ref(st, "last_hidden_state", NULL), *mp = load_ref(st, "mean_pooled", NULL),
          *se = load_ref(st, "sentence_embedding", NULL);
    float *gh = malloc((size_t)B * L * H * sizeof *gh), *gp = malloc((size_t)B * H * sizeof *gp),
          *ge = malloc((size_t)B * D * sizeof *ge);
    const int32_t **rows = malloc((size_t)B * sizeof *rows);
    size_t *lens = malloc((size_t)B * sizeof *lens);

    /* 1: the padded batch with its attention mask */
    for (int b = 0; b < B; b++) {
        rows[b] = ids + b * L;
        lens[b] = (size_t)L;
    }
    cr_assert_eq(stm_forward(s, rows, lens, (int)B, mask, 0, gh, gp, ge, &e), 0, "%s", e.msg);
    float dh = hidden_diff(gh, lh, mask, (int)B, (int)L, H, 1), dp = max_abs_diff(gp, mp, (size_t)B * H),
          de = max_abs_diff(ge, se, (size_t)B * D);
    cr_log_info("%s%s padded: hidden %.3g pooled %.3g embedding %.3g", rel, reference ? " (reference)" : "", dh, dp, de);
    cr_expect_lt(dh, 1e-4f, "%s padded last_hidden_state: %g", rel, dh);
    cr_expect_lt(dp, 1e-5f, "%s padded mean_pooled: %g", rel, dp);
    cr_expect_lt(de, 1e-5f, "%s padded sentence_embedding: %g", rel, de);

    /* 2: the same texts stacked without padding, each tokenised by us from refs.json */
    char jp[4096];
    snprintf(jp, sizeof jp, "%s/%s/refs.json", fixtures_dir(), rel);
    json_t *rj = json_load_file(jp, 0, NULL);
    cr_assert_not_null(rj);
    json_t *texts = json_object_get(rj, "texts");
    cr_assert_eq((int64_t)json_array_size(texts), B);
    int32_t **mine = calloc((size_t)B, sizeof *mine);
    for (int b = 0; b < B; b++) {
        json_t *t = json_array_get(texts, (size_t)b);
        cr_assert_eq(stm_tokenize(s, json_string_value(t), json_string_length(t), &mine[b], &lens[b], &e), 0);
        size_t real = 0;
        for (int i = 0; i < L; i++) real += mask[b * L + i] != 0;
        cr_assert_eq(lens[b], real, "text %d: %zu tokens, the reference has %zu", b, lens[b], real);
        cr_assert_eq(memcmp(mine[b], ids + b * L, real * sizeof(int32_t)), 0, "text %d: other ids", b);
    }
    memset(gh, 0, (size_t)B * L * H * sizeof *gh);
    cr_assert_eq(stm_forward(s, (const int32_t *const *)mine, lens, (int)B, NULL, 0, gh, gp, ge, &e), 0, "%s", e.msg);
    dh = hidden_diff(gh, lh, mask, (int)B, (int)L, H, 0);
    dp = max_abs_diff(gp, mp, (size_t)B * H);
    de = max_abs_diff(ge, se, (size_t)B * D);
    cr_expect_lt(dh, 1e-4f, "%s stacked last_hidden_state: %g", rel, dh);
    cr_expect_lt(dp, 1e-5f, "%s stacked mean_pooled: %g", rel, dp);
    cr_expect_lt(de, 1e-5f, "%s stacked sentence_embedding: %g", rel, de);
    /* and through the convenience path, normalised */
    const char **tx = malloc((size_t)B * sizeof *tx);
    for (int b = 0; b < B; b++) tx[b] = json_string_value(json_array_get(texts, (size_t)b));
    cr_assert_eq(stm_embed_texts(s, tx, (int)B, 1, ge, &e), 0, "%s", e.msg);
    ops_l2_normalize(se, (int)B, D);
    de = max_abs_diff(ge, se, (size_t)B * D);
    cr_expect_lt(de, 1e-5f, "%s normalised embeddings: %g", rel, de);

    /* 3: one text alone */
    int64_t sb, sl;
    const int32_t *sids = i32(st, "single_input_ids", &sb, &sl);
    float *slh = load_ref(st, "single_last_hidden_state", NULL), *ssp = load_ref(st, "single_mean_pooled", NULL),
          *sse = load_ref(st, "single_sentence_embedding", NULL);
    json_t *stx = json_object_get(rj, "single_text");
    int32_t *one;
    size_t n1;
    cr_assert_eq(stm_tokenize(s, json_string_value(stx), json_string_length(stx), &one, &n1, &e), 0);
    cr_assert_eq((int64_t)n1, sl);
    cr_assert_eq(memcmp(one, sids, n1 * sizeof *one), 0);
    cr_assert_eq(stm_forward(s, (const int32_t *const *)&one, &n1, 1, NULL, 0, gh, gp, ge, &e), 0, "%s", e.msg);
    cr_expect_lt(max_abs_diff(gh, slh, n1 * H), 1e-4f, "%s single hidden", rel);
    cr_expect_lt(max_abs_diff(gp, ssp, (size_t)H), 1e-5f, "%s single pooled", rel);
    cr_expect_lt(max_abs_diff(ge, sse, (size_t)D), 1e-5f, "%s single embedding", rel);

    /* 4: the long text, truncated to max_seq_length as sentence-transformers does */
    int64_t lb, ll;
    const int32_t *lids = i32(st, "long_input_ids", &lb, &ll);
    json_t *ltx = json_object_get(rj, "long_text");
    int32_t *lng;
    size_t nl;
    cr_assert_eq(stm_tokenize(s, json_string_value(ltx), json_string_length(ltx), &lng, &nl, &e), 0);
    cr_assert_eq((int64_t)nl, ll, "long text: %zu tokens, expected %lld", nl, (long long)ll);
    cr_assert_eq(nl, (size_t)stm_max_seq(s));
    cr_assert_eq(memcmp(lng, lids, nl * sizeof *lng), 0);
    float *llh = load_ref(st, "long_last_hidden_state", NULL), *lse = load_ref(st, "long_sentence_embedding", NULL);
    float *glh = malloc(nl * H * sizeof *glh);
    cr_assert_eq(stm_forward(s, (const int32_t *const *)&lng, &nl, 1, NULL, 0, glh, NULL, ge, &e), 0, "%s", e.msg);
    cr_expect_lt(max_abs_diff(glh, llh, nl * H), 1e-4f, "%s long hidden", rel);
    cr_expect_lt(max_abs_diff(ge, lse, (size_t)D), 1e-5f, "%s long embedding", rel);

    for (int b = 0; b < B; b++) free(mine[b]);
    free(mine); free(tx); free(one); free(lng); free(glh); free(llh); free(lse); free(slh); free(ssp); free(sse);
    free(gh); free(gp); free(ge); free(rows); free(lens); free(lh); free(mp); free(se);
    json_decref(rj);
    st_close(st);
    stm_free(s);
}

Test(bert, distilbert_multilingual_dense) { check_model("tiny-distilbert-multilingual", 0); }
Test(bert, bert_minilm_normalize) { check_model("tiny-bert-minilm", 0); }
Test(bert, distilbert_reference_kernels) { check_model("tiny-distilbert-multilingual", 1); }
Test(bert, bert_reference_kernels) { check_model("tiny-bert-minilm", 1); }

Test(bert, describes_and_detects) {
    stm_ctx *s = load("tiny-distilbert-multilingual", 0);
    cr_assert_str_eq(stm_describe(s), "Transformer(distilbert, max_seq_length 128) -> Pooling(mean) -> Dense(64->32)");
    cr_assert_eq(stm_dim(s), 32);
    stm_free(s);
    char d[4096];
    fixture_path(d, sizeof d, "tiny-bert-minilm");
    cr_assert(stm_detect(d));
    fixture_path(d, sizeof d, "toyworld-clip");
    cr_assert_not(stm_detect(d));
}

Test(bert, bad_modules_and_configs) {
    cs_err e;
    const char *m1 = "[{\"idx\":0,\"path\":\"\",\"type\":\"sentence_transformers.models.Pooling\"}]";
    cr_assert_eq(stm_parse_modules(m1, strlen(m1), "modules.json", &e), -1);
    cr_assert(strstr(e.msg, "Transformer"), "%s", e.msg);
    const char *m2 = "[{\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                     "{\"path\":\"../x\",\"type\":\"sentence_transformers.models.Pooling\"}]";
    cr_assert_eq(stm_parse_modules(m2, strlen(m2), "modules.json", &e), -1);
    cr_assert(strstr(e.msg, "relative"), "%s", e.msg);
    const char *m3 = "[{\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
                     "{\"path\":\"1\",\"type\":\"sentence_transformers.models.LSTM\"}]";
    cr_assert_eq(stm_parse_modules(m3, strlen(m3), "modules.json", &e), -1);
    cr_assert(strstr(e.msg, "LSTM"), "%s", e.msg);
    cr_assert_eq(stm_parse_modules("{}", 2, "modules.json", &e), -1);
    bert_info bi;
    const char *c1 = "{\"model_type\": \"bert\", \"position_embedding_type\": \"relative_key\"}";
    cr_assert_eq(bert_config_check(c1, strlen(c1), "config.json", &bi, &e), -1);
    cr_assert(strstr(e.msg, "absolute"), "%s", e.msg);
    const char *c2 = "{\"model_type\": \"distilbert\", \"dim\": 60, \"n_heads\": 7}";
    cr_assert_eq(bert_config_check(c2, strlen(c2), "config.json", &bi, &e), -1);
    const char *c3 = "{\"model_type\": \"roberta\"}";
    cr_assert_eq(bert_config_check(c3, strlen(c3), "config.json", &bi, &e), -1);
    const char *c4 = "{\"model_type\": \"distilbert\", \"activation\": \"swish\"}";
    cr_assert_eq(bert_config_check(c4, strlen(c4), "config.json", &bi, &e), -1);
    cr_assert(strstr(e.msg, "swish"), "%s", e.msg);
}
