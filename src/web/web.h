/* web: the local web page and its JSON API (libmicrohttpd), served by `clipseek daemon` and
 * `clipseek web`. docs/web.md documents the API.
 *
 * Security model (the page shows the most sensitive data on the desktop, and any web site the
 * user visits can send requests to localhost):
 *   - listens on 127.0.0.1 and ::1 only;
 *   - a random 256-bit token in <data dir>/web.token (0600); GET /?token=T (the URL `clipseek web
 *     --open` opens) answers with an HttpOnly, SameSite=Strict cookie holding it and a redirect
 *     to /; every other request needs that cookie (or "Authorization: Bearer T") or gets 401
 *     with no data;
 *   - the Host header must be 127.0.0.1, localhost or [::1] with our port (DNS rebinding);
 *   - state changes are POST or DELETE only, with an Origin header naming us (cross-site
 *     requests are refused before anything is read);
 *   - responses carry a Content-Security-Policy without inline or remote script, nosniff,
 *     no-referrer and frame-ancestors 'none'; images come from the store by id with the type
 *     their bytes have; the page inserts entry content as text only;
 *   - bodies over 16 KiB, URLs over 4 KiB and anything malformed get a JSON error.
 * Static assets (src/web/assets) are compiled into the binary. */
#ifndef WEB_H
#define WEB_H

#include <stddef.h>
#include <stdint.h>

#include "../common/cs_err.h"
#include "../search/search.h"

#define WEB_DEFAULT_PORT 7717

/* Meaning search, supplied by whoever holds a model: embeds text and runs search_run with the
 * filters in *q (q->text is set; q->qvec/vecs are for the callee to fill). NULL: full text only. */
typedef int (*web_search_fn)(void *arg, store *s, search_query *q, search_hit **hits, size_t *n, cs_err *err);
/* Adds daemon state (model, indexing) to a JSON object (a json_t *). May be NULL. */
typedef void (*web_status_fn)(void *arg, void *json_object);

typedef struct web_params {
    const char *data_dir;
    int port;                 /* 0: any free port (tests) */
    web_search_fn search;
    web_status_fn status;
    void *arg;                /* passed to search and status */
} web_params;

typedef struct web_server web_server;

/* Starts serving in background threads. Fails if the port cannot be bound on 127.0.0.1. */
int web_start(const web_params *p, web_server **out, cs_err *err);
void web_stop(web_server *w); /* NULL is a no-op */
int web_port(const web_server *w);
/* The URL that logs the browser in: http://127.0.0.1:PORT/?token=T (malloc'd). */
char *web_login_url(const web_server *w);

/* Reads <data_dir>/web.token, creating it (0600, 64 hex digits) if absent. */
int web_token(const char *data_dir, char out[65], cs_err *err);

#endif
