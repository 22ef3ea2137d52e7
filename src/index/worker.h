/* worker: the daemon's index thread: embeds new entries, then organises them (text kinds, OCR,
 * categories, near-duplicates, collections; organize.h), and holds the loaded model, which
 * searches share.
 *
 * The model is the one in use (index_worker_params.model_dir, else $CLIPSEEK_MODEL, else the
 * store's "model_dir" setting that `clipseek model use` writes); it is looked up again before
 * every pass, so a `model use` while the daemon runs swaps it (hot swap): searches hold the
 * model for reading while they embed, the swap waits for them and frees the old one. So is its
 * dtype (index_worker_params.dtype, else the store's "model_dtype" that `model use --dtype`
 * writes, when the model is the stored one): a change loads the same folder again. F16/Q8
 * weights converted on the CPU are kept in <data dir>/weights (model/lpcache.h).
 *
 * The worker is woken by index_worker_kick (a clip was stored) and also looks again every 2 s
 * (`clipseek add` from another process stores without telling it). Each pass embeds at most 32
 * entries and organises a few, so a search is never held up long by a model swap; the store is
 * its own connection. */
#ifndef INDEX_WORKER_H
#define INDEX_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "../config/rules.h"
#include "../search/search.h"
#include "../store/store.h"

typedef struct index_worker_params {
    const char *data_dir;  /* borrowed: outlives the worker */
    const char *model_dir; /* NULL: $CLIPSEEK_MODEL, then the store's "model_dir" setting */
    int threads;           /* compute threads (0: default) */
    const char *device;    /* model/backend.h names; NULL: CLIPSEEK_DEVICE, then the config's */
    int f32;               /* a GPU keeps F32 weights (else F16) */
    int dtype;             /* CLIP_DTYPE_* on the CPU; DEFAULT: the store's "model_dtype", else per tower */
    const rules *rules;    /* borrowed: the organiser's label file and rules, the config's device
                            * (replaced by index_worker_set_rules after a reload) */
    /* each failure of a pass (a model that does not load, a store error), for the daemon's
     * last_error; called on the worker's thread; may be NULL */
    void (*on_error)(const char *msg, void *arg);
    void *arg;
} index_worker_params;

/* index_worker_params with everything off and no callback. */
index_worker_params index_worker_default_params(void);

typedef struct index_worker_stats {
    int64_t indexed, failed;     /* entries embedded, and those that could not be */
    int64_t organised, ocr_read; /* entries organised, images read by OCR */
    int64_t passes;              /* passes begun (evidence a pass has run) */
    int64_t trims;               /* times the heap was handed back (malloc_trim) when work ran out */
    int idle;                    /* waiting for work */
    int have_model;
    char model_id[256]; /* "" without a model */
    /* the text embedder (docs/text-models.md): its id ("" without one), the text entries it has
     * embedded since start, and those still waiting for a vector in its space (backfill) */
    char text_embedder_id[256];
    int64_t text_indexed, text_pending;
} index_worker_stats;

typedef struct index_worker index_worker;

/* Starts the worker thread (it opens its own store connection). Fails with CS_ENOMEM, or when
 * the thread cannot be created; a model or label file that does not load is not a failure here
 * but reported through on_error. */
int index_worker_start(const index_worker_params *p, index_worker **out, cs_err *err);

/* A clip was stored: start a pass now rather than at the next 2 s look. Thread-safe. */
void index_worker_kick(index_worker *w);

/* The config was reloaded: the worker uses r from now on (the organiser is reopened on it before
 * its next step; a label file that does not load is reported through on_error and organising
 * stops until the next reload). r is borrowed like index_worker_params.rules. Once this returns
 * the worker no longer reads the previous rules, so the caller may free them. Thread-safe. */
void index_worker_set_rules(index_worker *w, const rules *r);

/* Blocks until the worker has tried to load a model once (just after start), or is stopping. */
void index_worker_wait_checked(index_worker *w);

/* Blocks until a pass that began after this call found nothing to do, or the worker stops.
 * Returns 0 with *indexed (entries embedded since start), or -1 when there is no model in use
 * (nothing would ever be indexed). Thread-safe. */
int index_worker_wait_idle(index_worker *w, int64_t *indexed);

/* A snapshot of the counters. Thread-safe. */
void index_worker_get_stats(index_worker *w, index_worker_stats *st);

/* search_with_model (search_model.h) with the worker's model, if one is loaded (else full text
 * only); s is the caller's store connection. Thread-safe: searches run concurrently. */
int index_worker_search(index_worker *w, store *s, search_query *q, search_hit **hits, size_t *n, double *embed_ms,
                        cs_err *err);

/* Stops the thread (it finishes its current step) and wakes every waiter. NULL is a no-op. */
void index_worker_stop(index_worker *w);

/* Frees a stopped worker and its model. NULL is a no-op. */
void index_worker_free(index_worker *w);

#endif
