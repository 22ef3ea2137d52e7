/* pickle: see pickle.h.
 *
 * The opcode meanings follow CPython's Lib/pickle.py (_Unpickler.load_*) and the opcode table in
 * Lib/pickletools.py. The difference that matters: where Python's find_class imports a module and
 * REDUCE calls what it found, this reader only compares the name with a fixed list and records the
 * call as data. Values are allocated from the doc (freed all at once), so shared memo references
 * and even self-referencing containers need no reference counting and no recursive free. */
#include "pickle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The values one pickle may create at most (about 170 MB of them): each opcode makes at most
 * one, and a state dict needs about 15 per tensor, so this allows 100,000+ tensors. */
#define PK_MAX_VALUES      (1u << 21)
#define PK_MAX_GLOBAL_NAME 256

static const struct {
    const char *name;
    pk_global g;
} allowed[] = {
    {"collections.OrderedDict", PK_G_ORDERED_DICT},
    {"torch._utils._rebuild_tensor_v2", PK_G_REBUILD_TENSOR_V2},
    {"torch._utils._rebuild_parameter", PK_G_REBUILD_PARAMETER},
    {"torch.FloatStorage", PK_G_FLOAT_STORAGE},
    {"torch.HalfStorage", PK_G_HALF_STORAGE},
    {"torch.BFloat16Storage", PK_G_BFLOAT16_STORAGE},
    {"torch.DoubleStorage", PK_G_DOUBLE_STORAGE},
    {"torch.LongStorage", PK_G_LONG_STORAGE},
    {"torch.IntStorage", PK_G_INT_STORAGE},
    {"torch.ShortStorage", PK_G_SHORT_STORAGE},
    {"torch.CharStorage", PK_G_CHAR_STORAGE},
    {"torch.ByteStorage", PK_G_BYTE_STORAGE},
    {"torch.BoolStorage", PK_G_BOOL_STORAGE},
};

typedef struct pk_chunk {
    struct pk_chunk *next;
    size_t n;
    pk_val v[256];
} pk_chunk;

struct pk_doc {
    pk_chunk *chunks;
    size_t nvalues;
};

typedef struct reader {
    pk_doc *d;
    const unsigned char *p;
    size_t len, at, op_at;
    const char *label;
    cs_err *err;
    pk_val **stack;
    size_t sn, scap;
    size_t marks[PK_MAX_MARKS];
    size_t nmarks;
    pk_val **memo;
    size_t memocap, nmemo; /* nmemo: slots set, the index MEMOIZE uses (Python's len(memo)) */
} reader;

const char *pk_type_name(pk_type t) {
    static const char *n[] = {"None",  "bool", "int",  "big int", "float", "str",          "bytes",
                              "tuple", "list", "dict", "global",  "call",  "persistent id"};
    return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "?";
}

static int fail(reader *r, const char *what) {
    return cs_err_set(r->err, "%s: pickle byte %zu: %s", r->label, r->op_at, what);
}

static pk_val *new_val(reader *r, pk_type t) {
    pk_doc *d = r->d;
    if (d->nvalues >= PK_MAX_VALUES) {
        fail(r, "too many values");
        return NULL;
    }
    if (!d->chunks || d->chunks->n == sizeof d->chunks->v / sizeof d->chunks->v[0]) {
        pk_chunk *c = calloc(1, sizeof *c);
        if (!c) {
            fail(r, "out of memory");
            return NULL;
        }
        c->next = d->chunks;
        d->chunks = c;
    }
    pk_val *v = &d->chunks->v[d->chunks->n++];
    d->nvalues++;
    v->type = t;
    return v;
}

static int need(reader *r, size_t n) {
    if (n > r->len - r->at)
        return cs_err_set(r->err, "%s: pickle truncated at byte %zu (%zu more bytes needed)", r->label, r->at,
                          n - (r->len - r->at));
    return 0;
}

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Appends v to a growable array of values (the stack, a container's items). */
static int append(reader *r, pk_val ***a, size_t *n, size_t *cap, pk_val *v) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        pk_val **na = realloc(*a, nc * sizeof *na);
        if (!na) return fail(r, "out of memory");
        *a = na;
        *cap = nc;
    }
    (*a)[(*n)++] = v;
    return 0;
}

