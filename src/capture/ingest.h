/* ingest: the one path from "a clip arrived" to "it is stored, or not, and why". Every entry
 * point calls it: the daemon's X11 capture, `clipseek store` and `clipseek wl-event` (Wayland),
 * and `clipseek add`. Before this module each carried its own copy of the chain, and the copies
 * drifted (the CLI stored no offered types; a failed pause-flag read meant "not paused").
 *
 * The chain, in order:
 *   1. the pause flag (store meta "paused"; a timed pause holds its end time): set -> not stored. A
 *      flag that cannot be read counts as set: a privacy switch fails closed (the clip is refused
 *      and -1 returned). Then, captured clips only, `pause --next` (meta "skip_next"): taken, and
 *      that one clip is not stored (INGEST_PAUSED).
 *   2. classify (capture_classify: image, files or text, size caps from the config); a whole SVG
 *      document is first drawn to a PNG (img_svg_to_png) and stored as that image;
 *   3. captured clips only (INGEST_CAPTURED): the ignore rules and the secret policy
 *      (rules_reject: ignore_text, ignore_app, store_secrets = false, rule ... -> ignore);
 *   4. store_add, with every offered type (clip->offered; NULL: the stored type);
 *   5. the at-store user rules (tag, collection, pin, expire);
 *   6. captured clips only: retention (store_prune with the config's limits).
 * Library code: nothing is printed; the caller logs ingest_describe()'s line. */
#ifndef INGEST_H
#define INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "../store/store.h"
#include "capture.h"
#include "../config/rules.h"

typedef enum ingest_decision {
    INGEST_STORED = 0, /* a new entry */
    INGEST_BUMPED,     /* the same content was there: copied again */
    INGEST_PAUSED,     /* the pause flag is set */
    INGEST_REJECTED,   /* an ignore rule or the secret policy */
    INGEST_INVALID,    /* not a clip we keep: empty, over a cap, neither text nor image */
    INGEST_FAILED      /* the store failed, or the pause flag could not be read (refused) */
} ingest_decision;

typedef struct ingest_result {
    ingest_decision decision;
    int64_t id;          /* the entry (STORED, BUMPED), else 0 */
    const char *kind;    /* "text", "image", "files" (static), NULL when not classified */
    const char *subkind; /* text kind (static), NULL for prose and other kinds */
    int deleted;         /* an at-store rule deleted the new entry again */
    int64_t pruned;      /* entries retention removed afterwards */
    char reason[1024];   /* why not stored, or what failed; "" when stored or bumped */
    char note[512];      /* stored, but a later step failed (rules, retention): "" when none */
} ingest_result;

enum {
    INGEST_CAPTURED = 1 /* a captured clip (not an explicit import): ignore rules, secret policy,
                           retention */
};

/* Runs the chain above on one clip. r is the config (rules_load; required). Returns 0 when a decision
 * was made (out->decision says which; only STORED and BUMPED stored anything), -1 when it failed
 * (out->decision INGEST_FAILED, the reason in out->reason and err): nothing was stored then. */
int ingest_clip(store *s, const rules *r, const capture_clip *clip, int flags, ingest_result *out, cs_err *err);

/* The pause flag alone, for callers that decide before reading a clip at all: 1 when it is set,
 * -1 when it cannot be read (keep clips out: fail closed), 0 when not paused. why (n bytes)
 * gets the reason for 1 and -1. ingest_clip checks it itself. */
int ingest_paused(store *s, char *why, size_t n);

/* The pause state: paused (1, or 0 when not paused or a timed pause has run out), until_ms (the
 * time a timed pause ends, epoch ms; 0 = until `resume`), skip_next (`pause --next`: the next
 * captured copy is not stored). Returns 0, or -1 when the flags cannot be read (err set). The
 * expiry is stored, not a flag that something must clear: a pause ends on time even if no
 * process ran at that moment (a daemon restart, a reboot). */
typedef struct ingest_pause {
    int paused;
    int64_t until_ms;
    int skip_next;
} ingest_pause;
int ingest_pause_state(store *s, ingest_pause *p, cs_err *err);
struct json_t;
/* Adds "paused" (bool), "paused_until_ms" (epoch ms; 0 = until resumed, or not paused) and
 * "skip_next" (bool) to a JSON object: the daemon's STATUS, /api/status, `status --json`. */
void ingest_pause_json(const ingest_pause *p, struct json_t *o);
/* Pauses until (epoch ms), 0 = until resumed; a negative until_ms resumes. */
int ingest_pause_set(store *s, int64_t until_ms, cs_err *err);

/* "stored", "bumped", "paused", "rejected", "invalid", "failed". */
const char *ingest_decision_name(ingest_decision d);

/* One log line for a result, e.g. "stored entry 12 (text, 40 bytes, from firefox)" or
 * "not stored: it looks like a secret (store_secrets = false)". Returns buf. */
char *ingest_describe(const ingest_result *res, const capture_clip *clip, char *buf, size_t n);

#endif
