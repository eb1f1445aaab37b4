// Include-only (leading "_"). matvec and matmul of the dense types (matvec_f32.wgsl,
// matvec_f16.wgsl): a row is read as quads of 4 values; matvec keeps the 4 partial sums apart
// until the end of the row (one horizontal add per row, not per quad) and matmul dots each quad
// with 4 tokens at once. get_rows comes from _matvec_common.wgsl.
// Hooks the type file defines (besides WeightWord):
//   const CHUNK: u32 = 4u                      one quad per work unit
//   fn row_base(row: u32) -> u32               where the row starts, in the unit quad() takes
//   fn quad(rb: u32, k: u32) -> vec4<f32>      values 4k .. 4k+3 of the row at rb
//#include "_matvec_common"

fn chunk_store(rb: u32, k: u32, o: u32) {
  put4(o + 4u * k, quad(rb, k));
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var acc = vec4<f32>(0.0);
  if (row < p.rows) {
    let rb = row_base(row);
    let xv = p.x_off / 4u;
    for (var k = lane; k < p.cols / CHUNK; k += TPR) {
      acc += quad(rb, k) * x[xv + k];
    }
  }
  let s = row_sum(li, lane, acc);
  if (lane == 0u && row < p.rows) {
    y[p.y_off + row] = (s.x + s.y) + (s.z + s.w);
  }
}

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  let t0 = wid.z * 4u;
  var acc = vec4<f32>(0.0); // one component per token of the tile
  if (row < p.rows) {
    let rb = row_base(row);
    // Tokens past the end read the last token and are not stored.
    let last = p.ntok - 1u;
    let xs = p.x_stride / 4u;
    let x0 = p.x_off / 4u + min(t0, last) * xs;
    let x1 = p.x_off / 4u + min(t0 + 1u, last) * xs;
    let x2 = p.x_off / 4u + min(t0 + 2u, last) * xs;
    let x3 = p.x_off / 4u + min(t0 + 3u, last) * xs;
    for (var k = lane; k < p.cols / CHUNK; k += TPR) {
      let q = quad(rb, k);
      acc += vec4<f32>(dot(q, x[x0 + k]), dot(q, x[x1 + k]), dot(q, x[x2 + k]), dot(q, x[x3 + k]));
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
}
