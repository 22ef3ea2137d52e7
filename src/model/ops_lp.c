/* ops_lp: lower-precision weights: conversion, storage and the kernel dispatch. See ops_lp.h. */
#include "ops_lp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

uint16_t ops_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 : 0));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* >= 65520 rounds past the largest half */
    if (ax < 0x38800000u) { /* below 2^-14: a half subnormal, m * 2^-24 (exact product, then rint) */
        float a;
        memcpy(&a, &ax, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f));
    }
    uint32_t h = (ax - 0x38000000u) >> 13, rem = ax & 0x1fff; /* exponent rebiased 127 -> 15 */
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;      /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

float ops_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, f;
    if (e == 0) {
        float v = (float)m * 5.9604644775390625e-08f; /* 2^-24: subnormal or zero, exact */
        memcpy(&f, &v, 4);
        f |= sign;
    } else if (e == 31)
        f = sign | 0x7f800000u | (m << 13);
    else
        f = sign | ((e + 112) << 23) | (m << 13);
    float r;
    memcpy(&r, &f, 4);
    return r;
}

/* Rounds to nearest even for |v| < 2^22 (the 1.5 * 2^23 trick: vectorises, unlike roundf). */
static inline float rne(float v) { return (v + 12582912.0f) - 12582912.0f; }

void ops_q8_quantize_row(const float *x, int k, int8_t *q, float *d) {
    int nb = (k + OPS_Q8_BLOCK - 1) / OPS_Q8_BLOCK;
    for (int b = 0; b < nb; b++) {
        int j0 = b * OPS_Q8_BLOCK, w = k - j0 < OPS_Q8_BLOCK ? k - j0 : OPS_Q8_BLOCK;
        float amax = 0.0f;
        for (int j = 0; j < w; j++) {
            float a = fabsf(x[j0 + j]);
            amax = a > amax ? a : amax;
        }
        float s = amax / 127.0f, id = s > 0.0f ? 127.0f / amax : 0.0f;
        d[b] = s;
        for (int j = 0; j < w; j++) q[j0 + j] = (int8_t)(int)rne(x[j0 + j] * id);
        for (int j = w; j < OPS_Q8_BLOCK; j++) q[j0 + j] = 0;
    }
}

size_t ops_lp_size(int n, int k, int fmt) {
    size_t nb = (size_t)(k + OPS_Q8_BLOCK - 1) / OPS_Q8_BLOCK;
    if (fmt == OPS_LP_F16) return (size_t)n * k * sizeof(uint16_t);
    if (fmt == OPS_LP_Q8) return (size_t)n * nb * sizeof(ops_q8_block);
    if (fmt == OPS_LP_Q8P) return (size_t)(n + OPS_Q8P_NR - 1) / OPS_Q8P_NR * OPS_Q8P_NR * nb * sizeof(ops_q8_block);
    return 0;
}

const char *ops_lp_name(int fmt) {
    return fmt == OPS_LP_F16 ? "F16" : fmt == OPS_LP_Q8 ? "Q8_0" : fmt == OPS_LP_Q8P ? "Q8_0P" : "?";
}

int ops_lp_family(int fmt) { return fmt == OPS_LP_Q8P ? OPS_LP_Q8 : fmt; }

int ops_lp_fmt_for(int fmt) {
    /* without the AVX2 kernel the panels would only be read by the portable loops */
    return fmt == OPS_LP_Q8 && ops_lp_have(OPS_LP_AVX2) ? OPS_LP_Q8P : fmt;
}

ops_lpw *ops_lp_alloc(int n, int k, int fmt) {
    size_t bytes = ops_lp_size(n, k, fmt);
    if (!bytes) return NULL;
    ops_lpw *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    if (posix_memalign(&w->data, 64, bytes)) {
        free(w);
        return NULL;
    }
    w->fmt = fmt;
    w->n = n;
    w->k = k;
    w->nb = fmt != OPS_LP_F16 ? (k + OPS_Q8_BLOCK - 1) / OPS_Q8_BLOCK : 0;
    w->bytes = bytes;
    return w;
}

void ops_lp_free(ops_lpw *w) {
    if (!w) return;
    free(w->data);
    free(w);
}

