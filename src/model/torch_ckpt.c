/* torch_ckpt: see torch_ckpt.h.
 *
 * The zip container is read by a small reader of its own (end-of-central-directory record, zip64
 * records, central directory, local headers) rather than libzip or zlib's minizip: both hand out
 * an entry's bytes only by reading (and, for libzip, copying) them through their own file API, while
 * the point here is to use the stored entries in place inside our read-only map, so that a tower's
 * weights are read from disk only when that tower runs. torch.save writes every entry stored (no
 * compression, 64-byte aligned data), so a reader of stored entries covers every real checkpoint;
 * a compressed entry is refused with a clear message. CRC-32s are not checked: that would read
 * every page of a 600 MB file at load; a truncated file is caught by the offsets instead.
 *
 * Layout details reproduced from PyTorch's torch/serialization.py (_save, _legacy_save,
 * _load, _legacy_load) and the zip spec (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.14-16, 4.5.3). */
#include "torch_ckpt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pickle.h"

#define TC_MAX_ENTRIES (1u << 20)
#define TC_MAX_NUMEL   (1LL << 40)

typedef struct zentry {
    const char *name; /* into the map; not NUL-terminated */
    size_t nlen;
    const unsigned char *data;
    uint64_t size;
    int method;
} zentry;

/* One storage of a legacy file: its key, dtype and length from the pickle, its bytes from the
 * tail of the file. */
typedef struct lstore {
    const char *key;
    st_dtype dtype;
    uint64_t numel;
    const unsigned char *data;
} lstore;

typedef struct ctx {
    st_set *s;
    const char *label;
    cs_err *err;
    int legacy;
    zentry *z; /* zip: sorted by name */
    size_t nz;
    const char *prefix; /* zip: "folder/" of data.pkl (into the map) */
    size_t plen;
    lstore *ls; /* legacy */
    size_t nls;
    size_t len;      /* the file's bytes */
    uint64_t copied; /* bytes of strided views copied so far */
} ctx;

/* A tensor as _rebuild_tensor_v2's arguments describe it. */
typedef struct targs {
    const char *name;
    st_dtype dtype;
    const char *key;
    uint64_t storage_numel;
    uint64_t view_offset; /* legacy storage views: elements into the root storage */
    int64_t offset;
    int ndim;
    int64_t size[ST_MAX_DIMS], stride[ST_MAX_DIMS];
} targs;

static uint64_t rd(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ---------------- zip ---------------- */

static int cmp_entry(const void *a, const void *b) {
    const zentry *x = a, *y = b;
    size_t n = x->nlen < y->nlen ? x->nlen : y->nlen;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->nlen > y->nlen) - (x->nlen < y->nlen);
}

static const zentry *zfind(const ctx *c, const char *name, size_t nlen) {
    zentry key = {.name = name, .nlen = nlen};
    return bsearch(&key, c->z, c->nz, sizeof *c->z, cmp_entry);
}

