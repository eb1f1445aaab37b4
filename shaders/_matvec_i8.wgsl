// Include-only (leading "_"). Integer decode products over 32-value blocks with an f16 scale
// (Q8_0, Q4_0): y[r] = Σ_blocks dw · dx · Σ_i wq_i · xq_i, the inner sum in i32 over packed
// bytes, x pre-quantised by quantize_q8.wgsl (quants, then scales). llama.cpp's scheme
// (ggml_vec_dot_q8_0_q8_0): 4 multiply-adds per instruction instead of a decode, a convert and
// a float multiply-add per weight.
// Bindings: 0 Params (the layout of _matvec_common.wgsl; x_off in u32 words of xq, a multiple of
// 4), 1 weights (u32 words), 2 xq (read as vec4<u32>: a block's 8 quant words in 2 loads, its
// scale from a vec4 of 4 scales; on lavapipe every load is a gather, x's too), 3 y (f32).
// Hooks the type file defines:
//   const BLOCK_BYTES: u32                       34 (Q8_0) or 18 (Q4_0); 2 mod 4
//   fn block_dot(q: ptr<function, array<u32, 9>>, xw: ptr<function, array<u32, 8>>) -> i32
//        Σ wq·xq over one block: q[0..QWORDS) its quant words (realigned), xw x's 8 packed words
//   fn idot(a: u32, b: u32) -> i32               4 packed int8 products summed (dot4I8Packed or
//                                                an integer equivalent)
// Shape (override constants): WG invocations, NR rows each (x loaded once per block for the NR
// rows), blocks in turn. The subgroup variant (matvec_*_i8_sg) lives in its own file (it needs `enable subgroups`).

//#include "_matvec_i8_params"

override WG: u32 = 64u;
override NR: u32 = 1u; // rows per invocation, 1..4

@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

// Block k of row rb (bytes): its scale and quant words. A block starts on a word (scale in the low
// half, quant word i = high half of word a+i | low half of a+i+1) or mid-word (scale in the high
// half, quant word i = word a+1+i); see _matvec_q32.wgsl.
fn load_block(rb: u32, k: u32, q: ptr<function, array<u32, 9>>) -> f32 {
  let bb = rb + BLOCK_BYTES * k;
  let a = bb >> 2u;
  let al = (bb & 2u) == 0u;
  let w0 = w[a];
  let base = a + select(1u, 0u, al);
  let sh = select(0u, 16u, al);
  let mask = select(0u, 0xffff0000u, al);
  var v = w[base];
  for (var i = 0u; i < QWORDS; i++) {
    let nxt = w[base + i + 1u];
    (*q)[i] = (v >> sh) | ((nxt << 16u) & mask);
    v = nxt;
  }
  return unpack2x16float(select(w0 >> 16u, w0, al)).x;
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  // NR rows per invocation, interleaved (row0 + j·WG) so neighbouring invocations take
  // neighbouring rows; each block of x is loaded once for the NR rows.
  let row0 = (wid.x + wid.y * nwg.x) * WG * NR + li;
  if (row0 >= p.rows) {
    return;
  }
  let nb = p.cols / 32u;
  var rb: array<u32, 4>;
  for (var j = 0u; j < NR; j++) {
    rb[j] = p.w_off * 4u + min(row0 + j * WG, p.rows - 1u) * nb * BLOCK_BYTES;
  }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  var q: array<u32, 9>;
  let xv = p.x_off / 4u;
  let xs = (p.x_off + p.cols / 4u) / 4u;
  for (var k = 0u; k < nb; k++) {
    let dx = bitcast<f32>(xq[xs + k / 4u][k % 4u]);
    let xa = xq[xv + 2u * k];
    let xb = xq[xv + 2u * k + 1u];
    var xw = array<u32, 8>(xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w);
    for (var j = 0u; j < NR; j++) {
      let dw = load_block(rb[j], k, &q);
      acc[j] += f32(block_dot(&q, &xw)) * (dw * dx);
    }
  }
  for (var j = 0u; j < NR; j++) {
    if (row0 + j * WG < p.rows) {
      y[p.y_off + row0 + j * WG] = acc[j];
    }
  }
}

// Prefill (issue 15 §2): Y[t, r] for a tile of one row per invocation × TT_I8 tokens, x quantised
// for all the tokens first (token t's blocks from word x_off + t · x_stride, read as vec4s). Each weight block is
// loaded and realigned once per tile and dotted with the TT_I8 tokens' x blocks, one scalar
// accumulator per token. On lavapipe what a product pays for is mostly its loads of x (each
// uniform load one scalar load with a bounds check); the packed x is 9 words per 32 values
// where f32 x is 32. Tokens past the end read the last token and are not stored. Reference:
// shared/engine/reference/int-matvec.ts (intMatvecRef per token).
const TT_I8: u32 = 4u;

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  if (row >= p.rows) {
    return;
  }
  let t0 = wid.z * TT_I8;
  let last = min(TT_I8, p.ntok - t0) - 1u;
  let nb = p.cols / 32u;
  let rb = p.w_off * 4u + row * nb * BLOCK_BYTES;
  // Token t's quantised row starts at word xt[t].
  let xt = vec4<u32>(p.x_off) + (vec4<u32>(t0) + min(vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last))) * p.x_stride;
  var acc = vec4<f32>(0.0);
  var q: array<u32, 9>;
  var xw: array<u32, 8>;
  for (var k = 0u; k < nb; k++) {
    let dw = load_block(rb, k, &q);
    for (var t = 0u; t < TT_I8; t++) {
      // Token t's block k as two vec4s, its scale from the vec4 of four (x_off, x_stride and
      // cols/4 are multiples of 4 words).
      let o = xt[t] / 4u;
      let xa = xq[o + 2u * k];
      let xb = xq[o + 2u * k + 1u];
      xw = array<u32, 8>(xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w);
      let dx = bitcast<f32>(xq[(xt[t] + p.cols / 4u) / 4u + k / 4u][k % 4u]);
      acc[t] += f32(block_dot(&q, &xw)) * (dw * dx);
    }
  }
  for (var t = 0u; t <= last; t++) {
    y[p.y_off + (t0 + t) * p.y_stride + row] = acc[t];
  }
}
