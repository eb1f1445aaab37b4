// Include-only (leading "_"). The subgroup shape of the integer decode products: one subgroup
// per row (TPR lanes, the subgroup size), lane j taking quant word j mod QWORDS of every block (the type's lane_dot says which
// values of it), the lanes'
// sums added with subgroupAdd instead of workgroup memory and barriers. The including file
// starts with `enable subgroups;` and defines BLOCK_BYTES, idot and
//   fn lane_dot(qw: u32, lane: u32, xw: u32) -> i32   lane's share of the block: qw its quant word,
//        xw x's quant word `lane` of the block

//#include "_matvec_i8_params"

override WG: u32 = 64u;
override TPR: u32 = 8u; // must equal the subgroup size

@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> xq: array<u32>;

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  var acc = 0.0;
  if (row < p.rows) {
    let nb = p.cols / 32u;
    let rb = p.w_off * 4u + row * nb * BLOCK_BYTES;
    for (var k = 0u; k < nb; k++) {
      let bb = rb + BLOCK_BYTES * k;
      let a = bb >> 2u;
      let al = (bb & 2u) == 0u;
      let w0 = w[a];
      let base = a + select(1u, 0u, al) + lane % QWORDS;
      let qw = (w[base] >> select(0u, 16u, al)) | ((w[base + 1u] << 16u) & select(0u, 0xffff0000u, al));
      let dw = unpack2x16float(select(w0 >> 16u, w0, al)).x;
      acc += f32(lane_dot(qw, lane, xq[p.x_off + 8u * k + lane])) * (dw * bitcast<f32>(xq[p.x_off + p.cols / 4u + k]));
    }
  }
  let s = subgroupAdd(acc);
  if (lane == 0u && row < p.rows) {
    y[p.y_off + row] = s;
  }
}
