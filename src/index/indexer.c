/* indexer: see indexer.h. */
#include "indexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_file.h"
#include "../image/image.h"

int index_store_dtype(store *s, const char *dir) {
    int dt = CLIP_DTYPE_DEFAULT;
    char *v = NULL;
    if (store_meta_get(s, "model_dtype", &v, NULL) == 0 && v) {
        clip_dtype_parse(v, &dt, NULL); /* an unknown value leaves the default */
        free(v);
        return dt;
    }
    if (store_meta_get(s, "default_dtype", &v, NULL) == 0 && v) {
        clip_dtype_parse(v, &dt, NULL);
        free(v);
        return dt;
    }
    char *id = index_model_id(dir, NULL);
    int64_t n = 0;
    if (id && store_vector_count(s, id, &n, NULL) == 0) {
        dt = n > 0 ? CLIP_DTYPE_F32 : CLIP_DTYPE_DEFAULT;
        store_meta_set(s, "default_dtype", clip_dtype_name(dt), NULL); /* not kept: decided again next time */
    }
    free(id);
    return dt;
}

char *index_model_id(const char *dir, cs_err *err) {
    /* hash config.json and the safetensors header(s): weights are large, headers name every
     * tensor with its shape, dtype and offsets, and config.json fixes the geometry.
     * A PyTorch checkpoint (pytorch_model.bin) counts only where no safetensors file is there
     * (the loader prefers safetensors, and ids of safetensors folders must not change): its last
     * 64 KB, which for the zip layout is the central directory with every storage's CRC-32. */
    const char *files[] = {"config.json", "model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                           "pytorch_model.bin.index.json"};
    size_t cap = 1 << 16, n = 0;
    int have_st = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < 5; i++) {
        char *p = cs_path_join(dir, files[i]);
        cs_map m = {0};
        if (i >= 3 && have_st) {
            free(p);
            continue;
        }
        if (p && cs_is_file(p) && cs_map_file(p, &m, NULL) == 0 && m.data) {
            size_t take = m.len;
            const unsigned char *from = m.data;
            if (i == 1 || i == 2) have_st = 1;
            if (i == 1 && m.len >= 8) { /* only the header of the weights file */
                uint64_t hl = 0;
                for (int b = 7; b >= 0; b--) hl = (hl << 8) | m.data[b];
                take = hl + 8 < m.len ? (size_t)hl + 8 : m.len;
            }
            if (i == 3 && m.len > (1u << 16)) {
                take = 1u << 16;
                from = m.data + m.len - take;
            }
            if (n + take > cap) {
                while (n + take > cap) cap *= 2;
                unsigned char *nb = realloc(buf, cap);
                if (!nb) {
                    cs_unmap(&m);
                    free(p);
                    free(buf);
                    cs_errc(err, CS_ENOMEM, "out of memory");
                    return NULL;
                }
                buf = nb;
            }
            memcpy(buf + n, from, take);
            n += take;
            cs_unmap(&m);
        }
        free(p);
    }
    if (n == 0) {
        free(buf);
        cs_err_set(err, "%s: no config.json or weights", dir);
        return NULL;
    }
    char sha[65];
    store_sha256_hex(buf, n, sha);
    free(buf);
    size_t bl = strlen(dir);
    while (bl > 1 && dir[bl - 1] == '/') bl--; /* "models/x/" -> "x" */
    const char *base = dir;
    for (size_t i = 0; i + 1 < bl; i++)
        if (dir[i] == '/') base = dir + i + 1;
    size_t len = (size_t)(dir + bl - base);
    char *id = malloc(len + 16);
    if (!id) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(id, len + 16, "%.*s-%.12s", (int)len, base, sha);
    return id;
}

int index_text_windows(const int32_t *ids, size_t n, int32_t bos, int32_t eos, int32_t **win, size_t *lens, int max) {
    /* content is ids[1 .. n-2] */
    size_t content = n >= 2 ? n - 2 : 0, stride = INDEX_WINDOW - INDEX_OVERLAP;
    int k = 0;
    for (size_t start = 0; k < max; start += stride) {
        size_t take = content - start < INDEX_WINDOW ? content - start : INDEX_WINDOW;
        int32_t *w = malloc((take + 2) * sizeof *w);
        if (!w) break;
        w[0] = bos;
        memcpy(w + 1, ids + 1 + start, take * sizeof *w);
        w[take + 1] = eos;
        win[k] = w;
        lens[k] = take + 2;
        k++;
        if (start + take >= content) break;
    }
    return k;
}

