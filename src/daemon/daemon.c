/* daemon: see daemon.h. The map of the process: which threads run, what they share, and how a
 * request reaches the module that answers it. The work itself lives elsewhere: capture in
 * src/capture (x11.c, wl_watch.c, ingest.c), indexing, organising and the loaded model in
 * src/index/worker.c, the socket protocol in src/ipc, the web page in src/web. */
#include "daemon.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../capture/capture.h"
#include "../capture/ingest.h"
#include "../capture/wl_watch.h"
#include "../capture/x11.h"
#include "../common/cs_log.h"
#include "../common/cs_proc.h"
#include "../config/rules.h"
#include "../index/worker.h"
#include "../ipc/ipc.h"
#include "../ipc/ipc_search.h"
#include "../search/vecindex.h"
#include "../store/store.h"
#include "../web/web.h"

static atomic_int *g_stop; /* the running daemon's stop flag, for the signal handler */
static void on_signal(int s) {
    (void)s;
    if (g_stop) atomic_store(g_stop, 1); /* lock-free: async-signal-safe */
}

typedef struct daemon_state {
    daemon_params p;
    atomic_int stop;        /* set by a signal, STOP, or the end: every thread polls it */
    pthread_mutex_t lock;   /* the fields below */
    int64_t clips;          /* clips stored (this process's capture and wl-event's reports) */
    int64_t not_stored;     /* captured but not stored: an error (the store failed, pause
                             * unreadable, a bad config under the watcher), not an ignore rule */
    int64_t capture_restarts; /* times the Wayland watcher exited and was started again */
    char capture[32], last_error[1024];
    int web_port;           /* 0: no web page */
    web_server *web;        /* set before the control socket is served; NULL: no web page */
    rules *rules;
    index_worker *worker;   /* embeds and organises; holds the model searches use */
} daemon_state;

static void set_error(daemon_state *d, const char *msg) {
    pthread_mutex_lock(&d->lock);
    snprintf(d->last_error, sizeof d->last_error, "%.1000s", msg);
    pthread_mutex_unlock(&d->lock);
    cs_log(CS_LOG_ERROR, "%s", msg);
}

static void on_worker_error(const char *msg, void *arg) { set_error(arg, msg); }

static void set_capture(daemon_state *d, const char *state) {
    pthread_mutex_lock(&d->lock);
    snprintf(d->capture, sizeof d->capture, "%s", state);
    pthread_mutex_unlock(&d->lock);
}

/* A clip was stored (by this process or by `clipseek wl-event`): count it, wake the indexer. */
static void clip_stored(daemon_state *d) {
    pthread_mutex_lock(&d->lock);
    d->clips++;
    pthread_mutex_unlock(&d->lock);
    index_worker_kick(d->worker);
}

static void clip_lost(daemon_state *d, const char *why) {
    pthread_mutex_lock(&d->lock);
    d->not_stored++;
    pthread_mutex_unlock(&d->lock);
    set_error(d, why);
}

/* ---- capture ---- */

typedef struct { daemon_state *d; store *s; } cap_ctx;

static void on_clip(const capture_clip *c, void *arg) {
    cap_ctx *cc = arg;
    ingest_result r;
    cs_err e;
    char line[1400];
    int rc = ingest_clip(cc->s, cc->d->rules, c, INGEST_CAPTURED, &r, &e);
    /* the store was locked past SQLite's 5 s wait (a long `clipseek import`, gc): once more
     * before the clip counts as lost; any other failure would only fail again */
    if (rc && cs_err_code_of(&e) == CS_EBUSY) rc = ingest_clip(cc->s, cc->d->rules, c, INGEST_CAPTURED, &r, &e);
    ingest_describe(&r, c, line, sizeof line);
    if (rc) {
        clip_lost(cc->d, line);
        return;
    }
    cs_log(CS_LOG_INFO, "%s", line);
    if (r.decision == INGEST_STORED || r.decision == INGEST_BUMPED) clip_stored(cc->d);
}

static void cap_log(const char *msg, void *arg) {
    (void)arg;
    cs_log(CS_LOG_INFO, "%s", msg);
}

