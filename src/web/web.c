/* web: see web.h. */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../capture/ingest.h"
#include "../capture/paste.h"
#include "../capture/textkind.h"
#include "../capture/secrets.h"
#include "../common/cs_file.h"
#include "../image/image.h"
#include "../search/search_json.h"
#include "../store/store.h"

#define BODY_MAX      (16 * 1024)
#define EDIT_BODY_MAX (4 * 1024 * 1024) /* PUT /api/entries/ID carries a whole text */
#define URL_MAX       4096
#define POOL          8
#define THUMB_SIDE    320
/* Connections: CONN_MAX in all, CONN_PER_IP from one address (below the total, so one client
 * filling its share leaves room for others), each request (headers and body) complete within
 * REQUEST_DEADLINE_S of its start, however slowly the bytes trickle in (slowloris). A
 * connection over a cap gets a 503 and is closed. */
#define CONN_MAX           64
#define CONN_PER_IP        32
#define REQUEST_DEADLINE_S 10
#define LINGER_MAX         64 /* refused connections draining before close */
#define SESSIONS_MAX       64
#define CODES_MAX          16

/* the assets, linked in by assets.S */
extern const char web_index_html[], web_index_html_end[];
extern const char web_app_js[], web_app_js_end[];
extern const char web_style_css[], web_style_css_end[];

/* A login code or a session: 64 hex digits (256 random bits). v[0] == 0: a free slot. Times are
 * CLOCK_BOOTTIME seconds, which count a suspended laptop's sleep. */
typedef struct {
    char v[65];
    double created, used;
} web_secret;

/* One accepted connection, from accept to MHD's close notice. */
typedef struct {
    int fd;  /* MHD's descriptor: the key MHD's start notice is matched by */
    int dup; /* ours (dup of fd): shutdown() on it ends the socket without racing MHD's close */
    unsigned char ip[16];
    double deadline; /* the current request must be complete by then; 0: answering, no deadline */
    int started, used;
} web_conn;

struct web_server {
    web_params p;
    char *data_dir, *thumbs;
    char token[65];
    int port;
    char hosts[3][64];   /* the Host values we accept */
    char origins[3][80]; /* and the Origin values */
    struct MHD_Daemon *mhd;
    int lfd[2]; /* listening sockets: 127.0.0.1, ::1 (-1: none) */
    pthread_t acceptor;
    int have_acceptor;
    int wake[2]; /* a pipe: web_stop wakes the acceptor */
    pthread_mutex_t pool_lock;
    store *pool[POOL];
    int npool;
    pthread_mutex_t lock; /* sessions, codes, conns */
    web_secret sessions[SESSIONS_MAX], codes[CODES_MAX];
    web_conn conns[CONN_MAX];
    double idle_s, max_s, code_s;
};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_BOOTTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int random_hex(char out[65], cs_err *err) {
    unsigned char r[32];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) return cs_err_set(err, "getrandom: %s", strerror(errno));
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", r[i]);
    return 0;
}

int web_token(const char *data_dir, char out[65], cs_err *err) {
    char *p = cs_path_join(data_dir, "web.token");
    if (!p) return cs_errc(err, CS_ENOMEM, "out of memory");
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            struct stat st;
            ssize_t n = read(fd, out, 64);
            if (fstat(fd, &st) == 0 && (st.st_mode & 0077)) fchmod(fd, 0600);
            close(fd);
            out[n > 0 ? n : 0] = 0;
            if (n == 64 && strspn(out, "0123456789abcdef") == 64) {
                free(p);
                return 0;
            }
            unlink(p); /* damaged: make a new one */
        }
        if (random_hex(out, err)) {
            free(p);
            return -1;
        }
        fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno == EEXIST) continue; /* another process made it: read theirs */
        if (fd < 0) {
            cs_err_sys(err, errno, "%s", p);
            free(p);
            return -1;
        }
        int ok = write(fd, out, 64) == 64 && fsync(fd) == 0;
        close(fd);
        free(p);
        return ok ? 0 : cs_err_set(err, "web.token: cannot write");
    }
    free(p);
    return cs_err_set(err, "web.token: cannot create");
}

/* ---- store pool: SQLite connections are per thread, and opening one per request is waste ---- */

static store *pool_get(web_server *w, cs_err *err) {
    pthread_mutex_lock(&w->pool_lock);
    store *s = w->npool ? w->pool[--w->npool] : NULL;
    pthread_mutex_unlock(&w->pool_lock);
    if (!s && store_open(w->data_dir, &s, err)) return NULL;
    return s;
}

