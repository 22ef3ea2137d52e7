/* daemon: see daemon.h. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../capture/capture.h"
#include "../capture/ingest.h"
#include "../config/rules.h"
#include "../capture/wayland.h"
#include "../capture/x11.h"
#include "../index/indexer.h"
#include "../model/clip.h"
#include "../organize/organize.h"
#include "../search/search.h"
#include "../search/vecindex.h"
#include "../store/store.h"
#include "../web/web.h"

static volatile sig_atomic_t g_signal;
static void on_signal(int s) { g_signal = s; }

typedef struct daemon_state {
    daemon_params p;
    volatile int stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* new clip stored, or stop */
    pthread_cond_t idle;    /* the indexer found nothing to do */
    int64_t clips, indexed, failed, organised, ocr_read, generation, idle_generation;
    int64_t passes;         /* index worker passes begun (STATUS: evidence a pass has run) */
    int64_t not_stored;     /* clips captured but not stored: an error (the store failed, pause
                             * unreadable, a bad config under the watcher), not an ignore rule */
    int64_t capture_restarts; /* times the Wayland watcher exited and was started again */
    int index_idle, have_model;
    int model_checked;      /* the indexer has made its first attempt to load a model */
    char capture[32], model_id[256], last_error[1024];
    char weights_dir[4200]; /* <data dir>/weights: the model's converted F16/Q8 weights (lpcache.h) */
    int web_port;           /* 0: no web page */
    web_server *web;        /* set before the control socket is served; NULL: no web page */
    pid_t wl_child;
    rules *rules;
    /* the model the indexer loaded, shared with SEARCH requests; model_lock keeps it alive
     * while a request uses it (clip_ctx serialises the forward passes itself) */
    pthread_mutex_t model_lock;
    clip_ctx *model;
    char *model_key;
} daemon_state;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    char ts[32];
    time_t t = time(NULL);
    strftime(ts, sizeof ts, "%H:%M:%S", localtime(&t));
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "clipseek daemon %s: ", ts);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void set_error(daemon_state *d, const char *msg) {
    pthread_mutex_lock(&d->lock);
    snprintf(d->last_error, sizeof d->last_error, "%.1000s", msg);
    pthread_mutex_unlock(&d->lock);
    say("%s", msg);
}

/* ---- capture ---- */

typedef struct { daemon_state *d; store *s; } cap_ctx;

static void on_clip(const capture_clip *c, void *arg) {
    cap_ctx *cc = arg;
    daemon_state *d = cc->d;
    ingest_result r;
    cs_err e;
    char line[1400];
    int rc = ingest_clip(cc->s, d->rules, c, INGEST_CAPTURED, &r, &e);
    ingest_describe(&r, c, line, sizeof line);
    if (rc) {
        set_error(d, line);
        pthread_mutex_lock(&d->lock);
        d->not_stored++;
        pthread_mutex_unlock(&d->lock);
        return;
    }
    say("%s", line);
    if (r.decision != INGEST_STORED && r.decision != INGEST_BUMPED) return;
    pthread_mutex_lock(&d->lock);
    d->clips++;
    d->generation++;
    pthread_cond_broadcast(&d->wake);
    pthread_mutex_unlock(&d->lock);
}

static void cap_log(const char *msg, void *arg) {
    (void)arg;
    say("%s", msg);
}

static void *capture_thread(void *arg) {
    daemon_state *d = arg;
    cap_ctx cc = {d, NULL};
    cs_err e;
    if (store_open(d->p.data_dir, &cc.s, &e)) { set_error(d, e.msg); return NULL; }
    capture_x11_params xp = capture_x11_default_params();
    xp.primary = d->p.primary || rules_primary(d->rules);
    xp.caps = rules_caps(d->rules);
    xp.debounce_ms = rules_debounce_ms(d->rules);
    capture_x11 *x;
    /* The X server may go away (a session restart, a crash): the web page, the indexer and the
     * socket keep running, and capture reconnects with backoff (0.5 s doubling to 8 s). */
    int backoff_ms = 500;
    while (!d->stop) {
        if (capture_x11_open(&xp, &x, &e)) {
            set_error(d, e.msg);
            for (int i = 0; i < backoff_ms / 100 && !d->stop; i++) usleep(100000);
            if (backoff_ms < 8000) backoff_ms *= 2;
            continue;
        }
        backoff_ms = 500;
        say("capturing the X11 clipboard%s", xp.primary ? " and PRIMARY" : "");
        if (capture_x11_run(x, on_clip, &cc, cap_log, &d->stop, &e)) {
            set_error(d, e.msg);
            say("X11 capture: reconnecting");
        }
        capture_x11_close(x);
    }
    store_close(cc.s);
    return NULL;
}