/* X11 through XFixes. The X server may go away (a session restart, a crash): the web page, the
 * indexer and the socket keep running, and capture reconnects with backoff (0.5 s doubling to
 * 8 s). */
static void *x11_thread(void *arg) {
    daemon_state *d = arg;
    cap_ctx cc = {d, NULL};
    cs_err e;
    if (store_open(d->p.data_dir, &cc.s, &e)) { set_error(d, e.msg); return NULL; }
    capture_x11_params xp = capture_x11_default_params();
    xp.primary = d->p.primary || rules_primary(d->rules);
    xp.caps = rules_caps(d->rules);
    xp.debounce_ms = rules_debounce_ms(d->rules);
    capture_x11 *x;
    int backoff_ms = 500;
    while (!atomic_load(&d->stop)) {
        if (capture_x11_open(&xp, &x, &e)) {
            set_error(d, e.msg);
            for (int i = 0; i < backoff_ms / 100 && !atomic_load(&d->stop); i++) usleep(100000);
            if (backoff_ms < 8000) backoff_ms *= 2;
            continue;
        }
        backoff_ms = 500;
        cs_log(CS_LOG_INFO, "capturing the X11 clipboard%s", xp.primary ? " and PRIMARY" : "");
        if (capture_x11_run(x, on_clip, &cc, cap_log, &d->stop, &e)) {
            set_error(d, e.msg);
            cs_log(CS_LOG_INFO, "X11 capture: reconnecting");
        }
        capture_x11_close(x);
    }
    store_close(cc.s);
    return NULL;
}

static void wl_report(void *arg, const char *state, const char *error, int restarted) {
    daemon_state *d = arg;
    pthread_mutex_lock(&d->lock);
    if (state) snprintf(d->capture, sizeof d->capture, "%s", state);
    d->capture_restarts += restarted;
    pthread_mutex_unlock(&d->lock);
    if (error) set_error(d, error);
}

/* Wayland: `wl-paste --watch clipseek wl-event` under supervision; X11 through XWayland on a
 * compositor without the data-control protocol. */
static void *wayland_thread(void *arg) {
    daemon_state *d = arg;
    wl_watch_params wp = {d->p.self_exe, d->p.data_dir, d->p.x11, wl_report, d};
    if (wl_watch_run(&wp, &d->stop) == 1) {
        set_capture(d, "x11");
        return x11_thread(d);
    }
    return NULL;
}

/* Starts the capture thread the session calls for; *started says whether one runs. */
static void start_capture(daemon_state *d, pthread_t *t, int *started) {
    const daemon_params *p = &d->p;
    int x11 = p->x11 && getenv("DISPLAY");
    *started = 0;
    if (p->no_capture) set_capture(d, "off");
    else if (getenv("WAYLAND_DISPLAY") && cs_proc_have("wl-paste") && p->self_exe) {
        set_capture(d, "wayland");
        *started = pthread_create(t, NULL, wayland_thread, d) == 0;
    } else if (getenv("WAYLAND_DISPLAY") && !x11) {
        set_capture(d, "failed");
        set_error(d, "Wayland without wl-paste: install wl-clipboard to capture (or set DISPLAY for XWayland capture)");
    } else if (x11) {
        set_capture(d, "x11");
        *started = pthread_create(t, NULL, x11_thread, d) == 0;
    } else {
        set_capture(d, "none");
        cs_log(CS_LOG_INFO, "no display: not capturing (clipseek add and clipseek store still work)");
    }
}

/* ---- requests (daemon.h lists them) ---- */

static char *status_json(daemon_state *d) {
    index_worker_stats st;
    index_worker_get_stats(d->worker, &st);
    pthread_mutex_lock(&d->lock);
    json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:i, s:I}", "pid",
                          (json_int_t)getpid(), "capture", d->capture, "model", st.model_id, "clips", (json_int_t)d->clips,
                          "not_stored", (json_int_t)d->not_stored, "indexed", (json_int_t)st.indexed, "failed",
                          (json_int_t)st.failed, "organised", (json_int_t)st.organised, "ocr_read", (json_int_t)st.ocr_read,
                          "index_passes", (json_int_t)st.passes, "index_idle", st.idle, "last_error", d->last_error,
                          "web_port", d->web_port, "capture_restarts", (json_int_t)d->capture_restarts);
    pthread_mutex_unlock(&d->lock);
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return txt ? txt : strdup("{}");
}

