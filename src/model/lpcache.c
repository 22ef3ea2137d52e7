/* lpcache: converted weights kept in a file. See lpcache.h. */
#include "lpcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/cs_hash.h"

#define MAGIC     "CSLPW002"
#define OLD_MAGIC "CSLPW001" /* one format per file, no per-weight format: never read, converted again */
#define HEAD      40
#define SHAPE     12 /* u32 n, k, format per weight */
/* Bumped whenever the conversion (rounding, layout) changes: old files then no longer match. */
#define CONVERTER "ops_lp 3" /* 3: every q8 weight in panels (ops_lp_fmt_for), the text tower too */

/* A checksum fast enough to run over a tower's weights at every start (several GB/s): four lanes
 * of xxHash64's round over 8-byte words, then the tail bytes. Catches torn and flipped data; not
 * meant against an attacker (whoever can write the data dir can write anything there). */
typedef struct {
    uint64_t v[4], len;
    unsigned char buf[32]; /* bytes waiting for a whole 32-byte round */
    size_t nb;
} sum_state;
static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static void sum_init(sum_state *s) {
    memset(s, 0, sizeof *s);
    s->v[0] = 0x9E3779B185EBCA87ull;
    s->v[1] = 0xC2B2AE3D27D4EB4Full;
    s->v[2] = 0x165667B19E3779F9ull;
    s->v[3] = 0x85EBCA77C2B2AE63ull;
}
static void sum_round(sum_state *s, const unsigned char *p) {
    for (int l = 0; l < 4; l++) {
        uint64_t w;
        memcpy(&w, p + 8 * l, 8);
        s->v[l] = rotl(s->v[l] + w * 0xC2B2AE3D27D4EB4Full, 31) * 0x9E3779B185EBCA87ull;
    }
}
/* Adds n bytes to the stream (any n: the result depends on the bytes, not on how they are split). */
static void sum_add(sum_state *s, const void *data, size_t n) {
    const unsigned char *p = data;
    s->len += n;
    if (s->nb) {
        size_t take = 32 - s->nb < n ? 32 - s->nb : n;
        memcpy(s->buf + s->nb, p, take);
        s->nb += take;
        p += take;
        n -= take;
        if (s->nb < 32) return;
        sum_round(s, s->buf);
        s->nb = 0;
    }
    for (; n >= 32; p += 32, n -= 32) sum_round(s, p);
    memcpy(s->buf, p, n);
    s->nb = n;
}
static uint64_t sum_end(const sum_state *s) {
    uint64_t h = s->len;
    for (int l = 0; l < 4; l++) h = rotl(h ^ s->v[l], 27) * 0x9E3779B185EBCA87ull + 0x85EBCA77C2B2AE63ull;
    for (size_t i = 0; i < s->nb; i++) h = (h ^ s->buf[i]) * 0x100000001b3ull;
    return h;
}

