/* vecindex: see vecindex.h. */
#include "vecindex.h"

#include <dirent.h>
#include <errno.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif
#include <math.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/cs_hash.h"

#define MAGIC    "CSVEC001"
#define Q8_MAGIC "CSQ8V001"
/* the bound on a quantised dot product's error gets this much slack for float rounding in the
 * scale products (relative ~1e-7; cosines are <= 1) */
#define Q8_SLACK 1e-5f

typedef struct hdr {
    char magic[8];
    uint32_t dim, zero;
    int64_t count, last_rowid;
} hdr;

/* A file's mapping, kept between opens (vmap_get): a process that searches again and again (the
 * daemon) would otherwise map both files afresh for every search and fault their pages in again
 * (~6,000 page faults and an munmap of them per search at 10,000 rows: most of the meaning
 * phase's time). The files are only appended to (or rebuilt, or replaced by a new file), and the
 * mapping is MAP_SHARED, so a kept one always shows what the file holds now; it is mapped with
 * room to grow (pages past the end of the file become readable once the file reaches them), and
 * the rows a search reads are within the file as the header counted it under the lock. One
 * mapping per path, the newest; a replaced or evicted one is unmapped when its last user closes. */
typedef struct vmap {
    char *path;
    dev_t dev;
    ino_t ino;
    unsigned char *p;
    size_t len;
    int refs;   /* open vecindexes using it */
    int cached; /* in vmaps[] */
    uint64_t used;
} vmap;

struct vecindex {
    const unsigned char *map; /* file map, or NULL for a memory index */
    vmap *fm, *qm;            /* the mappings of the float file and of the int8 copy (or NULL) */
    int dim;
    size_t rows;
    const float *mat; /* memory index */
    const int64_t *ids;
    /* the int8 copy scanned first: per row {f32 scale, f32 err, i8 v[dim]} */
    unsigned char *q8mem;    /* memory index: rows, owned */
    const unsigned char *q8; /* first row */
    char stale[96];          /* "" or why rows are missing (vecindex_stale) */
};

#define VMAP_SLOTS 8 /* files kept mapped (two per model: float and int8) */
static vmap *vmaps[VMAP_SLOTS];
static uint64_t vmap_clock;
static pthread_mutex_t vmap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t vmap_once = PTHREAD_ONCE_INIT;

/* a fork while another thread holds the lock must not leave it held in the child */
static void vmap_lock_all(void) { pthread_mutex_lock(&vmap_lock); }
static void vmap_unlock_all(void) { pthread_mutex_unlock(&vmap_lock); }
static void vmap_init(void) { pthread_atfork(vmap_lock_all, vmap_unlock_all, vmap_unlock_all); }

static void vmap_drop(vmap *m) {
    munmap(m->p, m->len);
    free(m->path);
    free(m);
}

/* The mapping of fd (the file at path) that covers its first need bytes: the kept one when it is
 * of this file (device and inode) and long enough, else a new one, kept from now on. NULL with
 * err on failure. */
static vmap *vmap_get(const char *path, int fd, size_t need, cs_err *err) {
    pthread_once(&vmap_once, vmap_init);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        cs_err_sys(err, errno, "%s", path);
        return NULL;
    }
    pthread_mutex_lock(&vmap_lock);
    for (int i = 0; i < VMAP_SLOTS; i++) {
        vmap *m = vmaps[i];
        if (m && !strcmp(m->path, path) && m->dev == st.st_dev && m->ino == st.st_ino && m->len >= need) {
            m->refs++;
            m->used = ++vmap_clock;
            pthread_mutex_unlock(&vmap_lock);
            return m;
        }
    }
    pthread_mutex_unlock(&vmap_lock);
    /* room for a quarter more rows (at least 1 MiB), so new clips do not remap the whole file */
    size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = need + (need / 4 > (1u << 20) ? need / 4 : (1u << 20));
    len = (len + pg - 1) / pg * pg;
    vmap *m = calloc(1, sizeof *m);
    char *pc = strdup(path);
    void *p = m && pc ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (p == MAP_FAILED) {
        if (m && pc)
            cs_err_set(err, "%s: mmap: %s", path, strerror(errno));
        else
            cs_errc(err, CS_ENOMEM, "out of memory");
        free(m);
        free(pc);
        return NULL;
    }
    *m = (vmap){pc, st.st_dev, st.st_ino, p, len, 1, 0, 0};
    pthread_mutex_lock(&vmap_lock);
    m->used = ++vmap_clock;
    int at = -1; /* this path's slot, else an empty one, else the least recently used idle one */
    for (int i = 0; i < VMAP_SLOTS && at < 0; i++)
        if (vmaps[i] && !strcmp(vmaps[i]->path, path)) at = i;
    for (int i = 0; i < VMAP_SLOTS && at < 0; i++)
        if (!vmaps[i]) at = i;
    for (int i = 0; i < VMAP_SLOTS && at < 0; i++)
        if (!vmaps[i]->refs && (at < 0 || vmaps[i]->used < vmaps[at]->used)) at = i;
    if (at >= 0) {
        vmap *old = vmaps[at];
        if (old) {
            old->cached = 0;
            if (!old->refs) vmap_drop(old);
        }
        vmaps[at] = m;
        m->cached = 1;
    }
    pthread_mutex_unlock(&vmap_lock);
    return m;
}

