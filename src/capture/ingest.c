/* ingest: see ingest.h. */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The store's failure, its code kept (a busy store is worth one more try). */
static int fail(ingest_result *out, cs_err *err, const cs_err *why) {
    out->decision = INGEST_FAILED;
    snprintf(out->reason, sizeof out->reason, "%s", why->msg);
    return cs_errc(err, cs_err_code_of(why), "%s", why->msg);
}

int ingest_paused(store *s, char *why, size_t n) {
    cs_err e;
    char *paused = NULL;
    if (store_meta_get(s, "paused", &paused, &e)) {
        snprintf(why, n, "cannot read the pause flag, so no clip is stored (fail closed): %.900s", e.msg);
        return -1;
    }
    /* only no flag at all, or an explicit "0", means "not paused" */
    int on = paused && strcmp(paused, "0") != 0;
    free(paused);
    if (on) snprintf(why, n, "capture is paused (clipseek resume)");
    return on;
}

int ingest_clip(store *s, const rules *r, const capture_clip *c, int flags, ingest_result *out, cs_err *err) {
    memset(out, 0, sizeof *out);
    cs_err e;
    /* 1. pause, failing closed */
    int p = ingest_paused(s, out->reason, sizeof out->reason);
    if (p) {
        out->decision = p < 0 ? INGEST_FAILED : INGEST_PAUSED;
        return p < 0 ? cs_err_set(err, "%s", out->reason) : 0;
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
    store_new n = {k.kind, k.mime, c->offered && *c->offered ? c->offered : NULL, c->data, c->len, c->source,
                   k.width, k.height, 0, k.subkind, k.lang};
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
