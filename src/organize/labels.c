/* labels: see labels.h. */
#include "labels.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/cs_file.h"
#include "../common/cs_utf8.h"
#include "../store/store.h"

static const char BUILTIN[] =
    "screenshot: a screenshot of a computer screen | a screenshot of an application window | a screenshot of a web page"
    " | a screenshot of a phone screen\n"
    "photo: a photo | a photograph of people | a photograph of a landscape | a photograph of an object\n"
    "document: a scanned document | a page of printed text | a text document | a letter\n"
    "receipt: a photo of a receipt | a shopping receipt | an invoice\n"
    "chart: a chart | a bar chart | a line graph of data | a pie chart\n"
    "diagram: a diagram | a flowchart | an architecture diagram | a technical drawing\n"
    "drawing: a drawing | an illustration | a sketch | a cartoon\n"
    "meme: a meme | an image macro with caption text | a funny meme\n"
    "code: a screenshot of source code | program code in a text editor | a terminal with commands\n"
    "map: a map | a street map | a satellite map\n"
    "logo: a logo | an icon | a company logo\n";

typedef struct label {
    char name[32];
    char *prompts[LABELS_MAX_PROMPTS];
    int nprompts;
} label;

struct labels {
    label l[LABELS_MAX];
    int n, dim;
    float *vecs; /* n x dim, unit rows; NULL until embedded */
    float logit_scale;
    char digest[65];
};

void labels_free(labels *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++)
        for (int j = 0; j < l->l[i].nprompts; j++) free(l->l[i].prompts[j]);
    free(l->vecs);
    free(l);
}

