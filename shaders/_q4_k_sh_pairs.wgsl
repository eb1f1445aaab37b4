// Include-only (leading "_"). The chunk sums of Q4_K's products with x shared through the subgroup
// (_matvec_i8_k_sh.wgsl) in plain u32, two byte products per multiply (the arithmetic of
// _q4_k_sg_pairs.wgsl's prefill form): x's bytes taken unsigned, u = x + 128 (x ^ 0x80 bytewise),
// paired u_0 + u_2·2^16 = u & 0x00ff00ff and u_1 + u_3·2^16 = (u >> 8) & 0x00ff00ff; a quant word's
// nibbles paired the other way round, q_2 + q_0·2^16 (the word rotated by 16 bits, masked). Then
// (q_2 + q_0·2^16)(u_0 + u_2·2^16) = q_2·u_0 + (q_0·u_0 + q_2·u_2)·2^16 mod 2^32. Summed over 4
// words (8 multiplies) the low field stays ≤ 8·15·255 = 30600 and the high one ≤ 16·15·255 =
// 61200, both under 2^16, so the high field is exactly Σ q·u over those words; Σ q·x = Σ q·u −
// 128·Σ q. A row's chunk is paired once for all its tokens, a token's chunk once for all its rows.

const NIB_PAIRS: vec4<u32> = vec4<u32>(0x000f000fu);
const BYTE_PAIRS: vec4<u32> = vec4<u32>(0x00ff00ffu);

// A row's chunk: the low and high nibble pairs of its two quant vec4s, and 128 · Σ of its low
// and of its high nibbles.
struct QChunk {
  la02: vec4<u32>,
  la13: vec4<u32>,
  lb02: vec4<u32>,
  lb13: vec4<u32>,
  ha02: vec4<u32>,
  ha13: vec4<u32>,
  hb02: vec4<u32>,
  hb13: vec4<u32>,
  corr: vec2<i32>,
}

// A token's chunk: the byte pairs of its 4 quant vec4s (u = x + 128).
struct XChunkPrep {
  p02: array<vec4<u32>, 4>,
  p13: array<vec4<u32>, 4>,
}

// Σ of the two 16-bit fields over the 4 words.
fn field_sum(v: vec4<u32>) -> u32 {
  let t = v.x + v.y + v.z + v.w;
  return (t & 0xffffu) + (t >> 16u);
}

fn q_chunk(qa: vec4<u32>, qb: vec4<u32>) -> QChunk {
  let ra = (qa >> vec4<u32>(16u)) | (qa << vec4<u32>(16u));
  let rb = (qb >> vec4<u32>(16u)) | (qb << vec4<u32>(16u));
  let la02 = ra & NIB_PAIRS;
  let la13 = (ra >> vec4<u32>(8u)) & NIB_PAIRS;
  let lb02 = rb & NIB_PAIRS;
  let lb13 = (rb >> vec4<u32>(8u)) & NIB_PAIRS;
  let ha02 = (ra >> vec4<u32>(4u)) & NIB_PAIRS;
  let ha13 = (ra >> vec4<u32>(12u)) & NIB_PAIRS;
  let hb02 = (rb >> vec4<u32>(4u)) & NIB_PAIRS;
  let hb13 = (rb >> vec4<u32>(12u)) & NIB_PAIRS;
  // Each field of a pair sum is at most 8 · 15 = 120: no carry between the fields.
  let lo = field_sum(la02 + la13 + lb02 + lb13);
  let hi = field_sum(ha02 + ha13 + hb02 + hb13);
  return QChunk(la02, la13, lb02, lb13, ha02, ha13, hb02, hb13, vec2<i32>(128 * i32(lo), 128 * i32(hi)));
}

fn x_chunk_prep(x: array<vec4<u32>, 4>) -> XChunkPrep {
  var p02: array<vec4<u32>, 4>;
  var p13: array<vec4<u32>, 4>;
  for (var i = 0u; i < 4u; i++) {
    let u = x[i] ^ vec4<u32>(0x80808080u);
    p02[i] = u & BYTE_PAIRS;
    p13[i] = (u >> vec4<u32>(8u)) & BYTE_PAIRS;
  }
  return XChunkPrep(p02, p13);
}

// Σ over 4 words of the pairs' products, high fields: exactly Σ q·u over those words.
fn pair_sum(q02: vec4<u32>, q13: vec4<u32>, u02: vec4<u32>, u13: vec4<u32>) -> i32 {
  let v = q02 * u02 + q13 * u13;
  return i32((v.x + v.y + v.z + v.w) >> 16u);
}

// (Σ low nibbles · x, Σ high nibbles · x) of the chunk: sub-blocks 2c and 2c + 1.
fn chunk_sums(q: QChunk, x: XChunkPrep) -> vec2<i32> {
  let ql = pair_sum(q.la02, q.la13, x.p02[0], x.p13[0]) + pair_sum(q.lb02, q.lb13, x.p02[1], x.p13[1]);
  let qh = pair_sum(q.ha02, q.ha13, x.p02[2], x.p13[2]) + pair_sum(q.hb02, q.hb13, x.p02[3], x.p13[3]);
  return vec2<i32>(ql, qh) - q.corr;
}
