// Element-wise ops of the training step on f32 vectors of n elements.
// One invocation per element; linear index = (wid.x + wid.y * nwg.x) * WG + lid.
// Entry points and bindings (0 is always the uniform P { n, s }):
//   swiglu_fwd   out = silu(gate) * up                    1 gate, 2 up, 3 out
//   swiglu_bwd   dgate = dout * up * silu'(gate),         1 gate, 2 up, 3 dout, 4 dgate, 5 dup
//                dup = dout * silu(gate)
//   add          out = a + b                              1 a, 2 b, 3 out
//   add_inplace  x += y   (residual stream, its gradient) 1 x, 2 y
//   scale        x *= s                                   1 x
//   dropout      x = keep(i) ? x * s : 0                  1 x
//                keep(i): dropout_hash(seed ^ dropout_hash(i)) < keep (a threshold of 2^32;
//                s = 1 / (1 - p)); the same (seed, i) always gives the same mask, so the
//                backward pass recomputes it instead of storing it.
// silu(g) = g * sigma(g), silu'(g) = sigma(g) * (1 + g * (1 - sigma(g))), sigma(g) = 1 / (1 + e^-g).
// All storage is read_write so that ranges of one arena buffer can be bound together (WebGPU
// rejects a buffer bound both read-only and writable in one dispatch). Outputs must not overlap
// inputs except as add_inplace / scale do. Variants: f32 only; override WG (<= 256).
// Reference: shared/train/reference/ops.ts (swigluForward, swigluBackward, addForward);
// dropout: shared/train/dropout.ts (the same hash in u32 arithmetic).

struct P { n: u32, s: f32, seed: u32, keep: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> d: array<f32>;
@group(0) @binding(5) var<storage, read_write> e: array<f32>;

override WG: u32 = 256u;

fn index(wid: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + li;
}

fn sigmoid(g: f32) -> f32 {
  return 1.0 / (1.0 + exp(-g));
}

@compute @workgroup_size(WG)
fn swiglu_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) {
    let g = a[i];
    c[i] = g * sigmoid(g) * b[i];
  }
}

@compute @workgroup_size(WG)
fn swiglu_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) {
    let g = a[i];
    let sg = sigmoid(g);
    let da = c[i];
    d[i] = da * b[i] * sg * (1.0 + g * (1.0 - sg));
    e[i] = da * g * sg;
  }
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { c[i] = a[i] + b[i]; }
}

@compute @workgroup_size(WG)
fn add_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { a[i] = a[i] + b[i]; }
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { a[i] = a[i] * p.s; }
}

// A 32-bit integer hash (PCG's output permutation over one LCG step): cheap, and every bit of
// the input reaches every bit of the output. Mirrored exactly by shared/train/dropout.ts.
fn dropout_hash(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn dropout(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { a[i] = select(0.0, a[i] * p.s, dropout_hash(p.seed ^ dropout_hash(i)) < p.keep); }
}
