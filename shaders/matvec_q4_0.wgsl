// Weight products over a Q4_0 matrix W [rows, cols] in ggml's block layout (row-major, each row
// a run of blocks, cols contiguous), bound as raw u32 words and dequantised in the kernel:
//   matvec   y[r]      = sum_c W[r, c] * x[c]      (decode, one token)
//   matmul   Y[t, r]   = sum_c W[r, c] * X[t, c]   (prefill, up to 4 tokens per invocation)
//   matmul_tile          the same as a tiled matrix product (_matmul_tile.wgsl)
//   get_rows out[i, c] = W[ids[i], c]              (embedding gather, dequantised)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts, with the
// weights decoded by shared/quant.
//
// Bindings, parameters, helpers, the block walk and the entry points come from
// _matvec_q32.wgsl (→ _matvec_blocks.wgsl → _matvec_common.wgsl: the layout of all
// matvec_*.wgsl); this file defines the block size and how a quant word is decoded.

alias WeightWord = u32;

//#include "_matvec_q32"
//#include "_matmul_tile_q32"

// ---- Q4_0 specifics -----------------------------------------------------------------------
// Block of 32 values, 18 bytes: f16 d, 16 bytes; byte j holds element j (low nibble) and
// element j+16 (high nibble). Value = d · (nibble − 8). Quant word i (0..3): low nibbles are
// elements 4i..4i+3, high nibbles 16+4i..16+4i+3.

const BLOCK_BYTES: u32 = 18u;

fn qword_dot(q: u32, xb: u32, i: u32) -> vec4<f32> {
  return (lo4(q) - 8.0) * x[xb + i] + (hi4(q) - 8.0) * x[xb + 4u + i];
}

fn qword_store(q: u32, d: f32, e: u32) {
  put4(e, (lo4(q) - 8.0) * d);
  put4(e + 16u, (hi4(q) - 8.0) * d);
}

fn qword_tile(q: u32, d: f32, xv: u32, i: u32) {
  tile_fma((lo4(q) - 8.0) * d, xv + i);
  tile_fma((hi4(q) - 8.0) * d, xv + 4u + i);
}
