/* safetensors: see safetensors.h.
 *
 * Why so much checking: a model file is untrusted input (downloaded, possibly truncated by an
 * interrupted fetch). Every number from the header is range-checked before it is used to form a
 * pointer, and sizes are computed with overflow checks. */
#include "../common/cs_json.h"
#include "safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>

#include "../common/cs_file.h"

/* A header larger than this is refused: real checkpoints have headers of a few hundred KB. */
#define ST_MAX_HEADER (100u << 20)

typedef struct st_shard {
    char *path;
    cs_map map;
} st_shard;

struct st_set {
    st_tensor *t; /* sorted by name */
    size_t n, cap;
    char **names; /* owned name strings, parallel to insertion */
    size_t nnames;
    st_shard *shards;
    size_t nshards;
    void **owned; /* buffers of converted tensors (st_own) */
    size_t nowned;
    uint64_t owned_bytes;
    const char *format; /* static string; NULL = "safetensors" */
    size_t converted;
};

size_t st_dtype_size(st_dtype t) {
    switch (t) {
    case ST_F64:
    case ST_I64: return 8;
    case ST_F32:
    case ST_I32: return 4;
    case ST_F16:
    case ST_BF16:
    case ST_I16: return 2;
    default: return 1;
    }
}

const char *st_dtype_name(st_dtype t) {
    static const char *n[] = {"F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "BOOL"};
    return n[t];
}

static int parse_dtype(const char *s, st_dtype *out) {
    static const struct {
        const char *s;
        st_dtype t;
    } map[] = {{"F32", ST_F32}, {"F16", ST_F16}, {"BF16", ST_BF16}, {"F64", ST_F64}, {"I8", ST_I8},
               {"U8", ST_U8},   {"I16", ST_I16}, {"I32", ST_I32},   {"I64", ST_I64}, {"BOOL", ST_BOOL}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i].s) == 0) {
            *out = map[i].t;
            return 0;
        }
    return -1;
}

static int cmp_tensor(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int set_push_name(st_set *s, const char *name, char **out) {
    char **nn = realloc(s->names, (s->nnames + 1) * sizeof *nn);
    if (!nn) return -1;
    s->names = nn;
    char *d = strdup(name);
    if (!d) return -1;
    s->names[s->nnames++] = d;
    *out = d;
    return 0;
}

/* Parses one file image into the set. `label` is the file name used in messages. */
static int add_buffer(st_set *s, const unsigned char *buf, size_t len, const char *label, cs_err *err) {
    if (len < 8) return cs_err_set(err, "%s: truncated (%zu bytes; no header length)", label, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > ST_MAX_HEADER)
        return cs_err_set(err, "%s: header length %llu is implausible", label, (unsigned long long)hlen);
    if (hlen > len - 8)
        return cs_err_set(err, "%s: truncated (header says %llu bytes, file has %zu)", label, (unsigned long long)hlen,
                          len - 8);
    const unsigned char *data = buf + 8 + hlen;
    size_t dlen = len - 8 - (size_t)hlen;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return cs_err_set(err, "%s: header is not valid JSON (%s)", label, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return cs_err_set(err, "%s: header is not a JSON object", label);
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        st_tensor t;
        memset(&t, 0, sizeof t);
        if (!json_is_object(v)) {
            rc = cs_err_set(err, "%s: tensor '%s': entry is not an object", label, key);
            break;
        }
        json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
               *jo = json_object_get(v, "data_offsets");
        if (!json_is_string(jd) || parse_dtype(json_string_value(jd), &t.dtype) != 0) {
            rc = cs_err_set(err, "%s: tensor '%s': missing or unknown dtype", label, key);
            break;
        }
        if (!json_is_array(js) || json_array_size(js) > ST_MAX_DIMS) {
            rc = cs_err_set(err, "%s: tensor '%s': bad shape", label, key);
            break;
        }
        t.ndim = (int)json_array_size(js);
        uint64_t numel = 1;
        int bad = 0;
        for (int i = 0; i < t.ndim; i++) {
            json_t *d = json_array_get(js, (size_t)i);
            if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > (1LL << 40)) {
                bad = 1;
                break;
            }
            t.shape[i] = json_integer_value(d);
            if (t.shape[i] != 0 && numel > (UINT64_MAX / 16) / (uint64_t)t.shape[i]) {
                bad = 1;
                break;
            }
            numel *= (uint64_t)t.shape[i];
        }
        if (bad) {
            rc = cs_err_set(err, "%s: tensor '%s': bad shape", label, key);
            break;
        }
        if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_is_integer(json_array_get(jo, 0)) ||
            !json_is_integer(json_array_get(jo, 1))) {
            rc = cs_err_set(err, "%s: tensor '%s': bad data_offsets", label, key);
            break;
        }
        json_int_t b = json_integer_value(json_array_get(jo, 0)), e = json_integer_value(json_array_get(jo, 1));
        uint64_t want = numel * st_dtype_size(t.dtype);
        if (b < 0 || e < b || (uint64_t)e > dlen) {
            rc = cs_err_set(err,
                            "%s: tensor '%s': data_offsets [%lld, %lld] outside the %zu data bytes (truncated file?)",
                            label, key, (long long)b, (long long)e, dlen);
            break;
        }
        if ((uint64_t)(e - b) != want) {
            rc = cs_err_set(err, "%s: tensor '%s': %lld bytes for %llu elements of %s", label, key, (long long)(e - b),
                            (unsigned long long)numel, st_dtype_name(t.dtype));
            break;
        }
        t.numel = (int64_t)numel;
        t.nbytes = (size_t)want;
        t.data = data + b;
        t.file = label;
        char *nm;
        if (set_push_name(s, key, &nm) != 0) {
            rc = cs_err_set(err, "%s: out of memory", label);
            break;
        }
        t.name = nm;
        if (s->n == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 64;
            st_tensor *nt = realloc(s->t, nc * sizeof *nt);
            if (!nt) {
                rc = cs_err_set(err, "%s: out of memory", label);
                break;
            }
            s->t = nt;
            s->cap = nc;
        }
        s->t[s->n++] = t;
    }
    json_decref(root);
    return rc;
}

