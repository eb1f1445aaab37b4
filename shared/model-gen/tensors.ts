/**
 * The tensors of a model (llama, qwen2, qwen3, phi3, gemma2, gemma3) under llama.cpp's names and
 * ggml shapes, with the statistics each one is drawn with.
 *
 * Shapes are ggml's: a weight that maps `in` features to `out` is stored with dims [in, out]
 * (ne0 = in, the row length). Norm weights and biases are 1-D and stay F32, as llama.cpp's
 * converters keep them.
 *
 * Scaling (why the model's next-token distribution is neither flat nor one-hot): every RMSNorm
 * hands the next matrix inputs of RMS ≈ 1, and each matrix is drawn with std = gain/√fan_in, so
 * its outputs have RMS ≈ gain. q and k use gain 1.5, so attention scores (q·k/√head) spread by
 * about 1.5² and attention is neither uniform nor on a single key. Embedding rows are drawn with
 * std 1/√embd (vectors of length ≈ 1) while every block adds RMS ≈ 1 to the residual stream, so
 * the final hidden state is mostly block output. That matters for tied models: with embeddings
 * as large as the blocks' outputs, a token's own row would dominate its logits (the model would
 * repeat its input with probability ≈ 1). The logits are output·(norm(x)·g) with output rows of
 * std 1/√embd; the output norm's mean, LOGIT_STD, sets their spread over the vocabulary, which
 * gives top-1 probabilities of a few percent to a few tens of percent with a margin to the
 * runner-up. Per-head q/k norms (qwen3, gemma3) have mean 1.5 and stand in for the q/k gains;
 * Gemma's post-norms are near 1 like every other norm.
 */
import { GgmlType, tensorByteSize } from '../gguf/ggml-types';
import { headDim, llama3RopeFactors, type GenType, type ModelConfig } from './config';

/** Standard deviation of the logits over the vocabulary (see the scaling note above). */
export const LOGIT_STD = 2.5;

export type TensorRole = 'embedding' | 'output' | 'norm' | 'output_norm' | 'matrix' | 'bias' | 'rope_freqs';

export interface GenTensor {
  readonly name: string;
  /** ggml dims: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly type: GenType;
  readonly role: TensorRole;
  /** Mean and standard deviation the values are drawn with. */
  readonly mean: number;
  readonly std: number;
  /** Fixed contents instead of random draws (rope_freqs; always F32). */
  readonly values?: Float32Array;
}

const GAIN = { q: 1.5, k: 1.5, v: 1, o: 1, gate: 1, up: 1, down: 1.5 } as const;
/** Relative spread of norm weights around their mean ("near 1"). */
const NORM_JITTER = 0.1;
const BIAS_STD = 0.2;
/**
 * Mean of the per-head q/k RMSNorm weights (qwen3, gemma3): normalised q and k have RMS 1, so
 * these play the part of the q/k gains (scores spread ≈ 1.5²).
 */
const QK_NORM_MEAN = 1.5;

/** Architectures whose graph multiplies the token embeddings by √embd (Gemma). */
export function scalesEmbeddings(c: ModelConfig): boolean {
  return c.arch === 'gemma2' || c.arch === 'gemma3';
}

