/* store_json: an entry as one preview line and as the stable JSON object (docs/cli.md), shared
 * by the CLI and the web API. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_utf8.h"
#include "store.h"

/* One line of at most max bytes (UTF-8 safe): whitespace runs collapsed. malloc'd. */
char *store_preview(const store_entry *e, size_t max) {
    char *out = malloc(max + 64);
    if (!out) return NULL;
    if (!e->text) {
        snprintf(out, max + 64, "[%s %dx%d %s]", e->kind, e->width, e->height,
                 e->mime ? e->mime + (strncmp(e->mime, "image/", 6) ? 0 : 6) : "");
        return out;
    }
    const unsigned char *t = (const unsigned char *)e->text;
    size_t n = strlen(e->text), o = 0;
    int space = 0;
    for (size_t i = 0; i < n && o < max;) {
        int32_t cp;
        size_t k = cs_utf8_next(t + i, n - i, &cp);
        if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f') {
            space = o > 0;
            i += k;
            continue;
        }
        if (space) {
            out[o++] = ' ';
            space = 0;
        }
        /* other controls and bidi overrides dropped (cs_utf8_unsafe), broken UTF-8 as U+FFFD: a
         * preview goes to terminals */
        if (cs_utf8_unsafe(cp)) {
            i += k;
            continue;
        }
        size_t w = cp < 0 ? 3 : k;
        if (o + w > max) break;
        memcpy(out + o, cp < 0 ? "\xef\xbf\xbd" : (const char *)t + i, w);
        o += w;
        i += k;
    }
    out[o] = 0;
    if (o >= max) strcpy(out + o, "…");
    return out;
}

json_t *store_entry_json(const store_entry *e) {
    json_t *o = json_object(), *tags = json_array();
    char *pv = store_preview(e, 200);
    json_object_set_new(o, "id", json_integer(e->id));
    json_object_set_new(o, "kind", json_string(e->kind));
    if (e->subkind) json_object_set_new(o, "text_kind", json_string(e->subkind));
    if (e->lang) json_object_set_new(o, "language", json_string(e->lang));
    json_object_set_new(o, "mime", json_string(e->mime ? e->mime : ""));
    json_object_set_new(o, "size", json_integer(e->size));
    json_object_set_new(o, "sha256", json_string(e->sha256));
    json_object_set_new(o, "preview", json_string(pv ? pv : ""));
    json_object_set_new(o, "source", e->source ? json_string(e->source) : json_null());
    json_object_set_new(o, "first_copied_ms", json_integer(e->first_ms));
    json_object_set_new(o, "last_copied_ms", json_integer(e->last_ms));
    json_object_set_new(o, "copies", json_integer(e->copies));
    json_object_set_new(o, "pinned", json_boolean(e->pinned));
    if (!strcmp(e->kind, "image")) {
        json_object_set_new(o, "width", json_integer(e->width));
        json_object_set_new(o, "height", json_integer(e->height));
    }
    if (e->ocr_text && *e->ocr_text) json_object_set_new(o, "ocr_text", json_string(e->ocr_text));
    if (e->category) {
        json_object_set_new(o, "category", json_string(e->category));
        json_object_set_new(o, "category_confidence", json_real(e->category_conf));
    }
    if (e->collection) json_object_set_new(o, "collection", json_integer(e->collection));
    if (e->dup_of) json_object_set_new(o, "duplicate_of", json_integer(e->dup_of));
    if (e->expire_ms) json_object_set_new(o, "expires_ms", json_integer(e->expire_ms));
    for (int i = 0; i < e->ntags; i++) json_array_append_new(tags, json_string(e->tags[i]));
    json_object_set_new(o, "tags", tags);
    free(pv);
    return o;
}
