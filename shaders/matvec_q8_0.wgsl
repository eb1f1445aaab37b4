// Weight products over a Q8_0 matrix W [rows, cols] in ggml's block layout (row-major, each row
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

// ---- Q8_0 specifics -----------------------------------------------------------------------
// Block of 32 values, 34 bytes: f16 d, 32 × int8. Value = d · q. Quant word i holds values
// 4i .. 4i+3.

const BLOCK_BYTES: u32 = 34u;

fn i8x4(q: u32) -> vec4<f32> {
  return vec4<f32>((vec4<i32>(bitcast<i32>(q)) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

fn qword_dot(q: u32, xb: u32, i: u32) -> vec4<f32> {
  return i8x4(q) * x[xb + i];
}

fn qword_store(q: u32, d: f32, e: u32) {
  put4(e, d * i8x4(q));
}

fn qword_tile(q: u32, d: f32, xv: u32, i: u32) {
  tile_fma(d * i8x4(q), xv + i);
}
