/* search: one ranked list from words and meaning, that a person can trust while typing.
 *
 * Words (SQLite FTS5 over each entry's text, text read from an image, image category, source and
 * tags). The query's words, less English stop words ("a", "the", "of"... unless every word is
 * one), are asked five ways; an entry keeps the best way it matched:
 *   exact      every word, as a phrase (one word: that word)                   quality 1.0
 *   words      every word, anywhere                                            0.9
 *   prefix     every word, the last one as a prefix (typing "invo")             0.75
 *   fuzzy      each word of 5+ letters may be one edit off (insert, delete,
 *              substitute, swap two neighbours; ASCII letters and digits)       0.6
 *   substring  every word of 3+ characters inside a word (trigram index)        0.45
 * The last two ways are asked only when the first three found fewer than a page (limit) of
 * entries: they would rank below those, and they are the slow ones.
 * text score ts = quality * (0.7 + 0.3 * bm25 / best bm25 of that way) * L, with the length
 * factor L = 1 / (1 + log2(1 + chars / 4000)), so a long file does not win by containing the words.
 * A prefix hit weighs the rarity of the word the prefix completes instead of part of BM25, as a
 * picker ranks completions: ts = 0.75 * (0.5 + 0.2 * bm25 / best + 0.3 * rarity) * L, rarity =
 * log((N + 1) / entries holding the word) / log(N + 2) for the entry's rarest completion among
 * the 32 rarest of the index (0 when it holds none of those).
 *
 * Meaning (cosine of the query's CLIP embedding with each image and text vector, vecindex.h). A
 * cosine means nothing by itself: with real CLIP weights text-to-text cosines sit at 0.7-0.9 for
 * almost anything, and text-to-image cosines live on another scale. So each hit is compared with
 * this query's cosines over the history, from a sample of up to 2048 rows, among its crowd: text
 * kinds among text kinds, pictures among pictures, images that hold text (OCR found some:
 * screenshots) among every image, since CLIP keeps images of text close together and they rise
 * together. Its standout is its lead over the crowd's reference cosine (the 3rd best, or the best
 * after the top 0.1 % in a large history) in units of the reference's height over the crowd's
 * median. Nonsense lifts every entry about equally; a real match leads. A meaning hit counts
 * only when its standout clears its modality's floor (text kinds; images: search.c, calibrated with
 * bench/relevance.py), raised by the query's likeness to gibberish above 0.5 (its largest cosine
 * with a few gibberish prompts, q->neutral, search_neutral.h): nonsense resembles nonsense;
 * meaning score ms = min(1.5, 0.5 + (standout - floor) / 1.5), 0 below it.
 * Two spaces: with a text embedder (`model use ... --text-embedder`, a sentence model such as
 * all-MiniLM-L6-v2) text entries also have a vector in that model's own space (q->qvec2,
 * q->vecs2). Its cosines are scaled the same way but from its own sample (every row there is
 * text), its floor is its own (search_textembed_min) and so is its gibberish raise (q->neutral2:
 * the same prompts through that model). A text entry's meaning score is the larger of the two
 * spaces' ms, not their sum: both look at the same meaning, and adding them would let any text
 * entry with two weak standouts outrank one clear one. Images are found by the CLIP space only.
 * A query by example (text NULL: similar, search --image) has no floor: it asks for the nearest
 * entries, ranked by cosine (ms = 1 + cosine).
 *
 * Fusion (weights, not ranks): score = ts + ms, plus 2 for an exact hit, so an entry whose words
 * match the query exactly ranks above every other hit; prefix, fuzzy and substring hits are fused
 * with meaning hits. Scores are compared in steps of 0.01; recency (copy order) breaks ties only
 * within a step. While the last word is being typed (the text ends inside it, no space after it),
 * the hits found by words are reordered within their places so that each completion of that word
 * shows its best entry near the top: the best word hit, then the best entry of each other
 * completion (rarer completions first), then the rest (search.c, diversify): "valid" lists the
 * entry with "validity" second, not after every entry holding "valid". A trailing space says the
 * word is complete. A query without words (empty or only punctuation) lists the most recent
 * entries (what a picker shows before the first keystroke); hits then have no signals.
 *
 * Unfiltered searches look up only their candidates' rows; with filters (kind, since,
 * collection, category) the matching entries are listed in SQL first. Queries are never passed to
 * FTS5 as syntax: the words (letters and digits) are quoted one by one, so quotes, operators and
 * stray punctuation are harmless. */
#ifndef SEARCH_H
#define SEARCH_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "../store/store.h"
#include "vecindex.h"

#define SEARCH_RRF_K 60
#define SEARCH_DEPTH 200 /* candidates taken from each signal */

/* Where one search's time went, in milliseconds (wall, CLOCK_MONOTONIC): filled when the caller
 * points search_query.timing at one (zeroed by the caller; phases add up over a search), for the
 * daemon's SEARCH reply and bench/e2e.py. */
