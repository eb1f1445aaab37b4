// Weight products over a Q4_K matrix W [rows, cols] in ggml's block layout (row-major, each row
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

alias WeightWord = vec4<u32>;

//#include "_matvec_blocks"
//#include "_matmul_tile"

// ---- Q4_K specifics -----------------------------------------------------------------------
// Super-block of 256 values, 144 bytes (36 words, always word-aligned): f16 d, f16 dmin,
// 12 bytes of 6-bit scales and mins (ggml's get_scale_min_k4 packing), 128 bytes of nibbles.
// Chunk c (0..3) = 32 quant bytes: low nibbles are sub-block 2c, high nibbles sub-block 2c+1.
// Value = d·sc·q − dmin·m. One work unit is one chunk (64 values). The tensor must start on a
// 16-byte boundary (w_off a multiple of 4).

const CHUNK: u32 = 64u;
// matmul decodes each unit once for 4 tokens: decoding a Q4_K unit costs more than dotting it (measured, specs/benchmarks.md).
const SHARED_DECODE: bool = true;

// Blocks are 9 vec4 words (144 bytes) and tensors start 16-byte aligned, so the kernel reads
// vec4<u32>: the block header in one load, a chunk's 32 quant bytes in two.
fn row_base(row: u32) -> u32 { // row start in vec4 units
  return p.w_off / 4u + row * (p.cols / 256u) * 9u;
}

struct Head {
  d1: f32, // d·sc and dmin·m of sub-block 2c
  m1: f32,
  d2: f32, // and of sub-block 2c+1
  m2: f32,
  q: u32, // vec4 index of the chunk's first 16 quant bytes
}

// The eight 6-bit scales as two byte-packed words (j = 0..3 and j = 4..7), same for mins:
//   j < 4:  sc = s0.byte(j) & 63,                       m = s1.byte(j) & 63
//   j >= 4: sc = s2.byte(j-4) & 15 | (s0.byte(j-4) >> 6) << 4,
//           m  = s2.byte(j-4) >> 4 | (s1.byte(j-4) >> 6) << 4
fn head(rv: u32, k: u32) -> Head {
  let bv = rv + (k >> 2u) * 9u;
  let c = k & 3u;
  let hw = w[bv]; // d|dmin, s0, s1, s2
  let dm = unpack2x16float(hw.x);
  let upper = c >= 2u;
  let sc = select(hw.y & 0x3f3f3f3fu, (hw.w & 0x0f0f0f0fu) | ((hw.y >> 2u) & 0x30303030u), upper);
  let mn = select(hw.z & 0x3f3f3f3fu, ((hw.w >> 4u) & 0x0f0f0f0fu) | ((hw.z >> 2u) & 0x30303030u), upper);
  let sh = (c & 1u) * 16u;
  return Head(
    dm.x * f32((sc >> sh) & 0xffu),
    dm.y * f32((mn >> sh) & 0xffu),
    dm.x * f32((sc >> (sh + 8u)) & 0xffu),
    dm.y * f32((mn >> (sh + 8u)) & 0xffu),
    bv + 1u + 2u * c,
  );
}

// Σ (d1·q − m1)·x = d1·Σ q·x − m1·Σ x: the min is applied once per sub-block.
// Quant word i (0..7) of the chunk: low nibbles are values 4i..4i+3 of sub-block 2c, high
// nibbles the same of sub-block 2c+1 (32 values on).
fn chunk_dot(rv: u32, k: u32, xr: u32) -> f32 {
  let h = head(rv, k);
  let xb = xr + 16u * k;
  var ql = vec4<f32>(0.0);
  var qh = vec4<f32>(0.0);
  var xl = vec4<f32>(0.0);
  var xh = vec4<f32>(0.0);
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    for (var j = 0u; j < 4u; j++) {
      let q = qv[j];
      let i = 4u * v + j;
      let a = x[xb + i];
      let b = x[xb + 8u + i];
      ql += lo4(q) * a;
      qh += hi4(q) * b;
      xl += a;
      xh += b;
    }
  }
  return (h.d1 * hsum(ql) - h.m1 * hsum(xl)) + (h.d2 * hsum(qh) - h.m2 * hsum(xh));
}

// The same for 4 tokens (xr[t]: token t's start): each quant word is dequantised once (the
// min folded in per value, as chunk_store does) and dotted with the four tokens, one scalar
// accumulator per token (vec4 partials per token would spill on lavapipe).
fn chunk_dot4(rv: u32, k: u32, xr: vec4<u32>) -> vec4<f32> {
  let h = head(rv, k);
  let xb = xr + vec4<u32>(16u * k);
  var acc = vec4<f32>(0.0);
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    for (var j = 0u; j < 4u; j++) {
      let q = qv[j];
      let i = 4u * v + j;
      let wl = h.d1 * lo4(q) - h.m1;
      let wh = h.d2 * hi4(q) - h.m2;
      acc += vec4<f32>(
        dot(wl, x[xb.x + i]) + dot(wh, x[xb.x + 8u + i]),
        dot(wl, x[xb.y + i]) + dot(wh, x[xb.y + 8u + i]),
        dot(wl, x[xb.z + i]) + dot(wh, x[xb.z + 8u + i]),
        dot(wl, x[xb.w + i]) + dot(wh, x[xb.w + 8u + i]),
      );
    }
  }
  return acc;
}

// matmul_tile: the unit's quant words dequantised once (min folded in per value) into every
// token of the tile; low nibbles then high, so that only one group of 4 values is live.
fn chunk_tile(rv: u32, k: u32) {
  let h = head(rv, k);
  let xv = 16u * k;
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    for (var j = 0u; j < 4u; j++) {
      let q = qv[j];
      let i = 4u * v + j;
      tile_fma(h.d1 * lo4(q) - h.m1, xv + i);
      tile_fma(h.d2 * hi4(q) - h.m2, xv + 8u + i);
    }
  }
}

fn chunk_store(rv: u32, k: u32, o: u32) {
  let h = head(rv, k);
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    for (var j = 0u; j < 4u; j++) {
      let q = qv[j];
      let l = h.d1 * lo4(q) - h.m1;
      let u = h.d2 * hi4(q) - h.m2;
      let e = o + 64u * k + 16u * v + 4u * j;
      put4(e, l);
      put4(e + 32u, u);
    }
  }
}
