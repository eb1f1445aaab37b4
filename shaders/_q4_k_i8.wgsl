// Include-only (leading "_"). Q4_K's part of the integer decode products (matvec_q4_k_i8*.wgsl).
// Super-block of 256 values, 144 bytes (word-aligned): f16 d, f16 dmin, 12 bytes of 6-bit scales
// and mins, 128 bytes of nibbles; sub-block j (32 values) is value = d·sc_j·q − dmin·m_j, q 0..15.
// Chunk c (0..3) is 32 quant bytes: low nibbles sub-block 2c, high nibbles sub-block 2c+1, so
// quant word i of the chunk holds values 4i..4i+3 of each, as x's block word i does.
// Σ_sub-block (d·sc·q − dmin·m)·dx·xq = dx·(d·(sc·Σ q·xq) − dmin·(m·Σ xq)): two integer sums
// per sub-block, the scales applied once to each (the nibbles are < 128, so dot4I8Packed takes them as they are).

const BLOCK_BYTES: u32 = 144u;

// The sub-block's bytes: 0x01 in each, for Σ xq through the same packed product.
const ONES: u32 = 0x01010101u;

fn superblock_dot(bb: u32, xb: u32) -> f32 {
  let a = bb >> 2u;
  let dm = unpack2x16float(w[a]);
  let s0 = w[a + 1u];
  let s1 = w[a + 2u];
  let s2 = w[a + 3u];
  // The eight 6-bit scales and mins, byte-packed: sub-blocks 0..3 then 4..7 (ggml's get_scale_min_k4).
  let sc = array<u32, 2>(s0 & 0x3f3f3f3fu, (s2 & 0x0f0f0f0fu) | ((s0 >> 2u) & 0x30303030u));
  let mn = array<u32, 2>(s1 & 0x3f3f3f3fu, ((s2 >> 4u) & 0x0f0f0f0fu) | ((s1 >> 2u) & 0x30303030u));
  var acc = 0.0;
  for (var c = 0u; c < 4u; c++) {
    let b0 = xb + 2u * c;
    var ql = 0i;
    var qh = 0i;
    var xl = 0i;
    var xh = 0i;
    for (var i = 0u; i < 8u; i++) {
      let q = w[a + 4u + 8u * c + i];
      let x0 = xword(b0, i);
      let x1 = xword(b0 + 1u, i);
      ql += idot(q & 0x0f0f0f0fu, x0);
      qh += idot((q >> 4u) & 0x0f0f0f0fu, x1);
      xl += idot(x0, ONES);
      xh += idot(x1, ONES);
    }
    let sh = 16u * (c & 1u);
    let scw = sc[c >> 1u];
    let mnw = mn[c >> 1u];
    let d0 = xscale(b0);
    let d1 = xscale(b0 + 1u);
    acc += f32(i32(extractBits(scw, sh, 8u)) * ql) * (dm.x * d0) - f32(i32(extractBits(mnw, sh, 8u)) * xl) * (dm.y * d0);
    acc += f32(i32(extractBits(scw, sh + 8u, 8u)) * qh) * (dm.x * d1) - f32(i32(extractBits(mnw, sh + 8u, 8u)) * xh) * (dm.y * d1);
  }
  return acc;
}