static int finish(st_set *s, cs_err *err) {
    if (s->n) qsort(s->t, s->n, sizeof *s->t, cmp_tensor);
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->t[i - 1].name, s->t[i].name) == 0)
            return cs_err_set(err, "tensor '%s' appears twice (in %s and %s)", s->t[i].name, s->t[i - 1].file,
                              s->t[i].file);
    return 0;
}

int st_open_buffer(const unsigned char *buf, size_t len, const char *label, st_set **out, cs_err *err) {
    *out = NULL;
    st_set *s = calloc(1, sizeof *s);
    if (!s) return cs_errc(err, CS_ENOMEM, "out of memory");
    if (add_buffer(s, buf, len, label, err) != 0 || finish(s, err) != 0) {
        st_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int add_shard(st_set *s, const char *path, cs_err *err) {
    const unsigned char *data = NULL;
    size_t len = 0;
    const char *label = NULL;
    if (st_add_file(s, path, &data, &len, &label, err) != 0) return -1;
    return add_buffer(s, data, len, label, err);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int st_open_index(st_set *s, const char *path, st_add_shard_fn add, cs_err *err) {
    json_t *root = cs_json_read_object(path, 64u << 20, err);
    if (!root) return -1;
    json_t *wm = json_object_get(root, "weight_map");
    int rc = 0;
    if (!json_is_object(wm)) {
        json_decref(root);
        return cs_err_set(err, "%s: no \"weight_map\" object", path);
    }
    char *dir = strdup(path);
    if (!dir) {
        json_decref(root);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        strcpy(dir, ".");
    const char *key;
    json_t *v;
    /* Open each distinct shard once, in order of first mention. */
    json_object_foreach(wm, key, v) {
        if (!json_is_string(v)) {
            rc = cs_err_set(err, "%s: weight_map['%s'] is not a file name", path, key);
            break;
        }
        const char *f = json_string_value(v);
        if (strchr(f, '/') || strcmp(f, "..") == 0 || f[0] == 0) {
            rc = cs_err_set(err, "%s: weight_map['%s'] names '%s', which is not a plain file name", path, key, f);
            break;
        }
        char *full = cs_path_join(dir, f);
        if (!full) {
            rc = cs_errc(err, CS_ENOMEM, "out of memory");
            break;
        }
        int seen = 0;
        for (size_t i = 0; i < s->nshards; i++)
            if (strcmp(s->shards[i].path, full) == 0) seen = 1;
        if (!seen) rc = add(s, full, err);
        free(full);
        if (rc) break;
    }
    if (rc == 0) rc = finish(s, err);
    /* Every tensor the index promises must be in the shard it names. */
    if (rc == 0) {
        json_object_foreach(wm, key, v) {
            const st_tensor *t = st_find(s, key);
            if (!t) {
                rc = cs_err_set(err, "%s: tensor '%s' is listed in the index but in no shard", path, key);
                break;
            }
            if (!ends_with(t->file, json_string_value(v))) {
                rc = cs_err_set(err, "%s: tensor '%s' is in %s, not %s", path, key, t->file, json_string_value(v));
                break;
            }
        }
    }
    free(dir);
    json_decref(root);
    return rc;
}

int st_open(const char *path, st_set **out, cs_err *err) {
    *out = NULL;
    st_set *s = calloc(1, sizeof *s);
    if (!s) return cs_errc(err, CS_ENOMEM, "out of memory");
    int rc = ends_with(path, ".json") ? st_open_index(s, path, add_shard, err) : add_shard(s, path, err);
    if (rc == 0 && !ends_with(path, ".json")) rc = finish(s, err);
    if (rc != 0) {
        st_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void st_close(st_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nowned; i++) free(s->owned[i]);
    free(s->owned);
    for (size_t i = 0; i < s->nshards; i++) {
        cs_unmap(&s->shards[i].map);
        free(s->shards[i].path);
    }
    for (size_t i = 0; i < s->nnames; i++) free(s->names[i]);
    free(s->names);
    free(s->shards);
    free(s->t);
    free(s);
}

const st_tensor *st_find(const st_set *s, const char *name) {
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->t[mid].name, name);
        if (c == 0) return &s->t[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t st_count(const st_set *s) { return s->n; }
const st_tensor *st_at(const st_set *s, size_t i) { return i < s->n ? &s->t[i] : NULL; }

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, f;
    if (exp == 0) {
        if (man == 0)
            f = sign;
        else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ff;
            f = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31)
        f = sign | 0x7f800000u | (man << 13);
    else
        f = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float r;
    memcpy(&r, &f, 4);
    return r;
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t f = (uint32_t)h << 16;
    float r;
    memcpy(&r, &f, 4);
    return r;
}

int st_to_f32(const st_tensor *t, float *dst) {
    const unsigned char *p = t->data;
    size_t es = st_dtype_size(t->dtype);
    for (int64_t i = 0; i < t->numel; i++, p += es) {
        switch (t->dtype) {
        case ST_F32: memcpy(&dst[i], p, 4); break;
        case ST_F16: {
            uint16_t h;
            memcpy(&h, p, 2);
            dst[i] = st_f16_to_f32(h);
            break;
        }
        case ST_BF16: {
            uint16_t h;
            memcpy(&h, p, 2);
            dst[i] = st_bf16_to_f32(h);
            break;
        }
        case ST_F64: {
            double d;
            memcpy(&d, p, 8);
            dst[i] = (float)d;
            break;
        }
        case ST_I32: {
            int32_t v;
            memcpy(&v, p, 4);
            dst[i] = (float)v;
            break;
        }
        case ST_I64: {
            int64_t v;
            memcpy(&v, p, 8);
            dst[i] = (float)v;
            break;
        }
        case ST_I16: {
            int16_t v;
            memcpy(&v, p, 2);
            dst[i] = (float)v;
            break;
        }
        case ST_I8: dst[i] = (float)(int8_t)*p; break;
        case ST_U8:
        case ST_BOOL: dst[i] = (float)*p; break;
        default: return -1;
        }
    }
    return 0;
}

uint64_t st_resident_bytes(const st_set *s) {
    /* Rss of our own mappings (pages this process has mapped in), from /proc/self/smaps. mincore
     * would also count pages that are merely in the page cache, which says nothing about us. */
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return 0;
    char line[512];
    uint64_t total = 0;
    int in_ours = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, ' ') && line[0] != 'R') {
            in_ours = 0;
            for (size_t i = 0; i < s->nshards; i++)
                if (s->shards[i].map.data && (unsigned long)(uintptr_t)s->shards[i].map.data == lo) in_ours = 1;
            continue;
        }
        unsigned long kb;
        if (in_ours && sscanf(line, "Rss: %lu kB", &kb) == 1) total += (uint64_t)kb * 1024;
    }
    fclose(f);
    return total + s->owned_bytes; /* converted copies are resident once written */
}

void st_release(const st_set *s, const st_tensor *t) {
    if (!s || !t || !t->nbytes) return;
    uintptr_t lo = (uintptr_t)t->data, hi = lo + t->nbytes, pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < s->nshards; i++) {
        uintptr_t mlo = (uintptr_t)s->shards[i].map.data, mhi = mlo + s->shards[i].map.len;
        if (!s->shards[i].map.data || lo < mlo || hi > mhi) continue;
        /* only pages wholly inside the tensor: a neighbour may still be in use */
        uintptr_t a = (lo + pg - 1) & ~(pg - 1), b = hi & ~(pg - 1);
        if (b > a) madvise((void *)a, b - a, MADV_DONTNEED);
        return;
    }
}

uint64_t st_file_bytes(const st_set *s) {
    uint64_t total = 0;
    for (size_t i = 0; i < s->nshards; i++) total += s->shards[i].map.len;
    return total;
}

/* ---- building a set from another format ---- */

int st_new(st_set **out, cs_err *err) {
    *out = calloc(1, sizeof **out);
    return *out ? 0 : cs_errc(err, CS_ENOMEM, "out of memory");
}

int st_add_file(st_set *s, const char *path, const unsigned char **data, size_t *len, const char **label, cs_err *err) {
    st_shard *ns = realloc(s->shards, (s->nshards + 1) * sizeof *ns);
    if (!ns) return cs_errc(err, CS_ENOMEM, "out of memory");
    s->shards = ns;
    st_shard *sh = &s->shards[s->nshards];
    memset(sh, 0, sizeof *sh);
    sh->path = strdup(path);
    if (!sh->path) return cs_errc(err, CS_ENOMEM, "out of memory");
    s->nshards++;
    if (cs_map_file(path, &sh->map, err) != 0) return -1;
    *data = sh->map.data;
    *len = sh->map.len;
    *label = sh->path;
    return 0;
}

void *st_own(st_set *s, size_t bytes) {
    void **no = realloc(s->owned, (s->nowned + 1) * sizeof *no);
    if (!no) return NULL;
    s->owned = no;
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p) return NULL;
    s->owned[s->nowned++] = p;
    s->owned_bytes += bytes;
    return p;
}

