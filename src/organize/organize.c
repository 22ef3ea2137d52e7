/* organize: see organize.h. */
#include "organize.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../capture/secrets.h"
#include "../capture/textkind.h"
#include "../search/vecindex.h"
#include "labels.h"
#include "ocr.h"

struct organizer {
    const rules *rules;
    org_settings set;
    labels *labels;
    ocr *ocr;
    int ocr_off;
    clip_ctx *clip;
    char *model;
    int checked; /* the organised marks were compared with the current settings */
    /* Every entry's kind (image or not), ascending by id, kept in step with the store by reading
     * only the ids past kmax each pass: kinds never change and ids are never reused, so the
     * top-k filters need not list the whole history per pass (that made a backfill O(N^2)). */
    const store *kstore;
    int64_t *kid, kmax;
    unsigned char *kimg;
    size_t kn, kcap;
    /* Where the next pass resumes: entries up to this id were organised (or had no vector) when
     * the current round passed them; a pass that finds fewer than it asked for ends the round. */
    int64_t after;
};

int org_open(const rules *r, organizer **out, cs_err *err) {
    *out = NULL;
    organizer *o = calloc(1, sizeof *o);
    if (!o) return cs_errc(err, CS_ENOMEM, "out of memory");
    o->rules = r;
    o->set = rules_org(r);
    if (labels_load(o->set.labels, &o->labels, err)) {
        free(o);
        return -1;
    }
    *out = o;
    return 0;
}

void org_close(organizer *o) {
    if (!o) return;
    labels_free(o->labels);
    ocr_close(o->ocr);
    free(o->kid);
    free(o->kimg);
    free(o->model);
    free(o);
}

int org_set_model(organizer *o, clip_ctx *c, const char *model_id, cs_err *err) {
    free(o->model);
    o->model = NULL;
    o->clip = NULL;
    o->checked = 0;
    o->after = 0;
    if (!c) return 0;
    if (labels_embed(o->labels, c, err)) return -1;
    o->clip = c;
    o->model = strdup(model_id);
    return o->model ? 0 : cs_errc(err, CS_ENOMEM, "out of memory");
}

int org_text_kinds(organizer *o, store *s, int max, org_stats *st, cs_err *err) {
    (void)o;
    int64_t *ids;
    size_t n;
    if (store_unorganised(s, max, &ids, &n, err)) return -1;
    if (n && store_begin(s, err)) {
        free(ids);
        return -1;
    } /* rules only: milliseconds for the lot */
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        store_entry e;
        int g = store_get(s, ids[i], &e, err);
        if (g) {
            rc = g < 0 ? -1 : 0;
            continue;
        }
        const char *lang;
        const char *k = textkind_classify(e.text, strlen(e.text), &lang);
        rc = store_set_subkind(s, e.id, k, lang, err);
        store_entry_free(&e);
        st->kinds++;
    }
    if (n && store_end(s, !rc, err)) rc = -1;
    free(ids);
    return rc;
}

int org_ocr(organizer *o, store *s, int max, org_stats *st, cs_err *err) {
    if (!o->set.ocr || o->ocr_off) return 0;
    int64_t *ids;
    size_t n;
    if (store_need_ocr(s, max, &ids, &n, err)) return -1;
    if (n && !o->ocr && ocr_open(o->set.ocr_lang, NULL, &o->ocr, err)) {
        o->ocr_off = 1; /* said once; the daemon goes on without OCR */
        free(ids);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        store_entry e;
        int g = store_get(s, ids[i], &e, err);
        if (g) {
            rc = g < 0 ? -1 : 0;
            continue;
        }
        unsigned char *d = NULL;
        size_t len = 0;
        img_rgb im = {0};
        char *text = NULL;
        cs_err ierr;
        /* an unreadable image gets "" so it is not tried again */
        if (store_content(s, &e, &d, &len, &ierr) == 0 && img_decode(d, len, IMG_DEFAULT_MAX_PIXELS, &im, &ierr) == 0)
            ocr_read(o->ocr, &im, 50, &text, &ierr);
        free(d);
        img_free(&im);
        int r = store_set_ocr(s, e.id, text ? text : "", err);
        if (r < 0)
            rc = -1;
        else if (r == 0 && text && *text && o->rules) /* rules on the text read from the image */
            rc = rules_apply(o->rules, s, e.id, RULES_AT_STORE, NULL, err);
        free(text);
        store_entry_free(&e);
        st->ocr++;
    }
    free(ids);
    return rc;
}