static int zip_read(ctx *c, const unsigned char *buf, size_t len) {
    const char *L = c->label;
    if (len < 22) return cs_err_set(c->err, "%s: truncated zip (%zu bytes)", L, len);
    /* The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KB. */
    size_t eocd = SIZE_MAX;
    for (size_t i = len - 22 + 1, stop = len > 22 + 65535 ? len - 22 - 65535 : 0; i-- > stop;)
        if (rd(buf + i, 4) == 0x06054b50 && i + 22 + rd(buf + i + 20, 2) <= len) {
            eocd = i;
            break;
        }
    if (eocd == SIZE_MAX)
        return cs_err_set(c->err, "%s: truncated zip (no end-of-central-directory record: the file was cut short?)", L);
    uint64_t total = rd(buf + eocd + 10, 2), cdsize = rd(buf + eocd + 12, 4), cdoff = rd(buf + eocd + 16, 4);
    if (total == 0xFFFF || cdsize == 0xFFFFFFFF || cdoff == 0xFFFFFFFF) { /* zip64 */
        if (eocd < 20 || rd(buf + eocd - 20, 4) != 0x07064b50)
            return cs_err_set(c->err, "%s: zip64 record locator missing (truncated?)", L);
        uint64_t z = rd(buf + eocd - 20 + 8, 8);
        if (z > len || len - z < 56 || rd(buf + z, 4) != 0x06064b50)
            return cs_err_set(c->err, "%s: zip64 end-of-central-directory record is outside the file (truncated?)", L);
        total = rd(buf + z + 32, 8);
        cdsize = rd(buf + z + 40, 8);
        cdoff = rd(buf + z + 48, 8);
    }
    if (cdoff > len || cdsize > len - cdoff)
        return cs_err_set(c->err, "%s: zip central directory lies outside the file (truncated?)", L);
    if (total > TC_MAX_ENTRIES || total > cdsize / 46)
        return cs_err_set(c->err, "%s: zip says %llu entries, which its directory cannot hold", L,
                          (unsigned long long)total);
    c->z = calloc(total ? total : 1, sizeof *c->z);
    if (!c->z) return cs_err_set(c->err, "out of memory");
    const unsigned char *cd = buf + cdoff;
    size_t at = 0;
    for (uint64_t i = 0; i < total; i++) {
        if (cdsize - at < 46 || rd(cd + at, 4) != 0x02014b50)
            return cs_err_set(c->err, "%s: zip central directory entry %llu is damaged", L, (unsigned long long)i);
        const unsigned char *e = cd + at;
        size_t nl = rd(e + 28, 2), xl = rd(e + 30, 2), cl = rd(e + 32, 2);
        if (cdsize - at - 46 < nl + xl + cl)
            return cs_err_set(c->err, "%s: zip central directory entry %llu runs past the directory", L,
                              (unsigned long long)i);
        zentry *z = &c->z[c->nz];
        z->name = (const char *)e + 46;
        z->nlen = nl;
        z->method = (int)rd(e + 10, 2);
        uint64_t csize = rd(e + 20, 4), usize = rd(e + 24, 4), lho = rd(e + 42, 4);
        /* zip64 extended information (id 1): the 8-byte values of the fields that are 0xFFFFFFFF, in
         * this order */
        for (size_t x = 0; x + 4 <= xl;) {
            const unsigned char *f = e + 46 + nl + x;
            size_t id = rd(f, 2), fl = rd(f + 2, 2), q = 4;
            if (x + 4 + fl > xl) break;
            if (id == 1) {
                if (usize == 0xFFFFFFFF && q + 8 <= 4 + fl) {
                    usize = rd(f + q, 8);
                    q += 8;
                }
                if (csize == 0xFFFFFFFF && q + 8 <= 4 + fl) {
                    csize = rd(f + q, 8);
                    q += 8;
                }
                if (lho == 0xFFFFFFFF && q + 8 <= 4 + fl) {
                    lho = rd(f + q, 8);
                    q += 8;
                }
            }
            x += 4 + fl;
        }
        at += 46 + nl + xl + cl;
        if (lho > len || len - lho < 30 || rd(buf + lho, 4) != 0x04034b50)
            return cs_err_set(c->err, "%s: zip entry '%.*s': local header outside the file (truncated?)", L, (int)nl,
                              z->name);
        uint64_t data = lho + 30 + rd(buf + lho + 26, 2) + rd(buf + lho + 28, 2);
        if (data > len || csize > len - data)
            return cs_err_set(c->err,
                              "%s: zip entry '%.*s': %llu bytes at offset %llu run past the end of the file "
                              "(truncated)",
                              L, (int)nl, z->name, (unsigned long long)csize, (unsigned long long)data);
        if (z->method == 0 && csize != usize)
            return cs_err_set(c->err, "%s: zip entry '%.*s': stored, yet its sizes differ", L, (int)nl, z->name);
        z->data = buf + data;
        z->size = z->method == 0 ? usize : csize;
        c->nz++;
    }
    qsort(c->z, c->nz, sizeof *c->z, cmp_entry);
    for (size_t i = 1; i < c->nz; i++)
        if (cmp_entry(&c->z[i - 1], &c->z[i]) == 0)
            return cs_err_set(c->err, "%s: zip entry '%.*s' appears twice", L, (int)c->z[i].nlen, c->z[i].name);
    return 0;
}