static void vmap_put(vmap *m) {
    if (!m) return;
    pthread_mutex_lock(&vmap_lock);
    if (--m->refs == 0 && !m->cached) vmap_drop(m);
    pthread_mutex_unlock(&vmap_lock);
}

const char *vecindex_stale(const vecindex *v) { return v && v->stale[0] ? v->stale : NULL; }

/* Quantises unit vector v to int8 with one scale (max |v_i| -> 127). Writes {scale, err, i8[dim]}
 * to out; err = ||v - scale * v8||, computed in double, the bound the search relies on. */
static void quantise(const float *v, int dim, unsigned char *out) {
    float mx = 0;
    for (int i = 0; i < dim; i++) mx = fabsf(v[i]) > mx ? fabsf(v[i]) : mx;
    float scale = mx > 0 ? mx / 127.0f : 1.0f;
    int8_t *q = (int8_t *)(out + 8);
    double e2 = 0;
    for (int i = 0; i < dim; i++) {
        long x = lrintf(v[i] / scale);
        q[i] = (int8_t)(x > 127 ? 127 : x < -127 ? -127 : x);
        double d = (double)v[i] - (double)scale * q[i];
        e2 += d * d;
    }
    float err = (float)sqrt(e2) * (1.0f + 1e-6f);
    memcpy(out, &scale, 4);
    memcpy(out + 4, &err, 4);
}

static size_t q8_rec(int dim) { return 8 + (size_t)dim; }

size_t vecindex_rows(const vecindex *v) { return v->rows; }
int vecindex_dim(const vecindex *v) { return v->dim; }

typedef struct sync_ctx {
    FILE *f;
    hdr h;
    int err;
} sync_ctx;

static int append_one(int64_t rowid, int64_t entry, int part, const float *v, int dim, void *arg) {
    (void)part;
    sync_ctx *c = arg;
    c->h.last_rowid = rowid;
    if (dim <= 0) return 0; /* "could not embed" marker */
    if (c->h.dim == 0) c->h.dim = (uint32_t)dim;
    if ((uint32_t)dim != c->h.dim) return 0; /* cannot happen for one model id; never mix */
    if (fwrite(&entry, sizeof entry, 1, c->f) != 1 || fwrite(v, sizeof(float), (size_t)dim, c->f) != (size_t)dim) {
        c->err = errno ? errno : EIO;
        return 1;
    }
    c->h.count++;
    return 0;
}

/* errno values that mean "no room to write": searches then go on from what is there. */
static int disk_full(int e) { return e == ENOSPC || e == EDQUOT || e == EFBIG; }

/* The int8 copy of the rows mapped in v, made in memory (when it cannot be written to disk). */
static int q8_in_memory(vecindex *v, cs_err *err) {
    size_t rec = q8_rec(v->dim), rec32 = 8 + 4 * (size_t)v->dim;
    v->q8mem = malloc(v->rows ? v->rows * rec : 1);
    if (!v->q8mem) return cs_errc(err, CS_ENOMEM, "out of memory");
    for (size_t r = 0; r < v->rows; r++)
        quantise((const float *)(const void *)(v->map + sizeof(hdr) + r * rec32 + 8), v->dim, v->q8mem + r * rec);
    v->q8 = v->q8mem;
    return 0;
}

/* Brings <model>.q8 up to date with the float file just mapped in v (called under its lock):
 * quantises the rows it lacks, or all of them when it is new, damaged or the float file was
 * rebuilt; then maps it. When it cannot be written (a full disk) the copy is made in
 * memory instead. */
