/**
 * Micro-batches from a token stream. Training windows are drawn at random offsets from a stream
 * of its own per (seed, step, micro-batch), so a run resumed at step s draws exactly what an
 * uninterrupted run would have drawn there: no sampler state needs saving. Validation windows
 * are fixed: consecutive, non-overlapping windows from the start of the validation stream.
 */
import { Xoshiro128 } from '../model-gen/prng';
import { TrainError } from './errors';

export interface BatchSource {
  /** Tokens of micro-batch `micro` of (1-based) step `step`: [batch, seqLen + 1], row-major. */
  microBatch(step: number, micro: number): Int32Array;
}

/** Checks a token stream is long enough for one window and every token is in the vocabulary. */
export function checkTokenStream(tokens: ArrayLike<number>, seqLen: number, vocab: number, what: string): void {
  if (tokens.length < seqLen + 1) {
    throw new TrainError('TRAIN_DATA', `${what}: ${tokens.length} tokens is shorter than one window of ${seqLen + 1} (context ${seqLen} + 1): use more text or a shorter context`, {
      tokens: tokens.length,
      seqLen,
    });
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!(Number.isInteger(t) && t >= 0 && t < vocab)) {
      throw new TrainError('TRAIN_DATA', `${what}: token ${t} at position ${i} is outside the vocabulary of ${vocab}`, { position: i, token: t });
    }
  }
}

export class RandomWindows implements BatchSource {
  constructor(
    private readonly tokens: ArrayLike<number>,
    private readonly batch: number,
    private readonly seqLen: number,
    private readonly seed: number,
    private readonly accum: number,
  ) {}

  microBatch(step: number, micro: number): Int32Array {
    const W = this.seqLen + 1;
    const out = new Int32Array(this.batch * W);
    // One stream per micro-batch of the whole run: (step − 1)·accum + micro.
    const rng = new Xoshiro128(this.seed >>> 0, ((step - 1) * this.accum + micro) >>> 0);
    const span = this.tokens.length - W + 1;
    for (let b = 0; b < this.batch; b++) {
      const start = rng.nextInt(0, span - 1);
      for (let i = 0; i < W; i++) out[b * W + i] = this.tokens[start + i]!;
    }
    return out;
  }
}

/** Up to `maxBatches` micro-batches of consecutive windows from the start of `tokens`. */
export function validationBatches(tokens: ArrayLike<number>, batch: number, seqLen: number, maxBatches: number): Int32Array[] {
  const W = seqLen + 1;
  const windows = Math.floor((tokens.length - 1) / seqLen);
  const out: Int32Array[] = [];
  for (let first = 0; first + batch <= windows && out.length < maxBatches; first += batch) {
    const a = new Int32Array(batch * W);
    for (let b = 0; b < batch; b++) for (let i = 0; i < W; i++) a[b * W + i] = tokens[(first + b) * seqLen + i]!;
    out.push(a);
  }
  return out;
}
