/**
 * Parity with llama.cpp itself (node-llama-cpp, F32 KV cache, no flash attention, one thread) on
 * ../shared/fixtures/models/stories260K.gguf, the engine running on WebGPU (Dawn on lavapipe):
 *   - greedy decoding from BOS + "Once upon a time": the same 200 tokens;
 *   - full-vocabulary log-probabilities at every position of a 64-token text: within 1e-3.
 * Both sides compute in f32 with F32 weights here, so the only differences are summation order
 * and exp/cos/sin implementations (measured ~2e-5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../shared/engine/generate';
import type { GpuContext } from '../../shared/gpu';
import { fixturePath } from '../support/fixtures';
import { openTestContext } from '../support/gpu';
import { openReference, referenceMissing, type ReferenceModel } from '../support/llama-cpp';
import { diffLogProbs, loadFile, logProbsOf, STORY_TEXT, top2, type LoadedModel } from './engine-support';

const MODEL = fixturePath('models', 'stories260K.gguf');
const LOGPROB_TOL = 1e-3;

let ctx: GpuContext | null = null;
let reason = '';
let ours: LoadedModel;
let ref: ReferenceModel;

beforeAll(async () => {
  const r = await openTestContext();
  if (!r.ctx) {
    reason = r.reason;
    return;
  }
  ctx = r.ctx;
  ours = await loadFile(ctx, MODEL, { contextLength: 256 });
  if (!referenceMissing) ref = await openReference(MODEL, 256);
});
afterAll(async () => {
  ours?.model.destroy();
  ctx?.destroy();
  await ref?.dispose();
});

describe('parity with llama.cpp on stories260K', () => {
  it('greedy continuation of "Once upon a time" is token for token llama.cpp\'s for 200 tokens', async (t) => {
    if (!ctx) return t.skip(reason);
    if (referenceMissing) return t.skip(referenceMissing);
    const prompt = ours.tokenizer.encode('Once upon a time');
    expect(prompt).toEqual([ref.bos, ...ref.tokenize('Once upon a time')]);
    const want = await ref.greedy(prompt, 200);
    expect(want).toHaveLength(200);
    ours.model.rewind(0);
    const got = await generate(ours.model, ours.tokenizer, prompt, { temperature: 0, maxTokens: 200, ignoreEos: true });
    const firstDiff = got.tokens.findIndex((id, i) => id !== want[i]);
    expect(firstDiff, `first differing token at ${firstDiff}`).toBe(-1);
    expect(got.tokens).toEqual(want);
    expect(got.text).toBe(ref.detokenize(want));
    expect(got.text.startsWith(', there was a little girl named Lily. She loved to play outside')).toBe(true);
  });

  it('full-vocabulary log-probabilities over a 64-token text are within 1e-3 of llama.cpp\'s', async (t) => {
    if (!ctx) return t.skip(reason);
    if (referenceMissing) return t.skip(referenceMissing);
    const ids = ours.tokenizer.encode(STORY_TEXT).slice(0, 64);
    expect(ids).toHaveLength(64);
    expect(ids).toEqual([ref.bos, ...ref.tokenize(STORY_TEXT)].slice(0, 64));
    ours.model.rewind(0);
    const got = logProbsOf((await ours.model.forward(ids, 'all')).logits!, ids.length, ours.model.vocabSize);
    const want = await ref.logProbs(ids);
    const d = diffLogProbs(got, want);
    expect(d.max, `worst |Δ log p| ${d.max} at position ${d.at[0]}, token ${d.at[1]}`).toBeLessThan(LOGPROB_TOL);
    for (let i = 0; i < ids.length; i++) expect(top2(got[i]!).top, `top-1 at position ${i}`).toBe(top2(want[i]!).top);
  });
});
