// Include-only (leading "_"). Q4_K's part of the integer decode products (matvec_q4_k_i8*.wgsl).
// Super-block of 256 values, 144 bytes (word-aligned): f16 d, f16 dmin, 12 bytes of 6-bit scales
// and mins, 128 bytes of nibbles; sub-block j (32 values) is value = d·sc_j·q − dmin·m_j, q 0..15.
// Chunk c (0..3) is 32 quant bytes: low nibbles sub-block 2c, high nibbles sub-block 2c+1, so
// quant word i of the chunk holds values 4i..4i+3 of each, as x's block word i does.
// Σ_sub-block (d·sc·q − dmin·m)·dx·xq = dx·(d·(sc·Σ q·xq) − dmin·(m·Σ xq)): one integer sum
// per sub-block here, the scales applied once to it (the nibbles are < 128, so dot4I8Packed takes
// them as they are); Σ xq is the x block's sum, written once by quantize_q8 for every row.

const BLOCK_BYTES: u32 = 144u;

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
    for (var i = 0u; i < 8u; i++) {
      let q = w[a + 4u + 8u * c + i];
      ql += idot(q & 0x0f0f0f0fu, xword(b0, i));
      qh += idot((q >> 4u) & 0x0f0f0f0fu, xword(b0 + 1u, i));
    }
    let xl = xsum(b0);
    let xh = xsum(b0 + 1u);
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