/* ---- indexing ---- */

static char *model_dir_for(daemon_state *d, store *s) {
    if (d->p.model_dir) return strdup(d->p.model_dir);
    const char *env = getenv("CLIPSEEK_MODEL");
    if (env && *env) return strdup(env);
    char *v = NULL;
    store_meta_get(s, "model_dir", &v, NULL);
    return v;
}

/* --dtype, else what `model use` stored with the model (when the model is the stored one) */
static int model_dtype_for(daemon_state *d, store *s) {
    const char *env = getenv("CLIPSEEK_MODEL");
    int dt = d->p.dtype;
    char *v = NULL;
    if (dt == CLIP_DTYPE_DEFAULT && !d->p.model_dir && !(env && *env) && store_meta_get(s, "model_dtype", &v, NULL) == 0 && v)
        clip_dtype_parse(v, &dt, NULL); /* an unknown value leaves the default */
    free(v);
    return dt;
}

static void *index_thread(void *arg) {
    daemon_state *d = arg;
    store *s;
    cs_err e;
    if (store_open(d->p.data_dir, &s, &e)) { set_error(d, e.msg); return NULL; }
    clip_ctx *c = NULL;
    char *loaded = NULL, *id = NULL;
    int loaded_dt = -1;
    organizer *org = NULL;
    if (org_open(d->rules, &org, &e)) set_error(d, e.msg); /* a bad label file: no organising */
    while (!d->stop) {
        pthread_mutex_lock(&d->lock);
        int64_t gen = d->generation;
        pthread_mutex_unlock(&d->lock);
        char *dir = model_dir_for(d, s);
        int dt = model_dtype_for(d, s);
        if (dir && (!loaded || strcmp(dir, loaded) || dt != loaded_dt)) { /* first model, or `model use` switched it */
            /* the organiser holds the model too: it lets go before the model is freed (a switch
             * to a folder that fails to load left it calling into the freed one) */
            if (org) org_set_model(org, NULL, NULL, NULL);
            pthread_mutex_lock(&d->model_lock);
            d->model = NULL;
            free(d->model_key);
            d->model_key = NULL;
            clip_free(c);
            c = NULL;
            pthread_mutex_unlock(&d->model_lock);
            free(id);
            id = index_model_id(dir, &e);
            clip_params cp = clip_default_params();
            cp.threads = d->p.threads;
            cp.f32 = d->p.f32;
            cp.dtype = dt;
            snprintf(d->weights_dir, sizeof d->weights_dir, "%s/weights", d->p.data_dir);
            cp.cache_dir = d->weights_dir;
            const char *env = getenv("CLIPSEEK_DEVICE");
            cp.device = d->p.device ? d->p.device : env && *env ? NULL : rules_device(d->rules);
            if (!id || clip_load(dir, &cp, &c, &e)) {
                set_error(d, e.msg);
                c = NULL;
            } else {
                /* the model stays loaded (on the GPU, if it runs on one) for the daemon's life */
                clip_device dv;
                clip_get_device(c, &dv);
                const char *note = clip_device_note(c, NULL);
                say("indexing with %s on %s%s%s", id, dv.device, note ? "; " : "", note ? note : "");
                if (org && org_set_model(org, c, id, &e)) set_error(d, e.msg);
            }
            free(loaded);
            loaded = strdup(dir);
            loaded_dt = dt;
            pthread_mutex_lock(&d->lock);
            d->have_model = c != NULL;
            snprintf(d->model_id, sizeof d->model_id, "%s", c ? id : "");
            pthread_mutex_unlock(&d->lock);
            pthread_mutex_lock(&d->model_lock);
            d->model = c;
            d->model_key = c && id ? strdup(id) : NULL;
            pthread_mutex_unlock(&d->model_lock);
        }
        free(dir);
        pthread_mutex_lock(&d->lock);
        d->passes++;
        if (!d->model_checked) {
            d->model_checked = 1;
            pthread_cond_broadcast(&d->idle);
        }
        pthread_mutex_unlock(&d->lock);
        int idle = 1;
        if (c) {
            index_stats st;
            if (index_run(s, c, id, 32, &st, NULL, NULL, &e)) set_error(d, e.msg);
            else if (st.embedded + st.failed > 0) {
                idle = 0;
                pthread_mutex_lock(&d->lock);
                d->indexed += st.embedded;
                d->failed += st.failed;
                pthread_mutex_unlock(&d->lock);
            } else
                store_drop_other_vectors(s, id, NULL, NULL);
        }
        /* organising comes after embedding, a few entries at a time, so new clips are searchable
         * by meaning first; OCR (the slowest step) takes two images per pass */
        if (org) {
            org_stats os = {0};
            if (org_text_kinds(org, s, 64, &os, &e) || org_model(org, s, 32, &os, &e)) set_error(d, e.msg);
            if (org_ocr(org, s, 2, &os, &e)) set_error(d, e.msg);
            if (os.kinds + os.ocr + os.organised > 0) {
                idle = 0;
                pthread_mutex_lock(&d->lock);
                d->organised += os.organised;
                d->ocr_read += os.ocr;
                pthread_mutex_unlock(&d->lock);
            }
        }
        pthread_mutex_lock(&d->lock);
        if (idle && gen == d->generation) {
            d->index_idle = 1;
            d->idle_generation = gen;
            pthread_cond_broadcast(&d->idle);
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 2; /* also look again now and then: `clipseek add` from another process */
            pthread_cond_timedwait(&d->wake, &d->lock, &ts);
            d->generation++; /* a timeout counts as possible outside work */
            d->index_idle = 0;
        }
        pthread_mutex_unlock(&d->lock);
    }
    pthread_mutex_lock(&d->model_lock);
    d->model = NULL;
    free(d->model_key);
    d->model_key = NULL;
    clip_free(c);
    pthread_mutex_unlock(&d->model_lock);
    org_close(org);
    free(loaded);
    free(id);
    store_close(s);
    return NULL;
}

