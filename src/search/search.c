/* search: see search.h (the ranking, its weights and why). */
#include "search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/cs_clock.h"
#include "../common/cs_hash.h"
#include "../common/cs_utf8.h"
#include "search_neutral.h"

#define SEARCH_SAMPLE      2048 /* rows whose cosines give the query's score distribution */
#define SEARCH_EXACT_BONUS 2.0
#define SEARCH_STEP        0.01   /* scores closer than this are a tie, broken by recency */
#define SEARCH_LEN0        4000.0 /* characters: the length factor halves at 4000 * (2 - 1) */
#define SEARCH_MAXWORDS    16
#define SEARCH_COMPLETIONS 32 /* the rarest words completing a typed prefix, asked one by one */
/* Up to this many rows in the search matrix, the sample's kinds come from the store's kind map
 * (store_kind_map: one scan of every entry after each change, then kept) instead of reading the
 * sampled entries' rows on every search; above it a re-read after each new clip costs more than
 * the ~2,000 row reads it saves. */
#define SEARCH_KINDMAP_MAX 200000
/* The reference cosine of a modality: its 3rd best (so two near-twins can both stand out), or
 * the best of the rest after the top 0.1 % in a large history. */
#define SEARCH_REF_RANK  2
#define SEARCH_REF_SHARE 1000
/* A meaning hit must clear the reference by this share of the reference's height over the median,
 * plus SEARCH_NEUTRAL_GAIN times the query's likeness to gibberish above SEARCH_NEUTRAL_AT
 * (search_neutral.h). Per modality, calibrated with bench/relevance.py on the toy-world model
 * (docs/search.md): toy-world queries sit at likeness -0.1 to 0.84 (median 0.48), nonsense
 * strings at 0.60 to 0.97 (median 0.85); with the rise, 46 of the 48 toy-world targets clear
 * the image floor and 39 of 40 nonsense strings do not (the two misses: a target that is not
 * the best image even by cosine, and one at standout 0.38 and likeness 0.67, both behind a crowd
 * of screenshots; with the crowds of crowd_of, 48 of 48 at this setting). The toy model's
 * text tower places unrelated texts and nonsense close together, so text-to-text hits need more
 * (nonsense at most 1.07). A real CLIP model needs its own calibration (docs/search.md). */
#define SEARCH_NEUTRAL_AT   0.5
#define SEARCH_NEUTRAL_GAIN 1.0
static const double standout_min[2] = {1.15, 0.35}; /* text kinds, images */
/* Queries through a distilled multilingual text tower (toyworld-multilingual, the 336 queries of
 * its eval-queries.json in 7 languages against the 48 toy images): its cosines spread less, so
 * targets lead by 0.42 at the least (5 % below 0.69, median 0.83), and 200 random word strings by
 * 0.43 at the median, 0.68 at the 95th percentile. 0.40 keeps every target; the student, trained
 * on toy captions alone, lets about half of the nonsense through, which the real model (trained
 * on millions of sentence pairs) needs its own calibration to avoid. Text kinds as for CLIP. These
 * queries get no gibberish raise (search_with_model leaves q->neutral NULL for them): the prompts
 * are CLIP text-tower vectors, and this floor was measured without it. */
const double search_textmodel_min[2] = {1.15, 0.40};
/* The text embedder's space (search.h): text entries only, its own scale. See search_space2. */
const double search_textembed_min = SEARCH_TEXTEMBED_MIN;

/* Adds the time since t0 to one phase of q->timing (search.h), if the caller asked for it. */
#define LAP(q, phase, t0)                                                                                              \
    do {                                                                                                               \
        if ((q)->timing) (q)->timing->phase += cs_mono_ms() - (t0);                                                    \
    } while (0)

/* a word character: ASCII letters and digits, or any non-ASCII scalar (unicode61 decides) */
static int word_cp(int32_t cp) {
    return cp > 127 || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
}

/* Splits text into words (ASCII lowercased), at most max; each malloc'd. */
static size_t split_words(const char *text, char **w, size_t max) {
    size_t nw = 0, n = text ? strlen(text) : 0, start = 0;
    const unsigned char *t = (const unsigned char *)text;
    int in = 0;
    for (size_t i = 0; i <= n;) {
        int32_t cp = 0;
        size_t k = i < n ? cs_utf8_next(t + i, n - i, &cp) : 1;
        int isw = i < n && word_cp(cp);
        if (isw && !in) start = i;
        if (!isw && in && nw < max) {
            char *x = malloc(i - start + 1);
            if (x) {
                for (size_t j = 0; j < i - start; j++)
                    x[j] = (char)(text[start + j] >= 'A' && text[start + j] <= 'Z' ? text[start + j] + 32
                                                                                   : text[start + j]);
                x[i - start] = 0;
                w[nw++] = x;
            }
        }
        in = isw;
        i += k;
    }
    return nw;
}

static void free_words(char **w, size_t n) {
    for (size_t i = 0; i < n; i++) free(w[i]);
}

char *search_fts_query(const char *text) {
    char *w[SEARCH_MAXWORDS * 4];
    size_t nw = split_words(text, w, sizeof w / sizeof *w), len = 1;
    for (size_t i = 0; i < nw; i++) len += strlen(w[i]) + 3;
    char *out = nw ? malloc(len) : NULL, *o = out;
    for (size_t i = 0; out && i < nw; i++) o += sprintf(o, "%s\"%s\"", i ? " " : "", w[i]);
    free_words(w, nw);
    return out;
}

/* English function words: a query's "a" and "the" say nothing about which entry is meant, and
 * every long document contains them. */
static int stop_word(const char *w) {
    static const char *const sw[] = {"a",   "an",   "and",  "are",  "as",   "at", "be",  "by",
                                     "for", "from", "in",   "into", "is",   "it", "its", "of",
                                     "on",  "or",   "that", "the",  "this", "to", "was", "with"};
    for (size_t i = 0; i < sizeof sw / sizeof *sw; i++)
        if (!strcmp(w, sw[i])) return 1;
    return 0;
}

