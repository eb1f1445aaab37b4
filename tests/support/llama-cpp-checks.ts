/**
 * Checks of a generated model as llama.cpp reads it (tests/node/model-gen-*.test.ts): the same
 * tokenizer as ours, and a sane next-token distribution. Vitest only (they assert with expect);
 * tests/support/llama-cpp.ts, which Playwright specs import too, stays free of it.
 */
import { expect } from 'vitest';
import type { Tokenizer } from '../../shared/tokenizer';
import type { ReferenceModel } from './llama-cpp';

/** Texts whose split must be the same in llama.cpp and ours: spaces, tabs, digits, punctuation, other scripts, emoji, contractions. */
export const TOKENIZER_TEXTS = [
  'The keeper looked at the maps, and the children asked questions.',
  ' Two  spaces,\ttabs, and a new line\nthen 12345 digits; "quotes" (brackets) [x].',
  'Ünïcödé — 日本語 🙂 café naïve',
  "It's what they'll say: we're done, I'd guess.",
];

/** llama.cpp has our vocabulary size, BOS and EOS, splits every TOKENIZER_TEXTS text as we do, and ours decodes back to the text. */
export function expectSameTokenizer(ref: ReferenceModel, tok: Tokenizer, vocab: number): void {
  expect(ref.vocabSize).toBe(vocab);
  expect(ref.bos).toBe(tok.bos);
  expect(ref.eos).toBe(tok.eos);
  for (const t of TOKENIZER_TEXTS) {
    const ours = tok.encode(t, { addSpecial: false });
    expect(ref.tokenize(t), t).toEqual(ours);
    expect(tok.decode(ours)).toBe(t);
  }
}

export interface DistributionSummary {
  /** Mean and largest probability of the top token over the positions. */
  meanTop: number;
  maxTop: number;
  /** How many different tokens are on top somewhere. */
  distinctTops: number;
}

/**
 * log p at each position (V of them each) is finite and normalised, neither one-hot (top-1 below
 * `topCap`) nor flat (above 20/V), 0.03 to 0.6 on average, and follows the context (the top token
 * differs at more than a third of the positions).
 */
export function expectSaneDistribution(logProbs: Float64Array[], V: number, topCap = 0.98): DistributionSummary {
  const tops = new Set<number>();
  let topSum = 0;
  let maxTop = 0;
  for (const lp of logProbs) {
    expect(lp).toHaveLength(V);
    let sum = 0;
    let best = -Infinity;
    let arg = -1;
    for (let i = 0; i < V; i++) {
      expect(Number.isFinite(lp[i]!)).toBe(true);
      sum += Math.exp(lp[i]!);
      if (lp[i]! > best) {
        best = lp[i]!;
        arg = i;
      }
    }
    expect(sum).toBeCloseTo(1, 3);
    expect(Math.exp(best)).toBeLessThan(topCap);
    expect(Math.exp(best)).toBeGreaterThan(20 / V);
    topSum += Math.exp(best);
    maxTop = Math.max(maxTop, Math.exp(best));
    tops.add(arg);
  }
  const meanTop = topSum / logProbs.length;
  expect(meanTop).toBeGreaterThan(0.03);
  expect(meanTop).toBeLessThan(0.6);
  expect(tops.size).toBeGreaterThan(logProbs.length / 3);
  return { meanTop, maxTop, distinctTops: tops.size };
}
