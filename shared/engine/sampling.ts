import { PxiError } from '../errors';

/**
 * CPU token sampling over read-back logits (the GPU does argmax/softmax; the rest is cheap here).
 * The chain follows llama.cpp's default order:
 *   penalties -> top-k -> top-p -> min-p -> temperature -> draw
 * so top-p and min-p see probabilities before temperature, as in llama.cpp. temperature <= 0
 * means greedy: the largest logit after penalties (the lowest id on ties).
 * Repetition penalty as llama.cpp applies it: over the last `repeatLastN` tokens, each distinct
 * token's logit is divided by `repeatPenalty` when positive and multiplied when not (once, however
 * often it occurred), then `frequencyPenalty * count + presencePenalty` is subtracted.
 */

export interface SamplerOptions {
  /** <= 0: greedy. Default 0.8. */
  temperature?: number;
  /** Keep the k most likely tokens; <= 0 disables. Default 40. */
  topK?: number;
  /** Keep the smallest prefix whose probability reaches p; >= 1 disables. Default 0.95. */
  topP?: number;
  /** Drop tokens with p < minP * p_max; <= 0 disables. Default 0.05. */
  minP?: number;
  /** 1 disables. Default 1. */
  repeatPenalty?: number;
  /** How many recent tokens the penalties look at; -1 = all, 0 = none. Default 64. */
  repeatLastN?: number;
  frequencyPenalty?: number;
  presencePenalty?: number;
  /** PRNG seed (u32). Default 0. */
  seed?: number;
}

export class SamplerOptionError extends PxiError {
  constructor(field: string, value: unknown, why: string) {
    super('SAMPLER_OPTION', `sampler option ${field} = ${String(value)}: ${why}`, { field, value });
  }
}

const DEFAULTS: Required<SamplerOptions> = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,
  repeatLastN: 64,
  frequencyPenalty: 0,
  presencePenalty: 0,
  seed: 0,
};

/** A seeded PRNG (mulberry32): uniform floats in [0, 1). Deterministic for a given seed. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest value, the first on ties; NaN never wins. */
export function argmax(x: ArrayLike<number>): number {
  let best = -1;
  let bv = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > bv || (best < 0 && !Number.isNaN(v))) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/** Applies repetition / frequency / presence penalties in place (llama.cpp semantics, see top). */
export function applyPenalties(logits: Float32Array, history: readonly number[], o: SamplerOptions = {}): void {
  const penalty = o.repeatPenalty ?? DEFAULTS.repeatPenalty;
  const freq = o.frequencyPenalty ?? 0;
  const presence = o.presencePenalty ?? 0;
  const lastN = o.repeatLastN ?? DEFAULTS.repeatLastN;
  if ((penalty === 1 && freq === 0 && presence === 0) || lastN === 0) return;
  const window = lastN < 0 ? history : history.slice(Math.max(0, history.length - lastN));
  const counts = new Map<number, number>();
  for (const id of window) if (id >= 0 && id < logits.length) counts.set(id, (counts.get(id) ?? 0) + 1);
  for (const [id, count] of counts) {
    let l = logits[id]!;
    l = l <= 0 ? l * penalty : l / penalty;
    logits[id] = l - count * freq - presence;
  }
}

export interface Candidate {
  id: number;
  logit: number;
  /** Probability among the candidates kept so far (before temperature). */
  p: number;
}

