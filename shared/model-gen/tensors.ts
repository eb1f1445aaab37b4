/**
 * The tensors of a llama / qwen2 model under llama.cpp's names and ggml shapes, with the
 * statistics each one is drawn with.
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
 * runner-up.
 */
import { GgmlType, tensorByteSize } from '../gguf/ggml-types';
import { headDim, type GenType, type ModelConfig } from './config';

/** Standard deviation of the logits over the vocabulary (see the scaling note above). */
export const LOGIT_STD = 2.5;

export type TensorRole = 'embedding' | 'output' | 'norm' | 'output_norm' | 'matrix' | 'bias';

export interface GenTensor {
  readonly name: string;
  /** ggml dims: dims[0] is the row length. */
  readonly dims: readonly number[];
  readonly type: GenType;
  readonly role: TensorRole;
  /** Mean and standard deviation the values are drawn with. */
  readonly mean: number;
  readonly std: number;
}

const GAIN = { q: 1.5, k: 1.5, v: 1, o: 1, gate: 1, up: 1, down: 1.5 } as const;
/** Relative spread of norm weights around their mean ("near 1"). */
const NORM_JITTER = 0.1;
const BIAS_STD = 0.2;

/** All tensors in the order they are written (llama.cpp's converter order). */
export function modelTensors(c: ModelConfig, type: GenType): GenTensor[] {
  const out: GenTensor[] = [];
  const hd = headDim(c);
  const kvDim = c.kvHeads * hd;
  const qDim = c.heads * hd;
  const matrix = (name: string, inDim: number, outDim: number, gain: number): void => {
    out.push({ name, dims: [inDim, outDim], type, role: 'matrix', mean: 0, std: gain / Math.sqrt(inDim) });
  };
  const vector = (name: string, n: number, role: 'norm' | 'bias' | 'output_norm', mean: number, std: number): void => {
    out.push({ name, dims: [n], type: 'F32', role, mean, std });
  };

  const rowStd = 1 / Math.sqrt(c.embd);
  out.push({ name: 'token_embd.weight', dims: [c.embd, c.vocab], type, role: 'embedding', mean: 0, std: rowStd });
  for (let b = 0; b < c.blocks; b++) {
    const p = `blk.${b}.`;
    vector(`${p}attn_norm.weight`, c.embd, 'norm', 1, NORM_JITTER);
    matrix(`${p}attn_q.weight`, c.embd, qDim, GAIN.q);
    if (c.qkvBias) vector(`${p}attn_q.bias`, qDim, 'bias', 0, BIAS_STD);
    matrix(`${p}attn_k.weight`, c.embd, kvDim, GAIN.k);
    if (c.qkvBias) vector(`${p}attn_k.bias`, kvDim, 'bias', 0, BIAS_STD);
    matrix(`${p}attn_v.weight`, c.embd, kvDim, GAIN.v);
    if (c.qkvBias) vector(`${p}attn_v.bias`, kvDim, 'bias', 0, BIAS_STD);
    matrix(`${p}attn_output.weight`, qDim, c.embd, GAIN.o);
    vector(`${p}ffn_norm.weight`, c.embd, 'norm', 1, NORM_JITTER);
    matrix(`${p}ffn_gate.weight`, c.embd, c.ff, GAIN.gate);
    matrix(`${p}ffn_up.weight`, c.embd, c.ff, GAIN.up);
    matrix(`${p}ffn_down.weight`, c.ff, c.embd, GAIN.down);
  }
  // Logit spread = rowStd·√embd·mean(g) = mean(g), whether token_embd or output.weight scores.
  vector('output_norm.weight', c.embd, 'output_norm', LOGIT_STD, LOGIT_STD * NORM_JITTER);
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
