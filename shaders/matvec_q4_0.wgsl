// Weight products over a Q4_0 matrix W [rows, cols] in ggml's block layout (row-major, each row
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

// ---- Q4_0 specifics -----------------------------------------------------------------------
// Block of 32 values, 18 bytes: f16 d, 16 bytes; byte j holds element j (low nibble) and
// element j+16 (high nibble). Value = d · (nibble − 8). 18 is 2 mod 4, so a block starts on a
// word or in the middle of one; both cases are read as whole words.

const CHUNK: u32 = 32u; // one block

fn row_base(row: u32) -> u32 { // row start in bytes
  return p.w_off * 4u + row * (p.cols / 32u) * 18u;
}

// Block k of the row at byte rb. A block starts on a word (al) or mid-word:
//   on a word: d = low half of word a; quant word i = high half of word a+i | low half of a+i+1
//   mid-word:  d = high half of word a; quant word i = word a+1+i
// Both read as q_i = (v_i >> sh) | ((v_{i+1} << 16) & mask) over words v_i = w[base + i].
struct Blk {
  d: f32,
  base: u32,
  sh: u32,
  mask: u32,
}

fn blk(rb: u32, k: u32) -> Blk {
  let bb = rb + 18u * k;
  let a = bb >> 2u;
  let al = (bb & 2u) == 0u;
  let w0 = w[a];
  return Blk(unpack2x16float(select(w0 >> 16u, w0, al)).x, a + select(1u, 0u, al), select(0u, 16u, al), select(0u, 0xffff0000u, al));
}

fn qword(b: Blk, lo: u32, hi: u32) -> u32 {
  return (lo >> b.sh) | ((hi << 16u) & b.mask);
}

// Quant word i: low nibbles are elements 4i..4i+3, high nibbles 16+4i..16+4i+3.
fn chunk_dot(rb: u32, k: u32, xr: u32) -> f32 {
  let b = blk(rb, k);
  let xb = xr + 8u * k;
  var s = vec4<f32>(0.0);
  var v = w[b.base];
  for (var i = 0u; i < 4u; i++) {
    let nxt = w[b.base + i + 1u];
    let q = qword(b, v, nxt);
    v = nxt;
    s += (lo4(q) - 8.0) * x[xb + i] + (hi4(q) - 8.0) * x[xb + 4u + i];
  }
  return b.d * hsum(s);
}

fn chunk_store(rb: u32, k: u32, o: u32) {
  let b = blk(rb, k);
  var v = w[b.base];
  for (var i = 0u; i < 4u; i++) {
    let nxt = w[b.base + i + 1u];
    let q = qword(b, v, nxt);
    v = nxt;
    let l = (lo4(q) - 8.0) * b.d;
    let h = (hi4(q) - 8.0) * b.d;
    let e = o + 32u * k + 4u * i;
    y[e] = l.x;
    y[e + 1u] = l.y;
    y[e + 2u] = l.z;
    y[e + 3u] = l.w;
    y[e + 16u] = h.x;
    y[e + 17u] = h.y;
    y[e + 18u] = h.z;
    y[e + 19u] = h.w;
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
