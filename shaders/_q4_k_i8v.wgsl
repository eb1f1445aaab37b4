// Include-only (leading "_"). Q4_K's part of the 16-byte-read integer decode products
// (matvec_q4_k_i8v / _i8xv.wgsl, shape _matvec_i8_k_v16.wgsl): the same sums as _q4_k_i8.wgsl
// (see there), read as vec4s. Vec4 0 of the super-block: f16 d | f16 dmin, then the 12 bytes of
// scales and mins; vecs 1 + 2c and 2 + 2c are chunk c's 32 nibble bytes (quant word i of the
// chunk holds values 4i..4i+3 of sub-blocks 2c (low nibbles) and 2c + 1 (high nibbles)).

const BLOCK_BYTES: u32 = 144u;

const LOW: u32 = 0x0f0f0f0fu;

struct Head {
  dm: vec2<f32>,
  // The eight 6-bit scales and mins, byte-packed: sub-blocks 0..3 then 4..7 (ggml's get_scale_min_k4).
  sc: vec2<u32>,
  mn: vec2<u32>,
}

fn head_of(h: vec4<u32>) -> Head {
  return Head(
    unpack2x16float(h.x),
    vec2<u32>(h.y & 0x3f3f3f3fu, (h.w & 0x0f0f0f0fu) | ((h.y >> 2u) & 0x30303030u)),
    vec2<u32>(h.z & 0x3f3f3f3fu, ((h.w >> 4u) & 0x0f0f0f0fu) | ((h.z >> 2u) & 0x30303030u)),
  );
}

// Σ over 4 quant words of (nibbles of q selected by sh) · x words.
fn nib_dot(q: vec4<u32>, sh: u32, x: vec4<u32>) -> i32 {
  return idot((q.x >> sh) & LOW, x.x) + idot((q.y >> sh) & LOW, x.y) + idot((q.z >> sh) & LOW, x.z) + idot((q.w >> sh) & LOW, x.w);
}

fn chunk_term(hd: Head, c: u32, qa: vec4<u32>, qb: vec4<u32>, x: array<vec4<u32>, 4>, d: vec2<f32>, s: vec2<i32>) -> f32 {
  let ql = nib_dot(qa, 0u, x[0]) + nib_dot(qb, 0u, x[1]);
  let qh = nib_dot(qa, 4u, x[2]) + nib_dot(qb, 4u, x[3]);
  return chunk_scaled(hd, c, vec2<i32>(ql, qh), d, s);
}

// Chunk c's two sub-block sums q (Σ low nibbles · x, Σ high nibbles · x) with their scales and
// mins applied: d·sc·q·dx − dmin·m·Σxq·dx for each sub-block (s: x's block sums).
fn chunk_scaled(hd: Head, c: u32, q: vec2<i32>, d: vec2<f32>, s: vec2<i32>) -> f32 {
  let ql = q.x;
  let qh = q.y;
  let sh = 16u * (c & 1u);
  let scw = hd.sc[c >> 1u];
  let mnw = hd.mn[c >> 1u];
  let lo = f32(i32(extractBits(scw, sh, 8u)) * ql) * (hd.dm.x * d.x) - f32(i32(extractBits(mnw, sh, 8u)) * s.x) * (hd.dm.y * d.x);
  let hi = f32(i32(extractBits(scw, sh + 8u, 8u)) * qh) * (hd.dm.x * d.y) - f32(i32(extractBits(mnw, sh + 8u, 8u)) * s.y) * (hd.dm.y * d.y);
  return lo + hi;
}
