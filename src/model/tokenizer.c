/* tokenizer: see tokenizer.h for the pipeline and the HF details each step reproduces.
 *
 * Data structures: the vocabulary is an open-addressing hash (token string -> id) plus an
 * id -> string table; merges are a hash from the id pair (a, b) to (rank, merged id), so BPE works
 * on ids and never builds strings. A bounded word cache (piece bytes -> ids) makes repeated words
 * cost one hash lookup. */
#include "../common/cs_json.h"
#include "tokenizer.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../common/cs_file.h"
#include "../common/cs_hash.h"
#include "../common/cs_utf8.h"

#define TOK_CACHE_MAX 65536

typedef struct {
    char *key;
    size_t klen;
    int32_t *ids;
    int n;
} cache_ent;
typedef struct {
    uint64_t key;
    int32_t rank, id;
} merge_ent; /* key 0 = empty (ids are < 2^31, a+1) */

struct tok_ctx {
    char **id2tok; /* vocab strings, by id */
    size_t nvocab;
    int32_t *vslot; /* hash: slot -> id or -1 */
    size_t vcap;
    merge_ent *merges;
    size_t mcap, nmerges;
    int32_t byte_id[256], byte_eow_id[256];
    int32_t bos, eos;
    cache_ent *cache;
    size_t ccap, ncache;
    pthread_mutex_t lock;
};

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static int32_t vocab_get(const tok_ctx *t, const char *s, size_t n) {
    size_t m = t->vcap - 1, i = cs_hash(s, n) & m;
    for (;;) {
        int32_t id = t->vslot[i];
        if (id < 0) return -1;
        const char *v = t->id2tok[id];
        if (strlen(v) == n && memcmp(v, s, n) == 0) return id;
        i = (i + 1) & m;
    }
}

static const merge_ent *merge_get(const tok_ctx *t, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
    size_t m = t->mcap - 1, i = mix64(key) & m;
    for (;;) {
        if (t->merges[i].key == 0) return NULL;
        if (t->merges[i].key == key) return &t->merges[i];
        i = (i + 1) & m;
    }
}

/* GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100.. in order. */
static void byte_unicode(int cp[256]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp[b] = keep ? b : 256 + n++;
    }
}

static int load_vocab(tok_ctx *t, const char *path, cs_err *err) {
    json_t *root = cs_json_read_object(path, 64u << 20, err);
    if (!root) return -1;
    size_t n = json_object_size(root);
    if (n == 0 || n > (1u << 24)) {
        json_decref(root);
        return cs_err_set(err, "%s: %zu tokens is not a plausible vocabulary", path, n);
    }
    t->nvocab = n;
    t->id2tok = calloc(n, sizeof *t->id2tok);
    t->vcap = 1;
    while (t->vcap < n * 2) t->vcap <<= 1;
    t->vslot = malloc(t->vcap * sizeof *t->vslot);
    if (!t->id2tok || !t->vslot) {
        json_decref(root);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    memset(t->vslot, 0xff, t->vcap * sizeof *t->vslot);
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, k, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (size_t)json_integer_value(v) >= n) {
            rc = cs_err_set(err, "%s: token \"%.40s\" has id outside 0..%zu", path, k, n - 1);
            break;
        }
        int32_t id = (int32_t)json_integer_value(v);
        if (t->id2tok[id]) {
            rc = cs_err_set(err, "%s: id %d is used twice", path, id);
            break;
        }
        t->id2tok[id] = strdup(k);
        if (!t->id2tok[id]) {
            rc = cs_errc(err, CS_ENOMEM, "out of memory");
            break;
        }
        size_t m = t->vcap - 1, i = cs_hash(k, strlen(k)) & m;
        while (t->vslot[i] >= 0) i = (i + 1) & m;
        t->vslot[i] = id;
    }
    json_decref(root);
    return rc;
}