ops_lpw *ops_lp_pack(ops_ctx *o, const float *src, int n, int k, int fmt) {
    if (fmt == OPS_LP_Q8P) { /* quantised as Q8, then laid out in panels */
        ops_lpw *q = ops_lp_pack(o, src, n, k, OPS_LP_Q8), *p = q ? ops_lp_alloc(n, k, OPS_LP_Q8P) : NULL;
        if (p) ops_q8p_repack(q->data, n, q->nb, p->data);
        ops_lp_free(q);
        return p;
    }
    ops_lpw *w = ops_lp_alloc(n, k, fmt);
    if (!w) return NULL;
    int nt = o ? ops_ctx_threads(o) : 1;
    if (fmt == OPS_LP_F16) {
        uint16_t *h = w->data;
#pragma omp parallel for schedule(static) num_threads(nt) if ((size_t)n * k > 65536)
        for (size_t i = 0; i < (size_t)n * k; i++) h[i] = ops_f32_to_f16(src[i]);
        return w;
    }
    ops_q8_block *blk = w->data;
    int nb = w->nb;
#pragma omp parallel for schedule(static) num_threads(nt) if ((size_t)n * k > 65536)
    for (int r = 0; r < n; r++)
        for (int b = 0; b < nb; b++) {
            const float *x = src + (size_t)r * k + (size_t)b * OPS_Q8_BLOCK;
            int cnt = k - b * OPS_Q8_BLOCK < OPS_Q8_BLOCK ? k - b * OPS_Q8_BLOCK : OPS_Q8_BLOCK;
            float amax = 0.0f;
            for (int j = 0; j < cnt; j++) amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
            /* the scale is rounded to F16 first and the weights divided by the rounded one, so
             * q * d reproduces w to within d / 2 (dividing by the F32 scale, as ggml does, adds
             * the scale's own rounding, up to 2^-11 relative, to every weight of the block) */
            uint16_t dh = ops_f32_to_f16(amax / 127.0f);
            float d = ops_f16_to_f32(dh), id = d > 0.0f ? 1.0f / d : 0.0f;
            ops_q8_block *ob = &blk[(size_t)r * nb + b];
            ob->d = dh;
            for (int j = 0; j < cnt; j++) {
                float v = rne(x[j] * id);
                ob->qs[j] = (int8_t)(int)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
            }
            for (int j = cnt; j < OPS_Q8_BLOCK; j++) ob->qs[j] = 0;
        }
    return w;
}

size_t ops_lp_scratch(int m, int k, int fmt) {
    if (fmt != OPS_LP_Q8 && fmt != OPS_LP_Q8P) return 0;
    size_t nb = (size_t)(k + OPS_Q8_BLOCK - 1) / OPS_Q8_BLOCK;
    return (size_t)m * nb * (2 * OPS_Q8_BLOCK + sizeof(float)) + 64; /* Q8P's: q, |q| and d (ops_q8p.c) */
}

int ops_lp_have(int impl) {
    if (impl == OPS_LP_REF || impl == OPS_LP_PORTABLE) return 1;
#if defined(__AVX2__) && defined(__F16C__) && defined(__FMA__)
    if (impl == OPS_LP_AVX2) return 1;
    if (impl == OPS_LP_AVXVNNI || impl == OPS_LP_VNNI512) return ops_q8p_cpu_has(impl);
#endif
    return 0;
}

const char *ops_lp_impl_name(int impl) {
    static const char *names[] = {"reference", "portable", "AVX2", "AVX-VNNI", "AVX512-VNNI"};
    return impl >= 0 && impl < (int)(sizeof names / sizeof *names) ? names[impl] : "?";
}

int ops_lp_best(void) {
    static const int order[] = {OPS_LP_VNNI512, OPS_LP_AVXVNNI, OPS_LP_AVX2};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (ops_lp_have(order[i])) return order[i];
    return OPS_LP_PORTABLE;
}

int ops_lp_linear_impl(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, void *scratch, int impl) {
    if (!ops_lp_have(impl)) return -1;
    if (w->fmt == OPS_LP_Q8P) {
        ops_q8p_linear(o, x, w, y, m, scratch, impl);
        return 0;
    }
    if (impl == OPS_LP_AVXVNNI || impl == OPS_LP_VNNI512) impl = OPS_LP_AVX2; /* only Q8P has VNNI kernels */
    if (w->fmt == OPS_LP_F16)
        ops_f16_linear(o, x, w, y, m, impl);
    else
        ops_q8_linear(o, x, w, y, m, scratch, impl);
    return 0;
}

void ops_lp_linear(ops_ctx *o, const float *x, const ops_lpw *w, float *y, int m, void *scratch) {
    ops_lp_linear_impl(o, x, w, y, m, scratch, ops_lp_best());
}
