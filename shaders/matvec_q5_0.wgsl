// Weight products over a Q5_0 matrix W [rows, cols] in ggml's block layout (row-major, each row
// a run of blocks, cols contiguous), bound as raw u32 words and dequantised in the kernel:
//   matvec   y[r]      = sum_c W[r, c] * x[c]      (decode, one token)
//   matmul   Y[t, r]   = sum_c W[r, c] * X[t, c]   (prefill, up to 4 tokens per invocation)
//   get_rows out[i, c] = W[ids[i], c]              (embedding gather, dequantised)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts, with the
// weights decoded by shared/quant.
//
// Bindings, parameters, helpers, the block walk and the entry points come from
// _matvec_q32m.wgsl (→ _matvec_blocks.wgsl → _matvec_common.wgsl: the layout of all
// matvec_*.wgsl); this file only says which fields the block has.

alias WeightWord = u32;

//#include "_matvec_q32m"

// ---- Q5_0 specifics -----------------------------------------------------------------------
// Block of 32 values, 22 bytes: f16 d, u32 qh, 16 bytes of nibbles. Value = d · (q − 16), q = nibble | qh bit << 4.

const BLOCK_BYTES: u32 = 22u;
const HAS_MIN: bool = false;
const HAS_QH: bool = true;
const OFFSET: f32 = 16.0;
