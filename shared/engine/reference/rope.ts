/**
 * Reference rotary position embedding (shaders/rope.wgsl).
 * Pairs, over the first r = ropeDims dims of each head: normal (llama) (2i, 2i+1); NEOX (qwen2,
 * gpt-neox, Phi-3 partial rotary) (i, i + r/2), for i < r/2. Dims r.. pass through unchanged.
 */

/** invFreq[i] = theta^(-2i / headDim), rounded to f32 (as HF computes it in f32). */
export function ropeInvFreq(headDim: number, theta: number): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) out[i] = Math.pow(theta, (-2 * i) / headDim);
  return out;
}

export interface RopeShape {
  T: number;
  heads: number;
  headDim: number;
  pos0: number;
  neox: boolean;
  /** Elements between consecutive tokens' rows (default heads * headDim). */
  stride?: number;
  /** Element where token 0's row starts (default 0). */
  offset?: number;
  /** Leading dims of each head that rotate (even, 2..headDim; default headDim); the rest pass through. */
  ropeDims?: number;
}

/**
 * Returns a rotated copy of x. The angle is formed as the GPU forms it, f32(pos) * invFreq[i]
 * rounded to f32 (the f32 error of large angles is part of the model's arithmetic, as in
 * llama.cpp and HF); cos and sin are then taken in f64.
 */
export function ropeRef(x: Float32Array, invFreq: Float32Array, s: RopeShape): Float32Array {
  const y = Float32Array.from(x);
  const half = (s.ropeDims ?? s.headDim) / 2;
  const stride = s.stride ?? s.heads * s.headDim;
  const offset = s.offset ?? 0;
  for (let t = 0; t < s.T; t++) {
    for (let h = 0; h < s.heads; h++) {
      const base = offset + t * stride + h * s.headDim;
      for (let i = 0; i < half; i++) {
        const a = Math.fround((s.pos0 + t) * invFreq[i]!);
        const c = Math.cos(a);
        const sn = Math.sin(a);
        const i0 = s.neox ? base + i : base + 2 * i;
        const i1 = s.neox ? base + i + half : base + 2 * i + 1;
        const x0 = x[i0]!;
        const x1 = x[i1]!;
        y[i0] = x0 * c - x1 * sn;
        y[i1] = x0 * sn + x1 * c;
      }
    }
  }
  return y;
}
