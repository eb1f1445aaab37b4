// Include-only (leading "_"). The 16-byte-read shape of the integer decode products: one
// invocation per row, the row read 8 blocks at a time as vec4<u32> (8 blocks of 34 or 18 bytes
// are 17 or 9 whole vec4s), so every block's position inside the group is a constant and its
// realignment compiles to fixed shifts. On lavapipe each invocation is a SIMD lane and every
// load from a lane's own row is a gather: a 16-byte load does the work of four 4-byte ones.
// Needs cols a multiple of 256 and the weights and xq 16-byte aligned (int-matvec.ts checks).
// The including file defines BLOCK_BYTES, idot and block_dot (see _matvec_i8.wgsl).

//#include "_matvec_i8_params"

override WG: u32 = 64u;

const GROUP_VEC4: u32 = BLOCK_BYTES / 2u; // 8 blocks = 8 · BLOCK_BYTES / 16 vec4s
const GROUP_WORDS: u32 = 4u * GROUP_VEC4;

@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

// The 16 bits at byte offset b (even) of the group.
fn half_at(g: ptr<function, array<u32, GROUP_WORDS>>, b: u32) -> u32 {
  return ((*g)[b / 4u] >> (8u * (b % 4u))) & 0xffffu;
}

// The 32 bits at byte offset b (even) of the group.
fn word_at(g: ptr<function, array<u32, GROUP_WORDS>>, b: u32) -> u32 {
  if (b % 4u == 0u) {
    return (*g)[b / 4u];
  }
  return ((*g)[b / 4u] >> 16u) | ((*g)[b / 4u + 1u] << 16u);
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = (wid.x + wid.y * nwg.x) * WG + li;
  if (row >= p.rows) {
    return;
  }
  let ng = p.cols / 256u;
  let rv = p.w_off / 4u + row * ng * GROUP_VEC4;
  let xs = p.x_off / 4u + p.cols / 16u; // the scales, as vec4s (4 blocks each)
  var acc = 0.0;
  var g: array<u32, GROUP_WORDS>;
  var q: array<u32, 9>;
  var xw: array<u32, 8>;
  for (var k = 0u; k < ng; k++) {
    for (var v = 0u; v < GROUP_VEC4; v++) {
      let t = w[rv + k * GROUP_VEC4 + v];
      g[4u * v] = t.x;
      g[4u * v + 1u] = t.y;
      g[4u * v + 2u] = t.z;
      g[4u * v + 3u] = t.w;
    }
    let dx = array<vec4<u32>, 2>(xq[xs + 2u * k], xq[xs + 2u * k + 1u]);
    for (var i = 0u; i < 8u; i++) {
      let bb = BLOCK_BYTES * i;
      for (var j = 0u; j < QWORDS; j++) {
        q[j] = word_at(&g, bb + 2u + 4u * j);
      }
      let xa = xq[p.x_off / 4u + 16u * k + 2u * i];
      let xb = xq[p.x_off / 4u + 16u * k + 2u * i + 1u];
      xw = array<u32, 8>(xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w);
      let dw = unpack2x16float(half_at(&g, bb)).x;
      acc += f32(block_dot(&q, &xw)) * (dw * bitcast<f32>(dx[i / 4u][i % 4u]));
    }
  }
  y[p.y_off + row] = acc;
}
