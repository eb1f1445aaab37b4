/**
 * Reference forward pass of every family we run on the CPU (model.ts on the GPU), over dequantised
 * weights, returning the logits of every position. Dot products run in f64 and activations are
 * stored as f32 between ops, as the GPU stores them. Slow and plain: for tests on tiny models.
 *
 * `activationRounding` reproduces how llama.cpp's CPU backend feeds activations to a weight
 * matrix: it converts them to the weight type's "vec_dot_type" first: F16 for F16 weights,
 * BF16 for BF16, Q8_0 (blocks of 32, f16 scale) for Q8_0, Q4_0, Q5_0 and IQ4_NL, Q8_1 for
 * Q4_1 and Q5_1 (the same rounded values as Q8_0; it also carries d·Σq as f16 for the
 * offset term, which is not modelled), Q8_K (blocks of 256, f32 scale) for the K-quants and
 * IQ4_XS, f32 (untouched) for F32. The parity tests use it to show that the distance
 * between our engine and llama.cpp on quantised models is that rounding and nothing else.
 */
import type { ModelArchSpec, ModelConfig } from '../../model';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from '../../quant';
import type { LoraValues } from '../lora';
import { layerRopeInvFreq } from '../model';
import { attentionRef } from './attention';
import { gelu, silu } from './elementwise';
import { ropeRef } from './rope';

/**
 * 'q8_1': Q8_0's rounding of the values, and the dot product as ggml_vec_dot_q4_1/q5_1_q8_1
 * forms it: Σ_blocks d_w·d_x·Σ q_w q_x + m_w·s_x, with s_x = f16(d_x · Σ q_x) standing for the
 * block's sum (needs the weight's raw blocks: ReferenceWeights.raw).
 */
export type ActivationRounding = 'none' | 'f16' | 'bf16' | 'q8_0' | 'q8_1' | 'q8_k';

/** llama.cpp's vec_dot_type per weight type (ggml-cpu type traits). */
export function llamaCppActivationRounding(weightType: string): ActivationRounding {
  switch (weightType) {
    case 'F16':
      return 'f16';
    case 'BF16':
      return 'bf16';
    case 'Q8_0':
    case 'Q4_0':
    case 'Q5_0':
    case 'IQ4_NL':
      return 'q8_0';
    case 'Q4_1':
    case 'Q5_1':
      return 'q8_1';
    case 'Q2_K':
    case 'Q3_K':
    case 'Q4_K':
    case 'Q5_K':
    case 'Q6_K':
    case 'IQ4_XS':
      return 'q8_k';
    default:
      return 'none';
  }
}

