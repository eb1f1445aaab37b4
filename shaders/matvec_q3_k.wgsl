// Weight products over a Q3_K matrix W [rows, cols] in ggml's block layout (row-major, each row
// a run of blocks, cols contiguous), bound as raw u32 words and dequantised in the kernel:
//   matvec   y[r]      = sum_c W[r, c] * x[c]      (decode, one token)
//   matmul   Y[t, r]   = sum_c W[r, c] * X[t, c]   (prefill, up to 4 tokens per invocation)
//   get_rows out[i, c] = W[ids[i], c]              (embedding gather, dequantised)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts, with the
// weights decoded by shared/quant.
//
// Bindings, parameters, helpers and the entry points come from _matvec_blocks.wgsl (which includes
// _matvec_common.wgsl: the layout of all matvec_*.wgsl); this file defines the weight word and
// the hooks those entry points call (CHUNK, row_base, chunk_dot, chunk_dot4 and chunk_store).

alias WeightWord = u32;

//#include "_matvec_blocks"

// ---- Q3_K specifics -----------------------------------------------------------------------
// Super-block of 256 values, 110 bytes: hmask[32], qs[64], 12 bytes of 6-bit scales, f16 d.
// 110 is 2 mod 4, so a block starts on a word or mid-word; every field sits at a multiple of 4
// bytes into the block, so one shift/mask pair realigns them all (as matvec_q6_k.wgsl).
// Value 128n + 32j + r (half n, shift j = 0..3, r = 0..31): low = (qs[32n + r] >> 2j) & 3,
// high = bit 4n + j of hmask[r], q = low + 4·high − 4; scale s = 8n + 2j + (r ≥ 16) with
// low 4 bits = byte s (n = 0) or s − 8 (n = 1, high nibble) and high 2 bits =
// (byte 8 + s%4 >> 2·(s/4)) & 3; value = d·(scale − 32)·q.
// One work unit (64 values) is (half n, m = 0..1): r in 16m..16m+15 for all four j, so its
// 4 qs words and 4 hmask words serve all four j, and it needs the four scales 8n + 2j + m.

const CHUNK: u32 = 64u;
// matmul runs tokens one after the other (chunk_dot4 below is four chunk_dots): simple first.
const SHARED_DECODE: bool = false;

fn row_base(row: u32) -> u32 { // row start in bytes
  return p.w_off * 4u + row * (p.cols / 256u) * 110u;
}

struct Head {
  a: u32, // word holding the block's first byte
  sh: u32, // 0 on a word, 16 mid-word
  mask: u32, // 0 on a word, 0xffff0000 mid-word
  s: vec4<f32>, // d·(scale − 32) for j = 0..3
  n: u32,
  xo: u32, // vec4 index of value 128n + 16m within the row
  hm: u32, // word offset in the block of hmask[16m]
  qs: u32, // word offset in the block of qs[32n + 16m]
}

// The 4 bytes at 4·o bytes into the block.
fn bw(h: Head, o: u32) -> u32 {
  return (w[h.a + o] >> h.sh) | ((w[h.a + o + 1u] << 16u) & h.mask);
}

fn head(rb: u32, k: u32) -> Head {
  let bb = rb + (k >> 2u) * 110u;
  let n = (k >> 1u) & 1u;
  let m = k & 1u;
  let al = (bb & 2u) == 0u;
  var h = Head(bb >> 2u, select(16u, 0u, al), select(0xffff0000u, 0u, al), vec4<f32>(0.0), n, (k >> 2u) * 64u + 32u * n + 4u * m, 4u * m, 8u + 8u * n + 4u * m);
  let d = unpack2x16float(bw(h, 27u)).x; // byte 108
  let s0 = bw(h, 24u); // scale bytes 0..3
  let s1 = bw(h, 25u); // 4..7
  let s2 = bw(h, 26u); // 8..11
  // Scale 8n + 2j + m: low nibble n of byte 2j + m (j < 2: s0, else s1, byte 2(j&1) + m),
  // high bits 2(2n + j/2) .. +1 of byte 8 + 2(j&1) + m.
  let lo = vec4<u32>(
    extractBits(s0, 8u * m + 4u * n, 4u),
    extractBits(s0, 8u * (2u + m) + 4u * n, 4u),
    extractBits(s1, 8u * m + 4u * n, 4u),
    extractBits(s1, 8u * (2u + m) + 4u * n, 4u),
  );
  let hi = vec4<u32>(
    extractBits(s2, 8u * m + 4u * n, 2u),
    extractBits(s2, 8u * (2u + m) + 4u * n, 2u),
    extractBits(s2, 8u * m + 4u * n + 2u, 2u),
    extractBits(s2, 8u * (2u + m) + 4u * n + 2u, 2u),
  );
  h.s = d * (vec4<f32>(lo | (hi << vec4<u32>(4u))) - 32.0);
  return h;
}

// q of the four values of quant word pair (qs word, hmask word) for shift j, in −4..3.
fn q3(qw: u32, hm: u32, j: u32, n: u32) -> vec4<f32> {
  let lo = (vec4<u32>(qw) >> (vec4<u32>(0u, 8u, 16u, 24u) + vec4<u32>(2u * j))) & vec4<u32>(3u);
  let hb = (vec4<u32>(hm) >> (vec4<u32>(0u, 8u, 16u, 24u) + vec4<u32>(4u * n + j))) & vec4<u32>(1u);
  return vec4<f32>(lo + 4u * hb) - 4.0;
}

// Value 128n + 32j + 16m + 4i + b sits at vec4 index xo + 8j + i.
fn chunk_dot(rb: u32, k: u32, xr: u32) -> f32 {
  let h = head(rb, k);
  let xb = xr + h.xo;
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let qw = bw(h, h.qs + i);
    let hm = bw(h, h.hm + i);
    s0 += q3(qw, hm, 0u, h.n) * x[xb + i];
    s1 += q3(qw, hm, 1u, h.n) * x[xb + 8u + i];
    s2 += q3(qw, hm, 2u, h.n) * x[xb + 16u + i];
    s3 += q3(qw, hm, 3u, h.n) * x[xb + 24u + i];
  }
  return dot(h.s, vec4<f32>(hsum(s0), hsum(s1), hsum(s2), hsum(s3)));
}

fn chunk_dot4(rb: u32, k: u32, xr: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(chunk_dot(rb, k, xr.x), chunk_dot(rb, k, xr.y), chunk_dot(rb, k, xr.z), chunk_dot(rb, k, xr.w));
}

// d·(scale − 32)·q is exact in f32, as ggml's.
fn chunk_store(rb: u32, k: u32, o: u32) {
  let h = head(rb, k);
  let e = o + 4u * h.xo;
  for (var i = 0u; i < 4u; i++) {
    let qw = bw(h, h.qs + i);
    let hm = bw(h, h.hm + i);
    put4(e + 4u * i, h.s.x * q3(qw, hm, 0u, h.n));
    put4(e + 32u + 4u * i, h.s.y * q3(qw, hm, 1u, h.n));
    put4(e + 64u + 4u * i, h.s.z * q3(qw, hm, 2u, h.n));
    put4(e + 96u + 4u * i, h.s.w * q3(qw, hm, 3u, h.n));
  }
}
