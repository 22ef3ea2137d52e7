/* search_json: what a search hit says about itself, for the CLI (--json, --format tsv) and the
 * web API, so both read the same. */
#ifndef SEARCH_JSON_H
#define SEARCH_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "../store/store.h"
#include "search.h"

/* Adds to o (an entry's object, store_entry_json) the hit's fields: "score", "signals" ("text",
 * "meaning"), "cosine" and "standout" (meaning), "why" ("words", "looks like", "means"), "match"
 * (exact, words, prefix, fuzzy, substring) and "matched" (the entry's words that the query's words
 * matched, for highlighting). query is the query text (may be NULL). */
void search_hit_json(json_t *o, const search_hit *h, const store_entry *e, const char *query);

/* A picker line "ID<TAB>KIND<TAB>PREVIEW" (no newline; tabs and newlines in the preview become
 * spaces). An image's preview is "[image] " and the text read from it, or its category, or the
 * store's "[image WxH png]". max bounds the preview in bytes. malloc'd; NULL when out of memory. */
char *search_pick_line(const search_hit *h, const store_entry *e, size_t max);

#endif
