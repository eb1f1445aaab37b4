// Weight products over a IQ4_NL matrix W [rows, cols] in ggml's block layout (row-major, each row
// a run of blocks, cols contiguous), bound as raw u32 words and dequantised in the kernel:
//   matvec   y[r]      = sum_c W[r, c] * x[c]      (decode, one token)
//   matmul   Y[t, r]   = sum_c W[r, c] * X[t, c]   (prefill, up to 4 tokens per invocation)
//   get_rows out[i, c] = W[ids[i], c]              (embedding gather, dequantised)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts, with the
// weights decoded by shared/quant.
//
// Bindings, parameters, helpers, the block walk and the entry points come from
// _matvec_q32.wgsl (→ _matvec_blocks.wgsl → _matvec_common.wgsl: the layout of all
// matvec_*.wgsl); this file defines the block size and how a quant word is decoded.

alias WeightWord = u32;

//#include "_matvec_q32"
//#include "_iq4_grid"

// ---- IQ4_NL specifics ---------------------------------------------------------------------
// Block of 32 values, 18 bytes: f16 d, 16 bytes of 4-bit codes packed as Q4_0's (byte j: element
// j low nibble, element j+16 high nibble). Value = d · KVALUES[code].

const BLOCK_BYTES: u32 = 18u;

fn qword_dot(q: u32, xb: u32, i: u32) -> vec4<f32> {
  return kv_lo(q) * x[xb + i] + kv_hi(q) * x[xb + 4u + i];
}

fn qword_store(q: u32, d: f32, e: u32) {
  put4(e, d * kv_lo(q));
  put4(e + 16u, d * kv_hi(q));
}