/** Round-to-nearest-even, as the SIMD quantisers (_mm256_round_ps, nearest_int) round. */
function rint(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** x as llama.cpp hands it to a dot product with weights of the given rounding (in place on a copy). */
export function roundActivations(x: Float32Array, mode: ActivationRounding): Float32Array {
  if (mode === 'none') return x;
  if (mode === 'q8_1') mode = 'q8_0'; // the same values; the sums are the dot product's business
  const y = new Float32Array(x.length);
  if (mode === 'f16') {
    for (let i = 0; i < x.length; i++) y[i] = f16ToF32(f32ToF16(x[i]!));
    return y;
  }
  if (mode === 'bf16') {
    for (let i = 0; i < x.length; i++) y[i] = bf16ToF32(f32ToBf16(x[i]!));
    return y;
  }
  const block = mode === 'q8_0' ? 32 : 256;
  for (let b = 0; b < x.length; b += block) {
    if (mode === 'q8_0') {
      // quantize_row_q8_0: d = amax / 127 stored as f16; q = round(x · 127 / amax).
      let amax = 0;
      for (let j = 0; j < block; j++) amax = Math.max(amax, Math.abs(x[b + j]!));
      const d = f16ToF32(f32ToF16(Math.fround(amax / 127)));
      const id = amax ? Math.fround(127 / amax) : 0;
      for (let j = 0; j < block; j++) y[b + j] = rint(Math.fround(x[b + j]! * id)) * d;
    } else {
      // quantize_row_q8_K: the value of largest magnitude sets iscale = -127 / max; d = 1 / iscale (f32).
      let max = 0;
      let amax = 0;
      for (let j = 0; j < block; j++) {
        const v = x[b + j]!;
        if (Math.abs(v) > amax) {
          amax = Math.abs(v);
          max = v;
        }
      }
      if (amax === 0) continue;
      const iscale = Math.fround(-127 / max);
      const d = Math.fround(1 / iscale);
      for (let j = 0; j < block; j++) y[b + j] = Math.min(127, rint(Math.fround(iscale * x[b + j]!))) * d;
    }
  }
  return y;
}

export interface ReferenceWeights {
  /** Dequantised values of a tensor, row-major as ggml stores it. */
  tensor(name: string): Float32Array;
  /** ggml type name of a tensor ("F32", "Q4_K"). */
  type(name: string): string;
  /** The tensor's stored bytes (only the 'q8_1' emulation needs them). */
  raw?(name: string): Uint8Array;
}

/**
 * y[t, r] as llama.cpp's Q4_1 / Q5_1 × Q8_1 dot product forms it (see ActivationRounding): x
 * quantised per 32 values as quantize_row_q8_1 does (d = amax/127, q = round(x·127/amax), the
 * scale stored as f16, s = f16(d·Σq)), the weight's own d, m and q from its blocks.
 */
function matmulQ8_1(raw: Uint8Array, type: 'Q4_1' | 'Q5_1', rows: number, cols: number, x: Float32Array, T: number): Float32Array {
  const bpb = type === 'Q4_1' ? 20 : 24;
  const nb = cols / 32;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const y = new Float32Array(T * rows);
  const qw = new Int32Array(32);
  for (let t = 0; t < T; t++) {
    // The activation row's Q8_1 blocks.
    const dx = new Float64Array(nb);
    const sx = new Float64Array(nb);
    const qx = new Int32Array(cols);
    for (let b = 0; b < nb; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[t * cols + b * 32 + j]!));
      const d = Math.fround(amax / 127);
      const id = amax ? Math.fround(127 / amax) : 0;
      let sum = 0;
      for (let j = 0; j < 32; j++) {
        const q = rint(Math.fround(x[t * cols + b * 32 + j]! * id));
        qx[b * 32 + j] = q;
        sum += q;
      }
      dx[b] = f16ToF32(f32ToF16(d));
      sx[b] = f16ToF32(f32ToF16(Math.fround(d * sum)));
    }
    for (let r = 0; r < rows; r++) {
      let acc = 0;
      for (let b = 0; b < nb; b++) {
        const o = (r * nb + b) * bpb;
        const dw = f16ToF32(dv.getUint16(o, true));
        const mw = f16ToF32(dv.getUint16(o + 2, true));
        const qh = type === 'Q5_1' ? dv.getUint32(o + 4, true) : 0;
        const qs = o + (type === 'Q5_1' ? 8 : 4);
        for (let j = 0; j < 16; j++) {
          const byte = raw[qs + j]!;
          qw[j] = (byte & 15) | (((qh >>> j) & 1) << 4);
          qw[j + 16] = (byte >> 4) | (((qh >>> (j + 16)) & 1) << 4);
        }
        let dot = 0;
        for (let j = 0; j < 32; j++) dot += qw[j]! * qx[b * 32 + j]!;
        acc += dw * dx[b]! * dot + mw * sx[b]!;
      }
      y[t * rows + r] = acc;
    }
  }
  return y;
}

export interface ReferenceOptions {
  /** How activations are rounded before meeting a weight of a given type (default: not at all). */
  activationRounding?: (weightType: string, tensor: string) => ActivationRounding;
  /**
   * GELU as llama.cpp's CPU backend computes it (ggml_vec_geglu_f32 with GGML_GELU_FP16): a table
   * over f16 inputs, so gelu(x) = f16(gelu(f16(x))), 0 below −10 and x above 10. Default: exact.
   */
  geluF16Table?: boolean;
  /** A LoRA adapter's pairs by base tensor name (engine/lora.ts readLoraValues): y += s·B·(A·x). */
  lora?: ReadonlyMap<string, LoraValues>;
  /** Hears the residual stream x [T × embedding] after each block (a view: copy what you keep). */
  onBlock?: (block: number, x: Float32Array) => void;
}

