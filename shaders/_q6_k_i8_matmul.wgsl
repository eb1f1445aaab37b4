// Include-only (leading "_"). The prefill entry point of Q6_K's 4-byte super-block shape
// (matvec_q6_k_i8 / _i8x, after _matvec_i8_k.wgsl): one row per invocation × TT_Q6 tokens through
// superblock_dot_tokens (_q6_k_i8.wgsl), token t's x from word x_off + t · x_stride.

@compute @workgroup_size(WG)
fn matmul(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  if (row >= p.rows) {
    return;
  }
  let t0 = wid.z * TT_Q6;
  let last = min(TT_Q6, p.ntok - t0) - 1u;
  let xo = vec4<u32>(p.x_off) + (vec4<u32>(t0) + min(vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(last))) * p.x_stride;
  let ns = p.cols / 256u;
  let rb = p.w_off * 4u + row * ns * BLOCK_BYTES;
  var acc = vec4<f32>(0.0);
  for (var k = 0u; k < ns; k++) {
    acc += superblock_dot_tokens(rb + BLOCK_BYTES * k, 8u * k, xo);
  }
  for (var t = 0u; t <= last; t++) {
    y[p.y_off + (t0 + t) * p.y_stride + row] = acc[t];
  }
}
