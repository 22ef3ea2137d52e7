/* clip: CLIP towers over a memory-mapped Hugging Face checkpoint. See clip.h.
 *
 * Terms: T = tokens in a batch (all sequences' tokens stacked, so every linear layer is one GEMM
 * over the whole batch); H = tower width; I = MLP width; P = projection size.
 *
 * Each tower is transformers' CLIPEncoder: x += attn(ln1(x)); x += fc2(act(fc1(ln2(x)))).
 * Text: token + position embeddings, causal attention, final layer norm, pooled at the EOS
 * position. Vision: patch conv (as im2col + GEMM), class token, position embeddings, pre-LN
 * ("pre_layrnorm", HF's spelling), encoder, post-LN of the class token. Both project without bias.
 *
 * Invariants: every expected tensor was found with its exact shape at load; towers are
 * "materialised" (weight pointers filled) lazily under the context lock; workspace grows only at
 * the start of a call, never inside the layer loop. */
#include "../common/cs_json.h"
#include "clip.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../common/cs_file.h"
#include "backend.h"
#include "encoder.h"
#include "lpcache.h"
#include "mconf.h"
#include "ops.h"
#include "ops_lp.h"
#include "safetensors.h"
#include "weights.h"
#include "wset.h"
#include "tokenizer.h"

typedef enc_layer layer_w; /* encoder.h */

typedef struct tower {
    int hidden, inter, layers, heads, act;
    float eps;
    char act_name[32];
    layer_w *L;
    const float *pre_ln_w, *pre_ln_b;   /* vision only */
    const float *post_ln_w, *post_ln_b; /* text: final_layer_norm; vision: post_layernorm */
    const float *pos;                   /* position embeddings */
    const float *proj;                  /* [P, H] */
    const float *class_emb, *patch_w;   /* vision only */
    be_w *pre_g, *pre_b, *post_g, *post_b, *posw, *projw, *clsw, *patchw, *tokw; /* prepared by the backend */
    int ready;                                                                   /* weights materialised */
} tower;

struct clip_ctx {
    clip_params params;
    clip_info info;
    char *dir;
    st_set *st;
    tok_ctx *tok;
    tower text, vision;
    const st_tensor *tok_emb;
    int legacy_eos; /* config eos_token_id == 2: pool at argmax(ids) */
    wset ws;        /* weight slots, widened copies and stacked q, k, v */
    be *be;         /* the backend the towers run on */
    char note[320]; /* why the requested device is not the one in use, or "" */
    int note_loud;  /* the device was asked for by name (or failed after starting): say so */
    int dev_failed; /* the GPU backend failed in this pass: fall back to the CPU */
    /* the weights cache (lpcache.h) while a tower is prepared: weights read back (taken in prepare
     * order), or the prepared linear weights to save */
    ops_lpw **lpc_in;
    size_t lpc_n, lpc_used;
    be_w **lpc_out;
    size_t lpc_outn;
    int cached; /* clip_device.cached */
    pthread_mutex_t lock;
};

clip_params clip_default_params(void) {
    clip_params p = {0, 0, 0, 0, NULL, 0, CLIP_DTYPE_DEFAULT, NULL, 0};
    return p;
}

int clip_dtype_parse(const char *s, int *out, cs_err *err) {
    static const char *names[] = {"default", "f32", "f16", "q8"};
    for (int i = 0; i < 4; i++)
        if (s && !strcmp(s, names[i])) {
            *out = i;
            return 0;
        }
    return cs_err_set(err, "dtype \"%s\" is not one of f32, f16, q8", s ? s : "");
}

const char *clip_dtype_name(int dtype) {
    return dtype == CLIP_DTYPE_F32   ? "f32"
           : dtype == CLIP_DTYPE_F16 ? "f16"
           : dtype == CLIP_DTYPE_Q8  ? "q8"
                                     : "default";
}

/* Measured in docs/performance.md ("Lower-precision weights"): a dtype may be a tower's default
 * only if every embedding of the three test models kept cosine >= 0.999 against F32. f16 and q8
 * both did; q8 for both towers keeps toy-world top-1 48/48 (q8 text against F32 images alone lost
 * one query, so the towers change together) and holds a quarter of F32's bytes: an idle daemon
 * with ViT-B/32 needs about 200 MB instead of 570. On a GPU the dtype does not apply (its own F16
 * weights, docs/gpu.md). --dtype f32 keeps F32. */
int clip_dtype_default(int vision) {
    (void)vision;
    return CLIP_DTYPE_Q8;
}

/* ---------------- config ---------------- */

static int parse_tower(json_t *o, tower *t, int dh, int di, int dl, int dheads, const char *file, const char *which,
                       cs_err *err) {
    double eps = 0;
    if (mc_get_int(o, "hidden_size", dh, 1, 1 << 16, &t->hidden, file, err) ||
        mc_get_int(o, "intermediate_size", di, 1, 1 << 20, &t->inter, file, err) ||
        mc_get_int(o, "num_hidden_layers", dl, 1, 1024, &t->layers, file, err) ||
        mc_get_int(o, "num_attention_heads", dheads, 1, 1024, &t->heads, file, err) ||
        mc_get_num(o, "layer_norm_eps", 1e-5, 0.0, 1.0, &eps, file, err))
        return cs_err_prefix(err, "%s", which);
    t->eps = (float)eps;
    if (t->hidden % t->heads)
        return cs_err_set(err, "%s: %s: hidden_size %d is not divisible by num_attention_heads %d", file, which,
                          t->hidden, t->heads);
    json_t *a = o ? json_object_get(o, "hidden_act") : NULL;
    const char *as = json_is_string(a) ? json_string_value(a) : "quick_gelu";
    if (a && !json_is_string(a)) return cs_err_set(err, "%s: %s: hidden_act must be a string", file, which);
    if (mc_parse_act(as, &t->act))
        return cs_err_set(err, "%s: %s: hidden_act \"%s\" is not supported", file, which, as);
    snprintf(t->act_name, sizeof t->act_name, "%s", as);
    return 0;
}

