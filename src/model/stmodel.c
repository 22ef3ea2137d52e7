/* stmodel: sentence-transformers folders. See stmodel.h.
 *
 * The encoder runs on the backend; the modules after it (pooling, Dense, Normalize) work on a few
 * vectors per text and run on the host in plain loops, in sentence-transformers' order. */
#include "stmodel.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_file.h"
#include "mconf.h"
#include "ops.h"
#include "weights.h"

enum { MOD_POOL, MOD_DENSE, MOD_NORM };
enum { POOL_CLS = 1, POOL_MAX = 2, POOL_MEAN = 4, POOL_MEAN_SQRT = 8 };
enum { DACT_ID, DACT_TANH, DACT_RELU, DACT_SIGMOID, DACT_GELU };

typedef struct stm_mod {
    int kind;
    int modes;        /* pooling */
    int in, out, act; /* dense */
    float *w, *b;     /* dense: [out, in], [out] or NULL */
} stm_mod;

struct stm_ctx {
    bert_ctx *enc;
    wp_ctx *tok;
    stm_mod mods[8];
    int nmods, dim, max_seq;
    char desc[256];
};

/* ---------------- detection and parsing ---------------- */

static json_t *load_json(const char *path, size_t max, cs_err *err) {
    char *txt;
    size_t len;
    if (cs_read_file(path, max, &txt, &len, err)) return NULL;
    json_error_t je;
    json_t *o = json_loadb(txt, len, 0, &je);
    free(txt);
    if (!o) cs_err_set(err, "%s: not JSON (line %d: %s)", path, je.line, je.text);
    return o;
}

int stm_detect(const char *dir) {
    char *m = cs_path_join(dir, "modules.json"), *c = cs_path_join(dir, "config.json");
    int yes = m && cs_is_file(m);
    if (!yes && c && cs_is_file(c)) {
        json_t *o = load_json(c, 16u << 20, NULL);
        json_t *t = json_object_get(o, "model_type");
        yes =
            json_is_string(t) && (!strcmp(json_string_value(t), "bert") || !strcmp(json_string_value(t), "distilbert"));
        json_decref(o);
    }
    free(m);
    free(c);
    return yes;
}

static const char *mod_type(json_t *m) {
    json_t *t = json_object_get(m, "type");
    const char *s = json_is_string(t) ? json_string_value(t) : "";
    const char *pre = "sentence_transformers.models.";
    return strncmp(s, pre, strlen(pre)) == 0 ? s + strlen(pre) : s;
}

/* A module path: relative, no "..", no absolute path (a folder from the Hub must not reach out). */
static int safe_path(const char *p) {
    if (p[0] == '/' || strstr(p, "..")) return 0;
    return 1;
}

int stm_parse_modules(const char *txt, size_t len, const char *path, cs_err *err) {
    json_error_t je;
    json_t *a = json_loadb(txt, len, 0, &je);
    if (!a || !json_is_array(a)) {
        json_decref(a);
        return cs_err_set(err, "%s: not a JSON array of modules (line %d: %s)", path, je.line, je.text);
    }
    size_t n = json_array_size(a), i;
    json_t *m;
    int rc = 0;
    if (n < 1 || n > 8) rc = cs_err_set(err, "%s: %zu modules; 1 to 8 are supported", path, n);
    json_array_foreach(a, i, m) {
        if (rc) break;
        json_t *p = json_object_get(m, "path");
        const char *t = mod_type(m);
        if (!json_is_object(m) || !json_is_string(p) || !safe_path(json_string_value(p)))
            rc = cs_err_set(err, "%s: module %zu needs a relative \"path\" string", path, i);
        else if (i == 0 && strcmp(t, "Transformer") != 0)
            rc = cs_err_set(err, "%s: the first module must be a Transformer, not \"%s\"", path, t);
        else if (i > 0 && strcmp(t, "Pooling") && strcmp(t, "Dense") && strcmp(t, "Normalize"))
            rc =
                cs_err_set(err, "%s: module %zu: type \"%s\" is not supported (Pooling, Dense, Normalize)", path, i, t);
        else if (i > 0 && !strcmp(t, "Transformer"))
            rc = cs_err_set(err, "%s: only the first module may be a Transformer", path);
    }
    json_decref(a);
    return rc ? -1 : (int)n;
}

