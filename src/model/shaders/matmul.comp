#version 450
// y[m, c0..c1) = act(x[m, k] . W[n, k]^T + b)  (or, with resid, y += x . W^T + b).
// ln: x is first layer-normed row by row (gain vb, bias vc, eps; biased variance, two passes as
// layernorm.comp): the layer norm before a product runs inside it, one dispatch and one barrier
// fewer. The column tiles at c0 also write the normed rows to h (the layer norm's own output,
// which later operations may read); the others only read x, so nothing races.
// Tiled in shared memory: a 64 x 64 output tile per workgroup, K in steps of 16, each of the 256
// invocations computing 4 x 4 outputs strided by 16 (so loads and stores stay coalesced).
// Weights: W_F32 (float), W_F16 (float16_t through 16-bit storage) or W_F16P (two halves per
// uint, unpacked with unpackHalf2x16: devices without 16-bit storage). Sums are in float.
#extension GL_GOOGLE_include_directive : require
#if defined(W_F16)
#extension GL_EXT_shader_16bit_storage : require
#endif
layout(local_size_x = 16, local_size_y = 16) in;
#include "common.glsl"
#if defined(W_F16)
layout(std430, set = 0, binding = 1) readonly buffer W { float16_t w[]; };
float wload(uint i) { return float(w[i]); }
#elif defined(W_F16P)
layout(std430, set = 0, binding = 1) readonly buffer W { uint w[]; };
float wload(uint i) { vec2 h = unpackHalf2x16(w[i >> 1]); return (i & 1u) != 0u ? h.y : h.x; }
#else
layout(std430, set = 0, binding = 1) readonly buffer W { float w[]; };
float wload(uint i) { return w[i]; }
#endif
layout(push_constant) uniform PC { uint x, y, m, k, c0, c1, ldy, act, resid, bias, ln, h; float eps; } pc;

#define BM 64
#define BN 64
#define BK 16
shared float As[BK][BM + 1];
shared float Bs[BK][BN + 1];
shared float red[256];
shared float mu[BM], rs[BM];

float erf_approx(float x) { // Abramowitz and Stegun 7.1.26: |error| < 1.5e-7
    float s = sign(x), a = abs(x), t = 1.0 / (1.0 + 0.3275911 * a);
    float y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
    return s * y;
}
float act(float v) {
    if (pc.act == 0u) return v / (1.0 + exp(-1.702 * v));                                  // quick_gelu
    if (pc.act == 1u) return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));       // gelu
    if (pc.act == 2u) return 0.5 * v * (1.0 + tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)));
    if (pc.act == 3u) return max(v, 0.0);                                                   // relu
    return v;
}

void main() {
    uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y, tid = ty * 16u + tx;
    uint row0 = gl_WorkGroupID.y * BM, col0 = pc.c0 + gl_WorkGroupID.x * BN;
    float acc[4][4];
    for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] = 0.0;
    if (pc.ln != 0u) { /* the tile's 64 rows: four invocations a row, mean then variance */
        uint r = tid >> 2, part = tid & 3u, gr = row0 + r, base = pc.x + gr * pc.k;
        float s = 0.0;
        if (gr < pc.m)
            for (uint i = part; i < pc.k; i += 4u) s += ws[base + i];
        red[tid] = s;
        barrier();
        if (part == 0u) mu[r] = (red[tid] + red[tid + 1u] + red[tid + 2u] + red[tid + 3u]) / float(pc.k);
        barrier();
        float mean = mu[r];
        s = 0.0;
        if (gr < pc.m)
            for (uint i = part; i < pc.k; i += 4u) { float c = ws[base + i] - mean; s += c * c; }
        red[tid] = s;
        barrier();
        if (part == 0u) rs[r] = inversesqrt((red[tid] + red[tid + 1u] + red[tid + 2u] + red[tid + 3u]) / float(pc.k) + pc.eps);
        barrier();
    }
    bool writer = pc.ln != 0u && gl_WorkGroupID.x == 0u;
    for (uint k0 = 0u; k0 < pc.k; k0 += BK) {
        for (uint e = tid; e < BM * BK; e += 256u) {
            uint r = e / BK, kk = e % BK, gr = row0 + r, gk = k0 + kk;
            float a = 0.0;
            if (gr < pc.m && gk < pc.k) {
                a = ws[pc.x + gr * pc.k + gk];
                if (pc.ln != 0u) {
                    a = (a - mu[r]) * rs[r] * vb[gk] + vc[gk];
                    if (writer) ws[pc.h + gr * pc.k + gk] = a;
                }
            }
            As[kk][r] = a;
            uint gc = col0 + r;
            Bs[kk][r] = (gc < pc.c1 && gk < pc.k) ? wload(gc * pc.k + gk) : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < BK; kk++) {
            float a[4], b[4];
            for (int i = 0; i < 4; i++) a[i] = As[kk][ty + 16u * uint(i)];
            for (int j = 0; j < 4; j++) b[j] = Bs[kk][tx + 16u * uint(j)];
            for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) acc[i][j] += a[i] * b[j];
        }
        barrier();
    }
    for (int i = 0; i < 4; i++) {
        uint r = row0 + ty + 16u * uint(i);
        if (r >= pc.m) continue;
        for (int j = 0; j < 4; j++) {
            uint c = col0 + tx + 16u * uint(j);
            if (c >= pc.c1) continue;
            float v = acc[i][j] + (pc.bias != 0u ? va[c] : 0.0);
            uint o = pc.y + r * pc.ldy + c;
            if (pc.resid != 0u) ws[o] += v;
            else ws[o] = act(v);
        }
    }
}