static int q8_sync(vecindex *v, const char *path, int rebuilt, cs_err *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 && disk_full(errno)) return q8_in_memory(v, err);
    if (fd < 0) return cs_err_sys(err, errno, "%s", path);
    hdr h = {{0}, 0, 0, 0, 0};
    struct stat st;
    fstat(fd, &st);
    size_t rec = q8_rec(v->dim);
    int ok = !rebuilt && pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && !memcmp(h.magic, Q8_MAGIC, 8) &&
             h.dim == (uint32_t)v->dim && h.count >= 0 && (size_t)h.count <= v->rows &&
             (size_t)st.st_size >= sizeof h + (size_t)h.count * rec;
    if (!ok) {
        memset(&h, 0, sizeof h);
        memcpy(h.magic, Q8_MAGIC, 8);
        h.dim = (uint32_t)v->dim;
    }
    int rc = 0, werr = 0;
    if ((size_t)h.count < v->rows || !ok) {
        /* append in chunks; the header is written last, so a torn append is redone next time */
        size_t rec32 = 8 + 4 * (size_t)v->dim, chunk = 4096;
        unsigned char *buf = malloc(chunk * rec);
        if (!buf) rc = cs_errc(err, CS_ENOMEM, "out of memory");
        for (size_t r = (size_t)h.count; !rc && r < v->rows; r += chunk) {
            size_t n = v->rows - r < chunk ? v->rows - r : chunk;
            for (size_t i = 0; i < n; i++)
                quantise((const float *)(const void *)(v->map + sizeof(hdr) + (r + i) * rec32 + 8), v->dim,
                         buf + i * rec);
            errno = 0;
            if (pwrite(fd, buf, n * rec, (off_t)(sizeof h + r * rec)) != (ssize_t)(n * rec)) {
                werr = errno ? errno : ENOSPC; /* a short write: out of space */
                rc = cs_err_set(err, "%s: cannot write: %s", path, strerror(werr));
            }
        }
        free(buf);
        h.count = (int64_t)v->rows;
        if (!rc && (ftruncate(fd, (off_t)(sizeof h + v->rows * rec)) != 0 || fdatasync(fd) != 0 ||
                    pwrite(fd, &h, sizeof h, 0) != (ssize_t)sizeof h)) {
            werr = errno;
            rc = cs_err_set(err, "%s: cannot write: %s", path, strerror(werr));
        }
    }
    if (rc && disk_full(werr)) { /* the header was not advanced: a later sync writes the rows */
        close(fd);
        return q8_in_memory(v, err);
    }
    if (!rc && v->rows) {
        v->qm = vmap_get(path, fd, sizeof h + v->rows * rec, err);
        if (!v->qm)
            rc = -1;
        else
            v->q8 = v->qm->p + sizeof h;
    }
    close(fd);
    return rc;
}