/** All tensors in the order they are written (llama.cpp's converter order). */
export function modelTensors(c: ModelConfig, type: GenType): GenTensor[] {
  const out: GenTensor[] = [];
  const hd = headDim(c);
  const kvDim = c.kvHeads * hd;
  const qDim = c.heads * hd;
  const gemma = scalesEmbeddings(c);
  const matrix = (name: string, inDim: number, outDim: number, gain: number): void => {
    out.push({ name, dims: [inDim, outDim], type, role: 'matrix', mean: 0, std: gain / Math.sqrt(inDim) });
  };
  const vector = (name: string, n: number, role: 'norm' | 'bias' | 'output_norm', mean: number, std: number): void => {
    out.push({ name, dims: [n], type: 'F32', role, mean, std });
  };
  const norm = (name: string, n: number, mean = 1): void => vector(name, n, 'norm', mean, mean * NORM_JITTER);

  // Rows of length 1 (std 1/√embd). Gemma multiplies the embeddings by √embd in its graph, so its
  // rows are √embd shorter: the residual stream starts as small as elsewhere (a tied model's own
  // token must not dominate its logits), and the output norm is √embd larger to keep LOGIT_STD.
  const rowStd = gemma ? 1 / c.embd : 1 / Math.sqrt(c.embd);
  // Llama 3.1's converter writes rope_freqs before the model's own tensors.
  if (c.ropeScaling) {
    const values = llama3RopeFactors(c);
    out.push({ name: 'rope_freqs.weight', dims: [values.length], type: 'F32', role: 'rope_freqs', mean: 0, std: 0, values });
  }
  out.push({ name: 'token_embd.weight', dims: [c.embd, c.vocab], type, role: 'embedding', mean: 0, std: rowStd });
  for (let b = 0; b < c.blocks; b++) {
    const p = `blk.${b}.`;
    // Gemma's RMSNorm is x·(1 + w); its converter stores 1 + w, so these are "near 1" as well.
    norm(`${p}attn_norm.weight`, c.embd);
    if (c.arch === 'phi3') {
      // One matrix whose output rows are q, then k, then v (llama.cpp's build_qkv views).
      matrix(`${p}attn_qkv.weight`, c.embd, qDim + 2 * kvDim, GAIN.q);
    } else {
      matrix(`${p}attn_q.weight`, c.embd, qDim, GAIN.q);
      if (c.qkvBias) vector(`${p}attn_q.bias`, qDim, 'bias', 0, BIAS_STD);
      matrix(`${p}attn_k.weight`, c.embd, kvDim, GAIN.k);
      if (c.qkvBias) vector(`${p}attn_k.bias`, kvDim, 'bias', 0, BIAS_STD);
      matrix(`${p}attn_v.weight`, c.embd, kvDim, GAIN.v);
      if (c.qkvBias) vector(`${p}attn_v.bias`, kvDim, 'bias', 0, BIAS_STD);
    }
    if (c.arch === 'qwen3' || c.arch === 'gemma3') {
      norm(`${p}attn_q_norm.weight`, hd, QK_NORM_MEAN);
      norm(`${p}attn_k_norm.weight`, hd, QK_NORM_MEAN);
    }
    // With q/k norms the projections' scale is normalised away; keep the usual gains anyway.
    matrix(`${p}attn_output.weight`, qDim, c.embd, GAIN.o);
    if (gemma) norm(`${p}post_attention_norm.weight`, c.embd);
    norm(`${p}ffn_norm.weight`, c.embd);
    if (c.arch === 'phi3') {
      // Gate and up fused: output rows [0, ff) are the gate (SiLU), [ff, 2·ff) the up projection.
      matrix(`${p}ffn_up.weight`, c.embd, 2 * c.ff, GAIN.up);
    } else {
      matrix(`${p}ffn_gate.weight`, c.embd, c.ff, GAIN.gate);
      matrix(`${p}ffn_up.weight`, c.embd, c.ff, GAIN.up);
    }
    matrix(`${p}ffn_down.weight`, c.ff, c.embd, GAIN.down);
    if (gemma) norm(`${p}post_ffw_norm.weight`, c.embd);
  }
  // Logit spread = rowStd·√embd·mean(g) = mean(g), whether token_embd or output.weight scores.
  const outNorm = gemma ? LOGIT_STD * Math.sqrt(c.embd) : LOGIT_STD;
  vector('output_norm.weight', c.embd, 'output_norm', outNorm, outNorm * NORM_JITTER);
  if (!c.tied) out.push({ name: 'output.weight', dims: [c.embd, c.vocab], type, role: 'output', mean: 0, std: rowStd });
  return out;
}

/** Element count of one tensor. */
export function elementCount(t: { readonly dims: readonly number[] }): number {
  return t.dims.reduce((a, b) => a * b, 1);
}

/** Parameters of the model (the elements of every tensor), by arithmetic only. */
export function parameterCount(c: ModelConfig): number {
  return modelTensors(c, 'F32').reduce((n, t) => n + elementCount(t), 0);
}

/** Bytes of one tensor's data in its type. */
export function tensorBytes(t: GenTensor): number {
  return tensorByteSize(GgmlType[t.type], t.dims, { file: '<gen>', field: t.name });
}