/* The query's words less stop words (all of them when every word is one); 0 when it has none. */
static size_t query_words(const char *text, char **w, size_t max) {
    char *all[SEARCH_MAXWORDS];
    size_t na = split_words(text, all, max < SEARCH_MAXWORDS ? max : SEARCH_MAXWORDS), nw = 0;
    for (size_t i = 0; i < na; i++)
        if (!stop_word(all[i])) w[nw++] = all[i];
    if (!nw) {
        for (size_t i = 0; i < na; i++) w[i] = all[i];
        return na;
    }
    for (size_t i = 0; i < na; i++)
        if (stop_word(all[i])) free(all[i]);
    return nw;
}

int search_one_edit(const char *a, size_t na, const char *b, size_t nb) {
    if (na > nb) {
        const char *t = a;
        a = b;
        b = t;
        size_t tn = na;
        na = nb;
        nb = tn;
    }
    if (nb - na > 1) return 0;
    size_t i = 0;
    while (i < na && a[i] == b[i]) i++;
    if (i == na) return 1; /* equal, or b has one more at the end */
    if (na == nb) {
        if (!strncmp(a + i + 1, b + i + 1, na - i - 1)) return 1; /* substitution */
        return i + 1 < na && a[i] == b[i + 1] && a[i + 1] == b[i] &&
               !strncmp(a + i + 2, b + i + 2, na - i - 2); /* swap */
    }
    return !strncmp(a + i, b + i + 1, na - i); /* b has one more */
}

static int ascii_word(const char *w) {
    for (; *w; w++)
        if ((unsigned char)*w > 127) return 0;
    return 1;
}

/* Appends to a growing string; -1 when out of memory. */
typedef struct {
    char *p;
    size_t n, cap;
} sbuf;
static int sb_add(sbuf *b, const char *fmt, const char *a, const char *c) {
    size_t need = strlen(fmt) + strlen(a) + (c ? strlen(c) : 0) + 1;
    if (b->n + need > b->cap) {
        size_t cap = (b->n + need) * 2;
        char *np = realloc(b->p, cap);
        if (!np) return -1;
        b->p = np;
        b->cap = cap;
    }
    b->n += (size_t)sprintf(b->p + b->n, fmt, a, c ? c : "");
    return 0;
}

/* Calls fn(variant, arg) for every word one edit away from w over [a-z0-9], in a fixed order
 * (insert before i, substitute i, delete i, swap i and i+1; i from the start), repeats included;
 * stops at fn's first non-zero return and returns it. */
static int each_variant(const char *w, int (*fn)(const char *v, void *arg), void *arg) {
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = strlen(w);
    char v[80];
    int rc = 0;
    if (n + 2 > sizeof v) return 0;
    for (size_t i = 0; !rc && i <= n; i++) {
        for (const char *c = al; !rc && *c; c++) { /* insert before i */
            memcpy(v, w, i);
            v[i] = *c;
            memcpy(v + i + 1, w + i, n - i + 1);
            rc = fn(v, arg);
        }
        if (i == n) break;
        for (const char *c = al; !rc && *c; c++) { /* substitute i */
            if (*c == w[i]) continue;
            memcpy(v, w, n + 1);
            v[i] = *c;
            rc = fn(v, arg);
        }
        memcpy(v, w, i);
        memcpy(v + i, w + i + 1, n - i); /* delete i */
        if (!rc) rc = fn(v, arg);
        if (!rc && i + 1 < n && w[i] != w[i + 1]) { /* swap i, i+1 */
            memcpy(v, w, n + 1);
            v[i] = w[i + 1];
            v[i + 1] = w[i];
            rc = fn(v, arg);
        }
    }
    return rc;
}

/* The variants of the fuzzy way's words, in the order its query names them, and which of them the
 * index holds (have, from the store). */
typedef struct {
    char **v;
    size_t n, cap, at; /* at: the next variant fuzzy_term reads */
    unsigned char *have;
} variants;

static int collect_variant(const char *v, void *arg) {
    variants *vs = arg;
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 1024;
        char **nv = realloc(vs->v, cap * sizeof *nv);
        if (!nv) return -1;
        vs->v = nv;
        vs->cap = cap;
    }
    if (!(vs->v[vs->n] = strdup(v))) return -1;
    vs->n++;
    return 0;
}

static void variants_free(variants *vs) {
    for (size_t i = 0; i < vs->n; i++) free(vs->v[i]);
    free(vs->v);
    free(vs->have);
}

typedef struct {
    sbuf *b;
    variants *vs;
} term_ctx;

static int add_variant(const char *v, void *arg) {
    term_ctx *t = arg;
    /* a word the index does not hold matches nothing and adds exactly 0 to every BM25 sum (its
     * frequency is 0 in every entry), so leaving it out changes neither the hits nor a score; FTS5
     * would still pay a phrase for it in every matching entry */
    if (t->vs && !t->vs->have[t->vs->at++]) return 0;
    return sb_add(t->b, " OR \"%s\"%s", v, "");
}

/* ("w" OR "v1" OR ...): w and every word one edit away over [a-z0-9] that the index holds (all of
 * them when vs is NULL); with prefix, also "w"*. */
static int fuzzy_term(sbuf *b, const char *w, int prefix, variants *vs) {
    if (strlen(w) + 2 > 80) return sb_add(b, "\"%s\"%s", w, prefix ? "*" : "");
    int rc = sb_add(b, "(\"%s\"%s", w, prefix ? "*" : "");
    term_ctx t = {b, vs};
    if (!rc) rc = each_variant(w, add_variant, &t);
    return rc ? rc : sb_add(b, ")%s", "", NULL);
}

/* words of 5+ ASCII letters and digits may be one edit off */
static int fuzzy_word(const char *w) { return ascii_word(w) && strlen(w) >= 5; }

/* The variants the fuzzy way's query would name (way_query, in its order) and which of them the
 * index holds. -1 with err on a store error or out of memory. */
