/* wordpiece: see wordpiece.h for the pipeline and the HF details each step reproduces.
 *
 * Data structures: vocab.txt is read once into one buffer whose newlines become NULs; the
 * tokens are pointers into it, found through an open-addressing hash (FNV-1a, linear probing,
 * at most half full), so loading mBERT's 119,547 lines is one pass with no per-token allocation.
 * Encoding works on code point arrays; WordPiece lookups hash "##" + the piece's UTF-8 bytes
 * in a scratch buffer, never building strings per candidate. */
#include "wordpiece.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../common/cs_file.h"
#include "../common/cs_hash.h"
#include "../common/cs_utf8.h"
#include "tokenizer.h"

struct wp_ctx {
    char *buf;           /* vocab text, lines NUL-ended */
    const char **id2tok; /* by id */
    uint32_t *tlen;      /* token byte lengths, by id */
    size_t nvocab;
    int32_t *slot; /* hash: slot -> id or -1 */
    size_t cap;
    wp_opts o;
    int32_t unk, cls, sep, pad;
    int32_t special[5]; /* ids of the special tokens present (-1 absent), matched in raw text */
};

wp_opts wp_default_opts(void) {
    wp_opts o;
    memset(&o, 0, sizeof o);
    o.strip_accents = -1;
    o.chinese = 1;
    o.clean_text = 1;
    o.max_word_chars = 100;
    strcpy(o.unk, "[UNK]");
    strcpy(o.cls, "[CLS]");
    strcpy(o.sep, "[SEP]");
    strcpy(o.pad, "[PAD]");
    strcpy(o.mask, "[MASK]");
    return o;
}

static int32_t lookup(const wp_ctx *w, const char *s, size_t n) {
    size_t m = w->cap - 1, i = cs_hash(s, n) & m;
    for (;;) {
        int32_t id = w->slot[i];
        if (id < 0) return -1;
        if (w->tlen[id] == n && memcmp(w->id2tok[id], s, n) == 0) return id;
        i = (i + 1) & m;
    }
}

int32_t wp_id(const wp_ctx *w, const char *tok) { return lookup(w, tok, strlen(tok)); }

/* ---- settings ---- */

/* A special token setting: a string, or an AddedToken object {"content": ...}. */
static int get_token(json_t *o, const char *key, char *dst, size_t n, const char *file, cs_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= n ||
        strlen(json_string_value(v)) != json_string_length(v))
        return cs_err_set(err, "%s: \"%s\" must be a token string of 1 to %zu bytes", file, key, n - 1);
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static int get_flag(json_t *o, const char *key, int *dst, int allow_null, const char *file, cs_err *err) {
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    if (json_is_null(v) && allow_null) {
        *dst = -1;
        return 0;
    }
    if (json_is_null(v)) return 0;
    if (!json_is_boolean(v))
        return cs_err_set(err, "%s: \"%s\" must be true or false%s", file, key, allow_null ? " or null" : "");
    *dst = json_is_true(v);
    return 0;
}

