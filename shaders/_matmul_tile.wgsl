// Include-only (leading "_"). The tiled prefill product `matmul_tile` (issue 15 §2) of the types
// whose file includes it after _matvec_blocks.wgsl (Q8_0, Q4_0, Q4_K, Q6_K):
//   Y[t, r] = Σ_c W[r, c] · X[t, c]
// as a matrix-matrix product. A workgroup computes a tile of WG rows × TT tokens, one invocation
// per row (TPR ignored): each invocation decodes each unit of its row once and multiplies every
// decoded group of 4 values into all TT tokens' accumulators. Two entry points, differing in where
// the tokens' x comes from:
//   matmul_tile_wg  K is walked in chunks of KC values; per chunk the workgroup first loads the TT
//                   tokens' x into workgroup memory together (each x value read from storage
//                   once per tile, not once per row), then every row reads it there (the GPU shape).
//   matmul_tile     every invocation reads x from storage at the same (uniform) index: tried
//                   for lavapipe, where gallivm loads a uniform storage index once and broadcasts
//                   it, but takes its uniform fast path for workgroup memory only outside control
//                   flow. Measured there (specs/benchmarks.md) the _wg shape was as fast or faster
//                   all the same; which wins is the adapter's, so the tuner times both.
// Tokens past the end (zeros in _wg, the last token's x otherwise) are not stored; rows past the end compute the last
// row and are not stored (every invocation must reach the barriers). Host side: planMatmul's
// 'matmul_tile' (shared/engine/quant-matmul.ts); reference: shared/engine/reference/matmul.ts.
// Hook the type file defines:
//   fn chunk_tile(rb: u32, k: u32)   unit k of the row at rb, decoded once, into every token's
//                                    accumulator: tile_fma(w4, xr) per group of 4 values, xr the
//                                    group's vec4 index in the row

const TT: u32 = 8u; // tokens per tile (the host's MATMUL_TILE_TOKENS)
const KC: u32 = 256u; // values of K per chunk held in workgroup memory (a multiple of CHUNK)
const KCV: u32 = KC / 4u;

var<workgroup> xs: array<vec4<f32>, TT * KCV>; // token t's values of the chunk at [t·KCV ..)
// One scalar accumulator per token, tokens 0..3 in ta and 4..7 in tb, written out rather than as
// an array indexed in a loop (vec4 partials per token spill on lavapipe).
var<private> ta: vec4<f32>;
var<private> tb: vec4<f32>;
var<private> tile_wg: bool; // x from workgroup memory (matmul_tile_wg) or storage (matmul_tile)
var<private> tile_xc: u32; // _wg: the current chunk's first vec4 index in the row
var<private> xa: vec4<u32>; // storage: vec4 index of tokens 0..3's rows in x
var<private> xb: vec4<u32>; // and of tokens 4..7

// acc[t] += w4 · x[t] over the 4 values at vec4 index xr of the row, for every token of the tile.
fn tile_fma(w4: vec4<f32>, xr: u32) {
  if (tile_wg) {
    let v = xr - tile_xc;
    ta += vec4<f32>(dot(w4, xs[v]), dot(w4, xs[KCV + v]), dot(w4, xs[2u * KCV + v]), dot(w4, xs[3u * KCV + v]));
    tb += vec4<f32>(dot(w4, xs[4u * KCV + v]), dot(w4, xs[5u * KCV + v]), dot(w4, xs[6u * KCV + v]), dot(w4, xs[7u * KCV + v]));
  } else {
    ta += vec4<f32>(dot(w4, x[xa.x + xr]), dot(w4, x[xa.y + xr]), dot(w4, x[xa.z + xr]), dot(w4, x[xa.w + xr]));
    tb += vec4<f32>(dot(w4, x[xb.x + xr]), dot(w4, x[xb.y + xr]), dot(w4, x[xb.z + xr]), dot(w4, x[xb.w + xr]));
  }
}

@compute @workgroup_size(WG)
fn matmul_tile(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  tile(li, wid, nwg, false);
}

@compute @workgroup_size(WG)
fn matmul_tile_wg(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  tile(li, wid, nwg, true);
}

fn tile(li: u32, wid: vec3<u32>, nwg: vec3<u32>, shared_x: bool) {
  tile_wg = shared_x;
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  let t0 = wid.z * TT;
  let nt = min(TT, p.ntok - t0);
  let rb = row_base(min(row, p.rows - 1u));
  ta = vec4<f32>(0.0);
  tb = vec4<f32>(0.0);
  let nunits = p.cols / CHUNK;
  let xs4 = p.x_stride / 4u;
  let x0 = p.x_off / 4u + t0 * xs4;
  let last = nt - 1u;
  xa = vec4<u32>(x0) + min(vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last)) * xs4;
  xb = vec4<u32>(x0) + min(vec4<u32>(4u, 5u, 6u, 7u), vec4<u32>(last)) * xs4;
  if (shared_x) {
    for (var c0 = 0u; c0 < p.cols; c0 += KC) {
      let cv = min(KC, p.cols - c0) / 4u; // vec4s of x in this chunk
      tile_xc = c0 / 4u;
      for (var e = li; e < TT * KCV; e += WG) {
        let t = e / KCV;
        let i = e % KCV;
        var v = vec4<f32>(0.0);
        if (t < nt && i < cv) {
          v = x[x0 + t * xs4 + tile_xc + i];
        }
        xs[e] = v;
      }
      workgroupBarrier();
      let k1 = min(nunits, (c0 + KC) / CHUNK);
      for (var k = c0 / CHUNK; k < k1; k++) {
        chunk_tile(rb, k);
      }
      workgroupBarrier();
    }
  } else {
    for (var k = 0u; k < nunits; k++) {
      chunk_tile(rb, k);
    }
  }
  if (row < p.rows) {
    for (var t = 0u; t < nt; t++) {
      y[p.y_off + (t0 + t) * p.y_stride + row] = select(tb[t & 3u], ta[t & 3u], t < 4u);
    }
  }
}