static void pool_put(web_server *w, store *s) {
    if (!s) return;
    pthread_mutex_lock(&w->pool_lock);
    if (w->npool < POOL) {
        w->pool[w->npool++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&w->pool_lock);
    store_close(s);
}

/* ---- responses ---- */

static void security_headers(struct MHD_Response *r) {
    MHD_add_response_header(
        r, "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    MHD_add_response_header(r, "Cross-Origin-Opener-Policy", "same-origin");
}

/* A response with one extra header (name NULL: none). */
static enum MHD_Result send_buf_hdr(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                                    size_t len, enum MHD_ResponseMemoryMode mode, const char *cache, const char *name,
                                    const char *value) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, mode);
    if (!r) return MHD_NO;
    security_headers(r);
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", cache ? cache : "no-store");
    if (name) MHD_add_response_header(r, name, value);
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                                size_t len, enum MHD_ResponseMemoryMode mode, const char *cache) {
    return send_buf_hdr(c, status, type, data, len, mode, cache, NULL, NULL);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
    char *txt = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (!txt)
        return send_buf(c, 500, "application/json", "{\"error\":\"out of memory\"}", 25, MHD_RESPMEM_PERSISTENT, NULL);
    return send_buf(c, status, "application/json", txt, strlen(txt), MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg) {
    return send_json(c, status, json_pack("{s:s}", "error", msg));
}

/* The one place a library error becomes an HTTP status: what was asked for is not there (404),
 * the request or its data is bad (400), the store is busy or locked, try again (503), the rest
 * is ours (500). */
unsigned web_status_for(const cs_err *err) {
    switch (cs_err_code_of(err)) {
    case CS_ENOTFOUND: return 404;
    case CS_EINVAL: return 400;
    case CS_EBUSY: return 503;
    default: return 500;
    }
}

static enum MHD_Result send_cs_err(struct MHD_Connection *c, const cs_err *err) {
    return send_error(c, web_status_for(err), err->msg);
}

/* ---- request checks ---- */

static int eq_const(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;
    for (size_t i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* ---- sessions and one-time login codes (all under w->lock) ---- */

/* Drops expired sessions (idle too long or too old) and codes. */
static void expire_locked(web_server *w, double now) {
    for (int i = 0; i < SESSIONS_MAX; i++) {
        web_secret *x = &w->sessions[i];
        if (x->v[0] && (now - x->used > w->idle_s || now - x->created > w->max_s)) memset(x, 0, sizeof *x);
    }
    for (int i = 0; i < CODES_MAX; i++) {
        web_secret *x = &w->codes[i];
        if (x->v[0] && now - x->created > w->code_s) memset(x, 0, sizeof *x);
    }
}

/* A free slot of a[n], else the least recently used one (its holder must log in again). */
static web_secret *slot_locked(web_secret *a, int n) {
    web_secret *best = &a[0];
    for (int i = 0; i < n; i++) {
        if (!a[i].v[0]) return &a[i];
        if (a[i].used < best->used) best = &a[i];
    }
    return best;
}

/* Every slot is compared, so the time taken says nothing about which one matched. */
static web_secret *find_locked(web_secret *a, int n, const char *v) {
    web_secret *hit = NULL;
    for (int i = 0; i < n; i++)
        if (eq_const(a[i].v, v) && a[i].v[0]) hit = &a[i];
    return hit;
}

static int session_ok(web_server *w, const char *v) {
    if (!v || strlen(v) != 64) return 0;
    pthread_mutex_lock(&w->lock);
    double now = now_s();
    expire_locked(w, now);
    web_secret *x = find_locked(w->sessions, SESSIONS_MAX, v);
    if (x) x->used = now;
    pthread_mutex_unlock(&w->lock);
    return x != NULL;
}

/* Trades a login code, once, for a new session written to out. -1: unknown, used or expired. */
static int code_exchange(web_server *w, const char *code, char out[65]) {
    cs_err err;
    if (!code || strlen(code) != 64 || random_hex(out, &err)) return -1;
    pthread_mutex_lock(&w->lock);
    double now = now_s();
    expire_locked(w, now);
    web_secret *c = find_locked(w->codes, CODES_MAX, code);
    if (c) {
        memset(c, 0, sizeof *c); /* single use */
        web_secret *x = slot_locked(w->sessions, SESSIONS_MAX);
        memcpy(x->v, out, sizeof x->v);
        x->created = x->used = now;
    }
    pthread_mutex_unlock(&w->lock);
    return c ? 0 : -1;
}

static void session_end(web_server *w, const char *v) {
    if (!v || strlen(v) != 64) return;
    pthread_mutex_lock(&w->lock);
    web_secret *x = find_locked(w->sessions, SESSIONS_MAX, v);
    if (x) memset(x, 0, sizeof *x);
    pthread_mutex_unlock(&w->lock);
}

/* The page: a session cookie. Scripts: the long-lived token in an Authorization header (a
 * header, so it is never in a URL, a history or a cookie that other ports receive). */
static int authorised(web_server *w, struct MHD_Connection *c) {
    if (session_ok(w, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "clipseek_session"))) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    return h && !strncmp(h, "Bearer ", 7) && eq_const(h + 7, w->token);
}

/* A 303 to / that sets (or, for an empty value, clears) the session cookie. Max-Age matches the
 * session's longest life, so the browser forgets it when the server would. */
static enum MHD_Result send_session(web_server *w, struct MHD_Connection *c, const char *session) {
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    char ck[200];
    snprintf(ck, sizeof ck, "clipseek_session=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%ld", session,
             *session ? (long)w->max_s : 0L);
    security_headers(r);
    MHD_add_response_header(r, "Set-Cookie", ck);
    MHD_add_response_header(r, "Location", "/");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(c, 303, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- connections ---- */

/* Sets the deadline of the request on c's connection (0: none while it is answered). */
static void conn_deadline(web_server *w, struct MHD_Connection *c, double when) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    web_conn *k = ci ? ci->socket_context : NULL;
    if (!k) return;
    pthread_mutex_lock(&w->lock);
    k->deadline = when;
    pthread_mutex_unlock(&w->lock);
}

static int host_ok(web_server *w, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    if (!h) return 0;
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(h, w->hosts[i])) return 1;
    return 0;
}

static int origin_ok(web_server *w, struct MHD_Connection *c) {
    const char *o = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *site = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin")) return 0;
    if (!o) return 0;
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(o, w->origins[i])) return 1;
    return 0;
}

/* ---- helpers ---- */

static const char *arg(struct MHD_Connection *c, const char *k) {
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
    return v && *v ? v : NULL;
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* An entry as lists show it, with a secret's preview masked: a secret's characters leave the
 * server only through its own endpoint (entry_full), which the page calls when the user opens
 * it, and shows once they ask. Text read from an image (a screenshot of a key) is held to the
 * same rule: images have no text kind, so its OCR text is checked here (a detector that fails
 * counts as a secret). */
static json_t *entry_brief(const store_entry *e) {
    json_t *o = store_entry_json(e);
    if (e->subkind && !strcmp(e->subkind, "secret")) {
        json_object_set_new(o, "preview", json_string(SECRETS_MASK));
        secrets_mask_json(o, e); /* its length and hash go too */
    }
    if (e->ocr_text && *e->ocr_text && secrets_find(e->ocr_text, strlen(e->ocr_text), NULL) != 0) {
        json_object_del(o, "ocr_text");
        json_object_set_new(o, "masked", json_true());
    }
    return o;
}

/* The length of the longest prefix of t[0..n) that is at most max bytes and ends on a UTF-8
 * character boundary (a continuation byte never starts the rest). */
static size_t utf8_cut(const char *t, size_t n, size_t max) {
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && ((unsigned char)t[k] & 0xC0) == 0x80) k--;
    return k;
}

/* An entry with the extras the page shows: text, collection name. text_max > 0 sends at most
 * that many bytes of the text (cut on a character boundary) with "text_bytes" (the whole
 * length) and "text_truncated": a 3 MB clip opens at once, and the rest comes from
 * /api/entries/ID/text when asked. */
static json_t *entry_full(store *s, const store_entry *e, size_t text_max) {
    json_t *o = entry_brief(e);
    if (e->text) {
        size_t n = strlen(e->text), k = text_max ? utf8_cut(e->text, n, text_max) : n;
        json_object_set_new(o, "text", json_stringn(e->text, k));
        json_object_set_new(o, "text_bytes", json_integer((json_int_t)n));
        json_object_set_new(o, "text_truncated", json_boolean(k < n));
    }
    if (e->ocr_text && *e->ocr_text) json_object_set_new(o, "ocr_text", json_string(e->ocr_text));
    if (e->collection) {
        store_collection *cs;
        size_t n;
        cs_err err;
        if (store_collections(s, &cs, &n, &err) == 0) {
            for (size_t i = 0; i < n; i++) {
                if (cs[i].id == e->collection) json_object_set_new(o, "collection_name", json_string(cs[i].name));
                store_collection_free(&cs[i]);
            }
            free(cs);
        }
    }
    return o;
}

static json_t *hits_json(store *s, const search_hit *h, size_t n, const char *query) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        store_entry e;
        cs_err err;
        if (store_get(s, h[i].id, &e, &err)) continue;
        json_t *o = entry_brief(&e);
        search_hit_json(o, &h[i], &e, query); /* the fields `clipseek search --json` gives */
        /* "matched" lists the entry's own words that the query's matched (a prefix or a typo
         * away): for a secret that would spell out the masked text */
        if (json_is_true(json_object_get(o, "masked"))) json_object_del(o, "matched");
        json_array_append_new(arr, o);
        store_entry_free(&e);
    }
    return arr;
}