/* Reads a w-byte little-endian operand. */
static int arg(reader *r, int w, uint64_t *v) {
    if (need(r, (size_t)w)) return -1;
    *v = le(r->p + r->at, w);
    r->at += (size_t)w;
    return 0;
}

static int push(reader *r, pk_val *v) {
    if (!v) return -1;
    if (r->sn == PK_MAX_STACK)
        return cs_err_set(r->err, "%s: pickle byte %zu: more than %d values on the stack (nested too deep?)", r->label,
                          r->op_at, PK_MAX_STACK);
    if (append(r, &r->stack, &r->sn, &r->scap, v)) return -1;
    return 0;
}

static pk_val *pop(reader *r) {
    size_t floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
    if (r->sn <= floor) {
        fail(r, "stack underflow");
        return NULL;
    }
    return r->stack[--r->sn];
}

static pk_val *top(reader *r) {
    size_t floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
    if (r->sn <= floor) {
        fail(r, "stack underflow");
        return NULL;
    }
    return r->stack[r->sn - 1];
}

/* The value just below position `from` (the container that APPENDS/SETITEMS fill). */
static pk_val *below(reader *r, size_t from) {
    size_t floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
    if (from <= floor) {
        fail(r, "stack underflow");
        return NULL;
    }
    return r->stack[from - 1];
}

/* Pops back to the last MARK; the items are r->stack[*from .. r->sn) until the next push. */
static int pop_mark(reader *r, size_t *from) {
    if (!r->nmarks) return fail(r, "no MARK to pop to");
    *from = r->marks[--r->nmarks];
    return 0;
}

static int add_item(reader *r, pk_val *c, pk_val *item) {
    if (item->depth + 1 > PK_MAX_DEPTH)
        return cs_err_set(r->err, "%s: pickle byte %zu: values nested deeper than %d levels", r->label, r->op_at,
                          PK_MAX_DEPTH);
    if (append(r, &c->v, &c->n, &c->cap, item)) return -1;
    if (item->depth + 1 > c->depth) c->depth = item->depth + 1;
    return 0;
}

/* A container of the items stack[from..sn), which are popped. */
static pk_val *collect(reader *r, pk_type t, size_t from) {
    pk_val *c = new_val(r, t);
    if (!c) return NULL;
    for (size_t i = from; i < r->sn; i++)
        if (add_item(r, c, r->stack[i])) return NULL;
    r->sn = from;
    return c;
}

static pk_val *new_str(reader *r, pk_type t, const unsigned char *s, size_t n) {
    pk_val *v = new_val(r, t);
    if (!v) return NULL;
    char *c = malloc(n + 1);
    if (!c) {
        fail(r, "out of memory");
        return NULL;
    }
    memcpy(c, s, n);
    c[n] = 0;
    v->s = c;
    v->len = n;
    return v;
}

static pk_val *new_int(reader *r, int64_t i) {
    pk_val *v = new_val(r, PK_INT);
    if (v) v->i = i;
    return v;
}

static int memo_put(reader *r, uint64_t idx) {
    pk_val *v = top(r);
    if (!v) return -1;
    if (idx >= PK_MAX_MEMO) return fail(r, "memo index out of range");
    if (idx >= r->memocap) {
        size_t nc = r->memocap ? r->memocap : 64;
        while (nc <= idx) nc *= 2;
        pk_val **nm = realloc(r->memo, nc * sizeof *nm);
        if (!nm) return fail(r, "out of memory");
        memset(nm + r->memocap, 0, (nc - r->memocap) * sizeof *nm);
        r->memo = nm;
        r->memocap = nc;
    }
    if (!r->memo[idx]) r->nmemo++;
    r->memo[idx] = v;
    return 0;
}

