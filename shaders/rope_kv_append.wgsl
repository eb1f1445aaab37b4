// RoPE on q and k and the append of k and v to a layer's KV cache, in one dispatch: what
// rope.wgsl (on q), rope.wgsl (on k) and kv_append.wgsl do in three. Small models are
// dispatch-bound, so two fewer dispatches per block is time saved (issue 15); the arithmetic is
// the same expression by expression (_rope_angle.wgsl is shared), so the results are identical.
// k is rotated on its way into the cache and left unrotated in its own buffer: attention reads
// K only from the cache.
// Linear index idx = (wid.x + wid.y * nwg.x) * WG + lid over two ranges:
//   [0, nq)          nq = T * qHeads * ropeDims/2: one q pair each, rotated in place (as rope.wgsl)
//   [nq, nq + T * kvWidth): one element (t, c) of [T, kvHeads * headDim] each: kCache[pos0 + t, c]
//                    = that element of k after rotation (its pair partner read too; dims from
//                    ropeDims on pass through), vCache[pos0 + t, c] = v[t, c].
// The host checks pos0 + T <= maxContext (ContextWindowExceededError) before dispatching.
// Entry points: `main` reads k and v from their own bindings (q's buffer must differ: a written
// binding may not alias another; k and v may share one); `main_packed` reads k and v from q's
// binding, for one [T, q | k | v] buffer (a stacked QKV product), and leaves bindings 2 and 3 unused.
// Bindings: 0 uniform P, 1 q (read_write), 2 k (read), 3 v (read), 4 invFreq (read),
//           5 kCache (read_write), 6 vCache (read_write).
// Variants: override NEOX (false: adjacent pairs, true: halves); override WG (<= 256). f32 only.
// Reference: shared/engine/reference/rope.ts (ropeRef) then shared/engine/reference/attention.ts
// (kvAppendRef): ropeKvAppendRef in shared/engine/reference/fused.ts.

struct P {
  T: u32, qHeads: u32, kvHeads: u32, headDim: u32, pos0: u32, ropeDims: u32,
  qStride: u32, qOffset: u32, kStride: u32, kOffset: u32, vStride: u32, vOffset: u32,
}

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> invFreq: array<f32>;
@group(0) @binding(5) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(6) var<storage, read_write> vCache: array<f32>;

override WG: u32 = 64u;
override NEOX: bool = false;

//#include "_rope_angle"

struct KvSlot { src: u32, partner: u32, rotates: bool, first: bool, i: u32, dst: u32, vsrc: u32, t: u32 }

// Where element e of [T, kvWidth] comes from (k and v) and goes (the cache row pos0 + t), and
// which pair it is in when it rotates.
fn kv_slot(e: u32) -> KvSlot {
  let half = p.ropeDims / 2u;
  let width = p.kvHeads * p.headDim;
  let t = e / width;
  let c = e % width;
  let d = c % p.headDim;            // dim within its head
  var out: KvSlot;
  out.t = t;
  out.src = p.kOffset + t * p.kStride + c;
  out.vsrc = p.vOffset + t * p.vStride + c;
  out.dst = (p.pos0 + t) * width + c;
  out.rotates = d < p.ropeDims;
  out.i = d / 2u;
  out.first = (d % 2u) == 0u;
  out.partner = select(out.src - 1u, out.src + 1u, out.first);
  if (NEOX) {
    out.first = d < half;
    out.i = select(d - half, d, out.first);
    out.partner = select(out.src - half, out.src + half, out.first);
  }
  return out;
}

// The element after rotation, from its own value and its pair partner's (rope.wgsl's expressions).
fn rotated(s: KvSlot, value: f32, partner: f32) -> f32 {
  let cs = rope_cos_sin(p.pos0 + s.t, invFreq[s.i]);
  let x0 = select(partner, value, s.first);
  let x1 = select(value, partner, s.first);
  return select(x0 * cs.y + x1 * cs.x, x0 * cs.x - x1 * cs.y, s.first);
}

// Rotates q pair idx in place; false when idx is past the q range (a K/V element instead).
fn rope_q(idx: u32) -> bool {
  let half = p.ropeDims / 2u;
  if (idx >= p.T * p.qHeads * half) { return false; }
  let i = idx % half;
  let th = idx / half;
  let h = th % p.qHeads;
  let t = th / p.qHeads;
  let cs = rope_cos_sin(p.pos0 + t, invFreq[i]);
  let base = p.qOffset + t * p.qStride + h * p.headDim;
  var i0 = base + 2u * i;
  var i1 = i0 + 1u;
  if (NEOX) {
    i0 = base + i;
    i1 = base + i + half;
  }
  let x0 = q[i0];
  let x1 = q[i1];
  q[i0] = x0 * cs.x - x1 * cs.y;
  q[i1] = x0 * cs.y + x1 * cs.x;
  return true;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (rope_q(idx)) { return; }
  let e = idx - p.T * p.qHeads * (p.ropeDims / 2u);
  if (e >= p.T * p.kvHeads * p.headDim) { return; }
  let s = kv_slot(e);
  var value = k[s.src];
  if (s.rotates) { value = rotated(s, value, k[s.partner]); }
  kCache[s.dst] = value;
  vCache[s.dst] = v[s.vsrc];
}

// q, k and v in one buffer: k and v read through q's binding. The q pairs and the k elements are
// disjoint ranges of that buffer, so no invocation reads what another writes.
@compute @workgroup_size(WG)
fn main_packed(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + li;
  if (rope_q(idx)) { return; }
  let e = idx - p.T * p.qHeads * (p.ropeDims / 2u);
  if (e >= p.T * p.kvHeads * p.headDim) { return; }
  let s = kv_slot(e);
  var value = q[s.src];
  if (s.rotates) { value = rotated(s, value, q[s.partner]); }
  kCache[s.dst] = value;
  vCache[s.dst] = q[s.vsrc];
}