/* SEARCH and the web page: with the worker's model, on a store connection of the request's own. */
static int search_fn(void *arg, search_query *q, search_hit **h, size_t *n, double *embed_ms, cs_err *e) {
    daemon_state *d = arg;
    store *s;
    index_worker_wait_checked(d->worker); /* just started: the model may be loading */
    if (store_open(d->p.data_dir, &s, e)) return -1;
    int rc = index_worker_search(d->worker, s, q, h, n, embed_ms, e);
    store_close(s);
    /* similar entries of one without a vector yet: none, as the web page expects */
    if (rc && cs_err_code_of(e) == CS_ENOTFOUND && q->exclude && !q->text) rc = 0;
    return rc;
}

static int web_search(void *arg, store *s, search_query *q, search_hit **h, size_t *n, cs_err *e) {
    daemon_state *d = arg;
    int rc = index_worker_search(d->worker, s, q, h, n, NULL, e);
    if (rc && cs_err_code_of(e) == CS_ENOTFOUND && q->exclude && !q->text) rc = 0;
    return rc;
}

/* The web page's view of the daemon. */
static void web_status(void *arg, void *obj) {
    daemon_state *d = arg;
    index_worker_stats st;
    index_worker_get_stats(d->worker, &st);
    json_t *o = obj;
    pthread_mutex_lock(&d->lock);
    json_object_set_new(o, "capture", json_string(d->capture));
    json_object_set_new(o, "model", json_string(st.model_id));
    json_object_set_new(o, "indexed", json_integer(st.indexed));
    json_object_set_new(o, "organised", json_integer(st.organised));
    json_object_set_new(o, "ocr_read", json_integer(st.ocr_read));
    json_object_set_new(o, "index_idle", json_boolean(st.idle));
    json_object_set_new(o, "last_error", json_string(d->last_error));
    pthread_mutex_unlock(&d->lock);
}

static char *web_request(daemon_state *d, const char *line) {
    char *url = NULL, out[1100];
    if (!d->web) snprintf(out, sizeof out, "ERR this daemon serves no web page (web = false?)");
    else if (!strcmp(line, "WEB-LOGOUT-ALL")) snprintf(out, sizeof out, "OK %d", web_logout_all(d->web));
    else if (!(url = web_login_url(d->web))) snprintf(out, sizeof out, "ERR cannot make a login code");
    else snprintf(out, sizeof out, "OK %s", url);
    free(url);
    return strdup(out);
}

static int on_request(void *arg, const char *line, char **reply) {
    daemon_state *d = arg;
    char out[1400];
    int64_t indexed = 0;
    if (!strcmp(line, "PING")) snprintf(out, sizeof out, "OK %ld", (long)getpid());
    else if (!strcmp(line, "STATUS")) return *reply = status_json(d), IPC_CONTINUE;
    else if (!strncmp(line, "CAPTURED ", 9)) { /* from `clipseek wl-event`: a clip was decided */
        if (!strcmp(line + 9, "stored") || !strcmp(line + 9, "bumped")) clip_stored(d);
        snprintf(out, sizeof out, "OK");
    } else if (!strncmp(line, "CAPTURE-ERROR ", 14)) { /* from `clipseek wl-event`: a clip was lost */
        pthread_mutex_lock(&d->lock);
        d->not_stored++;
        snprintf(d->last_error, sizeof d->last_error, "capture: %.1000s", line + 14);
        pthread_mutex_unlock(&d->lock);
        snprintf(out, sizeof out, "OK");
    } else if (!strcmp(line, "INDEX-WAIT")) {
        if (index_worker_wait_idle(d->worker, &indexed)) snprintf(out, sizeof out, "ERR no model in use");
        else snprintf(out, sizeof out, "OK %lld", (long long)indexed);
    } else if (!strncmp(line, "SEARCH ", 7)) return *reply = ipc_search_answer(line + 7, search_fn, d), IPC_CONTINUE;
    else if (!strcmp(line, "WEB-LOGIN") || !strcmp(line, "WEB-LOGOUT-ALL")) return *reply = web_request(d, line), IPC_CONTINUE;
    else if (!strcmp(line, "STOP")) return *reply = strdup("OK"), IPC_STOP;
    else snprintf(out, sizeof out, "ERR unknown request");
    *reply = strdup(out);
    return IPC_CONTINUE;
}

