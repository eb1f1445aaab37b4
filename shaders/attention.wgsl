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
// Entry points:
//   main         as above; the cache already holds the new tokens (kv_append / rope_kv_append).
//   decode_rope  one token (T = 1; issue 15 §3: one dispatch instead of rope_kv_append + attention):
//                RoPE on q and on the new k (rope_kv_append.wgsl's expressions, _rope_angle.wgsl),
//                the new k and v as the key and value at pos0 (held in workgroup memory, so no
//                workgroup reads the cache row being written), and the first q head of each KV
//                group writes them to the cache row pos0. q and k's own buffers stay unrotated.
//                The same f32 operations in the same order as rope_kv_append then main.
// Bindings: 0 uniform P { T, heads, kvHeads, headDim, pos0, qStride, qOffset, scale, softcap,
//           window, ropeDims, kOffset, vOffset } (the last three: decode_rope only),
//           1 q (read; row t of head h at qOffset + t * qStride + h * headDim),
//           2 kCache, 3 vCache (read_write: decode_rope appends), 4 out: [T, heads, headDim]
//           (read_write); decode_rope: 5 k, 6 v (read; head kvh at kOffset / vOffset + kvh *
//           headDim; may be q's buffer), 7 invFreq (read, ropeDims / 2 values).
// Limits: headDim <= 4 * WG. Variants: f32 only; override WG (<= 256, default 64), NEOX
// (decode_rope: false adjacent pairs, true halves). CoreKernels sizes WG to the head
// (attentionWg in shared/gpu/kernels.ts: next power of two >= headDim, in 16..64), the same for
// main and decode_rope so they stay bit for bit; WG is the key chunk, so it sets the summation
// order (stories260K, headDim 8: WG 16, not 64 invocations of which 2 hold values).
// Reference: shared/engine/reference/attention.ts (plain softmax attention); decode_rope:
// ropeKvAppendRef then attentionRef.

//#include "_tanh"
//#include "_rope_angle"

struct P {
  T: u32, heads: u32, kvHeads: u32, headDim: u32, pos0: u32, qStride: u32, qOffset: u32, scale: f32, softcap: f32, window: u32,
  ropeDims: u32, kOffset: u32, vOffset: u32,
}

@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(3) var<storage, read_write> vCache: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> kNew: array<f32>;
@group(0) @binding(6) var<storage, read> vNew: array<f32>;
@group(0) @binding(7) var<storage, read> invFreq: array<f32>;

override WG: u32 = 64u;
override NEOX: bool = false;
const DPT: u32 = 4u;               // output dims per invocation
const NEG_BIG: f32 = -3.0e38;      // stands for -inf: exp(NEG_BIG - finite) == 0

var<workgroup> qs: array<f32, DPT * WG>;
var<workgroup> ps: array<f32, WG>;
var<workgroup> kn: array<f32, DPT * WG>; // decode_rope: the new key and value
var<workgroup> vn: array<f32, DPT * WG>;

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
    kn[d] = kv;
    vn[d] = vv;
    if (writer) {
      kCache[row + d] = kv;
      vCache[row + d] = vv;
    }
    let qb = p.qOffset + h * hd;
    qs[d] = rope_dim(d, q[qb + d], q[qb + rope_partner(d)], p.pos0) * p.scale;
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
    for (var d = li; d < hd; d += WG) { qs[d] = q[qb + d] * p.scale; }
  }
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
      if (fresh && j + 1u == len) {
        for (var d = 0u; d < hd; d++) { dot += qs[d] * kn[d]; }
      } else {
        for (var d = 0u; d < hd; d++) { dot += qs[d] * kCache[kb + d]; }
      }
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
    // Values read from the cache: all n, or (fresh, last chunk) all but the new one, added last.
    let nc = select(n, n - 1u, fresh && c0 + n == len);
    for (var k = 0u; k < DPT; k++) {
      let d = li + k * WG;
      if (d < hd) {
        var a = acc[k] * alpha;
        var vb = c0 * kvw + kvh * hd + d;
        for (var i = 0u; i < nc; i++) {
          a += ps[i] * vCache[vb];
          vb += kvw;
        }
        if (nc < n) { a += ps[nc] * vn[d]; }
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
