// Include-only (leading "_"). Q4_0's part of the integer decode products (matvec_q4_0_i8*.wgsl):
// block of 32 values, 18 bytes, f16 d then 16 bytes; byte j holds value j (low nibble) and value
// j+16 (high nibble), value = d · (nibble − 8). Quant word i's low nibbles are values 4i..4i+3
// (x's block word i), its high nibbles 16+4i.. (x's word 4+i).

const BLOCK_BYTES: u32 = 18u;

// Four nibbles (one per byte, 0..15) as the signed bytes nibble − 8: n ^ 8 is n − 8 in 4-bit
// two's complement; bit 3 copied into bits 4..7 (sign · 30 = 0xf0 per byte, no carries) widens it.
fn s8_of_nibbles(n: u32) -> u32 {
  let v = n ^ 0x08080808u;
  return v | ((v & 0x08080808u) * 30u);
}

fn block_dot(q: ptr<function, array<u32, 9>>, xw: ptr<function, array<u32, 8>>) -> i32 {
  var s = 0i;
  for (var i = 0u; i < 4u; i++) {
    s += idot(s8_of_nibbles((*q)[i] & 0x0f0f0f0fu), (*xw)[i]);
    s += idot(s8_of_nibbles(((*q)[i] >> 4u) & 0x0f0f0f0fu), (*xw)[4u + i]);
  }
  return s;
}

// Subgroup variant: lanes 0..3 take the low nibbles of quant word lane, lanes 4..7 the high ones
// of word lane − 4 (qw is word lane % 4).
fn lane_dot(qw: u32, lane: u32, xw: u32) -> i32 {
  return idot(s8_of_nibbles((qw >> (4u * (lane / 4u))) & 0x0f0f0f0fu), xw);
}