static int fuzzy_variants(store *s, char **w, size_t nw, variants *vs, cs_err *err) {
    memset(vs, 0, sizeof *vs);
    for (size_t i = 0; i < nw; i++)
        if (fuzzy_word(w[i]) && each_variant(w[i], collect_variant, vs)) {
            variants_free(vs);
            return cs_errc(err, CS_ENOMEM, "out of memory");
        }
    vs->have = malloc(vs->n ? vs->n : 1);
    if (!vs->have) {
        variants_free(vs);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    if (store_fts_have_terms(s, (const char *const *)vs->v, vs->n, vs->have, err)) {
        variants_free(vs);
        return -1;
    }
    return 0;
}

enum { WAY_EXACT, WAY_WORDS, WAY_PREFIX, WAY_FUZZY, WAY_SUBSTRING, WAYS };
static const double way_quality[WAYS] = {1.0, 0.9, 0.75, 0.6, 0.45};

/* The FTS5 query of one way (malloc'd), or NULL when that way does not apply to these words. vs:
 * the fuzzy way's variants (fuzzy_variants) with the ones the index holds, or NULL for all. */
static char *way_query(int way, char **w, size_t nw, variants *vs) {
    sbuf b = {0};
    int rc = 0, any = 0;
    if (way == WAY_EXACT) {
        if (nw < 2) return NULL; /* one word: the same as WAY_WORDS, which then counts as exact */
        rc = sb_add(&b, "\"%s", w[0], NULL);
        for (size_t i = 1; !rc && i < nw; i++) rc = sb_add(&b, " %s", w[i], NULL);
        if (!rc) rc = sb_add(&b, "\"", "", NULL);
        any = 1;
    }
    for (size_t i = 0; way != WAY_EXACT && !rc && i < nw; i++) {
        int last = i + 1 == nw, fz = fuzzy_word(w[i]);
        if (b.n) rc = sb_add(&b, " AND ", "", NULL); /* explicit: FTS5 has no implicit AND before "(" */
        if (rc) break;
        if (way == WAY_WORDS) {
            rc = sb_add(&b, "\"%s\"", w[i], NULL);
            any = 1;
        } else if (way == WAY_PREFIX) {
            int p = last && strlen(w[i]) >= 2;
            rc = sb_add(&b, "\"%s\"%s", w[i], p ? "*" : "");
            any |= p;
        } else if (way == WAY_FUZZY) {
            rc = fz ? fuzzy_term(&b, w[i], last, vs) : sb_add(&b, "\"%s\"%s", w[i], last && strlen(w[i]) >= 2 ? "*" : "");
            any |= fz;
        } else if (strlen(w[i]) >= 3) { /* substring: shorter words cannot be asked of a trigram index */
            rc = sb_add(&b, "\"%s\"", w[i], NULL);
            any = 1;
        } else if (b.n >= 5)
            b.p[b.n -= 5] = 0; /* the " AND " just added */
    }
    if (rc || !any) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* listed: b holds every entry that passes the filters (sorted by id); 0 on the unfiltered fast
 * path, where candidates are looked up afterwards instead of listing every entry first */
typedef struct {
    store_brief *b;
    size_t n;
    const search_query *q;
    int listed;
    size_t stride;
    /* unfiltered: every entry's kind (store_kind_map, borrowed from the store), for the sampled
     * entries' crowds; b then holds the candidates' rows only. NULL: b holds the sample's too. */
    const store_kind_row *km;
    size_t nkm;
} filt;

static const store_brief *find_brief(const filt *f, int64_t id) { return store_brief_find(f->b, f->n, id); }

static int keep_entry(int64_t id, void *arg) {
    const filt *f = arg;
    if (id == f->q->exclude) return 0;
    return !f->listed || find_brief(f, id) != NULL;
}

/* a fixed pseudo-random share of entries, for the score distribution */
static int keep_sample(int64_t id, void *arg) {
    const filt *f = arg;
    return ((uint64_t)id * 2654435761u) % f->stride == 0 && keep_entry(id, arg);
}

typedef struct {
    search_hit h;
    int64_t seq;
    double ts; /* text score, 0: not found by words */
    int cand;  /* 1: a candidate (words or meaning top list); 0: only in the sample */
    int has_cos;
    int comp;         /* 1 + rank (rarest first) of the rarest completion of the last word it holds; 0 none */
    int comp_self;    /* that completion is the last word itself, as typed */
    double comp_rare; /* and its rarity (prefix_rarity) */
    double ms;        /* the meaning score so far (score_all, then search_space2) */
    float cos2;       /* the cosine in the text embedder's space, when has_cos2 */
    int has_cos2;
} scored;

typedef struct {
    scored *a;
    size_t n, cap;
    double med2, ref2, best2; /* the text embedder's space: this query's median, reference and best cosine */
    size_t *slot, mask;       /* an index from entry id to its place in a (SIZE_MAX: empty), for cand_get */
} cands;

/* The index sized for at least want entries at half load, every entry of a re-placed. */
static int cand_reindex(cands *c, size_t want) {
    size_t cap = 64;
    while (cap < 2 * want) cap *= 2;
    size_t *slot = malloc(cap * sizeof *slot);
    if (!slot) return -1;
    for (size_t i = 0; i < cap; i++) slot[i] = SIZE_MAX;
    for (size_t i = 0; i < c->n; i++) {
        size_t j = cs_hash_slot(c->a[i].h.id, cap - 1);
        while (slot[j] != SIZE_MAX) j = (j + 1) & (cap - 1);
        slot[j] = i;
    }
    free(c->slot);
    c->slot = slot;
    c->mask = cap - 1;
    return 0;
}

/* Empties the candidates (their memory is kept). */
static void cand_clear(cands *c) {
    c->n = 0;
    if (c->slot)
        for (size_t i = 0; i <= c->mask; i++) c->slot[i] = SIZE_MAX;
}

/* The candidate for id, added (zeroed) when new; NULL when out of memory. A hash lookup: a search
 * gathers about 2,500 candidates (the top lists and the score sample). */
static scored *cand_get(cands *c, int64_t id) {
    if (!c->slot || 2 * (c->n + 1) > c->mask + 1) {
        if (cand_reindex(c, c->n + 1 > 1024 ? 2 * (c->n + 1) : 1024)) return NULL;
    }
    size_t j = cs_hash_slot(id, c->mask);
    for (; c->slot[j] != SIZE_MAX; j = (j + 1) & c->mask)
        if (c->a[c->slot[j]].h.id == id) return &c->a[c->slot[j]];
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        scored *nn = realloc(c->a, c->cap * sizeof *nn);
        if (!nn) return NULL;
        c->a = nn;
    }
    c->slot[j] = c->n;
    scored *x = &c->a[c->n++];
    memset(x, 0, sizeof *x);
    x->h.id = id;
    return x;
}

static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    double bx = floor(x->h.score / SEARCH_STEP), by = floor(y->h.score / SEARCH_STEP);
    if (bx != by) return bx < by ? 1 : -1;
    return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* An entry that holds one of the rarest completions of the last word (typed as a prefix). */
typedef struct {
    int64_t id;
    double rare;
    int64_t len;
    int comp; /* 1 + the completion's rank, rarest first */
    int self; /* the completion is the typed word itself */
} rarity;

static const rarity *find_rarity(const rarity *r, size_t n, int64_t id) {
    for (size_t i = 0; i < n; i++)
        if (r[i].id == id) return &r[i];
    return NULL;
}

/* While typing "quarterl", the entry holding "quarterly" in a history where few entries do is a
 * better guess than one of the many holding "quarter": as a picker ranks completions, the rarer
 * the word the prefix completes, the more it says. The index's words that complete the last query
 * word (SEARCH_COMPLETIONS of them, rarest first) are asked one by one with the other words;
 * each entry gets the rarity of its rarest completion, log((N + 1) / docs) / log(N + 2): about 1
 * for a word in one entry of N, 0 for a word in all. *out is malloc'd (NULL when none). */
int search_prefix_alone(const store_fts_term *t, size_t nt, const char *p) {
    return nt == 1 && !strcmp(t[0].term, p) && ascii_word(p);
}

/* One full-text query's answer kept for a later identical query of the same search (same
 * statement, same limit, same snapshot: the same rows). */
typedef struct {
    char *q;
    store_fts_hit *h;
    size_t n;
    int whole; /* the last word (ASCII) is the one word of the index it is a prefix of */
} fts_memo;

static int prefix_rarity(store *s, char **w, size_t nw, filt *f, rarity **out, size_t *n, fts_memo *memo,
                         cs_err *err) {
    *out = NULL;
    *n = 0;
    const char *p = w[nw - 1];
    if (strlen(p) < 2) return 0;
    store_fts_term *t;
    size_t nt;
    int64_t total;
    if (store_fts_terms(s, p, SEARCH_COMPLETIONS, &t, &nt, &total, err)) return -1;
    /* "p"* then matches what "p" matches, with the same instances in every entry, so the same
     * BM25: the prefix way's rows are the words way's (gather_ways). ASCII: FTS5 folds the
     * prefix of a query as its tokenizer does, which for [a-z0-9] leaves it as it is. */
    memo->whole = search_prefix_alone(t, nt, p);
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; !rc && i < nt; i++) {
        sbuf b = {0};
        for (size_t j = 0; !rc && j + 1 < nw; j++) rc = sb_add(&b, "\"%s\" AND ", w[j], NULL);
        if (!rc) rc = sb_add(&b, "\"%s\"", t[i].term, NULL);
        store_fts_hit *fh = NULL;
        size_t m = 0;
        /* the last word as typed is a word of the index: this query is the words way's own
         * ("w1" AND ... AND "w"), which asks for SEARCH_DEPTH * 2 rows. Asked here with that limit
         * and kept for it, it runs once; the first SEARCH_DEPTH of its rows are this query's (an
         * ORDER BY with a LIMIT gives the first rows of the same order, whatever the limit). */
        int self = !strcmp(t[i].term, p) && !memo->q;
        if (!rc)
            rc = store_fts_ranked(s, 0, b.p, self ? SEARCH_DEPTH * 2 : SEARCH_DEPTH, &fh, &m, err);
        else
            cs_errc(err, CS_ENOMEM, "out of memory");
        if (!rc && self) {
            memo->q = b.p;
            memo->h = fh;
            memo->n = m;
            b.p = NULL;
            if (m > SEARCH_DEPTH) m = SEARCH_DEPTH;
        }
        free(b.p);
        double rare = log((double)(total + 1) / (double)(t[i].docs > 0 ? t[i].docs : 1)) / log((double)total + 2);
        for (size_t k = 0; !rc && k < m; k++) {
            if (!keep_entry(fh[k].id, f) || find_rarity(*out, *n, fh[k].id)) continue; /* rarest first: kept */
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                rarity *nn = realloc(*out, cap * sizeof *nn);
                if (!nn) {
                    rc = cs_errc(err, CS_ENOMEM, "out of memory");
                    break;
                }
                *out = nn;
            }
            (*out)[(*n)++] = (rarity){fh[k].id, rare, fh[k].len, (int)i + 1, !strcmp(t[i].term, p)};
        }
        if (!memo->h || fh != memo->h) free(fh);
    }
    store_fts_terms_free(t, nt);
    if (rc) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc ? -1 : 0;
}

