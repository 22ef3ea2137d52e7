/* search: see search.h. */
#include "search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/cs_utf8.h"

char *search_fts_query(const char *text) {
    if (!text) return NULL;
    size_t n = strlen(text);
    char *out = malloc(n * 3 + 3), *o = out;
    if (!out) return NULL;
    int in_word = 0, words = 0;
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = cs_utf8_next(t + i, n - i, &cp);
        /* a word character: ASCII letters and digits, or any non-ASCII scalar (unicode61 decides) */
        int w = cp > 127 || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
        if (w && !in_word) { if (words) *o++ = ' '; *o++ = '"'; words++; }
        if (!w && in_word) *o++ = '"';
        if (w) { memcpy(o, t + i, k); o += k; }
        in_word = w;
        i += k;
    }
    if (in_word) *o++ = '"';
    *o = 0;
    if (!words) { free(out); return NULL; }
    return out;
}

typedef struct { store_brief *b; size_t n; const search_query *q; } filt;

static const store_brief *find_brief(const filt *f, int64_t id) {
    size_t lo = 0, hi = f->n;
    while (lo < hi) {
        size_t m = (lo + hi) / 2;
        if (f->b[m].id == id) return &f->b[m];
        if (f->b[m].id < id) lo = m + 1; else hi = m;
    }
    return NULL;
}

static int keep_entry(int64_t id, void *arg) {
    const filt *f = arg;
    const store_brief *b = find_brief(f, id);
    if (!b || id == f->q->exclude) return 0; /* deleted since its vector was written, or excluded */
    if (f->q->kind && strcmp(b->kind, f->q->kind) && strcmp(b->subkind, f->q->kind)) return 0;
    if (f->q->since_ms && b->last_ms < f->q->since_ms) return 0;
    if (f->q->collection && b->collection != f->q->collection) return 0;
    if (f->q->category && strcasecmp(b->category, f->q->category)) return 0;
    return 1;
}

typedef struct { search_hit h; int64_t seq; } scored;

static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->h.score != y->h.score) return x->h.score < y->h.score ? 1 : -1;
    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

int search_run(store *s, const search_query *q, search_hit **hits, size_t *n, cs_err *err) {
    *hits = NULL;
    *n = 0;
    filt f = {NULL, 0, q};
    if (store_briefs(s, &f.b, &f.n, err)) return -1;
    scored *all = NULL;
    size_t na = 0, cap = 0;
    int rc = 0;
    /* full text */
    char *fq = search_fts_query(q->text);
    if (fq) {
        int64_t *ids;
        size_t m;
        rc = store_fts(s, fq, SEARCH_DEPTH * 4, &ids, &m, err);
        int rank = 0;
        for (size_t i = 0; !rc && i < m && rank < SEARCH_DEPTH; i++) {
            if (!keep_entry(ids[i], &f)) continue;
            if (na == cap) {
                cap = cap ? cap * 2 : 256;
                scored *nn = realloc(all, cap * sizeof *nn);
                if (!nn) { rc = cs_err_set(err, "out of memory"); break; }
                all = nn;
            }
            rank++;
            all[na++] = (scored){{ids[i], 1.0 / (SEARCH_RRF_K + rank), SEARCH_TEXT, 0}, find_brief(&f, ids[i])->seq};
        }
        free(ids);
        free(fq);
    }
    /* meaning */
    if (!rc && q->qvec && q->vecs) {
        vec_hit *vh;
        size_t m;
        rc = vecindex_topk(q->vecs, q->qvec, SEARCH_DEPTH, keep_entry, &f, &vh, &m, err);
        for (size_t i = 0; !rc && i < m; i++) {
            double add = 1.0 / (SEARCH_RRF_K + (int)i + 1);
            size_t j = 0;
            while (j < na && all[j].h.id != vh[i].entry) j++;
            if (j < na) {
                all[j].h.score += add;
                all[j].h.signals |= SEARCH_MEANING;
                all[j].h.cosine = vh[i].score;
                continue;
            }
            if (na == cap) {
                cap = cap ? cap * 2 : 256;
                scored *nn = realloc(all, cap * sizeof *nn);
                if (!nn) { rc = cs_err_set(err, "out of memory"); break; }
                all = nn;
            }
            all[na++] = (scored){{vh[i].entry, add, SEARCH_MEANING, vh[i].score}, find_brief(&f, vh[i].entry)->seq};
        }
        free(vh);
    }
    free(f.b);
    if (rc) { free(all); return -1; }
    if (na > 1) qsort(all, na, sizeof *all, by_score); /* all is NULL when nothing matched */
    size_t k = na < (size_t)q->limit ? na : (size_t)q->limit;
    search_hit *out = malloc((k ? k : 1) * sizeof *out);
    if (!out) { free(all); return cs_err_set(err, "out of memory"); }
    for (size_t i = 0; i < k; i++) out[i] = all[i].h;
    free(all);
    *hits = out;
    *n = k;
    return 0;
}
