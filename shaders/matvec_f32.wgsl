// Weight products over an F32 matrix W [rows, cols] stored as ggml stores it (row-major, cols
// contiguous), bound as raw words (vec4<u32>: 16-byte reads measured ~15% faster on lavapipe
// than four u32 reads, so the tensor must start 16-byte aligned):
//   matvec   y[r]            = sum_c W[r, c] * x[c]                  (decode, one token)
//   matmul   Y[t, r]         = sum_c W[r, c] * X[t, c]               (prefill, 4 tokens per invocation)
//   get_rows out[i, c]       = W[ids[i], c]                          (embedding gather)
// f32 activations and accumulation. Reference: shared/engine/reference/matmul.ts.
//
// Bindings, parameters, helpers and the entry points come from _matvec_dense.wgsl (which includes
// _matvec_common.wgsl: the layout of all matvec_*.wgsl); this file defines the weight word and
// the hooks those entry points call (CHUNK, row_base and quad).

alias WeightWord = vec4<u32>;

//#include "_matvec_dense"

// ---- F32 specifics ------------------------------------------------------------------------

const CHUNK: u32 = 4u; // elements per work unit

fn row_base(row: u32) -> u32 { // row start in words (a multiple of 4: cols % 4 == 0)
  return p.w_off + row * p.cols;
}

fn quad(rw: u32, k: u32) -> vec4<f32> {
  return bitcast<vec4<f32>>(w[(rw >> 2u) + k]);
}
