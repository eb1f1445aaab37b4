// The residual add and the RMSNorm after it, in one dispatch: x[r, :] += d[r, :], then
// y[r, i] = x[r, i] / sqrt(mean_i(x[r, :]^2) + eps) * w[i] over the updated x. This is what
// elementwise.wgsl's add_inplace followed by rmsnorm.wgsl computes, in the same f32 operations
// in the same order (each invocation adds, then squares, the elements it later normalises), so
// the results are identical; small models are dispatch-bound and save one dispatch per residual
// (issue 15).
// One workgroup per row (rows past 65535 workgroups come as a 2-D grid: row = wid.x + wid.y * nwg.x).
// Bindings: 0 uniform P { rows, n, eps }, 1 x: [rows, n] f32 (read_write), 2 d: [rows, n] f32
//           (read), 3 w: [n] f32 (read), 4 y: [rows, n] f32 (write). y and d must not alias x
//           or each other (WebGPU refuses a written binding that aliases another).
// Variants: f32 only. Override WG: workgroup size, a power of two <= 256 (SwiftShader's limit).
// Reference: addRef then rmsnormRef: addRmsnormRef in shared/engine/reference/fused.ts.

struct P { rows: u32, n: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read> w: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.n;
  var ss = 0.0;
  for (var i = li; i < p.n; i += WG) {
    let v = x[base + i] + d[base + i];
    x[base + i] = v;
    ss += v * v;
  }
  partial[li] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(partial[0] / f32(p.n) + p.eps);
  for (var i = li; i < p.n; i += WG) {
    y[base + i] = x[base + i] * inv * w[i];
  }
}
