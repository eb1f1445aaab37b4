// Include-only (leading "_"). The 16-byte-read shape of the super-block integer decode products
// (Q4_K): one invocation per row, super-blocks in turn, every read a vec4<u32>: a 144-byte
// super-block is 9 whole vec4s (header, then 8 of nibbles), an x block's 32 quants are 2, and
// x's scales and block sums are read 4 blocks to a vec4. On lavapipe each invocation is a SIMD
// lane and each load a gather, even of x, which every lane reads alike: per row and super-block the
// 4-byte shape makes 116 loads (36 of weights, 64 of x quants, 16 of x scales and sums), this one
// 29 (9, 16 and 4); see specs/engine.md, "Integer decode kernels", for the probes that led here.
// Needs the weights, x_off and cols/4 16-byte aligned (cols a multiple of 256; int-matvec.ts checks).
// The including type file defines BLOCK_BYTES, idot and
//   fn superblock_dot_v(v: u32, k: u32, xb: u32, xs: u32, xm: u32) -> f32   super-block k of the row
//        (from vec4 v of w) dotted with x blocks 8k..8k+7 (x block b's quants from vec4 xb + 2b,
//        scales of blocks 4j..4j+3 in vec4 xs + j, their sums in vec4 xm + j)

//#include "_matvec_i8_params"

override WG: u32 = 64u;

@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  if (row >= p.rows) {
    return;
  }
  let ns = p.cols / 256u;
  let sv = BLOCK_BYTES / 16u;
  let rv = p.w_off / 4u + row * ns * sv;
  let xb = p.x_off / 4u;
  let xs = (p.x_off + p.cols / 4u) / 4u;
  let xm = xs + p.cols / 128u;
  var acc = 0.0;
  for (var k = 0u; k < ns; k++) {
    acc += superblock_dot_v(rv + sv * k, k, xb, xs, xm);
  }
  y[p.y_off + row] = acc;
}
