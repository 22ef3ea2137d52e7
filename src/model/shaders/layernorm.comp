#version 450
// y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * g + b, one workgroup per row, biased variance
// (as torch), two passes over the row. SUBGROUP: the sums reduce with subgroupAdd, then across
// subgroups in shared memory; otherwise a shared-memory tree. y may equal x.
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
layout(local_size_x = 256) in;
#include "common.glsl"
layout(push_constant) uniform PC { uint x, y, d; float eps; } pc;
shared float red[256];

float wg_sum(float v) {
    uint t = gl_LocalInvocationID.x;
#ifdef SUBGROUP
    v = subgroupAdd(v);
    if (gl_SubgroupInvocationID == 0u) red[gl_SubgroupID] = v;
    barrier();
    float s = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++) s += red[i];
    barrier();
    return s;
#else
    red[t] = v;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (t < s) red[t] += red[t + s];
        barrier();
    }
    float r = red[0];
    barrier();
    return r;
#endif
}

void main() {
    uint r = gl_WorkGroupID.x, t = gl_LocalInvocationID.x, xo = pc.x + r * pc.d, yo = pc.y + r * pc.d;
    float s = 0.0;
    for (uint i = t; i < pc.d; i += 256u) s += ws[xo + i];
    float mean = wg_sum(s) / float(pc.d);
    s = 0.0;
    for (uint i = t; i < pc.d; i += 256u) { float c = ws[xo + i] - mean; s += c * c; }
    float inv = inversesqrt(wg_sum(s) / float(pc.d) + pc.eps);
    for (uint i = t; i < pc.d; i += 256u) ws[yo + i] = (ws[xo + i] - mean) * inv * va[i] + vb[i];
}
