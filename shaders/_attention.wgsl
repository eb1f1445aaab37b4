// Include-only (leading "_"). The body of attention.wgsl and attention_v4.wgsl (see attention.wgsl
// for what it computes, its entry points, bindings and limits): the two differ only in how they
// hold K, V, q and the new key and value, scalars or 16-byte words, through these hooks:
//   bindings 2 kCache, 3 vCache; workgroup arrays for q (rotated, scaled) and the new key and value
//   fn put_q(d: u32, v: f32)                       dim d of the scaled q
//   fn put_fresh(d: u32, kv: f32, vv: f32)         dim d of the new key and value (decode_rope)
//   fn cache_put(e: u32, kv: f32, vv: f32)         element e of the caches (decode_rope's append)
//   fn key_dot(kb: u32, hd: u32) -> f32            Σ_d q[d] · kCache[kb + d], d = 0, 1, .. in turn
//   fn fresh_dot(hd: u32) -> f32                   the same with the new key
//   struct Acc, fn acc_zero() -> Acc               this invocation's output dims
//   fn acc_chunk(a: Acc, li: u32, alpha: f32, vb0: u32, kvw: u32, nc: u32, n: u32, hd: u32) -> Acc
//        each dim d: a[d] · alpha + Σ_{i < nc} ps[i] · vCache[vb0 + i · kvw + d], keys in turn, then
//        ps[nc] · the new value when nc < n
//   fn acc_store(a: Acc, li: u32, ob: u32, hd: u32, l: f32)   out[ob + d] = a[d] / l
// Both do the same f32 operations in the same order, so their results are the same bit for bit.

//#include "_tanh"
//#include "_rope_angle"

struct P {
  T: u32, heads: u32, kvHeads: u32, headDim: u32, pos0: u32, qStride: u32, qOffset: u32, scale: f32, softcap: f32, window: u32,
  ropeDims: u32, kOffset: u32, vOffset: u32,
}

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> kNew: array<f32>;
@group(0) @binding(6) var<storage, read> vNew: array<f32>;
@group(0) @binding(7) var<storage, read> invFreq: array<f32>;

override WG: u32 = 64u;
override NEOX: bool = false;
const DPT: u32 = 4u;               // output dims per invocation
const NEG_BIG: f32 = -3.0e38;      // stands for -inf: exp(NEG_BIG - finite) == 0

var<workgroup> ps: array<f32, WG>;
var<workgroup> red: array<f32, 2>;   // the chunk's max and sum of weights

//#include "_rope_dim"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.T * p.heads) { return; }
  attend(g, li, false);
}

@compute @workgroup_size(WG)
fn decode_rope(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let h = wid.x + wid.y * nwg.x;
  if (h >= p.heads) { return; }
  let hd = p.headDim;
  let kvh = h / (p.heads / p.kvHeads);
  let kb = p.kOffset + kvh * hd;
  let vb = p.vOffset + kvh * hd;
  let row = p.pos0 * p.kvHeads * hd + kvh * hd;
  let writer = h % (p.heads / p.kvHeads) == 0u;
  for (var d = li; d < hd; d += WG) {
    let kv = rope_dim(d, kNew[kb + d], kNew[kb + rope_partner(d)], p.pos0);
    let vv = vNew[vb + d];
    put_fresh(d, kv, vv);
    if (writer) {
      cache_put(row + d, kv, vv);
    }
    let qb = p.qOffset + h * hd;
    put_q(d, rope_dim(d, q[qb + d], q[qb + rope_partner(d)], p.pos0) * p.scale);
  }
  attend(h, li, true);
}

// Attention of query g = t * heads + h; `fresh` (decode_rope, T = 1): qs already holds q (rotated,
// scaled) and the key at pos0 is kn / vn. (attend names no binding main does not bind.)
fn attend(g: u32, li: u32, fresh: bool) {
  let t = g / p.heads;
  let h = g % p.heads;
  let kvh = h / (p.heads / p.kvHeads);
  let hd = p.headDim;
  let kvw = p.kvHeads * hd;
  let len = p.pos0 + t + 1u;        // causal: keys lo .. pos0 + t
  var lo = 0u;
  if (p.window > 0u && len > p.window) { lo = len - p.window; }   // = pos0 + t - window + 1

  let qb = p.qOffset + t * p.qStride + h * hd;
  if (!fresh) {
    for (var d = li; d < hd; d += WG) { put_q(d, q[qb + d] * p.scale); }
  }
  workgroupBarrier();

  var m = NEG_BIG;
  var l = 0.0;
  var acc = acc_zero();
  for (var c0 = lo; c0 < len; c0 += WG) {
    let n = min(WG, len - c0);
    let j = c0 + li;
    var s = NEG_BIG;
    if (li < n) {
      let kb = j * kvw + kvh * hd;
      if (fresh && j + 1u == len) {
        s = fresh_dot(hd);
      } else {
        s = key_dot(kb, hd);
      }
      if (p.softcap > 0.0) { s = p.softcap * safe_tanh(s / p.softcap); }
    }
    ps[li] = s;
    workgroupBarrier();
    // The chunk's max and sum by one invocation, for all: the same values in the same order as
    // every invocation reading every score, at one read per score instead of WG.
    if (li == 0u) {
      var mx = m;
      for (var i = 0u; i < n; i++) { mx = max(mx, ps[i]); }
      red[0] = mx;
    }
    workgroupBarrier();              // lane 0 has read the scores before they become weights
    let mNew = red[0];
    ps[li] = select(0.0, exp(s - mNew), li < n);
    workgroupBarrier();
    if (li == 0u) {
      var sum = 0.0;
      for (var i = 0u; i < n; i++) { sum += ps[i]; }
      red[1] = sum;
    }
    workgroupBarrier();
    let alpha = exp(m - mNew);
    l = l * alpha + red[1];
    // Values read from the cache: all n, or (fresh, last chunk) all but the new one, added last.
    let nc = select(n, n - 1u, fresh && c0 + n == len);
    acc = acc_chunk(acc, li, alpha, c0 * kvw + kvh * hd, kvw, nc, n, hd);
    m = mNew;
    workgroupBarrier();              // weights are read before the next chunk overwrites them
  }
  let ob = (t * p.heads + h) * hd;
  acc_store(acc, li, ob, hd, l);
}
