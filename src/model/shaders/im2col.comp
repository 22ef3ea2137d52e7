#version 450
// im2col for the patch embedding: row (image, patch) of cols holds the patch's pixels in the
// convolution weight's (channel, ky, kx) order. One invocation per value, grid-strided.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "common.glsl"
layout(push_constant) uniform PC { uint pix, cols, S, p, g, total; } pc;

void main() {
    uint K = 3u * pc.p * pc.p, np = pc.g * pc.g;
    for (uint e = gl_GlobalInvocationID.x; e < pc.total; e += gl_NumWorkGroups.x * 256u) {
        uint r = e / K, c = e % K, b = r / np, pi = r % np, py = pi / pc.g, px = pi % pc.g;
        uint ch = c / (pc.p * pc.p), ky = (c / pc.p) % pc.p, kx = c % pc.p;
        ws[pc.cols + e] = ws[pc.pix + ((b * 3u + ch) * pc.S + py * pc.p + ky) * pc.S + px * pc.p + kx];
    }
}