/* One way's hit into the candidates: the entry keeps its best text score and its best way.
 * Returns the candidate, or NULL (err set) when out of memory. */
static scored *take_hit(cands *c, int64_t id, int match, double ts, cs_err *err) {
    scored *x = cand_get(c, id);
    if (!x) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        return NULL;
    }
    x->cand = 1;
    x->h.signals |= SEARCH_TEXT;
    if (!x->h.match || match < x->h.match) x->h.match = match;
    if (ts > x->ts) x->ts = ts;
    return x;
}

/* a long file must not win by containing the words (search.h) */
static double length_factor(int64_t len) { return 1.0 / (1.0 + log2(1.0 + (double)len / SEARCH_LEN0)); }

/* The words' candidates, every way, each entry keeping its best text score. */
static int gather_ways(store *s, char **w, size_t nw, int limit, filt *f, cands *c, fts_memo *memo, cs_err *err) {
    rarity *rar = NULL;
    size_t nrar = 0;
    if (prefix_rarity(s, w, nw, f, &rar, &nrar, memo, err)) return -1;
    for (int way = 0; way < WAYS; way++) {
        /* typos and pieces of words are for when the words as typed find too little: with a
         * page of exact, all-words or prefix hits they would rank below those anyway, and they
         * are the slow ways (hundreds of terms; a trigram doclist per 3 letters) */
        if (way >= WAY_FUZZY && c->n >= (size_t)limit) break;
        variants vs;
        if (way == WAY_FUZZY && fuzzy_variants(s, w, nw, &vs, err)) {
            free(rar);
            return -1;
        }
        char *fq = way_query(way, w, nw, way == WAY_FUZZY ? &vs : NULL);
        if (way == WAY_FUZZY) variants_free(&vs);
        if (!fq) continue;
        store_fts_hit *fh;
        size_t m;
        int rc = 0;
        size_t lq = memo->q ? strlen(memo->q) : 0;
        if ((way == WAY_WORDS && memo->q && !strcmp(fq, memo->q)) || /* asked already (prefix_rarity) */
            (way == WAY_PREFIX && memo->q && memo->whole && strlen(fq) == lq + 1 && !strncmp(fq, memo->q, lq) &&
             fq[lq] == '*')) { /* the words way's statement with "w"* for "w", which completes to w alone */
            fh = memo->h;
            m = memo->n;
        } else
            rc = store_fts_ranked(s, way == WAY_SUBSTRING, fq, SEARCH_DEPTH * 2, &fh, &m, err);
        free(fq);
        if (rc) {
            free(rar);
            return -1;
        }
        double best = 0;
        for (size_t i = 0; i < m; i++)
            if (keep_entry(fh[i].id, f) && fh[i].bm25 > best) best = fh[i].bm25;
        int taken = 0;
        /* one word asked as "words" is the exact match */
        int match = way == WAY_WORDS && nw == 1 ? SEARCH_EXACT : SEARCH_EXACT + way;
        for (size_t i = 0; i < m && taken < SEARCH_DEPTH; i++) {
            if (!keep_entry(fh[i].id, f)) continue;
            taken++;
            double rel = best > 0 ? fh[i].bm25 / best : 1, ts;
            if (way == WAY_PREFIX) { /* rarity of the completion, then BM25 */
                const rarity *r = find_rarity(rar, nrar, fh[i].id);
                ts = way_quality[way] * (0.5 + 0.2 * rel + 0.3 * (r ? r->rare : 0)) * length_factor(fh[i].len);
            } else
                ts = way_quality[way] * (0.7 + 0.3 * rel) * length_factor(fh[i].len);
            if (!take_hit(c, fh[i].id, match, ts, err)) {
                if (fh != memo->h) free(fh);
                free(rar);
                return -1;
            }
        }
        if (fh != memo->h) free(fh);
        /* rare completions beyond the prefix query's own depth (it ranks by BM25, not rarity);
         * each entry also learns which completion it holds, for diversify() */
        for (size_t i = 0; way == WAY_PREFIX && i < nrar; i++) {
            double ts = way_quality[way] * (0.5 + 0.3 * rar[i].rare) * length_factor(rar[i].len);
            scored *x = take_hit(c, rar[i].id, match, ts, err);
            if (!x) {
                free(rar);
                return -1;
            }
            x->comp = rar[i].comp;
            x->comp_self = rar[i].self;
            x->comp_rare = rar[i].rare;
        }
    }
    free(rar);
    return 0;
}

