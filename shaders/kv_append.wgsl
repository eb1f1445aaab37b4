// Appends T new tokens' K and V to a layer's KV cache. The caches are [maxContext, kvHeads, headDim]
// f32 (row width = kvHeads * headDim); rows dstRow0 .. dstRow0 + T - 1 are written. Sources are
// [T, *] rows `srcStride` elements apart starting at `srcOffset`, so K and V may be slices of one
// fused QKV buffer (bind it as both srcK and srcV). The host checks dstRow0 + T <= maxContext
// (ContextWindowExceededError) before dispatching.
// One invocation per element of [T, width]; linear index = (wid.x + wid.y * nwg.x) * WG + lid.
// Bindings: 0 uniform P, 1 srcK (read), 2 srcV (read), 3 kCache (read_write), 4 vCache (read_write).
// Variants: f32 only; override WG (<= 256). Reference: shared/engine/reference/attention.ts (kvAppendRef).

struct P { T: u32, width: u32, dstRow0: u32, kStride: u32, kOffset: u32, vStride: u32, vOffset: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> srcK: array<f32>;
@group(0) @binding(2) var<storage, read> srcV: array<f32>;
@group(0) @binding(3) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(4) var<storage, read_write> vCache: array<f32>;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (idx >= p.T * p.width) { return; }
  let t = idx / p.width;
  let c = idx % p.width;
  let dst = (p.dstRow0 + t) * p.width + c;
  kCache[dst] = srcK[p.kOffset + t * p.kStride + c];
  vCache[dst] = srcV[p.vOffset + t * p.vStride + c];
}
