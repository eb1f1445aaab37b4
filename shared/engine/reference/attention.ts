/**
 * Reference KV-cache append and causal grouped-query attention (shaders/kv_append.wgsl,
 * shaders/attention.wgsl): plain softmax over the full score row, in f64.
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
}

/** out[t, h, :] = softmax_{j <= pos0 + t}(scale q.K[j]) V — returns [T, heads, headDim]. */
export function attentionRef(q: Float32Array, kCache: Float32Array, vCache: Float32Array, s: AttentionShape): Float32Array {
  const hd = s.headDim;
  const kvw = s.kvHeads * hd;
  const qStride = s.qStride ?? s.heads * hd;
  const qOffset = s.qOffset ?? 0;
  const scale = s.scale ?? 1 / Math.sqrt(hd);
  const group = s.heads / s.kvHeads;
  const out = new Float32Array(s.T * s.heads * hd);
  for (let t = 0; t < s.T; t++) {
    const len = s.pos0 + t + 1;
    for (let h = 0; h < s.heads; h++) {
      const kvh = Math.floor(h / group);
      const qb = qOffset + t * qStride + h * hd;
      const scores = new Float64Array(len);
      let m = -Infinity;
      for (let j = 0; j < len; j++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[qb + d]! * kCache[j * kvw + kvh * hd + d]!;
        scores[j] = dot * scale;
        m = Math.max(m, scores[j]!);
      }
      let sum = 0;
      for (let j = 0; j < len; j++) {
        scores[j] = Math.exp(scores[j]! - m);
        sum += scores[j]!;
      }
      const ob = (t * s.heads + h) * hd;
      for (let d = 0; d < hd; d++) {
        let acc = 0;
        for (let j = 0; j < len; j++) acc += scores[j]! * vCache[j * kvw + kvh * hd + d]!;
        out[ob + d] = acc / sum;
      }
    }
  }
  return out;
}
