// Include-only (leading "_"). The lane sums of Q4_K's subgroup shape (_matvec_i8_k_sg.wgsl) in
// plain i32, two products per multiply: a nibble pair a = q_0 + q_2·2^16 (q & 0x000f000f) times
// the x pair b = x_2 + x_0·2^16 (signed, prepared once per super-block for all the rows) is
// q_0·x_2 + (q_0·x_0 + q_2·x_2)·2^16 modulo 2^32; likewise q_1, q_3 ((q >> 8) & 0x000f000f) with
// x_3 + x_1·2^16. Summed over a lane's 4 quant words (8 multiplies), the low field holds 8 cross
// terms, |Σ| ≤ 8·15·127 < 2^15, and the high field the 16 wanted ones, |Σ| ≤ 16·15·127 = 30480,
// so the true sum low + high·2^16 stays inside i32 (30480·2^16 + 2^15 < 2^31): the wrapping i32
// arithmetic gives it exactly, and high = (sum + 2^15) >> 16 (arithmetic shift) rounds the low
// field away. x's quants are clamped to ±127 (quantize_q8.wgsl), the nibbles are 0..15.

struct XPrep {
  lo02: vec4<i32>,
  lo13: vec4<i32>,
  hi02: vec4<i32>,
  hi13: vec4<i32>,
}

const PAIR_HIGH: vec4<i32> = vec4<i32>(-65536);

// x_2 + x_0·2^16 and x_3 + x_1·2^16 of each of 4 x words (signed bytes x_0..x_3).
fn pairs02(x: vec4<u32>) -> vec4<i32> {
  let v = bitcast<vec4<i32>>(x);
  return ((v << vec4<u32>(8u)) >> vec4<u32>(24u)) + ((v << vec4<u32>(24u)) >> vec4<u32>(8u));
}

fn pairs13(x: vec4<u32>) -> vec4<i32> {
  let v = bitcast<vec4<i32>>(x);
  return (v >> vec4<u32>(24u)) + (((v << vec4<u32>(16u)) >> vec4<u32>(8u)) & PAIR_HIGH);
}

fn prep_x(x0: vec4<u32>, x1: vec4<u32>) -> XPrep {
  return XPrep(pairs02(x0), pairs13(x0), pairs02(x1), pairs13(x1));
}

// Σ over 4 quant words of their nibbles at bit sh (0 or 4) times x: the x pairs p02, p13.
fn pair_dot(q: vec4<u32>, sh: u32, p02: vec4<i32>, p13: vec4<i32>) -> i32 {
  let m = vec4<u32>(0x000f000fu);
  let s = bitcast<vec4<i32>>((q >> vec4<u32>(sh)) & m) * p02 + bitcast<vec4<i32>>((q >> vec4<u32>(sh + 8u)) & m) * p13;
  return (s.x + s.y + s.z + s.w + 0x8000i) >> 16u;
}

fn chunk_sums(q: vec4<u32>, xp: XPrep) -> vec2<i32> {
  return vec2<i32>(pair_dot(q, 0u, xp.lo02, xp.lo13), pair_dot(q, 4u, xp.hi02, xp.hi13));
}

// The prefill product's form (`matmul` of _matvec_i8_k_sg.wgsl), cheaper per token: x's bytes are
// taken unsigned, u = x + 128 (x ^ 0x80 bytewise: 0..255), so its pairs are two masks and a shift
// per word instead of sign extensions: u_0 + u_2·2^16 = u & 0x00ff00ff, u_1 + u_3·2^16 likewise
// after >> 8. The nibble pairs go the other way round, q_2 + q_0·2^16 (the quant word rotated by 16
// bits, then masked; worked out once per row and super-block for all the tokens of a pass). In u32,
// (q_2 + q_0·2^16)(u_0 + u_2·2^16) = q_2·u_0 + (q_0·u_0 + q_2·u_2)·2^16 mod 2^32; over a lane's 4
// words (8 multiplies) the low field stays ≤ 8·15·255 = 30600 and the high one ≤ 16·15·255 =
// 61200, both under 2^16, so the high field is exactly Σ q·u, and Σ q·x = Σ q·u − 128·Σ q, with
// Σ q (per row, sub-block half and lane) in the row's prepared form.
struct XTok {
  lo02: vec4<u32>,
  lo13: vec4<u32>,
  hi02: vec4<u32>,
  hi13: vec4<u32>,
}

struct QRow {
  lo02: vec4<u32>,
  lo13: vec4<u32>,
  hi02: vec4<u32>,
  hi13: vec4<u32>,
  // 128 · Σ of the lane's low and high nibbles.
  corr: vec2<i32>,
}

const BYTE_PAIRS: vec4<u32> = vec4<u32>(0x00ff00ffu);
const NIB_PAIRS: vec4<u32> = vec4<u32>(0x000f000fu);

fn prep_tok(x0: vec4<u32>, x1: vec4<u32>) -> XTok {
  let u0 = x0 ^ vec4<u32>(0x80808080u);
  let u1 = x1 ^ vec4<u32>(0x80808080u);
  return XTok(u0 & BYTE_PAIRS, (u0 >> vec4<u32>(8u)) & BYTE_PAIRS, u1 & BYTE_PAIRS, (u1 >> vec4<u32>(8u)) & BYTE_PAIRS);
}

// Σ of the 4 nibbles (bytes ≤ 15) of each word of n, added over the 4 words.
fn nib_total(n: vec4<u32>) -> i32 {
  return i32(((n.x + n.y + n.z + n.w) * 0x01010101u) >> 24u);
}

fn prep_row(q: vec4<u32>) -> QRow {
  let r = (q << vec4<u32>(16u)) | (q >> vec4<u32>(16u));
  return QRow(r & NIB_PAIRS, (r >> vec4<u32>(8u)) & NIB_PAIRS, (r >> vec4<u32>(4u)) & NIB_PAIRS, (r >> vec4<u32>(12u)) & NIB_PAIRS, vec2<i32>(128 * nib_total(q & vec4<u32>(LOW)), 128 * nib_total((q >> vec4<u32>(4u)) & vec4<u32>(LOW))));
}

// The lane's two sums for one row and one token: Σ low nibbles · x0, Σ high nibbles · x1.
fn tile_sums(qr: QRow, xt: XTok) -> vec2<i32> {
  let a = qr.lo02 * xt.lo02 + qr.lo13 * xt.lo13;
  let b = qr.hi02 * xt.hi02 + qr.hi13 * xt.hi13;
  return vec2<i32>(i32((a.x + a.y + a.z + a.w) >> 16u), i32((b.x + b.y + b.z + b.w) >> 16u)) - qr.corr;
}