/* ---- model-based steps ---- */

/* Brings the kind map up to date: reads the entries added since the last pass. */
static int kinds_sync(organizer *o, store *s, cs_err *err) {
    if (o->kstore != s) { /* another store: start over */
        o->kn = 0;
        o->kmax = 0;
        o->kstore = s;
    }
    int64_t *ids;
    unsigned char *img;
    size_t n;
    if (store_kinds_after(s, o->kmax, &ids, &img, &n, err)) return -1;
    if (o->kn + n > o->kcap) {
        size_t cap = (o->kn + n) * 2;
        int64_t *ni = realloc(o->kid, cap * sizeof *ni);
        if (ni) o->kid = ni;
        unsigned char *nm = ni ? realloc(o->kimg, cap) : NULL;
        if (nm) o->kimg = nm;
        if (!ni || !nm) {
            free(ids);
            free(img);
            return cs_errc(err, CS_ENOMEM, "out of memory");
        }
        o->kcap = cap;
    }
    if (n) {
        memcpy(o->kid + o->kn, ids, n * sizeof *ids);
        memcpy(o->kimg + o->kn, img, n);
        o->kn += n;
        o->kmax = ids[n - 1];
    }
    free(ids);
    free(img);
    return 0;
}

/* 1 image, 0 other kind, -1 unknown (deleted before the map saw it) */
static int kind_of(const organizer *o, int64_t id) {
    size_t lo = 0, hi = o->kn;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (o->kid[m] < id)
            lo = m + 1;
        else
            hi = m;
    }
    return lo < o->kn && o->kid[lo] == id ? o->kimg[lo] : -1;
}

/* What a candidate must be, apart from what changes while a batch is organised (whether it still
 * exists, whether it is in a collection): best_live checks those against the store. */
typedef struct {
    const organizer *o;
    int64_t self;
    int image;
    int earlier;
} filt;

static int keep(int64_t id, void *arg) {
    const filt *f = arg;
    if (id == f->self || (f->earlier && id > f->self)) return 0;
    return kind_of(f->o, id) == f->image;
}

/* The best entry for query j of the batch's scan that passes f and, as the store stands now,
 * still exists and (free_only) is outside every collection. The scan's candidates come in score
 * order under the fixed filter; the changing state is read for those candidates only, so the
 * first that passes is what one top-k filtered by the store's state now would find (the answer
 * of organising entries one by one, each pass re-reading the store). When all k candidates fail,
 * a better one may lie further down: k grows until fewer than k come back. */
static int best_live(store *s, const vecindex_scan *sc, size_t j, filt *f, int free_only, vec_hit *best, int *found,
                     cs_err *err) {
    *found = 0;
    for (int k = 8;; k *= 4) {
        vec_hit *h = NULL;
        size_t nh = 0, nb = 0;
        store_brief *b = NULL;
        if (vecindex_scan_topk(sc, j, k, keep, f, &h, &nh, err)) return -1;
        int64_t *ids = malloc((nh ? nh : 1) * sizeof *ids);
        int rc = ids ? 0 : cs_errc(err, CS_ENOMEM, "out of memory");
        for (size_t i = 0; i < nh && !rc; i++) ids[i] = h[i].entry;
        if (!rc) rc = store_briefs_of(s, ids, nh, &b, &nb, err);
        for (size_t i = 0; i < nh && !rc && !*found; i++) {
            const store_brief *x = store_brief_find(b, nb, h[i].entry);
            if (x && (!free_only || !x->collection)) {
                *best = h[i];
                *found = 1;
            }
        }
        free(b);
        free(ids);
        free(h);
        if (rc || *found || nh < (size_t)k) return rc;
    }
}

static void normalise(float *v, int dim) {
    double n = 0;
    for (int i = 0; i < dim; i++) n += (double)v[i] * v[i];
    if (n > 0)
        for (int i = 0; i < dim; i++) v[i] = (float)(v[i] / sqrt(n));
}

static float dot(const float *a, const float *b, int dim) {
    double d = 0;
    for (int i = 0; i < dim; i++) d += (double)a[i] * b[i];
    return (float)d;
}

