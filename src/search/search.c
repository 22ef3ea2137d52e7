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

/* listed: b holds every entry that passes the filters (sorted by id); 0 on the unfiltered fast
 * path, where candidates are looked up afterwards instead of listing every entry first */
typedef struct { store_brief *b; size_t n; const search_query *q; int listed; } filt;

static const store_brief *find_brief(const filt *f, int64_t id) { return store_brief_find(f->b, f->n, id); }

static int keep_entry(int64_t id, void *arg) {
    const filt *f = arg;
    if (id == f->q->exclude) return 0;
    return !f->listed || find_brief(f, id) != NULL;
}

typedef struct { search_hit h; int64_t seq; } scored;

static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->h.score != y->h.score) return x->h.score < y->h.score ? 1 : -1;
    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

static int add_scored(scored **all, size_t *na, size_t *cap, scored x) {
    if (*na == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        scored *nn = realloc(*all, *cap * sizeof *nn);
        if (!nn) return -1;
        *all = nn;
    }
    (*all)[(*na)++] = x;
    return 0;
}

/* Both signals' candidates, fused by reciprocal rank (seq not filled in yet). */
static int gather(store *s, const search_query *q, filt *f, scored **out, size_t *nout, cs_err *err) {
    scored *all = NULL;
    size_t na = 0, cap = 0;
    int rc = 0;
    char *fq = search_fts_query(q->text);
    if (fq) {
        int64_t *ids;
        size_t m;
        rc = store_fts(s, fq, SEARCH_DEPTH * 4, &ids, &m, err);
        int rank = 0;
        for (size_t i = 0; !rc && i < m && rank < SEARCH_DEPTH; i++) {
            if (!keep_entry(ids[i], f)) continue;
            rank++;
            if (add_scored(&all, &na, &cap, (scored){{ids[i], 1.0 / (SEARCH_RRF_K + rank), SEARCH_TEXT, 0}, 0}))
                rc = cs_err_set(err, "out of memory");
        }
        free(ids);
        free(fq);
    }
    if (!rc && q->qvec && q->vecs) {
        vec_hit *vh;
        size_t m;
        rc = vecindex_topk(q->vecs, q->qvec, SEARCH_DEPTH, keep_entry, f, &vh, &m, err);
        for (size_t i = 0; !rc && i < m; i++) {
            double add = 1.0 / (SEARCH_RRF_K + (int)i + 1);
            size_t j = 0;
            while (j < na && all[j].h.id != vh[i].entry) j++;
            if (j < na) {
                all[j].h.score += add;
                all[j].h.signals |= SEARCH_MEANING;
                all[j].h.cosine = vh[i].score;
            } else if (add_scored(&all, &na, &cap, (scored){{vh[i].entry, add, SEARCH_MEANING, vh[i].score}, 0}))
                rc = cs_err_set(err, "out of memory");
        }
        if (!rc) free(vh);
    }
    if (rc) { free(all); return -1; }
    *out = all;
    *nout = na;
    return 0;
}

int search_run(store *s, const search_query *q, search_hit **hits, size_t *n, cs_err *err) {
    *hits = NULL;
    *n = 0;
    filt f = {NULL, 0, q, 0};
    int filtered = q->kind || q->since_ms || q->collection || q->category;
    if (filtered) {
        f.listed = 1;
        store_query sf = {0};
        sf.kind = q->kind;
        sf.since_ms = q->since_ms;
        sf.collection = q->collection;
        sf.category = q->category;
        if (store_briefs(s, &sf, &f.b, &f.n, err)) return -1;
    }
    scored *all = NULL;
    size_t na = 0;
    if (gather(s, q, &f, &all, &na, err)) { free(f.b); return -1; }
    if (!filtered) {
        /* the candidates' own rows: entries deleted since their vectors joined the search matrix
         * are gone from the store but not from the matrix; if any made the meaning list, rank
         * again against the list of every entry (slower, rare) */
        int64_t *ids = malloc((na ? na : 1) * sizeof *ids);
        if (!ids) { free(all); return cs_err_set(err, "out of memory"); }
        for (size_t i = 0; i < na; i++) ids[i] = all[i].h.id;
        int rc = store_briefs_of(s, ids, na, &f.b, &f.n, err);
        free(ids);
        if (rc) { free(all); return -1; }
        int stale = 0;
        for (size_t i = 0; i < na; i++) stale |= !find_brief(&f, all[i].h.id);
        if (stale) {
            free(all);
            free(f.b);
            f.b = NULL;
            f.listed = 1;
            if (store_briefs(s, NULL, &f.b, &f.n, err) || gather(s, q, &f, &all, &na, err)) { free(f.b); return -1; }
        }
    }
    for (size_t i = 0; i < na; i++) {
        const store_brief *b = find_brief(&f, all[i].h.id);
        all[i].seq = b ? b->seq : 0;
    }
    free(f.b);
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
