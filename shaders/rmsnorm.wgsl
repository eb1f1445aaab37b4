// RMSNorm over the rows of x: y[r, i] = x[r, i] / sqrt(mean_i(x[r, :]^2) + eps) * w[i].
// One workgroup per row (rows past 65535 workgroups come as a 2-D grid: row = wid.x + wid.y * nwg.x);
// each invocation sums squares over a stride, then a tree reduction in workgroup memory.
// Bindings: 0 uniform P { rows, n, eps }, 1 x: [rows, n] f32 (read), 2 w: [n] f32 (read),
//           3 y: [rows, n] f32 (write; must not alias x).
// Variants: f32 only. Override WG: workgroup size, a power of two <= 256 (SwiftShader's limit).
// Reference: shared/engine/reference/rmsnorm.ts.

struct P { rows: u32, n: u32, eps: f32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

override WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.n;
  var ss = 0.0;
  for (var i = li; i < p.n; i += WG) {
    let v = x[base + i];
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