/* Entry `<prefix>rest`, or NULL. */
static const zentry *zfind_in(const ctx *c, const char *rest) {
    char name[512];
    size_t rl = strlen(rest);
    if (c->plen + rl > sizeof name) return NULL;
    memcpy(name, c->prefix, c->plen);
    memcpy(name + c->plen, rest, rl);
    return zfind(c, name, c->plen + rl);
}

static int stored(const ctx *c, const zentry *z) {
    if (z->method == 0) return 0;
    return cs_err_set(c->err,
                      "%s: zip entry '%.*s' is compressed (method %d); torch.save writes stored entries only, "
                      "so this file was repacked: refusing it (unzip and re-zip with -0, or save it again)",
                      c->label, (int)z->nlen, z->name, z->method);
}

/* ---------------- the state dict ---------------- */

static int storage_dtype(pk_global g, st_dtype *out) {
    switch (g) {
    case PK_G_FLOAT_STORAGE: *out = ST_F32; return 0;
    case PK_G_HALF_STORAGE: *out = ST_F16; return 0;
    case PK_G_BFLOAT16_STORAGE: *out = ST_BF16; return 0;
    case PK_G_DOUBLE_STORAGE: *out = ST_F64; return 0;
    case PK_G_LONG_STORAGE: *out = ST_I64; return 0;
    case PK_G_INT_STORAGE: *out = ST_I32; return 0;
    case PK_G_SHORT_STORAGE: *out = ST_I16; return 0;
    case PK_G_CHAR_STORAGE: *out = ST_I8; return 0;
    case PK_G_BYTE_STORAGE: *out = ST_U8; return 0;
    case PK_G_BOOL_STORAGE: *out = ST_BOOL; return 0;
    default: return -1;
    }
}

static int is_int(const pk_val *v, int64_t lo, int64_t hi) {
    return v && v->type == PK_INT && v->i >= lo && v->i <= hi;
}

#define TERR(...) cs_err_set(c->err, __VA_ARGS__)

