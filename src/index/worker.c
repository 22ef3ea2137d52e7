/* worker: see worker.h. */
#include "worker.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/cs_log.h"
#include "../model/clip.h"
#include "../model/stmodel.h"
#include "../organize/organize.h"
#include "../search/search_model.h"
#include "../search/search_neutral.h"
#include "indexer.h"

struct index_worker {
    index_worker_params p;
    pthread_t thread;
    atomic_int stop;
    pthread_mutex_t lock; /* the counters and generations below */
    pthread_cond_t wake;  /* new work, or stop */
    pthread_cond_t idle;  /* a pass found nothing to do, or the first model attempt was made */
    int64_t generation, idle_generation;
    index_worker_stats st;
    int model_checked; /* the first attempt to load a model was made */
    /* the model, shared with searches: they hold model_lock for reading while they use it
     * (clip_ctx serialises the forward passes itself), a swap holds it for writing */
    pthread_rwlock_t model_lock;
    clip_ctx *model;
    char *model_id;
    /* `model use ... --text-model` (or $CLIPSEEK_TEXT_MODEL, or the config's `text_model =`): a
     * sentence-transformers text model that embeds text queries into the model's space instead of
     * CLIP's own text tower; under model_lock like model, loaded after it and dropped with it */
    stm_ctx *tmodel;
    /* the config: replaced whole by index_worker_set_rules (write lock) while this thread reads
     * it (read lock); rules_gen counts replacements, so the organiser is reopened on new ones */
    pthread_rwlock_t rules_lock;
    const rules *rules;
    int64_t rules_gen;
    float *neutral; /* the model's gibberish prompts (search_neutral.h), NULL if it has no text tower */
    /* the text embedder (`model use ... --text-embedder`, $CLIPSEEK_TEXT_EMBEDDER, the config's
     * `text_embedder =`): a sentence model with a text-only space of its own (docs/text-models.md).
     * Independent of the CLIP model; under model_lock for searches. emb_id is known as soon as the
     * setting is (its vectors are kept); the weights load only when a text entry needs them. */
    stm_ctx *emb;
    char *emb_id;
    float *emb_neutral; /* its gibberish prompts (search_neutral_embed_st) */
    char *emb_dir;      /* the folder set (even if it failed to load) */
    int emb_failed;     /* it did not load: not retried until the setting changes */
    /* the worker thread's own */
    store *s;
    organizer *org;
    int64_t org_gen;        /* the rules_gen org was opened on */
    char *loaded;           /* the folder the model came from (even if it failed to load) */
    char *tloaded;          /* the folder the text model came from (even if it failed to load) */
    int loaded_dt;          /* and the dtype it was loaded with (-1: none yet) */
    char weights_dir[4200]; /* <data dir>/weights: the model's converted F16/Q8 weights (lpcache.h) */
};