int vecindex_open(store *s, const char *model, vecindex **out, cs_err *err) {
    *out = NULL;
    char dir[4200], path[4600];
    snprintf(dir, sizeof dir, "%s/vectors", store_dir(s));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return cs_err_sys(err, errno, "%s", dir);
    if (strchr(model, '/')) return cs_err_set(err, "bad model id '%s'", model);
    snprintf(path, sizeof path, "%s/%s.f32", dir, model);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return cs_err_sys(err, errno, "%s", path);
    flock(fd, LOCK_EX); /* one appender at a time, across processes */
    FILE *f = fdopen(fd, "r+b");
    sync_ctx c = {f, {{0}, 0, 0, 0, 0}, 0};
    struct stat st;
    fstat(fd, &st);
    int fresh = st.st_size < (off_t)sizeof(hdr) || fread(&c.h, sizeof c.h, 1, f) != 1 ||
                memcmp(c.h.magic, MAGIC, 8) != 0 ||
                st.st_size != (off_t)(sizeof(hdr) + (size_t)c.h.count * (8 + 4 * (size_t)c.h.dim));
    if (fresh) { /* new, or not ours, or torn by a crash mid-append: rebuild from the store */
        memset(&c.h, 0, sizeof c.h);
        memcpy(c.h.magic, MAGIC, 8);
        if (ftruncate(fd, 0) != 0 || fseek(f, 0, SEEK_SET) != 0 || fwrite(&c.h, sizeof c.h, 1, f) != 1) {
            fclose(f);
            return cs_err_set(err, "%s: cannot write", path);
        }
    }
    fseek(f, 0, SEEK_END);
    hdr had = c.h; /* what the file holds before this sync */
    int64_t before = c.h.count, last = c.h.last_rowid;
    int rc = store_each_vector(s, model, c.h.last_rowid, append_one, &c, err);
    if (!rc && !c.err && fflush(f) != 0) c.err = errno ? errno : EIO;
    int stale = 0;
    if (!rc && c.err) {
        /* Could not append (a full disk): searches must go on from the rows already there. The
         * torn tail is cut off and the header left as it was, so the file stays whole and the
         * next sync appends the rest; buffered bytes are dropped, never written later. */
        stale = c.err;
        __fpurge(f);
        clearerr(f);
        c.h = had;
        if (ftruncate(fd, (off_t)(sizeof(hdr) + (size_t)had.count * (8 + 4 * (size_t)had.dim))) != 0)
            rc = cs_err_set(err, "%s: %s", path, strerror(c.err));
    } else if (!rc && (c.h.count != before || c.h.last_rowid != last || fresh)) {
        fdatasync(fd);
        fseek(f, 0, SEEK_SET);
        if (fwrite(&c.h, sizeof c.h, 1, f) != 1 || fflush(f) != 0)
            rc = cs_err_set(err, "%s: cannot write the header", path);
    }
    vecindex *v = NULL;
    if (!rc) {
        v = calloc(1, sizeof *v);
        if (!v)
            rc = cs_errc(err, CS_ENOMEM, "out of memory");
        else {
            v->dim = (int)c.h.dim;
            v->rows = (size_t)c.h.count;
            v->fm = vmap_get(path, fd, sizeof(hdr) + v->rows * (8 + 4 * (size_t)c.h.dim), err);
            if (!v->fm) {
                free(v);
                v = NULL;
                rc = -1;
            } else
                v->map = v->fm->p;
        }
        if (v && stale)
            snprintf(v->stale, sizeof v->stale, "index out of date: %s",
                     stale == ENOSPC || stale == EDQUOT ? "disk full" : strerror(stale));
    }
    if (!rc) {
        snprintf(path, sizeof path, "%s/%s.q8", dir, model);
        rc = q8_sync(v, path, fresh, err);
        if (rc) {
            vecindex_close(v);
            v = NULL;
        }
    }
    flock(fd, LOCK_UN);
    fclose(f);
    *out = v;
    return rc;
}

int vecindex_compact(store *s, int64_t *dropped, cs_err *err) {
    if (dropped) *dropped = 0;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/vectors", store_dir(s));
    DIR *d = opendir(dir);
    if (!d) return 0; /* none yet */
    struct dirent *de;
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".f32") || de->d_name[0] == '.') continue;
        char model[256], path[4600];
        if (l - 4 >= sizeof model) continue;
        snprintf(model, sizeof model, "%.*s", (int)(l - 4), de->d_name);
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        int fd = open(path, O_RDWR | O_CLOEXEC);
        if (fd < 0) continue;
        flock(fd, LOCK_EX); /* no search or append of this model meanwhile */
        hdr h;
        int64_t want = 0;
        int ok = pread(fd, &h, sizeof h, 0) == (ssize_t)sizeof h && !memcmp(h.magic, MAGIC, 8);
        rc = store_vector_count(s, model, &want, err);
        if (!rc && (!ok || h.count > want)) {
            /* unlinked, never truncated: a search that has the file mapped keeps its pages (a
             * truncated mapping would fault); the next open builds a new file */
            char q8[4600];
            snprintf(q8, sizeof q8, "%s/%s.q8", dir, model);
            if (unlink(path) == 0 && dropped) (*dropped)++;
            unlink(q8);
        }
        flock(fd, LOCK_UN);
        close(fd);
    }
    closedir(d);
    return rc;
}

vecindex *vecindex_from_memory(const float *mat, const int64_t *ids, size_t rows, int dim) {
    vecindex *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->mat = mat;
    v->ids = ids;
    v->rows = rows;
    v->dim = dim;
    size_t rec = q8_rec(dim);
    v->q8mem = malloc(rows ? rows * rec : 1);
    if (!v->q8mem) {
        free(v);
        return NULL;
    }
    for (size_t r = 0; r < rows; r++) quantise(mat + r * (size_t)dim, dim, v->q8mem + r * rec);
    v->q8 = v->q8mem;
    return v;
}

