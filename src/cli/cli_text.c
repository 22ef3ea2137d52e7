/* cli_text: tokenize, embed and model info for BERT-family sentence-transformers folders, with
 * the same input and output formats as the CLIP commands in cli_model.c (docs/cli.md), so
 * scripts work with either kind of model. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_file.h"
#include "../model/clip.h"
#include "../model/ops.h"
#include "../model/stmodel.h"
#include "../config/rules.h"
#include "../index/indexer.h"
#include "../store/store.h"
#include "cli.h"

#define MAX_INPUT_FILE (256u << 20)

struct bert_params cli_bert_params(int threads) {
    clip_params c = cli_clip_params(threads);
    bert_params p = bert_default_params();
    p.threads = c.threads;
    p.device = c.device;
    p.f32 = c.f32;
    return p;
}

int cli_text_check_space(const char *tdir, const char *cdir, cs_err *e) {
    clip_params cp = clip_default_params();
    cp.threads = 1;
    cp.no_tokenizer = 1;
    clip_ctx *c;
    if (clip_load(cdir, &cp, &c, e)) return -1;
    int P = clip_get_info(c)->projection_dim;
    clip_free(c);
    bert_params bp = bert_default_params();
    bp.threads = 1;
    stm_ctx *s;
    if (stm_load(tdir, &bp, &s, e)) return -1;
    int D = stm_dim(s);
    stm_free(s);
    if (D != P)
        return cs_err_set(e,
                          "%s embeds into %d dimensions, but %s's space has %d: it was not trained for this CLIP model",
                          tdir, D, cdir, P);
    return 0;
}

/* A text model setting: $env, else the store's meta key (`model use`), else the config's value
 * (from getter; a broken config is reported by the commands that read it). malloc'd or NULL. */
static char *setting_dir(store *s, const char *env_name, const char *key, const char *(*getter)(const rules *)) {
    const char *env = getenv(env_name);
    char *dir = env && *env ? strdup(env) : NULL;
    if (!dir && s) store_meta_get(s, key, &dir, NULL);
    if (!dir) {
        rules *r = NULL;
        if (rules_load(NULL, &r, NULL) == 0 && getter(r)) dir = strdup(getter(r));
        rules_free(r);
    }
    return dir;
}

int cli_text_check_embedder(const char *dir, cs_err *e) {
    if (!stm_detect(dir))
        return cs_errc(e, CS_EINVAL, "%s: not a sentence-transformers model (no modules.json, no BERT config.json)",
                       dir);
    bert_params bp = bert_default_params();
    bp.threads = 1;
    stm_ctx *t;
    if (stm_load(dir, &bp, &t, e)) return -1;
    stm_free(t);
    return 0;
}

int cli_text_query_model(store *s, stm_ctx **out, cs_err *e) {
    *out = NULL;
    char *dir = setting_dir(s, "CLIPSEEK_TEXT_MODEL", "text_model_dir", rules_text_model);
    if (!dir) return 0;
    bert_params p = cli_bert_params(cli_threads);
    int rc = stm_load(dir, &p, out, e);
    free(dir);
    return rc;
}

char *cli_text_embedder_dir(store *s) {
    return setting_dir(s, "CLIPSEEK_TEXT_EMBEDDER", "text_embedder_dir", rules_text_embedder);
}

int cli_text_embedder(store *s, stm_ctx **out, char **id, cs_err *e) {
    *out = NULL;
    *id = NULL;
    char *dir = cli_text_embedder_dir(s);
    if (!dir) return 0;
    bert_params p = cli_bert_params(cli_threads);
    int rc = 0;
    if (!stm_detect(dir))
        rc = cs_errc(e, CS_EINVAL, "text embedder %s: not a sentence-transformers model folder", dir);
    else if (!(*id = index_model_id(dir, e)) || stm_load(dir, &p, out, e)) {
        free(*id);
        *id = NULL;
        rc = -1;
    }
    free(dir);
    return rc;
}

static stm_ctx *open_st(const char *dir) {
    bert_params p = cli_bert_params(cli_threads);
    stm_ctx *s;
    cs_err e;
    if (stm_load(dir, &p, &s, &e)) {
        cli_fail_err(&e);
        return NULL;
    }
    return s;
}

int cli_text_tokenize(const char *dir, const char *from, int maxlen) {
    /* only the tokenizer and its length limit: no weights are opened */
    wp_ctx *w;
    cs_err e;
    if (wp_load(dir, &w, &e)) return cli_fail_err(&e);
    char *in;
    size_t len;
    if (cs_read_input(cs_input_path(from), MAX_INPUT_FILE, &in, &len, &e)) {
        wp_free(w);
        return cli_fail_err(&e);
    }
    int rc = CLI_OK;
    size_t line = 0;
    for (size_t at = 0; at < len && rc == CLI_OK; line++) {
        char *nl = memchr(in + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - in) : len;
        int32_t *ids;
        size_t k;
        if (wp_encode(w, in + at, end - at, maxlen, &ids, &k, &e)) {
            rc = cli_fail("line %zu: %s", line + 1, e.msg);
            break;
        }
        for (size_t j = 0; j < k; j++) printf(j ? " %d" : "%d", ids[j]);
        putchar('\n');
        free(ids);
        at = end + 1;
    }
    free(in);
    wp_free(w);
    if (fflush(stdout) != 0) return cli_fail("writing stdout: %s", strerror(errno));
    return rc;
}

