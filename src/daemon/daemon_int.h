/* daemon_int: what the daemon's source files share (daemon.c: the process; daemon_capture.c:
 * the capture thread; daemon_requests.c: the control socket's requests and the web page's
 * callbacks); not part of the daemon's API. */
#ifndef DAEMON_INT_H
#define DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../config/rules.h"
#include "../index/worker.h"
#include "../web/web.h"
#include "daemon.h"

typedef struct daemon_state {
    daemon_params p;
    atomic_int stop;          /* set by a signal, STOP, or the end: every thread polls it */
    pthread_mutex_t lock;     /* the fields below */
    int64_t clips;            /* clips stored (this process's capture and wl-event's reports) */
    int64_t not_stored;       /* captured but not stored: an error (the store failed, pause
                             * unreadable, a bad config under the watcher), not an ignore rule */
    int64_t capture_restarts; /* times the Wayland watcher exited and was started again */
    char capture[32], last_error[1024];
    int web_port; /* 0: no web page */
    /* a store connection kept open between SEARCH requests (NULL while one uses it): its SQLite
     * page cache, full-text tables and prepared schema stay warm; a request that finds it taken
     * opens its own. Closed at shutdown, after the control connections are joined. */
    store *search_store;
    web_server *web;         /* set before the control socket is served; NULL: no web page */
    int64_t config_reloads;  /* reloads that took effect */
    int64_t cli_answered;    /* searches printed for the front (CLI requests answered OK) */
    char config_error[1024]; /* why the last reload failed ("" once one succeeds) */
    /* the config: replaced whole by a reload (write lock) while capture and the web start read
     * it (read lock); the worker has its own copy of the pointer (index_worker_set_rules) */
    pthread_rwlock_t rules_lock;
    rules *rules;
    index_worker *worker; /* embeds and organises; holds the model searches use */
} daemon_state;

/* Records msg as STATUS' last_error and logs it. */
void daemon_set_error(daemon_state *d, const char *msg);
/* Sets the capture state STATUS shows ("x11", "wayland", "failed", "off", "none"). */
void daemon_set_capture(daemon_state *d, const char *state);
/* A clip was stored (by this process or by `clipseek wl-event`): counts it, wakes the indexer. */
void daemon_clip_stored(daemon_state *d);
/* A captured clip could not be stored: counts it, records why. */
void daemon_clip_lost(daemon_state *d, const char *why);

/* Reads the config again (SIGHUP, RELOAD, the file changed; why says which, for the log). A
 * config that does not load leaves the previous one in force: the reason is logged and kept for
 * STATUS ("config_error"). What takes effect when is in docs/cli.md (reload). Returns 0, or -1
 * with err (may be NULL). */
int daemon_reload(daemon_state *d, const char *why, cs_err *err);

/* Starts the capture thread the session calls for (X11, Wayland through wl-paste, or none);
 * *started says whether one runs (then join *t once d->stop is set). */
void daemon_start_capture(daemon_state *d, pthread_t *t, int *started);

/* The control socket's handler (ipc_handler): one request line, one reply. */
int daemon_on_request(void *arg, const char *line, char **reply, size_t *reply_len);
/* The web page's search (web_search_fn) and status (web_status_fn), arg the daemon_state. */
int daemon_web_search(void *arg, store *s, search_query *q, search_hit **h, size_t *n, cs_err *e);
void daemon_web_status(void *arg, void *obj);

#endif