/* Full text and meaning as `clipseek search` computes them, with the model already in memory:
 * q->text is embedded by the text tower; with no text and q->exclude set, that entry's own
 * vector is the query (similar entries). Used by SEARCH requests and the web page. */
static double ms_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

/* embed_ms (may be NULL) gets the text tower's time */
static int search_timed(daemon_state *d, store *s, search_query *sq, search_hit **h, size_t *n, cs_err *e, double *embed_ms) {
    vecindex *vi = NULL;
    float *qv = NULL;
    int rc = 0;
    pthread_mutex_lock(&d->model_lock);
    if (d->model) {
        int P = clip_get_info(d->model)->projection_dim;
        qv = malloc((size_t)P * sizeof *qv);
        double t0 = ms_now();
        if (!qv) rc = cs_err_set(e, "out of memory");
        else if (sq->text && *sq->text) {
            rc = clip_texts_embed(d->model, &sq->text, 1, 1, qv, e);
            if (embed_ms) *embed_ms = ms_now() - t0;
        }
        else if (sq->exclude) {
            if (store_get_vector(s, sq->exclude, d->model_key, 0, qv, P, e)) { free(qv); qv = NULL; }
        } else { free(qv); qv = NULL; }
        if (!rc && qv) rc = vecindex_open(s, d->model_key, &vi, e);
        if (!rc && vi && vecindex_dim(vi) && vecindex_dim(vi) != P) rc = cs_err_set(e, "search matrix and model disagree");
        if (!rc && vecindex_stale(vi)) snprintf(sq->warning, sizeof sq->warning, "%s", vecindex_stale(vi));
        sq->qvec = qv;
        sq->vecs = vi;
    }
    pthread_mutex_unlock(&d->model_lock);
    if (!rc && (sq->text || sq->qvec)) rc = search_run(s, sq, h, n, e);
    else if (!rc) { *h = NULL; *n = 0; }
    sq->qvec = NULL;
    sq->vecs = NULL;
    free(qv);
    vecindex_close(vi);
    return rc;
}

