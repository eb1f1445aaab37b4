/**
 * A model under a GPU memory budget smaller than its weights (issue 12 §2): the residency
 * planner streams some matrices per pass from host memory through two slot buffers, the same
 * kernels read the same bytes, so greedy tokens and every logit (prefill and decode) must be
 * those of the unbudgeted run bit for bit; the ledger shows the weights it saved, and the model
 * holds no more than its budget. Runs on whatever adapter the machine has (lavapipe in CI).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Model, ModelLoadOptions } from '../../shared/engine/model';
import { PxiError } from '../../shared/errors';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { fixturePath } from '../support/fixtures';
import { useGpu } from '../support/gpu';
import { loadBytes, STORY_TEXT } from '../node/engine-support';

const g = useGpu();

const held = (m: Model) => m.memory.weights + m.memory.kvCache + m.memory.activations;

interface Run {
  prefill: Float32Array;
  decode: Float32Array[];
  greedy: number[];
}

async function runOf(m: Model, ids: number[], steps: number): Promise<Run> {
  m.rewind(0);
  const prefill = (await m.forward(ids, 'all')).logits!;
  m.rewind(0);
  const decode: Float32Array[] = [];
  for (const id of ids.slice(0, 3)) decode.push((await m.forward([id], 'last')).logits!);
  m.rewind(0);
  const greedy: number[] = [];
  let next = (await m.forward(ids, 'argmax')).token!;
  for (let i = 0; i < steps; i++) {
    greedy.push(next);
    next = (await m.forward([next], 'argmax')).token!;
  }
  return { prefill, decode, greedy };
}

function firstDifference(a: Float32Array, b: Float32Array): string | null {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `logit ${i}: budgeted ${a[i]}, resident ${b[i]}`;
  return a.length === b.length ? null : `lengths ${a.length} and ${b.length}`;
}

/** Loads the model unbudgeted and under each budget (a fraction of its weights); compares everything. */
async function sameUnderBudgets(bytes: Uint8Array, name: string, budgets: number[], opts: ModelLoadOptions = {}): Promise<void> {
  const base = { contextLength: 48, maxBatch: 16, ...opts };
  const full = await loadBytes(g.ctx!, bytes, name, base);
  try {
    const ids = full.tokenizer.encode(STORY_TEXT).slice(0, 20);
    expect(ids.length).toBeGreaterThan(8);
    const want = await runOf(full.model, ids, 12);
    expect(full.model.residency.streamed).toEqual([]);
    expect(new Set(want.prefill.slice(0, 64)).size).toBeGreaterThan(8); // not vacuous
    const { kvCache, activations, weights } = full.model.memory;
    for (const f of budgets) {
      const budget = Math.floor(kvCache + activations + f * weights);
      const before = g.ctx!.ledger.byKind().weights.bytes;
      const part = await loadBytes(g.ctx!, bytes, name, { ...base, gpuMemory: budget });
      try {
        const m = part.model;
        const what = `${name} at ${f * 100}% of the weights (${budget} bytes)`;
        expect(m.residency.streamed.length, what).toBeGreaterThan(0);
        // The smallest budgets cut matrices into row pieces, each its own slot turn.
        if (f <= 0.15) expect(m.residency.piecesPerPass, what).toBeGreaterThan(m.residency.streamed.length);
        expect(held(m), what).toBeLessThanOrEqual(budget);
        // The ledger: this model's weights are what it says, less than the resident model's.
        expect(g.ctx!.ledger.byKind().weights.bytes - before, what).toBe(m.memory.weights);
        expect(m.memory.weights, what).toBeLessThan(weights);
        const got = await runOf(m, ids, 12);
        expect(got.greedy, what).toEqual(want.greedy);
        expect(firstDifference(got.prefill, want.prefill), `${what} prefill`).toBeNull();
        for (const [i, d] of got.decode.entries()) expect(firstDifference(d, want.decode[i]!), `${what} decode ${i}`).toBeNull();
        // Traced passes (one submit per block, the explorer's) stream the same way.
        m.trace = () => undefined;
        m.rewind(0);
        const traced = (await m.forward(ids, 'all')).logits!;
        m.trace = null;
        expect(firstDifference(traced, want.prefill), `${what} traced`).toBeNull();
      } finally {
        part.model.destroy();
      }
    }
  } finally {
    full.model.destroy();
  }
}

describe('a model under a GPU memory budget gives the tokens and logits of a resident run', () => {
  it('stories260K (llama, F32) at 50% and 25% of its weights', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    await sameUnderBudgets(new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf'))), 'stories260K.gguf', [0.5, 0.25]);
  });

  it('a generated llama (Q4_K, stacked products) at 50% and 15% of its weights (15%: in row pieces)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'Q4_K', seed: 3, method: 'direct' }));
    await sameUnderBudgets(bytes, 'tiny-llama-q4_k.gguf', [0.5, 0.15]);
  });

  it('a generated qwen2 (Q8_0, biases) unfused, with row parts split by a small binding', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'Q8_0', seed: 4, method: 'direct' }));
    await sameUnderBudgets(bytes, 'tiny-qwen2-q8_0.gguf', [0.5], { fuse: false, maxBindingBytes: 16384, maxBatch: 4, contextLength: 32 });
  });

  it('refuses a budget that is not a positive number, or one too small, naming the field (and the least)', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'Q8_0', seed: 1, method: 'direct' }));
    const weightsBefore = g.ctx.ledger.byKind().weights.bytes;
    for (const bad of [0, -1, Number.NaN]) {
      await expect(loadBytes(g.ctx, bytes, 'tiny.gguf', { contextLength: 16, gpuMemory: bad })).rejects.toMatchObject({ code: 'ENGINE_BAD_OPTION', details: { field: 'gpuMemory' } });
    }
    const err = await loadBytes(g.ctx, bytes, 'tiny.gguf', { contextLength: 16, gpuMemory: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PxiError);
    expect((err as PxiError).message).toMatch(/too small/);
    expect((err as PxiError).details).toMatchObject({ field: 'gpuMemory', value: 1000 });
    expect((err as PxiError).details!.needed).toBeGreaterThan(1000);
    // Refused before anything was uploaded.
    expect(g.ctx.ledger.byKind().weights.bytes).toBe(weightsBefore);
  });
});
