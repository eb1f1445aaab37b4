// Weight products over a BF16 matrix W [rows, cols] stored as ggml stores it (row-major, cols
// contiguous, bfloat16 little-endian, two per u32 word), bound as raw u32 words:
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

// ---- BF16 specifics -----------------------------------------------------------------------

const CHUNK: u32 = 4u; // elements per work unit: two words

// cols is a multiple of 4, so every row starts on a word.
fn row_base(row: u32) -> u32 {
  return p.w_off + row * (p.cols / 2u);
}

// A bf16 is the top half of an f32: widening is a shift (no f16 feature needed). The low half
// of a word is the element with the lower index.
fn bf2(v: u32) -> vec2<f32> {
  return vec2<f32>(bitcast<f32>(v << 16u), bitcast<f32>(v & 0xffff0000u));
}

fn quad(rw: u32, k: u32) -> vec4<f32> {
  let i = rw + 2u * k;
  return vec4<f32>(bf2(w[i]), bf2(w[i + 1u]));
}