int wp_parse_config(const char *txt, size_t len, const char *file, wp_opts *o, cs_err *err) {
    json_error_t je;
    json_t *root = json_loadb(txt, len, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return cs_err_set(err, "%s: not a JSON object (line %d: %s)", file, je.line, je.text);
    }
    int rc = 0;
    json_t *norm = json_object_get(root, "normalizer"), *model = json_object_get(root, "model");
    if (json_is_object(norm) || json_is_object(model)) { /* tokenizer.json */
        json_t *nt = json_object_get(norm, "type"), *mt = json_object_get(model, "type");
        if (!json_is_string(nt) || strcmp(json_string_value(nt), "BertNormalizer") != 0)
            rc = cs_err_set(err, "%s: the normalizer is not a BertNormalizer", file);
        else if (!json_is_string(mt) || strcmp(json_string_value(mt), "WordPiece") != 0)
            rc = cs_err_set(err, "%s: the model is not WordPiece", file);
        if (!rc) rc = get_flag(norm, "lowercase", &o->lowercase, 0, file, err);
        if (!rc) rc = get_flag(norm, "strip_accents", &o->strip_accents, 1, file, err);
        if (!rc) rc = get_flag(norm, "handle_chinese_chars", &o->chinese, 0, file, err);
        if (!rc) rc = get_flag(norm, "clean_text", &o->clean_text, 0, file, err);
        if (!rc) rc = get_token(model, "unk_token", o->unk, sizeof o->unk, file, err);
        json_t *mx = json_object_get(model, "max_input_chars_per_word"),
               *pre = json_object_get(model, "continuing_subword_prefix");
        if (!rc && mx && (!json_is_integer(mx) || json_integer_value(mx) < 1 || json_integer_value(mx) > 100000))
            rc = cs_err_set(err, "%s: max_input_chars_per_word must be an integer in 1..100000", file);
        if (!rc && mx) o->max_word_chars = (int)json_integer_value(mx);
        if (!rc && pre && (!json_is_string(pre) || strcmp(json_string_value(pre), "##") != 0))
            rc = cs_err_set(err, "%s: only the continuing_subword_prefix \"##\" is supported", file);
    } else { /* tokenizer_config.json */
        rc = get_flag(root, "do_lower_case", &o->lowercase, 0, file, err);
        if (!rc) rc = get_flag(root, "strip_accents", &o->strip_accents, 1, file, err);
        if (!rc) rc = get_flag(root, "tokenize_chinese_chars", &o->chinese, 0, file, err);
        if (!rc) rc = get_token(root, "unk_token", o->unk, sizeof o->unk, file, err);
        if (!rc) rc = get_token(root, "cls_token", o->cls, sizeof o->cls, file, err);
        if (!rc) rc = get_token(root, "sep_token", o->sep, sizeof o->sep, file, err);
        if (!rc) rc = get_token(root, "pad_token", o->pad, sizeof o->pad, file, err);
        if (!rc) rc = get_token(root, "mask_token", o->mask, sizeof o->mask, file, err);
    }
    json_decref(root);
    return rc;
}

/* ---- loading ---- */

