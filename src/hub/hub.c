/* hub: see hub.h. The network side: requests with hand-followed redirects, resolving which files a
 * model needs, downloading them into the cache (hub_cache.c has the layout). */
#include "hub.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cs_file.h"
#include "hub_int.h"

#define MAX_REDIRECTS 5
#define MAX_API_BYTES (16u << 20)
/* transformers' safetensors_conversion.py: the hub's conversion bot opens pull requests as this user */
#define CONVERSION_BOT "SFconvertbot"

/* What one HTTP response said (headers the hub documents; see tests/hf_server.py). */
typedef struct hdrs {
    long status;
    char etag[160], linked[160], commit[64], errcode[64], errmsg[256];
    unsigned long long linked_size, length; /* X-Linked-Size, Content-Length */
} hdrs;

typedef struct membuf {
    char *d;
    size_t n;
} membuf;

typedef struct conn {
    CURL *c;
    const char *ep; /* endpoint without a trailing '/' */
    size_t eplen;
    const char *repo;
    struct curl_slist *auth; /* "Authorization: Bearer ..." or NULL */
    int has_token;
    hub_progress_fn progress;
    void *parg;
    /* per request */
    hdrs cur;
    FILE *f;
    membuf *mb;
    int overflow;
    CURLcode cc; /* the last request's curl result */
    long resume;
    unsigned long long got; /* bytes written to f by this request */
    const char *pname;
    unsigned long long total;
} conn;

static void unquote(char *dst, size_t n, const char *v) {
    if (v[0] == 'W' && v[1] == '/') v += 2; /* a weak validator carries the same hash */
    if (*v == '"') v++;
    snprintf(dst, n, "%s", v);
    size_t l = strlen(dst);
    if (l && dst[l - 1] == '"') dst[l - 1] = 0;
}

static size_t on_header(char *b, size_t sz, size_t nm, void *arg) {
    conn *k = arg;
    size_t len = sz * nm;
    char line[1024];
    size_t m = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, b, m);
    line[m] = 0;
    if (!strncmp(line, "HTTP/", 5)) { /* a new response: forget the previous one's headers */
        memset(&k->cur, 0, sizeof k->cur);
        const char *sp = strchr(line, ' ');
        k->cur.status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return len;
    }
    char *colon = strchr(line, ':');
    if (!colon) return len;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    char *e = v + strlen(v);
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) *--e = 0;
    for (char *c = line; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!strcmp(line, "etag"))
        unquote(k->cur.etag, sizeof k->cur.etag, v);
    else if (!strcmp(line, "x-linked-etag"))
        unquote(k->cur.linked, sizeof k->cur.linked, v);
    else if (!strcmp(line, "x-repo-commit"))
        snprintf(k->cur.commit, sizeof k->cur.commit, "%s", v);
    else if (!strcmp(line, "x-error-code"))
        snprintf(k->cur.errcode, sizeof k->cur.errcode, "%s", v);
    else if (!strcmp(line, "x-error-message"))
        snprintf(k->cur.errmsg, sizeof k->cur.errmsg, "%s", v);
    else if (!strcmp(line, "x-linked-size"))
        k->cur.linked_size = strtoull(v, NULL, 10);
    else if (!strcmp(line, "content-length"))
        k->cur.length = strtoull(v, NULL, 10);
    return len;
}

static size_t on_data(char *b, size_t sz, size_t nm, void *arg) {
    conn *k = arg;
    size_t len = sz * nm;
    long st = k->cur.status;
    if (st < 200 || st >= 300) return len; /* a redirect's or an error's body: not the file */
    if (k->f) {
        /* never more on disk than the hub said the file has: a CDN or mirror that sends more
         * (by mistake or to fill the disk) is cut off here, not after the whole answer */
        if (k->total && (unsigned long long)k->resume + k->got + len > k->total) {
            k->overflow = 1;
            return 0;
        }
        k->got += len;
        return fwrite(b, 1, len, k->f);
    }
    if (k->mb) {
        if (k->mb->n + len > MAX_API_BYTES) {
            k->overflow = 1;
            return 0;
        }
        char *nd = realloc(k->mb->d, k->mb->n + len + 1);
        if (!nd) return 0;
        memcpy(nd + k->mb->n, b, len);
        k->mb->d = nd;
        k->mb->n += len;
        nd[k->mb->n] = 0;
    }
    return len;
}