/* ---- handlers ---- */

static enum MHD_Result api_entries(web_server *w, struct MHD_Connection *c, store *s) {
    int64_t limit = 60, before = 0, coll = 0, since = 0;
    const char *q = arg(c, "q"), *kind = arg(c, "kind"), *cat = arg(c, "category"), *cs = arg(c, "collection");
    if ((arg(c, "limit") && parse_i64(arg(c, "limit"), 1, 500, &limit)) ||
        (arg(c, "before") && parse_i64(arg(c, "before"), 1, INT64_MAX, &before)) ||
        (cs && parse_i64(cs, 1, INT64_MAX, &coll)) ||
        (arg(c, "since") && parse_i64(arg(c, "since"), 0, INT64_MAX, &since)))
        return send_error(c, 400, "limit, before, collection and since are numbers (limit 1-500)");
    if (q && strlen(q) > 1000) return send_error(c, 400, "query too long (at most 1000 bytes)");
    int pinned = arg(c, "pinned") && !strcmp(arg(c, "pinned"), "1");
    cs_err err;
    if (q) { /* search: one ranked page, the ranking of `clipseek search` */
        search_query sq = {0};
        sq.text = q;
        sq.kind = kind;
        sq.category = cat;
        sq.collection = coll;
        sq.since_ms = since;
        sq.limit = (int)(limit > 200 ? 200 : limit);
        search_hit *h = NULL;
        size_t n = 0;
        int rc = w->p.search ? w->p.search(w->p.arg, s, &sq, &h, &n, &err) : search_run(s, &sq, &h, &n, &err);
        if (rc) return send_cs_err(c, &err);
        json_t *arr = hits_json(s, h, n, q);
        if (pinned) { /* a filter search has no use for: applied to the page */
            size_t i = 0;
            while (i < json_array_size(arr))
                if (!json_is_true(json_object_get(json_array_get(arr, i), "pinned")))
                    json_array_remove(arr, i);
                else
                    i++;
        }
        free(h);
        json_t *page = json_pack("{s:o, s:n, s:b}", "entries", arr, "next", "search", 1);
        if (sq.warning[0]) json_object_set_new(page, "warning", json_string(sq.warning)); /* index out of date */
        return send_json(c, 200, page);
    }
    store_query lq = {0};
    lq.kind = kind;
    lq.category = cat;
    lq.collection = coll;
    lq.pinned_only = pinned;
    lq.since_ms = since;
    lq.limit = (int)limit + 1; /* one more tells whether there is a next page */
    lq.before_seq = before;
    store_entry *es;
    size_t n;
    if (store_list(s, &lq, &es, &n, &err)) return send_cs_err(c, &err);
    json_t *arr = json_array();
    int64_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int64_t)i < limit) {
            json_t *o = entry_brief(&es[i]);
            json_object_set_new(o, "seq", json_integer(es[i].seq));
            json_array_append_new(arr, o);
            next = es[i].seq;
        }
        store_entry_free(&es[i]);
    }
    int more = (int64_t)n > limit;
    free(es);
    return send_json(
        c, 200,
        json_pack("{s:o, s:o, s:b}", "entries", arr, "next", more ? json_integer(next) : json_null(), "search", 0));
}

/* mode: 0 the image, 1 its thumbnail, 2 the image as a download (Content-Disposition names it
 * clipseek-ID.EXT, after the type its bytes have) */
