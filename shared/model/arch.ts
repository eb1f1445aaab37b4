/**
 * What a model family does differently from plain llama, as one record the engine and the
 * float64 reference both follow: per-head q/k norms (qwen3, gemma3), fused projections (phi3),
 * GELU instead of SiLU and extra post-norms (gemma), embedding scaling, attention and final
 * logit soft-capping (gemma2), sliding-window layers and their own RoPE base (gemma2/3), and the
 * RoPE frequency tables (Llama 3's `rope_freqs.weight`, Phi-3's short factors, linear scaling).
 * Read from the GGUF metadata the way llama.cpp's loader reads each architecture; a setting we
 * do not implement (YaRN, Phi-3's long-context factors) is refused here, naming the key.
 */
import { kvField } from '../gguf/errors';
import { MetadataReader, type ConfigSource, type ModelConfig } from './config';

export interface ModelArchSpec {
  /** RMSNorm of each head of q and k (weights `attn_q_norm` / `attn_k_norm` [headDim]) before RoPE. */
  readonly qkNorm: boolean;
  /** q, k, v in one matrix `attn_qkv.weight`, rows q | k | v. */
  readonly fusedQkv: boolean;
  /** Gate and up in one `ffn_up.weight` of 2·ff rows, gate first. */
  readonly fusedGateUp: boolean;
  /** The FFN's gate activation: SiLU (SwiGLU) or tanh-approximated GELU (GeGLU). */
  readonly activation: 'silu' | 'gelu';
  /** RMSNorm of the attention and FFN outputs (`post_attention_norm`, `post_ffw_norm`) before each residual add. */
  readonly postNorms: boolean;
  /** The embedding rows are multiplied by this (gemma: √embedding, as f32); 1 otherwise. */
  readonly embeddingScale: number;
  /** Scale of q·k before the softmax. */
  readonly attentionScale: number;
  /** Attention scores become c·tanh(s / c); 0: off. */
  readonly attnSoftcap: number;
  /** Logits become c·tanh(l / c); 0: off. */
  readonly finalSoftcap: number;
  /** Keys a sliding layer's query sees (itself included); 0 when no layer slides. */
  readonly slidingWindow: number;
  /** Per block: does it use the sliding window (and the sliding RoPE base)? */
  readonly sliding: readonly boolean[];
  /** RoPE base of the sliding layers (gemma3: 10000 while the global layers use rope.freq_base). */
  readonly ropeThetaSliding: number;
  /** Linear RoPE scaling of the global layers: positions times this (1 / rope.scaling.factor). */
  readonly ropeFreqScale: number;
  /** The same for the sliding layers (gemma3's local layers are not scaled). */
  readonly ropeFreqScaleSliding: number;
  /** A tensor of per-pair frequency divisors [ropeDims/2] (Llama 3.1 `rope_freqs.weight`, Phi-3 short factors). */
  readonly ropeFactorsTensor: string | null;
  /** Phi-3 long-context files: RoPE's cos and sin are multiplied by this (rope.scaling.attn_factor). */
  readonly ropeAttnFactor: number;
  /** The context the factors were made for: a longer cache would need the long factors (refused). */
  readonly ropeFactorsMaxContext: number | null;
}

/** llama.cpp's set_swa_pattern(n): layer il slides unless il % n == n - 1. */
function swaPattern(blocks: number, n: number): boolean[] {
  return Array.from({ length: blocks }, (_, il) => il % n < n - 1);
}