int wp_load_mem(const char *vocab, size_t len, const wp_opts *o, const char *file, wp_ctx **out, cs_err *err) {
    *out = NULL;
    wp_ctx *w = calloc(1, sizeof *w);
    if (!w || !(w->buf = malloc(len + 1))) {
        free(w);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    w->o = o ? *o : wp_default_opts();
    memcpy(w->buf, vocab, len);
    w->buf[len] = '\n';
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += vocab[i] == '\n';
    lines += len > 0 && vocab[len - 1] != '\n';
    if (lines == 0 || lines > (1u << 24)) {
        wp_free(w);
        return cs_err_set(err, "%s: %s", file, lines ? "more than 16M tokens" : "empty vocabulary");
    }
    w->id2tok = malloc(lines * sizeof *w->id2tok);
    w->tlen = malloc(lines * sizeof *w->tlen);
    for (w->cap = 16; w->cap < lines * 2; w->cap *= 2) {}
    w->slot = malloc(w->cap * sizeof *w->slot);
    if (!w->id2tok || !w->tlen || !w->slot) {
        wp_free(w);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    memset(w->slot, 0xff, w->cap * sizeof *w->slot);
    char *p = w->buf, *end = w->buf + len;
    for (size_t id = 0; id < lines; id++) {
        char *nl = memchr(p, '\n', (size_t)(end - p) + 1);
        size_t n = (size_t)(nl - p);
        /* HF trims the line end (Rust's trim_end on the reader's lines, Python's rstrip("\n")
         * after universal newlines): a CRLF file gives the same tokens */
        while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        p[n] = '\0';
        if (memchr(p, '\0', n) || !cs_utf8_valid(p, n, 0)) {
            wp_free(w);
            return cs_err_set(err, "%s: line %zu is not valid UTF-8 text", file, id + 1);
        }
        w->id2tok[id] = p;
        w->tlen[id] = (uint32_t)n;
        w->nvocab = id + 1;
        /* a repeated token keeps its last line, as a dict built line by line does */
        size_t m = w->cap - 1, i = cs_hash(p, n) & m;
        while (w->slot[i] >= 0 && !(w->tlen[w->slot[i]] == n && memcmp(w->id2tok[w->slot[i]], p, n) == 0))
            i = (i + 1) & m;
        w->slot[i] = (int32_t)id;
        p = nl + 1;
    }
    w->unk = wp_id(w, w->o.unk);
    w->cls = wp_id(w, w->o.cls);
    w->sep = wp_id(w, w->o.sep);
    w->pad = wp_id(w, w->o.pad);
    const char *names[5] = {w->o.pad, w->o.unk, w->o.cls, w->o.sep, w->o.mask};
    for (int i = 0; i < 5; i++) w->special[i] = wp_id(w, names[i]);
    if (w->unk < 0 || w->cls < 0 || w->sep < 0) {
        cs_err_set(err, "%s: the vocabulary lacks the special token %s", file,
                   w->unk < 0   ? w->o.unk
                   : w->cls < 0 ? w->o.cls
                                : w->o.sep);
        wp_free(w);
        return -1;
    }
    if (w->o.max_word_chars < 1) w->o.max_word_chars = 100;
    *out = w;
    return 0;
}

int wp_load(const char *dir, wp_ctx **out, cs_err *err) {
    *out = NULL;
    char *voc = cs_path_join(dir, "vocab.txt"), *tc = cs_path_join(dir, "tokenizer_config.json"),
         *tj = cs_path_join(dir, "tokenizer.json");
    char *txt = NULL;
    size_t len = 0;
    int rc = -1;
    wp_opts o = wp_default_opts();
    if (!voc || !tc || !tj) {
        cs_errc(err, CS_ENOMEM, "out of memory");
        goto done;
    }
    const char *cfg = cs_is_file(tc) ? tc : cs_is_file(tj) ? tj : NULL;
    if (cfg) {
        if (cs_read_file(cfg, 64u << 20, &txt, &len, err)) goto done;
        if (wp_parse_config(txt, len, cfg, &o, err)) goto done;
        free(txt);
        txt = NULL;
    }
    if (cs_read_file(voc, 64u << 20, &txt, &len, err)) goto done;
    rc = wp_load_mem(txt, len, &o, voc, out, err);
done:
    free(txt);
    free(voc);
    free(tc);
    free(tj);
    return rc;
}

void wp_free(wp_ctx *w) {
    if (!w) return;
    free(w->buf);
    free(w->id2tok);
    free(w->tlen);
    free(w->slot);
    free(w);
}

int32_t wp_cls(const wp_ctx *w) { return w->cls; }
int32_t wp_sep(const wp_ctx *w) { return w->sep; }
int32_t wp_pad(const wp_ctx *w) { return w->pad; }
int32_t wp_unk(const wp_ctx *w) { return w->unk; }
size_t wp_vocab_size(const wp_ctx *w) { return w->nvocab; }
const wp_opts *wp_get_opts(const wp_ctx *w) { return &w->o; }
const char *wp_token(const wp_ctx *w, int32_t id) { return id >= 0 && (size_t)id < w->nvocab ? w->id2tok[id] : NULL; }

/* ---- character classes (the Rust crates' definitions, on utf8proc's tables) ---- */

/* unicode_categories' is_other minus Cn: Rust keeps unassigned code points (they end as [UNK]). */
static int is_control(int32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO ||
           k == UTF8PROC_CATEGORY_CS;
}

static int is_chinese(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static int is_punct(int32_t c) {
    if (c < 128) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* ---- encoding ---- */

typedef tok_ids ibuf; /* tokenizer.h */
#define push tok_ids_push

/* UTF-8 of cps[0..n) into a malloc'd buffer (NUL-ended); *len its bytes. */
static unsigned char *to_utf8(const int32_t *cps, size_t n, size_t *len) {
    unsigned char *s = malloc(n * 4 + 1);
    if (!s) return NULL;
    size_t b = 0;
    for (size_t i = 0; i < n; i++) b += (size_t)utf8proc_encode_char(cps[i], s + b);
    s[b] = 0;
    *len = b;
    return s;
}

/* Step 3 on cps[0..n) (any length): writes the normalised code points into *out (malloc'd). */
static int normalise(const wp_ctx *w, const int32_t *cps, size_t n, int32_t **out, size_t *nout) {
    int32_t *a = malloc((n * 3 + 1) * sizeof *a);
    if (!a) return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = cps[i];
        if (w->o.clean_text) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (cs_utf8_is_space(c)) c = ' ';
        }
        if (w->o.chinese && is_chinese(c)) {
            a[m++] = ' ';
            a[m++] = c;
            a[m++] = ' ';
        } else
            a[m++] = c;
    }
    int strip = w->o.strip_accents < 0 ? w->o.lowercase : w->o.strip_accents;
    if (strip && m > 0) {
        size_t bl;
        unsigned char *s = to_utf8(a, m, &bl);
        utf8proc_uint8_t *nfd = NULL;
        utf8proc_ssize_t nl =
            s ? utf8proc_map(s, (utf8proc_ssize_t)bl, &nfd, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE) : -1;
        free(s);
        if (nl < 0) {
            free(a);
            return -1;
        }
        int32_t *b = malloc(((size_t)nl + 1) * sizeof *b);
        if (!b) {
            free(nfd);
            free(a);
            return -1;
        }
        m = 0;
        for (utf8proc_ssize_t i = 0; i < nl;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t k = utf8proc_iterate(nfd + i, nl - i, &c);
            if (k <= 0) {
                c = 0xFFFD;
                k = 1;
            }
            i += k;
            if (utf8proc_category(c) != UTF8PROC_CATEGORY_MN) b[m++] = c;
        }
        free(nfd);
        free(a);
        a = b;
    }
    if (w->o.lowercase) {
        /* U+0130 is the only character whose full lowercase is two (SpecialCasing, unconditional) */
        size_t extra = 0;
        for (size_t i = 0; i < m; i++) extra += a[i] == 0x130;
        int32_t *b = extra ? malloc((m + extra + 1) * sizeof *b) : a;
        if (!b) {
            free(a);
            return -1;
        }
        for (size_t i = m, j = m + extra; i-- > 0;) {
            int32_t c = a[i];
            if (c == 0x130) {
                b[--j] = 0x307;
                b[--j] = 'i';
            } else
                b[--j] = utf8proc_tolower(c);
        }
        if (b != a) free(a);
        a = b;
        m += extra;
    }
    *out = a;
    *nout = m;
    return 0;
}

/* Step 5 on one word (cps[0..n), n >= 1). scratch holds at least 2 + 4n bytes. */
static int wordpiece(const wp_ctx *w, const int32_t *cps, size_t n, char *scratch, ibuf *out) {
    if (n > (size_t)w->o.max_word_chars) return push(out, w->unk);
    /* byte offset of each code point in the word's UTF-8 (after the "##" slot) */
    char *s = scratch + 2;
    size_t *off = malloc((n + 1) * sizeof *off);
    if (!off) return -1;
    size_t b = 0;
    for (size_t i = 0; i < n; i++) {
        off[i] = b;
        b += (size_t)utf8proc_encode_char(cps[i], (utf8proc_uint8_t *)s + b);
    }
    off[n] = b;
    size_t first = out->n, start = 0;
    int rc = 0;
    while (start < n) {
        size_t end = n;
        int32_t id = -1;
        for (; end > start; end--) {
            const char *p = s + off[start];
            size_t l = off[end] - off[start];
            if (start > 0) { /* "##" written just before the piece (over bytes already consumed) */
                char keep0 = p[-2], keep1 = p[-1];
                ((char *)p)[-2] = '#';
                ((char *)p)[-1] = '#';
                id = lookup(w, p - 2, l + 2);
                ((char *)p)[-2] = keep0;
                ((char *)p)[-1] = keep1;
            } else
                id = lookup(w, p, l);
            if (id >= 0) break;
        }
        if (id < 0) { /* the whole word is unknown */
            out->n = first;
            rc = push(out, w->unk);
            break;
        }
        if ((rc = push(out, id))) break;
        start = end;
    }
    free(off);
    return rc;
}

/* Steps 3-5 on one segment between special tokens. */
static int encode_segment(const wp_ctx *w, const int32_t *cps, size_t n, ibuf *out) {
    int32_t *a;
    size_t m;
    if (normalise(w, cps, n, &a, &m)) return -1;
    char *scratch = malloc(m * 4 + 3);
    if (!scratch) {
        free(a);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < m && !rc;) {
        if (cs_utf8_is_space(a[i])) {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (!is_punct(a[i]))
            while (j < m && !cs_utf8_is_space(a[j]) && !is_punct(a[j])) j++;
        rc = wordpiece(w, a + i, j - i, scratch, out);
        i = j;
    }
    free(scratch);
    free(a);
    return rc;
}

/* The special token matching at cps[i] (leftmost-longest), or -1; *len its code points. */
static int32_t special_at(const wp_ctx *w, const int32_t *cps, size_t n, size_t i, size_t *len) {
    int32_t best = -1;
    size_t bl = 0;
    for (int k = 0; k < 5; k++) {
        int32_t id = w->special[k];
        if (id < 0) continue;
        const unsigned char *t = (const unsigned char *)w->id2tok[id];
        size_t tl = w->tlen[id], b = 0, j = i;
        int same = 1;
        while (same && b < tl) {
            int32_t c;
            b += cs_utf8_next(t + b, tl - b, &c);
            same = j < n && c == cps[j];
            j++;
        }
        if (same && j - i > bl) {
            best = id;
            bl = j - i;
        }
    }
    *len = bl;
    return best;
}

int wp_encode(const wp_ctx *w, const char *text, size_t len, int max_len, int32_t **ids, size_t *nids, cs_err *err) {
    *ids = NULL;
    *nids = 0;
    if (max_len != 0 && max_len < 2) return cs_err_set(err, "max length %d is too small (at least 2)", max_len);
    int32_t *cps = malloc((len + 1) * sizeof *cps);
    if (!cps) return cs_err_set(err, "out of memory while tokenising");
    size_t n = 0;
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        int32_t c;
        i += cs_utf8_next(s + i, len - i, &c);
        cps[n++] = c < 0 ? 0xFFFD : c;
    }
    ibuf out = {0};
    int rc = push(&out, w->cls);
    size_t seg = 0;
    for (size_t i = 0; i <= n && !rc;) {
        size_t sl = 0;
        int32_t sp = i < n ? special_at(w, cps, n, i, &sl) : -1;
        if (i < n && sp < 0) {
            i++;
            continue;
        }
        if (i > seg) rc = encode_segment(w, cps + seg, i - seg, &out);
        if (!rc && sp >= 0) rc = push(&out, sp);
        if (i == n) break;
        i += sl;
        seg = i;
    }
    free(cps);
    if (!rc && max_len && out.n + 1 > (size_t)max_len) out.n = (size_t)max_len - 1;
    if (!rc) rc = push(&out, w->sep);
    if (rc) {
        free(out.v);
        return cs_err_set(err, "out of memory while tokenising");
    }
    *ids = out.v;
    *nids = out.n;
    return 0;
}
