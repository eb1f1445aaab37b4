// Weight products over a IQ4_XS matrix W [rows, cols] in ggml's block layout (row-major, each row
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
//#include "_iq4_grid"

// ---- IQ4_XS specifics ---------------------------------------------------------------------
// Super-block of 256 values, 136 bytes (34 words, always word-aligned): f16 d, u16 scales_h
// (bits 2j..2j+1: high bits of sub-block j's scale), 4 bytes scales_l (nibble j: low bits),
// then 8 sub-blocks of 16 bytes of 4-bit codes in the IQ4_NL packing. Sub-block j:
// dl = d·(ls − 32), value = dl · KVALUES[code]. One work unit is one sub-block (32 values).

const CHUNK: u32 = 32u;
// matmul runs tokens one after the other (chunk_dot4 below is four chunk_dots): simple first;
// sharing the decode is the lever for prefill speed, as in Q4_K/Q6_K.
const SHARED_DECODE: bool = false;

fn row_base(row: u32) -> u32 { // row start in words
  return p.w_off + row * (p.cols / 256u) * 34u;
}

struct Head {
  dl: f32,
  q: u32, // word of the sub-block's first code byte
}

fn head(rw: u32, k: u32) -> Head {
  let a = rw + (k >> 3u) * 34u;
  let j = k & 7u;
  let hw = w[a]; // d | scales_h
  let ls = ((w[a + 1u] >> (4u * j)) & 0xfu) | (((hw >> (16u + 2u * j)) & 3u) << 4u);
  // d·(ls − 32) is exact in f32 (11-bit d, 6-bit factor), as ggml computes it.
  return Head(unpack2x16float(hw).x * f32(i32(ls) - 32), a + 2u + 4u * j);
}

fn chunk_dot(rw: u32, k: u32, xr: u32) -> f32 {
  let h = head(rw, k);
  let xb = xr + 8u * k;
  var s = vec4<f32>(0.0);
  for (var i = 0u; i < 4u; i++) {
    let q = w[h.q + i];
    s += kv_lo(q) * x[xb + i] + kv_hi(q) * x[xb + 4u + i];
  }
  return h.dl * hsum(s);
}

fn chunk_dot4(rw: u32, k: u32, xr: vec4<u32>) -> vec4<f32> {
  return vec4<f32>(chunk_dot(rw, k, xr.x), chunk_dot(rw, k, xr.y), chunk_dot(rw, k, xr.z), chunk_dot(rw, k, xr.w));
}

fn chunk_store(rw: u32, k: u32, o: u32) {
  let h = head(rw, k);
  for (var i = 0u; i < 4u; i++) {
    let q = w[h.q + i];
    let e = o + 32u * k + 4u * i;
    put4(e, h.dl * kv_lo(q));
    put4(e + 16u, h.dl * kv_hi(q));
  }
}