static int on_progress(void *arg, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un) {
    (void)ut;
    (void)un;
    conn *k = arg;
    if (k->progress && k->pname && k->cur.status >= 200 && k->cur.status < 300) {
        unsigned long long t = k->total ? k->total : total > 0 ? (unsigned long long)(total + k->resume) : 0;
        k->progress(k->parg, k->pname, (unsigned long long)(now + k->resume), t);
    }
    return 0;
}

/* 1 if url is on the endpoint's own scheme, host and port (where the token may go). */
static int same_origin(const conn *k, const char *url) {
    const char *a = strstr(k->ep, "://"), *b = strstr(url, "://");
    if (!a || !b) return 0;
    size_t la = strcspn(a + 3, "/?#") + (size_t)(a + 3 - k->ep), lb = strcspn(b + 3, "/?#") + (size_t)(b + 3 - url);
    return la == lb && !strncasecmp(k->ep, url, la);
}

/* One request, following up to MAX_REDIRECTS redirects by hand so that the token is only sent to
 * the endpoint's origin. HEAD (head=1) stops at a redirect to another origin: the hub's own
 * answer carries the metadata (X-Linked-Etag, X-Repo-Commit), the CDN's does not. *first gets the
 * first response's headers (the hub's), *last the final one's. Returns 0 when a response came (any
 * status), -1 on a transport failure (err set). */
static int request(conn *k, const char *url0, int head, hdrs *first, hdrs *last, cs_err *err) {
    char *url = strdup(url0);
    if (!url) return cs_errc(err, CS_ENOMEM, "out of memory");
    int rc = 0;
    for (int hop = 0;; hop++) {
        CURL *c = k->c;
        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, k);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, k);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "clipseek");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled server: give up after 60 s */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        if (k->auth && same_origin(k, url)) curl_easy_setopt(c, CURLOPT_HTTPHEADER, k->auth);
        if (k->f && k->resume > 0 && !head) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)k->resume);
        memset(&k->cur, 0, sizeof k->cur);
        k->got = 0;
        CURLcode cc = k->cc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        k->cur.status = status;
        if (hop == 0 && first) *first = k->cur;
        if (cc != CURLE_OK) {
            rc = cs_err_set(err, "%s: %s", url, k->overflow ? "answer too large" : curl_easy_strerror(cc));
            break;
        }
        char *loc = NULL;
        if (status >= 300 && status < 400) curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
        if (!loc) break;
        if (head && !same_origin(k, loc)) break;
        if (hop == MAX_REDIRECTS) {
            rc = cs_err_set(err, "%s: too many redirects", url0);
            break;
        }
        char *next = strdup(loc);
        if (!next) {
            rc = cs_errc(err, CS_ENOMEM, "out of memory");
            break;
        }
        free(url);
        url = next;
    }
    if (last) *last = k->cur;
    free(url);
    return rc;
}

/* Percent-encodes s for a URL path: a revision is one segment (refs/pr/66 -> refs%2Fpr%2F66, as
 * huggingface_hub quotes it with safe=""), a file name keeps its '/' (1_Pooling/config.json, as
 * hf_hub_url quotes it with quote's default safe="/"). */
static void quote_safe(char *dst, size_t n, const char *s, const char *safe) {
    size_t at = 0;
    for (; *s && at + 4 < n; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || strchr("-._~", ch) || (ch && strchr(safe, ch)))
            dst[at++] = (char)ch;
        else
            at += (size_t)snprintf(dst + at, n - at, "%%%02X", ch);
    }
    dst[at] = 0;
}

static void quote(char *dst, size_t n, const char *s) { quote_safe(dst, n, s, ""); }