/** The family's differences from llama, for a configuration read by modelConfigFromGguf. */
export function modelArchFromGguf(src: ConfigSource, c: ModelConfig): ModelArchSpec {
  const r = new MetadataReader(src);
  const arch = c.architecture;
  const k = (suffix: string): string => `${arch}.${suffix}`;
  const gemma = arch === 'gemma2' || arch === 'gemma3';
  const tensors = new Set(src.tensors.map((t) => t.name));

  // RoPE scaling: linear is a position scale; YaRN and the rest change the rotation itself.
  const scalingType = r.string(k('rope.scaling.type')) ?? 'none';
  let ropeFreqScale = 1;
  if (scalingType === 'linear') {
    const factor = r.float(k('rope.scaling.factor'), (x) => Number.isFinite(x) && x > 0, 'must be a positive finite number', 1);
    ropeFreqScale = Math.fround(1 / factor);
  } else if (scalingType !== 'none' && !(arch === 'phi3' && (scalingType === 'longrope' || scalingType === 'su'))) {
    r.fail('MODEL_BAD_HPARAM', kvField(k('rope.scaling.type')), scalingType, 'only linear RoPE scaling (or none) is supported');
  }

  let ropeFactorsTensor: string | null = null;
  let ropeFactorsMaxContext: number | null = null;
  let ropeAttnFactor = 1;
  if (tensors.has('rope_freqs.weight')) {
    ropeFactorsTensor = 'rope_freqs.weight';
  } else if (arch === 'phi3' && tensors.has('rope_factors_short.weight')) {
    // llama.cpp picks the short factors while the context fits the original one.
    ropeFactorsTensor = 'rope_factors_short.weight';
    ropeFactorsMaxContext = r.int(k('rope.scaling.original_context_length'), 1, 1 << 24, c.contextLength);
    ropeAttnFactor = r.float(k('rope.scaling.attn_factor'), (x) => Number.isFinite(x) && x > 0, 'must be a positive finite number', 1);
  }
  if (ropeFactorsTensor) {
    const t = src.tensors.find((x) => x.name === ropeFactorsTensor)!;
    if (t.elementCount !== c.ropeDimensionCount / 2) {
      r.fail('MODEL_TENSOR_SHAPE', `tensor[${JSON.stringify(ropeFactorsTensor)}].dims`, `[${t.dims.join(', ')}]`, `expected [${c.ropeDimensionCount / 2}]: one factor per rotated pair`);
    }
  }

  let slidingWindow = 0;
  let sliding: boolean[] = new Array<boolean>(c.blockCount).fill(false);
  let ropeThetaSliding = c.ropeTheta;
  if (gemma) {
    // gemma2 always slides its even layers (window 4096 unless the file says); gemma3 only when
    // the file names a window, every layer but each sixth (llama.cpp's gemma2.cpp / gemma3.cpp).
    slidingWindow = r.int(k('attention.sliding_window'), 1, 1 << 24, arch === 'gemma2' ? 4096 : 0);
    if (slidingWindow > 0) sliding = swaPattern(c.blockCount, arch === 'gemma2' ? 2 : 6);
    // The sliding layers' base: rope.freq_base_swa, else the global one (gemma2) or 10000 (gemma3).
    ropeThetaSliding = r.float(k('rope.freq_base_swa'), (x) => Number.isFinite(x) && x > 0, 'must be a positive finite number', arch === 'gemma3' ? 10000 : c.ropeTheta);
  }

  // llama.cpp scales gemma's queries by 1/√(embd/heads) for the 27B shapes (46 / 62 blocks), else 1/√headDim.
  const big = (arch === 'gemma2' && c.blockCount === 46) || (arch === 'gemma3' && c.blockCount === 62);
  const attentionScale = big ? 1 / Math.sqrt(c.embeddingLength / c.headCount) : 1 / Math.sqrt(c.headDim);

  return {
    qkNorm: arch === 'qwen3' || arch === 'gemma3',
    fusedQkv: arch === 'phi3' && tensors.has('blk.0.attn_qkv.weight'),
    fusedGateUp: arch === 'phi3',
    activation: gemma ? 'gelu' : 'silu',
    postNorms: gemma,
    embeddingScale: gemma ? Math.fround(Math.sqrt(c.embeddingLength)) : 1,
    attentionScale,
    attnSoftcap: arch === 'gemma2' ? r.float(k('attn_logit_softcapping'), (x) => Number.isFinite(x) && x > 0, 'must be a positive finite number', 50) : 0,
    // gemma2 caps the logits always (30 by default); gemma3 when the file says so.
    finalSoftcap:
      arch === 'gemma2' || (arch === 'gemma3' && r.has(k('final_logit_softcapping')))
        ? r.float(k('final_logit_softcapping'), (x) => Number.isFinite(x) && x > 0, 'must be a positive finite number', 30)
        : 0,
    slidingWindow,
    sliding,
    ropeThetaSliding,
    ropeFreqScale,
    ropeFreqScaleSliding: arch === 'gemma3' ? 1 : ropeFreqScale,
    ropeFactorsTensor,
    ropeAttnFactor,
    ropeFactorsMaxContext,
  };
}

/** The matrices a block of this family holds, by the name the file uses. */
export function blockMatrixNames(spec: ModelArchSpec, b: number): string[] {
  const p = `blk.${b}.`;
  const names = spec.fusedQkv ? [`${p}attn_qkv.weight`] : [`${p}attn_q.weight`, `${p}attn_k.weight`, `${p}attn_v.weight`];
  names.push(`${p}attn_output.weight`);
  if (!spec.fusedGateUp) names.push(`${p}ffn_gate.weight`);
  names.push(`${p}ffn_up.weight`, `${p}ffn_down.weight`);
  return names;
}

/** The vectors (norm weights, biases, factors) the family reads, kept in f32. */
export function modelVectorNames(c: ModelConfig, spec: ModelArchSpec): string[] {
  const names = ['output_norm.weight'];
  if (spec.ropeFactorsTensor) names.push(spec.ropeFactorsTensor);
  for (let b = 0; b < c.blockCount; b++) {
    const p = `blk.${b}.`;
    names.push(`${p}attn_norm.weight`, `${p}ffn_norm.weight`);
    if (c.qkvBias) names.push(`${p}attn_q.bias`, `${p}attn_k.bias`, `${p}attn_v.bias`);
    if (spec.qkNorm) names.push(`${p}attn_q_norm.weight`, `${p}attn_k_norm.weight`);
    if (spec.postNorms) names.push(`${p}post_attention_norm.weight`, `${p}post_ffw_norm.weight`);
  }
  return names;
}
