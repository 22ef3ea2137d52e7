/* vecindex: see vecindex.h. */
#include "vecindex.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "CSVEC001"

typedef struct hdr {
    char magic[8];
    uint32_t dim, zero;
    int64_t count, last_rowid;
} hdr;

struct vecindex {
    const unsigned char *map; /* file map, or NULL for a memory index */
    size_t maplen;
    int dim;
    size_t rows;
    const float *mat;         /* memory index */
    const int64_t *ids;
};

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

int vecindex_open(store *s, const char *model, vecindex **out, cs_err *err) {
    *out = NULL;
    char dir[4200], path[4600];
    snprintf(dir, sizeof dir, "%s/vectors", store_dir(s));
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return cs_err_set(err, "%s: %s", dir, strerror(errno));
    if (strchr(model, '/')) return cs_err_set(err, "bad model id '%s'", model);
    snprintf(path, sizeof path, "%s/%s.f32", dir, model);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return cs_err_set(err, "%s: %s", path, strerror(errno));
    flock(fd, LOCK_EX); /* one appender at a time, across processes */
    FILE *f = fdopen(fd, "r+b");
    sync_ctx c = {f, {{0}, 0, 0, 0, 0}, 0};
    struct stat st;
    fstat(fd, &st);
    int fresh = st.st_size < (off_t)sizeof(hdr) || fread(&c.h, sizeof c.h, 1, f) != 1 || memcmp(c.h.magic, MAGIC, 8) != 0 ||
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
    int64_t before = c.h.count, last = c.h.last_rowid;
    int rc = store_each_vector(s, model, c.h.last_rowid, append_one, &c, err);
    if (!rc && c.err) rc = cs_err_set(err, "%s: %s", path, strerror(c.err));
    if (!rc && (c.h.count != before || c.h.last_rowid != last || fresh)) {
        fflush(f);
        fdatasync(fd);
        fseek(f, 0, SEEK_SET);
        if (fwrite(&c.h, sizeof c.h, 1, f) != 1) rc = cs_err_set(err, "%s: cannot write the header", path);
        fflush(f);
    }
    vecindex *v = NULL;
    if (!rc) {
        v = calloc(1, sizeof *v);
        fstat(fd, &st);
        v->maplen = (size_t)st.st_size;
        v->dim = (int)c.h.dim;
        v->rows = (size_t)c.h.count;
        void *m = v->maplen ? mmap(NULL, v->maplen, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
        if (m == MAP_FAILED) { free(v); v = NULL; rc = cs_err_set(err, "%s: mmap: %s", path, strerror(errno)); }
        else v->map = m;
    }
    flock(fd, LOCK_UN);
    fclose(f);
    *out = v;
    return rc;
}

vecindex *vecindex_from_memory(const float *mat, const int64_t *ids, size_t rows, int dim) {
    vecindex *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    v->mat = mat;
    v->ids = ids;
    v->rows = rows;
    v->dim = dim;
    return v;
}

void vecindex_close(vecindex *v) {
    if (!v) return;
    if (v->map) munmap((void *)v->map, v->maplen);
    free(v);
}

/* min-heap of (score, entry) */
static void sift_down(vec_hit *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].score < h[m].score) m = l;
        if (r < n && h[r].score < h[m].score) m = r;
        if (m == i) return;
        vec_hit t = h[i]; h[i] = h[m]; h[m] = t;
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

int vecindex_topk(const vecindex *v, const float *q, int k, int (*keep)(int64_t, void *), void *arg, vec_hit **out,
                  size_t *n, cs_err *err) {
    *out = NULL;
    *n = 0;
    if (k <= 0 || v->rows == 0) return 0;
    /* several rows can belong to one entry (text windows): keep extra candidates, then dedupe */
    size_t cap = (size_t)k * 4 + 16;
    vec_hit *h = malloc(cap * sizeof *h);
    if (!h) return cs_err_set(err, "out of memory");
    size_t hn = 0, rec = 8 + 4 * (size_t)v->dim;
    const unsigned char *base = v->map ? v->map + sizeof(hdr) : NULL;
    /* pass 1, parallel: every row's score (memory-bound: both cores stream the matrix);
     * pass 2: filter and select with a bounded min-heap */
    float *sc = malloc(v->rows * sizeof *sc);
    if (!sc) { free(h); return cs_err_set(err, "out of memory"); }
#pragma omp parallel for schedule(static) if (v->rows > 4096)
    for (size_t r = 0; r < v->rows; r++) {
        /* records are 8 + 4 dim bytes after a 32-byte header: the floats are 4-byte aligned */
        const float *row = base ? (const float *)(const void *)(base + r * rec + 8) : v->mat + r * (size_t)v->dim;
        sc[r] = dot(q, row, v->dim);
    }
    for (size_t r = 0; r < v->rows; r++) {
        int64_t id;
        if (base) memcpy(&id, base + r * rec, 8);
        else id = v->ids[r];
        if (hn == cap && sc[r] <= h[0].score) continue;
        if (keep && !keep(id, arg)) continue;
        if (hn < cap) {
            h[hn++] = (vec_hit){id, sc[r]};
            if (hn == cap)
                for (size_t i = cap / 2; i-- > 0;) sift_down(h, hn, i);
        } else {
            h[0] = (vec_hit){id, sc[r]};
            sift_down(h, hn, 0);
        }
    }
    free(sc);
    qsort(h, hn, sizeof *h, by_score_desc);
    size_t m = 0;
    for (size_t i = 0; i < hn && m < (size_t)k; i++) {
        int dup = 0;
        for (size_t j = 0; j < m && !dup; j++) dup = h[j].entry == h[i].entry;
        if (!dup) h[m++] = h[i];
    }
    *out = h;
    *n = m;
    return 0;
}
