/**
 * A model whose weights are NaN (a damaged or wrongly converted file) must say so, not surface as
 * "token id 4294967295 is not in the vocabulary" (what the argmax kernel's "no index" turned into
 * when the tokenizer was asked to decode it; issue 14's lesser faults).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/binary/byte-source';
import { EngineError } from '../../shared/engine/errors';
import { generate } from '../../shared/engine/generate';
import { readGgufHeader } from '../../shared/gguf';
import { fixturePath } from '../support/fixtures';
import { useGpu } from '../support/gpu';
import { loadBytes, type LoadedModel } from '../node/engine-support';

const g = useGpu();
let poisoned: LoadedModel | null = null;

/** stories260K with output_norm.weight (F32) all NaN: every logit comes out NaN. */
async function nanStories(): Promise<Uint8Array> {
  const bytes = new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf')));
  const h = await readGgufHeader(memorySource(bytes), { name: 'stories260K.gguf' });
  const t = h.tensors.find((x) => x.name === 'output_norm.weight')!;
  new Float32Array(bytes.buffer, bytes.byteOffset + t.offset, t.byteSize / 4).fill(NaN);
  return bytes;
}

beforeAll(async () => {
  if (g.ctx) poisoned = await loadBytes(g.ctx, await nanStories(), 'nan-stories.gguf');
});
afterAll(() => poisoned?.model.destroy());

describe('NaN weights', () => {
  for (const [mode, opts] of [
    ['greedy (argmax on the GPU)', { temperature: 0 }],
    ['sampled (logits read back)', { temperature: 0.8, seed: 1 }],
  ] as const) {
    it(`${mode}: ENGINE_NONFINITE_LOGITS naming the position, not a token id`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const { model, tokenizer } = poisoned!;
      model.rewind(0);
      const prompt = tokenizer.encode('Once upon a time');
      const err = await generate(model, tokenizer, prompt, { ...opts, maxTokens: 4 }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe('ENGINE_NONFINITE_LOGITS');
      expect((err as EngineError).message).toContain(`position ${prompt.length - 1}`);
      expect((err as EngineError).message).not.toContain('4294967295');
    });
  }
});