index_worker_params index_worker_default_params(void) {
    index_worker_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static void fail(index_worker *w, const cs_err *e) {
    if (w->p.on_error) w->p.on_error(e->msg, w->p.arg);
}

static char *model_dir_for(index_worker *w) {
    if (w->p.model_dir) return strdup(w->p.model_dir);
    const char *env = getenv("CLIPSEEK_MODEL");
    if (env && *env) return strdup(env);
    char *v = NULL;
    store_meta_get(w->s, "model_dir", &v, NULL);
    return v;
}

/* --dtype, else the store's (index_store_dtype: what `model use` stored with the model, or the
 * dtype of an older store's vectors) when the model is the stored one */
static int model_dtype_for(index_worker *w, const char *dir) {
    const char *env = getenv("CLIPSEEK_MODEL");
    int dt = w->p.dtype;
    if (dt == CLIP_DTYPE_DEFAULT && !w->p.model_dir && !(env && *env)) dt = index_store_dtype(w->s, dir);
    return dt;
}

static void drop_model(index_worker *w) {
    pthread_rwlock_wrlock(&w->model_lock);
    clip_free(w->model);
    w->model = NULL;
    free(w->model_id);
    w->model_id = NULL;
    stm_free(w->tmodel); /* it belongs to the model's space: reloaded (text_model_sync) after a swap */
    w->tmodel = NULL;
    free(w->neutral);
    w->neutral = NULL;
    pthread_rwlock_unlock(&w->model_lock);
    free(w->tloaded);
    w->tloaded = NULL;
}

/* A text model setting: $env_name, else the store's meta key (set by `model use`), else the
 * config's value (getter, read under the worker's rules lock: a reload may replace the rules).
 * malloc'd, NULL when unset. */
static char *setting_for(index_worker *w, const char *env_name, const char *key, const char *(*getter)(const rules *)) {
    const char *env = getenv(env_name);
    if (env && *env) return strdup(env);
    char *v = NULL;
    store_meta_get(w->s, key, &v, NULL);
    if (v) return v;
    pthread_rwlock_rdlock(&w->rules_lock);
    if (getter(w->rules)) v = strdup(getter(w->rules));
    pthread_rwlock_unlock(&w->rules_lock);
    return v;
}

/* The text model in use: $CLIPSEEK_TEXT_MODEL, else the store's "text_model_dir" (`model use
 * ... --text-model`), else the config's `text_model =`; NULL for CLIP's own text tower. */
static char *text_model_dir_for(index_worker *w) {
    return setting_for(w, "CLIPSEEK_TEXT_MODEL", "text_model_dir", rules_text_model);
}

/* Loads (or drops) the text model when its folder changed since the last pass; only with a model
 * (the text model embeds into its space). */
static void text_model_sync(index_worker *w) {
    char *dir = w->model ? text_model_dir_for(w) : NULL;
    if ((!dir && !w->tloaded) || (dir && w->tloaded && !strcmp(dir, w->tloaded))) {
        free(dir);
        return;
    }
    stm_ctx *t = NULL;
    cs_err e = {0};
    if (dir) {
        bert_params bp = bert_default_params();
        bp.threads = w->p.threads;
        bp.device = w->p.device; /* NULL: $CLIPSEEK_DEVICE, else auto */
        bp.f32 = w->p.f32;
        bp.fit_threads = 1;
        if (stm_load(dir, &bp, &t, &e)) {
            fail(w, &e);
            t = NULL;
        } else if (stm_dim(t) != clip_get_info(w->model)->projection_dim) {
            cs_errc(&e, CS_EINVAL,
                    "%s embeds into %d dimensions, the CLIP model %d: text queries use CLIP's own text tower", dir,
                    stm_dim(t), clip_get_info(w->model)->projection_dim);
            fail(w, &e);
            stm_free(t);
            t = NULL;
        } else
            cs_log(CS_LOG_INFO, "text queries embedded by %s", dir);
    }
    pthread_rwlock_wrlock(&w->model_lock);
    stm_free(w->tmodel);
    w->tmodel = t;
    pthread_rwlock_unlock(&w->model_lock);
    free(w->tloaded);
    w->tloaded = dir;
}

/* The text embedder's folder: $CLIPSEEK_TEXT_EMBEDDER, else the store's "text_embedder_dir"
 * (`model use ... --text-embedder`), else the config's `text_embedder =`; NULL for none. */
static char *embedder_dir_for(index_worker *w) {
    return setting_for(w, "CLIPSEEK_TEXT_EMBEDDER", "text_embedder_dir", rules_text_embedder);
}

static void drop_embedder(index_worker *w) {
    pthread_rwlock_wrlock(&w->model_lock);
    stm_free(w->emb);
    w->emb = NULL;
    free(w->emb_id);
    w->emb_id = NULL;
    free(w->emb_neutral);
    w->emb_neutral = NULL;
    pthread_rwlock_unlock(&w->model_lock);
    free(w->emb_dir);
    w->emb_dir = NULL;
    w->emb_failed = 0;
    pthread_mutex_lock(&w->lock);
    w->st.text_embedder_id[0] = 0;
    w->st.text_pending = 0;
    pthread_mutex_unlock(&w->lock);
}

/* Follows the text embedder's setting: a new folder drops the old embedder and takes the new
 * one's id (a folder that is no model is reported once); nothing is loaded here. */
static void embedder_sync(index_worker *w) {
    char *dir = embedder_dir_for(w);
    if ((!dir && !w->emb_dir) || (dir && w->emb_dir && !strcmp(dir, w->emb_dir))) {
        free(dir);
        return;
    }
    if (!dir) cs_log(CS_LOG_INFO, "no text embedder: its space is no longer searched");
    drop_embedder(w);
    w->emb_dir = dir;
    if (!dir) return;
    cs_err e = {0};
    char *id = stm_detect(dir) ? index_model_id(dir, &e) : NULL;
    if (!id) {
        if (!e.msg[0]) cs_errc(&e, CS_EINVAL, "%s: not a sentence-transformers model folder", dir);
        cs_err f = {0};
        cs_errc(&f, cs_err_code_of(&e), "text embedder: %s", e.msg);
        fail(w, &f);
        w->emb_failed = 1;
        return;
    }
    pthread_rwlock_wrlock(&w->model_lock);
    w->emb_id = id;
    pthread_rwlock_unlock(&w->model_lock);
    pthread_mutex_lock(&w->lock);
    snprintf(w->st.text_embedder_id, sizeof w->st.text_embedder_id, "%s", id);
    pthread_mutex_unlock(&w->lock);
}

/* Loads the text embedder's weights the first time a text entry needs them (to be embedded, or
 * searched: then it has vectors), with its gibberish prompts. Returns 1 when it is loaded. */
static int embedder_ready(index_worker *w) {
    if (w->emb) return 1;
    if (!w->emb_id || w->emb_failed) return 0;
    int64_t *ids = NULL, have = 0;
    size_t n = 0;
    store_missing_text_vectors(w->s, w->emb_id, 1, &ids, &n, NULL);
    free(ids);
    if (!n && (store_vector_count(w->s, w->emb_id, &have, NULL) || !have)) return 0; /* no text yet */
    bert_params bp = bert_default_params();
    bp.threads = w->p.threads;
    bp.device = w->p.device;
    bp.f32 = w->p.f32;
    bp.fit_threads = 1;
    stm_ctx *t = NULL;
    float *neutral = NULL;
    cs_err e = {0};
    if (stm_load(w->emb_dir, &bp, &t, &e) || search_neutral_embed_st(t, &neutral, &e)) {
        cs_err f = {0};
        cs_errc(&f, cs_err_code_of(&e), "text embedder: %s", e.msg);
        fail(w, &f);
        stm_free(t);
        w->emb_failed = 1;
        return 0;
    }
    cs_log(CS_LOG_INFO, "text clips embedded by %s", w->emb_dir);
    pthread_rwlock_wrlock(&w->model_lock);
    w->emb = t;
    w->emb_neutral = neutral;
    pthread_rwlock_unlock(&w->model_lock);
    return 1;
}

/* The text embedder's share of a pass: text entries without a vector in its space. */
static int embedder_pass(index_worker *w) {
    if (!embedder_ready(w)) return 0;
    index_stats st;
    cs_err e = {0};
    if (index_run_text(w->s, w->emb, w->emb_id, 32, &st, &e)) {
        fail(w, &e);
        return 0;
    }
    if (!st.embedded) return 0;
    pthread_mutex_lock(&w->lock);
    w->st.text_indexed += st.embedded;
    w->st.text_pending = st.pending;
    pthread_mutex_unlock(&w->lock);
    return 1;
}

/* Loads the model in dir with dtype dt in place of the current one (first model, or `model use`
 * switched the folder or the dtype). */
static void swap_model(index_worker *w, const char *dir, int dt) {
    /* the organiser holds the model too: it lets go before the model is freed (a switch to a
     * folder that fails to load left it calling into the freed one) */
    if (w->org) org_set_model(w->org, NULL, NULL, NULL);
    drop_model(w);
    cs_err e;
    clip_ctx *c = NULL;
    float *neutral = NULL;
    char *id = index_model_id(dir, &e);
    clip_params cp = clip_default_params();
    cp.threads = w->p.threads;
    cp.f32 = w->p.f32;
    cp.dtype = dt;
    cp.fit_threads = 1; /* next to whatever else the person runs: only the CPUs that are free */
    snprintf(w->weights_dir, sizeof w->weights_dir, "%s/weights", w->p.data_dir);
    cp.cache_dir = w->weights_dir;
    const char *env = getenv("CLIPSEEK_DEVICE");
    char device[64] = "";
    pthread_rwlock_rdlock(&w->rules_lock);
    if (rules_device(w->rules)) snprintf(device, sizeof device, "%s", rules_device(w->rules));
    pthread_rwlock_unlock(&w->rules_lock);
    cp.device = w->p.device ? w->p.device : env && *env ? NULL : device[0] ? device : NULL;
    if (!id || clip_load(dir, &cp, &c, &e)) {
        fail(w, &e);
        c = NULL;
    } else {
        /* the model stays loaded (on the GPU, if it runs on one) until the next swap */
        clip_device dv;
        clip_get_device(c, &dv);
        const char *note = clip_device_note(c, NULL);
        cs_log(CS_LOG_INFO, "indexing with %s on %s%s%s", id, dv.device, note ? "; " : "", note ? note : "");
        if (w->org && org_set_model(w->org, c, id, &e)) fail(w, &e);
        /* embedded once per loaded model, before searches can see it; without (a model with no
         * text tower) a text query cannot be embedded either, and the floor does not adapt */
        if (search_neutral_embed(c, &neutral, &e)) cs_log(CS_LOG_DEBUG, "no gibberish reference: %s", e.msg);
    }
    free(w->loaded);
    w->loaded = strdup(dir);
    w->loaded_dt = dt;
    pthread_mutex_lock(&w->lock);
    w->st.have_model = c != NULL;
    snprintf(w->st.model_id, sizeof w->st.model_id, "%s", c ? id : "");
    pthread_mutex_unlock(&w->lock);
    pthread_rwlock_wrlock(&w->model_lock);
    w->model = c;
    w->model_id = c ? id : NULL;
    w->neutral = neutral;
    pthread_rwlock_unlock(&w->model_lock);
    if (!c) free(id);
}

/* Embeds, then organises, a few entries. Returns 1 if there was anything to do. */
static int one_pass(index_worker *w) {
    cs_err e;
    int busy = 0;
    /* only this thread changes the model: no lock needed to read it here */
    if (w->model) {
        index_stats st;
        if (index_run(w->s, w->model, w->model_id, 32, &st, NULL, NULL, &e))
            fail(w, &e);
        else if (st.embedded + st.failed > 0) {
            busy = 1;
            pthread_mutex_lock(&w->lock);
            w->st.indexed += st.embedded;
            w->st.failed += st.failed;
            pthread_mutex_unlock(&w->lock);
        } else if (!w->emb_dir || w->emb_id) {
            /* the CLIP space and the text embedder's stay; a removed embedder's vectors go (a
             * folder that is set but unreadable keeps them until the setting changes) */
            const char *keep[2] = {w->model_id, w->emb_id};
            store_drop_vectors_except(w->s, keep, 2, NULL, NULL);
        }
    }
    /* text clips into the text embedder's space: after the CLIP vectors, before organising */
    if (embedder_pass(w)) busy = 1;
    /* organising comes after embedding, a few entries at a time, so new clips are searchable by
     * meaning first; OCR (the slowest step) takes two images per pass. The organiser keeps a
     * pointer to the rules: it runs under the read lock and is reopened after a reload. */
    pthread_rwlock_rdlock(&w->rules_lock);
    if (w->org_gen != w->rules_gen) {
        org_close(w->org);
        w->org = NULL;
        w->org_gen = w->rules_gen;
        if (org_open(w->rules, &w->org, &e))
            fail(w, &e); /* a bad label file: no organising */
        else if (w->model && org_set_model(w->org, w->model, w->model_id, &e))
            fail(w, &e);
    }
    if (w->org) {
        org_stats os = {0};
        if (org_text_kinds(w->org, w->s, 64, &os, &e) || org_model(w->org, w->s, 32, &os, &e)) fail(w, &e);
        if (org_ocr(w->org, w->s, 2, &os, &e)) fail(w, &e);
        if (os.kinds + os.ocr + os.organised > 0) {
            busy = 1;
            pthread_mutex_lock(&w->lock);
            w->st.organised += os.organised;
            w->st.ocr_read += os.ocr;
            pthread_mutex_unlock(&w->lock);
        }
    }
    pthread_rwlock_unlock(&w->rules_lock);
    return busy;
}

static void *worker_thread(void *arg) {
    index_worker *w = arg;
    int worked = 0; /* a model was loaded or a pass did work since the heap was last trimmed */
    while (!atomic_load(&w->stop)) {
        pthread_mutex_lock(&w->lock);
        int64_t gen = w->generation;
        pthread_mutex_unlock(&w->lock);
        char *dir = model_dir_for(w);
        int dt = dir ? model_dtype_for(w, dir) : CLIP_DTYPE_DEFAULT;
        if (dir && (!w->loaded || strcmp(dir, w->loaded) || dt != w->loaded_dt)) {
            swap_model(w, dir, dt);
            worked = 1;
        }
        free(dir);
        text_model_sync(w);
        embedder_sync(w);
        pthread_mutex_lock(&w->lock);
        w->st.passes++;
        if (!w->model_checked) {
            w->model_checked = 1;
            pthread_cond_broadcast(&w->idle);
        }
        pthread_mutex_unlock(&w->lock);
        int busy = one_pass(w);
        if (busy)
            worked = 1;
        else if (worked) {
            /* Work done, none left: hand the freed heap back to the system once. A model load's
             * F32 reads and conversion, a batch's images and the towers' workspaces leave tens of
             * MB free inside malloc's arenas, which an idle daemon would otherwise keep resident
             * (docs/performance.md: the 1k + 1k run, 241 -> 190 MB resident). Before the idle signal,
             * so that whoever waits for idle sees it done. */
            malloc_trim(0);
            worked = 0;
            pthread_mutex_lock(&w->lock);
            w->st.trims++;
            pthread_mutex_unlock(&w->lock);
        }
        pthread_mutex_lock(&w->lock);
        if (!busy && gen == w->generation && !atomic_load(&w->stop)) {
            w->st.idle = 1;
            w->idle_generation = gen;
            pthread_cond_broadcast(&w->idle);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 2; /* also look again now and then: `clipseek add` from another process */
            pthread_cond_timedwait(&w->wake, &w->lock, &ts);
            w->generation++; /* a timeout counts as possible outside work */
            w->st.idle = 0;
        }
        pthread_mutex_unlock(&w->lock);
    }
    return NULL;
}

int index_worker_start(const index_worker_params *p, index_worker **out, cs_err *err) {
    *out = NULL;
    index_worker *w = calloc(1, sizeof *w);
    if (!w) return cs_errc(err, CS_ENOMEM, "out of memory");
    w->p = *p;
    w->loaded_dt = -1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->idle, NULL);
    pthread_rwlock_init(&w->model_lock, NULL);
    pthread_rwlock_init(&w->rules_lock, NULL);
    w->rules = p->rules;
    if (store_open(p->data_dir, &w->s, err)) {
        index_worker_free(w);
        return -1;
    }
    cs_err e;
    if (org_open(w->rules, &w->org, &e)) fail(w, &e); /* a bad label file: no organising */
    if (pthread_create(&w->thread, NULL, worker_thread, w) != 0) {
        index_worker_free(w);
        return cs_err_set(err, "cannot start the index thread");
    }
    *out = w;
    return 0;
}

