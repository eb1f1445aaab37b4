// Training matrix product for mixed precision: train_matmul.wgsl's tiled product with B read
// from an f16 copy (the weights' f16 shadow, shared/train/gpu-trainer.ts), A, bias and C f32,
// products summed in f32. B starts at element p.b_off of the f16 buffer, so every weight of the
// shadow binds the whole buffer (an f16 range at a parameter's offset would not meet WebGPU's
// 256-byte binding-offset alignment). Same overrides, flags, workgroups and edges as
// train_matmul.wgsl; needs shader-f16.
// Bindings: 0 uniform P { M, N, K, flags, b_off }, 1 a (f32, read), 2 b (f16, read), 4 bias,
//           5 c (read_write).
// Reference: shared/train/reference/ops.ts (linearForward, linearBackward) with B rounded to f16.

enable f16;

struct P { M: u32, N: u32, K: u32, flags: u32, b_off: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f16>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

fn b_at(i: u32) -> f32 { return f32(b[p.b_off + i]); }

//#include "_train_matmul_tiled"
