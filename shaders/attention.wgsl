// Causal grouped-query attention over a KV cache, with an online (streaming) softmax: no score
// matrix is stored. For query token t (position p = pos0 + t) and head h:
//   out[t, h, :] = sum_{lo <= j <= p} softmax_j(cap(scale * q[t, h, :] . K[j, kvh, :])) * V[j, kvh, :]
// with kvh = h / (heads / kvHeads). K and V are the caches [maxContext, kvHeads, headDim]; the
// new tokens must already be appended (kv_append.wgsl).
// Options (0 = off):
//   softcap  cap(s) = softcap * tanh(s / softcap), on the scaled score before the softmax
//            (Gemma 2's attention logit soft-capping, as llama.cpp applies it); safe_tanh, _tanh.wgsl.
//   window   sliding window: lo = max(0, p - window + 1), i.e. key j is kept while p - j < window
//            (llama.cpp's LLAMA_SWA_TYPE_STANDARD). The key loop starts at lo, so keys outside the
//            window are never read (no masking); otherwise lo = 0.
// One workgroup per (t, h) (2-D grid past 65535: g = wid.x + wid.y * nwg.x; t = g / heads).
// Keys go in chunks of WG: invocation j scores key c0 + j; the chunk max updates the running max m;
// the running sum l and the output accumulator (invocation d owns dims d, d + WG, .. < headDim,
// at most 4) are rescaled by exp(m_old - m_new), then accumulate exp(s_j - m_new) * V[j].
// Bindings: 0 uniform P { T, heads, kvHeads, headDim, pos0, qStride, qOffset, scale, softcap, window },
//           1 q (read; row t of head h at qOffset + t * qStride + h * headDim),
//           2 kCache (read), 3 vCache (read), 4 out: [T, heads, headDim] (read_write).
// Limits: headDim <= 4 * WG. Variants: f32 only; override WG (<= 256, default 64).
// Reference: shared/engine/reference/attention.ts (plain softmax attention).

//#include "_tanh"

struct P { T: u32, heads: u32, kvHeads: u32, headDim: u32, pos0: u32, qStride: u32, qOffset: u32, scale: f32, softcap: f32, window: u32 }

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kCache: array<f32>;
@group(0) @binding(3) var<storage, read> vCache: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 64u;
const DPT: u32 = 4u;               // output dims per invocation
const NEG_BIG: f32 = -3.0e38;      // stands for -inf: exp(NEG_BIG - finite) == 0

var<workgroup> qs: array<f32, DPT * WG>;
var<workgroup> ps: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.T * p.heads) { return; }
  let t = g / p.heads;
  let h = g % p.heads;
  let kvh = h / (p.heads / p.kvHeads);
  let hd = p.headDim;
  let kvw = p.kvHeads * hd;
  let len = p.pos0 + t + 1u;        // causal: keys lo .. pos0 + t
  var lo = 0u;
  if (p.window > 0u && len > p.window) { lo = len - p.window; }   // = pos0 + t - window + 1

  let qb = p.qOffset + t * p.qStride + h * hd;
  for (var d = li; d < hd; d += WG) { qs[d] = q[qb + d] * p.scale; }
  workgroupBarrier();

  var m = NEG_BIG;
  var l = 0.0;
  var acc = array<f32, DPT>(0.0, 0.0, 0.0, 0.0);
  for (var c0 = lo; c0 < len; c0 += WG) {
    let n = min(WG, len - c0);
    let j = c0 + li;
    var s = NEG_BIG;
    if (li < n) {
      let kb = j * kvw + kvh * hd;
      var dot = 0.0;
      for (var d = 0u; d < hd; d++) { dot += qs[d] * kCache[kb + d]; }
      s = dot;
      if (p.softcap > 0.0) { s = p.softcap * safe_tanh(s / p.softcap); }
    }
    ps[li] = s;
    workgroupBarrier();
    var mNew = m;
    for (var i = 0u; i < n; i++) { mNew = max(mNew, ps[i]); }
    workgroupBarrier();              // all have read the scores before they become weights
    ps[li] = select(0.0, exp(s - mNew), li < n);
    workgroupBarrier();
    let alpha = exp(m - mNew);
    var sum = 0.0;
    for (var i = 0u; i < n; i++) { sum += ps[i]; }
    l = l * alpha + sum;
    for (var k = 0u; k < DPT; k++) {
      let d = li + k * WG;
      if (d < hd) {
        var a = acc[k] * alpha;
        var vb = c0 * kvw + kvh * hd + d;
        for (var i = 0u; i < n; i++) {
          a += ps[i] * vCache[vb];
          vb += kvw;
        }
        acc[k] = a;
      }
    }
    m = mNew;
    workgroupBarrier();              // weights are read before the next chunk overwrites them
  }
  let ob = (t * p.heads + h) * hd;
  for (var k = 0u; k < DPT; k++) {
    let d = li + k * WG;
    if (d < hd) { out[ob + d] = acc[k] / l; }
  }
}