static int gather_words(store *s, char **w, size_t nw, int limit, filt *f, cands *c, cs_err *err) {
    fts_memo memo = {NULL, NULL, 0, 0};
    int rc = gather_ways(s, w, nw, limit, f, c, &memo, err);
    free(memo.q);
    free(memo.h);
    return rc;
}

/* A space's top entries (vh, m; freed here) become candidates with their cosine there: the CLIP
 * space's (space2 0) or the text embedder's (1). */
static int take_cosines(cands *c, vec_hit *vh, size_t m, int space2, cs_err *err) {
    for (size_t i = 0; i < m; i++) {
        scored *x = cand_get(c, vh[i].entry);
        if (!x) {
            free(vh);
            return cs_errc(err, CS_ENOMEM, "out of memory");
        }
        x->cand = 1;
        if (space2) {
            x->has_cos2 = 1;
            x->cos2 = vh[i].score;
        } else {
            x->has_cos = 1;
            x->h.cosine = vh[i].score;
        }
    }
    free(vh);
    return 0;
}

/* The median and reference cosine of one modality from its sampled cosines (best first): the
 * scale a standout is measured in (search.h). */
static void scale_of(const float *desc, size_t n, double *med, double *ref) {
    size_t r = n / SEARCH_REF_SHARE > SEARCH_REF_RANK ? n / SEARCH_REF_SHARE : SEARCH_REF_RANK;
    if (n > r + 4) {
        *med = desc[n / 2];
        *ref = desc[r];
    } else { /* a handful of rows: no distribution to speak of; a generic scale */
        *med = 0;
        *ref = 0.25;
    }
    if (*ref - *med < 0.01) *ref = *med + 0.01;
}

/* One space's two lists from one pass over its matrix: the top SEARCH_DEPTH entries that pass the
 * filters (*top) and the best SEARCH_SAMPLE of the sampled share (*sample, every stride-th id by
 * keep_sample; f->stride is set here for that space and left so). vecindex_scan_topk gives what
 * vecindex_topk gives, bit for bit; the int8 matrix is read once instead of twice. */
static int space_lists(const vecindex *v, const float *qv, filt *f, vec_hit **top, size_t *ntop, vec_hit **sample,
                       size_t *nsample, cs_err *err) {
    *top = *sample = NULL;
    *ntop = *nsample = 0;
    size_t rows = vecindex_rows(v);
    f->stride = rows > SEARCH_SAMPLE ? rows / SEARCH_SAMPLE : 1;
    if (!rows) return 0;
    vecindex_scan *sc;
    if (vecindex_scan_open(v, qv, 1, &sc, err)) return -1;
    int rc = vecindex_scan_topk(sc, 0, SEARCH_DEPTH, keep_entry, f, top, ntop, err);
    if (!rc) rc = vecindex_scan_topk(sc, 0, SEARCH_SAMPLE, keep_sample, f, sample, nsample, err);
    vecindex_scan_close(sc);
    if (rc) {
        free(*top);
        *top = NULL;
        *ntop = 0;
    }
    return rc;
}

/* The text embedder's space (q->qvec2): its top entries join the candidates with their cosine
 * there, and its own sample (every row of that space is a text entry) gives its own scale, kept
 * apart from the CLIP space's: the two models' cosines live on different scales. */