static int mark_failed(store *s, int64_t id, const char *model, index_stats *st, cs_err *err) {
    st->failed++;
    return store_put_vector(s, id, model, -1, NULL, 0, err) < 0 ? -1 : 0;
}

/* Single-window texts wait here to be written with the next batch: one commit (one fsync) for
 * many short texts instead of one each. */
#define TEXT_BATCH 32
typedef struct text_pending {
    float *v; /* TEXT_BATCH x projection_dim */
    int64_t ids[TEXT_BATCH];
    int n;
} text_pending;

/* Embeds e's text; a single window goes to tp (written by the caller), several are written now
 * in one transaction. */
static int embed_text_entry(store *s, clip_ctx *c, const store_entry *e, const char *model, text_pending *tp,
                            index_stats *st, cs_err *err) {
    const clip_info *in = clip_get_info(c);
    int32_t *ids;
    size_t n;
    if (clip_tokenize(c, e->text, strlen(e->text), 0, &ids, &n, err)) return -1;
    int32_t *win[INDEX_MAX_WINDOWS];
    size_t lens[INDEX_MAX_WINDOWS];
    int max = in->max_positions - 2 < INDEX_WINDOW ? 1 : INDEX_MAX_WINDOWS; /* tiny contexts: one window */
    int k = index_text_windows(ids, n, in->bos_id, in->eos_id, win, lens, max);
    free(ids);
    for (int i = 0; i < k; i++)
        if ((int)lens[i] > in->max_positions) {
            lens[i] = (size_t)in->max_positions;
            win[i][lens[i] - 1] = in->eos_id;
        }
    int P = in->projection_dim, rc = 0;
    float *v = malloc((size_t)(k > 0 ? k : 1) * P * sizeof *v);
    if (!v) rc = cs_errc(err, CS_ENOMEM, "out of memory");
    for (int i = 0; i < k && !rc; i += 16) {
        int b = k - i < 16 ? k - i : 16;
        rc = clip_text_embed(c, (const int32_t *const *)win + i, lens + i, b, 1, v + (size_t)i * P, err);
    }
    int queued = !rc && k == 1 && tp->n < TEXT_BATCH;
    if (queued) { /* written and counted with the next batch */
        memcpy(tp->v + (size_t)tp->n * P, v, (size_t)P * sizeof *v);
        tp->ids[tp->n++] = e->id;
    } else if (!rc) {
        /* one commit for all the windows of the entry */
        if (k > 1) rc = store_begin(s, err);
        for (int i = 0; i < k && !rc; i++)
            rc = store_put_vector(s, e->id, model, i, v + (size_t)i * P, P, err) < 0 ? -1 : 0;
        if (k > 1 && store_end(s, !rc, err)) rc = -1;
    }
    for (int i = 0; i < k; i++) free(win[i]);
    free(v);
    if (!rc && !queued) {
        st->embedded++;
        st->windows += k;
    }
    return rc;
}