static int load_merges(tok_ctx *t, const char *path, cs_err *err) {
    char *txt;
    size_t len;
    if (cs_read_file(path, 64u << 20, &txt, &len, err) != 0) return -1;
    size_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += txt[i] == '\n';
    t->mcap = 16;
    while (t->mcap < lines * 2) t->mcap <<= 1;
    t->merges = calloc(t->mcap, sizeof *t->merges);
    if (!t->merges) {
        free(txt);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    int rc = 0, lineno = 0;
    int32_t rank = 0;
    char *p = txt, *end = txt + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        size_t ll = (size_t)(le - p);
        if (ll && p[ll - 1] == '\r') ll--;
        if (lineno == 1 && ll >= 8 && memcmp(p, "#version", 8) == 0) {
            p = le + 1;
            continue;
        }
        if (ll == 0) {
            p = le + 1;
            continue;
        }
        char *sp = memchr(p, ' ', ll);
        if (!sp || sp == p || sp == p + ll - 1 || memchr(sp + 1, ' ', ll - (size_t)(sp + 1 - p))) {
            rc = cs_err_set(err, "%s:%d: expected two tokens separated by one space", path, lineno);
            break;
        }
        size_t la = (size_t)(sp - p), lb = ll - la - 1;
        int32_t a = vocab_get(t, p, la), b = vocab_get(t, sp + 1, lb);
        char buf[1024];
        if (la + lb >= sizeof buf) {
            rc = cs_err_set(err, "%s:%d: merge too long", path, lineno);
            break;
        }
        memcpy(buf, p, la);
        memcpy(buf + la, sp + 1, lb);
        int32_t c = vocab_get(t, buf, la + lb);
        if (a < 0 || b < 0 || c < 0) {
            rc = cs_err_set(err, "%s:%d: merge \"%.*s\" uses or makes a token that is not in the vocabulary", path,
                            lineno, (int)ll, p);
            break;
        }
        uint64_t key = ((uint64_t)(uint32_t)(a + 1) << 32) | (uint32_t)(b + 1);
        size_t m = t->mcap - 1, i = mix64(key) & m;
        while (t->merges[i].key != 0 && t->merges[i].key != key) i = (i + 1) & m;
        if (t->merges[i].key == 0) { /* the first occurrence of a pair wins, as in HF */
            t->merges[i].key = key;
            t->merges[i].rank = rank;
            t->merges[i].id = c;
            t->nmerges++;
        }
        rank++;
        p = le + 1;
    }
    free(txt);
    return rc;
}

int tok_load(const char *vocab_path, const char *merges_path, tok_ctx **out, cs_err *err) {
    *out = NULL;
    tok_ctx *t = calloc(1, sizeof *t);
    if (!t) return cs_errc(err, CS_ENOMEM, "out of memory");
    pthread_mutex_init(&t->lock, NULL);
    if (load_vocab(t, vocab_path, err) != 0 || load_merges(t, merges_path, err) != 0) {
        tok_free(t);
        return -1;
    }
    int cp[256];
    byte_unicode(cp);
    for (int b = 0; b < 256; b++) {
        char s[16];
        int n = (int)utf8proc_encode_char(cp[b], (utf8proc_uint8_t *)s);
        t->byte_id[b] = vocab_get(t, s, (size_t)n);
        memcpy(s + n, "</w>", 4);
        t->byte_eow_id[b] = vocab_get(t, s, (size_t)n + 4);
        if (t->byte_id[b] < 0 || t->byte_eow_id[b] < 0) {
            tok_free(t);
            return cs_err_set(err, "%s: byte 0x%02x has no token (not a byte-level BPE vocabulary)", vocab_path, b);
        }
    }
    t->bos = vocab_get(t, "<|startoftext|>", 15);
    t->eos = vocab_get(t, "<|endoftext|>", 13);
    if (t->bos < 0 || t->eos < 0) {
        tok_free(t);
        return cs_err_set(err, "%s: <|startoftext|> or <|endoftext|> missing", vocab_path);
    }
    t->ccap = TOK_CACHE_MAX * 2;
    t->cache = calloc(t->ccap, sizeof *t->cache);
    if (!t->cache) {
        tok_free(t);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    *out = t;
    return 0;
}

static void cache_clear(tok_ctx *t) {
    for (size_t i = 0; i < t->ccap; i++) {
        free(t->cache[i].key);
        free(t->cache[i].ids);
    }
    memset(t->cache, 0, t->ccap * sizeof *t->cache);
    t->ncache = 0;
}

void tok_free(tok_ctx *t) {
    if (!t) return;
    if (t->id2tok)
        for (size_t i = 0; i < t->nvocab; i++) free(t->id2tok[i]);
    if (t->cache) cache_clear(t);
    free(t->cache);
    free(t->id2tok);
    free(t->vslot);
    free(t->merges);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int32_t tok_bos(const tok_ctx *t) { return t->bos; }
int32_t tok_eos(const tok_ctx *t) { return t->eos; }
size_t tok_vocab_size(const tok_ctx *t) { return t->nvocab; }
const char *tok_token(const tok_ctx *t, int32_t id) { return id >= 0 && (size_t)id < t->nvocab ? t->id2tok[id] : NULL; }

/* ---- growable id buffer ---- */
typedef tok_ids idbuf;
#define ib_push tok_ids_push
int tok_ids_push(tok_ids *b, int32_t x) {
    if (b->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 64;
        int32_t *nv = realloc(b->v, nc * sizeof *nv);
        if (!nv) return -1;
        b->v = nv;
        b->cap = nc;
    }
    b->v[b->n++] = x;
    return 0;
}

/* ---- BPE over one piece, HF's priority-queue order ---- */
typedef struct {
    int32_t rank, pos, id;
} heap_ent; /* ordered by (rank, pos) */
typedef struct {
    int32_t id, prev, next, alive;
} sym;

static int heap_less(const heap_ent *a, const heap_ent *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}
static void heap_push(heap_ent *h, size_t *n, heap_ent e) {
    size_t i = (*n)++;
    h[i] = e;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&h[i], &h[p])) break;
        heap_ent tmp = h[i];
        h[i] = h[p];
        h[p] = tmp;
        i = p;
    }
}
static heap_ent heap_pop(heap_ent *h, size_t *n) {
    heap_ent top = h[0];
    h[0] = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && heap_less(&h[l], &h[m])) m = l;
        if (r < *n && heap_less(&h[r], &h[m])) m = r;
        if (m == i) break;
        heap_ent tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
    return top;
}

