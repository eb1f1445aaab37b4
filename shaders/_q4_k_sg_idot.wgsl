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

// The prefill product's form (`matmul` of _matvec_i8_k_sg.wgsl): the row's nibble words masked
// once per super-block for all the tokens of a pass, x's words as they are.
struct XTok {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

struct QRow {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

fn prep_tok(x0: vec4<u32>, x1: vec4<u32>) -> XTok {
  return XTok(x0, x1);
}

fn prep_row(q: vec4<u32>) -> QRow {
  return QRow(q & vec4<u32>(LOW), (q >> vec4<u32>(4u)) & vec4<u32>(LOW));
}

fn tile_sums(qr: QRow, xt: XTok) -> vec2<i32> {
  return vec2<i32>(
    idot(qr.lo.x, xt.lo.x) + idot(qr.lo.y, xt.lo.y) + idot(qr.lo.z, xt.lo.z) + idot(qr.lo.w, xt.lo.w),
    idot(qr.hi.x, xt.hi.x) + idot(qr.hi.y, xt.hi.y) + idot(qr.hi.z, xt.hi.z) + idot(qr.hi.w, xt.hi.w),
  );
}
