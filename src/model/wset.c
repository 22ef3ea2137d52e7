/* wset: see wset.h. Moved out of clip.c so that every model family shares one implementation. */
#include "wset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ws_add(wset *w, int group, const float **dst, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
           int64_t d3) {
    ws_slot *ns = realloc(w->slots, (w->nslots + 1) * sizeof *ns);
    if (!ns) return -1;
    w->slots = ns;
    ws_slot *s = &w->slots[w->nslots++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    memcpy(s->shape, d, sizeof d);
    s->dst = dst;
    s->group = group;
    return 0;
}

static void shape_str(char *buf, size_t n, int nd, const int64_t *s) {
    size_t at = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < nd && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, i ? ", %lld" : "%lld", (long long)s[i]);
    if (at < n) snprintf(buf + at, n - at, "]");
}

int ws_check(const wset *w, const char *name, int nd, const int64_t *shape, const st_tensor **out, cs_err *err) {
    const st_tensor *t = st_find(w->st, name);
    if (!t) return cs_err_set(err, "%s: tensor '%s' is missing", w->dir, name);
    int ok = t->ndim == nd && (t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16);
    for (int i = 0; ok && i < nd; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char want[96], got[96];
        shape_str(want, sizeof want, nd, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        return cs_err_set(err, "%s: tensor '%s': expected F32/F16/BF16 %s, found %s %s", t->file, name, want,
                          st_dtype_name(t->dtype), got);
    }
    *out = t;
    return 0;
}

int ws_check_all(const wset *w, cs_err *err) {
    for (size_t i = 0; i < w->nslots; i++) {
        const st_tensor *t;
        if (ws_check(w, w->slots[i].name, w->slots[i].ndim, w->slots[i].shape, &t, err)) return -1;
    }
    return 0;
}

int ws_own(wset *w, void *p, size_t bytes) {
    void **no = realloc(w->owned, (w->nowned + 1) * sizeof *no);
    if (!no) {
        free(p);
        return -1;
    }
    w->owned = no;
    w->owned[w->nowned++] = p;
    w->owned_bytes += bytes;
    return 0;
}

static const char *slot_name(const wset *w, const float *const *dst) {
    for (size_t i = 0; i < w->nslots; i++)
        if (w->slots[i].dst == dst) return w->slots[i].name;
    return NULL;
}

void ws_drop(wset *w, const float *const *dst, size_t bytes) {
    const float *p = *dst;
    for (size_t i = 0; i < w->nowned; i++)
        if (w->owned[i] == p) {
            free(w->owned[i]);
            w->owned[i] = w->owned[--w->nowned];
            w->owned_bytes -= bytes;
            return;
        }
    const char *name = slot_name(w, dst);
    if (name) st_release(w->st, st_find(w->st, name));
}

/* F32 tensors from this size up are read in place from the map; smaller ones are copied. Why:
 * the kernel maps a file's page-cache folios whole where it can (large folios, on ext4 since Linux
 * 6.16 and elsewhere, up to MBs), so one access to a 3 KB bias in place brought back MBs of the
 * packed or converted weight beside it in the file: 66 MB of ViT-B/32's vision tower sat
 * resident twice, in the map and in the packed (F32) or q8 copy (measured with /proc/PID/pagemap,
 * docs/performance.md "f32 weights once"). Copying the small ones costs under 2 MB per tower. */
#define WS_INPLACE_MIN (1u << 20)

int ws_views(wset *w, int group, cs_err *err) {
    for (size_t i = 0; i < w->nslots; i++) {
        ws_slot *s = &w->slots[i];
        if (s->group != group) continue;
        const st_tensor *tt;
        if (ws_check(w, s->name, s->ndim, s->shape, &tt, err)) return -1;
        if (tt->dtype == ST_F32 && ((uintptr_t)tt->data % sizeof(float)) == 0 && tt->nbytes >= WS_INPLACE_MIN) {
            *s->dst = tt->data;
            continue;
        }
        float *f = malloc((size_t)tt->numel * sizeof *f);
        if (!f || ws_own(w, f, (size_t)tt->numel * sizeof *f))
            return cs_err_set(err, "out of memory widening '%s'", s->name);
        st_to_f32(tt, f);
        st_release(w->st, tt); /* only the copy is read from now on: the mapped pages can go */
        *s->dst = f;
    }
    return 0;
}

void ws_release(wset *w, int group) {
    for (size_t i = 0; i < w->nslots; i++) {
        const ws_slot *s = &w->slots[i];
        const st_tensor *t = s->group == group ? st_find(w->st, s->name) : NULL;
        if (t && (const void *)*s->dst != t->data) st_release(w->st, t);
    }
}

int ws_stack3(wset *w, const float **a, const float **b, const float **c, const float *ba, const float *bb,
              const float *bc, size_t n, size_t k, float **wout, float **bout, cs_err *err) {
    float *m = malloc(3 * n * k * sizeof *m), *v = malloc(3 * n * sizeof *v);
    if (!m || !v) {
        free(m);
        free(v);
        return cs_err_set(err, "out of memory stacking attention weights");
    }
    if (ws_own(w, m, 3 * n * k * sizeof *m)) { /* ws_own freed m */
        free(v);
        return cs_err_set(err, "out of memory stacking attention weights");
    }
    if (ws_own(w, v, 3 * n * sizeof *v)) return cs_err_set(err, "out of memory stacking attention weights");
    memcpy(m, *a, n * k * sizeof *m);
    memcpy(m + n * k, *b, n * k * sizeof *m);
    memcpy(m + 2 * n * k, *c, n * k * sizeof *m);
    memcpy(v, ba, n * sizeof *v);
    memcpy(v + n, bb, n * sizeof *v);
    memcpy(v + 2 * n, bc, n * sizeof *v);
    *wout = m;
    *bout = v;
    ws_drop(w, a, n * k * sizeof(float));
    ws_drop(w, b, n * k * sizeof(float));
    ws_drop(w, c, n * k * sizeof(float));
    *a = *b = *c = NULL;
    return 0;
}

int ws_prep(wset *w, be *b, const float **src, int n, int k, int kind, be_w **out, cs_err *err) {
    *out = be_prepare(b, *src, BE_F32, n, k, kind, err);
    if (!*out) return cs_err_prefix(err, "%s", b->info.name);
    if ((*out)->copied) {
        ws_drop(w, src, (size_t)n * k * sizeof(float));
        *src = NULL;
    }
    return 0;
}

const char *ws_dtype_summary(const st_set *st, uint64_t *params) {
    int counts[3] = {0, 0, 0};
    uint64_t n = 0;
    for (size_t i = 0; i < st_count(st); i++) {
        const st_tensor *t = st_at(st, i);
        if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16) continue;
        counts[t->dtype == ST_F32 ? 0 : t->dtype == ST_F16 ? 1 : 2]++;
        n += (uint64_t)t->numel;
    }
    if (params) *params = n;
    int kinds = (counts[0] > 0) + (counts[1] > 0) + (counts[2] > 0);
    return kinds > 1 ? "mixed" : counts[1] ? "F16" : counts[2] ? "BF16" : "F32";
}

void ws_free_model(wset *w, be *b, st_set *st, char *dir) {
    be_free(b);
    ws_free(w);
    st_close(st);
    free(dir);
}

void ws_free(wset *w) {
    if (!w) return;
    for (size_t i = 0; i < w->nowned; i++) free(w->owned[i]);
    free(w->owned);
    free(w->slots);
    w->owned = NULL;
    w->slots = NULL;
    w->nowned = w->nslots = 0;
    w->owned_bytes = 0;
}