typedef struct search_timing {
    double store;   /* opening the store connection (the daemon's search callback) */
    double embed;   /* the text tower(s): the query's vector */
    double matrix;  /* vecindex_open: bringing the search matrix up to date and mapping it */
    double words;   /* full text: the completions of the last word and the five ways */
    double vectors; /* the meaning top list and the sampled cosines (both spaces) */
    double briefs;  /* the candidates' rows (kind, recency) from the store */
    double rank;    /* standouts, fusion, sorting, diversifying */
} search_timing;

typedef struct search_query {
    const char *text;     /* the words, for full text (may be NULL or empty) */
    const float *qvec;    /* unit query embedding, or NULL (no model) */
    const vecindex *vecs; /* needed with qvec */
    const float *neutral; /* n_neutral unit vectors of gibberish prompts (search_neutral.h), or NULL:
                           * the meaning floor then does not adapt to how nonsense-like q is */
    int n_neutral;
    const char *kind;     /* NULL: every kind */
    int64_t since_ms;     /* 0: no limit */
    int limit;            /* > 0 */
    int64_t exclude;      /* an entry id to leave out (query by example), 0 none */
    int64_t collection;   /* 0: any */
    const char *category; /* NULL: any (image category, ignoring ASCII case) */
    /* Text-model hook (docs/text-models.md): NULL when qvec comes from CLIP's own text tower or an
     * image; else the query embedder's own scale {text kinds, images} (search_textmodel_min for
     * `model use ... --text-model`), since each embedding space needs its own calibration. */
    const double *meaning_min;
    /* The text embedder's space (`model use ... --text-embedder`, docs/text-models.md), or NULL
     * qvec2: the query's unit vector from that sentence model and that space's search matrix
     * (only text entries have vectors there); neutral2: n_neutral2 gibberish prompts through the
     * same model, or NULL (no raise); meaning_min2: its standout floor (NULL:
     * search_textembed_min). See "Two spaces" above. */
    const float *qvec2;
    const vecindex *vecs2;
    const float *neutral2;
    int n_neutral2;
    const double *meaning_min2;
    char warning[96];      /* out, set by the daemon's search (web.h's search callback): "" or why
                           * results may miss entries, e.g. "index out of date: disk full"
                           * (vecindex_stale); search_run leaves it alone */
    search_timing *timing; /* out, or NULL: where the time went (above) */
} search_query;

/* SEARCH_MEANING_TEXT: the meaning came from the text embedder's space (SEARCH_MEANING is set too) */
enum { SEARCH_TEXT = 1, SEARCH_MEANING = 2, SEARCH_MEANING_TEXT = 4 };

/* How the words matched (the list above); SEARCH_NOWORDS: not by words. */
typedef enum {
    SEARCH_NOWORDS = 0,
    SEARCH_EXACT,
    SEARCH_WORDS,
    SEARCH_PREFIX,
    SEARCH_FUZZY,
    SEARCH_SUBSTRING
} search_match;

typedef struct search_hit {
    int64_t id;
    double score;
    int signals;    /* SEARCH_TEXT | SEARCH_MEANING; 0 for the recent list of an empty query */
    float cosine;   /* when SEARCH_MEANING */
    int match;      /* search_match, when SEARCH_TEXT */
    float standout; /* z of the cosine (above), when SEARCH_MEANING */
} search_hit;

/* The standout minimums {text kinds, images} for queries embedded by a sentence-transformers text
 * tower trained into CLIP's space (toyworld-multilingual's calibration, search.c). */
extern const double search_textmodel_min[2];

/* The standout minimum for text entries in the text embedder's space (search.c). */
#define SEARCH_TEXTEMBED_MIN 1.15
extern const double search_textembed_min;

/* Ranks the history for q. *hits is malloc'd (best first, at most q->limit); *n == 0 means
 * nothing matched well enough (the CLI says "no matches"). -1 with err on a store error. */
int search_run(store *s, const search_query *q, search_hit **hits, size_t *n, cs_err *err);

/* The name of a search_match ("exact", "words", "prefix", "fuzzy", "substring"), or NULL. */
const char *search_match_name(int match);

/* Why a hit is listed, for people: "words" when words matched, else "looks like" (an image
 * found by meaning) or "means" (text found by meaning); NULL for the recent list. */
const char *search_why(const search_hit *h, int is_image);

/* The distinct words of text (lowercased, at most max) that the query's words match, exactly, as
 * a prefix (the last query word), one edit away (5+ letters) or as a substring (3+), in order of
 * first appearance: what a front end highlights. Returns the count; words[i] are malloc'd. */
size_t search_matched_words(const char *text, const char *query, char **words, size_t max);

/* The FTS5 query for free text: "w1" "w2" ... (malloc'd), or NULL when it has no words. */
char *search_fts_query(const char *text);

/* 1 when the indexed words that begin with p (t[0..nt), store_fts_terms with a limit above 1) are
 * p alone and p is ASCII: the query "p"* then matches what "p" matches with the same BM25, and
 * search takes the words way's rows for the prefix way instead of asking again. */
int search_prefix_alone(const store_fts_term *t, size_t nt, const char *p);

/* 1 if words a and b (bytes) are at most one edit apart (insert, delete, substitute, or swap of
 * two neighbours). */
int search_one_edit(const char *a, size_t na, const char *b, size_t nb);

#endif
