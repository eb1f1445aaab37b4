// Include-only (leading "_"). The 32-value blocks with an offset or a fifth bit (matvec_q4_1,
// _q5_0, _q5_1): an f16 d first, then an f16 m (HAS_MIN), then a u32 qh of fifth bits (HAS_QH),
// then 16 bytes of nibbles: byte j holds element j (low nibble) and element j+16 (high nibble);
// bit i of qh is the fifth bit of element i. Value = d·(q − OFFSET) + m, q = nibble | bit << 4.
// Blocks of 22 bytes (Q5_0) start on a word or mid-word; every field sits at an even byte, so
// each is read as whole words shifted by 0 or 16 bits. Defines CHUNK, row_base, chunk_dot,
// chunk_dot4 and chunk_store for _matvec_blocks.wgsl.
// Hooks the type file defines (besides WeightWord = u32):
//   const BLOCK_BYTES: u32, HAS_MIN: bool, HAS_QH: bool, OFFSET: f32
//#include "_matvec_blocks"

const CHUNK: u32 = 32u; // one block
// matmul runs tokens one after the other: these blocks decode cheaply (as Q4_0/Q8_0).
const SHARED_DECODE: bool = false;
const QH_AT: u32 = select(2u, 4u, HAS_MIN); // byte offset of qh in the block
const QS_AT: u32 = QH_AT + select(0u, 4u, HAS_QH); // byte offset of the nibbles

fn row_base(row: u32) -> u32 { // row start in bytes
  return p.w_off * 4u + row * (p.cols / 32u) * BLOCK_BYTES;
}

// The 4 bytes at an even byte address.
fn rd(ba: u32) -> u32 {
  let a = ba >> 2u;
  let sh = (ba & 2u) * 8u;
  return (w[a] >> sh) | ((w[a + 1u] << 16u) & select(0u, 0xffff0000u, sh != 0u));
}

struct Blk {
  d: f32,
  m: f32, // 0 without HAS_MIN
  qh: u32, // 0 without HAS_QH
  a: u32, // word holding the first nibble byte
  sh: u32, // 0 when the nibbles start on a word, else 16
  mask: u32, // 0 when on a word, else 0xffff0000
}

fn blk(rb: u32, k: u32) -> Blk {
  let bb = rb + BLOCK_BYTES * k;
  let dm = unpack2x16float(rd(bb));
  var qh = 0u;
  if (HAS_QH) {
    qh = rd(bb + QH_AT);
  }
  let qa = bb + QS_AT;
  let sh = (qa & 2u) * 8u;
  return Blk(dm.x, select(0.0, dm.y, HAS_MIN), qh, qa >> 2u, sh, select(0u, 0xffff0000u, sh != 0u));
}

fn qword(b: Blk, lo: u32, hi: u32) -> u32 {
  return (lo >> b.sh) | ((hi << 16u) & b.mask);
}

// Fifth bits s .. s+3 of qh, as 0 or 16.
fn hbits(qh: u32, s: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(qh) >> (vec4<u32>(s) + vec4<u32>(0u, 1u, 2u, 3u))) & vec4<u32>(1u)) * 16.0;
}

// Quant word i (0..3): q − OFFSET of elements 4i..4i+3 (low nibbles) and 16+4i.. (high nibbles).
fn qlo(b: Blk, q: u32, i: u32) -> vec4<f32> {
  var v = lo4(q) - OFFSET;
  if (HAS_QH) {
    v += hbits(b.qh, 4u * i);
  }
  return v;
}

fn qhi(b: Blk, q: u32, i: u32) -> vec4<f32> {
  var v = hi4(q) - OFFSET;
  if (HAS_QH) {
    v += hbits(b.qh, 16u + 4u * i);
  }
  return v;
}

// Σ (d·q' + m)·x = d·Σ q'·x + m·Σ x: the offset is applied once per block.
fn chunk_dot(rb: u32, k: u32, xr: u32) -> f32 {
  let b = blk(rb, k);
  let xb = xr + 8u * k;
  var s = vec4<f32>(0.0);
  var sx = vec4<f32>(0.0);
  var v = w[b.a];
  for (var i = 0u; i < 4u; i++) {
    let nxt = w[b.a + i + 1u];
    let q = qword(b, v, nxt);
    let x0 = x[xb + i];
    let x1 = x[xb + 4u + i];
    s += qlo(b, q, i) * x0 + qhi(b, q, i) * x1;
    if (HAS_MIN) {
      sx += x0 + x1;
    }
    v = nxt;
  }
  return b.d * hsum(s) + b.m * hsum(sx);
}

// matmul does not use it (SHARED_DECODE is false); it must exist for the shared template.
fn chunk_dot4(rb: u32, k: u32, xr: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(chunk_dot(rb, k, xr.x), chunk_dot(rb, k, xr.y), chunk_dot(rb, k, xr.z), chunk_dot(rb, k, xr.w));
}

// d·q' is exact in f32 (11-bit d, 5-bit q'), so d·q' + m rounds once, as ggml's x·d + m.
fn chunk_store(rb: u32, k: u32, o: u32) {
  let b = blk(rb, k);
  var v = w[b.a];
  for (var i = 0u; i < 4u; i++) {
    let nxt = w[b.a + i + 1u];
    let q = qword(b, v, nxt);
    let e = o + 32u * k + 4u * i;
    put4(e, b.d * qlo(b, q, i) + b.m);
    put4(e + 16u, b.d * qhi(b, q, i) + b.m);
    v = nxt;
  }
}