static int gather_space2(const search_query *q, filt *f, cands *c, cs_err *err) {
    c->med2 = 0;
    c->ref2 = 0.25;
    c->best2 = 1;
    if (!q->qvec2 || !q->vecs2) return 0;
    vec_hit *vh, *top;
    size_t m, ntop, stride = f->stride;
    int rc = space_lists(q->vecs2, q->qvec2, f, &top, &ntop, &vh, &m, err);
    f->stride = stride; /* the CLIP space's sample is told apart by its own stride (score_all) */
    if (rc) return -1;
    if (ntop) c->best2 = top[0].score;
    if (take_cosines(c, top, ntop, 1, err)) {
        free(vh);
        return -1;
    }
    float *cs = malloc((m ? m : 1) * sizeof *cs);
    if (!cs) {
        free(vh);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m; i++) cs[i] = vh[i].score; /* best first already */
    scale_of(cs, m, &c->med2, &c->ref2);
    free(cs);
    free(vh);
    return 0;
}

/* Both signals' candidates, and the sample of cosines (cand 0) for the standout. */
static int gather(store *s, const search_query *q, char **w, size_t nw, filt *f, cands *c, cs_err *err) {
    cand_clear(c);
    double t0 = cs_mono_ms();
    if (nw && gather_words(s, w, nw, q->limit, f, c, err)) return -1;
    LAP(q, words, t0);
    t0 = cs_mono_ms();
    if (q->qvec && q->vecs) {
        vec_hit *vh, *top;
        size_t m, ntop;
        if (space_lists(q->vecs, q->qvec, f, &top, &ntop, &vh, &m, err)) return -1;
        if (take_cosines(c, top, ntop, 0, err)) {
            free(vh);
            return -1;
        }
        for (size_t i = 0; i < m; i++) {
            scored *x = cand_get(c, vh[i].entry);
            if (!x) {
                free(vh);
                return cs_errc(err, CS_ENOMEM, "out of memory");
            }
            x->has_cos = 1;
            x->h.cosine = vh[i].score;
        }
        free(vh);
    }
    int rc = gather_space2(q, f, c, err);
    LAP(q, vectors, t0);
    return rc;
}

/* The most recent entries that pass the filters: an empty query's answer. */
static int recent(store *s, const search_query *q, search_hit **hits, size_t *n, cs_err *err) {
    store_query lq = {0};
    lq.kind = q->kind;
    lq.since_ms = q->since_ms;
    lq.collection = q->collection;
    lq.category = q->category;
    lq.limit = q->limit + (q->exclude ? 1 : 0);
    store_entry *es;
    size_t m;
    if (store_list(s, &lq, &es, &m, err)) return -1;
    search_hit *out = calloc(m ? m : 1, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (out && es[i].id != q->exclude && k < (size_t)q->limit) out[k++].id = es[i].id;
        store_entry_free(&es[i]);
    }
    free(es);
    if (!out) return cs_errc(err, CS_ENOMEM, "out of memory");
    *hits = out;
    *n = k;
    return 0;
}

/* What a meaning hit is measured against (score_all): its crowd, the rows whose cosines for this
 * query say how high unrelated entries reach. Text kinds against text kinds; pictures against
 * pictures; images that hold text (OCR found some: screenshots, scans, documents) against every
 * image. CLIP places images of text close to one another whatever they say (a white page with
 * dark glyphs), so a dozen screenshots rise together for some queries; among the pictures' crowd
 * they set the reference and hid the picture that really matched ("a white ring"). Measured
 * within their own tight crowd, whose spread is no scale, every screenshot stood out for any
 * query, nonsense included; against every image, one stands out only when it leads the pictures
 * and the other screenshots (docs/search.md, "the toy-world misses"). */
enum { MOD_TEXT, MOD_PICTURE, MOD_TEXT_IMAGE };
enum { CROWD_TEXT, CROWD_PICTURES, CROWD_IMAGES, CROWD_ALL, CROWD_N };
static const int crowd_of[] = {CROWD_TEXT, CROWD_PICTURES, CROWD_IMAGES}; /* by modality */

static int modality(const store_brief *b) {
    if (!b || strcmp(b->kind, "image")) return MOD_TEXT;
    return b->has_text ? MOD_TEXT_IMAGE : MOD_PICTURE;
}

/* The modality of a sampled entry into *m; 0 when it is gone from the store (its vector is still
 * in the matrix). */
static int sample_modality(const filt *f, int64_t id, int *m) {
    if (f->km) {
        const store_kind_row *r = store_kind_find(f->km, f->nkm, id);
        if (!r) return 0;
        *m = !r->image ? MOD_TEXT : r->has_text ? MOD_TEXT_IMAGE : MOD_PICTURE; /* as modality() */
        return 1;
    }
    const store_brief *b = find_brief(f, id);
    if (!b) return 0;
    *m = modality(b);
    return 1;
}

static int by_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Turns cosines into standouts and the two signals into one score (search.h). floor 0: a query
 * by example (similar, --image), which asks for the nearest entries whatever they are: every
 * meaning candidate is kept, ranked by cosine. */
static int score_all(cands *c, const filt *f, int floor, const double *smin, double raise) {
    float *cs[CROWD_N];
    size_t nc[CROWD_N] = {0};
    int oom = 0;
    for (int k = 0; k < CROWD_N; k++) oom |= !(cs[k] = malloc((c->n ? c->n : 1) * sizeof(float)));
    if (oom) {
        for (int k = 0; k < CROWD_N; k++) free(cs[k]);
        return -1;
    }
    for (size_t i = 0; i < c->n; i++) {
        const scored *x = &c->a[i];
        int m;
        /* only sampled ids: the top list's other entries would bias the distribution upwards */
        if (!x->has_cos || ((uint64_t)x->h.id * 2654435761u) % f->stride != 0 || !sample_modality(f, x->h.id, &m))
            continue;
        float v = x->h.cosine;
        if (m == MOD_TEXT) cs[CROWD_TEXT][nc[CROWD_TEXT]++] = v;
        if (m == MOD_PICTURE) cs[CROWD_PICTURES][nc[CROWD_PICTURES]++] = v;
        if (m != MOD_TEXT) cs[CROWD_IMAGES][nc[CROWD_IMAGES]++] = v;
        cs[CROWD_ALL][nc[CROWD_ALL]++] = v;
    }
    double med[CROWD_N], ref[CROWD_N];
    for (int k = 0; k < CROWD_N; k++) qsort(cs[k], nc[k], sizeof(float), by_desc);
    for (int k = 0; k < CROWD_N; k++) {
        int u = nc[k] >= 16 ? k : CROWD_ALL; /* too few in this crowd: every row together */
        scale_of(cs[u], nc[u], &med[k], &ref[k]);
    }
    for (int k = 0; k < CROWD_N; k++) free(cs[k]);
    for (size_t i = 0; i < c->n; i++) {
        scored *x = &c->a[i];
        double ms = 0;
        if (x->cand && x->has_cos) {
            int m = modality(find_brief(f, x->h.id)), k = crowd_of[m];
            double z = (x->h.cosine - ref[k]) / (ref[k] - med[k]), lo = smin[m != MOD_TEXT] + raise;
            x->h.standout = (float)z;
            if (!floor) {
                ms = 1 + x->h.cosine;
                x->h.signals |= SEARCH_MEANING;
            } else if (z >= lo) { /* both kinds of image: one image tower, one floor */
                ms = 0.5 + (z - lo) / 1.5;
                if (ms > 1.5) ms = 1.5;
                x->h.signals |= SEARCH_MEANING;
            }
        }
        x->ms = ms;
        x->h.score = x->ts + ms + (x->h.match == SEARCH_EXACT ? SEARCH_EXACT_BONUS : 0);
    }
    return 0;
}