static const char *const STOP[] = {
    "the",  "and",   "for",   "with",  "that",   "this", "from",  "are", "was", "were",  "you",  "your", "have",
    "has",  "not",   "but",   "all",   "can",    "will", "into",  "out", "our", "its",   "his",  "her",  "they",
    "them", "their", "there", "what",  "which",  "when", "who",   "how", "why", "about", "also", "then", "than",
    "been", "being", "would", "could", "should", "http", "https", "www", "com", "org",   "html", NULL};

static int stopword(const char *w) {
    for (int i = 0; STOP[i]; i++)
        if (!strcmp(STOP[i], w)) return 1;
    return 0;
}

typedef struct {
    char w[40];
    int df, last;
} wcount;

/* Up to two words most members share, "" if none is shared by at least two members. */
static void salient_words(store *s, int64_t coll, char *out, size_t outn) {
    out[0] = 0;
    int64_t *ids;
    size_t n;
    cs_err e;
    if (store_collection_members(s, coll, 32, &ids, &n, &e)) return;
    wcount *wc = NULL;
    size_t nw = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        store_entry en;
        if (store_get(s, ids[i], &en, &e)) continue;
        /* never name a collection after a secret's pieces, nor after a key read from a screenshot
         * (images have no text kind: their OCR text is checked here) */
        const char *t = en.subkind && !strcmp(en.subkind, "secret") ? NULL : en.text ? en.text : en.ocr_text;
        if (t && !en.text && secrets_find(t, strlen(t), NULL) != 0) t = NULL;
        for (const char *p = t; p && *p;) {
            while (*p && !isalnum((unsigned char)*p)) p++;
            char w[40];
            size_t k = 0;
            int alpha = 0;
            while (*p && isalnum((unsigned char)*p)) {
                if (k + 1 < sizeof w) w[k++] = (char)tolower((unsigned char)*p);
                alpha |= isalpha((unsigned char)*p);
                p++;
            }
            w[k] = 0;
            if (k < 3 || !alpha || stopword(w)) continue;
            size_t j = 0;
            while (j < nw && strcmp(wc[j].w, w)) j++;
            if (j == nw) {
                if (nw == cap) {
                    wcount *nn = realloc(wc, (cap = cap ? cap * 2 : 64) * sizeof *nn);
                    if (!nn) break;
                    wc = nn;
                }
                memset(&wc[nw], 0, sizeof wc[nw]);
                snprintf(wc[nw].w, sizeof wc[nw].w, "%s", w);
                wc[nw].last = -1;
                nw++;
            }
            if (wc[j].last != (int)i) {
                wc[j].df++;
                wc[j].last = (int)i;
            }
        }
        store_entry_free(&en);
    }
    free(ids);
    int need = n < 4 ? 2 : (int)(n + 1) / 2, got = 0;
    for (int pick = 0; pick < 2; pick++) {
        int best = -1;
        for (size_t j = 0; j < nw; j++)
            if (wc[j].df >= need && (best < 0 || wc[j].df > wc[best].df)) best = (int)j;
        if (best < 0) break;
        size_t l = strlen(out);
        snprintf(out + l, outn - l, "%s%s", got ? " " : "", wc[best].w);
        wc[best].df = 0;
        got++;
    }
    free(wc);
}

/* Names a collection (unless the user did): shared words, else the nearest label; unique. */
static void auto_name(organizer *o, store *s, int64_t coll, const float *centroid, int dim) {
    char name[96];
    salient_words(s, coll, name, sizeof name);
    if (!name[0]) {
        float conf;
        int b = labels_classify(o->labels, centroid, dim, &conf);
        snprintf(name, sizeof name, "%s", b >= 0 ? labels_name(o->labels, b) : "collection");
    }
    char uniq[112];
    snprintf(uniq, sizeof uniq, "%s", name);
    cs_err e;
    for (int k = 2; k < 1000; k++) {
        int64_t other;
        if (store_collection_find(s, uniq, &other, &e) != 0 || other == coll) break;
        snprintf(uniq, sizeof uniq, "%s %d", name, k);
    }
    store_collection_rename(s, coll, uniq, 0, &e);
}

static int power_of_two(int64_t x) { return x > 0 && (x & (x - 1)) == 0; }

/* Puts entry e (unit vector v) into a collection, if one fits. */
/* The collections of one organising pass, read once and kept in step with the store as entries
 * join (a history with thousands of collections is not re-read per entry). */
typedef struct {
    store_collection *cs;
    size_t n, cap;
} coll_cache;