/** The k largest logits, sorted descending (ties: lower id first); all of them when k <= 0 or k >= n. */
function topCandidates(logits: Float32Array, k: number): Candidate[] {
  const n = logits.length;
  const better = (a: number, b: number) => logits[a]! > logits[b]! || (logits[a] === logits[b] && a < b);
  let ids: number[];
  if (k > 0 && k < n) {
    // Min-heap of the best k seen so far: O(n log k) instead of sorting the vocabulary.
    const heap: number[] = [];
    const worse = (a: number, b: number) => better(b, a);
    const down = (i: number) => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
        if (m === i) return;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    };
    for (let id = 0; id < n; id++) {
      if (Number.isNaN(logits[id]!)) continue;
      if (heap.length < k) {
        heap.push(id);
        for (let i = heap.length - 1; i > 0; ) {
          const parent = (i - 1) >> 1;
          if (!worse(heap[i]!, heap[parent]!)) break;
          [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
          i = parent;
        }
      } else if (better(id, heap[0]!)) {
        heap[0] = id;
        down(0);
      }
    }
    ids = heap;
  } else {
    ids = [];
    for (let id = 0; id < n; id++) if (!Number.isNaN(logits[id]!)) ids.push(id);
  }
  ids.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
  return ids.map((id) => ({ id, logit: logits[id]!, p: 0 }));
}

function normalize(c: Candidate[], temperature = 1): void {
  const m = c[0]!.logit;
  let sum = 0;
  for (const x of c) {
    x.p = Math.exp((x.logit - m) / temperature);
    sum += x.p;
  }
  for (const x of c) x.p /= sum;
}

/**
 * The candidates that survive top-k, top-p and min-p (after penalties, which the caller applies),
 * sorted by logit, with probabilities renormalised over the survivors at temperature 1.
 */
export function filterCandidates(logits: Float32Array, o: SamplerOptions = {}): Candidate[] {
  const topK = o.topK ?? DEFAULTS.topK;
  const topP = o.topP ?? DEFAULTS.topP;
  const minP = o.minP ?? DEFAULTS.minP;
  let c = topCandidates(logits, topK);
  if (c.length === 0) throw new SamplerOptionError('logits', 'all NaN', 'no token can be sampled');
  normalize(c);
  if (topP < 1) {
    let cum = 0;
    let keep = c.length;
    for (let i = 0; i < c.length; i++) {
      cum += c[i]!.p;
      if (cum >= topP) {
        keep = i + 1;
        break;
      }
    }
    c = c.slice(0, keep);
    normalize(c);
  }
  if (minP > 0) {
    const threshold = c[0]!.p * minP;
    c = c.filter((x) => x.p >= threshold);
    normalize(c);
  }
  return c;
}

function validate(o: Required<SamplerOptions>): void {
  if (!Number.isFinite(o.temperature)) throw new SamplerOptionError('temperature', o.temperature, 'must be a finite number');
  if (!(o.topP > 0)) throw new SamplerOptionError('topP', o.topP, 'must be > 0');
  if (!(o.minP >= 0 && o.minP <= 1)) throw new SamplerOptionError('minP', o.minP, 'must be in [0, 1]');
  if (!(o.repeatPenalty > 0)) throw new SamplerOptionError('repeatPenalty', o.repeatPenalty, 'must be > 0');
  if (!Number.isInteger(o.topK)) throw new SamplerOptionError('topK', o.topK, 'must be an integer');
}

/** A seeded sampler: `sample(logits, history)` returns a token id. logits are not modified. */
export class Sampler {
  readonly options: Readonly<Required<SamplerOptions>>;
  private readonly rng: () => number;

  constructor(opts: SamplerOptions = {}) {
    const o = { ...DEFAULTS, ...opts };
    validate(o);
    this.options = o;
    this.rng = createRng(o.seed);
  }

  sample(logits: Float32Array, history: readonly number[] = []): number {
    const o = this.options;
    const l = Float32Array.from(logits);
    applyPenalties(l, history, o);
    if (o.temperature <= 0) {
      const id = argmax(l);
      if (id < 0) throw new SamplerOptionError('logits', 'all NaN', 'no token can be sampled');
      return id;
    }
    const c = filterCandidates(l, o);
    normalize(c, o.temperature);
    const r = this.rng();
    let cum = 0;
    for (const x of c) {
      cum += x.p;
      if (r < cum) return x.id;
    }
    return c[c.length - 1]!.id; // r landed in the rounding gap at the top
  }
}
