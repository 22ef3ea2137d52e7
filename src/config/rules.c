/* rules: see rules.h. */
#include "rules.h"

#include <ctype.h>
#include <fnmatch.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../model/backend.h"

#include "../common/cs_file.h"
#include "../common/cs_utf8.h"

#define MAX_RULES   64
#define MAX_ACTIONS 8

/* rule = MATCHERS -> ACTIONS: every matcher must hold; the actions then all apply. */
typedef struct rule {
    char *kind, *source, *category; /* NULL: not matched on */
    regex_t re;
    int has_re;
    char *tags[MAX_ACTIONS];
    int ntags;
    char *collection;
    int pin, drop;
    int64_t expire_ms;
} rule;

struct rules {
    rule rule[MAX_RULES];
    int nrule;
    org_settings org;
    int web_port;             /* -1: no web page */
    char device[32];          /* "" or a device name (model/backend.h) */
    char text_model[1024];    /* "" or a folder */
    char text_embedder[1024]; /* "" or a folder */
    regex_t text[MAX_RULES];
    int ntext;
    char *app[MAX_RULES];
    int napp;
    store_limits limits;
    capture_caps caps;
    int primary;
    int drop_secrets;
    int min_length;  /* text clips with fewer non-blank characters are not stored */
    int debounce_ms; /* PRIMARY settles this long before it is read */
};

char *rules_default_path(void) {
    const char *e = getenv("CLIPSEEK_CONFIG");
    if (e && *e) return strdup(e);
    char p[PATH_MAX];
    const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
    if (x && *x)
        snprintf(p, sizeof p, "%s/clipseek/config", x);
    else if (h && *h)
        snprintf(p, sizeof p, "%s/.config/clipseek/config", h);
    else
        return NULL;
    return strdup(p);
}

static void rule_free(rule *u) {
    free(u->kind);
    free(u->source);
    free(u->category);
    if (u->has_re) regfree(&u->re);
    for (int i = 0; i < u->ntags; i++) free(u->tags[i]);
    free(u->collection);
}

void rules_free(rules *r) {
    if (!r) return;
    for (int i = 0; i < r->nrule; i++) rule_free(&r->rule[i]);
    for (int i = 0; i < r->ntext; i++) regfree(&r->text[i]);
    for (int i = 0; i < r->napp; i++) free(r->app[i]);
    free(r);
}

static int parse_count(const char *v, long long max, long long *out) {
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < 0 || x > max) return -1;
    *out = x;
    return 0;
}

/* Next word of a rule: up to white space, or a "quoted" part (\" and \\ escape). The word is
 * unescaped in place; *p moves past it. NULL at the end. */
static char *next_word(char **p, int *bad) {
    char *s = *p;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) {
        *p = s;
        return NULL;
    }
    char *w = s, *o = s;
    int q = 0;
    for (; *s && (q || !isspace((unsigned char)*s)); s++) {
        if (*s == '"') {
            q = !q;
            continue;
        }
        if (q && *s == '\\' && (s[1] == '"' || s[1] == '\\')) s++;
        *o++ = *s;
    }
    if (q) *bad = 1;
    if (*s) s++;
    *o = 0;
    *p = s;
    return w;
}

/* glibc's regex engine can take memory and time exponential in stacked repetitions ("a++++",
 * "(a{99}){99}"); a config file must not be able to take the daemon down (found by fuzzing).
 * NULL if the pattern is tame: at most 512 bytes, no repetition applied to a repetition, bounds
 * {n,m} at most 100, at most 32 repetition operators. Else the reason. */
