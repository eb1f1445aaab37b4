// Include-only (leading "_"). The subgroup shape of Q8_0's integer decode product: one subgroup
// of TPR = 8 lanes per NR rows (override NR: 1, 2 or 4), the row read 8 blocks at a time: 8
// blocks of 34 bytes are 272 bytes, 17 whole vec4s, so with cols a multiple of 256 every group
// starts on 16 bytes and each block's place in it is fixed. Lane j takes block j of each group:
// bytes 34j..34j+33 lie at bytes 2j..2j+33 of the group's vec4s 2j, 2j+1, 2j+2 (the lane's
// 48-byte window), so the 8 lanes read 3 vec4s each from one 272-byte span, beside each other
// (the Q4_K subgroup shape's lesson: on lavapipe, where a subgroup is one SIMD register and every
// lane-dependent load a gather, neighbouring 16-byte loads are what reach the read ceiling).
// The block starts 2j bytes into the window, a different alignment per lane; instead of
// realigning the weights for every row, x's block j is realigned once per group (shared by the
// NR rows) to sit under the window's weight bytes, zeros under the scale and the neighbours'
// bytes, and the 12 words are dotted as they are (3 products of 12 meet zeros: cheaper than the
// per-row shifts and selects). The lane's scale is the 16 bits at byte 2j of the window. Each
// lane adds its block's Σ·dw·dx; subgroupAdd gives the row. The rows come through
// subgroupBroadcastFirst so that the compiler knows their addresses subgroup-uniform.
// Override READ picks how the window's third vec4 (the next lane's first) is read: 0 a third
// gather, 1 the next lane's by subgroupShuffleDown and lane 7's (vec4 16) by one uniform load.
// Needs subgroups of exactly TPR lanes (int-matvec.ts offers it only there), cols a multiple of
// 256, the weights and x_off 16-byte aligned (int-matvec.ts checks). Reference:
// shared/engine/reference/int-matvec.ts (intMatvecRef). The including file defines idot
// (_idot_dot4: dot4I8Packed; _idot_int: plain i32).

//#include "_matvec_i8_params"

override WG: u32 = 64u;
override NR: u32 = 1u;
override READ: u32 = 0u;
const TPR: u32 = 8u;
const GROUP_VEC4: u32 = 17u; // 8 blocks of 34 bytes

@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> xq: array<vec4<u32>>;

// Words 4 − s .. 7 − s of the 8 words [a, b] (s = 0..4): b moved up by s words, a's last s words below.
fn win(a: vec4<u32>, b: vec4<u32>, s: u32) -> vec4<u32> {
  let s1 = vec4<u32>(a.w, b.x, b.y, b.z);
  let s2 = vec4<u32>(a.z, a.w, b.x, b.y);
  let s3 = vec4<u32>(a.y, a.z, a.w, b.x);
  return select(select(select(b, s1, s == 1u), s2, s == 2u), select(s3, a, s == 4u), s >= 3u);
}

// x's block (quant words x0, x1) shifted up by 2·lane + 2 bytes into 12 words: byte o holds
// quant o − 2·lane − 2, zero outside 0..31. First the half-word (lane even: the shift is 2 mod 4),
// then whole words.
fn realign_x(x0: vec4<u32>, x1: vec4<u32>, lane: u32) -> array<vec4<u32>, 3> {
  let z = vec4<u32>(0u);
  let even = (lane & 1u) == 0u;
  let p0 = vec4<u32>(0u, x0.x, x0.y, x0.z);
  let p1 = vec4<u32>(x0.w, x1.x, x1.y, x1.z);
  let h0 = select(x0, (x0 << vec4<u32>(16u)) | (p0 >> vec4<u32>(16u)), even);
  let h1 = select(x1, (x1 << vec4<u32>(16u)) | (p1 >> vec4<u32>(16u)), even);
  let h2 = vec4<u32>(select(0u, x1.w >> 16u, even), 0u, 0u, 0u);
  let s = (lane + 1u) >> 1u;
  return array<vec4<u32>, 3>(win(z, h0, s), win(h0, h1, s), win(h1, h2, s));
}

fn idot4(a: vec4<u32>, b: vec4<u32>) -> i32 {
  return idot(a.x, b.x) + idot(a.y, b.y) + idot(a.z, b.z) + idot(a.w, b.w);
}

// One row's share for this lane: its window at vec4 `v` (the lane's first), against x realigned.
fn row_term(v: u32, lane: u32, xr: array<vec4<u32>, 3>, dx: f32, tail: u32) -> f32 {
  let a0 = w[v];
  let a1 = w[v + 1u];
  var a2: vec4<u32>;
  if (READ == 0u) {
    a2 = w[v + 2u];
  } else {
    // The next lane's first vec4; lane 7's is the group's last, at a subgroup-uniform address.
    a2 = select(subgroupShuffleDown(a0, 1u), w[tail], lane == TPR - 1u);
  }
  let s = idot4(a0, xr[0]) + idot4(a1, xr[1]) + idot4(a2, xr[2]);
  let dw = unpack2x16float(a0[lane >> 1u] >> (16u * (lane & 1u))).x;
  return f32(s) * (dw * dx);
}

@compute @workgroup_size(WG)
fn matvec(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  // The subgroup's first row: the same for its 8 lanes, and known to be by the compiler.
  let row0 = subgroupBroadcastFirst(((wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR) * NR);
  let ng = p.cols / 256u;
  let xs = p.x_off + p.cols / 4u;
  // The subgroup's rows (first vec4 of each); past the matrix's last row, the last row again (computed, not stored).
  var rv: array<u32, 4>;
  for (var r = 0u; r < NR; r++) {
    rv[r] = p.w_off / 4u + min(row0 + r, p.rows - 1u) * ng * GROUP_VEC4;
  }
  var acc = array<f32, 4>(0.0, 0.0, 0.0, 0.0);
  for (var k = 0u; k < ng; k++) {
    // x block 8k + lane: its quants (2 vec4s) and scale, shared by the rows.
    let xb = (p.x_off + 64u * k + 8u * lane) / 4u;
    let xr = realign_x(xq[xb], xq[xb + 1u], lane);
    let dx = bitcast<f32>(xq[(xs + 8u * k) / 4u + (lane >> 2u)][lane & 3u]);
    let kv = GROUP_VEC4 * k;
    let lv = kv + 2u * lane;
    acc[0] += row_term(rv[0] + lv, lane, xr, dx, rv[0] + kv + 16u);
    if (NR > 1u) {
      acc[1] += row_term(rv[1] + lv, lane, xr, dx, rv[1] + kv + 16u);
    }
    if (NR > 2u) {
      acc[2] += row_term(rv[2] + lv, lane, xr, dx, rv[2] + kv + 16u);
      acc[3] += row_term(rv[3] + lv, lane, xr, dx, rv[3] + kv + 16u);
    }
  }
  for (var r = 0u; r < NR; r++) {
    let s = subgroupAdd(acc[r]);
    if (lane == 0u && row0 + r < p.rows) {
      y[p.y_off + row0 + r] = s;
    }
  }
}