/** llama.cpp's table GELU (see ReferenceOptions.geluF16Table). */
export function geluF16Table(x: number): number {
  if (x <= -10) return 0;
  if (x >= 10) return x;
  return f16ToF32(f32ToF16(Math.fround(gelu(f16ToF32(f32ToF16(x))))));
}

/** Y[t, r] = Σ_c W[r, c] · X[t, c] in f64, stored as f32. */
function matmul(w: Float32Array, rows: number, cols: number, x: Float32Array, T: number): Float32Array {
  const y = new Float32Array(T * rows);
  for (let t = 0; t < T; t++) {
    const xo = t * cols;
    for (let r = 0; r < rows; r++) {
      const wo = r * cols;
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[wo + c]! * x[xo + c]!;
      y[t * rows + r] = s;
    }
  }
  return y;
}

function rmsnorm(x: Float32Array, w: Float32Array, T: number, n: number, eps: number): Float32Array {
  const y = new Float32Array(T * n);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[t * n + i]! * x[t * n + i]!;
    const inv = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) y[t * n + i] = x[t * n + i]! * inv * w[i]!;
  }
  return y;
}

/** The k-th column block [T, width] of a [T, stride] matrix, starting at column `from`. */
function columns(m: Float32Array, T: number, stride: number, from: number, width: number): Float32Array {
  const out = new Float32Array(T * width);
  for (let t = 0; t < T; t++) out.set(m.subarray(t * stride + from, t * stride + from + width), t * width);
  return out;
}

/**
 * Logits [ids.length, vocab] for the tokens `ids` from position 0, for any family we run: the
 * llama block with what `arch` adds (shared/model/arch.ts), in llama.cpp's order.
 */