/* Checks one state-dict entry and extracts what _rebuild_tensor_v2 would be given. */
static int tensor_args(const ctx *c, const pk_val *key, const pk_val *val, targs *t) {
    memset(t, 0, sizeof *t);
    if (key->type != PK_STR) return TERR("%s: state dict key is a %s, not a name", c->label, pk_type_name(key->type));
    t->name = key->s;
    const char *L = c->label, *N = t->name;
    if (val->type == PK_CALL && val->v[0]->g == PK_G_REBUILD_PARAMETER) { /* (tensor, requires_grad, hooks) */
        const pk_val *a = val->v[1];
        if (a->n < 1) return TERR("%s: tensor '%s': _rebuild_parameter without a tensor", L, N);
        val = a->v[0];
    }
    if (val->type != PK_CALL || val->v[0]->g != PK_G_REBUILD_TENSOR_V2)
        return TERR("%s: tensor '%s': the value is a %s, not a tensor", L, N,
                    val->type == PK_CALL ? val->v[0]->s : pk_type_name(val->type));
    /* (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
    const pk_val *a = val->v[1];
    if (a->n < 4 || a->v[0]->type != PK_PERSID)
        return TERR("%s: tensor '%s': _rebuild_tensor_v2 arguments are not (storage, offset, size, stride, ...)", L, N);
    const pk_val *pid = a->v[0]->v[0];
    /* zip: ('storage', type, key, location, numel); legacy: the same plus view metadata */
    if (pid->type != PK_TUPLE || pid->n < 5 || pid->v[0]->type != PK_STR || strcmp(pid->v[0]->s, "storage") ||
        pid->v[1]->type != PK_GLOBAL || storage_dtype(pid->v[1]->g, &t->dtype) || pid->v[2]->type != PK_STR ||
        !is_int(pid->v[4], 0, TC_MAX_NUMEL))
        return TERR("%s: tensor '%s': its storage reference is not ('storage', <type>Storage, key, location, size)", L,
                    N);
    t->key = pid->v[2]->s;
    t->storage_numel = (uint64_t)pid->v[4]->i;
    if (pid->n >= 6 && pid->v[5]->type != PK_NONE) { /* legacy storage view: (view_key, offset, size) */
        const pk_val *vm = pid->v[5];
        if (!c->legacy || vm->type != PK_TUPLE || vm->n != 3 || !is_int(vm->v[1], 0, TC_MAX_NUMEL) ||
            !is_int(vm->v[2], 0, TC_MAX_NUMEL))
            return TERR("%s: tensor '%s': bad storage view", L, N);
        if ((uint64_t)vm->v[1]->i + (uint64_t)vm->v[2]->i > t->storage_numel)
            return TERR("%s: tensor '%s': storage view outside its storage", L, N);
        t->view_offset = (uint64_t)vm->v[1]->i;
        t->storage_numel = (uint64_t)vm->v[2]->i;
    }
    const pk_val *off = a->v[1], *sz = a->v[2], *st = a->v[3];
    if (!is_int(off, 0, TC_MAX_NUMEL)) return TERR("%s: tensor '%s': bad storage offset", L, N);
    t->offset = off->i;
    if (sz->type != PK_TUPLE || st->type != PK_TUPLE || sz->n != st->n || sz->n > ST_MAX_DIMS)
        return TERR("%s: tensor '%s': size and stride are not tuples of the same length (at most %d)", L, N,
                    ST_MAX_DIMS);
    t->ndim = (int)sz->n;
    for (int i = 0; i < t->ndim; i++) {
        if (!is_int(sz->v[i], 0, TC_MAX_NUMEL) || !is_int(st->v[i], 0, TC_MAX_NUMEL))
            return TERR("%s: tensor '%s': size or stride %d is not a plausible non-negative integer", L, N, i);
        t->size[i] = sz->v[i]->i;
        t->stride[i] = st->v[i]->i;
    }
    return 0;
}

static const lstore *lfind(const ctx *c, const char *key) {
    for (size_t i = 0; i < c->nls; i++)
        if (strcmp(c->ls[i].key, key) == 0) return &c->ls[i];
    return NULL;
}

/* The first byte of a tensor's storage, after checking that the file holds all of the storage. */
static int storage_of(const ctx *c, const targs *t, const unsigned char **base) {
    size_t es = st_dtype_size(t->dtype);
    if (c->legacy) {
        const lstore *l = lfind(c, t->key);
        if (!l || !l->data)
            return TERR("%s: tensor '%s': storage '%s' has no data in the file", c->label, t->name, t->key);
        *base = l->data + t->view_offset * es;
        return 0;
    }
    char rest[300];
    if (strlen(t->key) > 256) return TERR("%s: tensor '%s': storage key too long", c->label, t->name);
    snprintf(rest, sizeof rest, "data/%s", t->key);
    const zentry *z = zfind_in(c, rest);
    if (!z)
        return TERR("%s: tensor '%s': storage '%s' (entry %.*s%s) is missing", c->label, t->name, t->key, (int)c->plen,
                    c->prefix, rest);
    if (stored(c, z)) return -1;
    if (z->size < t->storage_numel * es)
        return TERR("%s: tensor '%s': storage '%s' holds %llu bytes, but %llu %s elements need %llu (short storage)",
                    c->label, t->name, t->key, (unsigned long long)z->size, (unsigned long long)t->storage_numel,
                    st_dtype_name(t->dtype), (unsigned long long)(t->storage_numel * es));
    *base = z->data;
    return 0;
}

