/* ipc_search: the SEARCH request of the control socket, both halves.
 *
 * Request:  SEARCH {"q": TEXT, "kind": K, "since_ms": T, "limit": N, "collection": C, "category": C}
 * Reply:    {"hits": [[id, score, signals, cosine, match, standout], ...], "embed_ms": T,
 *            "total_ms": T, "warning": W (only when set)} or {"error": MSG}
 * A limit outside 1..1000 becomes 20. */
#ifndef IPC_SEARCH_H
#define IPC_SEARCH_H

#include <stddef.h>

#include "../common/cs_err.h"
#include "../search/search.h"

/* Client: asks the daemon of data_dir to run q (its text, kind, since_ms, limit, collection and
 * category; q->text must not be NULL). Returns 0 with *hits (malloc'd) and *n, q->warning set
 * from the reply; 1 when no daemon answers or the exchange fails (the caller searches itself);
 * -1 with err ("daemon: MSG") when the daemon answered with an error. */
int ipc_search(const char *data_dir, search_query *q, search_hit **hits, size_t *n, cs_err *err);

/* The daemon's search: fills *hits and *n for q like search_with_model, embed_ms (not NULL) gets
 * the text tower's time. */
typedef int (*ipc_search_fn)(void *arg, search_query *q, search_hit **hits, size_t *n, double *embed_ms, cs_err *err);

/* Server: answers the JSON body of a SEARCH request with fn. Returns the reply line (malloc'd;
 * NULL only when out of memory); a malformed request gets {"error": "bad request"}. */
char *ipc_search_answer(const char *body, ipc_search_fn fn, void *arg);

#endif