export function referenceForward(c: ModelConfig, arch: ModelArchSpec, wts: ReferenceWeights, ids: readonly number[], opts: ReferenceOptions = {}): Float32Array {
  const T = ids.length;
  const E = c.embeddingLength;
  const HD = c.headDim;
  const qDim = c.headCount * HD;
  const kvDim = c.headCountKv * HD;
  const F = c.feedForwardLength;
  const round = opts.activationRounding ?? (() => 'none' as const);
  const proj = (name: string, x: Float32Array, rows: number, cols: number) => {
    const mode = round(wts.type(name), name);
    const type = wts.type(name);
    const y =
      mode === 'q8_1' && wts.raw && (type === 'Q4_1' || type === 'Q5_1')
        ? matmulQ8_1(wts.raw(name), type, rows, cols, x, T)
        : matmul(wts.tensor(name), rows, cols, roundActivations(x, mode), T);
    const l = opts.lora?.get(name);
    if (l) {
      const ab = matmul(l.b, rows, l.rank, matmul(l.a, l.rank, cols, x, T), T);
      for (let i = 0; i < y.length; i++) y[i] = y[i]! + Math.fround(l.scale * ab[i]!);
    }
    return y;
  };
  const factors = arch.ropeFactorsTensor ? wts.tensor(arch.ropeFactorsTensor) : null;
  const tables = [false, true].map((sliding) => layerRopeInvFreq(c, arch, sliding, factors));
  const neox = c.ropeType === 'neox';
  const rope = { T, headDim: HD, pos0: 0, neox, ropeDims: c.ropeDimensionCount };
  const scale = arch.attentionScale * arch.ropeAttnFactor * arch.ropeAttnFactor;

  const emb = wts.tensor('token_embd.weight');
  const x = new Float32Array(T * E);
  ids.forEach((id, t) => x.set(emb.subarray(id * E, (id + 1) * E), t * E));
  if (arch.embeddingScale !== 1) for (let i = 0; i < x.length; i++) x[i] = x[i]! * arch.embeddingScale;

  for (let b = 0; b < c.blockCount; b++) {
    const p = `blk.${b}.`;
    const sliding = arch.sliding[b] ?? false;
    let h = rmsnorm(x, wts.tensor(`${p}attn_norm.weight`), T, E, c.rmsEps);
    let q: Float32Array;
    let k: Float32Array;
    let v: Float32Array;
    if (arch.fusedQkv) {
      const qkv = proj(`${p}attn_qkv.weight`, h, qDim + 2 * kvDim, E);
      q = columns(qkv, T, qDim + 2 * kvDim, 0, qDim);
      k = columns(qkv, T, qDim + 2 * kvDim, qDim, kvDim);
      v = columns(qkv, T, qDim + 2 * kvDim, qDim + kvDim, kvDim);
    } else {
      q = proj(`${p}attn_q.weight`, h, qDim, E);
      k = proj(`${p}attn_k.weight`, h, kvDim, E);
      v = proj(`${p}attn_v.weight`, h, kvDim, E);
    }
    if (c.qkvBias) {
      for (const [m, name, n] of [[q, 'q', qDim], [k, 'k', kvDim], [v, 'v', kvDim]] as const) {
        const bias = wts.tensor(`${p}attn_${name}.bias`);
        for (let i = 0; i < m.length; i++) m[i] = m[i]! + bias[i % n]!;
      }
    }
    if (arch.qkNorm) {
      // Each head's row normalised on its own: rows = T · heads of headDim.
      q = rmsnorm(q, wts.tensor(`${p}attn_q_norm.weight`), T * c.headCount, HD, c.rmsEps);
      k = rmsnorm(k, wts.tensor(`${p}attn_k_norm.weight`), T * c.headCountKv, HD, c.rmsEps);
    }
    const invFreq = tables[sliding ? 1 : 0]!;
    q = ropeRef(q, invFreq, { ...rope, heads: c.headCount });
    k = ropeRef(k, invFreq, { ...rope, heads: c.headCountKv });
    const att = attentionRef(q, k, v, {
      T,
      heads: c.headCount,
      kvHeads: c.headCountKv,
      headDim: HD,
      pos0: 0,
      scale,
      softcap: arch.attnSoftcap,
      window: sliding ? arch.slidingWindow : 0,
    });
    let o = proj(`${p}attn_output.weight`, att, E, qDim);
    if (arch.postNorms) o = rmsnorm(o, wts.tensor(`${p}post_attention_norm.weight`), T, E, c.rmsEps);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + o[i]!;
    h = rmsnorm(x, wts.tensor(`${p}ffn_norm.weight`), T, E, c.rmsEps);
    let g: Float32Array;
    let u: Float32Array;
    if (arch.fusedGateUp) {
      const gu = proj(`${p}ffn_up.weight`, h, 2 * F, E);
      g = columns(gu, T, 2 * F, 0, F);
      u = columns(gu, T, 2 * F, F, F);
    } else {
      g = proj(`${p}ffn_gate.weight`, h, F, E);
      u = proj(`${p}ffn_up.weight`, h, F, E);
    }
    const act = new Float32Array(T * F);
    const f = arch.activation === 'gelu' ? (opts.geluF16Table ? geluF16Table : gelu) : silu;
    for (let i = 0; i < act.length; i++) act[i] = f(g[i]!) * u[i]!;
    let d = proj(`${p}ffn_down.weight`, act, E, F);
    if (arch.postNorms) d = rmsnorm(d, wts.tensor(`${p}post_ffw_norm.weight`), T, E, c.rmsEps);
    for (let i = 0; i < x.length; i++) x[i] = x[i]! + d[i]!;
    opts.onBlock?.(b, x);
  }
  const h = rmsnorm(x, wts.tensor('output_norm.weight'), T, E, c.rmsEps);
  const logits = proj(c.tiedOutput ? 'token_embd.weight' : 'output.weight', h, c.vocabSize, E);
  if (arch.finalSoftcap) {
    const cap = arch.finalSoftcap;
    for (let i = 0; i < logits.length; i++) logits[i] = cap * Math.tanh(logits[i]! / cap);
  }
  return logits;
}

/** log-softmax of each row of [rows, n] logits, in f64. */
export function logSoftmaxRows(logits: ArrayLike<number>, rows: number, n: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, logits[r * n + i]!);
    let s = 0;
    for (let i = 0; i < n; i++) s += Math.exp(logits[r * n + i]! - m);
    const lse = m + Math.log(s);
    const row = new Float64Array(n);
    for (let i = 0; i < n; i++) row[i] = logits[r * n + i]! - lse;
    out.push(row);
  }
  return out;
}
