// Mixed precision: the f16 shadow of the weights, h[i] = f16(w[i]) for i < n (round to nearest
// on the adapters measured; WGSL lets an implementation pick either neighbour, and the tests
// accept both). Run after every change of the f32 master weights (load, optimizer step).
// Bindings: 0 uniform P { n }, 1 w (f32, read), 2 h (f16 pairs as u32, read_write).
// Each invocation writes one u32 (two halves), so no two invocations share a word.
// Workgroups: ceil(ceil(n / 2) / 64) as a 1-D count (split 2-D past the per-dimension limit).


struct P { n: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> h: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = (wid.x + wid.y * nwg.x) * 64u + li;
  let i = 2u * j;
  if (i >= p.n) { return; }
  let lo = w[i];
  var hi = 0.0;
  if (i + 1u < p.n) { hi = w[i + 1u]; }
  h[j] = pack2x16float(vec2f(lo, hi));
}