void vecindex_close(vecindex *v) {
    if (!v) return;
    vmap_put(v->fm);
    vmap_put(v->qm);
    free(v->q8mem);
    free(v);
}

/* The top-k heap of offer(): a min-heap of (score, entry), with an index from entry to heap slot
 * so that finding an entry already there costs a hash probe instead of a walk over the heap
 * (k is 2,048 for search's score sample). The heap's moves are exactly those of a plain
 * heap; the index only follows them. Open addressing, linear probing, backward-shift deletion. */
typedef struct topk {
    vec_hit *h;
    size_t n, k;
    size_t *at;   /* hash slot -> heap slot, SIZE_MAX: empty */
    size_t *slot; /* heap slot -> hash slot */
    size_t mask;
} topk;

static int topk_init(topk *t, size_t k) {
    size_t cap = 16;
    while (cap < 2 * k) cap *= 2;
    t->h = malloc(k * sizeof *t->h);
    t->at = malloc(cap * sizeof *t->at);
    t->slot = malloc(k * sizeof *t->slot);
    t->n = 0;
    t->k = k;
    t->mask = cap - 1;
    if (!t->h || !t->at || !t->slot) return -1;
    for (size_t i = 0; i < cap; i++) t->at[i] = SIZE_MAX;
    return 0;
}

static void topk_reset(topk *t) {
    for (size_t i = 0; i < t->n; i++) t->at[t->slot[i]] = SIZE_MAX;
    t->n = 0;
}

static void topk_free(topk *t) {
    free(t->at);
    free(t->slot);
}

/* The hash slot of entry id, or the empty slot where it would go. */
static size_t topk_find(const topk *t, int64_t id) {
    size_t i = cs_hash_slot(id, t->mask);
    while (t->at[i] != SIZE_MAX && t->h[t->at[i]].entry != id) i = (i + 1) & t->mask;
    return i;
}

/* Takes hash slot i out, shifting back the entries probed past it. */
static void topk_unhash(topk *t, size_t i) {
    size_t j = i;
    for (;;) {
        j = (j + 1) & t->mask;
        if (t->at[j] == SIZE_MAX) break;
        size_t home = cs_hash_slot(t->h[t->at[j]].entry, t->mask);
        /* j's entry may move to i when its home is not cyclically within (i, j] */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            t->at[i] = t->at[j];
            t->slot[t->at[i]] = i;
            i = j;
        }
    }
    t->at[i] = SIZE_MAX;
}

static void topk_swap(topk *t, size_t a, size_t b) {
    vec_hit x = t->h[a];
    t->h[a] = t->h[b];
    t->h[b] = x;
    size_t s = t->slot[a];
    t->slot[a] = t->slot[b];
    t->slot[b] = s;
    t->at[t->slot[a]] = a;
    t->at[t->slot[b]] = b;
}

static void sift_down(topk *t, size_t i) {
    vec_hit *h = t->h;
    size_t n = t->n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].score < h[m].score) m = l;
        if (r < n && h[r].score < h[m].score) m = r;
        if (m == i) return;
        topk_swap(t, i, m);
        i = m;
    }
}

static int by_score_desc(const void *a, const void *b) {
    float x = ((const vec_hit *)a)->score, y = ((const vec_hit *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

static inline float dot(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* q . r over int8 vectors. With AVX2: r's signs moved onto |q| (vpsignb), then vpmaddubsw
 * (u8 x s8 pairs to s16: |q|,|r| <= 127 keeps pairs within 2 * 127 * 127, no saturation) and
 * vpmaddwd to s32 - four instructions per 32 elements, which keeps the scan memory-bound. */
static inline int32_t dot8(const int8_t *a, const int8_t *b, int n) {
    int32_t s = 0;
    int i = 0;
#ifdef __AVX2__
    __m256i acc = _mm256_setzero_si256(), ones = _mm256_set1_epi16(1);
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(b + i));
        __m256i p = _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));
    }
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    s = _mm_cvtsi128_si32(t);
#endif
    for (; i < n; i++) s += (int16_t)a[i] * (int16_t)b[i];
    return s;
}

static const float *row_f32(const vecindex *v, size_t r) {
    return v->map ? (const float *)(const void *)(v->map + sizeof(hdr) + r * (8 + 4 * (size_t)v->dim) + 8)
                  : v->mat + r * (size_t)v->dim;
}