static int daemon_search(void *arg, store *s, search_query *sq, search_hit **h, size_t *n, cs_err *e) {
    return search_timed(arg, s, sq, h, n, e, NULL);
}

/* SEARCH {"q": TEXT, "kind": K, "since_ms": T, "limit": N, "collection": C, "category": C} ->
 * {"hits": [[id, score, signals, cosine, match, standout], ...], "embed_ms": T, "total_ms": T} or {"error": MSG}. */
static char *do_search(daemon_state *d, const char *json) {
    json_t *req = json_loads(json, 0, NULL), *out = json_object();
    const char *q = json_string_value(json_object_get(req, "q"));
    search_query sq = {0};
    sq.text = q;
    sq.kind = json_string_value(json_object_get(req, "kind"));
    sq.since_ms = json_integer_value(json_object_get(req, "since_ms"));
    sq.collection = json_integer_value(json_object_get(req, "collection"));
    sq.category = json_string_value(json_object_get(req, "category"));
    sq.limit = (int)json_integer_value(json_object_get(req, "limit"));
    if (sq.limit <= 0 || sq.limit > 1000) sq.limit = 20;
    store *s = NULL;
    cs_err e;
    e.msg[0] = 0;
    search_hit *h = NULL;
    size_t n = 0;
    double t0 = ms_now(), embed = 0;
    int rc = !req || !q ? cs_err_set(&e, "bad request") : store_open(d->p.data_dir, &s, &e);
    if (!rc && search_timed(d, s, &sq, &h, &n, &e, &embed) == 0) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("[I, f, i, f, i, f]", (json_int_t)h[i].id, h[i].score, h[i].signals, (double)h[i].cosine,
                                                     h[i].match, (double)h[i].standout));
        json_object_set_new(out, "hits", arr);
        if (sq.warning[0]) json_object_set_new(out, "warning", json_string(sq.warning));
        /* where the time goes, for benchmarks (bench/e2e.py) */
        json_object_set_new(out, "embed_ms", json_real(embed));
        json_object_set_new(out, "total_ms", json_real(ms_now() - t0));
    } else
        json_object_set_new(out, "error", json_string(e.msg[0] ? e.msg : "search failed"));
    free(h);
    store_close(s);
    json_decref(req);
    char *txt = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return txt;
}

/* The web page's view of the daemon. */
static void web_status(void *arg, void *obj) {
    daemon_state *d = arg;
    json_t *o = obj;
    pthread_mutex_lock(&d->lock);
    json_object_set_new(o, "capture", json_string(d->capture));
    json_object_set_new(o, "model", json_string(d->model_id));
    json_object_set_new(o, "indexed", json_integer(d->indexed));
    json_object_set_new(o, "organised", json_integer(d->organised));
    json_object_set_new(o, "ocr_read", json_integer(d->ocr_read));
    json_object_set_new(o, "index_idle", json_boolean(d->index_idle));
    json_object_set_new(o, "last_error", json_string(d->last_error));
    pthread_mutex_unlock(&d->lock);
}

/* ---- control socket ---- */

static int sock_path(const char *data_dir, struct sockaddr_un *a) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path, sizeof a->sun_path, "%s/daemon.sock", data_dir);
    return n > 0 && (size_t)n < sizeof a->sun_path ? 0 : -1;
}

int daemon_request(const char *data_dir, const char *req, char *buf, size_t n, int timeout_ms) {
    struct sockaddr_un a;
    if (sock_path(data_dir, &a)) return 1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return 1; }
    size_t rl = strlen(req);
    if (write(fd, req, rl) != (ssize_t)rl || write(fd, "\n", 1) != 1) { close(fd); return -1; }
    size_t got = 0;
    while (got + 1 < n) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
        if (r <= 0) { close(fd); return -1; }
        ssize_t k = read(fd, buf + got, n - 1 - got);
        if (k <= 0) break;
        got += (size_t)k;
        if (memchr(buf, '\n', got)) break;
    }
    close(fd);
    buf[got] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    return got ? 0 : -1;
}