int cli_text_embed(const char *dir, const char *const *texts, const size_t *lens, size_t n, int norm, int f32) {
    stm_ctx *s = open_st(dir);
    if (!s) return CLI_FAIL;
    size_t D = (size_t)stm_dim(s);
    float *out = malloc((n ? n : 1) * D * sizeof *out);
    int rc = out ? CLI_OK : cli_fail("out of memory");
    for (size_t i = 0; i < n && rc == CLI_OK; i += 32) {
        /* batches of 32: one GEMM per layer for the batch */
        size_t nb = n - i < 32 ? n - i : 32;
        int32_t *ids[32];
        size_t nl[32];
        cs_err e;
        size_t got = 0;
        for (; got < nb; got++)
            if (stm_tokenize(s, texts[i + got], lens[i + got], &ids[got], &nl[got], &e)) break;
        if (got < nb)
            rc = cli_fail("text %zu: %s", i + got + 1, e.msg);
        else if (stm_forward(s, (const int32_t *const *)ids, nl, (int)nb, NULL, norm, NULL, NULL, out + i * D, &e))
            rc = cli_fail_err(&e);
        for (size_t k = 0; k < got; k++) free(ids[k]);
    }
    /* all-or-nothing, as for CLIP: output only once every text is embedded */
    if (rc == CLI_OK) {
        if (f32)
            fwrite(out, sizeof(float), n * D, stdout);
        else
            for (size_t i = 0; i < n; i++) {
                putchar('[');
                for (size_t j = 0; j < D; j++) printf(j ? ", %.9g" : "%.9g", out[i * D + j]);
                fputs("]\n", stdout);
            }
        if (fflush(stdout) != 0) rc = cli_fail("writing stdout: %s", strerror(errno));
    }
    free(out);
    stm_free(s);
    return rc;
}

int cli_text_info(const char *dir, int json) {
    stm_ctx *s = open_st(dir);
    if (!s) return CLI_FAIL;
    const bert_info *m = stm_encoder_info(s);
    const wp_ctx *w = stm_tokenizer(s);
    const wp_opts *o = wp_get_opts(w);
    int strip = o->strip_accents < 0 ? o->lowercase : o->strip_accents;
    const char *arch = !strcmp(m->family, "bert") ? "BertModel" : "DistilBertModel";
    if (json) {
        printf("{\"architecture\": \"%s\", \"family\": \"%s\", \"format\": \"%s\", \"dtype\": \"%s\", "
               "\"hidden\": %d, \"intermediate\": %d, \"layers\": %d, \"heads\": %d, \"act\": \"%s\", "
               "\"vocab_size\": %d, \"max_positions\": %d, \"max_seq_length\": %d, \"dim\": %d, "
               "\"tokenizer\": {\"type\": \"WordPiece\", \"vocab\": %zu, \"lowercase\": %s, \"strip_accents\": %s, "
               "\"cls\": %d, \"sep\": %d, \"unk\": %d, \"pad\": %d},\n \"modules\": \"%s\", \"params\": %llu, "
               "\"file_bytes\": %llu, \"resident_bytes\": %llu, \"blas\": \"%s\", \"threads\": %d",
               arch, m->family, m->format, m->dtype, m->hidden, m->intermediate, m->layers, m->heads, m->act,
               m->vocab_size, m->max_positions, stm_max_seq(s), stm_dim(s), wp_vocab_size(w),
               o->lowercase ? "true" : "false", strip ? "true" : "false", wp_cls(w), wp_sep(w), wp_unk(w), wp_pad(w),
               stm_describe(s), (unsigned long long)m->params, (unsigned long long)m->file_bytes,
               (unsigned long long)stm_resident_bytes(s), ops_blas_name(), stm_threads(s));
        cli_model_origin(dir, 1);
        printf("}\n");
    } else {
        printf("architecture   %s (%s weights), sentence-transformers\n", arch, m->dtype);
        printf("weights        %s\n", m->format);
        printf("encoder        %d layers, width %d, FFN %d, %d heads, %s, vocab %d, %d positions\n", m->layers,
               m->hidden, m->intermediate, m->heads, m->act, m->vocab_size, m->max_positions);
        printf("tokenizer      WordPiece, %zu tokens, %s%s, [CLS]=%d [SEP]=%d [UNK]=%d\n", wp_vocab_size(w),
               o->lowercase ? "lowercased" : "cased", strip ? ", accents stripped" : "", wp_cls(w), wp_sep(w),
               wp_unk(w));
        printf("modules        %s\n", stm_describe(s));
        printf("embedding      %d dims\n", stm_dim(s));
        printf("parameters     %.2fM (%.1f MB of weights on disk)\n", m->params / 1e6, m->file_bytes / 1e6);
        printf("resident       %.1f MB now (weights are mapped; word-table rows are read as tokens are seen)\n",
               stm_resident_bytes(s) / 1e6);
        printf("compute        %s, %d threads\n", ops_blas_name(), stm_threads(s));
        cli_model_origin(dir, 0);
    }
    stm_free(s);
    return CLI_OK;
}