static int64_t row_id(const vecindex *v, size_t r) {
    int64_t id;
    if (v->map)
        memcpy(&id, v->map + sizeof(hdr) + r * (8 + 4 * (size_t)v->dim), 8);
    else
        id = v->ids[r];
    return id;
}

/* Offers (id, s) to t, a min-heap of at most k distinct entries, each at its best score so far:
 * an entry already in the heap is raised in place (never a second slot), so text windows of one
 * entry can never crowd other entries out. The heap order is established once it is full. */
static void offer(topk *t, int64_t id, float s) {
    vec_hit *h = t->h;
    size_t k = t->k;
    if (t->n == k && s <= h[0].score) return;
    size_t hs = topk_find(t, id);
    if (t->at[hs] != SIZE_MAX) {
        size_t i = t->at[hs];
        if (s > h[i].score) {
            h[i].score = s;
            if (t->n == k) sift_down(t, i); /* raised: it can only sink in a min-heap */
        }
        return;
    }
    if (t->n < k) {
        h[t->n] = (vec_hit){id, s};
        t->slot[t->n] = hs;
        t->at[hs] = t->n++;
        if (t->n == k)
            for (size_t i = k / 2; i-- > 0;) sift_down(t, i);
    } else {
        topk_unhash(t, t->slot[0]);
        hs = topk_find(t, id); /* the shift may have moved the empty slot it would take */
        h[0] = (vec_hit){id, s};
        t->slot[0] = hs;
        t->at[hs] = 0;
        sift_down(t, 0);
    }
}

/* The first pass of a top-k for a batch of queries: every row's approximate score for each query
 * (sc[j * rows + r]), its quantisation error (re[r]) and each query's int8 copy. The rows are
 * walked in blocks that stay in the cache while every query of the batch is scored against them,
 * so the matrix is read once per batch instead of once per query. */
struct vecindex_scan {
    const vecindex *v;
    size_t nq;
    float *q;       /* nq x dim, the queries (for the exact rescoring) */
    float *qs, *qe; /* per query: int8 scale and quantisation error */
    float *sc, *re; /* nq x rows approximate scores; rows errors */
};

#define SCAN_BLOCK 256 /* rows per block: 256 x (8 + 512) bytes of int8 rows, well inside L2 */

void vecindex_scan_close(vecindex_scan *sc) {
    if (!sc) return;
    free(sc->q);
    free(sc->qs);
    free(sc->qe);
    free(sc->sc);
    free(sc->re);
    free(sc);
}

