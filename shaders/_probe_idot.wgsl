// Include-only (leading "_"). The prefill compute ceiling (issue 15 §2): packed int8 dot products
// with their operands in registers, no loads in the loop, so that their rate is the most integer
// multiply-adds any prefill product could do per second on this adapter (a real one adds its loads,
// its scales and its stores). The including file defines idot (_idot_dot4: dot4I8Packed; _idot_int:
// the plain-i32 equivalent), as the integer kernels do.
// Bindings: 0 the uniform P { invocations, iterations }, 1 seeds: array<vec4<u32>> (read; 2 per
// invocation), 2 out: u32[invocations] (read_write).
// Invocation i starts from a = seeds[2i], b = seeds[2i + 1]; each iteration adds the 16 products
// idot(a[j], b[k]) into acc[j] (4 "rows" × 4 "tokens", 64 byte multiply-adds), then a += 0x01010101
// in each word (wrapping) and b rotates one word (b.yzwx), so that no product can be hoisted out
// of the loop. out[i] = the wrapping i32 sum of acc, as u32. Override WG (workgroup size).
// Reference: shared/engine/reference/probe-ceiling.ts (idotRateRef).

struct P { invocations: u32, iterations: u32, pad0: u32, pad1: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> seeds: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn idot_rate(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let inv = gid.x + gid.y * nwg.x * WG;
  if (inv >= p.invocations) { return; }
  var a = seeds[2u * inv];
  var b = seeds[2u * inv + 1u];
  var acc = vec4<i32>(0);
  for (var i = 0u; i < p.iterations; i++) {
    acc.x += idot(a.x, b.x) + idot(a.x, b.y) + idot(a.x, b.z) + idot(a.x, b.w);
    acc.y += idot(a.y, b.x) + idot(a.y, b.y) + idot(a.y, b.z) + idot(a.y, b.w);
    acc.z += idot(a.z, b.x) + idot(a.z, b.y) + idot(a.z, b.z) + idot(a.z, b.w);
    acc.w += idot(a.w, b.x) + idot(a.w, b.y) + idot(a.w, b.z) + idot(a.w, b.w);
    a += vec4<u32>(0x01010101u);
    b = b.yzwx;
  }
  out[inv] = bitcast<u32>(acc.x + acc.y + acc.z + acc.w);
}
