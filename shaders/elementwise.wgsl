// Element-wise ops on f32 vectors of n elements (a [T, cols] matrix is n = T * cols).
// One invocation per output element; linear index = (wid.x + wid.y * nwg.x) * WG + lid.
// Entry points and bindings (0 is always the uniform P { n, cols, s }):
//   add          out = a + b              1 a (read), 2 b (read), 3 out (read_write)
//   add_inplace  x += b   (residual add)  1 x (read_write), 2 b (read)
//   swiglu       out = silu(gate) * up    1 gate (read), 2 up (read), 3 out (read_write)
//   swiglu_fused out[t, i] = silu(x[t, i]) * x[t, cols + i] for x = [T, 2 * cols] (gate | up halves)
//                                         1 x (read), 3 out: [T, cols] (read_write)
//   bias_add     x[t, c] += bias[c]       1 x (read_write), 2 bias: [cols] (read)
//   scale        x *= s                   1 x (read_write)
// silu(g) = g / (1 + exp(-g)). Variants: f32 only; override WG (<= 256).
// Reference: shared/engine/reference/elementwise.ts.

struct P { n: u32, cols: u32, s: f32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

override WG: u32 = 256u;

fn index(wid: vec3u, nwg: vec3u, li: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + li;
}

fn silu(g: f32) -> f32 {
  return g / (1.0 + exp(-g));
}

@compute @workgroup_size(WG)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { out[i] = a[i] + b[i]; }
}

@compute @workgroup_size(WG)
fn add_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { x[i] = x[i] + b[i]; }
}

@compute @workgroup_size(WG)
fn swiglu(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { out[i] = silu(a[i]) * b[i]; }
}

@compute @workgroup_size(WG)
fn swiglu_fused(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i >= p.n) { return; }
  let t = i / p.cols;
  let c = i % p.cols;
  let g = a[t * 2u * p.cols + c];
  out[i] = silu(g) * a[t * 2u * p.cols + p.cols + c];
}

@compute @workgroup_size(WG)
fn bias_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { x[i] = x[i] + b[i % p.cols]; }
}

@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = index(wid, nwg, li);
  if (i < p.n) { x[i] = x[i] * p.s; }
}
