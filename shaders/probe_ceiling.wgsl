// Adapter ceilings (issue 15): kernels that do nothing but read bytes or exist, so that the
// benchmark scripts/bench/adapter-ceiling.ts can say how close the weight kernels come to what
// this adapter allows at all. Sums are wrapping u32 additions, written out so that the compiler
// cannot drop the reads.
// Entry points and bindings (0 is the uniform P { rows, wordsPerRow, invocations, vec4s }):
//   read_rows     1 words: array<u32> (read), 2 out: u32[rows] (read_write). One invocation per
//                 row: out[r] = sum of words [r·wordsPerRow, (r+1)·wordsPerRow). The access pattern
//                 of the matvec kernels with one invocation per row (lanes read different rows).
//   read_strided  1 quads: array<vec4<u32>> (read), 2 out: u32[invocations]. Invocation i sums
//                 the four lanes of quads i, i + invocations, i + 2·invocations, ... below vec4s:
//                 neighbouring invocations read neighbouring 16-byte words.
//   noop          2 out: out[0] = rows. One invocation: what a dispatch costs with no work.
// Override WG (workgroup size, a power of two <= 256). Reference: shared/engine/reference/probe-ceiling.ts.

struct P { rows: u32, wordsPerRow: u32, invocations: u32, vec4s: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> words: array<u32>;
@group(0) @binding(1) var<storage, read> quads: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn read_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let r = gid.x + gid.y * nwg.x * WG;
  if (r >= p.rows) { return; }
  let base = r * p.wordsPerRow;
  var s = 0u;
  for (var i = 0u; i < p.wordsPerRow; i++) {
    s += words[base + i];
  }
  out[r] = s;
}

@compute @workgroup_size(WG)
fn read_strided(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let inv = gid.x + gid.y * nwg.x * WG;
  if (inv >= p.invocations) { return; }
  var s = vec4<u32>(0u);
  for (var i = inv; i < p.vec4s; i += p.invocations) {
    s += quads[i];
  }
  out[inv] = s.x + s.y + s.z + s.w;
}

@compute @workgroup_size(1)
fn noop() {
  out[0] = p.rows;
}