/* Adds one tensor: in place when its view is contiguous, else gathered into an owned buffer. */
static int add_tensor(ctx *c, const targs *t) {
    const unsigned char *base = NULL;
    if (storage_of(c, t, &base)) return -1;
    size_t es = st_dtype_size(t->dtype);
    uint64_t numel = 1, last = (uint64_t)t->offset;
    int contiguous = 1;
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (__builtin_mul_overflow(numel, (uint64_t)t->size[i], &numel) || numel > (uint64_t)TC_MAX_NUMEL)
            return TERR("%s: tensor '%s': too many elements", c->label, t->name);
        if (t->size[i] != 1 && t->stride[i] != expect) contiguous = 0;
        /* an overflow only happens alongside a zero size (numel is bounded above), and an empty
         * tensor is taken in place whatever its strides */
        if (__builtin_mul_overflow(expect, t->size[i] ? t->size[i] : 1, &expect)) contiguous = 0;
    }
    if (numel) {
        for (int i = 0; i < t->ndim; i++) {
            uint64_t span;
            if (__builtin_mul_overflow((uint64_t)(t->size[i] - 1), (uint64_t)t->stride[i], &span) ||
                __builtin_add_overflow(last, span, &last))
                return TERR("%s: tensor '%s': view overflows", c->label, t->name);
        }
        if (last >= t->storage_numel)
            return TERR("%s: tensor '%s': its view reaches element %llu, but storage '%s' has %llu elements (short "
                        "storage or inconsistent file)",
                        c->label, t->name, (unsigned long long)last, t->key, (unsigned long long)t->storage_numel);
    }
    st_tensor o;
    memset(&o, 0, sizeof o);
    o.name = t->name;
    o.file = c->label;
    o.dtype = t->dtype;
    o.ndim = t->ndim;
    for (int i = 0; i < t->ndim; i++) o.shape[i] = t->size[i];
    if (contiguous || !numel) {
        o.data = base + (size_t)t->offset * es;
        return st_add_tensor(c->s, &o, c->err);
    }
    /* A strided view: copied once, in row-major order, as the model code expects it. The copies
     * may not exceed the file's own bytes: a view that repeats storage elements (stride 0, as
     * expand() makes, or overlapping strides) or many views of one storage would otherwise turn
     * a small file into gigabytes of memory, while a real one (a transposed weight) copies each
     * element of its storage once. */
    if (numel * es > c->len - c->copied)
        return TERR("%s: tensor '%s': copying its strided view (%llu elements over a storage of %llu) would need "
                    "more bytes than the file holds: refused",
                    c->label, t->name, (unsigned long long)numel, (unsigned long long)t->storage_numel);
    c->copied += numel * es;
    unsigned char *dst = st_own(c->s, (size_t)numel * es);
    if (!dst) return TERR("%s: tensor '%s': out of memory copying a strided view", c->label, t->name);
    int64_t idx[ST_MAX_DIMS] = {0};
    uint64_t src = (uint64_t)t->offset;
    for (uint64_t k = 0; k < numel; k++) {
        memcpy(dst + k * es, base + src * es, es);
        for (int i = t->ndim - 1; i >= 0; i--) { /* odometer: the last index moves fastest */
            if (++idx[i] < t->size[i]) {
                src += (uint64_t)t->stride[i];
                break;
            }
            src -= (uint64_t)t->stride[i] * (uint64_t)(t->size[i] - 1);
            idx[i] = 0;
        }
    }
    o.data = dst;
    st_note_converted(c->s);
    return st_add_tensor(c->s, &o, c->err);
}

/* Legacy files: remembers each storage the state dict names (key, dtype, length). */
static int note_storage(ctx *c, const targs *t) {
    uint64_t root_numel = t->storage_numel + t->view_offset; /* a view's root is at least this long */
    for (size_t i = 0; i < c->nls; i++)
        if (strcmp(c->ls[i].key, t->key) == 0) {
            if (c->ls[i].dtype != t->dtype)
                return TERR("%s: tensor '%s': storage '%s' is used as both %s and %s", c->label, t->name, t->key,
                            st_dtype_name(c->ls[i].dtype), st_dtype_name(t->dtype));
            if (root_numel > c->ls[i].numel) c->ls[i].numel = root_numel;
            return 0;
        }
    lstore *n = realloc(c->ls, (c->nls + 1) * sizeof *n);
    if (!n) return TERR("out of memory");
    c->ls = n;
    c->ls[c->nls++] = (lstore){t->key, t->dtype, root_numel, NULL};
    return 0;
}