int st_add_tensor(st_set *s, const st_tensor *t, cs_err *err) {
    if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
        return cs_err_set(err, "%s: tensor '%s': %d dimensions (at most %d)", t->file, t->name, t->ndim, ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 0 || t->shape[i] > (1LL << 40) ||
            (t->shape[i] && numel > (UINT64_MAX / 16) / (uint64_t)t->shape[i]))
            return cs_err_set(err, "%s: tensor '%s': bad shape", t->file, t->name);
        numel *= (uint64_t)t->shape[i];
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        st_tensor *nt = realloc(s->t, nc * sizeof *nt);
        if (!nt) return cs_errc(err, CS_ENOMEM, "out of memory");
        s->t = nt;
        s->cap = nc;
    }
    st_tensor c = *t;
    c.numel = (int64_t)numel;
    c.nbytes = (size_t)(numel * st_dtype_size(t->dtype));
    char *nm;
    if (set_push_name(s, t->name, &nm) != 0) return cs_errc(err, CS_ENOMEM, "out of memory");
    c.name = nm;
    s->t[s->n++] = c;
    return 0;
}

int st_seal(st_set *s, cs_err *err) { return finish(s, err); }

const char *st_format(const st_set *s) { return s->format ? s->format : "safetensors"; }
void st_set_format(st_set *s, const char *format) { s->format = format; }
size_t st_converted(const st_set *s) { return s->converted; }
void st_note_converted(st_set *s) { s->converted++; }
