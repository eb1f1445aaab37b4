// Weight products over a Q2_K matrix W [rows, cols] in ggml's block layout (row-major, each row
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

// ---- Q2_K specifics -----------------------------------------------------------------------
// Super-block of 256 values, 84 bytes (21 words, always word-aligned): 16 scale bytes (low
// nibble scale, high nibble min, one per sub-block of 16), qs[64], f16 d, f16 dmin.
// Value 128n + 32j + r (half n, shift j = 0..3, r = 0..31): q = (qs[32n + r] >> 2j) & 3,
// sub-block s = 8n + 2j + (r ≥ 16); value = d·sc_s·q − dmin·m_s.
// One work unit (64 values) is (half n, m = 0..1): r in 16m..16m+15 for all four j (the Q3_K
// order), needing scale bytes 8n + 2j + m.

const CHUNK: u32 = 64u;
// matmul runs tokens one after the other (chunk_dot4 below is four chunk_dots): simple first.
const SHARED_DECODE: bool = false;

fn row_base(row: u32) -> u32 { // row start in words
  return p.w_off + row * (p.cols / 256u) * 21u;
}

struct Head {
  dl: vec4<f32>, // d·sc for j = 0..3
  ml: vec4<f32>, // dmin·m for j = 0..3
  qs: u32, // word of qs[32n + 16m]
  xo: u32, // vec4 index of value 128n + 16m within the row
}

fn head(rw: u32, k: u32) -> Head {
  let a = rw + (k >> 2u) * 21u;
  let n = (k >> 1u) & 1u;
  let m = k & 1u;
  let dm = unpack2x16float(w[a + 20u]);
  // Scale bytes 8n + m + {0, 2, 4, 6}: bytes m and m+2 of words 2n and 2n+1.
  let s01 = w[a + 2u * n];
  let s23 = w[a + 2u * n + 1u];
  let b = vec4<u32>(extractBits(s01, 8u * m, 8u), extractBits(s01, 8u * m + 16u, 8u), extractBits(s23, 8u * m, 8u), extractBits(s23, 8u * m + 16u, 8u));
  return Head(dm.x * vec4<f32>(b & vec4<u32>(0xfu)), dm.y * vec4<f32>(b >> vec4<u32>(4u)), a + 4u + 8u * n + 4u * m, (k >> 2u) * 64u + 32u * n + 4u * m);
}

fn q2(qw: u32, j: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(qw) >> (vec4<u32>(0u, 8u, 16u, 24u) + vec4<u32>(2u * j))) & vec4<u32>(3u));
}

// Σ (dl·q − ml)·x = dl·Σ q·x − ml·Σ x per sub-block. Value 128n + 32j + 16m + 4i + b sits at
// vec4 index xo + 8j + i.
fn chunk_dot(rw: u32, k: u32, xr: u32) -> f32 {
  let h = head(rw, k);
  let xb = xr + h.xo;
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  var sx = vec4<f32>(0.0); // Σ x per j
  for (var i = 0u; i < 4u; i++) {
    let qw = w[h.qs + i];
    let x0 = x[xb + i];
    let x1 = x[xb + 8u + i];
    let x2 = x[xb + 16u + i];
    let x3 = x[xb + 24u + i];
    s0 += q2(qw, 0u) * x0;
    s1 += q2(qw, 1u) * x1;
    s2 += q2(qw, 2u) * x2;
    s3 += q2(qw, 3u) * x3;
    sx += vec4<f32>(hsum(x0), hsum(x1), hsum(x2), hsum(x3));
  }
  return dot(h.dl, vec4<f32>(hsum(s0), hsum(s1), hsum(s2), hsum(s3))) - dot(h.ml, sx);
}

fn chunk_dot4(rw: u32, k: u32, xr: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(chunk_dot(rw, k, xr.x), chunk_dot(rw, k, xr.y), chunk_dot(rw, k, xr.z), chunk_dot(rw, k, xr.w));
}

// dl·q is exact in f32; the subtraction rounds once, as ggml's.
fn chunk_store(rw: u32, k: u32, o: u32) {
  let h = head(rw, k);
  let e = o + 4u * h.xo;
  for (var i = 0u; i < 4u; i++) {
    let qw = w[h.qs + i];
    put4(e + 4u * i, h.dl.x * q2(qw, 0u) - h.ml.x);
    put4(e + 32u + 4u * i, h.dl.y * q2(qw, 1u) - h.ml.y);
    put4(e + 64u + 4u * i, h.dl.z * q2(qw, 2u) - h.ml.z);
    put4(e + 96u + 4u * i, h.dl.w * q2(qw, 3u) - h.ml.w);
  }
}
