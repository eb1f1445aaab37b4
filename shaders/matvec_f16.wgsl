// Weight products over an F16 matrix W [rows, cols] stored as ggml stores it (row-major, cols
// contiguous, IEEE binary16 little-endian, two per u32 word), bound as raw u32 words:
//   matvec   y[r]            = sum_c W[r, c] * x[c]                  (decode, one token)
//   matmul   Y[t, r]         = sum_c W[r, c] * X[t, c]               (prefill, 4 tokens per invocation)
//   get_rows out[i, c]       = W[ids[i], c]                          (embedding gather)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts.
//
// Layout shared by all matvec_*.wgsl files (encoder: shared/engine/quant-matmul.ts):
//   binding 0 params (uniform), 1 weights (u32), 2 x (vec4<f32>), 3 y (f32), 4 ids (u32, get_rows)
//   WG invocations per workgroup, TPR of them share one row (TPR = 1: one invocation per row,
//   fastest on lavapipe; TPR > 1 splits the row's chunks and sums them in workgroup memory).
//   Row groups run over workgroup_id x + y * num_workgroups.x; matmul token tiles over z.

struct Params {
  rows: u32, // W rows (outputs); for get_rows the row count of the table (ids are checked)
  cols: u32, // W cols (inputs), a multiple of CHUNK
  ntok: u32, // tokens (matmul) or ids (get_rows)
  w_off: u32, // tensor start in binding 1, u32 words
  x_off: u32, // x start, f32 elements (multiple of 4); for get_rows the first id
  x_stride: u32, // between tokens of X, f32 elements (multiple of 4)
  y_off: u32, // output start, f32 elements
  y_stride: u32, // between tokens / gathered rows of the output, f32 elements
}

override WG: u32 = 64u;
override TPR: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> ids: array<u32>;

var<workgroup> red: array<vec4<f32>, WG>;

// Sums v over the TPR invocations of a row; the result is valid in lane 0.
fn row_sum(li: u32, lane: u32, v: vec4<f32>) -> vec4<f32> {
  if (TPR == 1u) {
    return v;
  }
  red[li] = v;
  workgroupBarrier();
  for (var s = TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      red[li] += red[li + s];
    }
    workgroupBarrier();
  }
  return red[li];
}

fn nan_f32() -> f32 {
  return bitcast<f32>(0x7fc00000u + min(p.rows, 0u));
}

// ---- F16 specifics ------------------------------------------------------------------------

const CHUNK: u32 = 4u; // elements per work unit: two words

// cols is a multiple of 4, so every row starts on a word.
fn row_words(row: u32) -> u32 {
  return p.w_off + row * (p.cols / 2u);
}

// unpack2x16float: .x is the low half, the element with the lower index.
fn quad(rw: u32, k: u32) -> vec4<f32> {
  let i = rw + 2u * k;
  return vec4<f32>(unpack2x16float(w[i]), unpack2x16float(w[i + 1u]));
}

// ---- entry points -------------------------------------------------------------------------

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var acc = vec4<f32>(0.0);
  if (row < p.rows) {
    let rw = row_words(row);
    let xv = p.x_off / 4u;
    for (var k = lane; k < p.cols / CHUNK; k += TPR) {
      acc += quad(rw, k) * x[xv + k];
    }
  }
  let s = row_sum(li, lane, acc);
  if (lane == 0u && row < p.rows) {
    y[p.y_off + row] = (s.x + s.y) + (s.z + s.w);
  }
}

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  let t0 = wid.z * 4u;
  var acc = vec4<f32>(0.0); // one component per token of the tile
  if (row < p.rows) {
    let rw = row_words(row);
    // Tokens past the end read the last token and are not stored.
    let last = p.ntok - 1u;
    let xs = p.x_stride / 4u;
    let x0 = p.x_off / 4u + min(t0, last) * xs;
    let x1 = p.x_off / 4u + min(t0 + 1u, last) * xs;
    let x2 = p.x_off / 4u + min(t0 + 2u, last) * xs;
    let x3 = p.x_off / 4u + min(t0 + 3u, last) * xs;
    for (var k = lane; k < p.cols / CHUNK; k += TPR) {
      let q = quad(rw, k);
      acc += vec4<f32>(dot(q, x[x0 + k]), dot(q, x[x1 + k]), dot(q, x[x2 + k]), dot(q, x[x3 + k]));
    }
  }
  let s = row_sum(li, lane, acc);
  if (lane == 0u && row < p.rows) {
    for (var j = 0u; j < 4u; j++) {
      if (t0 + j < p.ntok) {
        y[p.y_off + (t0 + j) * p.y_stride + row] = s[j];
      }
    }
  }
}

// One invocation per (gathered row, chunk). An id outside the table writes NaN.
@compute @workgroup_size(WG)
fn get_rows(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = (wid.x + wid.y * nwg.x) * WG + li;
  let nch = p.cols / CHUNK;
  if (g >= p.ntok * nch) {
    return;
  }
  let i = g / nch;
  let k = g % nch;
  let id = ids[p.x_off + i];
  let o = p.y_off + i * p.y_stride + k * CHUNK;
  if (id >= p.rows) {
    for (var j = 0u; j < CHUNK; j++) {
      y[o + j] = nan_f32();
    }
    return;
  }
  let q = quad(row_words(id), k);
  y[o] = q.x;
  y[o + 1u] = q.y;
  y[o + 2u] = q.z;
  y[o + 3u] = q.w;
}