static enum MHD_Result api_image(web_server *w, struct MHD_Connection *c, store *s, const store_entry *e, int mode) {
    int thumb = mode == 1;
    if (strcmp(e->kind, "image")) return send_error(c, 404, "not an image");
    cs_err err;
    char tp[4200];
    snprintf(tp, sizeof tp, "%s/%s.jpg", w->thumbs, e->sha256);
    if (thumb) { /* cached by content hash */
        char *buf;
        size_t len;
        if (cs_is_file(tp) && cs_read_file(tp, 16 << 20, &buf, &len, NULL) == 0)
            return send_buf(c, 200, "image/jpeg", buf, len, MHD_RESPMEM_MUST_FREE, "private, max-age=86400");
    }
    unsigned char *d;
    size_t n;
    if (store_content(s, e, &d, &n, &err)) return send_cs_err(c, &err);
    if (!thumb) {
        img_format f = img_sniff(d, n);
        const char *type = f == IMG_PNG    ? "image/png"
                           : f == IMG_JPEG ? "image/jpeg"
                           : f == IMG_WEBP ? "image/webp"
                           : f == IMG_GIF  ? "image/gif"
                           : f == IMG_BMP  ? "image/bmp"
                                           : NULL;
        if (!type) {
            free(d);
            return send_error(c, 415, "the stored bytes are not an image type we serve");
        }
        if (mode == 2) {
            char cd[96];
            snprintf(cd, sizeof cd, "attachment; filename=\"clipseek-%lld.%s\"", (long long)e->id,
                     strchr(type, '/') + 1);
            return send_buf_hdr(c, 200, type, d, n, MHD_RESPMEM_MUST_FREE, "private, max-age=86400",
                                "Content-Disposition", cd);
        }
        return send_buf(c, 200, type, d, n, MHD_RESPMEM_MUST_FREE, "private, max-age=86400");
    }
    img_rgb th;
    unsigned char *jpg = NULL;
    size_t jl = 0;
    int rc = img_thumbnail_decode(d, n, IMG_DEFAULT_MAX_PIXELS, THUMB_SIDE, &th, &err);
    free(d);
    if (rc) return send_error(c, 415, err.msg);
    rc = img_encode_jpeg(&th, 82, &jpg, &jl, &err);
    img_free(&th);
    if (rc) return send_cs_err(c, &err);
    /* write-then-rename: a reader never sees half a thumbnail */
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", tp, (long)gettid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        int ok = write(fd, jpg, jl) == (ssize_t)jl;
        close(fd);
        if (!ok || rename(tmp, tp) != 0) unlink(tmp);
    }
    return send_buf(c, 200, "image/jpeg", jpg, jl, MHD_RESPMEM_MUST_FREE, "private, max-age=86400");
}

static enum MHD_Result api_status(web_server *w, struct MHD_Connection *c, store *s) {
    json_t *o = json_object();
    if (w->p.status) w->p.status(w->p.arg, o);
    int64_t entries = 0, pending = 0;
    cs_err err;
    const char *model = json_string_value(json_object_get(o, "model"));
    if (store_counts(s, model && *model ? model : NULL, &entries, &pending, &err) == 0) {
        json_object_set_new(o, "entries", json_integer(entries));
        json_object_set_new(o, "pending", json_integer(pending));
    }
    /* the pause state and what undo would bring back (the page's header and toast) */
    ingest_pause p;
    int64_t trash = 0, undo = 0;
    if (ingest_pause_state(s, &p, &err) == 0) ingest_pause_json(&p, o);
    if (store_trash_count(s, &trash, &undo, &err) == 0) json_object_set_new(o, "undo", json_integer(undo));
    /* the most recently copied entry: what the clipboard holds now while capture runs (a copy
     * from the page puts an entry back on the clipboard, and capture bumps it to the top) */
    store_query lq = {0};
    lq.limit = 1;
    store_entry *es;
    size_t n;
    if (store_list(s, &lq, &es, &n, &err) == 0) {
        json_object_set_new(o, "latest_id", n ? json_integer(es[0].id) : json_null());
        for (size_t i = 0; i < n; i++) store_entry_free(&es[i]);
        free(es);
    }
    return send_json(c, 200, o);
}

static json_t *group_json(store *s, const char *col) {
    char **v;
    int64_t *cnt;
    size_t n;
    cs_err err;
    json_t *arr = json_array();
    if (store_group_counts(s, col, &v, &cnt, &n, &err)) return arr;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_pack("{s:s, s:I}", "name", v[i] ? v[i] : "", "count", (json_int_t)cnt[i]));
        free(v[i]);
    }
    free(v);
    free(cnt);
    return arr;
}

static enum MHD_Result api_facets(struct MHD_Connection *c, store *s) {
    json_t *colls = json_array();
    store_collection *cs;
    size_t n;
    cs_err err;
    if (store_collections(s, &cs, &n, &err) == 0) {
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(colls,
                                  json_pack("{s:I, s:s, s:I, s:b}", "id", (json_int_t)cs[i].id, "name", cs[i].name,
                                            "members", (json_int_t)cs[i].members, "user_named", cs[i].user_named));
            store_collection_free(&cs[i]);
        }
        free(cs);
    }
    return send_json(c, 200,
                     json_pack("{s:o, s:o, s:o, s:o}", "kinds", group_json(s, "kind"), "text_kinds",
                               group_json(s, "subkind"), "categories", group_json(s, "category"), "collections",
                               colls));
}

/* POST bodies are small JSON objects */
static json_t *body_json(const char *body, size_t len) {
    return len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : json_object();
}

/* PUT /api/entries/ID {"text": T}: the entry's new text (text entries only), re-indexed. */
static enum MHD_Result api_edit(struct MHD_Connection *c, store *s, int64_t id, const char *body, size_t blen) {
    json_t *b = body_json(body, blen);
    const char *t = json_string_value(json_object_get(b, "text"));
    size_t n = t ? json_string_length(json_object_get(b, "text")) : 0;
    enum MHD_Result r;
    cs_err err;
    if (!t)
        r = send_error(c, 400, "expected {\"text\": TEXT}");
    else {
        const char *lang = NULL;
        const char *kind = textkind_classify(t, n, &lang);
        int e = store_set_text(s, id, t, n, kind, lang, &err);
        r = e == 0   ? send_json(c, 200, json_pack("{s:b, s:s?}", "saved", 1, "text_kind", kind))
            : e == 1 ? send_error(c, 404, "no such entry")
                     : send_error(c, e == 2 ? 400 : 500, err.msg);
    }
    json_decref(b);
    return r;
}