static const char *regex_wild(const char *re) {
    size_t n = strlen(re);
    if (n > 512) return "longer than 512 bytes";
    int reps = 0, after_rep = 0, in_class = 0;
    size_t cls = 0; /* where the bracket expression's members start */
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (in_class) { /* a ']' first in the brackets is a member, not the end */
            if (c == ']' && i != cls) in_class = 0;
            continue;
        }
        if (c == '\\' && i + 1 < n) {
            i++;
            after_rep = 0;
            continue;
        }
        if (c == '[') {
            in_class = 1;
            cls = i + 1 + (i + 1 < n && re[i + 1] == '^');
            after_rep = 0;
            continue;
        }
        int rep = c == '*' || c == '+' || c == '?' || c == '{';
        if (rep && after_rep) return "a repetition of a repetition";
        if (c == '{') {
            char *end;
            long a = strtol(re + i + 1, &end, 10), b = a;
            if (*end == ',') b = end[1] == '}' ? 100 : strtol(end + 1, &end, 10);
            if (a > 100 || b > 100) return "a bound above 100";
            const char *close = strchr(re + i, '}');
            if (close) i = (size_t)(close - re);
        }
        if (rep && ++reps > 32) return "more than 32 repetitions";
        /* a group closing right after a repetition inside it, then repeated: "(a+)+" */
        after_rep = rep || (c == ')' && i > 0 && strchr("*+?}", re[i - 1]));
    }
    return NULL;
}

/* "30s", "15m", "12h", "7d" -> milliseconds; -1 if malformed. */
static int64_t parse_duration(const char *v) {
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || x <= 0 || x > 100000) return -1;
    int64_t unit = !strcmp(end, "s")   ? 1000
                   : !strcmp(end, "m") ? 60000
                   : !strcmp(end, "h") ? 3600000
                   : !strcmp(end, "d") ? 86400000
                                       : -1;
    return unit < 0 ? -1 : x * unit;
}

static int parse_rule(rule *u, char *v, const char *p, int lineno, cs_err *err) {
    char *arrow = strstr(v, "->");
    if (!arrow) return cs_err_set(err, "%s:%d: a rule is MATCH... -> ACTION...", p, lineno);
    *arrow = 0;
    char *m = v, *a = arrow + 2, *w;
    int bad = 0, nm = 0, na = 0;
    while ((w = next_word(&m, &bad))) {
        char *c = strchr(w, ':');
        if (!c || !c[1]) return cs_err_set(err, "%s:%d: matcher '%s' is KEY:VALUE", p, lineno, w);
        *c++ = 0;
        char **slot = !strcmp(w, "kind")       ? &u->kind
                      : !strcmp(w, "source")   ? &u->source
                      : !strcmp(w, "category") ? &u->category
                                               : NULL;
        if (slot) {
            if (*slot) return cs_err_set(err, "%s:%d: %s given twice", p, lineno, w);
            *slot = strdup(c);
        } else if (!strcmp(w, "regex")) {
            if (u->has_re) return cs_err_set(err, "%s:%d: regex given twice", p, lineno);
            const char *wild = regex_wild(c);
            if (wild) return cs_err_set(err, "%s:%d: regex: %s (a pattern that could exhaust memory)", p, lineno, wild);
            int e = regcomp(&u->re, c, REG_EXTENDED | REG_NOSUB);
            if (e) {
                char msg[256];
                regerror(e, &u->re, msg, sizeof msg);
                return cs_err_set(err, "%s:%d: regex: %s", p, lineno, msg);
            }
            u->has_re = 1;
        } else
            return cs_err_set(err, "%s:%d: unknown matcher '%s' (kind, regex, source, category)", p, lineno, w);
        nm++;
    }
    while ((w = next_word(&a, &bad))) {
        char *c = strchr(w, ':');
        if (c) *c++ = 0;
        if (!strcmp(w, "pin") && !c)
            u->pin = 1;
        else if ((!strcmp(w, "ignore") || !strcmp(w, "drop")) && !c)
            u->drop = 1;
        else if (!strcmp(w, "tag") && c && *c && strlen(c) <= 64 && u->ntags < MAX_ACTIONS)
            u->tags[u->ntags++] = strdup(c);
        else if (!strcmp(w, "collection") && c && *c && strlen(c) <= 100 && !u->collection)
            u->collection = strdup(c);
        else if (!strcmp(w, "expire") && c && (u->expire_ms = parse_duration(c)) > 0) {
        } else
            return cs_err_set(err, "%s:%d: bad action '%s%s%s' (tag:T, collection:C, pin, expire:7d, ignore)", p,
                              lineno, w, c ? ":" : "", c ? c : "");
        na++;
    }
    if (bad) return cs_err_set(err, "%s:%d: unbalanced quote", p, lineno);
    if (!nm || !na) return cs_err_set(err, "%s:%d: a rule needs at least one matcher and one action", p, lineno);
    if (u->drop && na > 1) return cs_err_set(err, "%s:%d: ignore cannot be combined with other actions", p, lineno);
    return 0;
}

