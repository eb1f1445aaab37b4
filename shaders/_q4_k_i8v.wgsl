// Include-only (leading "_"). Q4_K's part of the 16-byte-read integer decode products
// (matvec_q4_k_i8v / _i8xv.wgsl, shape _matvec_i8_k_v16.wgsl): the same sums as _q4_k_i8.wgsl
// (see there), read as vec4s. Vec4 v of the super-block: f16 d | f16 dmin, then the 12 bytes of
// scales and mins; vecs 1 + 2c and 2 + 2c are chunk c's 32 nibble bytes (quant word i of the
// chunk holds values 4i..4i+3 of sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles)).

const BLOCK_BYTES: u32 = 144u;

const LOW: u32 = 0x0f0f0f0fu;

// Σ over 4 quant words of (nibbles of q selected by sh) · x words.
fn nib_dot(q: vec4<u32>, sh: u32, x: vec4<u32>) -> i32 {
  return idot((q.x >> sh) & LOW, x.x) + idot((q.y >> sh) & LOW, x.y) + idot((q.z >> sh) & LOW, x.z) + idot((q.w >> sh) & LOW, x.w);
}

fn superblock_dot_v(v: u32, k: u32, xb: u32, xs: u32, xm: u32) -> f32 {
  let h = w[v];
  let dm = unpack2x16float(h.x);
  // The eight 6-bit scales and mins, byte-packed: sub-blocks 0..3 then 4..7 (ggml's get_scale_min_k4).
  let sc = array<u32, 2>(h.y & 0x3f3f3f3fu, (h.w & 0x0f0f0f0fu) | ((h.y >> 2u) & 0x30303030u));
  let mn = array<u32, 2>(h.z & 0x3f3f3f3fu, ((h.w >> 4u) & 0x0f0f0f0fu) | ((h.z >> 2u) & 0x30303030u));
  let dx = array<vec4<f32>, 2>(bitcast<vec4<f32>>(xq[xs + 2u * k]), bitcast<vec4<f32>>(xq[xs + 2u * k + 1u]));
  let sx = array<vec4<i32>, 2>(bitcast<vec4<i32>>(xq[xm + 2u * k]), bitcast<vec4<i32>>(xq[xm + 2u * k + 1u]));
  var acc = 0.0;
  for (var c = 0u; c < 4u; c++) {
    let qa = w[v + 1u + 2u * c];
    let qb = w[v + 2u + 2u * c];
    let x0 = xb + 2u * (8u * k + 2u * c);
    let ql = nib_dot(qa, 0u, xq[x0]) + nib_dot(qb, 0u, xq[x0 + 1u]);
    let qh = nib_dot(qa, 4u, xq[x0 + 2u]) + nib_dot(qb, 4u, xq[x0 + 3u]);
    let sh = 16u * (c & 1u);
    let scw = sc[c >> 1u];
    let mnw = mn[c >> 1u];
    let j = 2u * (c & 1u);
    let d0 = dx[c >> 1u][j];
    let d1 = dx[c >> 1u][j + 1u];
    let xl = sx[c >> 1u][j];
    let xh = sx[c >> 1u][j + 1u];
    acc += f32(i32(extractBits(scw, sh, 8u)) * ql) * (dm.x * d0) - f32(i32(extractBits(mnw, sh, 8u)) * xl) * (dm.y * d0);
    acc += f32(i32(extractBits(scw, sh + 8u, 8u)) * qh) * (dm.x * d1) - f32(i32(extractBits(mnw, sh + 8u, 8u)) * xh) * (dm.y * d1);
  }
  return acc;
}