static int bpe_piece(tok_ctx *t, const unsigned char *s, size_t n, idbuf *out) {
    sym *w = malloc(n * sizeof *w);
    heap_ent *h = malloc(n * 2 * sizeof *h + sizeof *h); /* each merge pushes <= 2, initial < n */
    if (!w || !h) {
        free(w);
        free(h);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        w[i].id = i + 1 == n ? t->byte_eow_id[s[i]] : t->byte_id[s[i]];
        w[i].prev = (int32_t)i - 1;
        w[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
        w[i].alive = 1;
    }
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        const merge_ent *m = merge_get(t, w[i].id, w[i + 1].id);
        if (m) heap_push(h, &hn, (heap_ent){m->rank, (int32_t)i, m->id});
    }
    while (hn) {
        heap_ent e = heap_pop(h, &hn);
        sym *a = &w[e.pos];
        if (!a->alive || a->next < 0) continue;
        sym *b = &w[a->next];
        const merge_ent *m = merge_get(t, a->id, b->id);
        if (!m || m->id != e.id) continue; /* stale entry */
        a->id = m->id;
        b->alive = 0;
        a->next = b->next;
        if (b->next >= 0) w[b->next].prev = e.pos;
        if (a->prev >= 0) {
            const merge_ent *pm = merge_get(t, w[a->prev].id, a->id);
            if (pm) heap_push(h, &hn, (heap_ent){pm->rank, a->prev, pm->id});
        }
        if (a->next >= 0) {
            const merge_ent *nm = merge_get(t, a->id, w[a->next].id);
            if (nm) heap_push(h, &hn, (heap_ent){nm->rank, e.pos, nm->id});
        }
    }
    int rc = 0;
    for (int32_t i = 0; i >= 0 && rc == 0; i = w[i].next) rc = ib_push(out, w[i].id);
    free(w);
    free(h);
    return rc;
}

static int encode_piece(tok_ctx *t, const unsigned char *s, size_t n, idbuf *out) {
    if (n == 0) return 0;
    size_t m = t->ccap - 1, i = cs_hash(s, n) & m;
    while (t->cache[i].key) {
        if (t->cache[i].klen == n && memcmp(t->cache[i].key, s, n) == 0) {
            for (int k = 0; k < t->cache[i].n; k++)
                if (ib_push(out, t->cache[i].ids[k]) != 0) return -1;
            return 0;
        }
        i = (i + 1) & m;
    }
    size_t start = out->n;
    if (bpe_piece(t, s, n, out) != 0) return -1;
    if (n <= 256) { /* cache ordinary words; pathological long runs are not worth keeping */
        if (t->ncache >= TOK_CACHE_MAX) {
            cache_clear(t);
            i = cs_hash(s, n) & m;
        }
        cache_ent *c = &t->cache[i];
        c->key = malloc(n);
        c->ids = malloc((out->n - start) * sizeof *c->ids);
        if (!c->key || !c->ids) {
            free(c->key);
            free(c->ids);
            c->key = NULL;
            c->ids = NULL;
            return 0;
        }
        memcpy(c->key, s, n);
        c->klen = n;
        c->n = (int)(out->n - start);
        memcpy(c->ids, out->v + start, (size_t)c->n * sizeof *c->ids);
        t->ncache++;
    }
    return 0;
}

/* ---- normalisation ---- */

