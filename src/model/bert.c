/* bert: BERT / DistilBERT encoders over a memory-mapped checkpoint. See bert.h.
 *
 * A thin family layer over the shared parts: mconf reads config.json, wset names, checks and
 * widens the weights, the backend (backend.h) runs the operations. What is BERT-specific is the
 * tensor naming of the two families and the post-LN layer (CLIP's encoder is pre-LN).
 *
 * Terms: T = tokens of the pass (every sequence stacked: each linear layer is one GEMM over the
 * batch, and no padding is ever computed); H = width; I = FFN width. */
#include "bert.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/cs_file.h"
#include "backend.h"
#include "encoder.h"
#include "mconf.h"
#include "ops.h"
#include "weights.h"
#include "wset.h"

typedef enc_layer blayer; /* encoder.h */

struct bert_ctx {
    bert_params params;
    bert_info info;
    int act;
    char *dir;
    st_set *st;
    wset ws;
    blayer *L;
    const float *pos, *tt, *emb_ln_w, *emb_ln_b;
    const st_tensor *tok_emb; /* the word table, as stored */
    /* On a host backend the table is handed over as a lazily filled private copy: a row is copied
     * from the mapping when its token is first seen, and the mapping's pages under it are given
     * back at once. Reading the mapping in place would do the same in theory, but the kernel maps
     * file pages in large pieces around each random row (measured: 2.8 MB resident per query of
     * 8 new rows, docs/performance.md); anonymous pages come 4 KB at a time. */
    unsigned char *lazy;
    size_t lazy_len, row_bytes;
    uint8_t *seen; /* one bit per row */
    uint64_t rows_copied;
    be_w *tokw, *posw, *embg, *embb;
    be *be;
    int ready, dev_failed;
    char note[320];
    int note_loud;
    pthread_mutex_t lock;
};

bert_params bert_default_params(void) {
    bert_params p = {0, 0, NULL, 0, 0};
    return p;
}

/* ---------------- config ---------------- */

int bert_config_check(const char *txt, size_t len, const char *path, bert_info *in, cs_err *err) {
    memset(in, 0, sizeof *in);
    json_error_t je;
    json_t *o = json_loadb(txt, len, 0, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return cs_err_set(err, "%s: not a JSON object (line %d: %s)", path, je.line, je.text);
    }
    json_t *mt = json_object_get(o, "model_type");
    const char *t = json_is_string(mt) ? json_string_value(mt) : "";
    int rc = 0, distil = !strcmp(t, "distilbert");
    double eps = 1e-12;
    if (!distil && strcmp(t, "bert") != 0) {
        rc = cs_err_set(err, "%s: model_type is \"%s\", not \"bert\" or \"distilbert\"", path, t);
    } else if (distil) {
        int sinus = 0;
        in->family = "distilbert";
        rc = mc_get_int(o, "dim", 768, 1, 1 << 16, &in->hidden, path, err);
        if (!rc) rc = mc_get_int(o, "hidden_dim", 3072, 1, 1 << 20, &in->intermediate, path, err);
        if (!rc) rc = mc_get_int(o, "n_layers", 6, 1, 1024, &in->layers, path, err);
        if (!rc) rc = mc_get_int(o, "n_heads", 12, 1, 1024, &in->heads, path, err);
        if (!rc) rc = mc_get_bool(o, "sinusoidal_pos_embds", 0, &sinus, path, err);
        /* sinusoidal tables are saved into the checkpoint like learned ones, so both load alike */
        json_t *a = json_object_get(o, "activation");
        snprintf(in->act, sizeof in->act, "%s", json_is_string(a) ? json_string_value(a) : "gelu");
        if (!rc && a && !json_is_string(a)) rc = cs_err_set(err, "%s: \"activation\" must be a string", path);
    } else {
        in->family = "bert";
        rc = mc_get_int(o, "hidden_size", 768, 1, 1 << 16, &in->hidden, path, err);
        if (!rc) rc = mc_get_int(o, "intermediate_size", 3072, 1, 1 << 20, &in->intermediate, path, err);
        if (!rc) rc = mc_get_int(o, "num_hidden_layers", 12, 1, 1024, &in->layers, path, err);
        if (!rc) rc = mc_get_int(o, "num_attention_heads", 12, 1, 1024, &in->heads, path, err);
        if (!rc) rc = mc_get_int(o, "type_vocab_size", 2, 1, 1 << 16, &in->type_vocab_size, path, err);
        if (!rc) rc = mc_get_num(o, "layer_norm_eps", 1e-12, 0.0, 1.0, &eps, path, err);
        json_t *a = json_object_get(o, "hidden_act"), *pe = json_object_get(o, "position_embedding_type");
        snprintf(in->act, sizeof in->act, "%s", json_is_string(a) ? json_string_value(a) : "gelu");
        if (!rc && a && !json_is_string(a)) rc = cs_err_set(err, "%s: \"hidden_act\" must be a string", path);
        if (!rc && pe && !json_is_null(pe) && (!json_is_string(pe) || strcmp(json_string_value(pe), "absolute") != 0))
            rc = cs_err_set(err, "%s: only position_embedding_type \"absolute\" is supported", path);
    }
    if (!rc) rc = mc_get_int(o, "vocab_size", 30522, 1, 1 << 24, &in->vocab_size, path, err);
    if (!rc) rc = mc_get_int(o, "max_position_embeddings", 512, 2, 1 << 16, &in->max_positions, path, err);
    json_decref(o);
    if (rc) return -1;
    in->eps = (float)eps;
    int act;
    if (mc_parse_act(in->act, &act)) return cs_err_set(err, "%s: activation \"%s\" is not supported", path, in->act);
    if (in->hidden % in->heads)
        return cs_err_set(err, "%s: the width %d is not divisible by the %d heads", path, in->hidden, in->heads);
    return 0;
}

