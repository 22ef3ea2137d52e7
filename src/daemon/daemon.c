/* daemon: see daemon.h. The map of the process: which threads run, what they share, and how a
 * request reaches the module that answers it. The work itself lives elsewhere: the capture
 * thread in daemon_capture.c (over src/capture: x11.c, wl_watch.c, ingest.c), indexing,
 * organising and the loaded model in src/index/worker.c, the requests in daemon_requests.c over
 * the socket protocol of src/ipc, the web page in src/web.
 *
 * Threads: this one (start-up, then serving the control socket, then shutting down in order),
 * the capture thread, the index worker, one per control connection, and the web server's. They
 * share daemon_state (daemon_int.h): counters under d->lock, the stop flag as an atomic. */
#include "daemon.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_log.h"
#include "../config/cfgwatch.h"
#include "../config/rules.h"
#include "../front/front_server.h"
#include "../index/worker.h"
#include "../ipc/ipc.h"
#include "../search/vecindex.h"
#include "../store/store.h"
#include "../web/web.h"
#include "daemon_int.h"

static atomic_int *g_stop;  /* the running daemon's stop flag, for the signal handler */
static atomic_int g_reload; /* SIGHUP came: the reload thread reads the config again */
static void on_signal(int s) {
    if (s == SIGHUP)
        atomic_store(&g_reload, 1); /* lock-free: async-signal-safe */
    else if (g_stop)
        atomic_store(g_stop, 1);
}

void daemon_set_error(daemon_state *d, const char *msg) {
    pthread_mutex_lock(&d->lock);
    snprintf(d->last_error, sizeof d->last_error, "%.1000s", msg);
    pthread_mutex_unlock(&d->lock);
    cs_log(CS_LOG_ERROR, "%s", msg);
}

static void on_worker_error(const char *msg, void *arg) { daemon_set_error(arg, msg); }

void daemon_set_capture(daemon_state *d, const char *state) {
    pthread_mutex_lock(&d->lock);
    snprintf(d->capture, sizeof d->capture, "%s", state);
    pthread_mutex_unlock(&d->lock);
}

/* A clip was stored (by this process or by `clipseek wl-event`): count it, wake the indexer. */
void daemon_clip_stored(daemon_state *d) {
    pthread_mutex_lock(&d->lock);
    d->clips++;
    pthread_mutex_unlock(&d->lock);
    index_worker_kick(d->worker);
}

void daemon_clip_lost(daemon_state *d, const char *why) {
    pthread_mutex_lock(&d->lock);
    d->not_stored++;
    pthread_mutex_unlock(&d->lock);
    daemon_set_error(d, why);
}

int daemon_reload(daemon_state *d, const char *why, cs_err *err) {
    cs_err local = {0};
    if (!err) err = &local;
    rules *r;
    if (rules_load(NULL, &r, err)) {
        pthread_mutex_lock(&d->lock);
        snprintf(d->config_error, sizeof d->config_error, "%.1000s", err->msg);
        pthread_mutex_unlock(&d->lock);
        cs_log(CS_LOG_ERROR, "config not reloaded (%s), the previous settings stay: %s", why, err->msg);
        return -1;
    }
    pthread_rwlock_wrlock(&d->rules_lock);
    rules *old = d->rules;
    d->rules = r;
    pthread_rwlock_unlock(&d->rules_lock);
    /* the worker reopens its organiser on r; once this returns it no longer reads old */
    index_worker_set_rules(d->worker, r);
    rules_free(old);
    pthread_mutex_lock(&d->lock);
    d->config_error[0] = 0;
    d->config_reloads++;
    pthread_mutex_unlock(&d->lock);
    cs_log(CS_LOG_INFO, "config reloaded (%s)", why);
    return 0;
}

/* The reload thread: SIGHUP, and the config file changing (inotify; without it SIGHUP and
 * `clipseek reload` still work). One thread, so reloads never run two at a time from here. */
typedef struct {
    daemon_state *d;
    cfgwatch *cw;
} reload_ctx;

static void *reload_thread(void *arg) {
    reload_ctx *rc = arg;
    daemon_state *d = rc->d;
    while (!atomic_load(&d->stop)) {
        struct pollfd pfd = {rc->cw ? cfgwatch_fd(rc->cw) : -1, POLLIN, 0};
        int pr = poll(&pfd, 1, 200);
        if (atomic_exchange(&g_reload, 0)) daemon_reload(d, "SIGHUP", NULL);
        if (pr > 0 && (pfd.revents & POLLIN) && cfgwatch_changed(rc->cw))
            daemon_reload(d, "the config file changed", NULL);
    }
    return NULL;
}

/* The store creates the data dir (0700) and is checked, tidied and compacted before anything
 * else runs. */