/* POST /api/undo: brings back the last delete; {"restored": [ids]}, 404 when there is none. */
static enum MHD_Result api_undo(struct MHD_Connection *c, store *s) {
    int64_t *ids = NULL;
    size_t n = 0;
    cs_err err;
    if (store_undo(s, &ids, &n, &err)) return send_cs_err(c, &err);
    if (!n) return send_error(c, 404, "nothing to undo");
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_integer(ids[i]));
    free(ids);
    return send_json(c, 200, json_pack("{s:o}", "restored", a));
}

static enum MHD_Result api_entry(web_server *w, struct MHD_Connection *c, store *s, const char *method, int64_t id,
                                 const char *rest, const char *body, size_t blen) {
    store_entry e;
    cs_err err;
    int g = store_get(s, id, &e, &err);
    if (g == 1) return send_error(c, 404, "no such entry");
    if (g) return send_cs_err(c, &err);
    enum MHD_Result r;
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    int64_t tmax = 0, off = 0, len = 256 * 1024;
    if (!*rest && get) {
        if (arg(c, "text_max") && parse_i64(arg(c, "text_max"), 1, INT64_MAX, &tmax))
            r = send_error(c, 400, "text_max is a number of bytes (1 or more)");
        else
            r = send_json(c, 200, entry_full(s, &e, (size_t)tmax));
    } else if (!strcmp(rest, "/text") && get) {
        /* a slice of the text, cut on character boundaries: offset (from a previous "next") and
         * length (bytes, default 256 KiB, at most 4 MiB) */
        size_t n = e.text ? strlen(e.text) : 0;
        if (!e.text)
            r = send_error(c, 404, "not a text entry");
        else if ((arg(c, "offset") && parse_i64(arg(c, "offset"), 0, (int64_t)n, &off)) ||
                 (arg(c, "length") && parse_i64(arg(c, "length"), 4, 4 << 20, &len)))
            r = send_error(c, 400, "offset is 0 to the text's length, length 4 (one character) to 4194304 bytes");
        else if (off < (int64_t)n && ((unsigned char)e.text[off] & 0xC0) == 0x80)
            r = send_error(c, 400, "offset is inside a character: use the \"next\" of the previous answer");
        else {
            size_t k = utf8_cut(e.text + off, n - (size_t)off, (size_t)len);
            size_t next = (size_t)off + k;
            r = send_json(c, 200,
                          json_pack("{s:s%, s:I, s:o, s:I}", "text", e.text + off, k, "offset", (json_int_t)off, "next",
                                    next < n ? json_integer((json_int_t)next) : json_null(), "text_bytes",
                                    (json_int_t)n));
        }
    } else if (!*rest && !strcmp(method, "DELETE")) { /* to the trash (a secret: for good); "trashed" 1 = undo-able */
        int64_t t = 0;
        r = store_trash(s, &id, 1, &t, &err) < 0
                ? send_cs_err(c, &err)
                : send_json(c, 200, json_pack("{s:b, s:I}", "deleted", 1, "trashed", (json_int_t)t));
    } else if (!*rest && !strcmp(method, "PUT"))
        r = api_edit(c, s, id, body, blen);
    else if (!strcmp(rest, "/image") && get)
        r = api_image(w, c, s, &e, arg(c, "download") ? 2 : 0);
    else if (!strcmp(rest, "/thumb") && get)
        r = api_image(w, c, s, &e, 1);
    else if (!strcmp(rest, "/similar") && get) {
        search_query sq = {0};
        sq.exclude = id;
        sq.limit = 12;
        search_hit *h = NULL;
        size_t n = 0;
        if (!w->p.search)
            r = send_json(c, 200, json_pack("{s:[]}", "entries"));
        else if (w->p.search(w->p.arg, s, &sq, &h, &n, &err))
            r = send_cs_err(c, &err);
        else
            r = send_json(c, 200, json_pack("{s:o}", "entries", hits_json(s, h, n, NULL)));
        free(h);
    } else if (!strcmp(rest, "/copy") && post) {
        /* {"what": "ocr_text"}: the text read from an image instead of the image */
        json_t *b = body_json(body, blen);
        const char *what = json_string_value(json_object_get(b, "what"));
        if (!json_is_object(b) || (what && strcmp(what, "entry") && strcmp(what, "ocr_text")))
            r = send_error(c, 400, "expected {} or {\"what\": \"entry\"|\"ocr_text\"}");
        else if (what && !strcmp(what, "ocr_text")) {
            if (!e.ocr_text || !*e.ocr_text)
                r = send_error(c, 404, "no text was read from this entry");
            else {
                store_entry t = {0};
                snprintf(t.kind, sizeof t.kind, "text");
                t.id = e.id;
                t.text = e.ocr_text;
                t.mime = (char *)"text/plain";
                r = paste_entry(s, &t, &err) ? send_cs_err(c, &err)
                                             : send_json(c, 200, json_pack("{s:b}", "copied", 1));
            }
        } else
            r = paste_entry(s, &e, &err) ? send_cs_err(c, &err) : send_json(c, 200, json_pack("{s:b}", "copied", 1));
        json_decref(b);
    } else if ((!strcmp(rest, "/pin") || !strcmp(rest, "/tags")) && post) {
        json_t *b = body_json(body, blen);
        if (!json_is_object(b))
            r = send_error(c, 400, "the body must be a JSON object");
        else if (!strcmp(rest, "/pin")) {
            json_t *p = json_object_get(b, "pinned");
            r = !json_is_boolean(p) ? send_error(c, 400, "expected {\"pinned\": true|false}")
                : store_set_pinned(s, id, json_is_true(p), &err)
                    ? send_cs_err(c, &err)
                    : send_json(c, 200, json_pack("{s:b}", "pinned", json_is_true(p)));
        } else {
            const char *t = json_string_value(json_object_get(b, "tag"));
            int remove = json_is_true(json_object_get(b, "remove"));
            r = !t                                   ? send_error(c, 400, "expected {\"tag\": TEXT, \"remove\": false}")
                : store_tag(s, id, t, !remove, &err) ? send_error(c, 400, err.msg)
                                                     : send_json(c, 200, json_pack("{s:b}", "ok", 1));
        }
        json_decref(b);
    } else
        r = send_error(c,
                       strcmp(rest, "") && strcmp(rest, "/image") && strcmp(rest, "/thumb") &&
                               strcmp(rest, "/similar") && strcmp(rest, "/copy") && strcmp(rest, "/pin") &&
                               strcmp(rest, "/tags") && strcmp(rest, "/text")
                           ? 404
                           : 405,
                       "no such action");
    store_entry_free(&e);
    return r;
}