static int load_pooling(stm_mod *m, const char *dir, int hidden, cs_err *err) {
    char *p = cs_path_join(dir, "config.json");
    json_t *o = p ? load_json(p, 1u << 20, err) : NULL;
    int rc = o && json_is_object(o) ? 0 : -1;
    if (!p) cs_errc(err, CS_ENOMEM, "out of memory");
    if (o && !json_is_object(o)) cs_err_set(err, "%s: not a JSON object", p);
    static const char *keys[4] = {"pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_tokens",
                                  "pooling_mode_mean_sqrt_len_tokens"};
    m->kind = MOD_POOL;
    m->modes = 0;
    for (int k = 0; k < 4 && !rc; k++) {
        int v;
        rc = mc_get_bool(o, keys[k], 0, &v, p, err);
        if (v) m->modes |= 1 << k;
    }
    static const char *unsupported[2] = {"pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"};
    for (int k = 0; k < 2 && !rc; k++) {
        int v;
        rc = mc_get_bool(o, unsupported[k], 0, &v, p, err);
        if (!rc && v) rc = cs_err_set(err, "%s: %s is not supported", p, unsupported[k]);
    }
    int wdim = hidden;
    if (!rc) rc = mc_get_int(o, "word_embedding_dimension", hidden, 1, 1 << 16, &wdim, p, err);
    if (!rc && wdim != hidden)
        rc = cs_err_set(err, "%s: word_embedding_dimension %d, but the encoder's width is %d", p, wdim, hidden);
    if (!rc && !m->modes) rc = cs_err_set(err, "%s: no pooling mode is enabled", p);
    json_decref(o);
    free(p);
    return rc;
}

static int parse_dense_act(const char *s, int *act) {
    static const char *names[5] = {"Identity", "Tanh", "ReLU", "Sigmoid", "GELU"};
    const char *dot = strrchr(s, '.');
    const char *base = dot ? dot + 1 : s;
    for (int i = 0; i < 5; i++)
        if (!strcmp(base, names[i])) {
            *act = i;
            return 0;
        }
    return -1;
}

static int load_dense(stm_mod *m, const char *dir, int in_dim, cs_err *err) {
    char *p = cs_path_join(dir, "config.json");
    json_t *o = p ? load_json(p, 1u << 20, err) : NULL;
    int rc = o && json_is_object(o) ? 0 : -1, bias = 1;
    if (o && !json_is_object(o)) cs_err_set(err, "%s: not a JSON object", p);
    m->kind = MOD_DENSE;
    if (!rc) rc = mc_get_int(o, "in_features", 0, 1, 1 << 16, &m->in, p, err);
    if (!rc) rc = mc_get_int(o, "out_features", 0, 1, 1 << 16, &m->out, p, err);
    if (!rc) rc = mc_get_bool(o, "bias", 1, &bias, p, err);
    json_t *a = o ? json_object_get(o, "activation_function") : NULL;
    /* sentence-transformers' Dense defaults to Tanh */
    const char *as = json_is_string(a) ? json_string_value(a) : "torch.nn.modules.activation.Tanh";
    if (!rc && parse_dense_act(as, &m->act))
        rc = cs_err_set(err, "%s: activation_function \"%s\" is not supported", p, as);
    if (!rc && m->in != in_dim) rc = cs_err_set(err, "%s: in_features %d, but the input has %d", p, m->in, in_dim);
    json_decref(o);
    st_set *st = NULL;
    if (!rc) rc = wt_open_dir(dir, &st, err);
    const char *names[2] = {"linear.weight", "linear.bias"};
    float **dst[2] = {&m->w, &m->b};
    int64_t want[2] = {(int64_t)m->out * m->in, m->out};
    for (int k = 0; k < 1 + bias && !rc; k++) {
        const st_tensor *t = st_find(st, names[k]);
        if (!t)
            rc = cs_err_set(err, "%s: tensor '%s' is missing", dir, names[k]);
        else if (t->numel != want[k] || (k == 0 && (t->ndim != 2 || t->shape[0] != m->out)) ||
                 (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16))
            rc = cs_err_set(err, "%s: tensor '%s' has the wrong shape or type for %d->%d", t->file, names[k], m->in,
                            m->out);
        else if (!(*dst[k] = malloc((size_t)t->numel * sizeof(float))))
            rc = cs_errc(err, CS_ENOMEM, "out of memory");
        else
            st_to_f32(t, *dst[k]);
    }
    st_close(st);
    free(p);
    return rc;
}