static void reply(int fd, const char *s) {
    size_t n = strlen(s);
    if (write(fd, s, n) != (ssize_t)n || write(fd, "\n", 1) != 1) { /* client went away */ }
}

typedef struct { daemon_state *d; int fd; } client;

/* One connection: read a line, answer it. INDEX-WAIT may block, so each client has a thread. */
static void *client_thread(void *arg) {
    client *cl = arg;
    daemon_state *d = cl->d;
    char line[65536];
    size_t got = 0;
    while (got + 1 < sizeof line) {
        struct pollfd p = {cl->fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0) break;
        ssize_t k = read(cl->fd, line + got, sizeof line - 1 - got);
        if (k <= 0) break;
        got += (size_t)k;
        if (memchr(line, '\n', got)) break;
    }
    line[got] = 0;
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char out[1400];
    if (!strcmp(line, "PING")) {
        snprintf(out, sizeof out, "OK %ld", (long)getpid());
        reply(cl->fd, out);
    } else if (!strcmp(line, "STATUS")) {
        pthread_mutex_lock(&d->lock);
        json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, s:i}", "pid", (json_int_t)getpid(),
                              "capture", d->capture, "model", d->model_id, "clips", (json_int_t)d->clips, "not_stored",
                              (json_int_t)d->not_stored, "indexed", (json_int_t)d->indexed, "failed", (json_int_t)d->failed,
                              "organised", (json_int_t)d->organised, "ocr_read", (json_int_t)d->ocr_read, "index_passes",
                              (json_int_t)d->passes, "index_idle", d->index_idle, "last_error", d->last_error, "web_port",
                              d->web_port);
        /* how often the Wayland watcher had to be restarted */
        json_object_set_new(j, "capture_restarts", json_integer(d->capture_restarts));
        pthread_mutex_unlock(&d->lock);
        char *txt = j ? json_dumps(j, JSON_COMPACT) : NULL;
        reply(cl->fd, txt ? txt : "{}");
        free(txt);
        json_decref(j);
    } else if (!strncmp(line, "CAPTURED ", 9)) { /* from `clipseek wl-event`: a clip was decided */
        pthread_mutex_lock(&d->lock);
        if (!strcmp(line + 9, "stored") || !strcmp(line + 9, "bumped")) {
            d->clips++;
            d->generation++;
            pthread_cond_broadcast(&d->wake);
        }
        pthread_mutex_unlock(&d->lock);
        reply(cl->fd, "OK");
    } else if (!strncmp(line, "CAPTURE-ERROR ", 14)) { /* from `clipseek wl-event`: a clip was lost */
        pthread_mutex_lock(&d->lock);
        d->not_stored++;
        snprintf(d->last_error, sizeof d->last_error, "capture: %.1000s", line + 14);
        pthread_mutex_unlock(&d->lock);
        reply(cl->fd, "OK");
    } else if (!strcmp(line, "INDEX-WAIT")) {
        pthread_mutex_lock(&d->lock);
        while (!d->stop && !d->model_checked) pthread_cond_wait(&d->idle, &d->lock); /* just started */
        if (!d->have_model) {
            pthread_mutex_unlock(&d->lock);
            reply(cl->fd, "ERR no model in use");
        } else {
            /* wait for an idle pass that started after this request */
            d->generation++;
            int64_t want = d->generation;
            pthread_cond_broadcast(&d->wake);
            while (!d->stop && d->idle_generation < want) pthread_cond_wait(&d->idle, &d->lock);
            snprintf(out, sizeof out, "OK %lld", (long long)d->indexed);
            pthread_mutex_unlock(&d->lock);
            reply(cl->fd, out);
        }
    } else if (!strncmp(line, "SEARCH ", 7)) {
        pthread_mutex_lock(&d->lock);
        while (!d->stop && !d->model_checked) pthread_cond_wait(&d->idle, &d->lock); /* just started */
        pthread_mutex_unlock(&d->lock);
        char *txt = do_search(d, line + 7);
        reply(cl->fd, txt ? txt : "{\"error\": \"out of memory\"}");
        free(txt);
    } else if (!strcmp(line, "WEB-LOGIN") || !strcmp(line, "WEB-LOGOUT-ALL")) {
        char *url = NULL;
        if (!d->web) snprintf(out, sizeof out, "ERR this daemon serves no web page (web = false?)");
        else if (!strcmp(line, "WEB-LOGOUT-ALL")) snprintf(out, sizeof out, "OK %d", web_logout_all(d->web));
        else if (!(url = web_login_url(d->web))) snprintf(out, sizeof out, "ERR cannot make a login code");
        else snprintf(out, sizeof out, "OK %s", url);
        free(url);
        reply(cl->fd, out);
    } else if (!strcmp(line, "STOP")) {
        reply(cl->fd, "OK");
        d->stop = 1;
    } else {
        reply(cl->fd, "ERR unknown request");
    }
    close(cl->fd);
    free(cl);
    return NULL;
}


