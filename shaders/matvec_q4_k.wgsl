// Weight products over a Q4_K matrix W [rows, cols] in ggml's block layout (row-major, each row
// a run of blocks, cols contiguous), bound as raw u32 words and dequantised in the kernel:
//   matvec   y[r]      = sum_c W[r, c] * x[c]      (decode, one token)
//   matmul   Y[t, r]   = sum_c W[r, c] * X[t, c]   (prefill, up to 4 tokens per invocation)
//   get_rows out[i, c] = W[ids[i], c]              (embedding gather, dequantised)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts, with the
// weights decoded by shared/quant.
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
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>; // Q4_K: 16-byte units
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

fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// Four bytes of a word as numbers 0..255 / nibbles 0..15 (little-endian: byte 0 first).
fn bytes4(q: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu));
}

fn lo4(q: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xfu));
}

fn hi4(q: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(q) >> vec4<u32>(4u, 12u, 20u, 28u)) & vec4<u32>(0xfu));
}

// ---- Q4_K specifics -----------------------------------------------------------------------
// Super-block of 256 values, 144 bytes (36 words, always word-aligned): f16 d, f16 dmin,
// 12 bytes of 6-bit scales and mins (ggml's get_scale_min_k4 packing), 128 bytes of nibbles.
// Chunk c (0..3) = 32 quant bytes: low nibbles are sub-block 2c, high nibbles sub-block 2c+1.
// Value = d·sc·q − dmin·m. One work unit is one chunk (64 values). The tensor must start on a
// 16-byte boundary (w_off a multiple of 4).

const CHUNK: u32 = 64u;

// Blocks are 9 vec4 words (144 bytes) and tensors start 16-byte aligned, so the kernel reads
// vec4<u32>: the block header in one load, a chunk's 32 quant bytes in two.
fn row_base(row: u32) -> u32 { // row start in vec4 units
  return p.w_off / 4u + row * (p.cols / 256u) * 9u;
}

struct Head {
  d1: f32, // d·sc and dmin·m of sub-block 2c
  m1: f32,
  d2: f32, // and of sub-block 2c+1
  m2: f32,
  q: u32, // vec4 index of the chunk's first 16 quant bytes
}

// The eight 6-bit scales as two byte-packed words (j = 0..3 and j = 4..7), same for mins:
//   j < 4:  sc = s0.byte(j) & 63,                       m = s1.byte(j) & 63
//   j >= 4: sc = s2.byte(j-4) & 15 | (s0.byte(j-4) >> 6) << 4,
//           m  = s2.byte(j-4) >> 4 | (s1.byte(j-4) >> 6) << 4
fn head(rv: u32, k: u32) -> Head {
  let bv = rv + (k >> 2u) * 9u;
  let c = k & 3u;
  let hw = w[bv]; // d|dmin, s0, s1, s2
  let dm = unpack2x16float(hw.x);
  let upper = c >= 2u;
  let sc = select(hw.y & 0x3f3f3f3fu, (hw.w & 0x0f0f0f0fu) | ((hw.y >> 2u) & 0x30303030u), upper);
  let mn = select(hw.z & 0x3f3f3f3fu, ((hw.w >> 4u) & 0x0f0f0f0fu) | ((hw.z >> 2u) & 0x30303030u), upper);
  let sh = (c & 1u) * 16u;
  return Head(
    dm.x * f32((sc >> sh) & 0xffu),
    dm.y * f32((mn >> sh) & 0xffu),
    dm.x * f32((sc >> (sh + 8u)) & 0xffu),
    dm.y * f32((mn >> (sh + 8u)) & 0xffu),
    bv + 1u + 2u * c,
  );
}

// Σ (d1·q − m1)·x = d1·Σ q·x − m1·Σ x: the min is applied once per sub-block.
// Quant word i (0..7) of the chunk: low nibbles are values 4i..4i+3 of sub-block 2c, high
// nibbles the same of sub-block 2c+1 (32 values on).
fn chunk_dot(rv: u32, k: u32, xr: u32) -> f32 {
  let h = head(rv, k);
  let xb = xr + 16u * k;
  var ql = vec4<f32>(0.0);
  var qh = vec4<f32>(0.0);
  var xl = vec4<f32>(0.0);
  var xh = vec4<f32>(0.0);
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    for (var j = 0u; j < 4u; j++) {
      let q = qv[j];
      let i = 4u * v + j;
      let a = x[xb + i];
      let b = x[xb + 8u + i];
      ql += lo4(q) * a;
      qh += hi4(q) * b;
      xl += a;
      xh += b;
    }
  }
  return (h.d1 * hsum(ql) - h.m1 * hsum(xl)) + (h.d2 * hsum(qh) - h.m2 * hsum(xh));
}

fn chunk_store(rv: u32, k: u32, o: u32) {
  let h = head(rv, k);
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    for (var j = 0u; j < 4u; j++) {
      let q = qv[j];
      let l = h.d1 * lo4(q) - h.m1;
      let u = h.d2 * hi4(q) - h.m2;
      let e = o + 64u * k + 16u * v + 4u * j;
      y[e] = l.x;
      y[e + 1u] = l.y;
      y[e + 2u] = l.z;
      y[e + 3u] = l.w;
      y[e + 32u] = u.x;
      y[e + 33u] = u.y;
      y[e + 34u] = u.z;
      y[e + 35u] = u.w;
    }
  }
}

// ---- entry points (the same in every quantised matvec_*.wgsl) ----------------------------

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var acc = 0.0;
  if (row < p.rows) {
    let rb = row_base(row);
    let xr = p.x_off / 4u;
    for (var k = lane; k < p.cols / CHUNK; k += TPR) {
      acc += chunk_dot(rb, k, xr);
    }
  }
  let s = row_sum(li, lane, vec4<f32>(acc, 0.0, 0.0, 0.0));
  if (lane == 0u && row < p.rows) {
    y[p.y_off + row] = s.x;
  }
}

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  let t0 = wid.z * 4u;
  // Up to 4 tokens per invocation, one after the other over the same row: the row's blocks
  // stay in cache between tokens. The token loop has a run-time bound, so there is one copy
  // of chunk_dot (unrolled copies cost seconds of LLVM compile per type on lavapipe).
  let nt = min(4u, p.ntok - t0);
  let rb = row_base(min(row, p.rows - 1u));
  for (var j = 0u; j < nt; j++) {
    let xr = p.x_off / 4u + (t0 + j) * (p.x_stride / 4u);
    var acc = 0.0;
    if (row < p.rows) {
      for (var k = lane; k < p.cols / CHUNK; k += TPR) {
        acc += chunk_dot(rb, k, xr);
      }
    }
    let s = row_sum(li, lane, vec4<f32>(acc, 0.0, 0.0, 0.0));
    if (lane == 0u && row < p.rows) {
      y[p.y_off + (t0 + j) * p.y_stride + row] = s.x;
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
  let o = p.y_off + i * p.y_stride;
  if (id >= p.rows) {
    for (var j = 0u; j < CHUNK; j++) {
      y[o + k * CHUNK + j] = nan_f32();
    }
    return;
  }
  chunk_store(row_base(id), k, o);
}