static int parse_bool(const char *v, int *out) {
    if (!strcmp(v, "true"))
        *out = 1;
    else if (!strcmp(v, "false"))
        *out = 0;
    else
        return -1;
    return 0;
}

static int parse_unit(const char *v, float *out) {
    char *end;
    double x = strtod(v, &end);
    if (!*v || *end || !(x >= 0 && x <= 1)) return -1;
    *out = (float)x;
    return 0;
}

static void set_defaults(rules *r) {
    r->limits.max_entries = 10000;
    r->caps = capture_default_caps();
    r->web_port = 7717;
    r->min_length = 1;
    r->debounce_ms = 300;
    r->org.ocr = 1;
    snprintf(r->org.ocr_lang, sizeof r->org.ocr_lang, "eng");
    r->org.duplicate_threshold = 0.95f;
    r->org.collection_threshold = 0.85f;
}

int rules_load(const char *path, rules **out, cs_err *err) {
    *out = NULL;
    char *p = path ? strdup(path) : rules_default_path();
    if (!p || !cs_exists(p)) { /* no file: defaults (a FIFO or folder there is an error below) */
        free(p);
        return rules_parse("", 0, "defaults", out, err);
    }
    char *txt;
    size_t len;
    if (cs_read_file(p, 1 << 20, &txt, &len, err)) {
        free(p);
        return -1;
    }
    int rc = rules_parse(txt, len, p, out, err);
    free(txt);
    free(p);
    return rc;
}

