// Softmax with temperature over each row of x: out[r, i] = exp(x[r, i] / T - m) / sum_j exp(x[r, j] / T - m),
// m = max_j x[r, j] / T. Rows come from `rowOffset` (elements) and are `n` apart; out is [rows, n].
// One workgroup per row (2-D grid past 65535: row = wid.x + wid.y * nwg.x): max, sum of exp, write,
// each a strided pass with a tree reduction in workgroup memory. `invTemp` = 1 / temperature (> 0).
// Bindings: 0 uniform P { rows, n, invTemp, rowOffset }, 1 x (read), 2 out (read_write).
// Variants: f32 only; override WG, a power of two <= 256. Reference: shared/engine/reference/sampling-ops.ts.

struct P { rows: u32, n: u32, invTemp: f32, rowOffset: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

override WG: u32 = 256u;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let xb = p.rowOffset + row * p.n;
  let ob = row * p.n;

  var m = -3.0e38;
  for (var i = li; i < p.n; i += WG) { m = max(m, x[xb + i] * p.invTemp); }
  red[li] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] = max(red[li], red[li + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();

  var sum = 0.0;
  for (var i = li; i < p.n; i += WG) {
    let e = exp(x[xb + i] * p.invTemp - m);
    out[ob + i] = e;
    sum += e;
  }
  red[li] = sum;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { red[li] += red[li + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  for (var i = li; i < p.n; i += WG) { out[ob + i] = out[ob + i] * inv; }
}