/* ---- the process ---- */

/* The store creates the data dir (0700) and is checked, tidied and compacted before anything
 * else runs. */
static int check_store(const char *data_dir, cs_err *err) {
    store *s;
    if (store_open(data_dir, &s, err)) return -1;
    store_report r;
    if (store_check(s, 0, &r, err) == 0)
        cs_log(CS_LOG_INFO, "store %s: %lld entries, %lld missing blobs, %lld orphan blobs", data_dir, (long long)r.entries,
               (long long)r.missing_blobs, (long long)r.orphan_blobs);
    int64_t orphans = 0, compacted = 0;
    if (store_gc(s, &orphans, NULL) == 0 && orphans)
        cs_log(CS_LOG_INFO, "removed %lld orphan blob and thumbnail files", (long long)orphans);
    if (vecindex_compact(s, &compacted, NULL) == 0 && compacted)
        cs_log(CS_LOG_INFO, "search matrix: dropped rows of deleted entries (%lld model(s); rebuilt on first use)",
               (long long)compacted);
    store_close(s);
    return 0;
}

static void start_web(daemon_state *d) {
    const daemon_params *p = &d->p;
    int port = p->web_port == -2 ? rules_web_port(d->rules) : p->web_port;
    if (port < 0) return;
    web_params wp = web_default_params();
    wp.data_dir = p->data_dir;
    wp.port = port;
    wp.search = web_search;
    wp.status = web_status;
    wp.arg = d;
    cs_err we;
    if (web_start(&wp, &d->web, &we)) {
        set_error(d, we.msg);
        return;
    }
    d->web_port = web_port(d->web);
    cs_log(CS_LOG_INFO, "web page on http://127.0.0.1:%d/ (log in with `clipseek web --open`)", d->web_port);
    if (p->on_web) {
        char *url = web_login_url(d->web);
        p->on_web(url, p->on_web_arg);
        free(url);
    }
}

daemon_params daemon_default_params(void) {
    daemon_params p;
    memset(&p, 0, sizeof p);
    p.x11 = 1;
    p.web_port = -2;
    return p;
}

int daemon_run(const daemon_params *p, cs_err *err) {
    daemon_state d;
    memset(&d, 0, sizeof d);
    d.p = *p;
    pthread_mutex_init(&d.lock, NULL);
    ipc_server *srv = NULL;
    /* a bad config is an error, not a surprise later */
    if (rules_load(NULL, &d.rules, err) || check_store(p->data_dir, err) || ipc_listen(p->data_dir, &srv, err)) {
        rules_free(d.rules);
        return -1;
    }
    index_worker_params wp = index_worker_default_params();
    wp.data_dir = p->data_dir;
    wp.model_dir = p->model_dir;
    wp.threads = p->threads;
    wp.device = p->device;
    wp.f32 = p->f32;
    wp.rules = d.rules;
    wp.on_error = on_worker_error;
    wp.arg = &d;
    if (index_worker_start(&wp, &d.worker, err)) {
        ipc_close(srv);
        rules_free(d.rules);
        return -1;
    }
    g_stop = &d.stop;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t ct;
    int have_capture;
    start_capture(&d, &ct, &have_capture);
    cs_log(CS_LOG_INFO, "listening on %s", ipc_path(srv));
    start_web(&d);
    ipc_serve(srv, on_request, &d, &d.stop);
    cs_log(CS_LOG_INFO, "stopping");
    web_stop(d.web); /* first: its requests use the model and the stores */
    atomic_store(&d.stop, 1);
    index_worker_stop(d.worker);
    if (have_capture) pthread_join(ct, NULL);
    index_worker_free(d.worker);
    ipc_close(srv);
    g_stop = NULL;
    rules_free(d.rules);
    return 0;
}

int daemon_request(const char *data_dir, const char *req, char *buf, size_t n, int timeout_ms) {
    return ipc_request(data_dir, req, buf, n, timeout_ms);
}