static int memo_get(reader *r, uint64_t idx) {
    if (idx >= r->memocap || !r->memo[idx]) return fail(r, "memo index was never stored");
    return push(r, r->memo[idx]);
}

static int global(reader *r, const char *mod, size_t ml, const char *name, size_t nl) {
    char full[2 * PK_MAX_GLOBAL_NAME + 2];
    if (ml > PK_MAX_GLOBAL_NAME || nl > PK_MAX_GLOBAL_NAME) return fail(r, "global name too long");
    memcpy(full, mod, ml);
    full[ml] = '.';
    memcpy(full + ml + 1, name, nl);
    full[ml + 1 + nl] = 0;
    if (strlen(full) != ml + 1 + nl) return fail(r, "global name contains a NUL byte");
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strcmp(full, allowed[i].name) == 0) {
            pk_val *v = new_str(r, PK_GLOBAL, (const unsigned char *)full, ml + 1 + nl);
            if (!v) return -1;
            v->g = allowed[i].g;
            return push(r, v);
        }
    /* %.200s: the name comes from the file; keep the message readable */
    return cs_err_set(r->err,
                      "%s: pickle byte %zu: global '%.200s' is refused: only the globals of a PyTorch "
                      "state dict are allowed (nothing in the file is ever run)",
                      r->label, r->op_at, full);
}

/* Reads a newline-terminated line (GLOBAL's operands). */
static int read_line(reader *r, const char **s, size_t *n) {
    const unsigned char *start = r->p + r->at, *nl = memchr(start, '\n', r->len - r->at);
    if (!nl) return cs_err_set(r->err, "%s: pickle truncated at byte %zu (a GLOBAL name has no end)", r->label, r->at);
    *s = (const char *)start;
    *n = (size_t)(nl - start);
    r->at += *n + 1;
    return 0;
}

static int reduce(reader *r) {
    pk_val *args = pop(r), *fn = args ? pop(r) : NULL;
    if (!fn) return -1;
    if (fn->type != PK_GLOBAL) return fail(r, "REDUCE on something that is not an allowed global");
    if (args->type != PK_TUPLE) return fail(r, "REDUCE arguments are not a tuple");
    switch (fn->g) {
    case PK_G_ORDERED_DICT: /* OrderedDict(): an empty mapping; its items follow as SETITEMS */
        if (args->n != 0) return fail(r, "OrderedDict called with arguments");
        return push(r, new_val(r, PK_DICT));
    case PK_G_REBUILD_TENSOR_V2:
    case PK_G_REBUILD_PARAMETER: {
        pk_val *c = new_val(r, PK_CALL);
        if (!c || add_item(r, c, fn) || add_item(r, c, args)) return -1;
        return push(r, c);
    }
    default:
        return cs_err_set(r->err, "%s: pickle byte %zu: '%s' is only allowed as data, not called", r->label, r->op_at,
                          fn->s);
    }
}

