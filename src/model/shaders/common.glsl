// common.glsl: the bindings every clipseek compute shader shares (one push-descriptor set).
//   0: the workspace (activations, float)   1: a weight (matrix or table)
//   2, 3, 5: float vectors (bias, layer norm gain and bias, positions)   4: host-written int indices
layout(std430, set = 0, binding = 0) buffer WS { float ws[]; };
layout(std430, set = 0, binding = 2) readonly buffer V0 { float va[]; };
layout(std430, set = 0, binding = 3) readonly buffer V1 { float vb[]; };
layout(std430, set = 0, binding = 4) readonly buffer IX { int ix[]; };
layout(std430, set = 0, binding = 5) readonly buffer V2 { float vc[]; };
