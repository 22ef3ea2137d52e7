/* rules: see rules.h. */
#include "rules.h"

#include <ctype.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/cs_file.h"

#define MAX_RULES 64

struct rules {
    regex_t text[MAX_RULES];
    int ntext;
    char *app[MAX_RULES];
    int napp;
    store_limits limits;
    capture_caps caps;
    int primary;
    int drop_secrets;
};

char *rules_default_path(void) {
    const char *e = getenv("CLIPSEEK_CONFIG");
    if (e && *e) return strdup(e);
    char p[PATH_MAX];
    const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
    if (x && *x) snprintf(p, sizeof p, "%s/clipseek/config", x);
    else if (h && *h) snprintf(p, sizeof p, "%s/.config/clipseek/config", h);
    else return NULL;
    return strdup(p);
}

void rules_free(rules *r) {
    if (!r) return;
    for (int i = 0; i < r->ntext; i++) regfree(&r->text[i]);
    for (int i = 0; i < r->napp; i++) free(r->app[i]);
    free(r);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int parse_count(const char *v, long long max, long long *out) {
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < 0 || x > max) return -1;
    *out = x;
    return 0;
}

int rules_load(const char *path, rules **out, cs_err *err) {
    *out = NULL;
    rules *r = calloc(1, sizeof *r);
    if (!r) return cs_err_set(err, "out of memory");
    r->limits.max_entries = 10000;
    r->caps = capture_default_caps();
    char *p = path ? strdup(path) : rules_default_path();
    if (!p || !cs_is_file(p)) { /* no file: defaults */
        free(p);
        *out = r;
        return 0;
    }
    char *txt;
    size_t len;
    if (cs_read_file(p, 1 << 20, &txt, &len, err)) { free(p); rules_free(r); return -1; }
    int rc = 0, lineno = 0;
    for (char *line = txt, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *l = trim(line);
        if (!*l || *l == '#') continue;
        char *eq = strchr(l, '=');
        if (!eq) { rc = cs_err_set(err, "%s:%d: expected key = value", p, lineno); break; }
        *eq = 0;
        char *k = trim(l), *v = trim(eq + 1);
        long long n;
        if (!strcmp(k, "ignore_text")) {
            if (r->ntext == MAX_RULES) { rc = cs_err_set(err, "%s:%d: too many ignore_text rules", p, lineno); break; }
            int e = regcomp(&r->text[r->ntext], v, REG_EXTENDED | REG_NOSUB);
            if (e) {
                char m[256];
                regerror(e, &r->text[r->ntext], m, sizeof m);
                rc = cs_err_set(err, "%s:%d: ignore_text: %s", p, lineno, m);
                break;
            }
            r->ntext++;
        } else if (!strcmp(k, "ignore_app")) {
            if (r->napp == MAX_RULES || !*v) { rc = cs_err_set(err, "%s:%d: bad ignore_app", p, lineno); break; }
            r->app[r->napp++] = strdup(v);
        } else if (!strcmp(k, "store_secrets")) {
            if (strcmp(v, "true") && strcmp(v, "false")) { rc = cs_err_set(err, "%s:%d: store_secrets is true or false", p, lineno); break; }
            r->drop_secrets = !strcmp(v, "false");
        } else if (!strcmp(k, "primary")) {
            if (strcmp(v, "true") && strcmp(v, "false")) { rc = cs_err_set(err, "%s:%d: primary is true or false", p, lineno); break; }
            r->primary = !strcmp(v, "true");
        } else if (!strcmp(k, "max_entries") || !strcmp(k, "max_age_days") || !strcmp(k, "max_total_mb") ||
                   !strcmp(k, "max_image_mb") || !strcmp(k, "max_text_mb")) {
            if (parse_count(v, 1LL << 40, &n)) { rc = cs_err_set(err, "%s:%d: %s needs a whole number >= 0", p, lineno, k); break; }
            if (!strcmp(k, "max_entries")) r->limits.max_entries = n;
            else if (!strcmp(k, "max_age_days")) r->limits.max_age_ms = n * 86400000LL;
            else if (!strcmp(k, "max_total_mb")) r->limits.max_bytes = n << 20;
            else if (n == 0) { rc = cs_err_set(err, "%s:%d: %s must be at least 1", p, lineno, k); break; }
            else if (!strcmp(k, "max_image_mb")) r->caps.max_image = (size_t)n << 20;
            else r->caps.max_text = (size_t)n << 20;
        } else
            rc = cs_err_set(err, "%s:%d: unknown setting '%s'", p, lineno, k);
    }
    free(txt);
    free(p);
    if (rc) { rules_free(r); return -1; }
    *out = r;
    return 0;
}

const char *rules_reject(const rules *r, const char *kind, const char *subkind, const unsigned char *data, size_t len,
                         const char *source) {
    if (!r) return NULL;
    if (r->drop_secrets && subkind && !strcmp(subkind, "secret")) return "it looks like a secret (store_secrets = false)";
    for (int i = 0; source && i < r->napp; i++)
        if (!strcasecmp(source, r->app[i])) return "its application is in ignore_app";
    if (r->ntext && strcmp(kind, "image")) {
        char *t = malloc(len + 1); /* regexec wants a NUL-terminated string */
        if (!t) return NULL;
        memcpy(t, data, len);
        t[len] = 0;
        int hit = 0;
        for (int i = 0; i < r->ntext && !hit; i++) hit = regexec(&r->text[i], t, 0, NULL, 0) == 0;
        free(t);
        if (hit) return "it matches an ignore_text rule";
    }
    return NULL;
}

store_limits rules_limits(const rules *r) { return r->limits; }
capture_caps rules_caps(const rules *r) { return r->caps; }
int rules_primary(const rules *r) { return r->primary; }
