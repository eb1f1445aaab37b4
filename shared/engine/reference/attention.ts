/**
 * Reference KV-cache append and causal grouped-query attention (shaders/kv_append.wgsl,
 * shaders/attention.wgsl): plain softmax over the full score row, in f64, with the optional
 * logit soft-cap and sliding window.
 */

export interface KvAppendShape {
  T: number;
  /** kvHeads * headDim. */
  width: number;
  dstRow0: number;
  kStride?: number;
  kOffset?: number;
  vStride?: number;
  vOffset?: number;
}

/** Writes T rows of K and V (strided sources) into the caches at rows dstRow0.., in place. */
export function kvAppendRef(srcK: Float32Array, srcV: Float32Array, kCache: Float32Array, vCache: Float32Array, s: KvAppendShape): void {
  const ks = s.kStride ?? s.width;
  const vs = s.vStride ?? s.width;
  for (let t = 0; t < s.T; t++) {
    for (let c = 0; c < s.width; c++) {
      const dst = (s.dstRow0 + t) * s.width + c;
      kCache[dst] = srcK[(s.kOffset ?? 0) + t * ks + c]!;
      vCache[dst] = srcV[(s.vOffset ?? 0) + t * vs + c]!;
    }
  }
}

export interface AttentionShape {
  T: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Position of query token 0; the caches hold rows 0 .. pos0 + T - 1. */
  pos0: number;
  qStride?: number;
  qOffset?: number;
  /** Default 1 / sqrt(headDim). */
  scale?: number;
  /** > 0: score s -> softcap * tanh(s / softcap) after scaling (Gemma 2). Default 0 = off. */
  softcap?: number;
  /** > 0: query at position p attends keys j with p - j < window only. Default 0 = unlimited. */
  window?: number;
}

/**
 * out[t, h, :] = softmax_{lo <= j <= p}(cap(scale q.K[j])) V with p = pos0 + t,
 * lo = max(0, p - window + 1) (0 without a window), cap = identity without a softcap.
 * Returns [T, heads, headDim].
 */
export function attentionRef(q: Float32Array, kCache: Float32Array, vCache: Float32Array, s: AttentionShape): Float32Array {
  const hd = s.headDim;
  const kvw = s.kvHeads * hd;
  const qStride = s.qStride ?? s.heads * hd;
  const qOffset = s.qOffset ?? 0;
  const scale = s.scale ?? 1 / Math.sqrt(hd);
  const group = s.heads / s.kvHeads;
  const softcap = s.softcap ?? 0;
  const window = s.window ?? 0;
  const out = new Float32Array(s.T * s.heads * hd);
  for (let t = 0; t < s.T; t++) {
    const len = s.pos0 + t + 1;
    // Keys before lo are outside the window: not read at all (scores[i] is key lo + i).
    const lo = window > 0 ? Math.max(0, len - window) : 0;
    for (let h = 0; h < s.heads; h++) {
      const kvh = Math.floor(h / group);
      const qb = qOffset + t * qStride + h * hd;
      const scores = new Float64Array(len - lo);
      let m = -Infinity;
      for (let j = lo; j < len; j++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[qb + d]! * kCache[j * kvw + kvh * hd + d]!;
        let sc = dot * scale;
        if (softcap > 0) sc = softcap * Math.tanh(sc / softcap);
        scores[j - lo] = sc;
        m = Math.max(m, sc);
      }
      let sum = 0;
      for (let i = 0; i < scores.length; i++) {
        scores[i] = Math.exp(scores[i]! - m);
        sum += scores[i]!;
      }
      const ob = (t * s.heads + h) * hd;
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        for (let j = lo; j < len; j++) acc += scores[j - lo]! * vCache[j * kvw + kvh * hd + d]!;
        out[ob + d] = acc / sum;
      }
    }
  }
  return out;
}
