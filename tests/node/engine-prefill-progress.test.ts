/**
 * Prefill progress (generate.ts `onPrefill`): a prompt longer than the model's batch is run as
 * the same batches the model would run inside one forward(), reporting tokens done after each;
 * the reply is the same as without progress; a prompt that does not fit is refused before any
 * pass; a short prompt stays one pass.
 */
import { describe, expect, it } from 'vitest';
import { generate, type GenerationModel, type GenerationTokenizer } from '../../shared/engine/generate';
import type { ForwardOutput, ForwardResult } from '../../shared/engine/model';
import { checkContextWindow, ContextWindowExceededError } from '../../shared/gpu';

const V = 16;
const EOS = 0;

/** The next token is a function of the whole cache (so a wrongly ordered prefill changes it). */
class HashModel implements GenerationModel {
  readonly vocabSize = V;
  history: number[] = [];
  calls: { n: number; output: ForwardOutput }[] = [];
  constructor(
    readonly maxBatch: number | undefined,
    readonly contextLength = 1024,
  ) {}
  get tokens(): readonly number[] {
    return this.history;
  }
  forward(tokens: readonly number[], output: ForwardOutput): Promise<ForwardResult> {
    checkContextWindow(this.history.length, tokens.length, this.contextLength);
    this.calls.push({ n: tokens.length, output });
    this.history.push(...tokens);
    let h = 7;
    for (const [i, t] of this.history.entries()) h = (h * 31 + t * (i + 1)) % 1009;
    const next = 1 + (h % (V - 1));
    const logits = new Float32Array(V).fill(-1);
    logits[next] = 1;
    return Promise.resolve(output === 'argmax' ? { logits: null, token: next } : { logits, token: null });
  }
}

const tk: GenerationTokenizer = {
  isEog: (t: number) => t === EOS,
  createStreamDecoder: () => ({ push: (t: number) => `<${t}>`, flush: () => '' }) as never,
};
const prompt = Array.from({ length: 300 }, (_, i) => 1 + (i % 13));

describe('prefill progress', () => {
  it('reports each finished batch of maxBatch tokens and ends at the total; the reply is unchanged', async () => {
    const plain = new HashModel(128);
    const a = await generate(plain, tk, prompt, { temperature: 0, maxTokens: 12 });
    const seen: [number, number][] = [];
    const watched = new HashModel(128);
    const b = await generate(watched, tk, prompt, { temperature: 0, maxTokens: 12, onPrefill: (d, t) => seen.push([d, t]) });
    expect(seen).toEqual([
      [0, 300],
      [128, 300],
      [256, 300],
      [300, 300],
    ]);
    expect(b.tokens).toEqual(a.tokens);
    expect(watched.history).toEqual(plain.history);
    // The batches are the model's own: 128, 128, then the rest with the output.
    expect(watched.calls.slice(0, 3)).toEqual([
      { n: 128, output: 'none' },
      { n: 128, output: 'none' },
      { n: 44, output: 'argmax' },
    ]);
    expect(plain.calls[0]).toEqual({ n: 300, output: 'argmax' });
  });

  it('a prompt of one batch or less, or a model without maxBatch, is one pass with no progress', async () => {
    for (const m of [new HashModel(512), new HashModel(undefined)]) {
      const seen: number[] = [];
      await generate(m, tk, prompt, { temperature: 0, maxTokens: 2, onPrefill: (d) => seen.push(d) });
      expect(seen).toEqual([]);
      expect(m.calls[0]).toEqual({ n: 300, output: 'argmax' });
    }
  });

  it('refuses a prompt that does not fit before any pass', async () => {
    const m = new HashModel(128, 200);
    const seen: number[] = [];
    await expect(generate(m, tk, prompt, { temperature: 0, onPrefill: (d) => seen.push(d) })).rejects.toBeInstanceOf(ContextWindowExceededError);
    expect(m.calls).toEqual([]);
    expect(seen).toEqual([]);
  });
});