typedef struct {
    char *body;
    size_t len;
    int too_big, started;
} req_state;

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
    (void)t;
    req_state *rs = *con_cls;
    if (rs) {
        free(rs->body);
        free(rs);
    }
    *con_cls = NULL;
    conn_deadline(cls, c, now_s() + REQUEST_DEADLINE_S); /* the next request on this connection */
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    web_server *w = cls;
    req_state *rs = *con_cls;
    if (!rs) { /* first call: headers only. Refuse early what needs no body read. */
        rs = calloc(1, sizeof *rs);
        if (!rs) return MHD_NO;
        *con_cls = rs;
        return MHD_YES;
    }
    if (*upload_size) { /* body data */
        if (rs->len + *upload_size > (strcmp(method, "PUT") ? BODY_MAX : EDIT_BODY_MAX))
            rs->too_big = 1;
        else {
            char *nb = realloc(rs->body, rs->len + *upload_size + 1);
            if (!nb) return MHD_NO;
            rs->body = nb;
            memcpy(rs->body + rs->len, upload, *upload_size);
            rs->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    /* the whole request is here: no deadline while it is answered */
    conn_deadline(w, c, 0);
    if (!host_ok(w, c)) return send_error(c, 421, "the Host header must name this loopback server");
    if (strlen(url) > URL_MAX) return send_error(c, 414, "URL too long");
    if (rs->too_big)
        return send_error(c, 413,
                          strcmp(method, "PUT") ? "request body too large (16 KiB at most)"
                                                : "request body too large (4 MiB at most)");
    int get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    int change = !strcmp(method, "POST") || !strcmp(method, "DELETE") || !strcmp(method, "PUT");
    if (!get && !change) return send_error(c, 405, "method not allowed");
    /* the login: GET /login?code=C trades a one-time code for a session cookie and sends the
     * browser to / (dropping the code from the address bar and history) */
    if (get && !strcmp(url, "/login")) {
        char session[65];
        if (code_exchange(w, MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "code"), session))
            return send_error(c, 401, "this login link is used or expired: run `clipseek web --open` again");
        return send_session(w, c, session);
    }
    if (change && !strcmp(url, "/logout")) { /* this browser's session only */
        if (!origin_ok(w, c)) return send_error(c, 403, "cross-origin request refused");
        session_end(w, MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "clipseek_session"));
        return send_session(w, c, "");
    }
    if (!authorised(w, c)) return send_error(c, 401, "not logged in: open the page with `clipseek web --open`");
    if (change && !origin_ok(w, c)) return send_error(c, 403, "cross-origin request refused");
    if (get && !strcmp(url, "/"))
        return send_buf(c, 200, "text/html; charset=utf-8", web_index_html,
                        (size_t)(web_index_html_end - web_index_html), MHD_RESPMEM_PERSISTENT, "no-store");
    if (get && !strcmp(url, "/app.js"))
        return send_buf(c, 200, "text/javascript; charset=utf-8", web_app_js, (size_t)(web_app_js_end - web_app_js),
                        MHD_RESPMEM_PERSISTENT, "no-cache");
    if (get && !strcmp(url, "/style.css"))
        return send_buf(c, 200, "text/css; charset=utf-8", web_style_css, (size_t)(web_style_css_end - web_style_css),
                        MHD_RESPMEM_PERSISTENT, "no-cache");
    if (get && !strcmp(url, "/favicon.ico"))
        return send_buf(c, 204, "image/x-icon", "", 0, MHD_RESPMEM_PERSISTENT, "max-age=86400");
    if (strncmp(url, "/api/", 5)) return send_error(c, 404, "not found");
    cs_err err;
    store *s = pool_get(w, &err);
    if (!s) return send_error(c, 503, err.msg);
    enum MHD_Result r;
    const char *p = url + 5;
    if (get && !strcmp(p, "status"))
        r = api_status(w, c, s);
    else if (get && !strcmp(p, "entries"))
        r = api_entries(w, c, s);
    else if (get && !strcmp(p, "facets"))
        r = api_facets(c, s);
    else if (!strcmp(method, "POST") && !strcmp(p, "undo"))
        r = api_undo(c, s);
    else if (!strncmp(p, "entries/", 8)) {
        const char *idp = p + 8, *slash = strchr(idp, '/');
        char ids[24];
        size_t il = slash ? (size_t)(slash - idp) : strlen(idp);
        int64_t id;
        if (il == 0 || il >= sizeof ids)
            r = send_error(c, 404, "no such entry");
        else {
            memcpy(ids, idp, il);
            ids[il] = 0;
            r = parse_i64(ids, 1, INT64_MAX, &id)
                    ? send_error(c, 404, "no such entry")
                    : api_entry(w, c, s, get ? "GET" : method, id, slash ? slash : "", rs->body, rs->len);
        }
    } else
        r = send_error(c, 404, "not found");
    pool_put(w, s);
    return r;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    (void)fmt;
    (void)ap; /* libmicrohttpd's own chatter: client errors are answered, not logged */
}

