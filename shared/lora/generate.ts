/**
 * Seeded random LoRA adapters for tests and demos: a GGUF that llama.cpp loads as a LoRA for a
 * given base model (general.architecture copied from the base, general.type = "adapter",
 * adapter.type = "lora", adapter.lora.alpha), with a pair <target>.lora_a / .lora_b per target.
 *
 * Values. lora_a ([in, r]) is drawn N(0, 1/in), so A·x has entries of RMS ≈ RMS(x). lora_b
 * ([r, out]) is not zero as a training run would start it (a zero B changes nothing): it is drawn
 * with std gain / (|s|·√r), s = the adapter's own scale alpha / rank (1 when alpha is 0), so the
 * update s·B·A applied at user scale 1 maps inputs of RMS 1 to outputs of RMS ≈ gain whatever
 * alpha and rank are. The generated models' matrices have gains 1 to 1.5 (model-gen/tensors.ts),
 * and their next-token log-probs are sensitive to every matrix: perturbing each adapted matrix
 * by a fraction g of its output moves them roughly in proportion to g. Measured in llama.cpp
 * (rank 8, the default targets, 16 positions × all 1024 tokens, tiny-llama / tiny-qwen2 /
 * tiny-phi3 / tiny-gemma2, F32): g = 0.01 moves them by 0.42–0.49 at most (RMS 0.08–0.11, the
 * top-1 token changes at 0 to 2 of 16 positions); g = 0.02 by about 1, g = 0.1 by about 4 (top-1
 * changes at half the positions). DEFAULT_LORA_GAIN is 0.01: an effect a test sees well above
 * numerical noise, far from degenerate. The user scale multiplies the update linearly.
 *
 * Each tensor draws from its own stream, Xoshiro128.forTensor(seed, tensor name), so an adapter's
 * values do not depend on which other targets it has, nor on F32 vs F16 (F16 holds the same
 * draws rounded).
 */
import type { ModelHeader } from '../engine/tensor-source';
import { Xoshiro128 } from '../model-gen/prng';
import { isEmbeddingTarget, LORA_A_SUFFIX, LORA_B_SUFFIX, loraScale } from './adapter';
import { LoraError } from './errors';
import { writeLoraAdapterBytes } from './write';

export interface LoraGenOptions {
  /** The model the adapter is for: its architecture and the shapes of the target matrices. */
  readonly base: ModelHeader;
  /** r: an integer from 1 to min(in, out) of every target. */
  readonly rank: number;
  /** adapter.lora.alpha (finite; 0 means "no alpha": llama.cpp's scale is then the user's alone). */
  readonly alpha: number;
  /**
   * Base matrices to adapt (2-D tensors of the base; token_embd.weight, whose pairs llama.cpp
   * lays out the other way round, is not generated). Default: defaultLoraTargets(base).
   */
  readonly targets?: readonly string[];
  /** Seeds every tensor's stream: an integer from 0 to 2^32 − 1. */
  readonly seed: number;
  /** Type of the lora_a / lora_b tensors (default F32). */
  readonly type?: 'F32' | 'F16';
  /**
   * Gain of the update s·B·A at user scale 1 (RMS out / RMS in), which sets lora_b's spread;
   * default DEFAULT_LORA_GAIN. 0 writes an all-zero lora_b (an adapter that changes nothing).
   */
  readonly scaleB?: number;
  /** Names the output in errors (default `<lora adapter>`). */
  readonly name?: string;
}

/** The default gain of each adapted matrix's update (see the note at the top of this file). */
export const DEFAULT_LORA_GAIN = 0.01;

const DEFAULT_TARGET = /^blk\.\d+\.(attn_q|attn_k|attn_v|attn_qkv|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/;

/**
 * The matrices a generated adapter adapts by default: every blk.N.attn_q / attn_k / attn_v /
 * attn_qkv (phi3's fused one) / attn_output / ffn_gate / ffn_up / ffn_down .weight the base has,
 * in the base's order.
 */
export function defaultLoraTargets(base: ModelHeader): string[] {
  return base.tensors.filter((t) => DEFAULT_TARGET.test(t.name) && isMatrix(t.dims)).map((t) => t.name);
}

function isMatrix(dims: readonly number[]): boolean {
  return dims.length >= 2 && dims.slice(2).every((d) => d === 1);
}

/** A whole LoRA adapter GGUF in memory (see the note at the top of this file). */
export function generateLoraAdapterBytes(opts: LoraGenOptions): Uint8Array {
  const file = opts.name ?? '<lora adapter>';
  const bad = (field: string, value: unknown, what: string): never => {
    throw new LoraError('LORA_BAD_OPTION', { file, field }, value, what);
  };
  const { base, rank, alpha, seed } = opts;
  const type = opts.type ?? 'F32';
  const gain = opts.scaleB ?? DEFAULT_LORA_GAIN;
  if (type !== 'F32' && type !== 'F16') bad('type', type, 'adapters are written as F32 or F16');
  if (!Number.isInteger(rank) || rank < 1) bad('rank', rank, 'must be an integer of at least 1');
  if (!Number.isFinite(Math.fround(alpha))) bad('alpha', alpha, 'must be a finite float32');
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) bad('seed', seed, 'must be an integer from 0 to 2^32 - 1');
  if (!Number.isFinite(gain) || gain < 0) bad('scaleB', gain, 'must be a finite number of at least 0');
  const archValue = base.metadata.get('general.architecture');
  if (archValue?.type !== 'string') bad('base', base.file, 'the base model names no general.architecture');

  const targets = opts.targets ?? defaultLoraTargets(base);
  if (targets.length === 0) bad('targets', opts.targets ? '[]' : 'default', `no matrix to adapt in ${base.file}`);
  const byName = new Map(base.tensors.map((t) => [t.name, t] as const));
  const seen = new Set<string>();
  const shapes = targets.map((target, i) => {
    const field = `targets[${i}]`;
    const t = byName.get(target);
    if (!t) return bad(field, target, `the base model ${base.file} has no tensor of this name`);
    if (seen.has(target)) return bad(field, target, 'named twice');
    seen.add(target);
    if (!isMatrix(t.dims)) return bad(field, target, `not a matrix: its dims are [${t.dims.join(', ')}]`);
    if (isEmbeddingTarget(target)) return bad(field, target, 'token_embd pairs (A and B swapped, as llama.cpp lays them out) are not generated');
    const [inDim, outDim] = [t.dims[0]!, t.dims[1]!];
    if (rank > Math.min(inDim, outDim)) bad('rank', rank, `exceeds min(in, out) = ${Math.min(inDim, outDim)} of ${target} [${inDim}, ${outDim}]`);
    return { target, inDim, outDim };
  });

  const s = Math.abs(loraScale({ alpha }, { rank }));
  const bStd = gain / (s * Math.sqrt(rank));
  const pairs = shapes.map(({ target, inDim, outDim }) => {
    const a = new Float32Array(inDim * rank);
    Xoshiro128.forTensor(seed, target + LORA_A_SUFFIX).fillNormal(a, 1 / Math.sqrt(inDim));
    const b = new Float32Array(rank * outDim);
    if (bStd > 0) Xoshiro128.forTensor(seed, target + LORA_B_SUFFIX).fillNormal(b, bStd);
    return { target, inDim, outDim, a, b };
  });
  return writeLoraAdapterBytes({ base, rank, alpha, pairs, type, title: `pxi lora (rank ${rank}, seed ${seed})`, name: file });
}
