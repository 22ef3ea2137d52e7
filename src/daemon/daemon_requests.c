/* daemon_requests: the answers to the control socket's requests (daemon.h lists them) and the
 * web page's view of the daemon. Each runs on the thread of its connection. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/ipc.h"
#include "../ipc/ipc_search.h"
#include "../capture/ingest.h"
#include "../common/cs_clock.h"
#include "daemon_int.h"

static char *status_json(daemon_state *d) {
    index_worker_stats st;
    index_worker_get_stats(d->worker, &st);
    pthread_mutex_lock(&d->lock);
    json_t *j =
        json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:i, s:I}", "pid", (json_int_t)getpid(),
                  "capture", d->capture, "model", st.model_id, "clips", (json_int_t)d->clips, "not_stored",
                  (json_int_t)d->not_stored, "indexed", (json_int_t)st.indexed, "failed", (json_int_t)st.failed,
                  "organised", (json_int_t)st.organised, "ocr_read", (json_int_t)st.ocr_read, "index_passes",
                  (json_int_t)st.passes, "index_idle", st.idle, "last_error", d->last_error, "web_port", d->web_port,
                  "capture_restarts", (json_int_t)d->capture_restarts);
    if (j) {
        json_object_set_new(j, "config_reloads", json_integer(d->config_reloads));
        json_object_set_new(j, "config_error", json_string(d->config_error)); /* why the last reload failed */
        /* the text embedder's space (docs/text-models.md): text_pending falls to 0 as a backfill ends */
        json_object_set_new(j, "text_embedder", json_string(st.text_embedder_id));
        json_object_set_new(j, "text_indexed", json_integer(st.text_indexed));
        json_object_set_new(j, "text_pending", json_integer(st.text_pending));
    }
    pthread_mutex_unlock(&d->lock);
    /* the pause state lives in the store (it outlives the daemon): read it there */
    store *ps = NULL;
    ingest_pause pz;
    cs_err pe = {0};
    if (j) {
        if (store_open(d->p.data_dir, &ps, &pe) == 0 && ingest_pause_state(ps, &pz, &pe) == 0)
            ingest_pause_json(&pz, j);
        else
            json_object_set_new(j, "pause_error", json_string(pe.msg));
        store_close(ps);
    }
    char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return txt ? txt : strdup("{}");
}

/* SEARCH: with the worker's model, on the daemon's warm search connection (daemon_int.h) or, when
 * another request holds it, on one of its own. */
static int search_fn(void *arg, search_query *q, search_hit **h, size_t *n, double *embed_ms, cs_err *e) {
    daemon_state *d = arg;
    index_worker_wait_checked(d->worker); /* just started: the model may be loading */
    double t0 = cs_mono_ms();
    pthread_mutex_lock(&d->lock);
    store *s = d->search_store;
    d->search_store = NULL;
    pthread_mutex_unlock(&d->lock);
    if (!s && store_open(d->p.data_dir, &s, e)) return -1;
    if (q->timing) q->timing->store += cs_mono_ms() - t0;
    int rc = index_worker_search(d->worker, s, q, h, n, embed_ms, e);
    pthread_mutex_lock(&d->lock);
    if (!rc && !d->search_store) { /* after a failure (busy, a disk error) a fresh one next time */
        d->search_store = s;
        s = NULL;
    }
    pthread_mutex_unlock(&d->lock);
    store_close(s);
    return rc;
}

int daemon_web_search(void *arg, store *s, search_query *q, search_hit **h, size_t *n, cs_err *e) {
    daemon_state *d = arg;
    int rc = index_worker_search(d->worker, s, q, h, n, NULL, e);
    /* similar entries of one without a vector yet: none, as the page always answered */
    if (rc && cs_err_code_of(e) == CS_ENOTFOUND && q->exclude && !q->text) rc = 0;
    return rc;
}

void daemon_web_status(void *arg, void *obj) {
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
    json_object_set_new(o, "config_error", json_string(d->config_error)); /* a refused reload */
    pthread_mutex_unlock(&d->lock);
}

static char *web_request(daemon_state *d, const char *line) {
    char *url = NULL, out[1100];
    if (!d->web)
        snprintf(out, sizeof out, "ERR this daemon serves no web page (web = false?)");
    else if (!strcmp(line, "WEB-LOGOUT-ALL"))
        snprintf(out, sizeof out, "OK %d", web_logout_all(d->web));
    else if (!(url = web_login_url(d->web)))
        snprintf(out, sizeof out, "ERR cannot make a login code");
    else
        snprintf(out, sizeof out, "OK %s", url);
    free(url);
    return strdup(out);
}

int daemon_on_request(void *arg, const char *line, char **reply) {
    daemon_state *d = arg;
    char out[1400];
    int64_t indexed = 0;
    if (!strcmp(line, "PING"))
        snprintf(out, sizeof out, "OK %ld", (long)getpid());
    else if (!strcmp(line, "STATUS"))
        return *reply = status_json(d), IPC_CONTINUE;
    else if (!strncmp(line, "CAPTURED ", 9)) { /* from `clipseek wl-event`: a clip was decided */
        if (!strcmp(line + 9, "stored") || !strcmp(line + 9, "bumped")) daemon_clip_stored(d);
        snprintf(out, sizeof out, "OK");
    } else if (!strncmp(line, "CAPTURE-ERROR ", 14)) { /* from `clipseek wl-event`: a clip was lost */
        pthread_mutex_lock(&d->lock);
        d->not_stored++;
        snprintf(d->last_error, sizeof d->last_error, "capture: %.1000s", line + 14);
        pthread_mutex_unlock(&d->lock);
        snprintf(out, sizeof out, "OK");
    } else if (!strcmp(line, "INDEX-WAIT")) {
        if (index_worker_wait_idle(d->worker, &indexed))
            snprintf(out, sizeof out, "ERR no model in use");
        else
            snprintf(out, sizeof out, "OK %lld", (long long)indexed);
    } else if (!strncmp(line, "SEARCH ", 7))
        return *reply = ipc_search_answer(line + 7, search_fn, d), IPC_CONTINUE;
    else if (!strcmp(line, "WEB-LOGIN") || !strcmp(line, "WEB-LOGOUT-ALL"))
        return *reply = web_request(d, line), IPC_CONTINUE;
    else if (!strcmp(line, "RELOAD")) {
        cs_err e = {0};
        if (daemon_reload(d, "clipseek reload", &e))
            snprintf(out, sizeof out, "ERR %.1000s", e.msg);
        else
            snprintf(out, sizeof out, "OK");
    } else if (!strcmp(line, "STOP"))
        return *reply = strdup("OK"), IPC_STOP;
    else
        snprintf(out, sizeof out, "ERR unknown request");
    *reply = strdup(out);
    return IPC_CONTINUE;
}
