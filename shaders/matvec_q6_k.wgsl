// Weight products over a Q6_K matrix W [rows, cols] in ggml's block layout (row-major, each row
// a run of blocks, cols contiguous), bound as raw u32 words and dequantised in the kernel:
//   matvec   y[r]      = sum_c W[r, c] * x[c]      (decode, one token)
//   matmul   Y[t, r]   = sum_c W[r, c] * X[t, c]   (prefill, up to 4 tokens per invocation)
//   matmul_tile          the same as a tiled matrix product (_matmul_tile.wgsl)
//   get_rows out[i, c] = W[ids[i], c]              (embedding gather, dequantised)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts, with the
// weights decoded by shared/quant.
//
// Bindings, parameters, helpers and the entry points come from _matvec_blocks.wgsl (which includes
// _matvec_common.wgsl: the layout of all matvec_*.wgsl); this file defines the weight word and
// the hooks those entry points call (CHUNK, row_base, chunk_dot, chunk_dot4 and chunk_store).

alias WeightWord = u32;

//#include "_matvec_blocks"
//#include "_matmul_tile"

// ---- Q6_K specifics -----------------------------------------------------------------------
// Super-block of 256 values, 210 bytes: ql[128] low nibbles, qh[64] high 2-bit pairs,
// 16 × int8 scales, f16 d. 210 is 2 mod 4, so a block starts on a word or mid-word; every
// field sits at a multiple of 4 bytes into the block, so one shift/mask pair realigns them all.
// Half h (128 values) uses ql[64h..], qh[32h..]; for l in 0..31, qh[32h+l] bits 2t..2t+1 and
// a nibble of ql give value 128h + 32t + l (t = 0..3: ql[l] low, ql[l+32] low, ql[l] high,
// ql[l+32] high). Value = d · scale[i/16] · (q − 32).
// One work unit (64 values) is (half h, m in 0..1): l in 16m..16m+15 for all four t, so it
// needs four scales: 8h + m + 2t.

const CHUNK: u32 = 64u;
// matmul decodes each unit once for 4 tokens: decoding a Q6_K unit costs more than dotting it (measured, specs/benchmarks.md).
const SHARED_DECODE: bool = true;

fn row_base(row: u32) -> u32 { // row start in bytes
  return p.w_off * 4u + row * (p.cols / 256u) * 210u;
}

struct Head {
  a: u32, // word holding the block's first byte
  sh: u32, // 0 on a word, 16 mid-word
  mask: u32, // 0 on a word, 0xffff0000 mid-word
  s: vec4<f32>, // d·scale for t = 0..3
  xo: u32, // vec4 index of value 128h + 16m within the row
  ql: u32, // word offset in the block of ql[64h + 16m]
  qh: u32, // word offset in the block of qh[32h + 16m]
}

// The 4 bytes at 4·o bytes into the block.
fn bw(h: Head, o: u32) -> u32 {
  return (w[h.a + o] >> h.sh) | ((w[h.a + o + 1u] << 16u) & h.mask);
}

fn join(h: Head, lo: u32, hi: u32) -> u32 {
  return (lo >> h.sh) | ((hi << 16u) & h.mask);
}

fn head(rb: u32, k: u32) -> Head {
  let bb = rb + (k >> 2u) * 210u;
  let hf = (k >> 1u) & 1u;
  let m = k & 1u;
  let al = (bb & 2u) == 0u;
  var h = Head(bb >> 2u, select(16u, 0u, al), select(0xffff0000u, 0u, al), vec4<f32>(0.0), (k >> 2u) * 64u + hf * 32u + m * 4u, 16u * hf + 4u * m, 32u + 8u * hf + 4u * m);
  let d = unpack2x16float(bw(h, 52u)).x; // byte 208
  let s0 = bitcast<i32>(bw(h, 48u + 2u * hf)); // scales 8h .. 8h+3
  let s1 = bitcast<i32>(bw(h, 49u + 2u * hf)); // scales 8h+4 .. 8h+7
  let sc = vec4<i32>(
    extractBits(s0, 8u * m, 8u),
    extractBits(s0, 8u * m + 16u, 8u),
    extractBits(s1, 8u * m, 8u),
    extractBits(s1, 8u * m + 16u, 8u),
  );
  h.s = d * vec4<f32>(sc);
  return h;
}

// The 6-bit quants (0..63, byte-packed) of four values for t = 0..3, from the words of
// ql[l..l+3], ql[l+32..l+35] and qh[l..l+3].
struct Quads {
  t0: u32,
  t1: u32,
  t2: u32,
  t3: u32,
}

