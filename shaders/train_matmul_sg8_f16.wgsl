// Training matrix product for mixed precision on adapters with 8-lane subgroups:
// train_matmul_sg8.wgsl's product with B read from the weights' f16 shadow (4 halves per load),
// A, bias and C f32, products summed in f32. B starts at element p.b_off (a multiple of 4) of the
// f16 buffer (train_matmul_f16.wgsl says why an offset rather than a binding range). Same
// requirements, overrides and workgroups as train_matmul_sg8.wgsl; needs shader-f16.
// Bindings: 0 uniform P { M, N, K, flags, b_off }, 1 a4 (vec4f), 2 b4 (vec4<f16>), 4 bias, 5 c.
// Reference: shared/train/reference/ops.ts (linearForward, linearBackward) with B rounded to f16.

enable f16;
enable subgroups;

struct P { M: u32, N: u32, K: u32, flags: u32, b_off: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4<f16>>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

fn b4_at(i: u32) -> vec4f { return vec4f(b4[p.b_off / 4u + i]); }

//#include "_train_matmul_sg8"
