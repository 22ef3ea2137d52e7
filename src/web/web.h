/* web: the local web page and its JSON API (libmicrohttpd), served by `clipseek daemon` and
 * `clipseek web`. docs/web.md documents the API.
 *
 * Security model (the page shows the most sensitive data on the desktop, and any web site the
 * user visits can send requests to localhost):
 *   - listens on 127.0.0.1 and ::1 only;
 *   - the browser logs in with a one-time code: `clipseek web --open` asks the server (in this
 *     process or the daemon's, over its control socket) for one and opens
 *     http://127.0.0.1:PORT/login?code=C; the code is good for one use within WEB_CODE_TTL_S, so
 *     the copy that `ps` shows on the browser's command line is spent or expired. /login answers
 *     with a session cookie (HttpOnly, SameSite=Strict) and a redirect to /;
 *   - a session is its own random 256-bit value, ends WEB_SESSION_IDLE_S after its last use or
 *     WEB_SESSION_MAX_S after the login, and at web_logout_all (`clipseek web --logout-all`).
 *     Sessions live in memory only: a restart logs every browser out (deliberately: no session
 *     secret is ever on disk). At most 64; a 65th login ends the least recently used;
 *   - scripts send the long-lived token in <data dir>/web.token (0600) as
 *     "Authorization: Bearer T"; it is never accepted in a URL or a cookie, because browsers
 *     send 127.0.0.1's cookies to every port on it (docs/web.md: the residual risk);
 *   - every other request without a session or the token gets 401 with no data;
 *   - at most 64 connections, 32 from one address; one over gets a 503 answer. Each request
 *     (headers and body) must be complete 10 s after it began (slowloris), or its connection is
 *     closed;
 *   - previews of secret entries (text kind "secret") are masked in every list; only the
 *     entry's own GET /api/entries/ID (and its slices, /text) carries its text;
 *   - the Host header must be 127.0.0.1, localhost or [::1] with our port (DNS rebinding);
 *   - state changes are POST or DELETE only, with an Origin header naming us (cross-site
 *     requests are refused before anything is read);
 *   - responses carry a Content-Security-Policy without inline or remote script, nosniff,
 *     no-referrer and frame-ancestors 'none'; images come from the store by id with the type
 *     their bytes have (a download is named clipseek-ID.EXT by the server, never by the
 *     entry); the page inserts entry content as text only;
 *   - bodies over 16 KiB, URLs over 4 KiB and anything malformed get a JSON error.
 * Static assets (src/web/assets) are compiled into the binary. */
#ifndef WEB_H
#define WEB_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "../search/search.h"

#define WEB_DEFAULT_PORT   7717
#define WEB_CODE_TTL_S     60              /* a login code's life */
#define WEB_SESSION_IDLE_S (12 * 3600)     /* a session ends this long after its last request */
#define WEB_SESSION_MAX_S  (7 * 24 * 3600) /* and this long after its login, however busy */

/* Meaning search, supplied by whoever holds a model: embeds text and runs search_run with the
 * filters in *q (q->text is set; q->qvec/vecs are for the callee to fill). NULL: full text only. */
typedef int (*web_search_fn)(void *arg, store *s, search_query *q, search_hit **hits, size_t *n, cs_err *err);
/* Adds daemon state (model, indexing) to a JSON object (a json_t *). May be NULL. */
typedef void (*web_status_fn)(void *arg, void *json_object);

typedef struct web_params {
    const char *data_dir;
    int port; /* 0: any free port (tests) */
    web_search_fn search;
    web_status_fn status;
    void *arg;                                        /* passed to search and status */
    double code_ttl_s, session_idle_s, session_max_s; /* 0: the WEB_* defaults (tests shorten them) */
} web_params;

/* web_params with the defaults: port WEB_DEFAULT_PORT, the WEB_* lifetimes, no search (full
 * text only) and no status; data_dir must be set. */
web_params web_default_params(void);

typedef struct web_server web_server;

/* Starts serving in background threads. Fails if the port cannot be bound on 127.0.0.1. */
int web_start(const web_params *p, web_server **out, cs_err *err);
void web_stop(web_server *w); /* NULL is a no-op */
int web_port(const web_server *w);
/* A fresh one-time login URL, http://127.0.0.1:PORT/login?code=C (malloc'd; NULL if out of
 * memory or randomness). The code works once, within WEB_CODE_TTL_S; at most 16 are pending (a
 * 17th drops the oldest). Thread-safe. */
char *web_login_url(web_server *w);
/* Ends every session and pending login code: each browser must log in again. Returns how many
 * sessions ended. Thread-safe. */
int web_logout_all(web_server *w);

/* The HTTP status for a failure (cs_err_code): CS_ENOTFOUND 404, CS_EINVAL 400, CS_EBUSY 503,
 * anything else 500. Every error answer of the API goes through it. */
unsigned web_status_for(const cs_err *err);

/* Reads <data_dir>/web.token, creating it (0600, 64 hex digits) if absent. */
int web_token(const char *data_dir, char out[65], cs_err *err);

#endif
