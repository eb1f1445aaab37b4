// Include-only (leading "_"). Byte helpers, matvec and matmul of the block-quantised types
// (matvec_q8_0, _q4_0, _q4_k, _q6_k): a work unit is CHUNK values of a row (a block or part of
// one), decoded and dotted with x in one hook call; matmul takes tiles of 4 tokens, decoding each
// unit once for all four (SHARED_DECODE) or running them one after the other. get_rows comes
// from _matvec_common.wgsl.
// Hooks the type file defines (besides WeightWord, CHUNK, row_base and chunk_store):
//   fn chunk_dot(rb: u32, k: u32, xr: u32) -> f32   Σ over unit k of the row at rb of W·x, with
//                                                   x from vec4 index xr (the token's start)
//   fn chunk_dot4(rb: u32, k: u32, xr: vec4<u32>) -> vec4<f32>
//                                                   the same for 4 tokens at once (component t:
//                                                   token t, from xr[t]), the unit decoded once
//   const SHARED_DECODE: bool                       whether matmul uses chunk_dot4 (decode once
//                                                   per 4 tokens) or chunk_dot token by token
//#include "_matvec_common"

fn hsum(v: vec4<f32>) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

// Four bytes of a word as numbers 0..255 / nibbles 0..15 (little-endian: byte 0 first).
fn bytes4(q: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu));
}

fn lo4(q: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xfu));
}

fn hi4(q: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(q) >> vec4<u32>(4u, 12u, 20u, 28u)) & vec4<u32>(0xfu));
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var acc = 0.0;
  if (row < p.rows) {
    let rb = row_base(row);
    let xr = p.x_off / 4u;
    for (var k = lane; k < p.cols / CHUNK; k += TPR) {
      acc += chunk_dot(rb, k, xr);
    }
  }
  let s = row_sum(li, lane, vec4<f32>(acc, 0.0, 0.0, 0.0));
  if (lane == 0u && row < p.rows) {
    y[p.y_off + row] = s.x;
  }
}

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  let t0 = wid.z * 4u;
  if (SHARED_DECODE) {
    // A tile of 4 tokens: each unit of the row is decoded once and dotted with all four (for
    // the K-quants the decode is most of the work per weight). Tokens past the end read the
    // last token and are not stored.
    var acc = vec4<f32>(0.0); // one component per token of the tile
    if (row < p.rows) {
      let rb = row_base(row);
      let last = p.ntok - 1u;
      let xs = p.x_stride / 4u;
      let x0 = p.x_off / 4u;
      let xr = vec4<u32>(x0 + min(t0, last) * xs, x0 + min(t0 + 1u, last) * xs, x0 + min(t0 + 2u, last) * xs, x0 + min(t0 + 3u, last) * xs);
      for (var k = lane; k < p.cols / CHUNK; k += TPR) {
        acc += chunk_dot4(rb, k, xr);
      }
    }
    let s = row_sum(li, lane, acc);
    if (lane == 0u && row < p.rows) {
      for (var j = 0u; j < 4u; j++) {
        if (t0 + j < p.ntok) {
          y[p.y_off + (t0 + j) * p.y_stride + row] = s[j];
        }
      }
    }
  } else {
    // Up to 4 tokens one after the other over the same row: the row's blocks stay in cache
    // between tokens, and one token's x at a time stays in L1 (cheap-to-decode Q8_0/Q4_0 ran
    // slower with 4 tokens' x interleaved on lavapipe). The token loop has a run-time bound, so
    // there is one copy of chunk_dot.
    let nt = min(4u, p.ntok - t0);
    let rb = row_base(min(row, p.rows - 1u));
    for (var j = 0u; j < nt; j++) {
      let xr = p.x_off / 4u + (t0 + j) * (p.x_stride / 4u);
      var acc = 0.0;
      if (row < p.rows) {
        for (var k = lane; k < p.cols / CHUNK; k += TPR) {
          acc += chunk_dot(rb, k, xr);
        }
      }
      let s = row_sum(li, lane, vec4<f32>(acc, 0.0, 0.0, 0.0));
      if (lane == 0u && row < p.rows) {
        y[p.y_off + (t0 + j) * p.y_stride + row] = s.x;
      }
    }
  }
}