/* ---------------- weights ---------------- */

static int add_slots(bert_ctx *c, const char *pre) {
    const bert_info *in = &c->info;
    int64_t H = in->hidden, I = in->intermediate;
    int distil = !strcmp(in->family, "distilbert"), rc = 0;
    char n[128];
#define SLOT(field, nd, a, b) (rc |= ws_add(&c->ws, 0, &(field), n, nd, a, b, 0, 0))
#define NAME(...)             snprintf(n, sizeof n, __VA_ARGS__)
    NAME("%sembeddings.word_embeddings.weight", pre); /* checked, used as stored (bert_load) */
    NAME("%sembeddings.position_embeddings.weight", pre);
    SLOT(c->pos, 2, in->max_positions, H);
    NAME("%sembeddings.LayerNorm.weight", pre);
    SLOT(c->emb_ln_w, 1, H, 0);
    NAME("%sembeddings.LayerNorm.bias", pre);
    SLOT(c->emb_ln_b, 1, H, 0);
    if (!distil) {
        NAME("%sembeddings.token_type_embeddings.weight", pre);
        SLOT(c->tt, 2, in->type_vocab_size, H);
    }
    for (int i = 0; i < in->layers; i++) {
        blayer *L = &c->L[i];
        /* the same tensors under each family's names, in the order q k v o ln1 fc1 fc2 ln2 */
        static const char *dn[8] = {"attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                                    "sa_layer_norm",   "ffn.lin1",        "ffn.lin2",        "output_layer_norm"};
        static const char *bn[8] = {
            "attention.self.query",       "attention.self.key", "attention.self.value", "attention.output.dense",
            "attention.output.LayerNorm", "intermediate.dense", "output.dense",         "output.LayerNorm"};
        const float **w[8] = {&L->q_w, &L->k_w, &L->v_w, &L->o_w, &L->ln1_w, &L->fc1_w, &L->fc2_w, &L->ln2_w};
        const float **b[8] = {&L->q_b, &L->k_b, &L->v_b, &L->o_b, &L->ln1_b, &L->fc1_b, &L->fc2_b, &L->ln2_b};
        int64_t rows[8] = {H, H, H, H, H, I, H, H}, cols[8] = {H, H, H, H, 0, H, I, 0};
        for (int k = 0; k < 8; k++) {
            const char *base = distil ? dn[k] : bn[k];
            const char *lay = distil ? "transformer.layer" : "encoder.layer";
            NAME("%s%s.%d.%s.weight", pre, lay, i, base);
            rc |= ws_add(&c->ws, 0, w[k], n, cols[k] ? 2 : 1, rows[k], cols[k], 0, 0);
            NAME("%s%s.%d.%s.bias", pre, lay, i, base);
            rc |= ws_add(&c->ws, 0, b[k], n, 1, rows[k], 0, 0, 0);
        }
    }
#undef SLOT
#undef NAME
    return rc;
}

static int open_backend(bert_ctx *c, cs_err *err) {
    if (c->be) return 0;
    c->be = be_open(c->params.reference ? "reference" : c->params.device, c->params.f32, c->params.threads, c->note,
                    sizeof c->note, &c->note_loud, err);
    return c->be ? 0 : -1;
}

static int prep(bert_ctx *c, const float **src, int n, int k, int kind, be_w **out, cs_err *err) {
    if (!ws_prep(&c->ws, c->be, src, n, k, kind, out, err)) return 0;
    c->dev_failed = !(c->be->caps & BE_CAP_HOST);
    return -1;
}

static void unprepare(bert_ctx *c) {
    be_w **all[] = {&c->tokw, &c->posw, &c->embg, &c->embb};
    enc_unprepare(c->be, all, sizeof all / sizeof *all, c->L, c->info.layers);
}

/* Fills the float views and hands every weight to the backend (under the lock). */
static int materialise(bert_ctx *c, cs_err *err) {
    if (c->ready) return 0;
    if (open_backend(c, err) || ws_views(&c->ws, 0, err)) return -1;
    int H = c->info.hidden, I = c->info.intermediate, P = c->info.max_positions;
    for (int l = 0; l < c->info.layers; l++)
        if (enc_layer_prepare(&c->ws, c->be, &c->L[l], H, I, BE_W_LINEAR_FEW, err)) {
            c->dev_failed = !(c->be->caps & BE_CAP_HOST);
            return -1;
        }
    const float *pos = c->pos;
    if (c->tt) { /* HF adds the token type row, then the position: (w + t) + p; here w + (p + t), the
                  * same to float rounding (well inside the 1e-4 the references allow) */
        float *pt = malloc((size_t)P * H * sizeof *pt);
        if (!pt || ws_own(&c->ws, pt, (size_t)P * H * sizeof *pt)) return cs_errc(err, CS_ENOMEM, "out of memory");
        for (size_t i = 0; i < (size_t)P; i++)
            for (size_t j = 0; j < (size_t)H; j++) pt[i * H + j] = c->pos[i * H + j] + c->tt[j];
        pos = pt;
    }
    if (prep(c, &pos, P, H, BE_W_VEC, &c->posw, err) || prep(c, &c->emb_ln_w, H, 1, BE_W_VEC, &c->embg, err) ||
        prep(c, &c->emb_ln_b, H, 1, BE_W_VEC, &c->embb, err))
        return -1;
    const st_tensor *te = c->tok_emb;
    int dt = te->dtype == ST_F32 ? BE_F32 : te->dtype == ST_F16 ? BE_F16 : BE_BF16;
    const void *table = te->data;
    if ((c->be->caps & BE_CAP_HOST) && !c->lazy) {
        c->row_bytes = te->nbytes / (size_t)te->shape[0];
        c->lazy_len = te->nbytes;
        void *m = mmap(NULL, c->lazy_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        c->seen = calloc((size_t)te->shape[0] / 8 + 1, 1);
        if (m == MAP_FAILED || !c->seen) {
            if (m != MAP_FAILED) munmap(m, c->lazy_len);
            free(c->seen);
            c->seen = NULL;
            return cs_err_set(err, "out of memory for the word table (%zu bytes of address space)", c->lazy_len);
        }
        c->lazy = m;
    }
    if (c->be->caps & BE_CAP_HOST) table = c->lazy;
    if (!(c->tokw = be_prepare(c->be, table, dt, (int)te->shape[0], H, BE_W_TABLE, err))) {
        c->dev_failed = !(c->be->caps & BE_CAP_HOST);
        return cs_err_prefix(err, "%s", c->be->info.name);
    }
    if (c->tokw->copied && table == te->data) st_release(c->st, te);
    c->ready = 1;
    return 0;
}

int bert_load(const char *dir, const bert_params *p, bert_ctx **out, cs_err *err) {
    *out = NULL;
    bert_ctx *c = calloc(1, sizeof *c);
    if (!c) return cs_errc(err, CS_ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    c->params = p ? *p : bert_default_params();
    c->params.threads = mc_threads(c->params.threads);
    int rc = -1, kind, idx;
    const char *env = getenv("CLIPSEEK_DEVICE"), *d = c->params.device && *c->params.device ? c->params.device
                                                      : env && *env                         ? env
                                                                                            : "auto";
    char *cfg = cs_path_join(dir, "config.json"), *txt = NULL;
    size_t len = 0;
    c->dir = strdup(dir);
    if (!cfg || !c->dir) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        goto done;
    }
    if (!c->params.reference && be_parse_device(d, &kind, &idx, err)) goto done;
    if (cs_read_file(cfg, 16u << 20, &txt, &len, err) || bert_config_check(txt, len, cfg, &c->info, err)) goto done;
    mc_parse_act(c->info.act, &c->act);
    if (wt_open_dir(dir, &c->st, err)) goto done;
    c->ws.dir = c->dir;
    c->ws.st = c->st;
    const char *pre = "";
    char probe[160];
    static const char *pres[2] = {"bert.", "distilbert."};
    for (int i = 0; i < 2; i++) {
        snprintf(probe, sizeof probe, "%sembeddings.word_embeddings.weight", pres[i]);
        if (st_find(c->st, probe)) pre = pres[i];
    }
    c->L = calloc((size_t)c->info.layers, sizeof *c->L);
    if (!c->L || add_slots(c, pre)) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        goto done;
    }
    if (ws_check_all(&c->ws, err)) goto done;
    snprintf(probe, sizeof probe, "%sembeddings.word_embeddings.weight", pre);
    int64_t te[2] = {c->info.vocab_size, c->info.hidden};
    if (ws_check(&c->ws, probe, 2, te, &c->tok_emb, err)) goto done;
    c->info.dtype = ws_dtype_summary(c->st, &c->info.params);
    c->info.file_bytes = st_file_bytes(c->st);
    c->info.format = st_format(c->st);
    rc = 0;
done:
    free(cfg);
    free(txt);
    if (rc) {
        bert_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void bert_free(bert_ctx *c) {
    if (!c) return;
    unprepare(c);
    ws_free_model(&c->ws, c->be, c->st, c->dir);
    if (c->lazy) munmap(c->lazy, c->lazy_len);
    free(c->seen);
    free(c->L);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const bert_info *bert_get_info(const bert_ctx *c) { return &c->info; }

uint64_t bert_resident_bytes(const bert_ctx *c) {
    return st_resident_bytes(c->st) + c->ws.owned_bytes + c->rows_copied * c->row_bytes +
           (c->be && (c->be->caps & BE_CAP_HOST) ? c->be->info.weight_bytes : 0);
}

const char *bert_device_note(const bert_ctx *c) { return c->note[0] ? c->note : NULL; }
int bert_threads(const bert_ctx *c) { return c->params.threads; }

/* ---------------- forward ---------------- */

/* Copies the rows of tokens not seen before into the private table, then unmaps the mapping
 * around them (pages wholly inside the table only; rows seen later are read again from the page
 * cache when their turn comes). */
static void fill_rows(bert_ctx *c, const int32_t *const *ids, const int *len, int batch) {
    const unsigned char *src = c->tok_emb->data;
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), lo = ((uintptr_t)src + pg - 1) & ~(pg - 1),
              hi = ((uintptr_t)src + c->tok_emb->nbytes) & ~(pg - 1);
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < len[b]; i++) {
            size_t id = (size_t)ids[b][i];
            if (c->seen[id / 8] & (1u << (id % 8))) continue;
            memcpy(c->lazy + id * c->row_bytes, src + id * c->row_bytes, c->row_bytes);
            c->seen[id / 8] |= (uint8_t)(1u << (id % 8));
            c->rows_copied++;
            /* the whole 2 MB window around the row: the kernel may have mapped a large folio
             * there, and unmapping only the row's own pages would leave the rest resident */
            uintptr_t win = (uintptr_t)2 << 20, a = ((uintptr_t)src + id * c->row_bytes) & ~(win - 1),
                      e = ((uintptr_t)src + (id + 1) * c->row_bytes + win - 1) & ~(win - 1);
            if (a < lo) a = lo;
            if (e > hi) e = hi;
            if (e > a) madvise((void *)a, e - a, MADV_DONTNEED); /* advice: a failure costs only memory */
        }
}

static int run(bert_ctx *c, const int32_t *const *ids, const size_t *lens, int batch, const int32_t *mask,
               float *last_hidden, cs_err *err) {
    const bert_info *in = &c->info;
    if (batch <= 0) return cs_err_set(err, "no texts to embed");
    int H = in->hidden, I = in->intermediate, T = 0, maxn = 0;
    for (int b = 0; b < batch; b++) {
        if (lens[b] < 1 || lens[b] > (size_t)in->max_positions)
            return cs_err_set(err, "text %d has %zu tokens; the model takes 1 to %d", b, lens[b], in->max_positions);
        for (size_t i = 0; i < lens[b]; i++)
            if (ids[b][i] < 0 || ids[b][i] >= in->vocab_size)
                return cs_err_set(err, "token id %d is outside the vocabulary (0..%d)", ids[b][i], in->vocab_size - 1);
        T += (int)lens[b];
        if ((int)lens[b] > maxn) maxn = (int)lens[b];
    }
    if (materialise(c, err)) return -1;
    if (c->params.fit_threads) be_fit_threads(c->be); /* the backend exists once materialised */
    size_t need = (size_t)T * H * 5 + (size_t)T * I;
    int maxk = I > 3 * H ? I : 3 * H;
    if (be_reserve(c->be, need, maxn, H / in->heads, T, maxk, err)) {
        c->dev_failed = !(c->be->caps & BE_CAP_HOST);
        return -1;
    }
    be_off x = 0, qkv = x + (size_t)T * H, att = qkv + (size_t)T * 3 * H, m = att + (size_t)T * H;
    int *iw = malloc(((size_t)batch * 2 + (mask ? (size_t)T : 0)) * sizeof *iw);
    if (!iw) return cs_errc(err, CS_ENOMEM, "out of memory");
    int *off = iw, *len = off + batch, *km = mask ? len + batch : NULL;
    for (int b = 0, o = 0; b < batch; b++) {
        off[b] = o;
        len[b] = (int)lens[b];
        o += len[b];
    }
    for (int i = 0; km && i < T; i++) km[i] = mask[i] != 0;
    if (c->lazy) fill_rows(c, ids, len, batch);
    const be_vtbl *v = c->be->v;
    v->embed_tokens(c->be, x, c->tokw, c->posw, ids, len, batch, H);
    v->layernorm(c->be, x, c->embg, c->embb, x, T, H, in->eps);
    for (int l = 0; l < in->layers; l++)
        enc_layer_post_ln(c->be, &c->L[l], x, T, H, in->heads, c->act, in->eps, off, len, batch, km, qkv, att, m);
    be_read(c->be, x, last_hidden, (size_t)T * H);
    free(iw);
    int rc = be_sync(c->be, err);
    if (rc) c->dev_failed = !(c->be->caps & BE_CAP_HOST);
    return rc;
}

/* After a GPU failure the weights are prepared again for the CPU. */
static int fall_back(bert_ctx *c, const cs_err *why, cs_err *err) {
    if (!c->be) return cs_err_set(err, "%s", why->msg);
    be *cpu = be_cpu_new(c->params.threads);
    if (!cpu) return cs_errc(err, CS_ENOMEM, "out of memory");
    snprintf(c->note, sizeof c->note, "%.100s: %.180s; running on the CPU", c->be->info.device, why->msg);
    c->note_loud = 1;
    unprepare(c);
    be_free(c->be);
    c->be = cpu;
    c->ready = 0;
    c->dev_failed = 0;
    return 0;
}

int bert_forward(bert_ctx *c, const int32_t *const *ids, const size_t *lens, int batch, const int32_t *mask,
                 float *last_hidden, cs_err *err) {
    pthread_mutex_lock(&c->lock);
    cs_err e = {0};
    int rc = run(c, ids, lens, batch, mask, last_hidden, &e);
    if (rc && c->dev_failed && !fall_back(c, &e, &e)) rc = run(c, ids, lens, batch, mask, last_hidden, &e);
    if (rc && err) *err = e;
    pthread_mutex_unlock(&c->lock);
    return rc;
}
