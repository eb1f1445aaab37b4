/**
 * The engine with fused kernels (add_rmsnorm, rope_kv_append: the default) against the same
 * model with fusion off: the fused kernels compute the same f32 expressions in the same order, so
 * every logit must be identical bit for bit, in prefill (matmul path) and decode (matvec path),
 * on each family's path through the block (llama; qwen2's biases and NEOX RoPE; qwen3's per-head
 * q/k norms; gemma2's post-norms, which keep the unfused residual; phi3's fused QKV buffer, which
 * keeps the unfused rope + append). The kernels themselves are checked in tests/gpu/fused.test.ts.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../../shared/engine/model';
import type { GpuContext } from '../../shared/gpu';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { fixturePath } from '../support/fixtures';
import { openTestContext } from '../support/gpu';
import { loadBytes } from '../node/engine-support';

let ctx: GpuContext | null = null;
let reason = '';
beforeAll(async () => {
  const r = await openTestContext();
  if (r.ctx) ctx = r.ctx;
  else reason = r.reason;
});
afterAll(() => ctx?.destroy());

async function logitsOf(m: Model, ids: number[]): Promise<{ prefill: Float32Array; decode: Float32Array[] }> {
  m.rewind(0);
  const prefill = (await m.forward(ids, 'all')).logits!;
  m.rewind(0);
  const decode: Float32Array[] = [];
  for (const id of ids.slice(0, 4)) decode.push((await m.forward([id], 'last')).logits!);
  return { prefill, decode };
}

function firstDifference(a: Float32Array, b: Float32Array): string | null {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `logit ${i}: fused ${a[i]}, unfused ${b[i]}`;
  return a.length === b.length ? null : `lengths ${a.length} and ${b.length}`;
}

async function sameWithAndWithoutFusion(bytes: Uint8Array, name: string): Promise<void> {
  const fused = await loadBytes(ctx!, bytes, name, { contextLength: 32 });
  const plain = await loadBytes(ctx!, bytes, name, { contextLength: 32, fuse: false });
  try {
    const ids = fused.tokenizer.encode('Once upon a time, a small fox found a red kite in the tall grass.').slice(0, 10);
    expect(ids.length).toBeGreaterThan(4);
    const a = await logitsOf(fused.model, ids);
    const b = await logitsOf(plain.model, ids);
    expect(firstDifference(a.prefill, b.prefill), `${name} prefill`).toBeNull();
    for (const [i, d] of a.decode.entries()) expect(firstDifference(d, b.decode[i]!), `${name} decode step ${i}`).toBeNull();
    // Not vacuous: the logits vary (a pass that computed nothing would give equal zeros).
    expect(new Set(a.prefill.slice(0, 64)).size).toBeGreaterThan(8);
  } finally {
    fused.model.destroy();
    plain.model.destroy();
  }
}

describe('fused kernels leave every logit unchanged', () => {
  it('stories260K (llama, F32)', async (t) => {
    if (!ctx) return t.skip(reason);
    await sameWithAndWithoutFusion(new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf'))), 'stories260K.gguf');
  });

  for (const [preset, type] of [
    ['tiny-qwen2', 'Q4_K'],
    ['tiny-qwen3', 'Q8_0'],
    ['tiny-gemma2', 'F32'],
    ['tiny-phi3', 'F16'],
  ] as const) {
    it(`${preset} ${type}`, async (t) => {
      if (!ctx) return t.skip(reason);
      const bytes = await generateModelBytes(planModel({ preset, type, seed: 11, method: 'direct' }));
      await sameWithAndWithoutFusion(bytes, `${preset}-${type}.gguf`);
    });
  }
});
