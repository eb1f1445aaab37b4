// Rotary position embedding, in place, on x viewed as [T, heads, headDim] rows that start at
// `offset` and are `stride` elements apart (so q or k inside a fused QKV buffer works too).
// Token t has position pos0 + t; pair i (0 <= i < ropeDims/2) rotates by angle = pos * invFreq[i]:
//   normal (llama):  pairs (2i, 2i+1)          NEOX (qwen2, gpt-neox): pairs (i, i + ropeDims/2)
//   x0' = x0 cos - x1 sin,  x1' = x0 sin + x1 cos.
// Partial rotation (Phi-3/Phi-4 partial rotary, llama.cpp's ggml_rope with n_dims < head size):
// only the first ropeDims (even, <= headDim) dims of each head rotate; dims ropeDims.. are not
// touched (no invocation covers them), so they pass through. ropeDims = headDim is full rotation.
// invFreq comes from the host (reference ropeInvFreq: theta^(-2i/ropeDims) rounded to f32), so
// scaled variants (llama3, YaRN) only change the table. The angle is reduced to [-pi, pi] first
// (_rope_angle.wgsl, shared with rope_kv_append.wgsl).
// One invocation per pair; linear index = (wid.x + wid.y * nwg.x) * WG + lid.
// Bindings: 0 uniform P { T, heads, headDim, pos0, stride, offset, ropeDims }, 1 x f32 (read_write),
//           2 invFreq: [>= ropeDims/2] f32 (read).
// Variants: override NEOX (false: adjacent pairs, true: halves); override WG (<= 256). f32 only.
// Reference: shared/engine/reference/rope.ts.

struct P { T: u32, heads: u32, headDim: u32, pos0: u32, stride: u32, offset: u32, ropeDims: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> invFreq: array<f32>;

override WG: u32 = 64u;
override NEOX: bool = false;

//#include "_rope_angle"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let half = p.ropeDims / 2u;      // rotated pairs per head; the dispatch covers only these
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (idx >= p.T * p.heads * half) { return; }
  let i = idx % half;
  let th = idx / half;            // t * heads + h
  let h = th % p.heads;
  let t = th / p.heads;
  let cs = rope_cos_sin(p.pos0 + t, invFreq[i]);
  let c = cs.x;
  let s = cs.y;
  let base = p.offset + t * p.stride + h * p.headDim;
  var i0 = base + 2u * i;
  var i1 = i0 + 1u;
  if (NEOX) {
    i0 = base + i;
    i1 = base + i + half;
  }
  let x0 = x[i0];
  let x1 = x[i1];
  x[i0] = x0 * c - x1 * s;
  x[i1] = x0 * s + x1 * c;
}