/* Oniguruma's \s for Unicode (White_Space). */
#define is_space cs_utf8_is_space
static int is_letter(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}
static int is_number(int32_t c) {
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

/* Steps 1-2: returns a malloc'd array of normalised code points. */
static int normalise(const char *text, size_t len, int32_t **out, size_t *nout) {
    /* 1: valid UTF-8 with replacements */
    unsigned char *clean = malloc(len * 3 + 1), *q = clean;
    if (!clean) return -1;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        i += cs_utf8_next(s + i, len - i, &cp);
        /* re-encoding a valid scalar gives its own bytes; an invalid subpart becomes U+FFFD */
        q += utf8proc_encode_char(cp < 0 ? 0xFFFD : cp, q);
    }
    /* 2a: NFC */
    utf8proc_uint8_t *nfc = NULL;
    utf8proc_ssize_t nl = 0;
    if (q > clean) {
        nl = utf8proc_map(clean, q - clean, &nfc, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (nl < 0) {
            free(clean);
            return -1;
        }
    }
    free(clean);
    /* 2b, 2c: whitespace runs to one space; lowercase */
    int32_t *cps = malloc(((size_t)nl * 2 + 1) * sizeof *cps);
    if (!cps) {
        free(nfc);
        return -1;
    }
    size_t n = 0;
    int prev_space = 0;
    for (utf8proc_ssize_t i = 0; i < nl;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(nfc + i, nl - i, &c);
        if (k <= 0) {
            c = 0xFFFD;
            k = 1;
        }
        i += k;
        if (is_space(c)) { /* one space for the whole run */
            if (!prev_space) cps[n++] = ' ';
            prev_space = 1;
            continue;
        }
        prev_space = 0;
        if (c == 0x130) {
            cps[n++] = 'i';
            cps[n++] = 0x307;
            continue;
        }
        cps[n++] = utf8proc_tolower(c);
    }
    free(nfc);
    *out = cps;
    *nout = n;
    return 0;
}

static int match_ascii(const int32_t *c, size_t n, const char *lit) {
    size_t l = strlen(lit);
    if (l > n) return 0;
    for (size_t i = 0; i < l; i++)
        if (c[i] != (unsigned char)lit[i]) return 0;
    return 1;
}

static int emit_piece(tok_ctx *t, const int32_t *c, size_t n, idbuf *out, unsigned char **scratch, size_t *scap) {
    if (*scap < n * 4) {
        unsigned char *ns = realloc(*scratch, n * 4);
        if (!ns) return -1;
        *scratch = ns;
        *scap = n * 4;
    }
    size_t b = 0;
    for (size_t i = 0; i < n; i++) b += (size_t)utf8proc_encode_char(c[i], *scratch + b);
    return encode_piece(t, *scratch, b, out);
}

int tok_encode(tok_ctx *t, const char *text, size_t len, int max_len, int32_t **ids, size_t *nids, cs_err *err) {
    *ids = NULL;
    *nids = 0;
    if (max_len != 0 && max_len < 2) return cs_err_set(err, "max length %d is too small (at least 2)", max_len);
    int32_t *c;
    size_t n;
    if (normalise(text, len, &c, &n) != 0) return cs_err_set(err, "out of memory while normalising text");
    idbuf out = {0};
    unsigned char *scratch = NULL;
    size_t scap = 0;
    int rc = ib_push(&out, t->bos);
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < n && rc == 0;) {
        int32_t ch = c[i];
        size_t j = i + 1;
        if (ch == '<' && match_ascii(c + i, n - i, "<|startoftext|>")) {
            rc = ib_push(&out, t->bos);
            i += 15;
            continue;
        }
        if (ch == '<' && match_ascii(c + i, n - i, "<|endoftext|>")) {
            rc = ib_push(&out, t->eos);
            i += 13;
            continue;
        }
        if (ch == ' ') {
            i++;
            continue;
        }
        if (ch == '\'' && i + 1 < n) {
            int32_t a = c[i + 1], b = i + 2 < n ? c[i + 2] : 0;
            if (a == 's' || a == 't' || a == 'm' || a == 'd')
                j = i + 2;
            else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                j = i + 3;
            if (j > i + 1) {
                rc = emit_piece(t, c + i, j - i, &out, &scratch, &scap);
                i = j;
                continue;
            }
        }
        if (is_letter(ch)) {
            while (j < n && is_letter(c[j])) j++;
        } else if (is_number(ch)) {
            /* a single digit */
        } else {
            /* punctuation run; it stops before whitespace, letters, digits and a special string */
            while (j < n && !is_space(c[j]) && !is_letter(c[j]) && !is_number(c[j]) &&
                   !(c[j] == '<' &&
                     (match_ascii(c + j, n - j, "<|startoftext|>") || match_ascii(c + j, n - j, "<|endoftext|>"))))
                j++;
        }
        rc = emit_piece(t, c + i, j - i, &out, &scratch, &scap);
        i = j;
    }
    pthread_mutex_unlock(&t->lock);
    free(scratch);
    free(c);
    if (rc == 0 && max_len && out.n + 1 > (size_t)max_len) out.n = (size_t)max_len - 1;
    if (rc == 0) rc = ib_push(&out, t->eos);
    if (rc != 0) {
        free(out.v);
        return cs_err_set(err, "out of memory while tokenising");
    }
    *ids = out.v;
    *nids = out.n;
    return 0;
}