/* ---- connections: our own accept loop. MHD's limits refuse a connection by closing it, and its
 * timeout is reset by every byte, so ~70 connections sending a byte every few seconds locked the
 * page out. Here a connection over a cap is answered 503, and a request that is not complete
 * REQUEST_DEADLINE_S after it began has its socket shut down. ---- */

#define BUSY_BODY "{\"error\":\"too many connections: try again in a few seconds\"}"

typedef struct {
    int fd;
    double until;
} lingering;

/* Answers 503 and lets the socket drain for a moment before closing it: closing a socket with
 * unread request bytes sends a reset, which can destroy the answer before the client reads it. */
static void refuse(int fd, lingering *lg, int *nlg, double now) {
    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Cache-Control: no-store\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s";
    char buf[400];
    int n = snprintf(buf, sizeof buf, busy, (int)strlen(BUSY_BODY), BUSY_BODY);
    if (send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) { /* gone already: closed below */
    }
    shutdown(fd, SHUT_WR);
    if (*nlg < LINGER_MAX)
        lg[(*nlg)++] = (lingering){fd, now + 2};
    else
        close(fd);
}

/* The client's address as 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static void addr_key(const struct sockaddr_storage *ss, unsigned char ip[16]) {
    memset(ip, 0, 16);
    if (ss->ss_family == AF_INET6)
        memcpy(ip, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    else {
        ip[10] = ip[11] = 0xff;
        memcpy(ip + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    }
}

/* Returns 1 when the process is out of descriptors or memory (the pending connection stays queued,
 * so poll would report it again at once: the caller must pause), else 0. */
static int accept_one(web_server *w, int lfd, lingering *lg, int *nlg, double now) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM;
    unsigned char ip[16];
    addr_key(&ss, ip);
    pthread_mutex_lock(&w->lock);
    int total = 0, same = 0;
    web_conn *slot = NULL;
    for (int i = 0; i < CONN_MAX; i++) {
        if (!w->conns[i].used) {
            if (!slot) slot = &w->conns[i];
            continue;
        }
        total++;
        same += !memcmp(w->conns[i].ip, ip, 16);
    }
    int dup = -1;
    if (slot && same < CONN_PER_IP && total < CONN_MAX) dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        pthread_mutex_unlock(&w->lock);
        refuse(fd, lg, nlg, now);
        return 0;
    }
    *slot = (web_conn){fd, dup, {0}, now + REQUEST_DEADLINE_S, 0, 1};
    memcpy(slot->ip, ip, 16);
    pthread_mutex_unlock(&w->lock);
    if (MHD_add_connection(w->mhd, fd, (struct sockaddr *)&ss, sl) != MHD_YES) { /* MHD closed fd */
        pthread_mutex_lock(&w->lock);
        close(slot->dup);
        memset(slot, 0, sizeof *slot);
        pthread_mutex_unlock(&w->lock);
    }
    return 0;
}

static void *acceptor(void *arg) {
    web_server *w = arg;
    lingering lg[LINGER_MAX];
    int nlg = 0;
    double pause_until = 0; /* out of descriptors: leave the listeners alone until then */
    for (;;) {
        struct pollfd pf[3 + LINGER_MAX];
        int np = 0, paused = now_s() < pause_until;
        pf[np++] = (struct pollfd){w->wake[0], POLLIN, 0};
        for (int k = 0; k < 2; k++)
            pf[np++] = (struct pollfd){paused ? -1 : w->lfd[k], POLLIN, 0}; /* fd -1 is ignored */
        for (int i = 0; i < nlg; i++) pf[np++] = (struct pollfd){lg[i].fd, POLLIN, 0};
        if (poll(pf, (nfds_t)np, 250) < 0 && errno != EINTR) break;
        if (pf[0].revents) break; /* web_stop */
        double now = now_s();
        for (int i = nlg - 1; i >= 0; i--) { /* from the end: a removal moves a visited one into i */
            if (pf[3 + i].revents) {
                char b[4096];
                ssize_t k = recv(lg[i].fd, b, sizeof b, MSG_DONTWAIT);
                if ((k > 0 || (k < 0 && errno == EAGAIN)) && now < lg[i].until) continue;
            } else if (now < lg[i].until)
                continue;
            close(lg[i].fd);
            lg[i] = lg[--nlg];
        }
        pthread_mutex_lock(&w->lock);
        for (int i = 0; i < CONN_MAX; i++) {
            web_conn *k = &w->conns[i];
            if (k->used && k->deadline > 0 && now > k->deadline) {
                shutdown(k->dup, SHUT_RDWR); /* MHD sees the end and closes the connection */
                k->deadline = 0;
            }
        }
        pthread_mutex_unlock(&w->lock);
        for (int k = 0; k < 2; k++)
            if ((pf[1 + k].revents & POLLIN) && accept_one(w, w->lfd[k], lg, &nlg, now))
                pause_until = now + 0.1; /* else poll reports the queued connection again at once: a busy loop */
    }
    for (int i = 0; i < nlg; i++) close(lg[i].fd);
    return NULL;
}

/* MHD's start and close notices: a connection's slot lives from accept to its close notice, and
 * our dup of its socket with it (so a shutdown() never reaches a reused descriptor). */
static void on_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                    enum MHD_ConnectionNotificationCode code) {
    web_server *w = cls;
    pthread_mutex_lock(&w->lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = NULL;
        for (int i = 0; ci && i < CONN_MAX && !*socket_context; i++) {
            web_conn *k = &w->conns[i];
            if (k->used && !k->started && k->fd == ci->connect_fd) {
                k->started = 1;
                *socket_context = k;
            }
        }
    } else if (*socket_context) {
        web_conn *k = *socket_context;
        close(k->dup);
        memset(k, 0, sizeof *k);
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&w->lock);
}