int labels_parse(const char *text, size_t len, const char *name, labels **out, cs_err *err) {
    *out = NULL;
    if (!cs_utf8_valid(text, len, 0)) return cs_err_set(err, "%s: not UTF-8 text", name);
    labels *l = calloc(1, sizeof *l);
    char *buf = malloc(len + 1);
    if (!l || !buf) {
        free(l);
        free(buf);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    memcpy(buf, text, len);
    buf[len] = 0;
    int rc = 0, lineno = 0;
    for (char *line = buf, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        char *h = strchr(line, '#');
        if (h) *h = 0;
        char *t = cs_trim(line);
        if (!*t) continue;
        char *colon = strchr(t, ':');
        if (!colon) {
            rc = cs_err_set(err, "%s:%d: expected LABEL: PROMPT | PROMPT", name, lineno);
            break;
        }
        *colon = 0;
        char *lab = cs_trim(t);
        if (!*lab || strlen(lab) > 31 || strchr(lab, '|')) {
            rc = cs_err_set(err, "%s:%d: a label is 1-31 bytes", name, lineno);
            break;
        }
        if (l->n == LABELS_MAX) {
            rc = cs_err_set(err, "%s:%d: more than %d labels", name, lineno, LABELS_MAX);
            break;
        }
        for (int i = 0; i < l->n; i++)
            if (!strcmp(l->l[i].name, lab)) rc = cs_err_set(err, "%s:%d: label '%s' given twice", name, lineno, lab);
        if (rc) break;
        label *L = &l->l[l->n++];
        snprintf(L->name, sizeof L->name, "%s", lab);
        for (char *p = colon + 1, *bar; p && !rc; p = bar) {
            bar = strchr(p, '|');
            if (bar) *bar++ = 0;
            char *pr = cs_trim(p);
            if (!*pr) continue;
            if (L->nprompts == LABELS_MAX_PROMPTS)
                rc = cs_err_set(err, "%s:%d: more than %d prompts", name, lineno, LABELS_MAX_PROMPTS);
            else if (!(L->prompts[L->nprompts++] = strdup(pr)))
                rc = cs_errc(err, CS_ENOMEM, "out of memory");
        }
        if (!rc && !L->nprompts) rc = cs_err_set(err, "%s:%d: label '%s' has no prompt", name, lineno, lab);
    }
    free(buf);
    if (!rc && l->n == 0) rc = cs_err_set(err, "%s: no labels", name);
    if (rc) {
        labels_free(l);
        return -1;
    }
    /* digest over the parsed form, so comments and spacing do not count as changes */
    size_t cap = 64, n = 0;
    char *d = malloc(cap);
    for (int i = 0; d && i < l->n; i++)
        for (int j = -1; d && j < l->l[i].nprompts; j++) {
            const char *s = j < 0 ? l->l[i].name : l->l[i].prompts[j];
            size_t k = strlen(s) + 1;
            if (n + k > cap) {
                char *nd = realloc(d, (cap = (n + k) * 2));
                if (!nd) {
                    free(d);
                    d = NULL;
                    break;
                }
                d = nd;
            }
            memcpy(d + n, s, k);
            n += k;
        }
    if (!d) {
        labels_free(l);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    store_sha256_hex(d, n, l->digest);
    free(d);
    *out = l;
    return 0;
}

int labels_load(const char *path, labels **out, cs_err *err) {
    char def[PATH_MAX];
    if (!path || !*path) {
        const char *x = getenv("XDG_CONFIG_HOME"), *h = getenv("HOME");
        def[0] = 0;
        if (x && *x)
            snprintf(def, sizeof def, "%s/clipseek/labels", x);
        else if (h && *h)
            snprintf(def, sizeof def, "%s/.config/clipseek/labels", h);
        if (!def[0] || !cs_exists(def)) return labels_parse(BUILTIN, sizeof BUILTIN - 1, "built-in labels", out, err);
        path = def;
    }
    char *txt;
    size_t len;
    if (cs_read_file(path, 1 << 20, &txt, &len, err)) return -1;
    int rc = labels_parse(txt, len, path, out, err);
    free(txt);
    return rc;
}

int labels_count(const labels *l) { return l->n; }
const char *labels_name(const labels *l, int i) { return i >= 0 && i < l->n ? l->l[i].name : NULL; }
const char *labels_digest(const labels *l) { return l->digest; }

int labels_embed(labels *l, clip_ctx *c, cs_err *err) {
    const clip_info *in = clip_get_info(c);
    int P = in->projection_dim;
    float *vecs = calloc((size_t)l->n * P, sizeof *vecs), *pv = malloc((size_t)LABELS_MAX_PROMPTS * P * sizeof *pv);
    if (!vecs || !pv) {
        free(vecs);
        free(pv);
        return cs_errc(err, CS_ENOMEM, "out of memory");
    }
    for (int i = 0; i < l->n; i++) {
        label *L = &l->l[i];
        if (clip_texts_embed(c, (const char *const *)L->prompts, L->nprompts, 1, pv, err)) {
            free(vecs);
            free(pv);
            return cs_err_prefix(err, "label '%s'", L->name);
        }
        float *v = vecs + (size_t)i * P;
        double norm = 0;
        for (int k = 0; k < P; k++) {
            double acc = 0;
            for (int j = 0; j < L->nprompts; j++) acc += pv[(size_t)j * P + k];
            v[k] = (float)acc;
            norm += acc * acc;
        }
        for (int k = 0; k < P && norm > 0; k++) v[k] = (float)(v[k] / sqrt(norm));
    }
    free(pv);
    free(l->vecs);
    l->vecs = vecs;
    l->dim = P;
    l->logit_scale = in->logit_scale > 0 ? in->logit_scale : 100.0f;
    return 0;
}

int labels_classify(const labels *l, const float *v, int dim, float *conf) {
    *conf = 0;
    if (!l->vecs || dim != l->dim) return -1;
    double logits[LABELS_MAX], mx = -1e30;
    int best = 0;
    for (int i = 0; i < l->n; i++) {
        const float *u = l->vecs + (size_t)i * dim;
        double d = 0;
        for (int k = 0; k < dim; k++) d += (double)u[k] * v[k];
        logits[i] = d * l->logit_scale;
        if (logits[i] > mx) {
            mx = logits[i];
            best = i;
        }
    }
    double sum = 0;
    for (int i = 0; i < l->n; i++) sum += exp(logits[i] - mx);
    *conf = (float)(1.0 / sum);
    return best;
}