/* 1 when the query's last word w (lowercased, as query_words gives it) is still being typed: the
 * text ends with it, no space or punctuation after it. "valid " (or "valid.") says the word is
 * complete; "valid" may still become "validity". */
static int typing_last(const char *text, const char *w) {
    size_t n = text ? strlen(text) : 0, wl = strlen(w), i = n;
    while (i > 0 && word_cp((unsigned char)text[i - 1])) i--; /* a byte > 127: part of a word */
    return n > 0 && n - i == wl && !strncasecmp(text + i, w, wl);
}

/* Search as you type: while the last word is being typed it is both a word and the start of longer
 * words. Ranked by score alone, the entries of one completion crowd out the others: the exact-first
 * rule (search.h) puts every entry holding "valid" above the one holding "validity", and three
 * short URLs holding "gnome" outrank the paragraph with the rarer "gnomovision" by their length.
 * So the hits found by words (a, k hits, sorted) are reordered within the places they hold: the
 * best of them, then the best entry of each other completion (the rarest one an entry holds,
 * prefix_rarity), rarer completions first as a picker ranks them (ties: score order), then the
 * rest in score order. Each such entry stands for its completion, so an exact hit's bonus for the
 * typed word orders it only among equally rare completions. Hits found only by meaning keep their
 * places, and no score changes. Returns -1 when out of memory. */
static int diversify(scored *a, size_t k) {
    scored *out = malloc(k * sizeof *out);
    size_t *at = malloc(k * sizeof *at); /* the places of the word hits */
    unsigned char *took = calloc(k, 1), used[SEARCH_COMPLETIONS + 1] = {0};
    if (!out || !at || !took) {
        free(out);
        free(at);
        free(took);
        return -1;
    }
    size_t nw = 0, m = 0;
    for (size_t i = 0; i < k; i++)
        if (a[i].h.signals & SEARCH_TEXT) at[nw++] = i;
    for (size_t j = 0; j < nw; j++) { /* the best word hit, then one per other completion */
        scored *x = &a[at[j]];
        if (j && (!x->comp || x->comp_self || used[x->comp])) continue;
        used[x->comp] = 1; /* the best hit stands for the typed word and its own completion */
        size_t p = m++;
        for (; p > 1 && out[p - 1].comp_rare < x->comp_rare; p--) out[p] = out[p - 1]; /* rarer first */
        out[p] = *x;
        took[j] = 1;
    }
    for (size_t j = 0; j < nw; j++)
        if (!took[j]) out[m++] = a[at[j]];
    for (size_t j = 0; j < nw; j++) a[at[j]] = out[j];
    free(out);
    free(at);
    free(took);
    return 0;
}

/* The text embedder's meaning (search.h, "Two spaces"): a text entry's standout there against
 * that space's own floor, raised by the query's likeness to that model's gibberish; its meaning
 * score is the better of the two spaces' (never their sum: one meaning, seen twice). */
static void search_space2(cands *c, const search_query *q) {
    if (!q->text || !q->qvec2 || !q->vecs2) return;
    double raise = 0, smin = q->meaning_min2 ? *q->meaning_min2 : search_textembed_min;
    if (q->neutral2) { /* nearer to gibberish than to anything copied: by how much, in this space's units */
        double g = search_neutral_likeness(q->qvec2, q->neutral2, q->n_neutral2, vecindex_dim(q->vecs2));
        if (g > c->best2) raise = (g - c->best2) / (c->ref2 - c->med2) * SEARCH_NEUTRAL_GAIN;
    }
    for (size_t i = 0; i < c->n; i++) {
        scored *x = &c->a[i];
        if (!x->cand || !x->has_cos2) continue;
        double z = (x->cos2 - c->ref2) / (c->ref2 - c->med2), ms;
        if (z < smin + raise) continue;
        ms = 0.5 + (z - smin - raise) / 1.5;
        if (ms > 1.5) ms = 1.5;
        x->h.signals |= SEARCH_MEANING | SEARCH_MEANING_TEXT;
        if (ms <= x->ms) continue;
        x->h.score += ms - x->ms;
        x->ms = ms;
        x->h.cosine = x->cos2;
        x->h.standout = (float)z;
    }
}

static int search_ranked(store *s, const search_query *q, search_hit **hits, size_t *n, cs_err *err);

int search_run(store *s, const search_query *q, search_hit **hits, size_t *n, cs_err *err) {
    *hits = NULL;
    *n = 0;
    /* one snapshot for all of a search's statements (full text, completions, candidates' rows) */
    int began = store_read_begin(s, err);
    if (began < 0) return -1;
    int rc = search_ranked(s, q, hits, n, err);
    if (began) store_read_end(s);
    return rc;
}