int index_run(store *s, clip_ctx *c, const char *model, int64_t max_entries, index_stats *st,
              index_progress_fn progress, void *arg, cs_err *err) {
    memset(st, 0, sizeof *st);
    const clip_info *in = clip_get_info(c);
    int S = in->image_size, P = in->projection_dim;
    enum { BATCH = 8 };
    size_t per = (size_t)3 * S * S;
    float *px = malloc(per * BATCH * sizeof *px), *v = malloc((size_t)BATCH * P * sizeof *v);
    text_pending tp = {malloc((size_t)TEXT_BATCH * P * sizeof(float)), {0}, 0};
    if (!px || !v || !tp.v) {
        free(px);
        free(v);
        free(tp.v);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    int rc = 0;
    int64_t done = 0;
    while (!rc && (max_entries <= 0 || done < max_entries)) {
        int64_t *ids;
        size_t n;
        if (store_missing_vectors(s, model, 64, &ids, &n, err)) {
            rc = -1;
            break;
        }
        if (n == 0) {
            free(ids);
            break;
        }
        int64_t batch_ids[BATCH];
        int nb = 0;
        for (size_t i = 0; i <= n && !rc; i++) {
            /* flush the image batch when full or at the end, the waiting texts with it; texts
             * alone when their buffer is full (the image batch is never cut short by them) */
            int end = i == n || (max_entries > 0 && done >= max_entries);
            int img = nb && (nb == BATCH || end), txt = tp.n && (tp.n == TEXT_BATCH || end);
            if (img || txt) {
                if (img && clip_vision_forward(c, px, nb, 1, NULL, v, err)) {
                    rc = -1;
                    break;
                }
                int w = img ? nb : 0;
                rc = store_begin(s, err); /* one commit for the batch */
                for (int j = 0; j < w && !rc; j++)
                    rc = store_put_vector(s, batch_ids[j], model, 0, v + (size_t)j * P, P, err) < 0 ? -1 : 0;
                for (int j = 0; j < tp.n && !rc; j++)
                    rc = store_put_vector(s, tp.ids[j], model, 0, tp.v + (size_t)j * P, P, err) < 0 ? -1 : 0;
                if (store_end(s, !rc, err)) rc = -1;
                if (rc) break;
                st->embedded += w + tp.n;
                st->windows += w + tp.n;
                if (img) nb = 0;
                tp.n = 0;
            }
            if (end) break;
            store_entry e;
            int g = store_get(s, ids[i], &e, err);
            done++;
            if (g == 1) continue; /* deleted meanwhile */
            if (g < 0) {
                rc = -1;
                break;
            }
            if (e.text) {
                rc = embed_text_entry(s, c, &e, model, &tp, st, err);
            } else {
                unsigned char *d = NULL;
                size_t len = 0;
                img_rgb im;
                cs_err ierr;
                int bad = store_content(s, &e, &d, &len, &ierr) != 0;
                if (!bad) {
                    bad = img_decode(d, len, 0, &im, &ierr) != 0;
                    free(d);
                }
                if (!bad) {
                    bad = clip_preprocess(c, &im, px + per * nb, &ierr) != 0;
                    img_free(&im);
                }
                if (bad)
                    rc = mark_failed(s, e.id, model, st, err);
                else
                    batch_ids[nb++] = e.id;
            }
            store_entry_free(&e);
        }
        free(ids);
        if (!rc && progress) progress(st, arg);
    }
    free(px);
    free(v);
    free(tp.v);
    return rc;
}

int index_run_text(store *s, stm_ctx *t, const char *model_id, int64_t max_entries, index_stats *st, cs_err *err) {
    memset(st, 0, sizeof *st);
    int D = stm_dim(t), rc = 0;
    int64_t done = 0;
    float *v = malloc((size_t)TEXT_BATCH * (size_t)D * sizeof *v);
    if (!v) return cs_errc(err, CS_ENOMEM, "out of memory");
    while (!rc && (max_entries <= 0 || done < max_entries)) {
        int64_t *ids;
        size_t n;
        if (store_missing_text_vectors(s, model_id, TEXT_BATCH, &ids, &n, err)) {
            rc = -1;
            break;
        }
        if (n == 0) {
            free(ids);
            break;
        }
        /* one batch: read the texts, embed each (the encoder takes texts of any length one by
         * one without padding), then one commit */
        store_entry es[TEXT_BATCH];
        int64_t got[TEXT_BATCH];
        int m = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            int g = store_get(s, ids[i], &es[m], err);
            done++;
            if (g == 1) continue; /* deleted meanwhile */
            if (g < 0) {
                rc = -1;
                break;
            }
            got[m++] = ids[i];
        }
        free(ids);
        for (int i = 0; i < m && !rc; i++) {
            const char *txt = es[i].text ? es[i].text : "";
            rc = stm_embed_texts(t, &txt, 1, 1, v + (size_t)i * D, err);
        }
        if (!rc && m) {
            rc = store_begin(s, err);
            for (int i = 0; i < m && !rc; i++)
                rc = store_put_vector(s, got[i], model_id, 0, v + (size_t)i * D, D, err) < 0 ? -1 : 0;
            if (store_end(s, !rc, err)) rc = -1;
        }
        for (int i = 0; i < m; i++) store_entry_free(&es[i]);
        if (!rc) st->embedded += m, st->windows += m;
    }
    free(v);
    int64_t texts;
    if (!rc && st->embedded) rc = store_text_counts(s, model_id, &texts, &st->pending, err); /* for status */
    return rc;
}
