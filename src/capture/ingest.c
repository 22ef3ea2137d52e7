/* ingest: see ingest.h. */
#include "ingest.h"

#include "../image/image.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The store's failure, its code kept (a busy store is worth one more try). */
static int fail(ingest_result *out, cs_err *err, const cs_err *why) {
    out->decision = INGEST_FAILED;
    snprintf(out->reason, sizeof out->reason, "%s", why->msg);
    return cs_errc(err, cs_err_code_of(why), "%s", why->msg);
}

/* The flag's values: absent or "0" not paused, "until:MS" paused until that time (epoch ms),
 * anything else (historically "1") paused until resumed. Unknown values count as paused. */
int ingest_pause_state(store *s, ingest_pause *p, cs_err *err) {
    memset(p, 0, sizeof *p);
    char *v = NULL, *next = NULL;
    if (store_meta_get(s, "paused", &v, err)) return -1;
    if (store_meta_get(s, "skip_next", &next, err)) {
        free(v);
        return -1;
    }
    p->skip_next = next != NULL;
    free(next);
    if (v && strcmp(v, "0") != 0) {
        p->paused = 1;
        if (!strncmp(v, "until:", 6)) {
            char *end;
            long long ms = strtoll(v + 6, &end, 10);
            if (*end || ms <= 0)
                p->until_ms = 0; /* damaged: paused until resumed (fail closed) */
            else if (ms <= store_now_ms())
                p->paused = 0; /* expired: resumed by itself */
            else
                p->until_ms = ms;
        }
    }
    free(v);
    return 0;
}

int ingest_pause_set(store *s, int64_t until_ms, cs_err *err) {
    if (until_ms < 0) return store_meta_set(s, "paused", NULL, err);
    if (until_ms == 0) return store_meta_set(s, "paused", "1", err);
    char v[40];
    snprintf(v, sizeof v, "until:%lld", (long long)until_ms);
    return store_meta_set(s, "paused", v, err);
}

void ingest_pause_json(const ingest_pause *p, struct json_t *o) {
    json_object_set_new(o, "paused", json_boolean(p->paused));
    json_object_set_new(o, "paused_until_ms", json_integer(p->paused ? p->until_ms : 0));
    json_object_set_new(o, "skip_next", json_boolean(p->skip_next));
}

int ingest_paused(store *s, char *why, size_t n) {
    cs_err e;
    ingest_pause p;
    if (ingest_pause_state(s, &p, &e)) {
        snprintf(why, n, "cannot read the pause flag, so no clip is stored (fail closed): %.900s", e.msg);
        return -1;
    }
    if (p.paused && p.until_ms) {
        time_t t = (time_t)(p.until_ms / 1000);
        struct tm tm;
        char hm[32] = "?";
        if (localtime_r(&t, &tm)) strftime(hm, sizeof hm, "%H:%M:%S", &tm);
        snprintf(why, n, "capture is paused until %s (clipseek resume)", hm);
    } else if (p.paused)
        snprintf(why, n, "capture is paused (clipseek resume)");
    return p.paused;
}