/* ---- Wayland: supervising `wl-paste --watch clipseek wl-event` ---- */

static void set_capture(daemon_state *d, const char *state) {
    pthread_mutex_lock(&d->lock);
    snprintf(d->capture, sizeof d->capture, "%s", state);
    pthread_mutex_unlock(&d->lock);
}

/* wl-paste with its stderr (and that of every wl-event it runs) on a pipe we read, so what it says
 * reaches our log and, when it exits, last_error. *errfd gets the read end. */
static pid_t spawn_wl_paste(const daemon_params *p, int *errfd) {
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 2);
        execlp("wl-paste", "wl-paste", "--watch", p->self_exe, "--data-dir", p->data_dir, "wl-event", (char *)NULL);
        dprintf(2, "cannot run wl-paste: %s\n", strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    if (pid < 0) { close(pfd[0]); return -1; }
    *errfd = pfd[0];
    return pid;
}

/* Logs each complete line of the child's stderr; keeps the last one. Returns 0 at end of file. */
static int drain_lines(int fd, char *acc, size_t *accn, size_t cap, char *last, size_t lastn) {
    ssize_t k = read(fd, acc + *accn, cap - 1 - *accn);
    if (k <= 0) return k < 0 && (errno == EAGAIN || errno == EINTR) ? 1 : 0;
    *accn += (size_t)k;
    char *start = acc, *nl;
    while ((nl = memchr(start, '\n', (size_t)(acc + *accn - start)))) {
        *nl = 0;
        if (*start) {
            say("%s", start);
            snprintf(last, lastn, "%s", start);
        }
        start = nl + 1;
    }
    size_t rest = (size_t)(acc + *accn - start);
    if (rest == cap - 1) rest = 0; /* an endless line: drop it */
    memmove(acc, start, rest);
    *accn = rest;
    return 1;
}

/* Runs wl-paste --watch; when it exits (a crash, the compositor restarting, no data-control
 * protocol) the reason is logged and shown by `status` (capture "failed", last_error) and it is
 * started again with a growing pause. A compositor without data-control (GNOME/Mutter, weston)
 * cannot work at all: with DISPLAY set too, capture falls back to X11 through XWayland. */