static int wanted_file(const char *n) {
    size_t l = strlen(n);
    return (l > 12 && !strcmp(n + l - 12, ".safetensors")) || (l > 4 && !strcmp(n + l - 4, ".bin")) ||
           (l > 5 && !strcmp(n + l - 5, ".json"));
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int lpc_key(const char *model_dir, const char *tower, int fmt, char *key, size_t n, char *name, size_t nn,
            cs_err *err) {
    char real[PATH_MAX];
    if (!realpath(model_dir, real)) return cs_err_set(err, "%s: %s", model_dir, strerror(errno));
    DIR *d = opendir(real);
    if (!d) return cs_err_set(err, "%s: %s", real, strerror(errno));
    char *names[256];
    size_t cnt = 0;
    struct dirent *de;
    while ((de = readdir(d)) && cnt < 256) {
        if (!wanted_file(de->d_name)) continue;
        if (!(names[cnt] = strdup(de->d_name))) break;
        cnt++;
    }
    closedir(d);
    qsort(names, cnt, sizeof *names, cmpstr); /* readdir's order is the file system's */
    int len = snprintf(key, n, "%s|%s|%s|%s", CONVERTER, tower, ops_lp_name(fmt), real);
    for (size_t i = 0; i < cnt; i++) {
        char p[PATH_MAX + 256];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", real, names[i]);
        /* stat follows links: a Hugging Face cache folder links each file to its blob */
        if (stat(p, &st) == 0 && len >= 0 && (size_t)len < n)
            len += snprintf(key + len, n - (size_t)len, "|%s %lld %lld.%09ld %llu", names[i], (long long)st.st_size,
                            (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
        free(names[i]);
    }
    if (len < 0 || (size_t)len >= n) return cs_err_set(err, "%s: too many files for the weights cache key", real);
    snprintf(name, nn, "%016llx-%s-%s.lpw", (unsigned long long)cs_hash(real, strlen(real)), tower,
             fmt == OPS_LP_F16 ? "f16" : "q8");
    return 0;
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static uint64_t get64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static int read_all(FILE *f, void *p, size_t n) { return fread(p, 1, n, f) == n ? 0 : -1; }

int lpc_load(const char *path, const char *key, int fmt, const int (*shapes)[2], size_t count, ops_lpw ***out,
             cs_err *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return cs_err_set(err, "%s: %s", path, strerror(errno));
    unsigned char h[HEAD];
    size_t klen = strlen(key);
    ops_lpw **w = NULL;
    size_t got = 0;
    char *kbuf = NULL;
    unsigned char *sh = NULL;
    int rc = -1;
    if (read_all(f, h, HEAD) || (memcmp(h, MAGIC, 8) && memcmp(h, OLD_MAGIC, 8))) {
        cs_err_set(err, "%s: not a weights cache file", path);
        goto done;
    }
    if (memcmp(h, MAGIC, 8)) {
        cs_err_set(err, "%s: an older cache format (%.8s)", path, (const char *)h);
        goto done;
    }
    if (get32(h + 8) != (uint32_t)fmt || get32(h + 12) != count || get32(h + 16) != klen) {
        cs_err_set(err, "%s: made for other weights (format, count or key)", path);
        goto done;
    }
    uint64_t payload = get64(h + 24), want = klen + SHAPE * count;
    kbuf = malloc(klen + 1);
    sh = malloc(SHAPE * count + 1);
    w = calloc(count + 1, sizeof *w);
    if (!kbuf || !sh || !w) {
        cs_err_set(err, "out of memory");
        goto done;
    }
    sum_state s;
    sum_init(&s);
    if (read_all(f, kbuf, klen) || memcmp(kbuf, key, klen)) {
        cs_err_set(err, "%s: stale (the model's files or the converter changed)", path);
        goto done;
    }
    if (read_all(f, sh, SHAPE * count)) {
        cs_err_set(err, "%s: truncated", path);
        goto done;
    }
    for (size_t i = 0; i < count; i++) {
        const unsigned char *e = sh + SHAPE * i;
        if ((int)get32(e) != shapes[i][0] || (int)get32(e + 4) != shapes[i][1] ||
            ops_lp_family((int)get32(e + 8)) != fmt || !ops_lp_size(1, 1, (int)get32(e + 8))) {
            cs_err_set(err, "%s: weight %zu has another shape or format", path, i);
            goto done;
        }
        want += ops_lp_size(shapes[i][0], shapes[i][1], (int)get32(e + 8));
    }
    if (payload != want) {
        cs_err_set(err, "%s: stale (its length does not match its shapes)", path);
        goto done;
    }
    sum_add(&s, kbuf, klen);
    sum_add(&s, sh, SHAPE * count);
    for (; got < count; got++) {
        ops_lpw *x = ops_lp_alloc(shapes[got][0], shapes[got][1], (int)get32(sh + SHAPE * got + 8));
        if (!x) {
            cs_err_set(err, "out of memory");
            goto done;
        }
        w[got] = x;
        if (read_all(f, x->data, x->bytes)) {
            cs_err_set(err, "%s: truncated", path);
            goto done;
        }
        sum_add(&s, x->data, x->bytes);
    }
    if (fgetc(f) != EOF) {
        cs_err_set(err, "%s: longer than its header says", path);
        goto done;
    }
    if (sum_end(&s) != get64(h + 32)) {
        cs_err_set(err, "%s: checksum mismatch (damaged)", path);
        goto done;
    }
    rc = 0;
    *out = w;
    w = NULL;
done:
    if (w) {
        for (size_t i = 0; i < count; i++) ops_lp_free(w[i]);
        free(w);
    }
    free(kbuf);
    free(sh);
    fclose(f);
    return rc;
}

/* Removes what an interrupted save of path left (path.tmpXXXXXX, killed or out of power between
 * mkstemp and rename: never read, but up to the size of a tower's weights each). Only files an
 * hour old: a younger one may be another process's save in progress. */
static void drop_stale_temps(const char *dir, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t bl = strlen(base);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    time_t now = time(NULL);
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, base, bl) || strncmp(de->d_name + bl, ".tmp", 4)) continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            st.st_mtime < now - 3600)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

/* The model folder a cache file was made from: its key is "CONVERTER|tower|format|FOLDER|file
 * stats...", and its name begins with the folder's hash in 16 hex digits, which tells where the
 * folder ends (it may hold a '|' itself). Returns 0 with folder (n bytes), -1 when the key names
 * none that fits. */
static int key_folder(const char *key, const char *name, char *folder, size_t n) {
    const char *p = key;
    for (int i = 0; i < 3 && p; i++)
        if ((p = strchr(p, '|'))) p++;
    if (!p) return -1;
    char hex[17];
    memcpy(hex, name, 16);
    hex[16] = 0;
    unsigned long long want = strtoull(hex, NULL, 16);
    for (const char *q = p;; q++) /* each '|' after the folder's start, and the end, as its end */
        if (*q == '|' || !*q) {
            size_t len = (size_t)(q - p);
            if (len < n && (unsigned long long)cs_hash(p, len) == want) {
                memcpy(folder, p, len);
                folder[len] = 0;
                return 0;
            }
            if (!*q) break;
        }
    return -1;
}

/* The converter's version in a key ("ops_lp N|..."), or -1 when the key is not of that form. */
static long converter_version(const char *key) {
    if (strncmp(key, "ops_lp ", 7)) return -1;
    char *end;
    long v = strtol(key + 7, &end, 10);
    return end > key + 7 && *end == '|' ? v : -1;
}

/* A cache file that no load will ever read again: of the first format, of an older converter
 * (a newer one, written by a newer build next to an older daemon during an upgrade, is kept), or
 * converted from a model folder that is gone. Anything it cannot be sure of (unreadable, not a
 * cache file, a key of another form) it keeps. */
static int dead_cache(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return 0;
    }
    unsigned char h[HEAD];
    int dead = 0;
    char *key = NULL;
    if (read_all(f, h, HEAD) == 0) {
        uint32_t klen = get32(h + 16);
        long ours = converter_version(CONVERTER "|"), theirs;
        char folder[PATH_MAX];
        struct stat st;
        if (!memcmp(h, OLD_MAGIC, 8))
            dead = 1;
        else if (!memcmp(h, MAGIC, 8) && klen < (1u << 20) && (key = malloc(klen + 1)) && read_all(f, key, klen) == 0) {
            key[klen] = 0;
            if ((theirs = converter_version(key)) >= 0 && theirs < ours)
                dead = 1;
            else if (theirs == ours && key_folder(key, name, folder, sizeof folder) == 0 && stat(folder, &st) != 0 &&
                     errno == ENOENT)
                dead = 1;
        }
    }
    free(key);
    fclose(f);
    return dead;
}

/* Removes the other cache files of dir that no load will read again (dead_cache): a model that
 * was replaced or deleted would otherwise keep its converted towers (a few hundred MB for
 * ViT-B/32) on the disk for good. Only names of the form lpc_key gives. */
static void drop_dead(const char *dir, const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *n = de->d_name;
        size_t l = strlen(n), hexd = strspn(n, "0123456789abcdef");
        if (!strcmp(n, base) || hexd != 16 || n[16] != '-' || l < 21 || strcmp(n + l - 4, ".lpw")) continue;
        struct stat st;
        if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) && dead_cache(dirfd(d), n))
            unlinkat(dirfd(d), n, 0);
    }
    closedir(d);
}