/* Turns a hub error answer into a message that says what to do. Returns -1. */
static int http_error(const conn *k, const hdrs *h, const char *rev, const char *file, cs_err *err) {
    const char *code = h->errcode;
    if (!strcmp(code, "GatedRepo")) {
        if (h->status == 403 || k->has_token)
            return cs_err_set(err,
                              "%s is a gated repository and the token in use has no access to it: open %.*s/%s while "
                              "logged in with the token's account and accept its conditions (HTTP %ld)",
                              k->repo, (int)k->eplen, k->ep, k->repo, h->status);
        return cs_err_set(err,
                          "%s is a gated repository: open %.*s/%s, log in and accept its conditions, then set HF_TOKEN "
                          "to an access token of that account (or save it with `huggingface-cli login`) (HTTP %ld)",
                          k->repo, (int)k->eplen, k->ep, k->repo, h->status);
    }
    if (!strcmp(code, "RepoNotFound") || (h->status == 401 && !code[0] && !k->has_token))
        return cs_err_set(err, "%s: repository not found on %.*s (HTTP %ld; a private repository needs HF_TOKEN)",
                          k->repo, (int)k->eplen, k->ep, h->status);
    if (h->status == 401)
        return cs_err_set(err, "%.*s refused the token (HF_TOKEN or the token file): %s (HTTP 401)", (int)k->eplen,
                          k->ep, h->errmsg[0] ? h->errmsg : "invalid credentials");
    if (!strcmp(code, "RevisionNotFound"))
        return cs_err_set(err, "%s: revision '%s' not found (HTTP %ld)", k->repo, rev, h->status);
    if (h->status == 404)
        return cs_err_set(err, "%s: %s not found at revision %s (HTTP 404)", k->repo, file ? file : "page", rev);
    return cs_err_set(err, "%s: %s: HTTP %ld%s%s", k->repo, file ? file : rev, h->status, h->errmsg[0] ? ": " : "",
                      h->errmsg);
}

/* GET {ep}/api/models/{repo}{suffix} into a JSON value. Returns 0 (*out set), 1 when the endpoint
 * has no such API (a plain 404 or a non-JSON answer: a mirror), -1 on an error the hub stated
 * (err set). */
static int api_get(conn *k, const char *suffix, const char *rev, json_t **out, cs_err *err) {
    char url[4096];
    snprintf(url, sizeof url, "%.*s/api/models/%s%s", (int)k->eplen, k->ep, k->repo, suffix);
    membuf mb = {0};
    k->mb = &mb;
    k->overflow = 0;
    hdrs h;
    int rc = request(k, url, 0, NULL, &h, err);
    k->mb = NULL;
    *out = NULL;
    if (rc) {
        free(mb.d);
        return -1;
    }
    if (h.status == 200 && mb.d) {
        *out = json_loadb(mb.d, mb.n, 0, NULL);
        free(mb.d);
        return *out ? 0 : 1;
    }
    free(mb.d);
    if (h.errcode[0] || h.status == 401 || h.status == 403) return http_error(k, &h, rev, NULL, err);
    return 1;
}

/* Reads "sha" and the "siblings" file names of a revision listing. Returns 0 or 1 (not a listing). */
static int parse_listing(json_t *j, char *commit, json_t **siblings) {
    const char *sha = json_string_value(json_object_get(j, "sha"));
    json_t *sib = json_object_get(j, "siblings");
    if (!sha || !hub_is_hex(sha, 40) || !json_is_array(sib)) return 1;
    memcpy(commit, sha, 41);
    *siblings = sib;
    return 0;
}

static int listed(json_t *siblings, const char *name) {
    size_t i;
    json_t *s;
    json_array_foreach(siblings, i, s) {
        const char *f = json_string_value(json_object_get(s, "rfilename"));
        if (f && !strcmp(f, name)) return 1;
    }
    return 0;
}

/* The number of the open conversion pull request (transformers' safetensors_conversion.py looks
 * for an open pull request by the conversion bot), or 0 if none (or no discussions API, or the
 * hub refused to list them). */
static int conversion_pr(conn *k, cs_err *err) {
    json_t *j;
    int r = api_get(k, "/discussions", "main", &j, err);
    if (r) return 0; /* like transformers: no discussions (disabled, or an error) means no pull request */
    json_t *list = json_object_get(j, "discussions"), *d;
    size_t i;
    int num = 0;
    json_array_foreach(list, i, d) {
        const char *author = json_string_value(json_object_get(json_object_get(d, "author"), "name"));
        const char *status = json_string_value(json_object_get(d, "status"));
        if (author && !strcmp(author, CONVERSION_BOT) && status && !strcmp(status, "open") &&
            json_is_true(json_object_get(d, "isPullRequest")) && json_is_integer(json_object_get(d, "num"))) {
            int n = (int)json_integer_value(json_object_get(d, "num"));
            if (n > num) num = n; /* the newest one */
        }
    }
    json_decref(j);
    return num;
}

/* Checks path against the hub's checksum: SHA-256 (64 hex, Git LFS) or git blob SHA-1 (40 hex).
 * Returns 0 ok or nothing to check against, -1 mismatch or unreadable (what says why). */
