// Weight products over an F16 matrix W [rows, cols] stored as ggml stores it (row-major, cols
// contiguous, IEEE binary16 little-endian, two per u32 word), bound as raw u32 words:
//   matvec   y[r]            = sum_c W[r, c] * x[c]                  (decode, one token)
//   matmul   Y[t, r]         = sum_c W[r, c] * X[t, c]               (prefill, 4 tokens per invocation)
//   get_rows out[i, c]       = W[ids[i], c]                          (embedding gather)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts.
//
// Bindings, parameters, helpers and the entry points come from _matvec_dense.wgsl (which includes
// _matvec_common.wgsl: the layout of all matvec_*.wgsl); this file defines the weight word and
// the hooks those entry points call (CHUNK, row_base and quad).

alias WeightWord = u32;

//#include "_matvec_dense"

// ---- F16 specifics ------------------------------------------------------------------------

const CHUNK: u32 = 4u; // elements per work unit: two words

// cols is a multiple of 4, so every row starts on a word.
fn row_base(row: u32) -> u32 {
  return p.w_off + row * (p.cols / 2u);
}

// unpack2x16float: .x is the low half, the element with the lower index.
fn quad(rw: u32, k: u32) -> vec4<f32> {
  let i = rw + 2u * k;
  return vec4<f32>(unpack2x16float(w[i]), unpack2x16float(w[i + 1u]));
}
