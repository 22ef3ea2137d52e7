/* fetch: see fetch.h. */
#include "fetch.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cs_file.h"
#include "clip.h"

typedef struct dl {
    FILE *f;
    char etag[128], linked[128];
    long status;
    int progress;
    const char *name;
    curl_off_t resumed;
} dl;

static size_t on_header(char *b, size_t sz, size_t n, void *arg) {
    dl *d = arg;
    size_t len = sz * n;
    char line[512];
    size_t k = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, b, k);
    line[k] = 0;
    if (!strncmp(line, "HTTP/", 5)) d->etag[0] = 0; /* a new response (after a redirect) */
    char *colon = strchr(line, ':');
    if (!colon) return len;
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ') v++;
    char *e = v + strlen(v);
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ')) *--e = 0;
    if (*v == 'W' && v[1] == '/') v += 2; /* weak validators carry the same hash */
    if (*v == '"') { v++; if (e > v && e[-1] == '"') e[-1] = 0; }
    for (char *c = line; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (!strcmp(line, "x-linked-etag")) snprintf(d->linked, sizeof d->linked, "%s", v);
    else if (!strcmp(line, "etag")) snprintf(d->etag, sizeof d->etag, "%s", v);
    return len;
}

static size_t on_data(char *b, size_t sz, size_t n, void *arg) {
    dl *d = arg;
    return fwrite(b, sz, n, d->f) * sz;
}

static int on_progress(void *arg, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un) {
    (void)ut;
    (void)un;
    dl *d = arg;
    if (d->progress && total > 0) {
        curl_off_t t = total + d->resumed, c = now + d->resumed;
        int w = (int)(30 * c / t);
        fprintf(stderr, "\r  %-28s [%.*s%*s] %5.1f%% of %.1f MB", d->name, w, "==============================", 30 - w, "",
                100.0 * (double)c / (double)t, (double)t / 1e6);
    }
    return 0;
}

static int is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* Checks path against the hub's checksum: sha256 (64 hex) or git blob sha1 (40 hex). Returns 0
 * ok, 1 nothing to check against, -1 mismatch. */
static int verify(const char *path, const char *linked, const char *etag, char *what, size_t wn) {
    const char *want = is_hex(linked, 64) ? linked : is_hex(etag, 64) ? etag : is_hex(etag, 40) ? etag : NULL;
    if (!want) return 1;
    int sha1 = strlen(want) == 40;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, sha1 ? EVP_sha1() : EVP_sha256(), NULL);
    if (sha1) { /* git hashes "blob <size>\0" + content */
        char hdr[64];
        int hl = snprintf(hdr, sizeof hdr, "blob %ld", size);
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

/* Downloads one file. Returns 0, 1 if the server says it does not exist (404), -1 on failure. */
static int get_file(const char *base, const char *dest, const char *name, int progress, int optional, cs_err *err) {
    char url[4096], part[4200], final[4200];
    snprintf(url, sizeof url, "%s/%s", base, name);
    snprintf(final, sizeof final, "%s/%s", dest, name);
    snprintf(part, sizeof part, "%s/%s.part", dest, name);
    if (cs_is_file(final)) return 0; /* finished earlier */
    struct stat st;
    curl_off_t have = stat(part, &st) == 0 ? (curl_off_t)st.st_size : 0;
    dl d = {0};
    d.progress = progress;
    d.name = name;
    d.resumed = have;
    d.f = fopen(part, have ? "ab" : "wb");
    if (!d.f) return cs_err_set(err, "%s: %s", part, strerror(errno));
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &d);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "clipseek");
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled server: give up after 60 s */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    if (have) curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, have);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    fclose(d.f);
    if (progress) fputc('\n', stderr);
    if (status == 404) {
        unlink(part);
        return optional ? 1 : cs_err_set(err, "%s: not found (404)", url);
    }
    if (rc != CURLE_OK)
        return cs_err_set(err, "%s: %s (the %lld bytes so far are kept; fetch again to resume)", url, curl_easy_strerror(rc),
                          (long long)(stat(part, &st) == 0 ? st.st_size : 0));
    if (status == 200 && have) {
        /* the server ignored the range: the body is the whole file, appended after the old part */
        unlink(part);
        return cs_err_set(err, "%s: the server does not resume downloads; fetch again to start over", url);
    }
    if (status != 200 && status != 206) {
        unlink(part);
        return cs_err_set(err, "%s: HTTP %ld", url, status);
    }
    char what[300];
    int v = verify(part, d.linked, d.etag, what, sizeof what);
    if (v < 0) {
        unlink(part);
        return cs_err_set(err, "%s: checksum mismatch (%s); the download was deleted", name, what);
    }
    if (rename(part, final) != 0) return cs_err_set(err, "%s: %s", final, strerror(errno));
    return 0;
}

int fetch_repo(const char *repo, const char *dest, const fetch_params *p, cs_err *err) {
    if (!repo || !strchr(repo, '/') || strstr(repo, "..") || repo[0] == '/')
        return cs_err_set(err, "'%s' is not a repository name like org/name", repo ? repo : "");
    const char *ep = p && p->endpoint ? p->endpoint : getenv("HF_ENDPOINT");
    if (!ep || !*ep) ep = "https://huggingface.co";
    const char *rev = p && p->revision ? p->revision : "main";
    int progress = p ? p->progress : 0;
    char base[4096];
    size_t el = strlen(ep);
    while (el && ep[el - 1] == '/') el--;
    snprintf(base, sizeof base, "%.*s/%s/resolve/%s", (int)el, ep, repo, rev);
    if (mkdir(dest, 0700) != 0 && errno != EEXIST) return cs_err_set(err, "%s: %s", dest, strerror(errno));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static const char *required[] = {"config.json", "vocab.json", "merges.txt"};
    static const char *optional[] = {"preprocessor_config.json", "tokenizer_config.json", "special_tokens_map.json"};
    int rc = 0;
    for (size_t i = 0; i < 3 && !rc; i++) rc = get_file(base, dest, required[i], 0, 0, err);
    for (size_t i = 0; i < 3 && rc == 0; i++) rc = get_file(base, dest, optional[i], 0, 1, err) < 0 ? -1 : 0;
    if (!rc) {
        int r = get_file(base, dest, "model.safetensors", progress, 1, err);
        if (r == 1) { /* sharded */
            rc = get_file(base, dest, "model.safetensors.index.json", 0, 0, err);
            if (!rc) {
                char ip[4200];
                snprintf(ip, sizeof ip, "%s/model.safetensors.index.json", dest);
                json_t *idx = json_load_file(ip, 0, NULL), *wm = json_object_get(idx, "weight_map");
                if (!json_is_object(wm)) rc = cs_err_set(err, "%s: no weight_map", ip);
                const char *k;
                json_t *v;
                json_object_foreach(wm, k, v) {
                    const char *f = json_string_value(v);
                    if (rc) break;
                    if (!f || strchr(f, '/')) { rc = cs_err_set(err, "%s: bad shard name", ip); break; }
                    rc = get_file(base, dest, f, progress, 0, err);
                }
                json_decref(idx);
            }
        } else
            rc = r;
    }
    curl_global_cleanup();
    if (rc) return -1;
    clip_params cp = clip_default_params();
    cp.threads = 1;
    clip_ctx *c;
    if (clip_load(dest, &cp, &c, err)) return cs_err_prefix(err, "downloaded, but not a usable CLIP model");
    clip_free(c);
    return 0;
}