int rules_parse(const char *text, size_t len, const char *p, rules **out, cs_err *err) {
    *out = NULL;
    if (memchr(text, 0, len)) return cs_err_set(err, "%s: not a text file (NUL byte)", p);
    rules *r = calloc(1, sizeof *r);
    char *txt = malloc(len + 1);
    if (!r || !txt) {
        free(r);
        free(txt);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    memcpy(txt, text, len);
    txt[len] = 0;
    set_defaults(r);
    int rc = 0, lineno = 0;
    for (char *line = txt, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *l = cs_trim(line);
        if (!*l || *l == '#') continue;
        char *eq = strchr(l, '=');
        if (!eq) {
            rc = cs_err_set(err, "%s:%d: expected key = value", p, lineno);
            break;
        }
        *eq = 0;
        char *k = cs_trim(l), *v = cs_trim(eq + 1);
        long long n;
        if (!strcmp(k, "ignore_text")) {
            if (r->ntext == MAX_RULES) {
                rc = cs_err_set(err, "%s:%d: too many ignore_text rules", p, lineno);
                break;
            }
            const char *wild = regex_wild(v);
            if (wild) {
                rc = cs_err_set(err, "%s:%d: ignore_text: %s (a pattern that could exhaust memory)", p, lineno, wild);
                break;
            }
            int e = regcomp(&r->text[r->ntext], v, REG_EXTENDED | REG_NOSUB);
            if (e) {
                char m[256];
                regerror(e, &r->text[r->ntext], m, sizeof m);
                rc = cs_err_set(err, "%s:%d: ignore_text: %s", p, lineno, m);
                break;
            }
            r->ntext++;
        } else if (!strcmp(k, "ignore_app")) {
            if (r->napp == MAX_RULES || !*v) {
                rc = cs_err_set(err, "%s:%d: bad ignore_app", p, lineno);
                break;
            }
            r->app[r->napp++] = strdup(v);
        } else if (!strcmp(k, "store_secrets")) {
            if (strcmp(v, "true") && strcmp(v, "false")) {
                rc = cs_err_set(err, "%s:%d: store_secrets is true or false", p, lineno);
                break;
            }
            r->drop_secrets = !strcmp(v, "false");
        } else if (!strcmp(k, "primary")) {
            if (strcmp(v, "true") && strcmp(v, "false")) {
                rc = cs_err_set(err, "%s:%d: primary is true or false", p, lineno);
                break;
            }
            r->primary = !strcmp(v, "true");
        } else if (!strcmp(k, "min_length") || !strcmp(k, "debounce_ms")) {
            long long max = !strcmp(k, "min_length") ? 1000000 : 10000;
            if (parse_count(v, max, &n)) {
                rc = cs_err_set(err, "%s:%d: %s needs a whole number from 0 to %lld", p, lineno, k, max);
                break;
            }
            if (!strcmp(k, "min_length"))
                r->min_length = (int)n;
            else
                r->debounce_ms = (int)n;
        } else if (!strcmp(k, "max_entries") || !strcmp(k, "max_age_days") || !strcmp(k, "max_total_mb") ||
                   !strcmp(k, "max_image_mb") || !strcmp(k, "max_text_mb")) {
            /* days are multiplied into milliseconds: a smaller ceiling keeps that in range */
            long long max = !strcmp(k, "max_age_days") ? 10000000LL : 1LL << 40;
            if (parse_count(v, max, &n)) {
                rc = cs_err_set(err, "%s:%d: %s needs a whole number from 0 to %lld", p, lineno, k, max);
                break;
            }
            if (!strcmp(k, "max_entries"))
                r->limits.max_entries = n;
            else if (!strcmp(k, "max_age_days"))
                r->limits.max_age_ms = n * 86400000LL;
            else if (!strcmp(k, "max_total_mb"))
                r->limits.max_bytes = n << 20;
            else if (n == 0) {
                rc = cs_err_set(err, "%s:%d: %s must be at least 1", p, lineno, k);
                break;
            } else if (!strcmp(k, "max_image_mb"))
                r->caps.max_image = (size_t)n << 20;
            else
                r->caps.max_text = (size_t)n << 20;
        } else if (!strcmp(k, "rule")) {
            if (r->nrule == MAX_RULES) {
                rc = cs_err_set(err, "%s:%d: too many rules", p, lineno);
                break;
            }
            rc = parse_rule(&r->rule[r->nrule], v, p, lineno, err);
            r->nrule++; /* counted even when bad, so rules_free frees what was parsed */
        } else if (!strcmp(k, "web")) {
            int on;
            if (parse_bool(v, &on))
                rc = cs_err_set(err, "%s:%d: web is true or false", p, lineno);
            else if (!on)
                r->web_port = -1;
        } else if (!strcmp(k, "web_port")) {
            if (parse_count(v, 65535, &n) || n < 1)
                rc = cs_err_set(err, "%s:%d: web_port is 1-65535", p, lineno);
            else if (r->web_port >= 0)
                r->web_port = (int)n;
        } else if (!strcmp(k, "device")) {
            int kind, idx;
            cs_err de;
            if (strlen(v) >= sizeof r->device || be_parse_device(v, &kind, &idx, &de))
                rc = cs_err_set(err, "%s:%d: device is auto, cpu, vulkan or vulkan:N", p, lineno);
            else
                snprintf(r->device, sizeof r->device, "%s", v);
        } else if (!strcmp(k, "text_model")) {
            if (!*v || strlen(v) >= sizeof r->text_model)
                rc = cs_err_set(err, "%s:%d: text_model is a folder", p, lineno);
            else
                snprintf(r->text_model, sizeof r->text_model, "%s", v);
        } else if (!strcmp(k, "text_embedder")) {
            if (!*v || strlen(v) >= sizeof r->text_embedder)
                rc = cs_err_set(err, "%s:%d: text_embedder is a folder", p, lineno);
            else
                snprintf(r->text_embedder, sizeof r->text_embedder, "%s", v);
        } else if (!strcmp(k, "ocr")) {
            if (parse_bool(v, &r->org.ocr)) rc = cs_err_set(err, "%s:%d: ocr is true or false", p, lineno);
        } else if (!strcmp(k, "ocr_lang")) {
            if (!*v || strlen(v) >= sizeof r->org.ocr_lang || strspn(v, "abcdefghijklmnopqrstuvwxyz_+") != strlen(v))
                rc = cs_err_set(err, "%s:%d: ocr_lang is like eng or eng+deu", p, lineno);
            else
                snprintf(r->org.ocr_lang, sizeof r->org.ocr_lang, "%s", v);
        } else if (!strcmp(k, "labels")) {
            if (!*v || strlen(v) >= sizeof r->org.labels)
                rc = cs_err_set(err, "%s:%d: labels needs a file path", p, lineno);
            else
                snprintf(r->org.labels, sizeof r->org.labels, "%s", v);
        } else if (!strcmp(k, "duplicate_threshold") || !strcmp(k, "collection_threshold")) {
            if (parse_unit(v, !strcmp(k, "duplicate_threshold") ? &r->org.duplicate_threshold
                                                                : &r->org.collection_threshold))
                rc = cs_err_set(err, "%s:%d: %s is a cosine between 0 and 1", p, lineno, k);
        } else
            rc = cs_err_set(err, "%s:%d: unknown setting '%s'", p, lineno, k);
    }
    free(txt);
    if (rc) {
        rules_free(r);
        return -1;
    }
    *out = r;
    return 0;
}

static int rule_matches(const rule *u, const rule_facts *f) {
    if (u->kind && strcmp(u->kind, f->kind) && !(f->subkind && !strcmp(u->kind, f->subkind))) return 0;
    if (u->category && !(f->category && !strcasecmp(u->category, f->category))) return 0;
    if (u->source && !(f->source && fnmatch(u->source, f->source, FNM_CASEFOLD) == 0)) return 0;
    if (u->has_re && !(f->text && regexec(&u->re, f->text, 0, NULL, 0) == 0)) return 0;
    return 1;
}

/* Fewer than min non-blank characters (UTF-8 code points, counted after trimming), or nothing but
 * whitespace whatever min is: a stray space or newline selected by accident is not a clip. */
static int short_text(const unsigned char *d, size_t n, int min) {
    while (n && isspace(*d)) {
        d++;
        n--;
    }
    while (n && isspace(d[n - 1])) n--;
    if (n == 0) return 1;
    long chars = 0;
    for (size_t i = 0; i < n && chars < min; i++) chars += (d[i] & 0xC0) != 0x80;
    return chars < min;
}

const char *rules_reject(const rules *r, const char *kind, const char *subkind, const unsigned char *data, size_t len,
                         const char *source) {
    if (!r) return NULL;
    if (!strcmp(kind, "text") && short_text(data, len, r->min_length))
        return r->min_length > 1 ? "it is shorter than min_length" : "it is only whitespace";
    if (r->drop_secrets && subkind && !strcmp(subkind, "secret"))
        return "it looks like a secret (store_secrets = false)";
    for (int i = 0; source && i < r->napp; i++)
        if (!strcasecmp(source, r->app[i])) return "its application is in ignore_app";
    int drops = 0;
    for (int i = 0; i < r->nrule; i++) drops |= r->rule[i].drop && !r->rule[i].category;
    if ((r->ntext || drops) && strcmp(kind, "image")) {
        char *t = malloc(len + 1); /* regexec wants a NUL-terminated string */
        if (!t) return NULL;
        memcpy(t, data, len);
        t[len] = 0;
        int hit = 0;
        for (int i = 0; i < r->ntext && !hit; i++) hit = regexec(&r->text[i], t, 0, NULL, 0) == 0;
        rule_facts f = {kind, subkind, t, source, NULL};
        int drop = 0;
        for (int i = 0; i < r->nrule && !drop; i++)
            drop = r->rule[i].drop && !r->rule[i].category && rule_matches(&r->rule[i], &f);
        free(t);
        if (hit) return "it matches an ignore_text rule";
        if (drop) return "a rule says ignore";
    } else if (drops) {
        rule_facts f = {kind, subkind, NULL, source, NULL};
        for (int i = 0; i < r->nrule; i++)
            if (r->rule[i].drop && !r->rule[i].category && rule_matches(&r->rule[i], &f)) return "a rule says ignore";
    }
    return NULL;
}

int rules_apply(const rules *r, store *s, int64_t id, int phase, int *deleted, cs_err *err) {
    if (deleted) *deleted = 0;
    if (!r || !r->nrule) return 0;
    store_entry e;
    int g = store_get(s, id, &e, err);
    if (g) return g > 0 ? 0 : -1; /* gone meanwhile: nothing to do */
    const char *text = e.text ? e.text : e.ocr_text;
    rule_facts f = {e.kind, e.subkind, text, e.source, e.category};
    int rc = 0;
    for (int i = 0; i < r->nrule && !rc; i++) {
        const rule *u = &r->rule[i];
        if ((phase == RULES_AT_STORE) != (u->category == NULL) || !rule_matches(u, &f)) continue;
        /* ignore rules without a category act before storing (rules_reject), on captured clips
         * only: an entry that exists was wanted (an explicit add) */
        if (u->drop && phase == RULES_AT_STORE) continue;
        if (u->drop) {
            rc = store_delete(s, id, err) < 0 ? -1 : 0;
            if (!rc && deleted) *deleted = 1;
            break;
        }
        for (int t = 0; t < u->ntags && !rc; t++) rc = store_tag(s, id, u->tags[t], 1, err) < 0 ? -1 : 0;
        if (!rc && u->pin) rc = store_set_pinned(s, id, 1, err) < 0 ? -1 : 0;
        if (!rc && u->expire_ms) rc = store_set_expire(s, id, e.first_ms + u->expire_ms, err) < 0 ? -1 : 0;
        if (!rc && u->collection) {
            int64_t cid = 0;
            int fr = store_collection_find(s, u->collection, &cid, err);
            if (fr == 1) fr = store_collection_create(s, u->collection, 1, NULL, NULL, 0, &cid, err);
            rc = fr < 0 ? -1 : store_set_collection(s, id, cid, err) < 0 ? -1 : 0;
        }
    }
    store_entry_free(&e);
    return rc;
}

org_settings rules_org(const rules *r) {
    if (r) return r->org;
    rules d;
    memset(&d, 0, sizeof d);
    set_defaults(&d);
    return d.org;
}
int rules_web_port(const rules *r) { return r->web_port; }

const char *rules_device(const rules *r) { return r && r->device[0] ? r->device : NULL; }
const char *rules_text_model(const rules *r) { return r && r->text_model[0] ? r->text_model : NULL; }
const char *rules_text_embedder(const rules *r) { return r && r->text_embedder[0] ? r->text_embedder : NULL; }

store_limits rules_limits(const rules *r) { return r->limits; }
capture_caps rules_caps(const rules *r) { return r->caps; }
int rules_primary(const rules *r) { return r->primary; }
int rules_debounce_ms(const rules *r) { return r ? r->debounce_ms : 300; }