static int verify(const char *path, const char *want, char *what, size_t wn) {
    int sha1 = hub_is_hex(want, 40);
    if (!sha1 && !hub_is_hex(want, 64)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(what, wn, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        snprintf(what, wn, "%s", strerror(errno));
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, sha1 ? EVP_sha1() : EVP_sha256(), NULL);
    if (sha1) { /* git hashes "blob <size>\0" + content */
        char hdr[64];
        int hl = snprintf(hdr, sizeof hdr, "blob %lld", (long long)st.st_size);
        EVP_DigestUpdate(ctx, hdr, (size_t)hl + 1);
    }
    unsigned char buf[1 << 16];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(ctx, buf, r);
    fclose(f);
    unsigned char md[64];
    unsigned int ml = 0;
    EVP_DigestFinal_ex(ctx, md, &ml);
    EVP_MD_CTX_free(ctx);
    char hex[129];
    for (unsigned i = 0; i < ml; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(what, wn, "%s %s, expected %s", sha1 ? "git SHA-1" : "SHA-256", hex, want);
    return strcasecmp(hex, want) == 0 ? 0 : -1;
}

static int fsync_path(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static int download(conn *k, const char *url, const hdrs *hp, const char *rev, const char *name, const char *etag,
                    const char *blobs, const char *blob, const char *part, cs_err *err);

/* Downloads one file of rev into the cache and links it into the snapshot of its commit. commit
 * is in/out: empty until the first answer names it (X-Repo-Commit); then every file must come
 * from that commit. Returns 0, 1 if the hub says the file does not exist, -1 (err set). */
static int get_file(conn *k, const char *rdir, const char *rev, const char *name, char *commit, cs_err *err) {
    char qrev[512], qname[1024], url[4096];
    quote(qrev, sizeof qrev, commit[0] ? commit : rev);
    quote_safe(qname, sizeof qname, name, "/");
    snprintf(url, sizeof url, "%.*s/%s/resolve/%s/%s", (int)k->eplen, k->ep, k->repo, qrev, qname);
    /* HEAD follows same-origin redirects (the hub sends small files through a relative 307 to
     * /api/resolve-cache/...) and stops at the CDN's: the last answer has the metadata, as in
     * huggingface_hub's get_hf_file_metadata; X-Repo-Commit may sit on the first one only */
    hdrs h, h0;
    if (request(k, url, 1, &h0, &h, err)) return -1;
    if (!h.commit[0]) snprintf(h.commit, sizeof h.commit, "%s", h0.commit);
    if (h.status == 404 && (!strcmp(h.errcode, "EntryNotFound") || !h.errcode[0])) return 1;
    if (h.status >= 400 || h.status < 200) return http_error(k, &h, rev, name, err);
    /* the size the download is held to: X-Linked-Size for an LFS file, else (a small file, whose
     * HEAD ends in a 200) its Content-Length, as huggingface_hub's get_hf_file_metadata reads it */
    if (!h.linked_size && h.status == 200) h.linked_size = h.length;
    char etag[160];
    snprintf(etag, sizeof etag, "%s", h.linked[0] ? h.linked : h.etag);
    for (const char *c = etag; *c; c++) /* it names a file in blobs/: hex and letters only */
        if (!isalnum((unsigned char)*c) && *c != '-') {
            etag[0] = 0;
            break;
        }
    if (!etag[0])
        return cs_err_set(err, "%s: no usable ETag in the answer (%.*s does not look like a Hugging Face hub)", url,
                          (int)k->eplen, k->ep);
    if (!commit[0]) {
        if (hub_is_hex(h.commit, 40))
            memcpy(commit, h.commit, 41);
        else if (hub_is_hex(rev, 40))
            memcpy(commit, rev, 41);
        else
            return cs_err_set(err, "%s: no X-Repo-Commit in the answer (%.*s does not look like a Hugging Face hub)",
                              url, (int)k->eplen, k->ep);
    } else if (h.commit[0] && strcasecmp(h.commit, commit))
        return cs_err_set(err, "%s: answered from commit %s, expected %s", url, h.commit, commit);
    char blobs[PATH_MAX], blob[PATH_MAX + 200], part[PATH_MAX + 220];
    snprintf(blobs, sizeof blobs, "%s/blobs", rdir);
    if (hub_mkdirs(blobs, err)) return -1;
    snprintf(blob, sizeof blob, "%s/%s", blobs, etag);
    snprintf(part, sizeof part, "%s.incomplete", blob);
    /* one writer per blob: <cache>/.locks/models--org--name/<etag>.lock, flock'd, the lock file
     * huggingface_hub's filelock takes too, so a Python download of the same file waits for us */
    char locks[PATH_MAX + 16], lockp[PATH_MAX + 220];
    const char *base = strrchr(rdir, '/');
    snprintf(locks, sizeof locks, "%.*s/.locks/%s", (int)(base - rdir), rdir, base + 1);
    if (hub_mkdirs(locks, err)) return -1;
    snprintf(lockp, sizeof lockp, "%s/%s.lock", locks, etag);
    int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0) return cs_err_sys(err, errno, "%s", lockp);
    if (flock(lfd, LOCK_EX) != 0) {
        int e = errno;
        close(lfd);
        return cs_err_sys(err, e, "%s", lockp);
    }
    int rc = download(k, url, &h, rev, name, etag, blobs, blob, part, err);
    close(lfd); /* releases the lock */
    if (rc) return -1;
    return hub_link_snapshot(rdir, commit, name, etag, err);
}

/* Downloads url into part (resuming it), verifies it against etag and renames it to blob, unless
 * blob exists already. h is the hub's HEAD answer. Called with the blob's lock held. */
static int download(conn *k, const char *url, const hdrs *hp, const char *rev, const char *name, const char *etag,
                    const char *blobs, const char *blob, const char *part, cs_err *err) {
    hdrs h = *hp;
    if (!cs_is_file(blob)) { /* the same bytes under another revision are not fetched twice */
        struct stat st;
        long have = stat(part, &st) == 0 ? (long)st.st_size : 0;
        int fd = open(part, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        FILE *f = fd >= 0 ? fdopen(fd, "ab") : NULL;
        if (!f) {
            if (fd >= 0) close(fd);
            return cs_err_sys(err, errno, "%s", part);
        }
        k->f = f;
        k->resume = have;
        k->pname = name;
        k->total = h.linked_size;
        k->overflow = 0;
        hdrs last;
        int rc = request(k, url, 0, NULL, &last, err);
        if (rc && k->cc == CURLE_RANGE_ERROR && have > 0) {
            /* the server ignores Range and answers 200 with the whole file, which curl refuses
             * when resuming: start over from byte 0 (else every later fetch would fail the same way) */
            if (fflush(f) == 0 && ftruncate(fileno(f), 0) == 0) {
                k->resume = have = 0;
                rc = request(k, url, 0, NULL, &last, err);
            }
        }
        k->f = NULL;
        k->pname = NULL;
        int wok = fflush(f) == 0 && fsync(fileno(f)) == 0;
        fclose(f);
        long got = stat(part, &st) == 0 ? (long)st.st_size : 0;
        if (rc && k->overflow) {
            unlink(part);
            return cs_err_set(err,
                              "%s: the server sent more than the %llu bytes the hub's HEAD answer said; the "
                              "download was deleted",
                              name, h.linked_size);
        }
        if (rc)
            return cs_err_prefix(err, "%s: the %ld bytes so far are kept in %s; fetch again to resume", name, got,
                                 part);
        if (last.status == 416 && have > 0 && h.linked_size && (unsigned long long)have == h.linked_size)
            last.status = 206; /* it was complete already: the checksum decides */
        if (last.status != 200 && last.status != 206) {
            if (last.status == 416) unlink(part); /* the server says the partial file is longer than the file */
            return http_error(k, &last, rev, name, err);
        }
        if (!wok) return cs_err_sys(err, errno, "%s", part);
        char what[400];
        if (h.linked_size && (unsigned long long)got != h.linked_size) {
            unlink(part);
            return cs_err_set(err, "%s: %ld bytes, the hub said %llu; the download was deleted", name, got,
                              h.linked_size);
        }
        if (verify(part, etag, what, sizeof what)) {
            unlink(part);
            return cs_err_set(err, "%s: checksum mismatch (%s); the download was deleted", name, what);
        }
        if (rename(part, blob) != 0) return cs_err_sys(err, errno, "%s", blob);
        fsync_path(blobs);
    }
    return 0;
}

/* Gets a required file; a 404 becomes an error. */
static int need_file(conn *k, const char *rdir, const char *rev, const char *name, char *commit, cs_err *err) {
    int r = get_file(k, rdir, rev, name, commit, err);
    if (r == 1) return cs_err_set(err, "%s: %s not found at revision %s (HTTP 404)", k->repo, name, rev);
    return r;
}

/* Downloads the shards an index file names (the index is in the snapshot already). */
static int get_shards(conn *k, const char *rdir, const char *rev, const char *index, char *commit, cs_err *err) {
    char p[PATH_MAX + 200];
    snprintf(p, sizeof p, "%s/snapshots/%s/%s", rdir, commit, index);
    char **names;
    if (hub_index_shards(p, &names, err)) return -1;
    int rc = 0;
    for (size_t i = 0; names[i] && !rc; i++) rc = need_file(k, rdir, rev, names[i], commit, err);
    hub_free_names(names);
    return rc;
}

static int read_token(const hub_params *p, char *tok, size_t n) {
    const char *v = p->token ? p->token : getenv("HF_TOKEN");
    tok[0] = 0;
    if (v && *v)
        snprintf(tok, n, "%s", v);
    else {
        char path[PATH_MAX];
        const char *tp = getenv("HF_TOKEN_PATH"), *home = getenv("HF_HOME"), *xdg = getenv("XDG_CACHE_HOME"),
                   *h = getenv("HOME");
        if (tp && *tp)
            snprintf(path, sizeof path, "%s", tp);
        else if (home && *home)
            snprintf(path, sizeof path, "%s/token", home);
        else if (xdg && *xdg)
            snprintf(path, sizeof path, "%s/huggingface/token", xdg);
        else if (h && *h)
            snprintf(path, sizeof path, "%s/.cache/huggingface/token", h);
        else
            return 0;
        char *txt;
        size_t len;
        if (cs_read_file(path, 4096, &txt, &len, NULL)) return 0;
        snprintf(tok, n, "%s", txt);
        free(txt);
    }
    tok[strcspn(tok, "\r\n \t")] = 0; /* the file ends with a newline */
    return tok[0] != 0;
}

/* What sentence-transformers reads from a module folder (its Transformer, Pooling, Dense): the
 * weights last, model.safetensors before pytorch_model.bin (as its load_file_path tries them). */
static const char *const module_files[] = {"config.json",
                                           "vocab.txt",
                                           "tokenizer.json",
                                           "tokenizer_config.json",
                                           "special_tokens_map.json",
                                           "sentence_bert_config.json",
                                           "model.safetensors",
                                           "pytorch_model.bin"};
#define N_MODULE_FILES (sizeof module_files / sizeof *module_files)

/* Downloads the files of each module folder that the snapshot's modules.json names: the listed
 * ones (sib), else probed (a mirror without the API). */
static int get_modules(conn *k, const char *rdir, const char *rev, char *commit, json_t *sib, cs_err *err) {
    char mj[PATH_MAX + 128], **dirs, *kinds;
    snprintf(mj, sizeof mj, "%s/snapshots/%s/modules.json", rdir, commit);
    if (hub_module_dirs(mj, &dirs, &kinds, err)) return -1;
    int rc = 0;
    for (size_t i = 0; dirs[i] && !rc; i++) {
        int have_st = 0;
        for (size_t f = 0; f < N_MODULE_FILES && !rc; f++) {
            char name[512];
            snprintf(name, sizeof name, "%s/%s", dirs[i], module_files[f]);
            int is_bin = !strcmp(module_files[f], "pytorch_model.bin");
            if (is_bin && have_st) continue; /* the safetensors copy is enough */
            int g;
            if (sib)
                g = listed(sib, name) ? need_file(k, rdir, rev, name, commit, err) : 1;
            else
                g = get_file(k, rdir, rev, name, commit, err);
            if (g < 0) rc = -1;
            if (g == 0 && !strcmp(module_files[f], "model.safetensors")) have_st = 1;
        }
    }
    hub_free_names(dirs);
    free(kinds);
    return rc;
}

/* 1 if every file of layout l is in the listing. */
static int layout_listed(json_t *sib, const hub_layout *l) {
    for (int i = 0; i < l->n; i++)
        if (!listed(sib, l->files[i])) return 0;
    return 1;
}

/* The error for a revision that holds none of the layouts: what each one needs. */
static int no_layout(conn *k, const hub_layout *ls, int nl, const char *rev, cs_err *err) {
    char what[1024];
    size_t at = 0;
    for (int i = 0; i < nl && at < sizeof what; i++) {
        at += (size_t)snprintf(what + at, sizeof what - at, "%sa %s model needs", i ? "; " : "", ls[i].name);
        for (int f = 0; f < ls[i].n && at < sizeof what; f++)
            at += (size_t)snprintf(what + at, sizeof what - at, "%s %s", f ? "," : "", ls[i].files[f]);
    }
    return cs_errc(err, CS_EUNSUPPORTED, "%s: revision %s is not a model repository this program can use (%s)", k->repo,
                   rev, what);
}

/* Resolves and downloads; the cache and offline checks are done by the caller. */
static int fetch_online(conn *k, const char *rdir, const hub_layout *ls, int nl, const char *rev0, hub_model *out,
                        int *which, cs_err *err) {
    char rev[256], commit[41] = "", qrev[512];
    snprintf(rev, sizeof rev, "%s", rev0);
    quote(qrev, sizeof qrev, rev);
    char suffix[700];
    snprintf(suffix, sizeof suffix, "/revision/%s", qrev);
    json_t *j = NULL, *sib = NULL, *prj = NULL;
    int r = api_get(k, suffix, rev, &j, err);
    if (r < 0) return -1;
    int fmt = -1, li = -1, listing = r == 0 && parse_listing(j, commit, &sib) == 0;
    if (listing) {
        for (int i = 0; i < nl && li < 0; i++)
            if (layout_listed(sib, &ls[i])) li = i;
        if (li < 0) {
            json_decref(j);
            if (nl > 1) return no_layout(k, ls, nl, rev, err);
            for (int i = 0; i < ls[0].n; i++)
                if (!listed(sib, ls[0].files[i]))
                    return cs_err_set(err, "%s: %s is not in revision %s (is it a %s model repository?)", k->repo,
                                      ls[0].files[i], rev, ls[0].name);
        }
        for (int f = 0; f < HUB_FMT_COUNT && fmt < 0; f++) {
            if (f == HUB_FMT_BIN) { /* no safetensors: the conversion pull request comes before the .bin */
                int pr = conversion_pr(k, err);
                char prrev[64], prs[128], prcommit[41];
                json_t *prsib;
                snprintf(prrev, sizeof prrev, "refs/pr/%d", pr);
                snprintf(prs, sizeof prs, "/revision/refs%%2Fpr%%2F%d", pr);
                if (pr > 0 && api_get(k, prs, prrev, &prj, err) == 0 && parse_listing(prj, prcommit, &prsib) == 0 &&
                    (listed(prsib, hub_fmt_file[HUB_FMT_ST]) || listed(prsib, hub_fmt_file[HUB_FMT_ST_SHARDED]))) {
                    snprintf(rev, sizeof rev, "%s", prrev);
                    memcpy(commit, prcommit, 41);
                    sib = prsib; /* every file then comes from the pull request: one consistent commit */
                    fmt = listed(sib, hub_fmt_file[HUB_FMT_ST]) ? HUB_FMT_ST : HUB_FMT_ST_SHARDED;
                    break;
                }
            }
            if (listed(sib, hub_fmt_file[f])) fmt = f;
        }
        if (fmt < 0) {
            json_decref(j);
            json_decref(prj);
            return cs_err_set(err,
                              "%s: no weights at revision %s (none of model.safetensors, "
                              "model.safetensors.index.json, pytorch_model.bin, pytorch_model.bin.index.json)",
                              k->repo, rev);
        }
    }
    int rc = 0;
    if (!listing) { /* no API: the first layout whose files all exist (a file of two layouts is fetched once) */
        const char *miss = NULL;
        for (int i = 0; i < nl && li < 0 && !rc; i++) {
            int g = 0;
            for (int f = 0; f < ls[i].n && g == 0; f++) {
                g = get_file(k, rdir, rev, ls[i].files[f], commit, err);
                if (g == 1 && !miss) miss = ls[i].files[f];
            }
            if (g < 0) rc = -1;
            if (g == 0) li = i;
        }
        if (!rc && li < 0)
            rc = nl > 1 ? no_layout(k, ls, nl, rev, err)
                        : cs_err_set(err, "%s: %s not found at revision %s (HTTP 404)", k->repo, miss, rev);
    }
    const hub_layout *l = li >= 0 ? &ls[li] : NULL;
    for (int i = 0; l && i < l->n && !rc; i++) rc = need_file(k, rdir, rev, l->files[i], commit, err);
    for (int i = 0; l && i < l->nopt && !rc; i++)
        if (!listing || listed(sib, l->optional[i]))
            rc = get_file(k, rdir, rev, l->optional[i], commit, err) < 0 ? -1 : 0;
    if (!rc && listing) {
        rc = need_file(k, rdir, rev, hub_fmt_file[fmt], commit, err);
        if (!rc && (fmt == HUB_FMT_ST_SHARDED || fmt == HUB_FMT_BIN_SHARDED))
            rc = get_shards(k, rdir, rev, hub_fmt_file[fmt], commit, err);
    } else if (!rc) { /* no API: probe in transformers' order (the discussions API is gone too) */
        for (int f = 0; f < HUB_FMT_COUNT && fmt < 0 && !rc; f++) {
            int g = get_file(k, rdir, rev, hub_fmt_file[f], commit, err);
            if (g < 0)
                rc = -1;
            else if (g == 0)
                fmt = f;
        }
        if (!rc && fmt < 0)
            rc = cs_err_set(err,
                            "%s: no weights at revision %s (none of model.safetensors, model.safetensors.index.json, "
                            "pytorch_model.bin, pytorch_model.bin.index.json)",
                            k->repo, rev);
        if (!rc && (fmt == HUB_FMT_ST_SHARDED || fmt == HUB_FMT_BIN_SHARDED))
            rc = get_shards(k, rdir, rev, hub_fmt_file[fmt], commit, err);
    }
    if (!rc && l && l->modules) rc = get_modules(k, rdir, rev, commit, listing ? sib : NULL, err);
    json_decref(j);
    json_decref(prj);
    /* the ref last: it only ever names a snapshot whose files are all there */
    if (!rc && !hub_is_hex(rev, 40)) rc = hub_write_ref(rdir, rev, commit, err);
    if (rc) return -1;
    snprintf(out->repo, sizeof out->repo, "%s", k->repo);
    snprintf(out->revision, sizeof out->revision, "%s", rev);
    snprintf(out->commit, sizeof out->commit, "%s", commit);
    snprintf(out->format, sizeof out->format, "%s", hub_fmt_name[fmt]);
    snprintf(out->dir, sizeof out->dir, "%s/snapshots/%s", rdir, commit);
    out->from_cache = 0;
    if (which) *which = li;
    return 0;
}

int hub_fetch_any(const char *repo, const hub_layout *ls, int nl, const hub_params *p0, hub_model *out, int *which,
                  cs_err *err) {
    hub_params p = p0 ? *p0 : hub_default_params();
    char rdir[PATH_MAX];
    if (hub_repo_dir(&p, repo, rdir, sizeof rdir, err)) return -1;
    if (nl < 1) return cs_errc(err, CS_EINVAL, "hub_fetch_any: no layout");
    for (int i = 0; i < nl; i++) {
        int r = hub_cache_lookup_layout(repo, &ls[i], &p, out, err);
        if (r < 0) return -1;
        if (r == 0) {
            if (which) *which = i;
            return 0;
        }
    }
    const char *rev = p.revision ? p.revision : "main";
    if (p.offline)
        return cs_err_set(err, "%s (revision %s) is not in the Hugging Face cache %s, and HF_HUB_OFFLINE is set", repo,
                          rev, rdir);
    const char *ep = p.endpoint ? p.endpoint : getenv("HF_ENDPOINT");
    if (!ep || !*ep) ep = "https://huggingface.co";
    conn k = {0};
    k.ep = ep;
    k.eplen = strlen(ep);
    while (k.eplen && ep[k.eplen - 1] == '/') k.eplen--;
    k.repo = repo;
    k.progress = p.progress;
    k.parg = p.progress_arg;
    char tok[1024], hdr[1100];
    if (read_token(&p, tok, sizeof tok)) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", tok);
        k.auth = curl_slist_append(NULL, hdr);
        k.has_token = 1;
        memset(hdr, 0, sizeof hdr);
    }
    memset(tok, 0, sizeof tok);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    k.c = curl_easy_init();
    int rc = k.c ? fetch_online(&k, rdir, ls, nl, rev, out, which, err) : cs_err_set(err, "curl: cannot start");
    if (k.c) curl_easy_cleanup(k.c);
    curl_slist_free_all(k.auth);
    curl_global_cleanup();
    return rc;
}

int hub_fetch(const char *repo, const char *const *files, int n, const char *const *optional, int nopt,
              const hub_params *p, hub_model *out, cs_err *err) {
    hub_layout l = {"CLIP", files, n, optional, nopt, 0};
    return hub_fetch_any(repo, &l, 1, p, out, NULL, err);
}