/* Parses config.json text (`path` names it in messages). */
static int parse_config(clip_ctx *c, const char *txt, size_t len, const char *path, cs_err *err) {
    json_t *root = cs_json_object(txt, len, path, err);
    if (!root) return -1;
    json_t *mt = json_object_get(root, "model_type");
    if (json_is_string(mt) && strcmp(json_string_value(mt), "clip") != 0) {
        cs_err_set(err, "%s: model_type is \"%s\", not \"clip\"", path, json_string_value(mt));
        json_decref(root);
        return -1;
    }
    json_t *tc = json_object_get(root, "text_config"), *vc = json_object_get(root, "vision_config");
    if (!tc) tc = json_object_get(root, "text_config_dict");
    if (!vc) vc = json_object_get(root, "vision_config_dict");
    if ((tc && !json_is_object(tc)) || (vc && !json_is_object(vc))) {
        json_decref(root);
        return cs_err_set(err, "%s: text_config and vision_config must be objects", path);
    }
    clip_info *in = &c->info;
    int rc = 0, eos = 0;
    double ls = 0;
    rc = parse_tower(tc, &c->text, 512, 2048, 12, 8, path, "text_config", err);
    if (!rc) rc = parse_tower(vc, &c->vision, 768, 3072, 12, 12, path, "vision_config", err);
    if (!rc) rc = mc_get_int(tc, "vocab_size", 49408, 1, 1 << 22, &in->vocab_size, path, err);
    if (!rc) rc = mc_get_int(tc, "max_position_embeddings", 77, 2, 1 << 16, &in->max_positions, path, err);
    if (!rc) rc = mc_get_int(tc, "eos_token_id", 49407, 0, 1 << 22, &eos, path, err);
    if (!rc) rc = mc_get_int(tc, "bos_token_id", 49406, 0, 1 << 22, &in->bos_id, path, err);
    if (!rc) rc = mc_get_int(tc, "pad_token_id", 1, 0, 1 << 22, &in->pad_id, path, err);
    if (!rc) rc = mc_get_int(vc, "image_size", 224, 1, 8192, &in->image_size, path, err);
    if (!rc) rc = mc_get_int(vc, "patch_size", 32, 1, 8192, &in->patch_size, path, err);
    if (!rc) rc = mc_get_int(vc, "num_channels", 3, 3, 3, &in->channels, path, err);
    if (!rc) rc = mc_get_int(root, "projection_dim", 512, 1, 1 << 16, &in->projection_dim, path, err);
    if (!rc) rc = mc_get_num(root, "logit_scale_init_value", 2.6592, -100, 100, &ls, path, err);
    json_decref(root);
    if (rc) return -1;
    if (in->patch_size > in->image_size)
        return cs_err_set(err, "%s: patch_size %d is larger than image_size %d", path, in->patch_size, in->image_size);
    c->legacy_eos = eos == 2;
    in->eos_id = eos;
    in->logit_scale = (float)exp(ls);
    return 0;
}

static int parse_size(json_t *v, int *w, int *h, int *shortest) {
    if (json_is_integer(v)) {
        *w = *h = (int)json_integer_value(v);
        if (shortest) *shortest = *w;
        return *w > 0 && *w <= 16384 ? 0 : -1;
    }
    if (!json_is_object(v)) return -1;
    json_t *se = json_object_get(v, "shortest_edge"), *hh = json_object_get(v, "height"),
           *ww = json_object_get(v, "width");
    if (se && shortest) {
        if (!json_is_integer(se) || json_integer_value(se) <= 0 || json_integer_value(se) > 16384) return -1;
        *shortest = (int)json_integer_value(se);
        *w = *h = *shortest;
        return 0;
    }
    if (!json_is_integer(hh) || !json_is_integer(ww)) return -1;
    *h = (int)json_integer_value(hh);
    *w = (int)json_integer_value(ww);
    if (shortest) *shortest = *w < *h ? *w : *h;
    return *w > 0 && *h > 0 && *w <= 16384 && *h <= 16384 ? 0 : -1;
}

/* Parses preprocessor_config.json text; txt NULL means absent: CLIP defaults at the model's size. */
static int parse_preproc(clip_ctx *c, const char *txt, size_t len, const char *path, cs_err *err) {
    img_preproc *p = &c->info.preproc;
    *p = img_default_preproc();
    p->shortest_edge = p->crop_w = p->crop_h = c->info.image_size;
    if (!txt) return 0;
    json_t *o = cs_json_object(txt, len, path, err);
    if (!o) return -1;
    int rc = mc_get_bool(o, "do_resize", 1, &p->do_resize, path, err);
    if (!rc) rc = mc_get_bool(o, "do_center_crop", 1, &p->do_center_crop, path, err);
    if (!rc) rc = mc_get_bool(o, "do_rescale", 1, &p->do_rescale, path, err);
    if (!rc) rc = mc_get_bool(o, "do_normalize", 1, &p->do_normalize, path, err);
    if (!rc) rc = mc_get_int(o, "resample", IMG_BICUBIC, 1, 5, &p->resample, path, err);
    double rf = 0;
    if (!rc) rc = mc_get_num(o, "rescale_factor", 1.0 / 255.0, 0.0, 1e6, &rf, path, err);
    if (!rc) p->rescale = (float)rf;
    json_t *sz = json_object_get(o, "size"), *cs = json_object_get(o, "crop_size");
    int w, h;
    if (!rc && sz && parse_size(sz, &w, &h, &p->shortest_edge)) rc = cs_err_set(err, "%s: bad \"size\"", path);
    if (!rc && cs && parse_size(cs, &p->crop_w, &p->crop_h, NULL)) rc = cs_err_set(err, "%s: bad \"crop_size\"", path);
    const char *keys[2] = {"image_mean", "image_std"};
    float *dst[2] = {p->mean, p->std};
    for (int k = 0; k < 2 && !rc; k++) {
        json_t *a = json_object_get(o, keys[k]);
        if (!a) continue;
        if (!json_is_array(a) || json_array_size(a) != 3) {
            rc = cs_err_set(err, "%s: \"%s\" must be 3 numbers", path, keys[k]);
            break;
        }
        for (int i = 0; i < 3; i++) {
            json_t *x = json_array_get(a, (size_t)i);
            if (!json_is_number(x) || (k == 1 && json_number_value(x) <= 0)) {
                rc = cs_err_set(err, "%s: bad \"%s\"", path, keys[k]);
                break;
            }
            dst[k][i] = (float)json_number_value(x);
        }
    }
    json_decref(o);
    if (rc) return -1;
    if (p->crop_w != c->info.image_size || p->crop_h != c->info.image_size)
        return cs_err_set(err, "%s: crop_size %dx%d does not match the model's image_size %d", path, p->crop_w,
                          p->crop_h, c->info.image_size);
    return 0;
}

