// Include-only (leading "_"). The 16-byte-read shape of the super-block integer decode products
// (Q4_K): NR rows per invocation (override, 1..4; the prefill entry `matmul` below takes 1..8),
// super-blocks in turn, every read a vec4<u32>:
// a 144-byte super-block is 9 whole vec4s (header, then 8 of nibbles), an x block's 32 quants
// are 2, and x's scales and block sums are read 4 blocks to a vec4; x's reads are shared by the
// invocation's NR rows. On lavapipe each invocation is a SIMD lane and each load a gather, even of
// x, which every lane reads alike: per row and super-block the 4-byte shape makes 116 loads (36
// of weights, 64 of x quants, 16 of x scales and sums), this one 9 + 20 / NR; see specs/engine.md,
// "Integer decode kernels", for the probes that led here.
// Needs the weights, x_off and cols/4 16-byte aligned (cols a multiple of 256; int-matvec.ts checks).
// The including type file defines BLOCK_BYTES (a multiple of 16), idot, a per-row super-block
// header `Head`, and
//   fn head_of(h: vec4<u32>) -> Head                      the header from the super-block's first vec4
//   fn chunk_term(hd: Head, c: u32, qa: vec4<u32>, qb: vec4<u32>, x: array<vec4<u32>, 4>,
//                 d: vec2<f32>, s: vec2<i32>) -> f32
//        chunk c (0..3; its 8 quant words qa, qb) dotted with its two x blocks (4 vec4s of quants,
//        their scales d and quant sums s)

//#include "_matvec_i8_params"

override WG: u32 = 64u;
override NR: u32 = 1u;

@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row0 = ((wid.x + wid.y * nwg.x) * WG + li) * NR;
  if (row0 >= p.rows) {
    return;
  }
  let ns = p.cols / 256u;
  let sv = BLOCK_BYTES / 16u;
  let xb = p.x_off / 4u;
  let xs = (p.x_off + p.cols / 4u) / 4u;
  let xm = xs + p.cols / 128u;
  // The invocation's rows; past the matrix's last row, the last row again (computed, not stored).
  var rv: array<u32, 4>;
  for (var r = 0u; r < NR; r++) {
    rv[r] = p.w_off / 4u + min(row0 + r, p.rows - 1u) * ns * sv;
  }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  var hd: array<Head, 4>;
  for (var k = 0u; k < ns; k++) {
    for (var r = 0u; r < NR; r++) {
      hd[r] = head_of(w[rv[r] + sv * k]);
    }
    let dx = array<vec4<f32>, 2>(bitcast<vec4<f32>>(xq[xs + 2u * k]), bitcast<vec4<f32>>(xq[xs + 2u * k + 1u]));
    let sx = array<vec4<i32>, 2>(bitcast<vec4<i32>>(xq[xm + 2u * k]), bitcast<vec4<i32>>(xq[xm + 2u * k + 1u]));
    for (var c = 0u; c < 4u; c++) {
      let x0 = xb + 2u * (8u * k + 2u * c);
      let x = array<vec4<u32>, 4>(xq[x0], xq[x0 + 1u], xq[x0 + 2u], xq[x0 + 3u]);
      let j = 2u * (c & 1u);
      let d = vec2<f32>(dx[c >> 1u][j], dx[c >> 1u][j + 1u]);
      let s = vec2<i32>(sx[c >> 1u][j], sx[c >> 1u][j + 1u]);
      for (var r = 0u; r < NR; r++) {
        let v = rv[r] + sv * k;
        acc[r] += chunk_term(hd[r], c, w[v + 1u + 2u * c], w[v + 2u + 2u * c], x, d, s);
      }
    }
  }
  for (var r = 0u; r < NR; r++) {
    if (row0 + r < p.rows) {
      y[p.y_off + row0 + r] = acc[r];
    }
  }
}

// Prefill (issue 15 §2): Y[t, r] for a tile of NR rows per invocation (1..8 here, 8 by default:
// int-matvec.ts INT_MATMUL_ROWS) × TT_I8 tokens, x quantised
// for all the tokens first by one quantize_q8 dispatch (token t's row from word x_off + t ·
// x_stride). For each chunk of a super-block, the NR rows' 32 nibble bytes (2 vec4s each) are
// loaded once and dotted with every token of the tile, whose x chunk (4 vec4s) and scales and
// sums (a vec4 each) are loaded once for the NR rows: per super-block 9 · NR weight loads and
// 24 · TT_I8 x loads for NR · TT_I8 products (the decode shape: 9 + 20 / NR per product). Tokens
// past the end read the last token and are not stored. Reference: shared/engine/reference/
// int-matvec.ts (intMatvecRef per token).
const TT_I8: u32 = 4u;

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row0 = ((wid.x + wid.y * nwg.x) * WG + li) * NR;
  if (row0 >= p.rows) {
    return;
  }
  let t0 = wid.z * TT_I8;
  let last = min(TT_I8, p.ntok - t0) - 1u;
  let ns = p.cols / 256u;
  let sv = BLOCK_BYTES / 16u;
  var rv: array<u32, 8>;
  for (var r = 0u; r < NR; r++) {
    rv[r] = p.w_off / 4u + min(row0 + r, p.rows - 1u) * ns * sv;
  }
  // Token t's quantised row in vec4s (x_off and x_stride are multiples of 4 words), then where
  // its scales and its block sums start.
  let xt = (vec4<u32>(p.x_off) + (vec4<u32>(t0) + min(vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last))) * p.x_stride) / 4u;
  let xs = xt + vec4<u32>(p.cols / 16u);
  let xm = xs + vec4<u32>(p.cols / 128u);
  var acc: array<vec4<f32>, 8>;
  var hd: array<Head, 8>;
  var qa: array<vec4<u32>, 8>;
  var qb: array<vec4<u32>, 8>;
  for (var k = 0u; k < ns; k++) {
    for (var r = 0u; r < NR; r++) {
      hd[r] = head_of(w[rv[r] + sv * k]);
    }
    for (var c = 0u; c < 4u; c++) {
      for (var r = 0u; r < NR; r++) {
        let v = rv[r] + sv * k;
        qa[r] = w[v + 1u + 2u * c];
        qb[r] = w[v + 2u + 2u * c];
      }
      let j = 2u * (c & 1u);
      let b4 = 2u * k + (c >> 1u);
      for (var t = 0u; t < TT_I8; t++) {
        let x0 = xt[t] + 2u * (8u * k + 2u * c);
        let x = array<vec4<u32>, 4>(xq[x0], xq[x0 + 1u], xq[x0 + 2u], xq[x0 + 3u]);
        let dv = bitcast<vec4<f32>>(xq[xs[t] + b4]);
        let su = bitcast<vec4<i32>>(xq[xm[t] + b4]);
        let d = vec2<f32>(dv[j], dv[j + 1u]);
        let s = vec2<i32>(su[j], su[j + 1u]);
        for (var r = 0u; r < NR; r++) {
          acc[r][t] += chunk_term(hd[r], c, qa[r], qb[r], x, d, s);
        }
      }
    }
  }
  for (var r = 0u; r < NR; r++) {
    if (row0 + r < p.rows) {
      for (var t = 0u; t <= last; t++) {
        y[p.y_off + (t0 + t) * p.y_stride + row0 + r] = acc[r][t];
      }
    }
  }
}
