// Include-only (leading "_"). Q6_K's integer products (the type file _q6_k_i8.wgsl's
// superblock_dot and superblock_dot_tokens, one row per invocation) with x shared through the
// subgroup, as _matvec_i8_k_sh.wgsl does for Q4_K: per super-block and token, lane l of each
// subgroup of 8 loads x vec4s l and 8 + l of the super-block's quants and one vec4 of its scales
// (lanes 0, 1: sub-blocks 0..3, 4..7), and each x word the type file asks for comes from the lane
// that loaded it (subgroupShuffle). On lavapipe a load whose address is not built from constants
// runs once per lane, so the type file's 64 x words and 8 scales per token and super-block were
// 72 loads per lane; here they are 3. Needs subgroups of exactly 8 lanes (int-matvec.ts offers the
// variants only there). No lane returns early: rows past the end repeat the last row and are not
// stored. Reference: shared/engine/reference/int-matvec.ts.
// Bindings as _matvec_i8_k.wgsl, but xq read as vec4<u32>. The type file's xo[t] is the token's
// slot here (0..TT_Q6 - 1), not a word offset.

//#include "_matvec_i8_params"

override WG: u32 = 64u;

@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

// One token's x for the super-block in hand (XLanes, x_lanes).
//#include "_sh_x_lanes"

// The tokens' x lanes for the super-block in hand (decode: slot 0).
var<private> xl: array<XLanes, 4>;

// Word i of x block b (its place in the super-block b & 7) of the token in slot t.
fn xword_tok(t: u32, b: u32, i: u32) -> u32 {
  let v = 2u * (b & 7u) + (i >> 2u);
  let q = subgroupShuffle(select(xl[t].qa, xl[t].qb, v >= 8u), v & 7u);
  return q[i & 3u];
}

// The scale of x block b of the token in slot t.
fn xscale_tok(t: u32, b: u32) -> f32 {
  let j = b & 7u;
  return bitcast<f32>(subgroupShuffle(xl[t].sd, j >> 2u)[j & 3u]);
}

fn xword(b: u32, i: u32) -> u32 {
  return xword_tok(0u, b, i);
}

fn xscale(b: u32) -> f32 {
  return xscale_tok(0u, b);
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  let ns = p.cols / 256u;
  let rb = p.w_off * 4u + min(row, p.rows - 1u) * ns * BLOCK_BYTES;
  let xt = p.x_off / 4u;
  let xs = xt + p.cols / 16u;
  var acc = 0.0;
  for (var k = 0u; k < ns; k++) {
    xl[0] = x_lanes(xt, xs, k, lane);
    acc += superblock_dot(rb + BLOCK_BYTES * k, 8u * k);
  }
  if (row < p.rows) {
    y[p.y_off + row] = acc;
  }
}

// Prefill (issue 15 §2): Y[t, r] for one row × TT_Q6 tokens per invocation, x quantised for all
// the tokens first (token t's row from word x_off + t · x_stride). Tokens past the end repeat the
// last one and are not stored.
@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  let t0 = wid.z * TT_Q6;
  let last = min(TT_Q6, p.ntok - t0) - 1u;
  let ns = p.cols / 256u;
  let rb = p.w_off * 4u + min(row, p.rows - 1u) * ns * BLOCK_BYTES;
  var xt: array<u32, 4>;
  for (var t = 0u; t < TT_Q6; t++) {
    xt[t] = (p.x_off + (t0 + min(t, last)) * p.x_stride) / 4u;
  }
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < ns; k++) {
    for (var t = 0u; t < TT_Q6; t++) {
      xl[t] = x_lanes(xt[t], xt[t] + p.cols / 16u, k, lane);
    }
    acc += superblock_dot_tokens(rb + BLOCK_BYTES * k, 8u * k, vec4<u32>(0u, 1u, 2u, 3u));
  }
  if (row < p.rows) {
    for (var t = 0u; t <= last; t++) {
      y[p.y_off + (t0 + t) * p.y_stride + row] = acc[t];
    }
  }
}