int stm_load(const char *dir, const bert_params *bp, stm_ctx **out, cs_err *err) {
    *out = NULL;
    stm_ctx *s = calloc(1, sizeof *s);
    if (!s) return cs_errc(err, CS_ENOMEM, "out of memory");
    char *mp = cs_path_join(dir, "modules.json"), *tdir = NULL, *txt = NULL, *sbc = NULL;
    json_t *mods = NULL;
    size_t len = 0;
    int rc = -1;
    if (!mp) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        goto done;
    }
    const char *tpath = "";
    if (cs_is_file(mp)) {
        if (cs_read_file(mp, 1u << 20, &txt, &len, err) || stm_parse_modules(txt, len, mp, err) < 0) goto done;
        mods = json_loadb(txt, len, 0, NULL);
        tpath = json_string_value(json_object_get(json_array_get(mods, 0), "path"));
    }
    tdir = *tpath ? cs_path_join(dir, tpath) : strdup(dir);
    if (!tdir) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        goto done;
    }
    if (bert_load(tdir, bp, &s->enc, err) || wp_load(tdir, &s->tok, err)) goto done;
    const bert_info *bi = bert_get_info(s->enc);
    if ((int)wp_vocab_size(s->tok) > bi->vocab_size) {
        cs_err_set(err, "%s: vocab.txt has %zu tokens, but the model's vocab_size is %d", tdir, wp_vocab_size(s->tok),
                   bi->vocab_size);
        goto done;
    }
    s->max_seq = bi->max_positions;
    sbc = cs_path_join(tdir, "sentence_bert_config.json");
    if (sbc && cs_is_file(sbc)) {
        json_t *o = load_json(sbc, 1u << 20, err);
        int ms = 0, r = o && json_is_object(o)
                            ? mc_get_int(o, "max_seq_length", bi->max_positions, 2, bi->max_positions, &ms, sbc, err)
                            : -1;
        if (o && !json_is_object(o)) cs_err_set(err, "%s: not a JSON object", sbc);
        json_decref(o);
        if (r) goto done;
        s->max_seq = ms;
    }
    int at = snprintf(s->desc, sizeof s->desc, "Transformer(%s, max_seq_length %d)", bi->family, s->max_seq);
    int dim = bi->hidden;
    size_t nm = mods ? json_array_size(mods) : 1;
    for (size_t i = 1; i <= nm - (mods ? 1 : 0) && i < 9; i++) {
        stm_mod *m = &s->mods[s->nmods];
        const char *t = mods ? mod_type(json_array_get(mods, i)) : "Pooling";
        const char *p = mods ? json_string_value(json_object_get(json_array_get(mods, i), "path")) : "";
        char *md = cs_path_join(dir, p);
        if (!md) {
            cs_errc(err, CS_ENOMEM, "out of memory");
            goto done;
        }
        int r = 0;
        if (!strcmp(t, "Pooling") && mods) {
            r = load_pooling(m, md, bi->hidden, err);
        } else if (!strcmp(t, "Pooling")) { /* a plain model folder: mean pooling */
            m->kind = MOD_POOL;
            m->modes = POOL_MEAN;
        } else if (!strcmp(t, "Dense")) {
            r = load_dense(m, md, dim, err);
        } else
            m->kind = MOD_NORM;
        free(md);
        if (r) goto done;
        s->nmods++;
        if (m->kind == MOD_POOL) {
            int k = __builtin_popcount((unsigned)m->modes);
            if (dim != bi->hidden) {
                cs_err_set(err, "%s: pooling must come right after the Transformer", mp);
                goto done;
            }
            dim = bi->hidden * k;
            static const char *mn[4] = {"cls", "max", "mean", "mean_sqrt_len"};
            at += snprintf(s->desc + at, sizeof s->desc - (size_t)at, " -> Pooling(");
            for (int q = 0, first = 1; q < 4 && at < (int)sizeof s->desc; q++)
                if (m->modes & (1 << q)) {
                    at += snprintf(s->desc + at, sizeof s->desc - (size_t)at, "%s%s", first ? "" : "+", mn[q]);
                    first = 0;
                }
            if (at < (int)sizeof s->desc) at += snprintf(s->desc + at, sizeof s->desc - (size_t)at, ")");
        } else if (m->kind == MOD_DENSE) {
            dim = m->out;
            at += snprintf(s->desc + at, sizeof s->desc - (size_t)at, " -> Dense(%d->%d%s)", m->in, m->out,
                           m->b ? ", bias" : "");
        } else
            at += snprintf(s->desc + at, sizeof s->desc - (size_t)at, " -> Normalize");
        if (at >= (int)sizeof s->desc) at = (int)sizeof s->desc - 1;
    }
    if (s->nmods == 0 || s->mods[0].kind != MOD_POOL) {
        cs_err_set(err, "%s: a Pooling module must follow the Transformer", mp);
        goto done;
    }
    s->dim = dim;
    rc = 0;