static int ingest_one(store *s, const rules *r, const capture_clip *c, int flags, ingest_result *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    cs_err e;
    /* 1. pause, failing closed */
    int p = ingest_paused(s, out->reason, sizeof out->reason);
    if (p) {
        out->decision = p < 0 ? INGEST_FAILED : INGEST_PAUSED;
        return p < 0 ? cs_err_set(err, "%s", out->reason) : 0;
    }
    /* 1b. `pause --next`: the next captured copy is let go, whatever it is. Taken atomically, so
     * of two clips racing (X11 and Wayland capture) exactly one is skipped. */
    if (flags & INGEST_CAPTURED) {
        int took = store_meta_take(s, "skip_next", &e);
        if (took < 0) return fail(out, err, &e);
        if (took) {
            out->decision = INGEST_PAUSED;
            snprintf(out->reason, sizeof out->reason, "skipped: the copy after `clipseek pause --next`");
            return 0;
        }
    }
    /* 2. classify */
    capture_kind k;
    capture_caps caps = rules_caps(r);
    if (capture_classify(c->data, c->len, c->type, &caps, &k, &e)) {
        out->decision = INGEST_INVALID;
        snprintf(out->reason, sizeof out->reason, "%s", e.msg);
        return 0;
    }
    out->kind = k.kind;
    out->subkind = k.subkind;
    /* 3. a captured clip follows the ignore rules and the secret policy; an explicit import only
     * the organising ones (the user chose those files) */
    const char *why = flags & INGEST_CAPTURED ? rules_reject(r, k.kind, k.subkind, c->data, c->len, c->source) : NULL;
    if (why) {
        out->decision = INGEST_REJECTED;
        snprintf(out->reason, sizeof out->reason, "%s", why);
        return 0;
    }
    /* 4. add, with every type the owner offered */
    store_new n = {k.kind,    k.mime,   c->offered && *c->offered ? c->offered : NULL,
                   c->data,   c->len,   c->source,
                   k.width,   k.height, 0,
                   k.subkind, k.lang};
    int added = 0;
    if (store_add(s, &n, &out->id, &added, &e)) {
        out->id = 0;
        return fail(out, err, &e);
    }
    out->decision = added ? INGEST_STORED : INGEST_BUMPED;
    if (!added) return 0;
    /* 5. the user's at-store rules; 6. retention. The clip is stored either way: a failure here is
     * a note for the log, not a refusal. */
    if (rules_apply(r, s, out->id, RULES_AT_STORE, &out->deleted, &e))
        snprintf(out->note, sizeof out->note, "rules: %.480s", e.msg);
    if (flags & INGEST_CAPTURED) {
        store_limits lim = rules_limits(r);
        if (store_prune(s, &lim, &out->pruned, &e) && !out->note[0])
            snprintf(out->note, sizeof out->note, "retention: %.480s", e.msg);
    }
    return 0;
}

/* An SVG document is a picture: it is stored as its drawing (a PNG, so thumbnails, the image
 * model and OCR see what a person sees), not as kilobytes of XML cut into text windows. A file
 * that looks like SVG but cannot be drawn stays text. The pause is checked first by ingest_one,
 * so a paused clip is never drawn. */
int ingest_clip(store *s, const rules *r, const capture_clip *c, int flags, ingest_result *out, cs_err *err) {
    unsigned char *png = NULL;
    size_t n = 0;
    capture_clip drawn;
    if (img_svg_sniff(c->data, c->len) && ingest_paused(s, out->reason, sizeof out->reason) == 0 &&
        img_svg_to_png(c->data, c->len, 256, 1024, &png, &n, NULL, NULL, NULL) == 0) {
        drawn = *c;
        drawn.data = png;
        drawn.len = n;
        drawn.type = "image/png";
        c = &drawn;
    }
    int rc = ingest_one(s, r, c, flags, out, err);
    free(png);
    return rc;
}

const char *ingest_decision_name(ingest_decision d) {
    switch (d) {
    case INGEST_STORED: return "stored";
    case INGEST_BUMPED: return "bumped";
    case INGEST_PAUSED: return "paused";
    case INGEST_REJECTED: return "rejected";
    case INGEST_INVALID: return "invalid";
    default: return "failed";
    }
}

char *ingest_describe(const ingest_result *res, const capture_clip *c, char *buf, size_t n) {
    const char *src = c && c->source ? c->source : NULL;
    size_t len = c ? c->len : 0;
    int w;
    switch (res->decision) {
    case INGEST_STORED:
    case INGEST_BUMPED:
        w = snprintf(buf, n, "%s entry %lld (%s%s%s, %zu bytes%s%s)%s", ingest_decision_name(res->decision),
                     (long long)res->id, res->kind, res->subkind ? "/" : "", res->subkind ? res->subkind : "", len,
                     src ? ", from " : "", src ? src : "", res->deleted ? ", deleted again by a rule" : "");
        if (w >= 0 && (size_t)w < n && res->pruned)
            w += snprintf(buf + w, n - (size_t)w, "; retention removed %lld old entries", (long long)res->pruned);
        if (w >= 0 && (size_t)w < n && res->note[0]) snprintf(buf + w, n - (size_t)w, "; %s", res->note);
        break;
    case INGEST_FAILED: snprintf(buf, n, "clip not stored: %s", res->reason); break;
    default: snprintf(buf, n, "clip not stored (%s): %s", ingest_decision_name(res->decision), res->reason); break;
    }
    return buf;
}