int vecindex_scan_open(const vecindex *v, const float *q, size_t nq, vecindex_scan **out, cs_err *err) {
    *out = NULL;
    int dim = v->dim;
    size_t rows = v->rows, rec = q8_rec(dim);
    vecindex_scan *sc = calloc(1, sizeof *sc);
    unsigned char *qq = malloc((nq ? nq : 1) * rec);
    if (sc) {
        sc->v = v;
        sc->nq = nq;
        sc->q = malloc((nq ? nq : 1) * (size_t)dim * sizeof *sc->q);
        sc->qs = malloc((nq ? nq : 1) * sizeof *sc->qs);
        sc->qe = malloc((nq ? nq : 1) * sizeof *sc->qe);
        sc->sc = malloc((nq && rows ? nq * rows : 1) * sizeof *sc->sc);
        sc->re = malloc((rows ? rows : 1) * sizeof *sc->re);
    }
    if (!sc || !qq || !sc->q || !sc->qs || !sc->qe || !sc->sc || !sc->re) {
        free(qq);
        vecindex_scan_close(sc);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    if (nq) memcpy(sc->q, q, nq * (size_t)dim * sizeof *q);
    for (size_t j = 0; j < nq; j++) {
        unsigned char *x = qq + j * rec;
        quantise(q + j * (size_t)dim, dim, x);
        memcpy(&sc->qs[j], x, 4);
        memcpy(&sc->qe[j], x + 4, 4);
    }
    /* parallel over blocks of rows: both cores stream the int8 matrix once for the whole batch;
     * later passes read only the score arrays */
    size_t nb = (rows + SCAN_BLOCK - 1) / SCAN_BLOCK;
#pragma omp parallel for schedule(static) if (rows * nq > 4096)
    for (size_t b = 0; b < nb; b++) {
        size_t r0 = b * SCAN_BLOCK, r1 = r0 + SCAN_BLOCK < rows ? r0 + SCAN_BLOCK : rows;
        for (size_t r = r0; r < r1; r++) memcpy(&sc->re[r], v->q8 + r * rec + 4, 4);
        for (size_t j = 0; j < nq; j++) {
            const int8_t *q8 = (const int8_t *)(qq + j * rec + 8);
            float qs = sc->qs[j];
            float *out = sc->sc + j * rows;
            for (size_t r = r0; r < r1; r++) {
                const unsigned char *row = v->q8 + r * rec;
                float rs;
                memcpy(&rs, row, 4);
                out[r] = qs * rs * (float)dot8(q8, (const int8_t *)(row + 8), dim);
            }
        }
    }
    free(qq);
    *out = sc;
    return 0;
}

/* Exact top k for query j of a scan, from its int8 scores, rescoring in float only the rows that
 * can still be in the answer:
 *   every row's approximate score a = sq * sr * (q8 . r8) is within B = err_r + err_q (1 + err_r)
 *   of its exact cosine (Cauchy-Schwarz on q.r - q^.r^ = q.(r - r^) + (q - q^).r^). With tau the
 *   k-th largest lower bound a - B over distinct entries (an entry counted once, at its best
 *   row), k different entries score at least tau, so no row whose upper bound a + B is below
 *   tau can be the best row of an entry in the answer; the others are rescored exactly and the k
 *   best distinct entries kept. Counting entries, not rows, is what makes it exact when one
 *   entry has many windows (up to 1,024) near the query. The answer is the float scan's, bit for
 *   bit. */
int vecindex_scan_topk(const vecindex_scan *scan, size_t j, int k, int (*keep)(int64_t, void *), void *arg,
                       vec_hit **out, size_t *n, cs_err *err) {
    *out = NULL;
    *n = 0;
    const vecindex *v = scan->v;
    if (k <= 0 || v->rows == 0 || j >= scan->nq) return 0;
    int dim = v->dim;
    size_t cap = (size_t)k;
    const float *sc = scan->sc + j * v->rows, *q = scan->q + j * (size_t)dim, *re = scan->re;
    float qe = scan->qe[j];
    topk t;
    size_t *cand = NULL, nc = 0, ccap = 0;
    if (topk_init(&t, cap)) {
        free(t.h);
        topk_free(&t);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    /* pass 2: candidates. t holds the k largest lower bounds of distinct kept entries. */
    int rc = 0;
    for (size_t r = 0; r < v->rows && !rc; r++) {
        float bd = re[r] + qe * (1.0f + re[r]) + Q8_SLACK;
        float lo = sc[r] - bd, hi = sc[r] + bd;
        if (t.n == cap && hi < t.h[0].score) continue;
        int64_t id = row_id(v, r);
        if (keep && !keep(id, arg)) continue;
        if (nc == ccap) {
            ccap = ccap ? ccap * 2 : 1024;
            size_t *nn = realloc(cand, ccap * sizeof *nn);
            if (!nn) {
                rc = cs_errc(err, CS_ENOMEM, "out of memory");
                break;
            }
            cand = nn;
        }
        cand[nc++] = r;
        offer(&t, id, lo);
    }
    float tau = t.n == cap ? t.h[0].score : -INFINITY;
    /* pass 3: rescore the survivors exactly; keep the k best entries */
    topk_reset(&t);
    for (size_t i = 0; i < nc && !rc; i++) {
        size_t r = cand[i];
        if (sc[r] + (re[r] + qe * (1.0f + re[r]) + Q8_SLACK) < tau) continue;
        offer(&t, row_id(v, r), dot(q, row_f32(v, r), dim));
    }
    free(cand);
    topk_free(&t);
    if (rc) {
        free(t.h);
        return -1;
    }
    qsort(t.h, t.n, sizeof *t.h, by_score_desc);
    *out = t.h;
    *n = t.n;
    return 0;
}

int vecindex_topk(const vecindex *v, const float *q, int k, int (*keep)(int64_t, void *), void *arg, vec_hit **out,
                  size_t *n, cs_err *err) {
    *out = NULL;
    *n = 0;
    if (k <= 0 || v->rows == 0) return 0;
    vecindex_scan *sc;
    if (vecindex_scan_open(v, q, 1, &sc, err)) return -1;
    int rc = vecindex_scan_topk(sc, 0, k, keep, arg, out, n, err);
    vecindex_scan_close(sc);
    return rc;
}