static int check_store(const char *data_dir, cs_err *err) {
    store *s;
    if (store_open(data_dir, &s, err)) return -1;
    store_report r;
    if (store_check(s, 0, &r, err) == 0)
        cs_log(CS_LOG_INFO, "store %s: %lld entries, %lld missing blobs, %lld orphan blobs", data_dir,
               (long long)r.entries, (long long)r.missing_blobs, (long long)r.orphan_blobs);
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
    pthread_rwlock_rdlock(&d->rules_lock);
    int port = p->web_port == -2 ? rules_web_port(d->rules) : p->web_port;
    pthread_rwlock_unlock(&d->rules_lock);
    if (port < 0) return;
    web_params wp = web_default_params();
    wp.data_dir = p->data_dir;
    wp.port = port;
    wp.search = daemon_web_search;
    wp.status = daemon_web_status;
    wp.arg = d;
    cs_err we;
    if (web_start(&wp, &d->web, &we)) {
        daemon_set_error(d, we.msg);
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
    pthread_rwlock_init(&d.rules_lock, NULL);
    ipc_server *srv = NULL;
    /* a bad config is an error, not a surprise later */
    if (rules_load(NULL, &d.rules, err)) return -1;
    if (p->need_capture && !p->no_capture && !getenv("WAYLAND_DISPLAY") && !(p->x11 && getenv("DISPLAY"))) {
        /* under systemd, exiting is what makes this visible (the unit fails and is retried with
         * the manager's environment, which `import-environment` may have completed since) */
        rules_free(d.rules);
        return cs_errc(err, CS_EINVAL,
                       "no display to capture from: neither WAYLAND_DISPLAY nor DISPLAY is set. Under systemd, add to "
                       "your session start: systemctl --user import-environment DISPLAY WAYLAND_DISPLAY XAUTHORITY");
    }
    if (check_store(p->data_dir, err) || ipc_listen(p->data_dir, &srv, err)) {
        rules_free(d.rules);
        return -1;
    }
    /* forked now, while this process has one thread (no lock can be held in the copy) */
    cs_err fe = {0};
    pid_t front = p->run_command ? front_server_start(p->data_dir, p->run_command, &fe) : 0;
    if (front < 0) cs_log(CS_LOG_WARN, "no engine server (commands start the engine themselves): %s", fe.msg);
    index_worker_params wp = index_worker_default_params();
    wp.data_dir = p->data_dir;
    wp.model_dir = p->model_dir;
    wp.threads = p->threads;
    wp.device = p->device;
    wp.f32 = p->f32;
    wp.dtype = p->dtype;
    wp.rules = d.rules;
    wp.on_error = on_worker_error;
    wp.arg = &d;
    if (index_worker_start(&wp, &d.worker, err)) {
        front_server_stop(front);
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
    atomic_store(&g_reload, 0);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    reload_ctx rc = {&d, NULL};
    char *cfg_path = rules_default_path();
    cs_err ce = {0};
    if (cfg_path && cfgwatch_open(cfg_path, &rc.cw, &ce))
        cs_log(CS_LOG_INFO, "not watching the config file: %s", ce.msg);
    free(cfg_path);
    pthread_t rt;
    int have_reload = pthread_create(&rt, NULL, reload_thread, &rc) == 0;
    pthread_t ct;
    int have_capture;
    daemon_start_capture(&d, &ct, &have_capture);
    cs_log(CS_LOG_INFO, "listening on %s", ipc_path(srv));
    start_web(&d);
    ipc_serve(srv, daemon_on_request, &d, &d.stop);
    cs_log(CS_LOG_INFO, "stopping");
    front_server_stop(front); /* first: a command it starts now would find the daemon gone */
    atomic_store(&d.stop, 1);
    if (have_reload) pthread_join(rt, NULL); /* before the worker goes: a reload tells it */
    cfgwatch_close(rc.cw);
    /* the worker's thread stops (its model stays until index_worker_free): that ends INDEX-WAITs,
     * so the control connections still being answered finish; they and the web page's requests
     * use the worker, the web server (WEB-LOGIN) and d, so both go before anything is freed */
    index_worker_stop(d.worker);
    ipc_join(srv);
    web_stop(d.web);
    if (have_capture) pthread_join(ct, NULL);
    store_close(d.search_store); /* every SEARCH has ended (ipc_join) */
    index_worker_free(d.worker);
    ipc_close(srv);
    g_stop = NULL;
    rules_free(d.rules);
    pthread_rwlock_destroy(&d.rules_lock);
    return 0;
}

int daemon_request(const char *data_dir, const char *req, char *buf, size_t n, int timeout_ms) {
    return ipc_request(data_dir, req, buf, n, timeout_ms);
}
