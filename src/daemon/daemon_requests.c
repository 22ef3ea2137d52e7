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
#include "../capture/secrets.h"
#include "../common/cs_clock.h"
#include "../front/front_proto.h"
#include "../search/search_cmd.h"
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
        json_object_set_new(j, "cli_answered", json_integer(d->cli_answered));
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

/* The daemon's warm search connection (daemon_int.h) or, when another request holds it, one of
 * its own; NULL with e when none opens. */
static store *search_store_take(daemon_state *d, cs_err *e) {
    pthread_mutex_lock(&d->lock);
    store *s = d->search_store;
    d->search_store = NULL;
    pthread_mutex_unlock(&d->lock);
    if (!s && store_open(d->p.data_dir, &s, e)) return NULL;
    return s;
}

/* Gives s back to be the warm one (ok: it served; after a failure, a busy or a disk error, a
 * fresh one next time), or closes it when another already is. */
static void search_store_give(daemon_state *d, store *s, int ok) {
    pthread_mutex_lock(&d->lock);
    if (ok && !d->search_store) {
        d->search_store = s;
        s = NULL;
    }
    pthread_mutex_unlock(&d->lock);
    store_close(s);
}

/* SEARCH: with the worker's model, on the warm search connection. */
static int search_fn(void *arg, search_query *q, search_hit **h, size_t *n, double *embed_ms, cs_err *e) {
    daemon_state *d = arg;
    index_worker_wait_checked(d->worker); /* just started: the model may be loading */
    double t0 = cs_mono_ms();
    store *s = search_store_take(d, e);
    if (!s) return -1;
    if (q->timing) q->timing->store += cs_mono_ms() - t0;
    int rc = index_worker_search(d->worker, s, q, h, n, embed_ms, e);
    search_store_give(d, s, !rc);
    return rc;
}

/* The words of a CLI request (a JSON array of strings) as an argv (NULL-terminated; the strings
 * are the array's); NULL when it is not one. */
static char **cli_argv(json_t *a, int *argc) {
    size_t n = json_array_size(a);
    if (!json_is_array(a) || !n || n > FRONT_MAX_STRINGS) return NULL;
    char **v = calloc(n + 1, sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        if (!(v[i] = (char *)json_string_value(json_array_get(a, i)))) {
            free(v);
            return NULL;
        }
    *argc = (int)n;
    return v;
}

/* CLI ["search", ...] (front_proto.h): the search run and printed here, the bytes and exit status
 * of the engine's `clipseek search`, so the front needs no process of its own that opens the
 * store. Whatever this does not take, or any failure, is "NO": the engine runs the command and
 * says why in its own words. */
static char *cli_answer(daemon_state *d, const char *body, size_t *len) {
    json_t *req = json_loads(body, 0, NULL);
    int argc = 0;
    char **argv = cli_argv(req, &argc), msg[300], *reply = NULL, *out = NULL, *err = NULL;
    const char *no = NULL;
    search_cmd c;
    if (!argv || strcmp(argv[0], "search"))
        no = "not a command the daemon answers";
    for (int i = 1; !no && i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) no = "help"; /* main.c answers it, anywhere */
    if (!no && search_cmd_parse(argc, argv, &c, msg, sizeof msg)) no = "usage";
    if (!no && (c.model || c.image || c.q.limit > 1000)) no = "a search the engine runs";
    cs_err e = {0};
    store *s = NULL;
    if (!no) {
        index_worker_wait_checked(d->worker); /* just started: the model may be loading */
        if (!(s = search_store_take(d, &e))) no = "no store";
    }
    search_hit *h = NULL;
    size_t n = 0, olen = 0, elen = 0;
    int rc = -1;
    if (!no) {
        search_query q = c.q;
        q.text = c.text;
        FILE *fo = NULL, *fe = NULL;
        int failed = 0; /* the store failed (busy, a disk error): a fresh connection next time */
        int fr = c.coll ? store_collection_find(s, c.coll, &q.collection, &e) : 0;
        if (fr) {
            no = "collection"; /* none of that name (1), or the store failed (-1): the engine says which */
            failed = fr < 0;   /* busy, a disk error: a fresh connection next time */
        } else if ((failed = index_worker_search(d->worker, s, &q, &h, &n, NULL, &e)))
            no = "search failed";
        else if (!(fo = open_memstream(&out, &olen)) || !(fe = open_memstream(&err, &elen)))
            no = "out of memory";
        else
            rc = search_cmd_print(fo, fe, s, &c, &q, h, n, secrets_mask_entry, secrets_mask_json);
        if (fo && fclose(fo)) no = "out of memory";
        if (fe && fclose(fe)) no = "out of memory";
        search_store_give(d, s, !failed);
    }
    char head[64];
    int hl = snprintf(head, sizeof head, "OK %d %zu %zu\n", rc, elen, olen);
    if (!no && (reply = malloc((size_t)hl + elen + olen))) {
        memcpy(reply, head, (size_t)hl);
        memcpy(reply + hl, err, elen);
        memcpy(reply + hl + elen, out, olen);
        *len = (size_t)hl + elen + olen;
        pthread_mutex_lock(&d->lock);
        d->cli_answered++;
        pthread_mutex_unlock(&d->lock);
    } else if (asprintf(&reply, "NO %s", no ? no : "out of memory") < 0)
        reply = NULL;
    free(out);
    free(err);
    free(h);
    free(argv);
    json_decref(req);
    return reply;
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

int daemon_on_request(void *arg, const char *line, char **reply, size_t *reply_len) {
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
    else if (!strncmp(line, FRONT_CLI_REQUEST " ", sizeof FRONT_CLI_REQUEST))
        return *reply = cli_answer(d, line + sizeof FRONT_CLI_REQUEST, reply_len), IPC_CONTINUE;
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