static void *wayland_thread(void *arg) {
    daemon_state *d = arg;
    int backoff = 1;
    while (!d->stop) {
        wayland_info wi;
        cs_err e;
        char msg[1024];
        if (wayland_probe(&wi, &e) == 0 && !wi.data_control) {
            if (d->p.x11 && getenv("DISPLAY")) {
                say("this compositor has no data-control protocol: capturing through XWayland (DISPLAY=%s) instead",
                    getenv("DISPLAY"));
                set_capture(d, "x11");
                return capture_thread(d);
            }
            set_capture(d, "failed");
            set_error(d, "this compositor has no data-control protocol (GNOME/Mutter and weston have none), so "
                         "wl-paste --watch cannot capture; use XWayland capture: start the daemon with DISPLAY set");
        } else {
            int efd = -1;
            pid_t pid = spawn_wl_paste(&d->p, &efd);
            if (pid < 0) {
                snprintf(msg, sizeof msg, "cannot start wl-paste: %s", strerror(errno));
                set_error(d, msg);
            } else {
                pthread_mutex_lock(&d->lock);
                d->wl_child = pid;
                snprintf(d->capture, sizeof d->capture, "wayland");
                pthread_mutex_unlock(&d->lock);
                say("capturing through wl-paste --watch (pid %ld)", (long)pid);
                time_t started = time(NULL);
                char acc[4096], last[1024] = "";
                size_t accn = 0;
                int st = 0, open_fd = 1;
                pid_t w = 0;
                while (!d->stop) {
                    struct pollfd pf = {efd, POLLIN, 0};
                    if (open_fd && poll(&pf, 1, 200) > 0) open_fd = drain_lines(efd, acc, &accn, sizeof acc, last, sizeof last);
                    else if (!open_fd) usleep(200000);
                    if ((w = waitpid(pid, &st, WNOHANG)) == pid) break;
                }
                if (w != pid) { /* stopping: end our own child */
                    kill(pid, SIGTERM);
                    waitpid(pid, &st, 0);
                }
                /* what it said last, if it is still in the pipe */
                fcntl(efd, F_SETFL, O_NONBLOCK);
                while (open_fd && drain_lines(efd, acc, &accn, sizeof acc, last, sizeof last) && accn < sizeof acc - 1) {
                    struct pollfd pf = {efd, POLLIN, 0};
                    if (poll(&pf, 1, 0) <= 0) break;
                }
                close(efd);
                pthread_mutex_lock(&d->lock);
                d->wl_child = 0;
                pthread_mutex_unlock(&d->lock);
                if (d->stop) break;
                if (time(NULL) - started > 60) backoff = 1; /* it ran a good while: a fresh failure */
                if (WIFEXITED(st)) snprintf(msg, sizeof msg, "wl-paste --watch exited with status %d%s%.900s; restarting in %d s",
                                            WEXITSTATUS(st), last[0] ? ": " : "", last, backoff);
                else snprintf(msg, sizeof msg, "wl-paste --watch was killed by signal %d%s%.900s; restarting in %d s",
                              WTERMSIG(st), last[0] ? " (last said: " : "", last, backoff);
                if (!WIFEXITED(st) && last[0]) strncat(msg, ")", sizeof msg - strlen(msg) - 1);
                pthread_mutex_lock(&d->lock);
                d->capture_restarts++;
                snprintf(d->capture, sizeof d->capture, "failed");
                pthread_mutex_unlock(&d->lock);
                set_error(d, msg);
            }
        }
        for (int i = 0; i < backoff * 10 && !d->stop; i++) usleep(100000);
        backoff = backoff * 2 > 60 ? 60 : backoff * 2;
    }
    return NULL;
}