static int step(reader *r, int *stop) {
    r->op_at = r->at;
    if (need(r, 1)) return -1;
    unsigned op = r->p[r->at++];
    const unsigned char *q = r->p + r->at;
    size_t from = 0;
    uint64_t u = 0;
    pk_val *a, *b, *c;
    switch (op) {
    case 0x80: /* PROTO */
        if (need(r, 1)) return -1;
        if (q[0] < 2 || q[0] > 5) return fail(r, "pickle protocol is not 2-5");
        r->at++;
        return 0;
    case 0x95: /* FRAME: a length hint only */
        if (need(r, 8)) return -1;
        r->at += 8;
        return 0;
    case '.': /* STOP */ *stop = 1; return 0;
    case '(': /* MARK */
        if (r->nmarks == PK_MAX_MARKS)
            return cs_err_set(r->err, "%s: pickle byte %zu: more than %d open MARKs (nested too deep)", r->label,
                              r->op_at, PK_MAX_MARKS);
        r->marks[r->nmarks++] = r->sn;
        return 0;
    case ')': return push(r, new_val(r, PK_TUPLE));
    case ']': return push(r, new_val(r, PK_LIST));
    case '}': return push(r, new_val(r, PK_DICT));
    case 't': /* TUPLE */
        if (pop_mark(r, &from)) return -1;
        return push(r, collect(r, PK_TUPLE, from));
    case 'l': /* LIST */
        if (pop_mark(r, &from)) return -1;
        return push(r, collect(r, PK_LIST, from));
    case 'd': /* DICT */
        if (pop_mark(r, &from)) return -1;
        if ((r->sn - from) % 2) return fail(r, "DICT with an odd number of items");
        return push(r, collect(r, PK_DICT, from));
    case 0x85:
    case 0x86:
    case 0x87: { /* TUPLE1..3 */
        size_t n = op - 0x84, floor = r->nmarks ? r->marks[r->nmarks - 1] : 0;
        if (r->sn - floor < n) return fail(r, "stack underflow");
        return push(r, collect(r, PK_TUPLE, r->sn - n));
    }
    case 'a': /* APPEND */
        if (!(b = pop(r)) || !(a = top(r))) return -1;
        if (a->type != PK_LIST) return fail(r, "APPEND to something that is not a list");
        return add_item(r, a, b);
    case 'e': /* APPENDS */
        if (pop_mark(r, &from) || !(a = below(r, from))) return -1;
        if (a->type != PK_LIST) return fail(r, "APPENDS to something that is not a list");
        for (size_t i = from; i < r->sn; i++)
            if (add_item(r, a, r->stack[i])) return -1;
        r->sn = from;
        return 0;
    case 's': /* SETITEM */
        if (!(c = pop(r)) || !(b = pop(r)) || !(a = top(r))) return -1;
        if (a->type != PK_DICT) return fail(r, "SETITEM on something that is not a dict");
        return add_item(r, a, b) || add_item(r, a, c) ? -1 : 0;
    case 'u': /* SETITEMS */
        if (pop_mark(r, &from) || !(a = below(r, from))) return -1;
        if (a->type != PK_DICT) return fail(r, "SETITEMS on something that is not a dict");
        if ((r->sn - from) % 2) return fail(r, "SETITEMS with an odd number of items");
        for (size_t i = from; i < r->sn; i++)
            if (add_item(r, a, r->stack[i])) return -1;
        r->sn = from;
        return 0;
    case 'N': return push(r, new_val(r, PK_NONE));
    case 0x88:
    case 0x89:
        if (!(a = new_val(r, PK_BOOL))) return -1;
        a->i = op == 0x88;
        return push(r, a);
    case 'J': /* BININT: signed 32-bit */
        if (arg(r, 4, &u)) return -1;
        return push(r, new_int(r, (int32_t)(uint32_t)u));
    case 'K':
    case 'M': /* BININT1, BININT2: unsigned */
        if (arg(r, op == 'K' ? 1 : 2, &u)) return -1;
        return push(r, new_int(r, (int64_t)u));
    case 0x8a:
    case 0x8b: { /* LONG1, LONG4: little-endian two's complement */
        int w = op == 0x8a ? 1 : 4;
        if (need(r, (size_t)w)) return -1;
        uint64_t n = le(q, w);
        if (n > 64) return fail(r, "integer longer than 64 bytes");
        if (need(r, (size_t)w + n)) return -1;
        r->at += (size_t)w + n;
        if (n <= 8) {
            u = le(q + w, (int)n);
            if (n && n < 8 && (q[w + n - 1] & 0x80)) u |= ~0ULL << (8 * n); /* sign-extend */
            return push(r, new_int(r, (int64_t)u));
        }
        return push(r, new_str(r, PK_BIGINT, q + w, n));
    }
    case 'G': { /* BINFLOAT: big-endian double */
        if (need(r, 8)) return -1;
        u = 0;
        for (int i = 0; i < 8; i++) u = (u << 8) | q[i];
        r->at += 8;
        if (!(a = new_val(r, PK_FLOAT))) return -1;
        memcpy(&a->f, &u, 8);
        return push(r, a);
    }
    case 'X':
    case 0x8c:
    case 0x8d:
    case 'T':
    case 'U':
    case 'B':
    case 'C':
    case 0x8e: {
        /* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING, SHORT_BINSTRING, BINBYTES,
         * SHORT_BINBYTES, BINBYTES8 */
        int w = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        if (need(r, (size_t)w)) return -1;
        uint64_t n = le(q, w);
        if (n > r->len - r->at - (size_t)w)
            return cs_err_set(r->err, "%s: pickle truncated at byte %zu (a string of %llu bytes runs past the end)",
                              r->label, r->op_at, (unsigned long long)n);
        r->at += (size_t)w + n;
        return push(r, new_str(r, (op == 'B' || op == 'C' || op == 0x8e) ? PK_BYTES : PK_STR, q + w, n));
    }
    case 'q':
    case 'r': /* BINPUT, LONG_BINPUT */
        if (arg(r, op == 'q' ? 1 : 4, &u)) return -1;
        return memo_put(r, u);
    case 0x94: /* MEMOIZE: the next free index */ return memo_put(r, r->nmemo);
    case 'h':
    case 'j': /* BINGET, LONG_BINGET */
        if (arg(r, op == 'h' ? 1 : 4, &u)) return -1;
        return memo_get(r, u);
    case 'c': { /* GLOBAL module\nname\n */
        const char *m = NULL, *n = NULL;
        size_t ml = 0, nl = 0;
        if (read_line(r, &m, &ml) || read_line(r, &n, &nl)) return -1;
        return global(r, m, ml, n, nl);
    }
    case 0x93: /* STACK_GLOBAL */
        if (!(b = pop(r)) || !(a = pop(r))) return -1;
        if (a->type != PK_STR || b->type != PK_STR) return fail(r, "STACK_GLOBAL operands are not strings");
        return global(r, a->s, a->len, b->s, b->len);
    case 'R': return reduce(r);
    case 'Q': /* BINPERSID */
        if (!(a = pop(r)) || !(b = new_val(r, PK_PERSID)) || add_item(r, b, a)) return -1;
        return push(r, b);
    case 'b': /* BUILD: only the metadata of a state dict (OrderedDict's __dict__, _metadata) */
        if (!(b = pop(r)) || !(a = top(r))) return -1;
        if (a->type != PK_DICT) return fail(r, "BUILD on something that is not a dict");
        return 0;
    default: {
        char what[96];
        snprintf(what, sizeof what, "opcode 0x%02x is not supported (not one a state dict uses)", op);
        return fail(r, what);
    }
    }
}