done:
    json_decref(mods);
    free(mp);
    free(tdir);
    free(txt);
    free(sbc);
    if (rc) {
        stm_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void stm_free(stm_ctx *s) {
    if (!s) return;
    for (int i = 0; i < s->nmods; i++) {
        free(s->mods[i].w);
        free(s->mods[i].b);
    }
    bert_free(s->enc);
    wp_free(s->tok);
    free(s);
}

const bert_info *stm_encoder_info(const stm_ctx *s) { return bert_get_info(s->enc); }
const wp_ctx *stm_tokenizer(const stm_ctx *s) { return s->tok; }
int stm_dim(const stm_ctx *s) { return s->dim; }
int stm_threads(const stm_ctx *s) { return bert_threads(s->enc); }
int stm_max_seq(const stm_ctx *s) { return s->max_seq; }
const char *stm_describe(const stm_ctx *s) { return s->desc; }
uint64_t stm_resident_bytes(const stm_ctx *s) { return bert_resident_bytes(s->enc); }

int stm_tokenize(const stm_ctx *s, const char *text, size_t len, int32_t **ids, size_t *n, cs_err *err) {
    return wp_encode(s->tok, text, len, s->max_seq, ids, n, err);
}

/* ---------------- forward ---------------- */

/* Pools one sequence's rows h[n, H] (mask may be NULL) into out (k x H, sentence-transformers' order). */
static void pool(const stm_mod *m, const float *h, const int32_t *mask, int n, int H, float *out) {
    int cnt = 0;
    for (int i = 0; i < n; i++) cnt += !mask || mask[i];
    float *o = out;
    if (m->modes & POOL_CLS) {
        memcpy(o, h, (size_t)H * sizeof *o);
        o += H;
    }
    if (m->modes & POOL_MAX) {
        /* masked rows are set to -1e9 before the max, as sentence-transformers does */
        for (int j = 0; j < H; j++) {
            float best = -INFINITY;
            for (int i = 0; i < n; i++) {
                float v = !mask || mask[i] ? h[(size_t)i * H + j] : -1e9f;
                if (v > best) best = v;
            }
            o[j] = best;
        }
        o += H;
    }
    if (m->modes & (POOL_MEAN | POOL_MEAN_SQRT)) {
        float *sum = calloc((size_t)H, sizeof *sum);
        if (!sum) return;
        for (int i = 0; i < n; i++)
            if (!mask || mask[i])
                for (int j = 0; j < H; j++) sum[j] += h[(size_t)i * H + j];
        float c = cnt > 0 ? (float)cnt : 1e-9f;
        if (m->modes & POOL_MEAN) {
            for (int j = 0; j < H; j++) o[j] = sum[j] / c;
            o += H;
        }
        if (m->modes & POOL_MEAN_SQRT)
            for (int j = 0; j < H; j++) o[j] = sum[j] / sqrtf(c);
        free(sum);
    }
}

static float dense_act(int act, float x) {
    switch (act) {
    case DACT_TANH: return tanhf(x);
    case DACT_RELU: return x > 0 ? x : 0;
    case DACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case DACT_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    default: return x;
    }
}

int stm_forward(stm_ctx *s, const int32_t *const *ids, const size_t *lens, int batch, const int32_t *mask,
                int normalize, float *last_hidden, float *pooled, float *embeds, cs_err *err) {
    const bert_info *bi = bert_get_info(s->enc);
    int H = bi->hidden;
    size_t T = 0;
    for (int b = 0; b < batch; b++) T += lens[b];
    float *h = last_hidden ? last_hidden : malloc((T ? T : 1) * (size_t)H * sizeof *h);
    int maxd = s->dim;
    for (int i = 0; i < s->nmods; i++) {
        int d = s->mods[i].kind == MOD_POOL ? H * __builtin_popcount((unsigned)s->mods[i].modes) : s->mods[i].out;
        if (d > maxd) maxd = d;
    }
    float *va = malloc((size_t)maxd * 2 * sizeof *va);
    if (!h || !va) {
        if (h != last_hidden) free(h);
        free(va);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    int rc = bert_forward(s->enc, ids, lens, batch, mask, h, err);
    size_t o = 0;
    for (int b = 0; b < batch && !rc; b++) {
        float *cur = va, *nxt = va + maxd;
        int d = H;
        for (int i = 0; i < s->nmods; i++) {
            const stm_mod *m = &s->mods[i];
            if (m->kind == MOD_POOL) {
                pool(m, h + o * H, mask ? mask + o : NULL, (int)lens[b], H, cur);
                d = H * __builtin_popcount((unsigned)m->modes);
                if (pooled && i == 0) memcpy(pooled + (size_t)b * d, cur, (size_t)d * sizeof *cur);
            } else if (m->kind == MOD_DENSE) {
                for (int r = 0; r < m->out; r++) {
                    const float *w = m->w + (size_t)r * m->in;
                    float acc = 0;
                    for (int k = 0; k < m->in; k++) acc += w[k] * cur[k];
                    nxt[r] = dense_act(m->act, acc + (m->b ? m->b[r] : 0.0f));
                }
                d = m->out;
                float *t = cur;
                cur = nxt;
                nxt = t;
            } else {
                /* sentence-transformers' Normalize: F.normalize, eps 1e-12 */
                double ss = 0;
                for (int k = 0; k < d; k++) ss += (double)cur[k] * cur[k];
                float nrm = (float)sqrt(ss);
                if (nrm < 1e-12f) nrm = 1e-12f;
                for (int k = 0; k < d; k++) cur[k] /= nrm;
            }
        }
        if (embeds) memcpy(embeds + (size_t)b * s->dim, cur, (size_t)s->dim * sizeof *cur);
        o += lens[b];
    }
    if (!rc && embeds && normalize) ops_l2_normalize(embeds, batch, s->dim);
    if (h != last_hidden) free(h);
    free(va);
    return rc;
}

int stm_embed_texts(stm_ctx *s, const char *const *texts, int n, int normalize, float *embeds, cs_err *err) {
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    int rc = !ids || !lens ? cs_errc(err, CS_ENOMEM, "out of memory") : 0;
    for (int i = 0; i < n && !rc; i++) rc = stm_tokenize(s, texts[i], strlen(texts[i]), &ids[i], &lens[i], err);
    if (!rc) rc = stm_forward(s, (const int32_t *const *)ids, lens, n, NULL, normalize, NULL, NULL, embeds, err);
    for (int i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(lens);
    return rc;
}