void index_worker_kick(index_worker *w) {
    pthread_mutex_lock(&w->lock);
    w->generation++;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

void index_worker_set_rules(index_worker *w, const rules *r) {
    pthread_rwlock_wrlock(&w->rules_lock); /* waits for a step that reads the old rules */
    w->rules = r;
    w->rules_gen++;
    pthread_rwlock_unlock(&w->rules_lock);
    index_worker_kick(w); /* reopen the organiser now: new rules may organise what the old did not */
}

void index_worker_wait_checked(index_worker *w) {
    pthread_mutex_lock(&w->lock);
    while (!atomic_load(&w->stop) && !w->model_checked) pthread_cond_wait(&w->idle, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

int index_worker_wait_idle(index_worker *w, int64_t *indexed) {
    index_worker_wait_checked(w); /* just started: the model may be loading */
    pthread_mutex_lock(&w->lock);
    if (!w->st.have_model) {
        pthread_mutex_unlock(&w->lock);
        return -1;
    }
    /* wait for an idle pass that started after this request */
    w->generation++;
    int64_t want = w->generation;
    pthread_cond_broadcast(&w->wake);
    while (!atomic_load(&w->stop) && w->idle_generation < want) pthread_cond_wait(&w->idle, &w->lock);
    *indexed = w->st.indexed;
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void index_worker_get_stats(index_worker *w, index_worker_stats *st) {
    pthread_mutex_lock(&w->lock);
    *st = w->st;
    pthread_mutex_unlock(&w->lock);
}

int index_worker_search(index_worker *w, store *s, search_query *q, search_hit **hits, size_t *n, double *embed_ms,
                        cs_err *err) {
    pthread_rwlock_rdlock(&w->model_lock);
    const float *neutral = q->neutral;
    int n_neutral = q->n_neutral;
    if (w->model && w->neutral) {
        q->neutral = w->neutral;
        q->n_neutral = SEARCH_NEUTRAL_N;
    }
    search_embedder emb = {w->emb, w->emb_id, w->emb_neutral};
    int rc =
        search_with_models(s, w->model, w->tmodel, w->model_id, w->emb ? &emb : NULL, q, NULL, hits, n, embed_ms, err);
    q->neutral = neutral;
    q->n_neutral = n_neutral;
    pthread_rwlock_unlock(&w->model_lock);
    return rc;
}

void index_worker_stop(index_worker *w) {
    if (!w || atomic_exchange(&w->stop, 1)) return;
    pthread_mutex_lock(&w->lock);
    pthread_cond_broadcast(&w->wake);
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
}

void index_worker_free(index_worker *w) {
    if (!w) return;
    if (w->org) org_set_model(w->org, NULL, NULL, NULL);
    drop_model(w);
    drop_embedder(w);
    org_close(w->org);
    store_close(w->s);
    free(w->loaded);
    pthread_rwlock_destroy(&w->model_lock);
    pthread_rwlock_destroy(&w->rules_lock);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