void pk_free(pk_doc *d) {
    if (!d) return;
    for (pk_chunk *c = d->chunks, *next; c; c = next) {
        next = c->next;
        for (size_t i = 0; i < c->n; i++) {
            free((void *)c->v[i].s);
            free(c->v[i].v);
        }
        free(c);
    }
    free(d);
}

int pk_load(const unsigned char *buf, size_t len, const char *label, pk_doc **out, const pk_val **root, size_t *used,
            cs_err *err) {
    *out = NULL;
    *root = NULL;
    reader r;
    memset(&r, 0, sizeof r);
    r.p = buf;
    r.len = len;
    r.label = label;
    r.err = err;
    r.d = calloc(1, sizeof *r.d);
    if (!r.d) return cs_err_set(err, "%s: out of memory", label);
    int stop = 0, rc = 0;
    while (!stop && rc == 0) rc = step(&r, &stop);
    if (rc == 0) {
        /* Python returns the top and ignores the rest; a state dict leaves exactly one value, so
         * anything else is a sign of a damaged or crafted file */
        if (r.nmarks || r.sn != 1)
            rc = cs_err_set(err,
                            "%s: pickle ends with %zu values and %zu MARKs on the stack, "
                            "not one value",
                            label, r.sn, r.nmarks);
        else
            *root = r.stack[0];
    }
    free(r.stack);
    free(r.memo);
    if (rc) {
        pk_free(r.d);
        *root = NULL;
        return -1;
    }
    if (used) *used = r.at;
    *out = r.d;
    return 0;
}