static int have_program(const char *name) {
    const char *path = getenv("PATH");
    if (!path) return 0;
    char *dup = strdup(path), *save = NULL;
    int found = 0;
    for (char *dir = strtok_r(dup, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        found = access(p, X_OK) == 0;
    }
    free(dup);
    return found;
}

int daemon_run(const daemon_params *p, cs_err *err) {
    daemon_state d;
    memset(&d, 0, sizeof d);
    d.p = *p;
    pthread_mutex_init(&d.lock, NULL);
    pthread_mutex_init(&d.model_lock, NULL);
    pthread_cond_init(&d.wake, NULL);
    pthread_cond_init(&d.idle, NULL);
    if (rules_load(NULL, &d.rules, err)) return -1; /* a bad config is an error, not a surprise later */
    /* the store creates the data dir (0700) and checks the database before anything else */
    store *s;
    if (store_open(p->data_dir, &s, err)) { rules_free(d.rules); return -1; }
    store_report r;
    if (store_check(s, 0, &r, err) == 0)
        say("store %s: %lld entries, %lld missing blobs, %lld orphan blobs", p->data_dir, (long long)r.entries,
            (long long)r.missing_blobs, (long long)r.orphan_blobs);
    int64_t orphans = 0;
    if (store_gc(s, &orphans, NULL) == 0 && orphans) say("removed %lld orphan blob and thumbnail files", (long long)orphans);
    int64_t compacted = 0;
    if (vecindex_compact(s, &compacted, NULL) == 0 && compacted)
        say("search matrix: dropped rows of deleted entries (%lld model(s); rebuilt on first use)", (long long)compacted);
    store_close(s);
    char buf[64];
    if (daemon_request(p->data_dir, "PING", buf, sizeof buf, 2000) == 0) {
        rules_free(d.rules);
        return cs_err_set(err, "a daemon is already running for %s (%s)", p->data_dir, buf);
    }
    struct sockaddr_un a;
    if (sock_path(p->data_dir, &a)) return cs_err_set(err, "%s: path too long for a socket", p->data_dir);
    unlink(a.sun_path); /* stale: nobody answered */
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(0177);
    int b = lfd >= 0 ? bind(lfd, (struct sockaddr *)&a, sizeof a) : -1;
    umask(old);
    if (b != 0 || listen(lfd, 16) != 0) {
        if (lfd >= 0) close(lfd);
        return cs_err_set(err, "%s: %s", a.sun_path, strerror(errno));
    }
    chmod(a.sun_path, 0600);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t ct = 0, it;
    int have_capture = 0;
    if (p->no_capture) {
        snprintf(d.capture, sizeof d.capture, "off");
    } else if (getenv("WAYLAND_DISPLAY") && have_program("wl-paste") && p->self_exe) {
        snprintf(d.capture, sizeof d.capture, "wayland");
        have_capture = pthread_create(&ct, NULL, wayland_thread, &d) == 0;
    } else if (getenv("WAYLAND_DISPLAY") && !(p->x11 && getenv("DISPLAY"))) {
        snprintf(d.capture, sizeof d.capture, "failed");
        set_error(&d, "Wayland without wl-paste: install wl-clipboard to capture (or set DISPLAY for XWayland capture)");
    } else if (p->x11 && getenv("DISPLAY")) {
        snprintf(d.capture, sizeof d.capture, "x11");
        have_capture = pthread_create(&ct, NULL, capture_thread, &d) == 0;
    } else {
        snprintf(d.capture, sizeof d.capture, "none");
        say("no display: not capturing (clipseek add and clipseek store still work)");
    }
    pthread_create(&it, NULL, index_thread, &d);
    say("listening on %s", a.sun_path);
    web_server *web = NULL;
    int port = p->web_port == -2 ? rules_web_port(d.rules) : p->web_port;
    if (port >= 0) {
        web_params wp = {p->data_dir, port, daemon_search, web_status, &d, 0, 0, 0};
        cs_err we;
        if (web_start(&wp, &web, &we)) set_error(&d, we.msg);
        else {
            d.web_port = web_port(web);
            d.web = web;
            say("web page on http://127.0.0.1:%d/ (log in with `clipseek web --open`)", d.web_port);
            if (p->open_browser) {
                char *url = web_login_url(web);
                printf("%s\n", url ? url : "");
                fflush(stdout);
                if (url && p->open_browser == 2 && have_program("xdg-open") && (getenv("DISPLAY") || getenv("WAYLAND_DISPLAY"))) {
                    /* twice forked, so the browser launcher is never our zombie */
                    pid_t b = fork();
                    if (b == 0) {
                        if (fork() == 0) {
                            int nul = open("/dev/null", O_RDWR);
                            if (nul >= 0) { dup2(nul, 1); dup2(nul, 2); }
                            execlp("xdg-open", "xdg-open", url, (char *)NULL);
                        }
                        _exit(0);
                    }
                    if (b > 0) waitpid(b, NULL, 0);
                }
                free(url);
            }
        }
    }
    while (!d.stop && !g_signal) {
        struct pollfd pfd = {lfd, POLLIN, 0};
        if (poll(&pfd, 1, 200) <= 0) continue;
        int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0) continue;
        client *cl = malloc(sizeof *cl);
        pthread_t t;
        if (!cl) { close(cfd); continue; }
        cl->d = &d;
        cl->fd = cfd;
        if (pthread_create(&t, NULL, client_thread, cl) != 0) { close(cfd); free(cl); continue; }
        pthread_detach(t);
    }
    say("stopping");
    web_stop(web); /* first: its requests use the model and the stores */
    pthread_mutex_lock(&d.lock);
    d.stop = 1;
    pthread_cond_broadcast(&d.wake);
    pthread_cond_broadcast(&d.idle);
    pthread_mutex_unlock(&d.lock);
    if (have_capture) pthread_join(ct, NULL);
    pthread_join(it, NULL);
    close(lfd);
    unlink(a.sun_path);
    rules_free(d.rules);
    return 0;
}
