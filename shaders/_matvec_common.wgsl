// Include-only (leading "_": never compiled alone). What every matvec_<type>.wgsl shares, pulled
// in through _matvec_dense.wgsl or _matvec_blocks.wgsl: the bindings, the parameters, the row
// reduction and the get_rows entry point.
//
// Layout of all matvec_*.wgsl files (encoder: shared/engine/quant-matmul.ts):
//   binding 0 params (uniform), 1 weights (array<WeightWord>), 2 x (vec4<f32>), 3 y (f32),
//   4 ids (u32, get_rows). The type file declares `alias WeightWord = u32;`, or `vec4<u32>` where
//   16-byte reads pay (F32, Q4_K; the tensor must then start 16-byte aligned).
//   WG invocations per workgroup, TPR of them share one row (TPR = 1: one invocation per row,
//   fastest on lavapipe; TPR > 1 splits the row's chunks and sums them in workgroup memory).
//   Row groups run over workgroup_id x + y * num_workgroups.x; matmul token tiles over z.
// Hooks every type defines (directly or through _matvec_dense / _matvec_q32):
//   const CHUNK: u32                           values per work unit (cols is a multiple)
//   fn row_base(row: u32) -> u32               where the row starts, in the unit the hooks take
//   fn chunk_store(rb: u32, k: u32, o: u32)    writes unit k of the row at rb, dequantised, to
//                                              y[o + column] for each column it covers

struct Params {
  rows: u32, // W rows (outputs); for get_rows the row count of the table (ids are checked)
  cols: u32, // W cols (inputs), a multiple of CHUNK
  ntok: u32, // tokens (matmul) or ids (get_rows)
  w_off: u32, // tensor start in binding 1, u32 words
  x_off: u32, // x start, f32 elements (multiple of 4); for get_rows the first id
  x_stride: u32, // between tokens of X, f32 elements (multiple of 4)
  y_off: u32, // output start, f32 elements
  y_stride: u32, // between tokens / gathered rows of the output, f32 elements
}

override WG: u32 = 64u;
override TPR: u32 = 1u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<WeightWord>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> ids: array<u32>;

var<workgroup> red: array<vec4<f32>, WG>;

// Sums v over the TPR invocations of a row; the result is valid in lane 0.
fn row_sum(li: u32, lane: u32, v: vec4<f32>) -> vec4<f32> {
  if (TPR == 1u) {
    return v;
  }
  red[li] = v;
  workgroupBarrier();
  for (var s = TPR / 2u; s > 0u; s >>= 1u) {
    if (lane < s) {
      red[li] += red[li + s];
    }
    workgroupBarrier();
  }
  return red[li];
}

fn nan_f32() -> f32 {
  return bitcast<f32>(0x7fc00000u + min(p.rows, 0u));
}

// Four consecutive outputs y[e .. e+3].
fn put4(e: u32, v: vec4<f32>) {
  y[e] = v.x;
  y[e + 1u] = v.y;
  y[e + 2u] = v.z;
  y[e + 3u] = v.w;
}

// One invocation per (gathered row, chunk). An id outside the table writes NaN.
@compute @workgroup_size(WG)
fn get_rows(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = (wid.x + wid.y * nwg.x) * WG + li;
  let nch = p.cols / CHUNK;
  if (g >= p.ntok * nch) {
    return;
  }
  let i = g / nch;
  let k = g % nch;
  let id = ids[p.x_off + i];
  let o = p.y_off + i * p.y_stride;
  if (id >= p.rows) {
    for (var j = 0u; j < CHUNK; j++) {
      y[o + k * CHUNK + j] = nan_f32();
    }
    return;
  }
  chunk_store(row_base(id), k, o);
}
