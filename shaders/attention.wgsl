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
// One workgroup per (t, group of GH heads of one KV head) (2-D grid past 65535: g = wid.x + wid.y *
// nwg.x; t = g / (heads / GH)); each head computed as if it had the workgroup to itself.
// Keys go in chunks of WG: invocation j scores key c0 + j; the chunk max updates the running max m;
// the running sum l and the output accumulator (invocation d owns dims d, d + WG, .. < headDim,
// at most 4) are rescaled by exp(m_old - m_new), then accumulate exp(s_j - m_new) * V[j].
// Entry points:
//   main         as above; the cache already holds the new tokens (kv_append / rope_kv_append).
//   decode_rope  one token (T = 1; issue 15 §3: one dispatch instead of rope_kv_append + attention):
//                RoPE on q and on the new k (rope_kv_append.wgsl's expressions, _rope_angle.wgsl),
//                the new k and v as the key and value at pos0 (held in workgroup memory, so no
//                workgroup reads the cache row being written), and the workgroup of each KV
//                group's first q heads writes them to the cache row pos0. q and k's own buffers stay unrotated.
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
// This file holds K, V, q and the new key and value as scalars (any head size); attention_v4.wgsl
// holds them as 16-byte words, the same results bit for bit, for heads of a multiple of 4 values
// (CoreKernels picks it there: on lavapipe every load is a per-lane loop, and a 16-byte load costs
// far less than four 4-byte ones).

//#include "_attention"

@group(0) @binding(2) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(3) var<storage, read_write> vCache: array<f32>;

var<workgroup> qs: array<f32, GH * DPT * WG>;   // head e's dim d at e · DPT · WG + d
var<workgroup> kn: array<f32, DPT * WG>; // decode_rope: the new key and value
var<workgroup> vn: array<f32, DPT * WG>;

fn put_q(e: u32, d: u32, v: f32) { qs[e * DPT * WG + d] = v; }

fn put_fresh(d: u32, kv: f32, vv: f32) {
  kn[d] = kv;
  vn[d] = vv;
}

fn cache_put(i: u32, kv: f32, vv: f32) {
  kCache[i] = kv;
  vCache[i] = vv;
}

fn key_dots(kb: u32, hd: u32) -> array<f32, GH_MAX> {
  var dot: array<f32, GH_MAX>;
  for (var d = 0u; d < hd; d++) {
    let kv = kCache[kb + d];
    for (var e = 0u; e < GH; e++) { dot[e] += qs[e * DPT * WG + d] * kv; }
  }
  return dot;
}

fn fresh_dots(hd: u32) -> array<f32, GH_MAX> {
  var dot: array<f32, GH_MAX>;
  for (var d = 0u; d < hd; d++) {
    let kv = kn[d];
    for (var e = 0u; e < GH; e++) { dot[e] += qs[e * DPT * WG + d] * kv; }
  }
  return dot;
}

// One head's dims li + k · WG, k < DPT.
struct Acc { a: array<f32, 4> }

fn acc_zero() -> Acc { return Acc(array<f32, 4>(0.0, 0.0, 0.0, 0.0)); }

fn acc_chunk(acc: ptr<function, array<Acc, GH_MAX>>, li: u32, alpha: array<f32, GH_MAX>, vb0: u32, kvw: u32, nc: u32, n: u32, hd: u32) {
  for (var k = 0u; k < DPT; k++) {
    let d = li + k * WG;
    if (d < hd) {
      var a: array<f32, GH_MAX>;
      for (var e = 0u; e < GH; e++) { a[e] = (*acc)[e].a[k] * alpha[e]; }
      var vb = vb0 + d;
      for (var i = 0u; i < nc; i++) {
        let v = vCache[vb];
        for (var e = 0u; e < GH; e++) { a[e] += ps[e * WG + i] * v; }
        vb += kvw;
      }
      for (var e = 0u; e < GH; e++) {
        if (nc < n) { a[e] += ps[e * WG + nc] * vn[d]; }
        (*acc)[e].a[k] = a[e];
      }
    }
  }
}

fn acc_store(acc: Acc, li: u32, ob: u32, hd: u32, l: f32) {
  for (var k = 0u; k < DPT; k++) {
    let d = li + k * WG;
    if (d < hd) { out[ob + d] = acc.a[k] / l; }
  }
}
