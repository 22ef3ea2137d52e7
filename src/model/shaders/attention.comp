#version 450
// Scaled dot-product attention, one workgroup per (query row, head). Query row r reads
// ix[meta + 3r ..]: the first key row, the number of keys, and the query's position (the causal
// limit). Keys and values are rows of the workspace (stride ld); mask (if set) is one int per key
// row at ix[mask + row], 0 = padding. An all-masked row gives zeros (torch gives NaN).
// Up to 2048 keys and a head size up to 256 (the host checks).
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
layout(local_size_x = 64) in;
#include "common.glsl"
layout(push_constant) uniform PC { uint q, ldq, k, v, ld, o, ldo, hd, causal, meta, mask, hasmask; float scale; } pc;
shared float sc[2048];
shared float qs[256];
shared float red[64];

float wg_reduce(float v, bool isMax) {
    uint t = gl_LocalInvocationID.x;
#ifdef SUBGROUP
    v = isMax ? subgroupMax(v) : subgroupAdd(v);
    if (gl_SubgroupInvocationID == 0u) red[gl_SubgroupID] = v;
    barrier();
    float s = red[0];
    for (uint i = 1u; i < gl_NumSubgroups; i++) s = isMax ? max(s, red[i]) : s + red[i];
    barrier();
    return s;
#else
    red[t] = v;
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (t < s) red[t] = isMax ? max(red[t], red[t + s]) : red[t] + red[t + s];
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
#endif
}

void main() {
    uint r = gl_WorkGroupID.x, h = gl_WorkGroupID.y, t = gl_LocalInvocationID.x;
    uint ks = uint(ix[pc.meta + 3u * r]), kn = uint(ix[pc.meta + 3u * r + 1u]), qp = uint(ix[pc.meta + 3u * r + 2u]);
    if (pc.causal != 0u) kn = min(kn, qp + 1u);
    uint hoff = h * pc.hd;
    for (uint d = t; d < pc.hd; d += 64u) qs[d] = ws[pc.q + r * pc.ldq + hoff + d];
    barrier();
    float mx = -1.0 / 0.0;
    for (uint j = t; j < kn; j += 64u) {
        float s;
        if (pc.hasmask != 0u && ix[pc.mask + ks + j] == 0) s = -1.0 / 0.0;
        else {
            s = 0.0;
            uint kb = pc.k + (ks + j) * pc.ld + hoff;
            for (uint d = 0u; d < pc.hd; d++) s += qs[d] * ws[kb + d];
            s *= pc.scale;
        }
        sc[j] = s;
        mx = max(mx, s);
    }
    mx = wg_reduce(mx, true);
    float sum = 0.0;
    for (uint j = t; j < kn; j += 64u) {
        float e = isinf(mx) || isinf(sc[j]) ? 0.0 : exp(sc[j] - mx);
        sc[j] = e;
        sum += e;
    }
    sum = wg_reduce(sum, false);
    barrier();
    float inv = sum > 0.0 ? 1.0 / sum : 0.0;
    for (uint d = t; d < pc.hd; d += 64u) {
        float a = 0.0;
        for (uint j = 0u; j < kn; j++) a += sc[j] * ws[pc.v + (ks + j) * pc.ld + hoff + d];
        ws[pc.o + r * pc.ldo + hoff + d] = a * inv;
    }
}
