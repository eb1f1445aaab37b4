// Include-only (leading "_"). The body of attention.wgsl and attention_v4.wgsl (see attention.wgsl
// for what it computes, its entry points, bindings and limits): the two differ only in how they
// hold K, V, q and the new key and value, scalars or 16-byte words, through these hooks:
//   bindings 2 kCache, 3 vCache; workgroup arrays for the GH heads' q (rotated, scaled) and the
//   new key and value
//   fn put_q(e: u32, d: u32, v: f32)               dim d of head e's scaled q
//   fn put_fresh(d: u32, kv: f32, vv: f32)         dim d of the new key and value (decode_rope)
//   fn cache_put(i: u32, kv: f32, vv: f32)         element i of the caches (decode_rope's append)
//   fn key_dots(kb: u32, hd: u32) -> array<f32, GH_MAX>  head e: Σ_d q_e[d] · kCache[kb + d], d = 0, 1, ..
//                                                  in turn (the key row read once for all heads)
//   fn fresh_dots(hd: u32) -> array<f32, GH_MAX>       the same with the new key
//   struct Acc, fn acc_zero() -> Acc               one head's output dims of this invocation
//   fn acc_chunk(acc: ptr<function, array<Acc, GH_MAX>>, li: u32, alpha: array<f32, GH_MAX>, vb0: u32,
//        kvw: u32, nc: u32, n: u32, hd: u32)       each head e, dim d: acc_e[d] · alpha[e] +
//        Σ_{i < nc} ps[e · WG + i] · vCache[vb0 + i · kvw + d], keys in turn (each value row read
//        once for all heads), then ps[e · WG + nc] · the new value when nc < n
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
// Query heads per workgroup, all of one KV group (CoreKernels: the largest of 8, 4, 2, 1 that
// divides heads / kvHeads): each key and value row read serves all of them.
override GH: u32 = 1u;
const GH_MAX: u32 = 8u;            // GH's largest value: the size of the per-head private arrays
const DPT: u32 = 4u;               // output dims per invocation
const NEG_BIG: f32 = -3.0e38;      // stands for -inf: exp(NEG_BIG - finite) == 0

var<workgroup> ps: array<f32, GH * WG>;   // head e's scores, then weights, at e · WG + key
var<workgroup> red: array<f32, 2u * GH>;  // each head's chunk max and sum of weights

//#include "_rope_dim"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.T * (p.heads / GH)) { return; }
  attend(g, li, false);
}

@compute @workgroup_size(WG)
fn decode_rope(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let hg = wid.x + wid.y * nwg.x;
  if (hg >= p.heads / GH) { return; }
  let h0 = hg * GH;
  let hd = p.headDim;
  let kvh = h0 / (p.heads / p.kvHeads);
  let kb = p.kOffset + kvh * hd;
  let vb = p.vOffset + kvh * hd;
  let row = p.pos0 * p.kvHeads * hd + kvh * hd;
  let writer = h0 % (p.heads / p.kvHeads) == 0u;   // the first head group of each KV group
  for (var d = li; d < hd; d += WG) {
    let kv = rope_dim(d, kNew[kb + d], kNew[kb + rope_partner(d)], p.pos0);
    let vv = vNew[vb + d];
    put_fresh(d, kv, vv);
    if (writer) {
      cache_put(row + d, kv, vv);
    }
    for (var e = 0u; e < GH; e++) {
      let qb = p.qOffset + (h0 + e) * hd;
      put_q(e, d, rope_dim(d, q[qb + d], q[qb + rope_partner(d)], p.pos0) * p.scale);
    }
  }
  attend(hg, li, true);
}

// Attention of heads h0 .. h0 + GH - 1 of token t, g = t · (heads / GH) + h0 / GH; `fresh`
// (decode_rope, T = 1): q is already in place (rotated, scaled) and the key at pos0 is the new
// one. Each head's arithmetic is that of a workgroup of its own: the same operations in the same
// order whatever GH. (attend names no binding main does not bind.)
fn attend(g: u32, li: u32, fresh: bool) {
  let t = g / (p.heads / GH);
  let h0 = (g % (p.heads / GH)) * GH;
  let kvh = h0 / (p.heads / p.kvHeads);
  let hd = p.headDim;
  let kvw = p.kvHeads * hd;
  let len = p.pos0 + t + 1u;        // causal: keys lo .. pos0 + t
  var lo = 0u;
  if (p.window > 0u && len > p.window) { lo = len - p.window; }   // = pos0 + t - window + 1

  if (!fresh) {
    for (var e = 0u; e < GH; e++) {
      let qb = p.qOffset + t * p.qStride + (h0 + e) * hd;
      for (var d = li; d < hd; d += WG) { put_q(e, d, q[qb + d] * p.scale); }
    }
  }
  workgroupBarrier();

  var m: array<f32, GH_MAX>;
  var l: array<f32, GH_MAX>;
  var acc: array<Acc, GH_MAX>;
  for (var e = 0u; e < GH; e++) {
    m[e] = NEG_BIG;
    l[e] = 0.0;
    acc[e] = acc_zero();
  }
  for (var c0 = lo; c0 < len; c0 += WG) {
    let n = min(WG, len - c0);
    let j = c0 + li;
    var s: array<f32, GH_MAX>;
    for (var e = 0u; e < GH; e++) { s[e] = NEG_BIG; }
    if (li < n) {
      let kb = j * kvw + kvh * hd;
      if (fresh && j + 1u == len) {
        s = fresh_dots(hd);
      } else {
        s = key_dots(kb, hd);
      }
      if (p.softcap > 0.0) {
        for (var e = 0u; e < GH; e++) { s[e] = p.softcap * safe_tanh(s[e] / p.softcap); }
      }
    }
    for (var e = 0u; e < GH; e++) { ps[e * WG + li] = s[e]; }
    workgroupBarrier();
    // Each head's chunk max and sum by one invocation (li = e), for all: the same values in the
    // same order as every invocation reading every score, at one read per score instead of WG.
    if (li < GH) {
      var mx = m[li];
      for (var i = 0u; i < n; i++) { mx = max(mx, ps[li * WG + i]); }
      red[li] = mx;
    }
    workgroupBarrier();              // the scores are read before they become weights
    var alpha: array<f32, GH_MAX>;
    for (var e = 0u; e < GH; e++) {
      let mNew = red[e];
      ps[e * WG + li] = select(0.0, exp(s[e] - mNew), li < n);
      alpha[e] = exp(m[e] - mNew);
      m[e] = mNew;
    }
    workgroupBarrier();
    if (li < GH) {
      var sum = 0.0;
      for (var i = 0u; i < n; i++) { sum += ps[li * WG + i]; }
      red[GH + li] = sum;
    }
    workgroupBarrier();
    for (var e = 0u; e < GH; e++) { l[e] = l[e] * alpha[e] + red[GH + e]; }
    // Values read from the cache: all n, or (fresh, last chunk) all but the new one, added last.
    let nc = select(n, n - 1u, fresh && c0 + n == len);
    acc_chunk(&acc, li, alpha, c0 * kvw + kvh * hd, kvw, nc, n, hd);
    workgroupBarrier();              // weights are read before the next chunk overwrites them
  }
  for (var e = 0u; e < GH; e++) {
    acc_store(acc[e], li, (t * p.heads + h0 + e) * hd, hd, l[e]);
  }
}