/* Walks the state dict; pass 0 only notes legacy storages, pass 1 adds the tensors. */
static int walk(ctx *c, const pk_val *root, int pass) {
    if (root->type != PK_DICT)
        return TERR("%s: the pickle holds a %s, not a state dict", c->label, pk_type_name(root->type));
    for (size_t i = 0; i + 1 < root->n; i += 2) {
        targs t;
        if (tensor_args(c, root->v[i], root->v[i + 1], &t)) return -1;
        if (pass == 0 ? note_storage(c, &t) : add_tensor(c, &t)) return -1;
    }
    return 0;
}

static int open_zip(ctx *c, const unsigned char *buf, size_t len) {
    if (zip_read(c, buf, len)) return -1;
    /* data.pkl in one top-level folder of any name (it follows the file name and torch version) */
    const zentry *pkl = NULL;
    for (size_t i = 0; i < c->nz; i++) {
        const zentry *z = &c->z[i];
        const char *slash = memchr(z->name, '/', z->nlen);
        if (slash && z->nlen - (size_t)(slash - z->name) == sizeof "/data.pkl" - 1 &&
            memcmp(slash, "/data.pkl", sizeof "/data.pkl" - 1) == 0) {
            if (pkl) return TERR("%s: zip holds more than one data.pkl", c->label);
            pkl = z;
        }
    }
    if (!pkl) return TERR("%s: zip has no <folder>/data.pkl: not a PyTorch checkpoint", c->label);
    c->prefix = pkl->name;
    c->plen = pkl->nlen - (sizeof "data.pkl" - 1);
    if (stored(c, pkl)) return -1;
    const zentry *bo = zfind_in(c, "byteorder");
    if (bo && (stored(c, bo) || !(bo->size == 6 && memcmp(bo->data, "little", 6) == 0)))
        return TERR("%s: checkpoint byte order is not little-endian: not supported", c->label);
    pk_doc *d;
    const pk_val *root;
    char lbl[600];
    snprintf(lbl, sizeof lbl, "%s: %.*s", c->label, (int)pkl->nlen, pkl->name);
    if (pk_load(pkl->data, (size_t)pkl->size, lbl, &d, &root, NULL, c->err)) return -1;
    int rc = walk(c, root, 1);
    pk_free(d);
    return rc;
}