static void coll_cache_free(coll_cache *cc) {
    for (size_t i = 0; i < cc->n; i++) store_collection_free(&cc->cs[i]);
    free(cc->cs);
    memset(cc, 0, sizeof *cc);
}

/* Puts entry id (unit vector v) into a collection, if one fits. */
static int collect(organizer *o, store *s, const vecindex_scan *sc, size_t j, filt *f, coll_cache *cc, int64_t id,
                   const float *v, int dim, org_stats *st, cs_err *err) {
    int best = -1;
    float bc = -2;
    for (size_t i = 0; i < cc->n; i++) {
        const store_collection *c = &cc->cs[i];
        if (!c->centroid || c->dim != dim || !c->model || strcmp(c->model, o->model)) continue;
        float d = dot(c->centroid, v, dim);
        if (d > bc) {
            bc = d;
            best = (int)i;
        }
    }
    int rc = 0;
    float thr = o->set.collection_threshold;
    if (best >= 0 && bc >= thr) {
        store_collection *c = &cc->cs[best];
        for (int k = 0; k < dim; k++) c->centroid[k] = c->centroid[k] * (float)c->members + v[k];
        normalise(c->centroid, dim);
        rc = store_set_collection(s, id, c->id, err) < 0 ||
                     store_collection_set_centroid(s, c->id, o->model, c->centroid, dim, err)
                 ? -1
                 : 0;
        if (!rc) {
            st->collected++;
            c->members++;
            if (!c->user_named && power_of_two(c->members)) auto_name(o, s, c->id, c->centroid, dim);
        }
        return rc;
    }
    f->earlier = 0;
    vec_hit h[1];
    int found = 0;
    rc = best_live(s, sc, j, f, 1, h, &found, err);
    if (!rc && found && h[0].score >= thr) {
        float *u = malloc((size_t)dim * sizeof *u), *cen = malloc((size_t)dim * sizeof *cen);
        int64_t cid = 0;
        if (!u || !cen)
            rc = cs_errc(err, CS_ENOMEM, "out of memory");
        else if (store_get_vector(s, h[0].entry, o->model, 0, u, dim, err) != 0)
            memcpy(u, v, (size_t)dim * sizeof *u);
        if (!rc) {
            for (int k = 0; k < dim; k++) cen[k] = v[k] + u[k];
            normalise(cen, dim);
            rc = store_collection_create(s, "new collection", 0, o->model, cen, dim, &cid, err);
        }
        if (!rc)
            rc =
                store_set_collection(s, id, cid, err) < 0 || store_set_collection(s, h[0].entry, cid, err) < 0 ? -1 : 0;
        if (!rc) {
            st->collected += 2;
            auto_name(o, s, cid, cen, dim);
            /* the pair is in a collection now: keep the cache true to the store */
            if (cc->n == cc->cap) {
                size_t ncap = cc->cap ? cc->cap * 2 : 16;
                store_collection *ncs = realloc(cc->cs, ncap * sizeof *ncs);
                if (ncs) {
                    cc->cs = ncs;
                    cc->cap = ncap;
                }
            }
            if (cc->n < cc->cap) {
                store_collection *c = &cc->cs[cc->n];
                memset(c, 0, sizeof *c);
                c->id = cid;
                c->members = 2;
                c->dim = dim;
                c->centroid = cen;
                c->model = strdup(o->model);
                cen = NULL; /* the cache owns it now */
                cc->n++;
            }
        }
        free(u);
        free(cen);
    }
    return rc;
}

/* The organised marks name the model and the settings that shaped them. */
static void model_key(const organizer *o, char *out, size_t n) {
    snprintf(out, n, "%s/%.12s/%.3f/%.3f", o->model, labels_digest(o->labels), o->set.duplicate_threshold,
             o->set.collection_threshold);
}

