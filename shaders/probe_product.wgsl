// The decode product ceiling (issue 15): a kernel that reads a matrix's bytes as the friendliest
// read probe does (probe_ceiling.wgsl read_strided: neighbouring invocations, neighbouring 16-byte
// words) and does on them no more packed int8 products than a weight product must, with x in
// registers: so its rate bounds what any integer decode kernel of ours can reach on these bytes
// here (a real one also loads x, applies scales and stores). Per 16 bytes, K products (override):
// Q4_K needs 64 per 144-byte super-block (7.1 per 16 bytes; K = 7 with NIBBLES, the low nibbles of
// the 4 words then the high nibbles of the first 3), Q8_0 8 per 34-byte block (3.8 per 16 bytes;
// K = 3, the first 3 words as bytes). x's 8 words rotate every step so that no product can be
// hoisted out of the loop.
// Bindings: 0 the uniform P { invocations, vec4s }, 1 quads: array<vec4<u32>> (read), 2 out:
// u32[invocations] (read_write). out[i] = the wrapping i32 sum of invocation i's products, as u32.
// Overrides WG (workgroup size), K (1..8; 1..4 without NIBBLES), NIBBLES.
// Also, to measure how the shape of a kernel's code matters on lavapipe (issue 15):
//   product_rows      invocation r reads row r (quads r·vec4s .. r·vec4s + vec4s - 1, P.vec4s per
//                     row, P.invocations rows) in a loop, one 16-byte word and its K products a step
//   product_rows_out  the same reads and products, the loop body written out N_OUT steps long (the
//                     shape of the written-out group kernels, e.g. Q8_0's 17 words of 8 blocks);
//                     vec4s a multiple of N_OUT. Both give the same sums.
// Reference: shared/engine/reference/probe-ceiling.ts (productStridedRef).
requires packed_4x8_integer_dot_product;

struct P { invocations: u32, vec4s: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> quads: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

override WG: u32 = 64u;
override K: u32 = 7u;
override NIBBLES: bool = true;
override N_OUT: u32 = 17u;

const LOW: u32 = 0x0f0f0f0fu;

// Weight operand j (0..7) of a 16-byte word: word j & 3, its low nibbles (j < 4) or high nibbles;
// without NIBBLES the word itself.
fn operand(q: vec4<u32>, j: u32) -> u32 {
  let v = q[j & 3u];
  if (!NIBBLES) {
    return v;
  }
  return select(v & LOW, (v >> 4u) & LOW, j >= 4u);
}

// x's first 4 words for invocation i (the next 4 are these times 3).
fn x_seed(i: u32) -> vec4<u32> {
  return vec4<u32>(i * 0x01020304u, i ^ 0x7f7f7f7fu, i + 0x10203040u, ~i);
}

@compute @workgroup_size(WG)
fn product_strided(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let inv = gid.x + gid.y * nwg.x * WG;
  if (inv >= p.invocations) {
    return;
  }
  out[inv] = bitcast<u32>(product_walk(inv, p.invocations, p.vec4s, inv));
}

// One step of every product probe: word q's K products with x, then x rotated.
fn product_step(q: vec4<u32>, xa: ptr<function, vec4<u32>>, xb: ptr<function, vec4<u32>>) -> i32 {
  var s = dot4I8Packed(operand(q, 0u), (*xa).x);
  if (K > 1u) { s += dot4I8Packed(operand(q, 1u), (*xa).y); }
  if (K > 2u) { s += dot4I8Packed(operand(q, 2u), (*xa).z); }
  if (K > 3u) { s += dot4I8Packed(operand(q, 3u), (*xa).w); }
  if (K > 4u) { s += dot4I8Packed(operand(q, 4u), (*xb).x); }
  if (K > 5u) { s += dot4I8Packed(operand(q, 5u), (*xb).y); }
  if (K > 6u) { s += dot4I8Packed(operand(q, 6u), (*xb).z); }
  if (K > 7u) { s += dot4I8Packed(operand(q, 7u), (*xb).w); }
  *xa = (*xa).yzwx;
  *xb = (*xb).wxyz;
  return s;
}

// One invocation's walk as a loop (productWalk in the reference): words first, first + step, ..
// below end, the K products of each, x seeded from `seed`.
fn product_walk(first: u32, step: u32, end: u32, seed: u32) -> i32 {
  var xa = x_seed(seed);
  var xb = xa * 3u;
  var s = 0i;
  for (var i = first; i < end; i += step) {
    s += product_step(quads[i], &xa, &xb);
  }
  return s;
}

@compute @workgroup_size(WG)
fn product_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= p.invocations) {
    return;
  }
  out[r] = bitcast<u32>(product_walk(r * p.vec4s, 1u, (r + 1u) * p.vec4s, r));
}

@compute @workgroup_size(WG)
fn product_rows_out(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= p.invocations) {
    return;
  }
  var xa = x_seed(r);
  var xb = xa * 3u;
  var s = 0i;
  for (var i = r * p.vec4s; i < (r + 1u) * p.vec4s; i += N_OUT) {
    s += product_step(quads[i], &xa, &xb);
    if (N_OUT > 1u) { s += product_step(quads[i + 1u], &xa, &xb); }
    if (N_OUT > 2u) { s += product_step(quads[i + 2u], &xa, &xb); }
    if (N_OUT > 3u) { s += product_step(quads[i + 3u], &xa, &xb); }
    if (N_OUT > 4u) { s += product_step(quads[i + 4u], &xa, &xb); }
    if (N_OUT > 5u) { s += product_step(quads[i + 5u], &xa, &xb); }
    if (N_OUT > 6u) { s += product_step(quads[i + 6u], &xa, &xb); }
    if (N_OUT > 7u) { s += product_step(quads[i + 7u], &xa, &xb); }
    if (N_OUT > 8u) { s += product_step(quads[i + 8u], &xa, &xb); }
    if (N_OUT > 9u) { s += product_step(quads[i + 9u], &xa, &xb); }
    if (N_OUT > 10u) { s += product_step(quads[i + 10u], &xa, &xb); }
    if (N_OUT > 11u) { s += product_step(quads[i + 11u], &xa, &xb); }
    if (N_OUT > 12u) { s += product_step(quads[i + 12u], &xa, &xb); }
    if (N_OUT > 13u) { s += product_step(quads[i + 13u], &xa, &xb); }
    if (N_OUT > 14u) { s += product_step(quads[i + 14u], &xa, &xb); }
    if (N_OUT > 15u) { s += product_step(quads[i + 15u], &xa, &xb); }
    if (N_OUT > 16u) { s += product_step(quads[i + 16u], &xa, &xb); }
  }
  out[r] = bitcast<u32>(s);
}
