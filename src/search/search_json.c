/* search_json: a hit's JSON fields and picker line, shared by the CLI and the web API so both
 * say the same thing about why an entry is listed (search.h). */
#include "search_json.h"

#include <stdlib.h>
#include <string.h>

#include "search.h"

void search_hit_json(json_t *o, const search_hit *h, const store_entry *e, const char *query) {
    int img = !strcmp(e->kind, "image");
    json_object_set_new(o, "score", json_real(h->score));
    json_t *sig = json_array();
    if (h->signals & SEARCH_TEXT) json_array_append_new(sig, json_string("text"));
    if (h->signals & SEARCH_MEANING) {
        json_array_append_new(sig, json_string("meaning"));
        json_object_set_new(o, "cosine", json_real(h->cosine));
        json_object_set_new(o, "standout", json_real(h->standout));
        /* which space the meaning came from: CLIP's, or the text embedder's (docs/text-models.md) */
        json_object_set_new(o, "space", json_string(h->signals & SEARCH_MEANING_TEXT ? "text" : "clip"));
    }
    json_object_set_new(o, "signals", sig);
    const char *why = search_why(h, img), *match = search_match_name(h->match);
    if (why) json_object_set_new(o, "why", json_string(why));
    if (match && (h->signals & SEARCH_TEXT)) json_object_set_new(o, "match", json_string(match));
    if (h->signals & SEARCH_TEXT) {
        /* the words to highlight, from the text a person sees: the entry's text, else what was
         * read from the image, else its category */
        const char *t = e->text ? e->text : e->ocr_text && *e->ocr_text ? e->ocr_text : e->category;
        char *w[32];
        size_t n = search_matched_words(t, query, w, 32);
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(arr, json_string(w[i]));
            free(w[i]);
        }
        json_object_set_new(o, "matched", arr);
    }
}

char *search_pick_line(const search_hit *h, const store_entry *e, size_t max) {
    (void)h;
    char *pv;
    if (!strcmp(e->kind, "image") && ((e->ocr_text && *e->ocr_text) || e->category)) {
        /* an image reads as what is written in it, else as its category; the store's preview
         * of a text kind does the UTF-8-safe cut and the white-space folding */
        store_entry t = *e;
        strcpy(t.kind, "text");
        t.text = e->ocr_text && *e->ocr_text ? e->ocr_text : e->category;
        char *inner = store_preview(&t, max > 20 ? max - 20 : max);
        size_t len = (inner ? strlen(inner) : 0) + 40;
        pv = malloc(len);
        if (pv) snprintf(pv, len, "[image] %s", inner ? inner : "");
        free(inner);
    } else
        pv = store_preview(e, max);
    if (!pv) return NULL;
    for (char *p = pv; *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
    size_t len = strlen(pv) + strlen(e->kind) + 32;
    char *line = malloc(len);
    if (line) snprintf(line, len, "%lld\t%s\t%s", (long long)e->id, e->kind, pv);
    free(pv);
    return line;
}