static int open_legacy(ctx *c, const unsigned char *buf, size_t len) {
    /* torch/serialization.py MAGIC_NUMBER = 0x1950a86a20f9469cfc6c, as pickle's LONG1 bytes */
    static const unsigned char magic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    pk_doc *d[5] = {0};
    const pk_val *v[5];
    size_t at = 0, used;
    int rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++) {
        rc = pk_load(buf + at, len - at, c->label, &d[i], &v[i], &used, c->err);
        if (rc == 0) at += used;
        if (rc && i == 0) { /* neither a zip nor a legacy file: say so rather than a pickle detail */
            char why[sizeof c->err->msg];
            snprintf(why, sizeof why, "%s", c->err ? c->err->msg : "");
            rc = TERR("%s: not a PyTorch checkpoint (no zip signature, and no legacy magic number: %s)", c->label, why);
        } else if (rc == 0 && i == 0 &&
                   !(v[0]->type == PK_BIGINT && v[0]->len == sizeof magic && memcmp(v[0]->s, magic, sizeof magic) == 0))
            rc = TERR("%s: not a PyTorch checkpoint (no zip signature, and the first pickle is a %s, not torch's "
                      "magic number)",
                      c->label, pk_type_name(v[0]->type));
        else if (rc == 0 && i == 1 && !is_int(v[1], 1001, 1001))
            rc = TERR("%s: legacy checkpoint protocol version is not 1001", c->label);
        else if (rc == 0 && i == 2) { /* system info: refuse big-endian files */
            if (v[2]->type != PK_DICT) rc = TERR("%s: legacy checkpoint system info is not a dict", c->label);
            for (size_t k = 0; rc == 0 && k + 1 < v[2]->n; k += 2)
                if (v[2]->v[k]->type == PK_STR && strcmp(v[2]->v[k]->s, "little_endian") == 0 &&
                    !(v[2]->v[k + 1]->type == PK_BOOL && v[2]->v[k + 1]->i))
                    rc = TERR("%s: checkpoint byte order is not little-endian: not supported", c->label);
        } else if (rc == 0 && i == 3)
            rc = walk(c, v[3], 0);
    }
    /* the storages, in the order of the key list: u64 element count, then the bytes */
    if (rc == 0 && v[4]->type != PK_LIST) rc = TERR("%s: legacy checkpoint storage key list is not a list", c->label);
    for (size_t k = 0; rc == 0 && k < v[4]->n; k++) {
        const pk_val *key = v[4]->v[k];
        lstore *l = key->type == PK_STR ? (lstore *)lfind(c, key->s) : NULL;
        if (!l) {
            rc = TERR("%s: storage key %zu is not one the state dict uses", c->label, k);
            break;
        }
        if (l->data) {
            rc = TERR("%s: storage '%s' is listed twice", c->label, l->key);
            break;
        }
        size_t es = st_dtype_size(l->dtype);
        if (len - at < 8) {
            rc = TERR("%s: truncated: storage '%s' is missing", c->label, l->key);
            break;
        }
        uint64_t n = rd(buf + at, 8);
        at += 8;
        if (n < l->numel) {
            rc = TERR("%s: storage '%s' has %llu elements, but its tensors need %llu (short storage)", c->label, l->key,
                      (unsigned long long)n, (unsigned long long)l->numel);
            break;
        }
        if (n > (uint64_t)TC_MAX_NUMEL || n * es > len - at) {
            rc = TERR("%s: truncated: storage '%s' needs %llu bytes, %zu are left", c->label, l->key,
                      (unsigned long long)(n * es), len - at);
            break;
        }
        l->data = buf + at;
        at += (size_t)(n * es);
    }
    if (rc == 0) rc = walk(c, v[3], 1);
    for (int i = 0; i < 5; i++) pk_free(d[i]);
    return rc;
}

int tc_add_buffer(st_set *s, const unsigned char *buf, size_t len, const char *label, cs_err *err) {
    ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.label = label;
    c.err = err;
    c.len = len;
    int rc;
    if (len >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0) {
        st_set_format(s, "pytorch zip");
        rc = open_zip(&c, buf, len);
    } else {
        c.legacy = 1;
        st_set_format(s, "pytorch legacy");
        rc = open_legacy(&c, buf, len);
    }
    free(c.z);
    free(c.ls);
    return rc;
}

static int add_file(st_set *s, const char *path, cs_err *err) {
    const unsigned char *data = NULL;
    size_t len = 0;
    const char *label = NULL;
    if (st_add_file(s, path, &data, &len, &label, err)) return -1;
    if (!data) return tc_add_buffer(s, data, len, label, err); /* empty file: the parser says why */
    /* Parsing reads the pickle and, for each storage, a small header next to its data (zip local
     * headers, legacy element counts). No read-ahead while doing so, and afterwards the pages
     * are handed back: the weights must not look (or be) read before a tower first runs. The map
     * is a private read-only file map, so a later read simply faults the data back in. */
    madvise((void *)data, len, MADV_RANDOM);
    int rc = tc_add_buffer(s, data, len, label, err);
    madvise((void *)data, len, MADV_DONTNEED);
    madvise((void *)data, len, MADV_NORMAL);
    return rc;
}

int tc_open(const char *path, st_set **out, cs_err *err) {
    *out = NULL;
    st_set *s;
    if (st_new(&s, err)) return -1;
    size_t n = strlen(path);
    int rc = n > 5 && strcmp(path + n - 5, ".json") == 0 ? st_open_index(s, path, add_file, err)
                                                         : (add_file(s, path, err) || st_seal(s, err));
    if (rc) {
        st_close(s);
        return -1;
    }
    *out = s;
    return 0;
}