/* ---------------- weights ---------------- */

static int add_tower_slots(clip_ctx *c, tower *t, int vision) {
    const char *pre = vision ? "vision_model" : "text_model";
    int64_t H = t->hidden, I = t->inter;
    char n[128];
    int rc = 0;
#define SLOT(field, nd, a, b, cc, d) (rc |= ws_add(&c->ws, vision, &(field), n, nd, a, b, cc, d))
    for (int i = 0; i < t->layers; i++) {
        layer_w *L = &t->L[i];
        static const char *proj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
        const float **pw[4] = {&L->q_w, &L->k_w, &L->v_w, &L->o_w}, **pb[4] = {&L->q_b, &L->k_b, &L->v_b, &L->o_b};
        for (int k = 0; k < 4; k++) {
            snprintf(n, sizeof n, "%s.encoder.layers.%d.self_attn.%s.weight", pre, i, proj[k]);
            SLOT(*pw[k], 2, H, H, 0, 0);
            snprintf(n, sizeof n, "%s.encoder.layers.%d.self_attn.%s.bias", pre, i, proj[k]);
            SLOT(*pb[k], 1, H, 0, 0, 0);
        }
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm1.weight", pre, i);
        SLOT(L->ln1_w, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm1.bias", pre, i);
        SLOT(L->ln1_b, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm2.weight", pre, i);
        SLOT(L->ln2_w, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.layer_norm2.bias", pre, i);
        SLOT(L->ln2_b, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc1.weight", pre, i);
        SLOT(L->fc1_w, 2, I, H, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc1.bias", pre, i);
        SLOT(L->fc1_b, 1, I, 0, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc2.weight", pre, i);
        SLOT(L->fc2_w, 2, H, I, 0, 0);
        snprintf(n, sizeof n, "%s.encoder.layers.%d.mlp.fc2.bias", pre, i);
        SLOT(L->fc2_b, 1, H, 0, 0, 0);
    }
    int64_t P = c->info.projection_dim;
    if (vision) {
        int64_t g = c->info.image_size / c->info.patch_size, p = c->info.patch_size;
        snprintf(n, sizeof n, "vision_model.embeddings.class_embedding");
        SLOT(t->class_emb, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "vision_model.embeddings.patch_embedding.weight");
        SLOT(t->patch_w, 4, H, 3, p, p);
        snprintf(n, sizeof n, "vision_model.embeddings.position_embedding.weight");
        SLOT(t->pos, 2, g * g + 1, H, 0, 0);
        snprintf(n, sizeof n, "vision_model.pre_layrnorm.weight");
        SLOT(t->pre_ln_w, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "vision_model.pre_layrnorm.bias");
        SLOT(t->pre_ln_b, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "vision_model.post_layernorm.weight");
        SLOT(t->post_ln_w, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "vision_model.post_layernorm.bias");
        SLOT(t->post_ln_b, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "visual_projection.weight");
        SLOT(t->proj, 2, P, H, 0, 0);
    } else {
        snprintf(n, sizeof n, "text_model.embeddings.position_embedding.weight");
        SLOT(t->pos, 2, c->info.max_positions, H, 0, 0);
        snprintf(n, sizeof n, "text_model.final_layer_norm.weight");
        SLOT(t->post_ln_w, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "text_model.final_layer_norm.bias");
        SLOT(t->post_ln_b, 1, H, 0, 0, 0);
        snprintf(n, sizeof n, "text_projection.weight");
        SLOT(t->proj, 2, P, H, 0, 0);
    }
#undef SLOT
    return rc;
}

/* Hands one weight to the backend (ws_prep); a GPU failure moves the context to the CPU. */
static int prep(clip_ctx *c, const float **src, int n, int k, int kind, be_w **out, cs_err *err) {
    int linear = kind == BE_W_LINEAR || kind == BE_W_LINEAR_FEW;
    if (linear && c->lpc_in) { /* converted before (lpcache.h): the source is never read */
        *out = be_prepare(c->be, c->lpc_in[c->lpc_used], BE_LPW, n, k, kind, err);
        if (!*out) {
            c->dev_failed = !(c->be->caps & BE_CAP_HOST);
            return cs_err_prefix(err, "%s", c->be->info.name);
        }
        c->lpc_in[c->lpc_used++] = NULL; /* the backend owns it now */
        if ((*out)->copied && *src) {
            ws_drop(&c->ws, src, (size_t)n * k * sizeof(float));
            *src = NULL;
        }
    } else if (ws_prep(&c->ws, c->be, src, n, k, kind, out, err)) {
        c->dev_failed = !(c->be->caps & BE_CAP_HOST);
        return -1;
    }
    if (linear && c->lpc_out) c->lpc_out[c->lpc_outn++] = *out;
    return 0;
}

static void unprepare(clip_ctx *c, tower *t) {
    be_w **all[] = {&t->pre_g, &t->pre_b, &t->post_g, &t->post_b, &t->posw, &t->projw, &t->clsw, &t->patchw, &t->tokw};
    enc_unprepare(c->be, all, sizeof all / sizeof *all, t->L, t->layers);
}

/* Opens the backend on first use, not at load: probing Vulkan loads every installed driver (0.1 to
 * 0.3 s here without a GPU), which a load that never runs a tower (model info, a search served by
 * the daemon) should not pay. Under the lock, or before the context is shared. */
static int open_backend(clip_ctx *c, cs_err *err) {
    if (c->be) return 0;
    c->be = be_open(c->params.reference ? "reference" : c->params.device, c->params.f32, c->params.threads, c->note,
                    sizeof c->note, &c->note_loud, err);
    return c->be ? 0 : -1;
}

static void cache_reset(clip_ctx *c) {
    for (size_t i = 0; c->lpc_in && i < c->lpc_n; i++) ops_lp_free(c->lpc_in[i]); /* those not taken */
    free(c->lpc_in);
    free(c->lpc_out);
    c->lpc_in = NULL;
    c->lpc_out = NULL;
    c->lpc_n = c->lpc_used = c->lpc_outn = 0;
}

/* Before a tower's weights are prepared: reads its converted weights back from the cache when the
 * tower runs on a CPU backend in F16/Q8 and a valid file is there (c->lpc_in), else makes room to
 * collect them for cache_close (c->lpc_out). path gets the file ("" when no cache applies).
 * A missing, stale or damaged file only means converting again. -1: out of memory. */
static int cache_open(clip_ctx *c, const tower *t, int vision, char *path, size_t pn, char *key, size_t kn) {
    cache_reset(c);
    path[0] = 0;
    int fmt = c->be->keep == BE_KEEP_F16 ? OPS_LP_F16 : OPS_LP_Q8;
    char name[128];
    cs_err e;
    if (!c->params.cache_dir || c->be->keep == BE_KEEP_F32 || !(c->be->caps & BE_CAP_HOST) || c->params.reference ||
        lpc_key(c->dir, vision ? "vision" : "text", fmt, key, kn, name, sizeof name, &e))
        return 0;
    snprintf(path, pn, "%s/%s", c->params.cache_dir, name);
    /* the linear weights in the order materialise prepares them */
    int h = t->hidden, I = t->inter, L = t->layers;
    size_t count = 4 * (size_t)L + 1 + (size_t)vision;
    int(*shapes)[2] = malloc(count * sizeof *shapes);
    if (!shapes) return -1;
    for (int l = 0; l < L; l++) {
        int s[4][2] = {{3 * h, h}, {h, h}, {I, h}, {h, I}};
        memcpy(shapes[4 * l], s, sizeof s);
    }
    shapes[4 * L][0] = c->info.projection_dim;
    shapes[4 * L][1] = h;
    if (vision) {
        shapes[4 * L + 1][0] = h;
        shapes[4 * L + 1][1] = 3 * c->info.patch_size * c->info.patch_size;
    }
    ops_lpw **w;
    if (lpc_load(path, key, fmt, (const int(*)[2])shapes, count, &w, &e) == 0) {
        c->lpc_in = w;
        c->lpc_n = count;
        c->cached |= 1 << vision;
    } else if (!(c->lpc_out = calloc(count, sizeof *c->lpc_out))) {
        free(shapes);
        return -1;
    } else
        c->lpc_n = count;
    free(shapes);
    return 0;
}

/* After a tower was prepared: saves what was converted (when it was not read back). A failed save
 * (disk full, read-only data dir) only means converting again at the next load. */
static void cache_close(clip_ctx *c, const char *path, const char *key) {
    const ops_lpw **w = c->lpc_out && path[0] && c->lpc_outn == c->lpc_n ? malloc(c->lpc_n * sizeof *w) : NULL;
    size_t n = 0;
    for (; w && n < c->lpc_n && (w[n] = be_cpu_lpw(c->lpc_out[n])); n++) {}
    cs_err e;
    if (w && n == c->lpc_n) lpc_save(path, key, w, n, &e);
    free(w);
    cache_reset(c);
}

/* Fills the float views of one tower (under the lock). */
static int materialise(clip_ctx *c, int vision, cs_err *err) {
    tower *t = vision ? &c->vision : &c->text;
    if (t->ready) return 0;
    if (open_backend(c, err)) return -1;
    if (ws_views(&c->ws, vision, err)) return -1;
    size_t H = (size_t)t->hidden;
    int wdt = c->params.dtype != CLIP_DTYPE_DEFAULT ? c->params.dtype : clip_dtype_default(vision);
    c->be->keep = wdt == CLIP_DTYPE_F16 ? BE_KEEP_F16 : wdt == CLIP_DTYPE_Q8 ? BE_KEEP_Q8 : BE_KEEP_F32;
    char cpath[4600] = "", ckey[8192];
    if (cache_open(c, t, vision, cpath, sizeof cpath, ckey, sizeof ckey))
        return cs_errc(err, CS_ENOMEM, "out of memory");
    /* Every weight through the backend (q, k and v stacked first: the originals are read once and
     * not again, not at all when the tower's converted weights come from the cache). The vision
     * tower's products have 50+ rows (a patch grid per image), the text tower's a few tokens per
     * query: the backend may lay them out for that. */
    int I = t->inter, h = (int)H, lk = vision ? BE_W_LINEAR : BE_W_LINEAR_FEW, P = c->info.projection_dim;
    for (int l = 0; l < t->layers; l++) {
        layer_w *L = &t->L[l];
        if (!c->lpc_in) {
            if (ws_stack3(&c->ws, &L->q_w, &L->k_w, &L->v_w, L->q_b, L->k_b, L->v_b, H, H, &L->qkv_w, &L->qkv_b, err))
                return -1;
        } else { /* only the biases: the stacked weight comes from the cache */
            float *b = malloc(3 * H * sizeof *b);
            if (!b || ws_own(&c->ws, b, 3 * H * sizeof *b))
                return cs_errc(err, CS_ENOMEM, "out of memory stacking attention weights");
            memcpy(b, L->q_b, H * sizeof *b);
            memcpy(b + H, L->k_b, H * sizeof *b);
            memcpy(b + 2 * H, L->v_b, H * sizeof *b);
            L->qkv_w = NULL;
            L->qkv_b = b;
            ws_drop(&c->ws, &L->q_w, H * H * sizeof(float));
            ws_drop(&c->ws, &L->k_w, H * H * sizeof(float));
            ws_drop(&c->ws, &L->v_w, H * H * sizeof(float));
            L->q_w = L->k_w = L->v_w = NULL;
        }
        const float *qkv = L->qkv_w, *qkvb = L->qkv_b;
        if (prep(c, &L->ln1_w, h, 1, BE_W_VEC, &L->ln1g, err) || prep(c, &L->ln1_b, h, 1, BE_W_VEC, &L->ln1b, err) ||
            prep(c, &qkv, 3 * h, h, lk, &L->qkvw, err) || prep(c, &qkvb, 3 * h, 1, BE_W_VEC, &L->qkvb, err) ||
            prep(c, &L->o_w, h, h, lk, &L->ow, err) || prep(c, &L->o_b, h, 1, BE_W_VEC, &L->ob, err) ||
            prep(c, &L->ln2_w, h, 1, BE_W_VEC, &L->ln2g, err) || prep(c, &L->ln2_b, h, 1, BE_W_VEC, &L->ln2b, err) ||
            prep(c, &L->fc1_w, I, h, lk, &L->fc1w, err) || prep(c, &L->fc1_b, I, 1, BE_W_VEC, &L->fc1b, err) ||
            prep(c, &L->fc2_w, h, I, lk, &L->fc2w, err) || prep(c, &L->fc2_b, h, 1, BE_W_VEC, &L->fc2b, err))
            return -1;
        if (!qkv) L->qkv_w = NULL; /* the backend keeps its own copy; ours was freed */
        if (!qkvb) L->qkv_b = NULL;
    }
    if (prep(c, &t->post_ln_w, h, 1, BE_W_VEC, &t->post_g, err) ||
        prep(c, &t->post_ln_b, h, 1, BE_W_VEC, &t->post_b, err) ||
        prep(c, &t->proj, P, h, BE_W_LINEAR_FEW, &t->projw, err))
        return -1;
    if (vision) {
        int g = c->info.image_size / c->info.patch_size, K = 3 * c->info.patch_size * c->info.patch_size;
        if (prep(c, &t->pre_ln_w, h, 1, BE_W_VEC, &t->pre_g, err) ||
            prep(c, &t->pre_ln_b, h, 1, BE_W_VEC, &t->pre_b, err) ||
            prep(c, &t->pos, g * g + 1, h, BE_W_VEC, &t->posw, err) ||
            prep(c, &t->class_emb, h, 1, BE_W_VEC, &t->clsw, err) ||
            prep(c, &t->patch_w, h, K, BE_W_LINEAR, &t->patchw, err))
            return -1;
    } else {
        const st_tensor *te = c->tok_emb;
        int dt = te->dtype == ST_F32 ? BE_F32 : te->dtype == ST_F16 ? BE_F16 : BE_BF16;
        if (prep(c, &t->pos, c->info.max_positions, h, BE_W_VEC, &t->posw, err)) return -1;
        /* the token table stays as stored (rows widened as they are gathered on the CPU) */
        if (!(t->tokw = be_prepare(c->be, te->data, dt, (int)te->shape[0], h, BE_W_TABLE, err))) {
            c->dev_failed = !(c->be->caps & BE_CAP_HOST);
            return cs_err_prefix(err, "%s", c->be->info.name);
        }
        if (t->tokw->copied) st_release(c->st, te);
    }
    ws_release(&c->ws, vision); /* nothing of the file resident beside its copy (wset.h) */
    cache_close(c, cpath, ckey);
    t->ready = 1;
    return 0;
}

static uint64_t count_params(const clip_ctx *c, const char *prefix) {
    uint64_t n = 0;
    for (size_t i = 0; i < st_count(c->st); i++) {
        const st_tensor *t = st_at(c->st, i);
        if (t->dtype == ST_I64) continue; /* buffers such as position_ids, not parameters */
        if (!prefix || strncmp(t->name, prefix, strlen(prefix)) == 0) n += (uint64_t)t->numel;
    }
    return n;
}

int clip_load(const char *dir, const clip_params *p, clip_ctx **out, cs_err *err) {
    *out = NULL;
    clip_ctx *c = calloc(1, sizeof *c);
    if (!c) return cs_errc(err, CS_ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    c->params = p ? *p : clip_default_params();
    c->params.threads = mc_threads(c->params.threads);
    { /* a bad device name fails the load; the device itself is opened on first use (open_backend) */
        const char *env = getenv("CLIPSEEK_DEVICE"), *d = c->params.device && *c->params.device ? c->params.device
                                                          : env && *env                         ? env
                                                                                                : "auto";
        int kind, idx;
        if (!c->params.reference && be_parse_device(d, &kind, &idx, err)) {
            pthread_mutex_destroy(&c->lock);
            free(c);
            return -1;
        }
    }
    c->dir = strdup(dir);
    char *cfg = cs_path_join(dir, "config.json"), *pp = cs_path_join(dir, "preprocessor_config.json"),
         *voc = cs_path_join(dir, "vocab.json"), *mer = cs_path_join(dir, "merges.txt");
    int rc = -1;
    if (!c->dir || !cfg || !pp || !voc || !mer) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        goto done;
    }
    char *txt = NULL;
    size_t len = 0;
    if (cs_read_file(cfg, 16u << 20, &txt, &len, err)) goto done;
    int prc = parse_config(c, txt, len, cfg, err);
    free(txt);
    txt = NULL;
    if (prc || (cs_is_file(pp) && cs_read_file(pp, 1u << 20, &txt, &len, err))) goto done;
    prc = parse_preproc(c, txt, len, pp, err);
    free(txt);
    if (prc) goto done;
    if (wt_open_dir(dir, &c->st, err)) goto done;
    c->ws.dir = c->dir;
    c->ws.st = c->st;
    clip_info *in = &c->info;
    if (!c->params.no_tokenizer && tok_load(voc, mer, &c->tok, err)) goto done;
    if (c->tok && (int)tok_vocab_size(c->tok) > in->vocab_size) {
        cs_err_set(err, "%s: %zu tokens, but the model's vocab_size is %d", voc, tok_vocab_size(c->tok),
                   in->vocab_size);
        goto done;
    }
    c->text.L = calloc((size_t)c->text.layers, sizeof(layer_w));
    c->vision.L = calloc((size_t)c->vision.layers, sizeof(layer_w));
    if (!c->text.L || !c->vision.L || add_tower_slots(c, &c->text, 0) || add_tower_slots(c, &c->vision, 1)) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        goto done;
    }
    /* Validate every tensor now, from the headers alone: no weight page is touched. */
    if (ws_check_all(&c->ws, err)) goto done;
    int64_t te[2] = {in->vocab_size, c->text.hidden};
    if (ws_check(&c->ws, "text_model.embeddings.token_embedding.weight", 2, te, &c->tok_emb, err)) goto done;
    const st_tensor *ls = st_find(c->st, "logit_scale");
    if (ls && ls->numel == 1) {
        float v;
        st_to_f32(ls, &v);
        in->logit_scale = expf(v);
    }
    in->text =
        (clip_tower_info){c->text.hidden, c->text.inter, c->text.layers, c->text.heads, c->text.eps, c->text.act_name};
    in->vision = (clip_tower_info){c->vision.hidden, c->vision.inter, c->vision.layers,
                                   c->vision.heads,  c->vision.eps,   c->vision.act_name};
    in->dtype = ws_dtype_summary(c->st, NULL);
    in->text_params = count_params(c, "text_model.") + count_params(c, "text_projection.");
    in->vision_params = count_params(c, "vision_model.") + count_params(c, "visual_projection.");
    in->total_params = count_params(c, NULL);
    in->file_bytes = st_file_bytes(c->st);
    in->format = st_format(c->st);
    in->converted = st_converted(c->st);
    rc = 0;
done:
    free(cfg);
    free(pp);
    free(voc);
    free(mer);
    if (rc) {
        clip_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int clip_config_check(const char *config, size_t clen, const char *preproc, size_t plen, clip_info *out, cs_err *err) {
    clip_ctx c;
    memset(&c, 0, sizeof c);
    if (parse_config(&c, config, clen, "config.json", err) ||
        parse_preproc(&c, preproc, plen, "preprocessor_config.json", err))
        return -1;
    if (out) *out = c.info;
    return 0;
}

void clip_free(clip_ctx *c) {
    if (!c) return;
    cache_reset(c);
    unprepare(c, &c->text);
    unprepare(c, &c->vision);
    ws_free_model(&c->ws, c->be, c->st, c->dir);
    free(c->text.L);
    free(c->vision.L);
    tok_free(c->tok);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const clip_info *clip_get_info(const clip_ctx *c) { return &c->info; }

uint64_t clip_resident_bytes(const clip_ctx *c) {
    /* mapped pages we hold, plus our own copies (widened, stacked, packed): resident by
     * construction once written */
    return st_resident_bytes(c->st) + c->ws.owned_bytes +
           (c->be && (c->be->caps & BE_CAP_HOST) ? c->be->info.weight_bytes : 0);
}

/* The device queries open the backend if no pass has yet: the context is logically const. */
static void open_for_query(const clip_ctx *cc) {
    clip_ctx *c = (clip_ctx *)cc;
    pthread_mutex_lock(&c->lock);
    cs_err e;
    if (open_backend(c, &e)) snprintf(c->note, sizeof c->note, "%.300s", e.msg);
    pthread_mutex_unlock(&c->lock);
}

void clip_get_device(const clip_ctx *c, clip_device *out) {
    memset(out, 0, sizeof *out);
    open_for_query(c);
    if (!c->be) return;
    const be_info *i = &c->be->info;
    snprintf(out->backend, sizeof out->backend, "%s", i->name);
    snprintf(out->device, sizeof out->device, "%s", i->device);
    snprintf(out->driver, sizeof out->driver, "%s", i->driver);
    out->precision = i->precision;
    if ((c->be->caps & BE_CAP_HOST) && !c->vision.ready && !c->text.ready && !c->params.reference) {
        /* no tower prepared yet (doctor, model info): what the CPU will keep, not its initial "F32" */
        int dt = c->params.dtype != CLIP_DTYPE_DEFAULT ? c->params.dtype : clip_dtype_default(0);
        out->precision = dt == CLIP_DTYPE_Q8 ? "Q8_0" : dt == CLIP_DTYPE_F16 ? "F16" : "F32";
    }
    out->weight_bytes = i->weight_bytes;
    out->work_bytes = i->work_bytes;
    out->upload_ms = i->upload_ms;
    out->cached = c->cached;
    out->threads = c->params.threads;
    out->dispatches = i->dispatches;
}

const char *clip_device_note(const clip_ctx *c, int *asked) {
    open_for_query(c);
    if (asked) *asked = c->note_loud;
    return c->note[0] ? c->note : NULL;
}

/* A context loaded with no_tokenizer has none: text input is refused, never tokenised with NULL. */
static int need_tok(const clip_ctx *c, cs_err *err) {
    return c->tok ? 0 : cs_err_set(err, "%s: the tokenizer was not loaded (image-only use)", c->dir);
}

int clip_tokenize(clip_ctx *c, const char *text, size_t len, int max_len, int32_t **ids, size_t *n, cs_err *err) {
    *ids = NULL;
    *n = 0;
    if (need_tok(c, err)) return -1;
    return tok_encode(c->tok, text, len, max_len, ids, n, err);
}

/* ---------------- forward ---------------- */

/* Runs the encoder layers over x[T, H]. seq_off/seq_len: nseq sequences stacked in x.
 * pool: NULL, or one row per sequence (an index within it) that is all the caller will read.
 * Then the last layer computes only what those rows need: keys and values for every row, but the
 * query, attention, out-projection, MLP and residuals for the pooled rows alone; on return x[s]
 * (rows 0..nseq-1) holds sequence s's pooled row and the other rows are scratch. On the fast CPU
 * backend that skips 10/12 of the last layer's products on packed weights, 9/12 on the BLAS path
 * (which computes Q for every row): about 7% of an image pass, for the same pooled vectors. A
 * backend without BE_CAP_POOLED (the reference) computes the last attention for every row first.
 * Buffers (workspace offsets): h, att [T, H]; qkv [T, 3H]; m [T, I]. */
static void encoder(clip_ctx *c, const tower *t, be_off x, int T, const int *seq_off, const int *seq_len, int nseq,
                    int causal, const int *keymask, const int *pool, be_off h, be_off qkv, be_off att, be_off m) {
    be *b = c->be;
    const be_vtbl *v = b->v;
    int H = t->hidden;
    for (int l = 0; l < t->layers; l++) {
        const layer_w *L = &t->L[l];
        const int pooled = pool && l == t->layers - 1;
        if (l == 0 || !v->linear_ln) /* else the previous layer's last step left ln1(x) in h */
            v->layernorm(b, x, L->ln1g, L->ln1b, h, T, H, t->eps);
        if (pooled && (b->caps & BE_CAP_POOLED))
            v->attention_pooled(b, L->qkvw, L->qkvb, h, qkv, att, T, H, seq_off, seq_len, pool, nseq, t->heads, causal,
                                keymask);
        else {
            v->linear(b, h, L->qkvw, L->qkvb, OPS_ACT_NONE, qkv, 0, T, 0, 0);
            v->attention(b, qkv, H, att, seq_off, seq_len, nseq, t->heads, causal, keymask);
            if (pooled) /* every row's attention ran; keep the pooled ones */
                v->take_rows(b, att, H, seq_off, pool, nseq);
        }
        if (pooled) { /* from here on, the pooled rows alone */
            v->take_rows(b, x, H, seq_off, pool, nseq);
            T = nseq;
        }
        if (v->linear_ln) /* x += out_proj(att); h = ln2(x) */
            v->linear_ln(b, att, L->ow, L->ob, x, T, L->ln2g, L->ln2b, h, t->eps);
        else {
            v->linear(b, att, L->ow, L->ob, OPS_ACT_NONE, x, 1, T, 0, 0);
            v->layernorm(b, x, L->ln2g, L->ln2b, h, T, H, t->eps);
        }
        v->linear(b, h, L->fc1w, L->fc1b, t->act, m, 0, T, 0, 0);
        /* x += fc2(act(fc1(ln2(x)))), and with it the next layer's ln1(x) into h */
        if (v->linear_ln && l + 1 < t->layers)
            v->linear_ln(b, m, L->fc2w, L->fc2b, x, T, t->L[l + 1].ln1g, t->L[l + 1].ln1b, h, t->eps);
        else
            v->linear(b, m, L->fc2w, L->fc2b, OPS_ACT_NONE, x, 1, T, 0, 0);
    }
}

/* Reads the projected rows, waits for the pass, then normalises on the host. */
static int finish(clip_ctx *c, be_off proj, int batch, int normalize, float *embeds, cs_err *err) {
    int P = c->info.projection_dim;
    float *tmp = embeds ? embeds : malloc((size_t)batch * P * sizeof *tmp);
    if (!tmp) return cs_errc(err, CS_ENOMEM, "out of memory");
    be_read(c->be, proj, tmp, (size_t)batch * P);
    int rc = be_sync(c->be, err);
    if (rc)
        c->dev_failed = !(c->be->caps & BE_CAP_HOST);
    else if (normalize)
        ops_l2_normalize(tmp, batch, P);
    if (tmp != embeds) free(tmp);
    return rc;
}

static int pool_index(const clip_ctx *c, const int32_t *ids, int n) {
    int best = 0;
    if (c->legacy_eos) { /* argmax(ids), first maximum */
        for (int i = 1; i < n; i++)
            if (ids[i] > ids[best]) best = i;
        return best;
    }
    for (int i = 0; i < n; i++)
        if (ids[i] == c->info.eos_id) return i;
    return 0;
}

/* The shared text pass: ids stacked per sequence. Outputs optional. Caller holds the lock. */
static int text_run(clip_ctx *c, const int32_t *const *ids, const size_t *lens, int batch, const int32_t *mask,
                    int normalize, float *last_hidden, float *embeds, cs_err *err) {
    const clip_info *in = &c->info;
    tower *t = &c->text;
    if (batch <= 0) return cs_err_set(err, "no texts to embed");
    int H = t->hidden, I = t->inter, P = in->projection_dim, T = 0, maxn = 0;
    for (int b = 0; b < batch; b++) {
        if (lens[b] < 1 || lens[b] > (size_t)in->max_positions)
            return cs_err_set(err, "text %d has %zu tokens; the model takes 1 to %d", b, lens[b], in->max_positions);
        for (size_t i = 0; i < lens[b]; i++)
            if (ids[b][i] < 0 || ids[b][i] >= in->vocab_size)
                return cs_err_set(err, "token id %d is outside the vocabulary (0..%d)", ids[b][i], in->vocab_size - 1);
        T += (int)lens[b];
        if ((int)lens[b] > maxn) maxn = (int)lens[b];
    }
    if (materialise(c, 0, err)) return -1;
    if (c->params.fit_threads) be_fit_threads(c->be); /* the backend exists once materialised */
    size_t need = (size_t)T * H * 6 + (size_t)T * I + (size_t)batch * (H + P);
    int maxk = I > 3 * H ? I : 3 * H;
    if (be_reserve(c->be, need, maxn, H / t->heads, T, maxk, err)) {
        c->dev_failed = !(c->be->caps & BE_CAP_HOST);
        return -1;
    }
    be_off x = 0, h = x + (size_t)T * H, qkv = h + (size_t)T * H, att = qkv + (size_t)T * 3 * H,
           m = att + (size_t)T * H, pooled = m + (size_t)T * I, proj = pooled + (size_t)batch * H;
    int *iw = malloc(((size_t)batch * 3 + (mask ? (size_t)T : 0)) * sizeof *iw);
    if (!iw) return cs_errc(err, CS_ENOMEM, "out of memory");
    int *off = iw, *len = off + batch, *pool = len + batch, *km = mask ? pool + batch : NULL;
    for (int b = 0, o = 0; b < batch; b++) {
        off[b] = o;
        len[b] = (int)lens[b];
        for (int i = 0; km && i < len[b]; i++) km[o + i] = mask[o + i] != 0;
        pool[b] = pool_index(c, ids[b], len[b]);
        o += len[b];
    }
    const be_vtbl *v = c->be->v;
    v->embed_tokens(c->be, x, t->tokw, t->posw, ids, len, batch, H);
    if (last_hidden) { /* every row's final state: the whole tower */
        encoder(c, t, x, T, off, len, batch, 1, km, NULL, h, qkv, att, m);
        v->layernorm(c->be, x, t->post_g, t->post_b, x, T, H, t->eps);
        be_read(c->be, x, last_hidden, (size_t)T * H);
        v->take_rows(c->be, x, H, off, pool, batch);
        v->linear(c->be, x, t->projw, NULL, OPS_ACT_NONE, proj, 0, batch, 0, 0);
    } else { /* the pooled rows only: they end in x's first batch rows */
        encoder(c, t, x, T, off, len, batch, 1, km, pool, h, qkv, att, m);
        v->layernorm(c->be, x, t->post_g, t->post_b, pooled, batch, H, t->eps);
        v->linear(c->be, pooled, t->projw, NULL, OPS_ACT_NONE, proj, 0, batch, 0, 0);
    }
    free(iw);
    return finish(c, proj, batch, normalize, embeds, err);
}

/* After a GPU failure (out of device memory while uploading, a lost device): both towers move to
 * the CPU, and note says why. Their weights are read again from the checkpoint. */
static int fall_back(clip_ctx *c, const cs_err *why, cs_err *err) {
    if (!c->be) return cs_err_set(err, "%s", why->msg); /* opening the backend itself failed */
    char unused[8];
    int loud;
    be *cpu = be_open("cpu", c->params.f32, c->params.threads, unused, sizeof unused, &loud, err);
    if (!cpu) return -1;
    snprintf(c->note, sizeof c->note, "%.100s: %.180s; running on the CPU", c->be->info.device, why->msg);
    c->note_loud = 1;
    unprepare(c, &c->text);
    unprepare(c, &c->vision);
    be_free(c->be);
    c->be = cpu;
    c->text.ready = c->vision.ready = 0;
    c->dev_failed = 0;
    return 0;
}

int clip_text_embed(clip_ctx *c, const int32_t *const *ids, const size_t *lens, int batch, int normalize, float *embeds,
                    cs_err *err) {
    pthread_mutex_lock(&c->lock);
    cs_err e = {0};
    int rc = text_run(c, ids, lens, batch, NULL, normalize, NULL, embeds, &e);
    if (rc && c->dev_failed && !fall_back(c, &e, &e))
        rc = text_run(c, ids, lens, batch, NULL, normalize, NULL, embeds, &e);
    if (rc && err) *err = e;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int clip_text_forward(clip_ctx *c, const int32_t *ids, const int32_t *mask, int n, int normalize, float *last_hidden,
                      float *embeds, cs_err *err) {
    size_t len = n > 0 ? (size_t)n : 0;
    pthread_mutex_lock(&c->lock);
    cs_err e = {0};
    int rc = text_run(c, &ids, &len, 1, mask, normalize, last_hidden, embeds, &e);
    if (rc && c->dev_failed && !fall_back(c, &e, &e))
        rc = text_run(c, &ids, &len, 1, mask, normalize, last_hidden, embeds, &e);
    if (rc && err) *err = e;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int vision_run(clip_ctx *c, const float *pixels, int batch, int normalize, float *last_hidden, float *embeds,
                      cs_err *err) {
    const clip_info *in = &c->info;
    tower *t = &c->vision;
    if (batch <= 0) return cs_err_set(err, "no images to embed");
    if (materialise(c, 1, err)) return -1;
    if (c->params.fit_threads) be_fit_threads(c->be); /* the backend exists once materialised */
    int S = in->image_size, p = in->patch_size, g = S / p, np = g * g, n = np + 1, H = t->hidden, I = t->inter,
        P = in->projection_dim, K = 3 * p * p, T = batch * n;
    int maxk = I > 3 * H ? I : 3 * H;
    maxk = K > maxk ? K : maxk;
    size_t npix = (size_t)batch * 3 * S * S;
    size_t need = (size_t)T * H * 6 + (size_t)T * I + (size_t)batch * np * K + npix + (size_t)batch * (H + P);
    if (be_reserve(c->be, need, n, H / t->heads, T, maxk, err)) {
        c->dev_failed = !(c->be->caps & BE_CAP_HOST);
        return -1;
    }
    be_off x = 0, h = x + (size_t)T * H, qkv = h + (size_t)T * H, att = qkv + (size_t)T * 3 * H,
           m = att + (size_t)T * H, cols = m + (size_t)T * I, pix = cols + (size_t)batch * np * K, pooled = pix + npix,
           proj = pooled + (size_t)batch * H;
    int *iw = malloc((size_t)batch * 3 * sizeof *iw);
    if (!iw) return cs_errc(err, CS_ENOMEM, "out of memory");
    int *off = iw, *len = off + batch, *pool = len + batch;
    for (int b = 0; b < batch; b++) {
        off[b] = b * n;
        len[b] = n;
        pool[b] = 0;
    }
    const be_vtbl *v = c->be->v;
    be_write(c->be, pix, pixels, npix);
    v->patch_embed(c->be, x, pix, cols, h, batch, S, p, H, t->patchw, t->clsw, t->posw);
    v->layernorm(c->be, x, t->pre_g, t->pre_b, x, T, H, t->eps);
    /* pooled at the class token, row 0 of each image: without last_hidden, the last layer runs
     * the class tokens alone and leaves them in x's first batch rows */
    encoder(c, t, x, T, off, len, batch, 0, NULL, last_hidden ? NULL : pool, h, qkv, att, m);
    if (last_hidden) {
        be_read(c->be, x, last_hidden, (size_t)T * H);
        v->take_rows(c->be, x, H, off, pool, batch);
    }
    v->layernorm(c->be, x, t->post_g, t->post_b, pooled, batch, H, t->eps);
    v->linear(c->be, pooled, t->projw, NULL, OPS_ACT_NONE, proj, 0, batch, 0, 0);
    free(iw);
    return finish(c, proj, batch, normalize, embeds, err);
}

int clip_vision_forward(clip_ctx *c, const float *pixels, int batch, int normalize, float *last_hidden, float *embeds,
                        cs_err *err) {
    pthread_mutex_lock(&c->lock);
    cs_err e = {0};
    int rc = vision_run(c, pixels, batch, normalize, last_hidden, embeds, &e);
    if (rc && c->dev_failed && !fall_back(c, &e, &e))
        rc = vision_run(c, pixels, batch, normalize, last_hidden, embeds, &e);
    if (rc && err) *err = e;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int clip_preprocess(const clip_ctx *c, const img_rgb *im, float *out, cs_err *err) {
    return img_preprocess(im, &c->info.preproc, out, err);
}

int clip_image_files_embed(clip_ctx *c, const char *const *paths, int n, int normalize, float *embeds, cs_err *err) {
    int S = c->info.image_size, P = c->info.projection_dim;
    size_t per = (size_t)3 * S * S;
    /* bounded batches keep the pixel buffer and workspace small for long lists */
    enum { CHUNK = 8 };
    float *px = malloc(per * CHUNK * sizeof *px);
    if (!px) return cs_errc(err, CS_ENOMEM, "out of memory");
    for (int i = 0; i < n; i += CHUNK) {
        int b = n - i < CHUNK ? n - i : CHUNK;
        for (int j = 0; j < b; j++) {
            img_rgb im;
            if (img_load(paths[i + j], c->params.max_pixels, &im, err)) {
                free(px);
                return -1;
            }
            int rc = img_preprocess(&im, &c->info.preproc, px + per * j, err);
            img_free(&im);
            if (rc) {
                free(px);
                return cs_err_prefix(err, "%s", paths[i + j]);
            }
        }
        if (clip_vision_forward(c, px, b, normalize, NULL, embeds + (size_t)i * P, err)) {
            free(px);
            return -1;
        }
    }
    free(px);
    return 0;
}

int clip_texts_embed(clip_ctx *c, const char *const *texts, int n, int normalize, float *embeds, cs_err *err) {
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    int rc = 0;
    if (!ids || !lens) rc = cs_errc(err, CS_ENOMEM, "out of memory");
    if (!rc) rc = need_tok(c, err);
    for (int i = 0; i < n && !rc; i++)
        rc = tok_encode(c->tok, texts[i], strlen(texts[i]), c->info.max_positions, &ids[i], &lens[i], err);
    if (!rc) rc = clip_text_embed(c, (const int32_t *const *)ids, lens, n, normalize, embeds, err);
    for (int i = 0; ids && i < n; i++) free(ids[i]);
    free(ids);
    free(lens);
    return rc;
}
