// Include-only (leading "_"). The blocks of Q8_0 and Q4_0 (matvec_q8_0.wgsl, matvec_q4_0.wgsl):
// 32 values in BLOCK_BYTES bytes, an f16 scale d first, then QWORDS words of quants.
// BLOCK_BYTES is 2 mod 4 (34, 18), so a block starts on a word or in the middle of one; both
// cases are read as whole words. Defines CHUNK, row_base, chunk_dot and chunk_store for
// _matvec_blocks.wgsl.
// Hooks the type file defines (besides WeightWord = u32):
//   const BLOCK_BYTES: u32
//   fn qword_dot(q: u32, xb: u32, i: u32) -> vec4<f32>   quant word i (q) times x, the block's
//                                                        values from vec4 index xb; d applied later
//   fn qword_store(q: u32, d: f32, e: u32)               writes quant word i dequantised, e being
//                                                        the output of value 4i of the block
//#include "_matvec_blocks"

const CHUNK: u32 = 32u; // one block
// matmul runs tokens one after the other: Q8_0/Q4_0 decode cheaply; one token at a time keeps x in L1 (measured, specs/benchmarks.md).
const SHARED_DECODE: bool = false;
const QWORDS: u32 = (BLOCK_BYTES - 2u) / 4u;

fn row_base(row: u32) -> u32 { // row start in bytes
  return p.w_off * 4u + row * (p.cols / 32u) * BLOCK_BYTES;
}

// Block k of the row at byte rb. A block starts on a word (al) or mid-word:
//   on a word: d = low half of word a; quant word i = high half of word a+i | low half of a+i+1
//   mid-word:  d = high half of word a; quant word i = word a+1+i
// Both read as q_i = (v_i >> sh) | ((v_{i+1} << 16) & mask) over words v_i = w[base + i].
struct Blk {
  d: f32,
  base: u32,
  sh: u32,
  mask: u32,
}

fn blk(rb: u32, k: u32) -> Blk {
  let bb = rb + BLOCK_BYTES * k;
  let a = bb >> 2u;
  let al = (bb & 2u) == 0u;
  let w0 = w[a];
  return Blk(unpack2x16float(select(w0 >> 16u, w0, al)).x, a + select(1u, 0u, al), select(0u, 16u, al), select(0u, 0xffff0000u, al));
}

fn qword(b: Blk, lo: u32, hi: u32) -> u32 {
  return (lo >> b.sh) | ((hi << 16u) & b.mask);
}

fn chunk_dot(rb: u32, k: u32, xr: u32) -> f32 {
  let b = blk(rb, k);
  let xb = xr + 8u * k;
  var s = vec4<f32>(0.0);
  var v = w[b.base];
  for (var i = 0u; i < QWORDS; i++) {
    let nxt = w[b.base + i + 1u];
    s += qword_dot(qword(b, v, nxt), xb, i);
    v = nxt;
  }
  return b.d * hsum(s);
}

// matmul does not use it (SHARED_DECODE is false); it must exist for the shared template.
fn chunk_dot4(rb: u32, k: u32, xr: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(chunk_dot(rb, k, xr.x), chunk_dot(rb, k, xr.y), chunk_dot(rb, k, xr.z), chunk_dot(rb, k, xr.w));
}

fn chunk_store(rb: u32, k: u32, o: u32) {
  let b = blk(rb, k);
  var v = w[b.base];
  for (var i = 0u; i < QWORDS; i++) {
    let nxt = w[b.base + i + 1u];
    qword_store(qword(b, v, nxt), b.d, o + 32u * k + 4u * i);
    v = nxt;
  }
}
