/* daemon_capture: the daemon's capture thread: X11 through XFixes (reconnecting with backoff),
 * or under Wayland the wl-paste supervisor (src/capture/wl_watch.c) with its fallback to X11
 * through XWayland. Each clip goes through ingest (rules, secrets, the store). */
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
#include "daemon_int.h"

typedef struct {
    daemon_state *d;
    store *s;
} cap_ctx;

static void on_clip(const capture_clip *c, void *arg) {
    cap_ctx *cc = arg;
    ingest_result r;
    cs_err e;
    char line[1400];
    /* the rules under the read lock: a reload replaces them whole */
    pthread_rwlock_rdlock(&cc->d->rules_lock);
    int rc = ingest_clip(cc->s, cc->d->rules, c, INGEST_CAPTURED, &r, &e);
    pthread_rwlock_unlock(&cc->d->rules_lock);
    /* the store was locked past SQLite's 5 s wait (a long `clipseek import`, gc): once more
     * before the clip counts as lost; any other failure would only fail again */
    if (rc && cs_err_code_of(&e) == CS_EBUSY) {
        pthread_rwlock_rdlock(&cc->d->rules_lock);
        rc = ingest_clip(cc->s, cc->d->rules, c, INGEST_CAPTURED, &r, &e);
        pthread_rwlock_unlock(&cc->d->rules_lock);
    }
    ingest_describe(&r, c, line, sizeof line);
    if (rc) {
        daemon_clip_lost(cc->d, line);
        return;
    }
    cs_log(CS_LOG_INFO, "%s", line);
    if (r.decision == INGEST_STORED || r.decision == INGEST_BUMPED) daemon_clip_stored(cc->d);
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
    if (store_open(d->p.data_dir, &cc.s, &e)) {
        daemon_set_error(d, e.msg);
        return NULL;
    }
    capture_x11_params xp = capture_x11_default_params();
    /* read once: a reload changes these for the next daemon start (docs/cli.md, reload) */
    pthread_rwlock_rdlock(&d->rules_lock);
    xp.primary = d->p.primary || rules_primary(d->rules);
    xp.caps = rules_caps(d->rules);
    xp.debounce_ms = rules_debounce_ms(d->rules);
    pthread_rwlock_unlock(&d->rules_lock);
    capture_x11 *x;
    int backoff_ms = 500;
    while (!atomic_load(&d->stop)) {
        if (capture_x11_open(&xp, &x, &e)) {
            daemon_set_capture(d, "failed"); /* STATUS and doctor must not say "x11" while nothing is read */
            daemon_set_error(d, e.msg);
            for (int i = 0; i < backoff_ms / 100 && !atomic_load(&d->stop); i++) usleep(100000);
            if (backoff_ms < 8000) backoff_ms *= 2;
            continue;
        }
        backoff_ms = 500;
        daemon_set_capture(d, "x11");
        cs_log(CS_LOG_INFO, "capturing the X11 clipboard%s", xp.primary ? " and PRIMARY" : "");
        if (capture_x11_run(x, on_clip, &cc, cap_log, &d->stop, &e)) {
            daemon_set_error(d, e.msg);
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
    if (error) daemon_set_error(d, error);
}

/* Wayland: `wl-paste --watch clipseek wl-event` under supervision; X11 through XWayland on a
 * compositor without the data-control protocol. */
static void *wayland_thread(void *arg) {
    daemon_state *d = arg;
    wl_watch_params wp = {d->p.self_exe, d->p.data_dir, d->p.x11, wl_report, d};
    if (wl_watch_run(&wp, &d->stop) == 1) {
        daemon_set_capture(d, "x11");
        return x11_thread(d);
    }
    return NULL;
}

void daemon_start_capture(daemon_state *d, pthread_t *t, int *started) {
    const daemon_params *p = &d->p;
    int x11 = p->x11 && getenv("DISPLAY");
    *started = 0;
    if (p->no_capture)
        daemon_set_capture(d, "off");
    else if (getenv("WAYLAND_DISPLAY") && cs_proc_have("wl-paste") && p->self_exe) {
        daemon_set_capture(d, "wayland");
        *started = pthread_create(t, NULL, wayland_thread, d) == 0;
    } else if (getenv("WAYLAND_DISPLAY") && !x11) {
        daemon_set_capture(d, "failed");
        daemon_set_error(
            d, "Wayland without wl-paste: install wl-clipboard to capture (or set DISPLAY for XWayland capture)");
    } else if (x11) {
        daemon_set_capture(d, "x11");
        *started = pthread_create(t, NULL, x11_thread, d) == 0;
    } else {
        daemon_set_capture(d, "none");
        cs_log(CS_LOG_INFO, "no display: not capturing (clipseek add and clipseek store still work)");
    }
}