fn quads(a: u32, b: u32, c: u32) -> Quads {
  return Quads(
    (a & 0x0f0f0f0fu) | ((c << 4u) & 0x30303030u),
    (b & 0x0f0f0f0fu) | ((c << 2u) & 0x30303030u),
    ((a >> 4u) & 0x0f0f0f0fu) | (c & 0x30303030u),
    ((b >> 4u) & 0x0f0f0f0fu) | ((c >> 2u) & 0x30303030u),
  );
}

// Walks the three byte streams of a unit word by word, each word loaded once.
struct Walk {
  a: u32,
  b: u32,
  c: u32,
}

fn walk0(h: Head) -> Walk {
  return Walk(w[h.a + h.ql], w[h.a + h.ql + 8u], w[h.a + h.qh]);
}

fn step(h: Head, v: ptr<function, Walk>, i: u32) -> Quads {
  let n = Walk(w[h.a + h.ql + i + 1u], w[h.a + h.ql + 9u + i], w[h.a + h.qh + i + 1u]);
  let q = quads(join(h, (*v).a, n.a), join(h, (*v).b, n.b), join(h, (*v).c, n.c));
  *v = n;
  return q;
}

// Value 128h + 32t + 16m + 4i + j sits at vec4 index xo + 8t + i.
fn chunk_dot(rb: u32, k: u32, xr: u32) -> f32 {
  let h = head(rb, k);
  let xb = xr + h.xo;
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  var v = walk0(h);
  for (var i = 0u; i < 4u; i++) {
    let q = step(h, &v, i);
    s0 += (bytes4(q.t0) - 32.0) * x[xb + i];
    s1 += (bytes4(q.t1) - 32.0) * x[xb + 8u + i];
    s2 += (bytes4(q.t2) - 32.0) * x[xb + 16u + i];
    s3 += (bytes4(q.t3) - 32.0) * x[xb + 24u + i];
  }
  return dot(h.s, vec4<f32>(hsum(s0), hsum(s1), hsum(s2), hsum(s3)));
}

// The same for 4 tokens (xr[t]: token t's start): each quant quad is dequantised once and
// dotted with the four tokens, one scalar accumulator per token (vec4 partials per token would
// spill on lavapipe).
fn chunk_dot4(rb: u32, k: u32, xr: vec4<u32>) -> vec4<f32> {
  let h = head(rb, k);
  let xb = xr + vec4<u32>(h.xo);
  var acc = vec4<f32>(0.0);
  var v = walk0(h);
  for (var i = 0u; i < 4u; i++) {
    let q = step(h, &v, i);
    let w0 = h.s.x * (bytes4(q.t0) - 32.0);
    let w1 = h.s.y * (bytes4(q.t1) - 32.0);
    let w2 = h.s.z * (bytes4(q.t2) - 32.0);
    let w3 = h.s.w * (bytes4(q.t3) - 32.0);
    for (var t = 0u; t < 4u; t++) {
      let o = xb[t] + i;
      acc[t] += (dot(w0, x[o]) + dot(w1, x[o + 8u])) + (dot(w2, x[o + 16u]) + dot(w3, x[o + 24u]));
    }
  }
  return acc;
}

// matmul_tile: each quant quad dequantised once into every token of the tile.
fn chunk_tile(rb: u32, k: u32) {
  let h = head(rb, k);
  let xv = h.xo;
  var v = walk0(h);
  for (var i = 0u; i < 4u; i++) {
    let q = step(h, &v, i);
    tile_fma(h.s.x * (bytes4(q.t0) - 32.0), xv + i);
    tile_fma(h.s.y * (bytes4(q.t1) - 32.0), xv + 8u + i);
    tile_fma(h.s.z * (bytes4(q.t2) - 32.0), xv + 16u + i);
    tile_fma(h.s.w * (bytes4(q.t3) - 32.0), xv + 24u + i);
  }
}

fn chunk_store(rb: u32, k: u32, o: u32) {
  let h = head(rb, k);
  let e = o + 4u * h.xo;
  var v = walk0(h);
  for (var i = 0u; i < 4u; i++) {
    let q = step(h, &v, i);
    put4(e + 4u * i, h.s.x * (bytes4(q.t0) - 32.0));
    put4(e + 32u + 4u * i, h.s.y * (bytes4(q.t1) - 32.0));
    put4(e + 64u + 4u * i, h.s.z * (bytes4(q.t2) - 32.0));
    put4(e + 96u + 4u * i, h.s.w * (bytes4(q.t3) - 32.0));
  }
}