static int search_ranked(store *s, const search_query *q, search_hit **hits, size_t *n, cs_err *err) {
    char *w[SEARCH_MAXWORDS];
    size_t nw = query_words(q->text, w, SEARCH_MAXWORDS);
    if (q->text && !nw) return recent(s, q, hits, n, err);
    filt f = {NULL, 0, q, 0, 1, NULL, 0};
    int filtered = q->kind || q->since_ms || q->collection || q->category, rc = 0;
    cands c = {0};
    double t0 = cs_mono_ms();
    if (filtered) {
        f.listed = 1;
        store_query sf = {0};
        sf.kind = q->kind;
        sf.since_ms = q->since_ms;
        sf.collection = q->collection;
        sf.category = q->category;
        rc = store_briefs(s, &sf, &f.b, &f.n, err);
    }
    LAP(q, briefs, t0);
    int typing = nw && typing_last(q->text, w[nw - 1]);
    if (!rc) rc = gather(s, q, w, nw, &f, &c, err);
    if (!rc && !filtered) {
        /* the candidates' own rows: entries deleted since their vectors joined the search matrix
         * are gone from the store but not from the matrix; if any made the meaning list, rank
         * again against the list of every entry (slower, rare) */
        t0 = cs_mono_ms();
        /* the sampled entries need only their kind: from the kind map (kept by the store between
         * searches) rather than their rows; the candidates need their rows (recency) */
        if (q->vecs && vecindex_rows(q->vecs) <= SEARCH_KINDMAP_MAX) rc = store_kind_map(s, &f.km, &f.nkm, err);
        int64_t *ids = malloc((c.n ? c.n : 1) * sizeof *ids);
        size_t nids = 0;
        if (!rc && !ids) rc = cs_errc(err, CS_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < c.n; i++)
            if (c.a[i].cand || !f.km) ids[nids++] = c.a[i].h.id;
        if (!rc) rc = store_briefs_of(s, ids, nids, &f.b, &f.n, err);
        free(ids);
        LAP(q, briefs, t0);
        int stale = 0;
        for (size_t i = 0; !rc && i < c.n; i++) stale |= c.a[i].cand && !find_brief(&f, c.a[i].h.id);
        if (!rc && stale) {
            free(f.b);
            f.b = NULL;
            f.listed = 1;
            rc = store_briefs(s, NULL, &f.b, &f.n, err);
            if (!rc) rc = gather(s, q, w, nw, &f, &c, err);
        }
    }
    free_words(w, nw);
    if (rc) {
        free(f.b);
        free(c.a);
        free(c.slot);
        return -1;
    }
    t0 = cs_mono_ms();
    /* a query that looks like gibberish to this model must stand out more (search_neutral.h) */
    double raise = 0;
    if (q->text && q->qvec && q->neutral && q->vecs) {
        double g = search_neutral_likeness(q->qvec, q->neutral, q->n_neutral, vecindex_dim(q->vecs));
        if (g > SEARCH_NEUTRAL_AT) raise = (g - SEARCH_NEUTRAL_AT) * SEARCH_NEUTRAL_GAIN;
    }
    if (score_all(&c, &f, q->text != NULL, q->meaning_min ? q->meaning_min : standout_min, raise)) {
        free(f.b);
        free(c.a);
        free(c.slot);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    search_space2(&c, q);
    /* keep the candidates that matched by words or stood out by meaning (the index of ids goes:
     * the places change) */
    free(c.slot);
    c.slot = NULL;
    size_t k = 0;
    for (size_t i = 0; i < c.n; i++) {
        const store_brief *b = find_brief(&f, c.a[i].h.id);
        if (!c.a[i].cand || !b || !(c.a[i].h.signals & (SEARCH_TEXT | SEARCH_MEANING))) continue;
        c.a[i].seq = b->seq;
        c.a[k++] = c.a[i];
    }
    free(f.b);
    if (k > 1) qsort(c.a, k, sizeof *c.a, by_score);
    if (typing && k > 2 && diversify(c.a, k)) {
        free(c.a);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    if (k > (size_t)q->limit) k = (size_t)q->limit;
    search_hit *out = malloc((k ? k : 1) * sizeof *out);
    if (!out) {
        free(c.a);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < k; i++) out[i] = c.a[i].h;
    free(c.a);
    LAP(q, rank, t0);
    *hits = out;
    *n = k;
    return 0;
}

const char *search_match_name(int match) {
    static const char *const names[] = {NULL, "exact", "words", "prefix", "fuzzy", "substring"};
    return match > 0 && match <= SEARCH_SUBSTRING ? names[match] : NULL;
}

const char *search_why(const search_hit *h, int image) {
    if (h->signals & SEARCH_TEXT) return "words";
    if (h->signals & SEARCH_MEANING) return image ? "looks like" : "means";
    return NULL;
}

size_t search_matched_words(const char *text, const char *query, char **out, size_t max) {
    char *qw[SEARCH_MAXWORDS];
    size_t nq = query_words(query, qw, SEARCH_MAXWORDS), k = 0;
    size_t n = text ? strlen(text) : 0, start = 0;
    const unsigned char *t = (const unsigned char *)text;
    int in = 0;
    for (size_t i = 0; i <= n && k < max && nq;) {
        int32_t cp = 0;
        size_t step = i < n ? cs_utf8_next(t + i, n - i, &cp) : 1;
        int isw = i < n && word_cp(cp);
        if (isw && !in) start = i;
        if (!isw && in) {
            size_t len = i - start;
            char word[128];
            if (len < sizeof word) {
                for (size_t j = 0; j < len; j++)
                    word[j] = (char)(text[start + j] >= 'A' && text[start + j] <= 'Z' ? text[start + j] + 32
                                                                                      : text[start + j]);
                word[len] = 0;
                int hit = 0;
                for (size_t j = 0; j < nq && !hit; j++) {
                    size_t ql = strlen(qw[j]);
                    hit = !strcmp(word, qw[j]) || (j + 1 == nq && ql >= 2 && !strncmp(word, qw[j], ql)) ||
                          (ql >= 5 && ascii_word(qw[j]) && search_one_edit(word, len, qw[j], ql)) ||
                          (ql >= 3 && strstr(word, qw[j]));
                }
                for (size_t j = 0; hit && j < k; j++) hit = strcmp(out[j], word) != 0;
                if (hit && (out[k] = strdup(word))) k++;
            }
        }
        in = isw;
        i += step;
    }
    free_words(qw, nq);
    return k;
}
