/**
 * Helpers for the engine and parity tests: models from files or generated in memory, loaded
 * into one shared WebGPU context; the CPU reference forward over the same bytes; log-prob
 * comparisons that report where and by how much.
 */
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { memorySource } from '../../shared/binary/byte-source';
import { parseIntMatvec } from '../../shared/engine/int-matvec';
import { Model, type ModelLoadOptions } from '../../shared/engine/model';
import { logSoftmaxRows, referenceForward, type ReferenceOptions } from '../../shared/engine/reference/forward';
import { openGgufTensorSource, tensorTypeName, type TensorSource } from '../../shared/engine/tensor-source';
import type { GpuContext } from '../../shared/gpu';
import { generateModelBytes, planModel, type GenMethod, type GenType } from '../../shared/model-gen';
import { getQuantFormat } from '../../shared/quant';
import { tokenizerFromGguf, type Tokenizer } from '../../shared/tokenizer';

export interface LoadedModel {
  source: TensorSource;
  tokenizer: Tokenizer;
  model: Model;
}

export async function sourceFromBytes(bytes: Uint8Array, name: string): Promise<TensorSource> {
  return openGgufTensorSource(memorySource(bytes), name);
}

/**
 * $PXI_INT_MATVEC forces the integer decode kernels (`dot4-r2`, or `Q8_0=dot4,Q4_0=int`; see
 * parseIntMatvec) into every model the tests load, to run the parity tests through them.
 */
const FORCED_INT_MATVEC = parseIntMatvec(process.env.PXI_INT_MATVEC ?? '');

export async function loadBytes(ctx: GpuContext, bytes: Uint8Array, name: string, opts: ModelLoadOptions = {}): Promise<LoadedModel> {
  const source = await sourceFromBytes(bytes, name);
  const o = Object.keys(FORCED_INT_MATVEC).length && !opts.intMatvec ? { ...opts, intMatvec: FORCED_INT_MATVEC } : opts;
  return { source, tokenizer: tokenizerFromGguf(source.header.metadata, name), model: await Model.load(ctx, source, o) };
}

export function loadFile(ctx: GpuContext, path: string, opts: ModelLoadOptions = {}): Promise<LoadedModel> {
  return loadBytes(ctx, new Uint8Array(readFileSync(path)), path, opts);
}

/** A generated tiny model (seed 0). K-quants by the fast `direct` method, the rest quantised from normal values. */
export function generatedBytes(preset: 'tiny-llama' | 'tiny-qwen2', type: GenType, method: GenMethod = 'quantize'): Promise<Uint8Array> {
  return generateModelBytes(planModel({ preset, type, seed: 0, method }));
}

/** Logits of the CPU reference forward pass (f64 dot products over dequantised weights), as log-probs per position. */
export async function referenceLogProbs(source: TensorSource, model: Model, ids: readonly number[], opts: ReferenceOptions = {}): Promise<Float64Array[]> {
  const byName = new Map(source.header.tensors.map((t) => [t.name, t] as const));
  const values = new Map<string, Float32Array>();
  const raw = new Map<string, Uint8Array>();
  for (const t of source.header.tensors) {
    const bytes = await source.read(t.name, 0, t.byteSize);
    raw.set(t.name, bytes);
    values.set(t.name, getQuantFormat(tensorTypeName(t)).dequantize(bytes, t.elementCount));
  }
  const logits = referenceForward(model.config, model.arch, { tensor: (n) => values.get(n)!, type: (n) => tensorTypeName(byName.get(n)!), raw: (n) => raw.get(n)! }, ids, opts);
  return logSoftmaxRows(logits, ids.length, model.vocabSize);
}

export function logProbsOf(logits: Float32Array, rows: number, vocab: number): Float64Array[] {
  return logSoftmaxRows(logits, rows, vocab);
}

export interface LogProbDiff {
  /** max over positions and tokens of |a − b|. */
  max: number;
  /** Where it is: [position, token]. */
  at: [number, number];
  /** Per position, max over tokens. */
  perPosition: number[];
  /** Root mean square over every position and token (where both are finite). */
  rms: number;
}

export function diffLogProbs(a: readonly Float64Array[], b: readonly Float64Array[]): LogProbDiff {
  if (a.length !== b.length) throw new Error(`positions differ: ${a.length} vs ${b.length}`);
  let max = 0;
  let at: [number, number] = [0, 0];
  let sq = 0;
  let n = 0;
  const perPosition = a.map((row, t) => {
    const other = b[t]!;
    if (row.length !== other.length) throw new Error(`vocabulary differs at ${t}: ${row.length} vs ${other.length}`);
    let m = 0;
    for (let i = 0; i < row.length; i++) {
      const d = Math.abs(row[i]! - other[i]!);
      // An underflowed probability on one side (−∞) only counts where the other side is not tiny too.
      const dd = Number.isFinite(d) ? d : Math.max(row[i]!, other[i]!) < -80 ? 0 : Infinity;
      if (Number.isFinite(d)) {
        sq += d * d;
        n++;
      }
      if (dd > m) m = dd;
      if (dd > max) {
        max = dd;
        at = [t, i];
      }
    }
    return m;
  });
  return { max, at, perPosition, rms: n ? Math.sqrt(sq / n) : 0 };
}

/** Index of the largest value and the margin to the second largest. */
export function top2(row: ArrayLike<number>): { top: number; margin: number } {
  let a = -1;
  let b = -1;
  for (let i = 0; i < row.length; i++) {
    if (a < 0 || row[i]! > row[a]!) {
      b = a;
      a = i;
    } else if (b < 0 || row[i]! > row[b]!) b = i;
  }
  return { top: a, margin: row[a]! - row[b]! };
}

/**
 * Our greedy continuation of `prompt` (from position 0) against llama.cpp's tokens `want`, token
 * by token through the decode path. The first difference is allowed only at a near-tie: our own
 * margin between the first two tokens below `tol` (asserted); the walk stops there. Returns the
 * tokens that agreed.
 */
export async function greedyAgreement(model: Model, prompt: readonly number[], want: readonly number[], tol: number): Promise<number[]> {
  model.rewind(0);
  let logits = (await model.forward(prompt, 'last')).logits!;
  const got: number[] = [];
  for (let i = 0; i < want.length; i++) {
    const { top, margin } = top2(logProbsOf(logits, 1, model.vocabSize)[0]!);
    if (top !== want[i]) {
      expect(margin, `greedy token ${i}: ours ${top}, llama.cpp ${want[i]} with our margin ${margin}`).toBeLessThan(tol);
      break;
    }
    got.push(top);
    logits = (await model.forward([top], 'last')).logits!;
  }
  return got;
}

/** A 64-token-plus English text in the style of the TinyStories data stories260K was trained on. */
export const STORY_TEXT =
  'One day, a little boy named Tim went to the park with his mom. He saw a big tree and wanted to climb it. ' +
  'His mom said, "Be careful, Tim!" Tim climbed up and saw a bird in a nest. The bird was happy and sang a song. ' +
  'Tim smiled and climbed down to tell his mom.';
