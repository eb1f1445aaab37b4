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
