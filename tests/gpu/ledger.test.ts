/**
 * The allocation ledger (shared/gpu/ledger.ts): every buffer a GpuContext creates is recorded
 * with its kind and bytes until destroyed. A loaded model's weights, KV cache and activations in
 * the ledger are the bytes the model says it holds; destroying the model gives them all back.
 */
import { describe, expect, it } from 'vitest';
import { memorySource } from '../../shared/binary/byte-source';
import { Model } from '../../shared/engine/model';
import { openGgufTensorSource } from '../../shared/engine/tensor-source';
import { AllocationLedger, kindOfLabel } from '../../shared/gpu';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { useGpu } from '../support/gpu';

const g = useGpu();

describe('allocation ledger', () => {
  it('names the kind from the labels the engine gives', () => {
    expect(kindOfLabel('blk.3.attn_q.weight')).toBe('weights');
    expect(kindOfLabel('token_embd.weight[rows 0..512)')).toBe('weights');
    expect(kindOfLabel('blk.0.attn_q.weight.lora_a')).toBe('weights');
    expect(kindOfLabel('rope.invFreq')).toBe('weights');
    expect(kindOfLabel('blk.0.kv.k')).toBe('kv-cache');
    expect(kindOfLabel('act.x')).toBe('activations');
    expect(kindOfLabel('act.x:readback')).toBe('staging');
    expect(kindOfLabel('forward:params')).toBe('uniforms');
    expect(kindOfLabel('something else')).toBe('other');
  });

  it('holds what a model holds while it lives, by kind, and nothing of it after destroy', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const before = g.ctx.ledger.byKind();
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'Q4_K', seed: 0, method: 'direct' }));
    const model = await Model.load(g.ctx, await openGgufTensorSource(memorySource(bytes), 'tiny.gguf'), { contextLength: 64 });
    await model.forward([1, 2, 3], 'last'); // a read-back on the way: staging comes and goes
    const live = g.ctx.ledger.byKind();
    const grew = (k: keyof typeof live) => live[k].bytes - before[k].bytes;
    expect(grew('weights')).toBe(model.memory.weights);
    expect(grew('kv-cache')).toBe(model.memory.kvCache);
    expect(grew('activations')).toBe(model.memory.activations);
    expect(grew('staging')).toBe(0);
    expect(g.ctx.ledger.peakBytes).toBeGreaterThanOrEqual(g.ctx.ledger.bytes);
    const entries = g.ctx.ledger.entries();
    expect(entries.find((e) => e.label === 'blk.1.ffn_down.weight')).toMatchObject({ kind: 'weights' });
    expect(entries.every((e, i) => i === 0 || e.id > entries[i - 1]!.id)).toBe(true);
    model.destroy();
    const after = g.ctx.ledger.byKind();
    for (const k of ['weights', 'kv-cache', 'activations'] as const) expect(after[k].bytes, k).toBe(before[k].bytes);
  });

  it('a destroy called twice releases once', () => {
    const ledger = new AllocationLedger();
    let destroyed = 0;
    const buf = { destroy: () => destroyed++ } as unknown as GPUBuffer;
    ledger.add(buf, 'act.x', 64);
    ledger.add(buf, 'act.x', 64); // the same buffer again is ignored
    expect(ledger.bytes).toBe(64);
    buf.destroy();
    buf.destroy();
    expect(ledger.bytes).toBe(0);
    expect(destroyed).toBe(2);
    expect(ledger.peakBytes).toBe(64);
  });
});
