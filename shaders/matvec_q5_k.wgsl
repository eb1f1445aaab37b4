// Weight products over a Q5_K matrix W [rows, cols] in ggml's block layout (row-major, each row
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

alias WeightWord = vec4<u32>;

//#include "_matvec_blocks"

// ---- Q5_K specifics -----------------------------------------------------------------------
// Super-block of 256 values, 176 bytes (11 vec4 words, always 16-byte aligned): f16 d, f16 dmin,
// 12 bytes of 6-bit scales and mins (Q4_K's packing), qh[32], qs[128]. Chunk c (0..3) = 32 qs
// bytes: low nibbles are sub-block 2c, high nibbles sub-block 2c+1; the fifth bit of value l of
// sub-block 2c is bit 2c of qh[l], of sub-block 2c+1 bit 2c+1. Value = d·sc·q − dmin·m.
// One work unit is one chunk (64 values). The tensor must start on a 16-byte boundary.

const CHUNK: u32 = 64u;
// matmul decodes each unit once for 4 tokens, as Q4_K (decoding costs more than dotting).
const SHARED_DECODE: bool = true;

fn row_base(row: u32) -> u32 { // row start in vec4 units
  return p.w_off / 4u + row * (p.cols / 256u) * 11u;
}

struct Head {
  d1: f32, // d·sc and dmin·m of sub-block 2c
  m1: f32,
  d2: f32, // and of sub-block 2c+1
  m2: f32,
  q: u32, // vec4 index of the chunk's first 16 qs bytes
  qh: u32, // vec4 index of qh[0..15]
  c: u32,
}

// The scales and mins exactly as Q4_K's head (matvec_q4_k.wgsl) unpacks them.
fn head(rv: u32, k: u32) -> Head {
  let bv = rv + (k >> 2u) * 11u;
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
    bv + 3u + 2u * c,
    bv + 1u,
    c,
  );
}

// Bit s of each byte of a qh word, as 0 or 16.
fn hb(qh: u32, s: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(qh) >> (vec4<u32>(0u, 8u, 16u, 24u) + vec4<u32>(s))) & vec4<u32>(1u)) * 16.0;
}

// Quant word i (0..7) of the chunk: qs bytes 4i..4i+3 and qh bytes 4i..4i+3 (qh word i).
// Σ (d1·q − m1)·x = d1·Σ q·x − m1·Σ x: the min is applied once per sub-block.
fn chunk_dot(rv: u32, k: u32, xr: u32) -> f32 {
  let h = head(rv, k);
  let xb = xr + 16u * k;
  var ql = vec4<f32>(0.0);
  var qh = vec4<f32>(0.0);
  var xl = vec4<f32>(0.0);
  var xh = vec4<f32>(0.0);
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    let hv = w[h.qh + v];
    for (var j = 0u; j < 4u; j++) {
      let i = 4u * v + j;
      let a = x[xb + i];
      let b = x[xb + 8u + i];
      ql += (lo4(qv[j]) + hb(hv[j], 2u * h.c)) * a;
      qh += (hi4(qv[j]) + hb(hv[j], 2u * h.c + 1u)) * b;
      xl += a;
      xh += b;
    }
  }
  return (h.d1 * hsum(ql) - h.m1 * hsum(xl)) + (h.d2 * hsum(qh) - h.m2 * hsum(xh));
}

// The same for 4 tokens: each quant word is dequantised once (min folded in per value, as
// chunk_store does) and dotted with the four tokens.
fn chunk_dot4(rv: u32, k: u32, xr: vec4<u32>) -> vec4<f32> {
  let h = head(rv, k);
  let xb = xr + vec4<u32>(16u * k);
  var acc = vec4<f32>(0.0);
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    let hv = w[h.qh + v];
    for (var j = 0u; j < 4u; j++) {
      let i = 4u * v + j;
      let wl = h.d1 * (lo4(qv[j]) + hb(hv[j], 2u * h.c)) - h.m1;
      let wh = h.d2 * (hi4(qv[j]) + hb(hv[j], 2u * h.c + 1u)) - h.m2;
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

// d·sc·q is exact in f32; the subtraction rounds once, as ggml's.
fn chunk_store(rv: u32, k: u32, o: u32) {
  let h = head(rv, k);
  for (var v = 0u; v < 2u; v++) {
    let qv = w[h.q + v];
    let hv = w[h.qh + v];
    for (var j = 0u; j < 4u; j++) {
      let e = o + 64u * k + 16u * v + 4u * j;
      put4(e, h.d1 * (lo4(qv[j]) + hb(hv[j], 2u * h.c)) - h.m1);
      put4(e + 32u, h.d2 * (hi4(qv[j]) + hb(hv[j], 2u * h.c + 1u)) - h.m2);
    }
  }
}
