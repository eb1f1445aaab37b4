/**
 * What the parity tests against llama.cpp (parity-generated, parity-archs) do for every model:
 * the file loaded into our engine and into llama.cpp, the same tokens through both and through
 * the exact CPU reference, and the top-1 check at the positions where llama.cpp is not near a tie.
 */
import { writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { GpuContext } from '../../shared/gpu';
import { openReference, type ReferenceModel } from '../support/llama-cpp';
import { loadBytes, logProbsOf, referenceLogProbs, top2, type LoadedModel } from './engine-support';

/** Positions compared per model. */
export const PARITY_TOKENS = 32;

export interface ParityRun {
  ours: LoadedModel;
  ref: ReferenceModel;
  /** The first PARITY_TOKENS tokens of the text, as our tokenizer gives them. */
  ids: number[];
  /** log p at each position: ours (prefill), llama.cpp's, and the exact CPU reference's (f64). */
  got: Float64Array[];
  want: Float64Array[];
  exact: Float64Array[];
}

/**
 * Writes `bytes` to `path`, loads them into our engine (context 64) and into llama.cpp, and runs
 * the first PARITY_TOKENS tokens of `text` through ours, llama.cpp and the exact reference; gives
 * `check` all of it, and disposes both models after, whatever `check` does. With `sameTokens`,
 * first expects llama.cpp to split the text into the same tokens (BOS included where ours adds it).
 */
export async function withParityRun(ctx: GpuContext, bytes: Uint8Array, path: string, text: string, opts: { sameTokens: boolean }, check: (run: ParityRun) => Promise<void>): Promise<void> {
  writeFileSync(path, bytes);
  const ours = await loadBytes(ctx, bytes, path, { contextLength: 64 });
  const ref = await openReference(path, 64);
  try {
    const ids = ours.tokenizer.encode(text).slice(0, PARITY_TOKENS);
    if (opts.sameTokens) {
      expect(ids).toHaveLength(PARITY_TOKENS);
      expect(ids).toEqual([...(ours.tokenizer.addBos ? [ref.bos] : []), ...ref.tokenize(text)].slice(0, PARITY_TOKENS));
    }
    const got = logProbsOf((await ours.model.forward(ids, 'all')).logits!, ids.length, ours.model.vocabSize);
    const want = await ref.logProbs(ids);
    const exact = await referenceLogProbs(ours.source, ours.model, ids);
    await check({ ours, ref, ids, got, want, exact });
  } finally {
    ours.model.destroy();
    await ref.dispose();
  }
}

/**
 * Our top-1 token is llama.cpp's wherever llama.cpp's margin between its first two tokens exceeds
 * `tol` (a smaller margin is a near-tie that llama.cpp's rounding may flip). Returns how many
 * positions that checked.
 */
export function expectTop1Agrees(got: readonly Float64Array[], want: readonly Float64Array[], tol: number): number {
  let checked = 0;
  for (let i = 0; i < want.length; i++) {
    const w = top2(want[i]!);
    if (w.margin > tol) {
      checked++;
      expect(top2(got[i]!).top, `top-1 at position ${i} (llama.cpp margin ${w.margin.toFixed(3)})`).toBe(w.top);
    }
  }
  return checked;
}

/** How many positions have the same top-1 token on both sides (for the reports). */
export function top1Agreement(got: readonly Float64Array[], want: readonly Float64Array[]): number {
  return got.filter((row, i) => top2(row).top === top2(want[i]!).top).length;
}
