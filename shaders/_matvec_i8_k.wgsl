// Include-only (leading "_"). The integer decode products over 256-value super-blocks (Q4_K,
// Q6_K): one invocation per row, super-blocks in turn, x pre-quantised by quantize_q8.wgsl into
// blocks of 32 (quants, then scales), so each sub-block's weights meet whole x blocks. The
// including type file defines BLOCK_BYTES, idot and
//   fn superblock_dot(bb: u32, xb: u32) -> f32   the super-block at byte bb of w dotted with x
//        blocks xb..xb+7 (x block b: quant words xq[p.x_off + 8b ..], scale xq[p.x_off + p.cols/4 + b], sum of quants
//        xq[p.x_off + p.cols/4 + p.cols/32 + b])
// Bindings as _matvec_i8.wgsl: 0 Params, 1 weights (u32 words), 2 xq (u32 words), 3 y (f32).
// Also the x accessors of Q6_K's prefill walk (xword_tok, xscale_tok; _q6_k_i8_matmul.wgsl is its entry).

//#include "_matvec_i8_params"

override WG: u32 = 64u;

@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> xq: array<u32>;

// Word i of x block b, and its scale.
fn xword(b: u32, i: u32) -> u32 {
  return xq[p.x_off + 8u * b + i];
}

fn xscale(b: u32) -> f32 {
  return bitcast<f32>(xq[p.x_off + p.cols / 4u + b]);
}

// Word i of x block b of the token whose quantised row starts at word xo, and that block's scale
// (the prefill products: superblock_dot_tokens).
fn xword_tok(xo: u32, b: u32, i: u32) -> u32 {
  return xq[xo + 8u * b + i];
}

fn xscale_tok(xo: u32, b: u32) -> f32 {
  return bitcast<f32>(xq[xo + p.cols / 4u + b]);
}

// The sum of x block b's 32 quants.
fn xsum(b: u32) -> i32 {
  return bitcast<i32>(xq[p.x_off + p.cols / 4u + p.cols / 32u + b]);
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  if (row >= p.rows) {
    return;
  }
  let ns = p.cols / 256u;
  let rb = p.w_off * 4u + row * ns * BLOCK_BYTES;
  var acc = 0.0;
  for (var k = 0u; k < ns; k++) {
    acc += superblock_dot(rb + BLOCK_BYTES * k, 8u * k);
  }
  y[p.y_off + row] = acc;
}