/* A listening socket on addr (127.0.0.1 or ::1), or -1. */
static int listen_on(struct sockaddr *sa, socklen_t sl) {
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, sa, sl) != 0 || listen(fd, 128) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

web_params web_default_params(void) {
    web_params p;
    memset(&p, 0, sizeof p);
    p.port = WEB_DEFAULT_PORT;
    p.code_ttl_s = WEB_CODE_TTL_S;
    p.session_idle_s = WEB_SESSION_IDLE_S;
    p.session_max_s = WEB_SESSION_MAX_S;
    return p;
}

int web_start(const web_params *p, web_server **out, cs_err *err) {
    *out = NULL;
    web_server *w = calloc(1, sizeof *w);
    if (!w) return cs_errc(err, CS_ENOMEM, "out of memory");
    w->p = *p;
    w->lfd[0] = w->lfd[1] = w->wake[0] = w->wake[1] = -1;
    w->idle_s = p->session_idle_s > 0 ? p->session_idle_s : WEB_SESSION_IDLE_S;
    w->max_s = p->session_max_s > 0 ? p->session_max_s : WEB_SESSION_MAX_S;
    w->code_s = p->code_ttl_s > 0 ? p->code_ttl_s : WEB_CODE_TTL_S;
    w->data_dir = strdup(p->data_dir);
    w->thumbs = cs_path_join(p->data_dir, "thumbs");
    pthread_mutex_init(&w->pool_lock, NULL);
    pthread_mutex_init(&w->lock, NULL);
    if (!w->data_dir || !w->thumbs) {
        web_stop(w);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    if (web_token(p->data_dir, w->token, err)) {
        web_stop(w);
        return -1;
    }
    if (mkdir(w->thumbs, 0700) != 0 && errno != EEXIST) {
        cs_err_sys(err, errno, "%s", w->thumbs);
        web_stop(w);
        return -1;
    }
    struct sockaddr_in a4 = {0};
    a4.sin_family = AF_INET;
    a4.sin_port = htons((uint16_t)p->port);
    a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    w->lfd[0] = listen_on((struct sockaddr *)&a4, sizeof a4);
    if (w->lfd[0] < 0) {
        web_stop(w);
        return cs_err_set(err, "web: cannot listen on 127.0.0.1:%d (in use? set web_port in the config)", p->port);
    }
    socklen_t sl = sizeof a4;
    getsockname(w->lfd[0], (struct sockaddr *)&a4, &sl);
    w->port = ntohs(a4.sin_port);
    struct sockaddr_in6 a6 = {0};
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons((uint16_t)w->port);
    a6.sin6_addr = in6addr_loopback;
    w->lfd[1] = listen_on((struct sockaddr *)&a6, sizeof a6); /* no IPv6: 127.0.0.1 serves alone */
    const char *names[3] = {"127.0.0.1", "localhost", "[::1]"};
    for (int i = 0; i < 3; i++) {
        snprintf(w->hosts[i], sizeof w->hosts[i], "%s:%d", names[i], w->port);
        snprintf(w->origins[i], sizeof w->origins[i], "http://%s:%d", names[i], w->port);
    }
    /* MHD gets connections from our acceptor (MHD_add_connection); its own connection limit is
     * above ours so that ours, which answers, is the one that applies */
    w->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC | MHD_USE_IPv6, 0,
        NULL, NULL, handle, w, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)4, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(CONN_MAX + 16), MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)15, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(64 * 1024), MHD_OPTION_NOTIFY_COMPLETED, on_done, w, MHD_OPTION_NOTIFY_CONNECTION, on_conn, w,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!w->mhd || pipe2(w->wake, O_CLOEXEC) != 0) {
        web_stop(w);
        return cs_err_set(err, "web: cannot start the HTTP server");
    }
    if (pthread_create(&w->acceptor, NULL, acceptor, w) != 0) {
        web_stop(w);
        return cs_err_set(err, "web: cannot start a thread");
    }
    w->have_acceptor = 1;
    *out = w;
    return 0;
}

void web_stop(web_server *w) {
    if (!w) return;
    if (w->have_acceptor) {
        if (write(w->wake[1], "x", 1) != 1) { /* a pipe with room: cannot fail */
        }
        pthread_join(w->acceptor, NULL);
    }
    if (w->mhd) MHD_stop_daemon(w->mhd); /* closes its connections: their close notices free the slots */
    for (int i = 0; i < CONN_MAX; i++)
        if (w->conns[i].used) close(w->conns[i].dup); /* added, never started */
    for (int i = 0; i < 2; i++) {
        if (w->lfd[i] >= 0) close(w->lfd[i]);
        if (w->wake[i] >= 0) close(w->wake[i]);
    }
    for (int i = 0; i < w->npool; i++) store_close(w->pool[i]);
    pthread_mutex_destroy(&w->pool_lock);
    pthread_mutex_destroy(&w->lock);
    free(w->data_dir);
    free(w->thumbs);
    free(w);
}

int web_port(const web_server *w) { return w->port; }

char *web_login_url(web_server *w) {
    char code[65];
    cs_err err;
    if (random_hex(code, &err)) return NULL;
    pthread_mutex_lock(&w->lock);
    double now = now_s();
    expire_locked(w, now);
    web_secret *x = slot_locked(w->codes, CODES_MAX);
    memcpy(x->v, code, sizeof x->v);
    x->created = x->used = now;
    pthread_mutex_unlock(&w->lock);
    char *u = malloc(160);
    if (u) snprintf(u, 160, "http://127.0.0.1:%d/login?code=%s", w->port, code);
    return u;
}

int web_logout_all(web_server *w) {
    int n = 0;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < SESSIONS_MAX; i++) n += w->sessions[i].v[0] != 0;
    memset(w->sessions, 0, sizeof w->sessions);
    memset(w->codes, 0, sizeof w->codes);
    pthread_mutex_unlock(&w->lock);
    return n;
}