int lpc_save(const char *path, const char *key, const ops_lpw *const *w, size_t count, cs_err *err) {
    char dir[PATH_MAX], tmp[PATH_MAX + 16];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) return cs_err_set(err, "%s: %s", dir, strerror(errno));
        drop_stale_temps(dir, path);
    }
    if (count == 0) return cs_err_set(err, "no weights to cache");
    size_t klen = strlen(key), head = klen + SHAPE * count;
    unsigned char *meta = malloc(head);
    if (!meta) return cs_err_set(err, "out of memory");
    memcpy(meta, key, klen);
    uint64_t payload = head;
    for (size_t i = 0; i < count; i++) {
        put32(meta + klen + SHAPE * i, (uint32_t)w[i]->n);
        put32(meta + klen + SHAPE * i + 4, (uint32_t)w[i]->k);
        put32(meta + klen + SHAPE * i + 8, (uint32_t)w[i]->fmt);
        payload += w[i]->bytes;
    }
    sum_state s; /* the byte stream the reader checks */
    sum_init(&s);
    sum_add(&s, meta, head);
    for (size_t i = 0; i < count; i++) sum_add(&s, w[i]->data, w[i]->bytes);
    unsigned char h[HEAD] = {0};
    memcpy(h, MAGIC, 8);
    put32(h + 8, (uint32_t)ops_lp_family(w[0]->fmt));
    put32(h + 12, (uint32_t)count);
    put32(h + 16, (uint32_t)klen);
    put64(h + 24, payload);
    put64(h + 32, sum_end(&s));
    snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        free(meta);
        return cs_err_set(err, "%s: %s", tmp, strerror(errno));
    }
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(h, 1, HEAD, f) == HEAD && fwrite(meta, 1, head, f) == head;
    for (size_t i = 0; ok && i < count; i++) ok = fwrite(w[i]->data, 1, w[i]->bytes, f) == w[i]->bytes;
    ok = ok && fflush(f) == 0 && fsync(fd) == 0;
    int saved = errno;
    if (f)
        fclose(f);
    else
        close(fd);
    free(meta);
    if (!ok || rename(tmp, path) != 0) {
        if (ok) saved = errno;
        unlink(tmp);
        return cs_err_set(err, "%s: %s", path, strerror(saved));
    }
    if (slash && slash != dir) drop_dead(dir, path);
    return 0;
}
