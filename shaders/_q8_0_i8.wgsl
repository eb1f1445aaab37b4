// Include-only (leading "_"). Q8_0's part of the integer decode products (matvec_q8_0_i8*.wgsl):
// block of 32 values, 34 bytes, f16 d then 32 × int8; quant word i holds values 4i..4i+3, as x's
// block word i does, so a block is 8 packed products. (The subgroup shape, _matvec_q8_0_sg.wgsl,
// uses only BLOCK_BYTES.)

const BLOCK_BYTES: u32 = 34u;

fn block_dot(q: ptr<function, array<u32, 9>>, xw: ptr<function, array<u32, 8>>) -> i32 {
  var s = 0i;
  for (var i = 0u; i < 8u; i++) {
    s += idot((*q)[i], (*xw)[i]);
  }
  return s;
}
