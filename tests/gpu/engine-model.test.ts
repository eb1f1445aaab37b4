/**
 * The forward pass on WebGPU (Dawn on lavapipe) against the CPU reference forward pass
 * (shared/engine/reference/forward.ts: f64 dot products over dequantised weights), and against
 * itself: decode (matvec) vs prefill (matmul), chunked prefill, weights split across bindings.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineAbortedError } from '../../shared/engine/errors';
import { generate } from '../../shared/engine/generate';
import { Model, type ForwardTraceEvent, type LoadProgress } from '../../shared/engine/model';
import { planRowParts } from '../../shared/engine/weights';
import { argmax } from '../../shared/engine/sampling';
import { ContextWindowExceededError, ModelTooLargeError } from '../../shared/gpu';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { fixturePath } from '../support/fixtures';
import { useGpu } from '../support/gpu';
import { diffLogProbs, loadBytes, logProbsOf, referenceLogProbs, sourceFromBytes, STORY_TEXT, type LoadedModel } from '../node/engine-support';

// Tolerances. The GPU and the reference both keep activations in f32 between ops and differ
// only in summation order (f32 in the kernels, f64 in the reference) and in exp/cos/sin: on
// stories260K that moves log-probabilities by ~2e-5 (measured); 2e-4 leaves a 10x margin.
// Decode vs prefill run different kernels (matvec vs matmul) over the same data: ~1e-6.
const REF_TOL = 2e-4;
const PATH_TOL = 5e-5;

const g = useGpu();
const bytes = new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf')));
let stories: LoadedModel;
let ids: number[];

beforeAll(async () => {
  if (!g.ctx) return;
  stories = await loadBytes(g.ctx, bytes, 'stories260K.gguf', { contextLength: 64 });
  ids = stories.tokenizer.encode(STORY_TEXT).slice(0, 24);
});
afterAll(() => stories?.model.destroy());

async function allLogProbs(m: Model, tokens: number[]): Promise<Float64Array[]> {
  m.rewind(0);
  const r = await m.forward(tokens, 'all');
  return logProbsOf(r.logits!, tokens.length, m.vocabSize);
}

describe('engine forward pass on WebGPU (stories260K, llama, F32)', () => {
  it('prefill logits match the CPU reference forward pass', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const got = await allLogProbs(stories.model, ids);
    const want = await referenceLogProbs(stories.source, stories.model, ids);
    const d = diffLogProbs(got, want);
    expect(d.max, `worst at position ${d.at[0]}, token ${d.at[1]}`).toBeLessThan(REF_TOL);
    expect(stories.model.position).toBe(ids.length);
  });

  it('decoding one token at a time (matvec path) reproduces the prefill logits and the GPU argmax', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const m = stories.model;
    const prefill = await allLogProbs(m, ids);
    m.rewind(0);
    const step: Float64Array[] = [];
    for (const id of ids.slice(0, 12)) {
      const r = await m.forward([id], 'last');
      step.push(logProbsOf(r.logits!, 1, m.vocabSize)[0]!);
    }
    expect(diffLogProbs(step, prefill.slice(0, 12)).max).toBeLessThan(PATH_TOL);
    // The argmax kernel picks what a CPU argmax of the same logits picks.
    m.rewind(5);
    const last = await m.forward([ids[5]!], 'last');
    m.rewind(5);
    const best = await m.forward([ids[5]!], 'argmax');
    expect(best.token).toBe(argmax(last.logits!));
  });

  it('chunked prefill, row-split weights and grouped logits give the same logits', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const base = await allLogProbs(stories.model, ids);
    // 8 KiB bindings: every matrix but the smallest splits, 4 logit rows per output pass, 7 tokens per prefill pass.
    const split = await loadBytes(g.ctx, bytes, 'stories260K.gguf', { contextLength: 64, maxBatch: 7, maxBindingBytes: 8 * 1024 });
    try {
      const w = new Map(split.model.describeWeights().map((x) => [x.name, x] as const));
      expect(w.get('token_embd.weight')!.parts).toBe(planRowParts('e', 512, 256, 8192).length);
      expect(w.get('token_embd.weight')!.parts).toBe(17);
      expect(w.get('output.weight')!.parts).toBe(17);
      expect(w.get('blk.0.ffn_down.weight')!.parts).toBe(6); // rows of 172 f32 values, 11 per part
      // q | k | v stacked (128 rows of 256 bytes): parts of 26 rows cross from q into k and from k into v.
      expect(w.get('blk.0.attn_q|k|v.weight')!.parts).toBe(planRowParts('qkv', 128, 256, 8192).length);
      expect(w.get('blk.0.attn_q|k|v.weight')!.parts).toBe(5);
      // The prompt's tokens fall in several parts of the embedding table.
      expect(new Set(ids.map((id) => Math.floor(id / 31))).size).toBeGreaterThan(3);
      const got = await allLogProbs(split.model, ids);
      expect(diffLogProbs(got, base).max).toBeLessThan(1e-6);
      split.model.rewind(0);
      await split.model.forward(ids.slice(0, 9), 'none');
      const r = await split.model.forward([ids[9]!], 'last');
      expect(diffLogProbs(logProbsOf(r.logits!, 1, 512), [base[9]!]).max).toBeLessThan(PATH_TOL);
    } finally {
      split.model.destroy();
    }
  });

  it('the timed path (GpuBatch, per-pass timestamps) computes what the replayed path does', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    // Without timestamp-query the engine never takes the timed path: nothing to compare.
    if (!g.ctx.caps.timestamps) return t.skip('this adapter has no timestamp-query, so the timed path is never taken');
    const base = await allLogProbs(stories.model, ids.slice(0, 8));
    const labels = new Set<string>();
    // The hook reports each timed batch after its timestamps are read back: wait for that report
    // itself (the q product's pass), not for a while.
    let sawQ!: () => void;
    const qTimed = new Promise<void>((resolve) => (sawQ = resolve));
    const timed = g.ctx.setTimingHook((_batch, passes) => {
      for (const p of passes) labels.add(p.label);
      if ([...labels].some((l) => l.includes('attn_q'))) sawQ();
    });
    try {
      const got = await allLogProbs(stories.model, ids.slice(0, 8));
      expect(diffLogProbs(got, base).max).toBe(0);
      expect(timed).toBe(true);
      await qTimed;
      expect([...labels].some((l) => l.includes('rope_kv_append'))).toBe(true);
    } finally {
      g.ctx.setTimingHook(null);
    }
  });

  it('a traced pass reports every block, then the output, in order, computes the same logits, and hands over the residual stream', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const m = stories.model;
    const plain = await allLogProbs(m, ids);
    const events: ForwardTraceEvent[] = [];
    let done!: () => void;
    let activations = new Promise<void>((r) => (done = r));
    m.trace = (e) => {
      events.push(e);
      if (e.stage === 'activations') done();
    };
    try {
      const traced = await allLogProbs(m, ids);
      await activations;
      expect(diffLogProbs(traced, plain).max).toBe(0);
      const L = m.config.blockCount;
      const E = m.config.embeddingLength;
      // One prefill pass of ids.length tokens: blocks 0..L-1, then the output, and the residuals.
      expect(events.filter((e) => e.stage !== 'activations').map((e) => `${e.stage}${e.block}`)).toEqual([...Array.from({ length: L }, (_, i) => `block${i}`), `output${L}`]);
      expect(events.every((e) => e.pos0 === 0 && e.tokens === ids.length && e.blocks === L)).toBe(true);
      // The residual stream after each block, for the last token, is the reference's.
      const got = events.find((e) => e.stage === 'activations')!.values!;
      expect(got.length).toBe(L * E);
      const want: Float32Array[] = [];
      await referenceLogProbs(stories.source, m, ids, { onBlock: (_b, x) => want.push(x.slice((ids.length - 1) * E, ids.length * E)) });
      for (let b = 0; b < L; b++) {
        let worst = 0;
        let scale = 0;
        for (let i = 0; i < E; i++) {
          worst = Math.max(worst, Math.abs(got[b * E + i]! - want[b]![i]!));
          scale = Math.max(scale, Math.abs(want[b]![i]!));
        }
        expect(worst, `block ${b}`).toBeLessThan(1e-4 * Math.max(1, scale));
      }
      // Decode steps: the same sequence per token, at successive positions.
      events.length = 0;
      activations = new Promise<void>((r) => (done = r));
      m.rewind(3);
      await m.forward([ids[3]!], 'argmax');
      await m.forward([ids[4]!], 'none');
      expect(events.filter((e) => e.stage === 'block').map((e) => e.pos0)).toEqual([...Array<number>(L).fill(3), ...Array<number>(L).fill(4)]);
      expect(events.filter((e) => e.stage === 'output').map((e) => e.pos0)).toEqual([3]);
      await activations;
    } finally {
      m.trace = null;
    }
  });

  it('refuses tokens past the context and ids outside the vocabulary without moving, and rewinds', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const small = await Model.load(g.ctx, await sourceFromBytes(bytes, 'stories260K.gguf'), { contextLength: 16 });
    try {
      await expect(small.forward(new Array<number>(17).fill(5))).rejects.toBeInstanceOf(ContextWindowExceededError);
      expect(small.position).toBe(0);
      await small.forward(ids.slice(0, 10), 'none');
      await expect(small.forward(ids.slice(0, 7))).rejects.toMatchObject({ code: 'CONTEXT_WINDOW_EXCEEDED', requested: 17, max: 16 });
      await expect(small.forward([512])).rejects.toMatchObject({ code: 'ENGINE_BAD_TOKEN' });
      expect(small.position).toBe(10);
      small.rewind(3);
      const r = await small.forward([ids[3]!], 'last');
      const base = await allLogProbs(stories.model, ids);
      expect(diffLogProbs(logProbsOf(r.logits!, 1, 512), [base[3]!]).max).toBeLessThan(PATH_TOL);
      expect(() => small.rewind(5)).toThrow(/holds 4 tokens/);
    } finally {
      small.destroy();
    }
    await expect(small.forward([1])).rejects.toMatchObject({ code: 'ENGINE_DESTROYED' });
    // Buffers that cannot fit the device are refused before any upload, naming the buffer.
    const progress: LoadProgress[] = [];
    const tooSmall = Model.load(g.ctx, await sourceFromBytes(bytes, 'stories260K.gguf'), { contextLength: 16, maxBindingBytes: 1024, onProgress: (p) => progress.push(p) });
    const e = (await tooSmall.catch((x: unknown) => x)) as ModelTooLargeError;
    expect(e).toBeInstanceOf(ModelTooLargeError);
    expect(e.message).toMatch(/buffer "activation x" needs 4096 bytes in one binding; this GPU binds at most 1024/);
    expect(progress).toHaveLength(0);
  });

  it('reports upload progress tensor by tensor and stops when aborted', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const seen: LoadProgress[] = [];
    const m = await Model.load(g.ctx, await sourceFromBytes(bytes, 's'), { contextLength: 8, onProgress: (p) => seen.push(p) });
    m.destroy();
    const last = seen.at(-1)!;
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.bytesTotal).toBe(1171200); // every tensor of the file: 292,800 f32 values
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.bytesDone).toBeGreaterThanOrEqual(seen[i - 1]!.bytesDone);
    expect(new Set(seen.map((p) => p.tensor)).size).toBe(last.tensorCount);
    const ac = new AbortController();
    const load = Model.load(g.ctx, await sourceFromBytes(bytes, 's'), { contextLength: 8, signal: ac.signal, onProgress: (p) => p.tensorIndex >= 3 && ac.abort() });
    await expect(load).rejects.toBeInstanceOf(EngineAbortedError);
  });

  it('greedy generation (argmax on the GPU) follows the argmax of the read-back logits', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const m = stories.model;
    const prompt = stories.tokenizer.encode('Once upon a time');
    m.rewind(0);
    const r = await generate(m, stories.tokenizer, prompt, { temperature: 0, maxTokens: 20 });
    m.rewind(0);
    let logits = (await m.forward(prompt, 'last')).logits!;
    const cpu: number[] = [];
    for (let i = 0; i < 20; i++) {
      cpu.push(argmax(logits));
      logits = (await m.forward([cpu.at(-1)!], 'last')).logits!;
    }
    expect(r.tokens).toEqual(cpu);
    expect(r.text.startsWith(', there was a little girl')).toBe(true);
  });
});

describe('engine forward pass on WebGPU (generated qwen2: biases, NEOX RoPE, tied output, Q4_0)', () => {
  it('matches the reference in prefill and in decode', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const gen = await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'Q4_0', seed: 3, method: 'direct', overrides: { tied: true } }));
    const q = await loadBytes(g.ctx, gen, 'tiny-qwen2-q4_0-tied.gguf', { contextLength: 32 });
    try {
      expect(q.model.config).toMatchObject({ architecture: 'qwen2', ropeType: 'neox', qkvBias: true, tiedOutput: true });
      expect(q.model.describeWeights().some((w) => w.name === 'output.weight')).toBe(false);
      const qids = q.tokenizer.encode('The river ran past the mill, and the keeper wrote it down.').slice(0, 12);
      const got = await allLogProbs(q.model, qids);
      const want = await referenceLogProbs(q.source, q.model, qids);
      expect(diffLogProbs(got, want).max).toBeLessThan(REF_TOL);
      q.model.rewind(0);
      const step: Float64Array[] = [];
      for (const id of qids.slice(0, 6)) step.push(logProbsOf((await q.model.forward([id], 'last')).logits!, 1, q.model.vocabSize)[0]!);
      expect(diffLogProbs(step, got.slice(0, 6)).max).toBeLessThan(PATH_TOL);
    } finally {
      q.model.destroy();
    }
  });
});
