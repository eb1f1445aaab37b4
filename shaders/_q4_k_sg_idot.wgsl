// Include-only (leading "_"). The lane sums of Q4_K's subgroup shape (_matvec_i8_k_sg.wgsl)
// through idot (dot4I8Packed or its i32 form) over nibbles masked out of the quant words, as
// _q4_k_i8v.wgsl's nib_dot: x's words are used as they are.

struct XPrep {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

fn prep_x(x0: vec4<u32>, x1: vec4<u32>) -> XPrep {
  return XPrep(x0, x1);
}

fn chunk_sums(q: vec4<u32>, xp: XPrep) -> vec2<i32> {
  return vec2<i32>(nib_dot(q, 0u, xp.lo), nib_dot(q, 4u, xp.hi));
}
