/* search: one ranked list from full text and meaning.
 *
 * Signals: "text" (SQLite FTS5, BM25, over each entry's text, text read from an image, image category, source and tags) and "meaning"
 * (cosine of the query's CLIP text embedding with every image and text vector, vecindex.h).
 * Their scores are not on one scale, so the lists are fused by reciprocal rank,
 * score = sum over signals of 1 / (60 + rank), and ties go to the more recently copied entry.
 * Each hit says which signals found it. Unfiltered searches look up only their candidates' rows;
 * with filters (kind, since, collection, category) the matching entries are listed in SQL first.
 *
 * Queries are never passed to FTS5 as syntax: the words (letters and digits) are quoted one by
 * one and must all appear, so quotes, operators and stray punctuation are harmless. */
#ifndef SEARCH_H
#define SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "../store/store.h"
#include "vecindex.h"

#define SEARCH_RRF_K 60
#define SEARCH_DEPTH 200 /* candidates taken from each signal */

typedef struct search_query {
    const char *text;     /* the words, for full text (may be NULL or empty) */
    const float *qvec;    /* unit query embedding, or NULL (no model) */
    const vecindex *vecs; /* needed with qvec */
    const char *kind;     /* NULL: every kind */
    int64_t since_ms;     /* 0: no limit */
    int limit;            /* > 0 */
    int64_t exclude;      /* an entry id to leave out (query by example), 0 none */
    int64_t collection;   /* 0: any */
    const char *category; /* NULL: any (image category, ignoring ASCII case) */
    char warning[96];     /* out, set by the daemon's search (web.h's search callback): "" or why
                           * results may miss entries, e.g. "index out of date: disk full"
                           * (vecindex_stale); search_run leaves it alone */
} search_query;

enum { SEARCH_TEXT = 1, SEARCH_MEANING = 2 };

typedef struct search_hit {
    int64_t id;
    double score;
    int signals;          /* SEARCH_TEXT | SEARCH_MEANING */
    float cosine;         /* when SEARCH_MEANING */
} search_hit;

int search_run(store *s, const search_query *q, search_hit **hits, size_t *n, cs_err *err);

/* The FTS5 query for free text: "w1" "w2" ... (malloc'd), or NULL when it has no words. */
char *search_fts_query(const char *text);

#endif