int org_model(organizer *o, store *s, int max, org_stats *st, cs_err *err) {
    if (!o->clip) return 0;
    char key[512];
    model_key(o, key, sizeof key);
    if (!o->checked) {
        char *prev = NULL;
        store_meta_get(s, "organised_with", &prev, NULL);
        if (!prev || strcmp(prev, key)) {
            if (store_reset_organised(s, err) || store_meta_set(s, "organised_with", key, err)) {
                free(prev);
                return -1;
            }
        }
        free(prev);
        o->checked = 1;
        o->after = 0;
    }
    int64_t *ids;
    size_t n;
    if (store_need_organise_after(s, o->model, key, o->after, max, &ids, &n, err)) return -1;
    /* a short answer ends the round: the next pass starts from the oldest again, where entries
     * that got their vectors meanwhile (or were reset) wait */
    int64_t resume = n && (max <= 0 || n == (size_t)max) ? ids[n - 1] : 0;
    if (!n) {
        free(ids);
        o->after = 0;
        return 0;
    }
    int dim = clip_get_info(o->clip)->projection_dim, rc = 0;
    vecindex *vi = NULL;
    vecindex_scan *sc = NULL;
    filt f = {o, 0, 0, 0};
    /* every vector of the batch first: one pass over the search matrix scores them all */
    float *q = malloc(n * (size_t)dim * sizeof *q);
    size_t *row = malloc(n * sizeof *row), nq = 0;
    if (!q || !row) rc = cs_errc(err, CS_ENOMEM, "out of memory");
    for (size_t i = 0; i < n && !rc; i++) {
        int g = store_get_vector(s, ids[i], o->model, 0, q + nq * (size_t)dim, dim, err);
        if (g < 0) rc = -1;
        row[i] = g == 0 ? nq++ : SIZE_MAX;
    }
    if (!rc) rc = vecindex_open(s, o->model, &vi, err);
    if (!rc) rc = kinds_sync(o, s, err); /* after the open: every row's entry is in the map */
    if (!rc) rc = vecindex_scan_open(vi, q, nq, &sc, err);
    coll_cache cc = {0};
    if (!rc) {
        rc = store_collections(s, &cc.cs, &cc.n, err);
        cc.cap = cc.n;
    }
    /* writes in groups of 8 entries: one commit (fsync) per group, and capture waits at most a
     * group's worth of work for the write lock */
    int in_tx = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!in_tx) {
            if (store_begin(s, err)) {
                rc = -1;
                break;
            }
            in_tx = 1;
        }
        if (i % 8 == 7 || i + 1 == n) in_tx = 2; /* commit after this one */
        store_entry e;
        int g = store_get(s, ids[i], &e, err);
        if (g) {
            rc = g < 0 ? -1 : 0;
            if (in_tx == 2) {
                if (store_end(s, !rc, err)) rc = -1;
                in_tx = 0;
            }
            continue;
        }
        const char *cat = NULL;
        float conf = 0;
        int64_t dup = 0;
        int has = row[i] != SIZE_MAX, image = !strcmp(e.kind, "image");
        const float *v = has ? q + row[i] * (size_t)dim : NULL;
        f.self = e.id;
        f.image = image;
        if (has && image) {
            int b = labels_classify(o->labels, v, dim, &conf);
            cat = b >= 0 ? labels_name(o->labels, b) : NULL;
            /* near-duplicates: the nearest earlier image */
            f.earlier = 1;
            vec_hit h[1];
            int found = 0;
            if (best_live(s, sc, row[i], &f, 0, h, &found, err))
                rc = -1;
            else if (found && h[0].score >= o->set.duplicate_threshold) {
                store_entry d;
                if (store_get(s, h[0].entry, &d, err) == 0) {
                    dup = d.dup_of ? d.dup_of : d.id;
                    st->duplicates++;
                }
                store_entry_free(&d);
            }
        }
        if (!rc) rc = store_set_organised(s, e.id, key, cat, conf, dup, err) < 0 ? -1 : 0;
        if (!rc && cat) {
            st->categorised++;
            int deleted = 0;
            if (o->rules) rc = rules_apply(o->rules, s, e.id, RULES_AFTER_CATEGORY, &deleted, err);
            if (deleted) {
                st->deleted++;
                has = 0;
            } else if (!rc && o->rules) { /* a rule may have put it in a collection: that choice stands */
                store_entry now;
                if (store_get(s, e.id, &now, err) == 0) e.collection = now.collection;
                store_entry_free(&now);
            }
        }
        if (!rc && has && !e.collection) rc = collect(o, s, sc, row[i], &f, &cc, e.id, v, dim, st, err);
        store_entry_free(&e);
        st->organised++;
        if (in_tx == 2 || rc) {
            if (store_end(s, !rc, err)) rc = -1;
            in_tx = 0;
        }
    }
    if (in_tx) store_end(s, 0, NULL);
    o->after = rc ? 0 : resume;
    coll_cache_free(&cc);
    vecindex_scan_close(sc);
    vecindex_close(vi);
    free(row);
    free(q);
    free(ids);
    return rc;
}
