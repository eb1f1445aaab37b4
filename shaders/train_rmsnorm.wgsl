// RMSNorm for training, forward and backward, over x = [rows, dim] f32 (specs/training.md):
//   forward      rstd[r] = 1 / sqrt(mean(x[r, :]^2) + eps),  y = x * rstd * w      (keeps rstd)
//   backward_dx  dx = rstd * w * dy - x * rstd^3 * (sum_i dy_i w_i x_i) / dim     (= or += dx)
//   backward_dw  dw[c] += sum_r dy[r, c] * x[r, c] * rstd[r]                       (always +=)
// forward and backward_dx: one workgroup of WG per row (row = wid.x + wid.y * nwg.x), a fixed tree
// reduction in workgroup memory. backward_dw: one workgroup per 32 columns; 8 lanes per column
// sum rows lane, lane + 8, .. in order, then lane 0 adds the 8 partials in order. No float
// atomics anywhere, so every result is bitwise reproducible on one adapter.
// Bindings (all storage is read_write so that ranges of one arena buffer can be bound together:
// WebGPU rejects a buffer bound both read-only and writable in one dispatch):
//   0 uniform P { rows, dim, eps, accumulate }, 1 x [rows, dim], 2 w [dim], 3 y or dy [rows, dim],
//   4 rstd [rows], 5 dx [rows, dim] (backward_dx), 6 dw [dim] (backward_dw).
// Variants: f32 only; override WG (power of two <= 256) for forward / backward_dx.
// Reference: shared/train/reference/ops.ts (rmsnormForward, rmsnormBackward).

struct P { rows: u32, dim: u32, eps: f32, accumulate: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read_write> dw: array<f32>;

override WG: u32 = 64u;
var<workgroup> partial: array<f32, WG>;

const DW_COLS: u32 = 32u;  // columns per workgroup in backward_dw
const DW_LANES: u32 = 8u;  // row lanes per column
var<workgroup> dwPartial: array<f32, 256>;  // DW_COLS * DW_LANES

// Sum of partial[0..WG) by a fixed tree; every invocation returns the total.
fn reduceSum(li: u32, v: f32) -> f32 {
  partial[li] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (li < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  return partial[0];
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var ss = 0.0;
  for (var i = li; i < p.dim; i += WG) {
    let v = x[base + i];
    ss += v * v;
  }
  let r = 1.0 / sqrt(reduceSum(li, ss) / f32(p.dim) + p.eps);
  if (li == 0u) { rstd[row] = r; }
  for (var i = li; i < p.dim; i += WG) {
    y[base + i] = x[base + i] * r * w[i];
  }
}

@compute @workgroup_size(WG)
fn backward_dx(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.dim;
  var dot = 0.0;
  for (var i = li; i < p.dim; i += WG) {
    dot += y[base + i] * w[i] * x[base + i];
  }
  let r = rstd[row];
  let c = r * r * r * reduceSum(li, dot) / f32(p.dim);
  for (var i = li; i < p.dim; i += WG) {
    let g = r * y[base + i] * w[i] - c * x[base + i];
    // Not `select(0, dx, ..) + g`: when writing, dx may hold garbage (NaN) that must not be read.
    if (p.accumulate != 0u) { dx[base + i] += g; } else { dx[base + i] = g; }
  }
}

@compute @workgroup_size(256)
fn backward_dw(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let cl = li % DW_COLS;
  let lane = li / DW_COLS;
  let col = wid.x * DW_COLS + cl;
  var s = 0.0;
  if (col < p.dim) {
    for (var r = lane; r < p.rows; r += DW_LANES) {
      s += y[r * p.dim + col] * x[r * p.dim + col] * rstd[r];
    }
  }
  dwPartial[lane * DW_COLS + cl] = s;
  workgroupBarrier();
  if (lane == 0u && col < p.dim) {
    var t = 0.0;
    for (var k = 0u; k < DW_LANES; k++) { t += dwPartial[k * DW_COLS + cl]; }
    dw[col] += t;
  }
}
