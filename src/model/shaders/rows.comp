#version 450
// Row moves and gathers, one shader with three modes:
//  0 take: row s of a[., ld] = row ix[idx + s] (>= s), for s in order (one workgroup: row s is
//    never past its source, so nothing is overwritten before it is read);
//  1 embed: y[r, :] = table[ix[idx + 2r], :] + pos[ix[idx + 2r + 1], :] (token + position);
//  2 assemble: images of n = np + 1 rows: y[b*n] = cls + pos[0], y[b*n + i + 1] = tmp[b*np + i] + pos[i + 1].
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"
layout(std430, set = 0, binding = 1) readonly buffer W { float tab[]; };
layout(push_constant) uniform PC { uint mode, a, ld, rows, idx, tmp, np; } pc;

void main() {
    uint t = gl_LocalInvocationID.x;
    if (pc.mode == 0u) {
        for (uint s = 0u; s < pc.rows; s++) {
            uint src = uint(ix[pc.idx + s]);
            if (src != s)
                for (uint j = t; j < pc.ld; j += 256u) ws[pc.a + s * pc.ld + j] = ws[pc.a + src * pc.ld + j];
            barrier();
        }
        return;
    }
    uint r = gl_WorkGroupID.x, H = pc.ld;
    if (pc.mode == 1u) {
        uint id = uint(ix[pc.idx + 2u * r]), p = uint(ix[pc.idx + 2u * r + 1u]);
        for (uint j = t; j < H; j += 256u) ws[pc.a + r * H + j] = tab[id * H + j] + va[p * H + j];
    } else {
        uint n = pc.np + 1u, b = r / n, i = r % n;
        for (uint j = t; j < H; j += 256u)
            ws[pc.a + r * H + j] = (i == 0u ? vb[j] : ws[pc.tmp + (b * pc.np + i - 1u) * H + j]) + va[i * H + j];
    }
}
