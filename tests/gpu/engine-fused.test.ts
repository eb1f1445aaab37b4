/**
 * The engine with fused kernels (add_rmsnorm, rope_kv_append: the default) against the same
 * model with fusion off: the fused kernels compute the same f32 expressions in the same order, so
 * every logit must be identical bit for bit, in prefill (matmul path) and decode (matvec path),
 * on each family's path through the block (llama and qwen2 with q | k | v and gate | up stacked
 * into one product each, qwen2's biases stacked too, NEOX RoPE; qwen3's per-head q/k norms, which
 * keep q, k and v apart; gemma2's post-norms and GELU, which keep the unfused residual and gate
 * and up apart; phi3's fused QKV buffer, read packed). The kernels themselves are checked in
 * tests/gpu/fused.test.ts. A model with a mix of types per block is in engine-fused's mix case.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Model } from '../../shared/engine/model';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { fixturePath } from '../support/fixtures';
import { useGpu } from '../support/gpu';
import { loadBytes } from '../node/engine-support';

const g = useGpu();

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

/** `products`: whether the fused model must run one-token passes through the fused decode products. */
async function sameWithAndWithoutFusion(bytes: Uint8Array, name: string, products = false, opts: { fuseDecode?: boolean; decodeLayers?: boolean } = {}, layers = false): Promise<void> {
  const fused = await loadBytes(g.ctx!, bytes, name, { contextLength: 32, ...opts });
  const plain = await loadBytes(g.ctx!, bytes, name, { contextLength: 32, fuse: false });
  try {
    expect(fused.model.fusedProducts, `${name} fused decode products`).toBe(products);
    expect(fused.model.decodeLayers, `${name} one dispatch per block`).toBe(layers);
    expect(plain.model.decodeLayers).toBe(false);
    expect(plain.model.fusedProducts).toBe(false);
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

describe('fused kernels and stacked products leave every logit unchanged', () => {
  it('stacks q | k | v and gate | up where they share a type, and not with fusion off', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'Q8_0', seed: 5, method: 'direct' }));
    const on = await loadBytes(g.ctx, bytes, 'tiny-llama.gguf', { contextLength: 16 });
    const off = await loadBytes(g.ctx, bytes, 'tiny-llama.gguf', { contextLength: 16, fuse: false });
    try {
      const names = (m: Model) => m.describeWeights().map((w) => w.name);
      expect(names(on.model)).toContain('blk.0.attn_q|k|v.weight');
      expect(names(on.model)).toContain('blk.0.ffn_gate|up.weight');
      expect(names(on.model)).not.toContain('blk.0.attn_q.weight');
      expect(names(off.model)).toContain('blk.0.attn_q.weight');
      expect(names(off.model)).not.toContain('blk.0.attn_q|k|v.weight');
      // The same bytes on the GPU either way (one padding per stacked matrix instead of several).
      const total = (m: Model) => m.describeWeights().reduce((s, w) => s + w.bytes, 0);
      expect(total(on.model)).toBe(total(off.model));
    } finally {
      on.model.destroy();
      off.model.destroy();
    }
  });

  it('a file with mixed types per block (Q4_K_M: attn_v and ffn_down in Q6_K) stacks only what shares a type', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = await generateModelBytes(planModel({ preset: 'tiny-llama', mix: 'Q4_K_M', seed: 6, method: 'direct' }));
    await sameWithAndWithoutFusion(bytes, 'tiny-llama-q4_k_m.gguf');
  });

  it('stories260K (llama, F32): with the decode fusions (a block per dispatch; fused products, attention_rope), and without them', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const bytes = new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf')));
    await sameWithAndWithoutFusion(bytes, 'stories260K.gguf', true, {}, true);
    await sameWithAndWithoutFusion(bytes, 'stories260K.gguf', true, { decodeLayers: false });
    await sameWithAndWithoutFusion(bytes, 'stories260K.gguf', false, { fuseDecode: false });
  });

  for (const [preset, type] of [
    ['tiny-qwen2', 'Q4_K'],
    ['tiny-qwen2', 'Q5_0'],
    ['tiny-llama', 'Q6_K'],
    ['tiny-qwen3', 'Q8_0'],
    ['tiny-gemma2', 'F32'],
    ['tiny-phi3', 'F16'],
    // F32 and narrow: the fused decode products (llama; qwen2 with its stacked biases after the
    // product; phi3's fused qkv and gate | up). gemma2 F32 above keeps them off (post-norms, GELU).
    ['tiny-llama', 'F32'],
    ['tiny-qwen2', 'F32'],
    ['tiny-phi3', 'F32'],
  ] as const) {
    it(`${preset} ${type}`, async (t) => {
      if (!g.ctx) return t.skip(g.reason);
      const bytes = await generateModelBytes(planModel({ preset, type, seed: 11, method: 'direct' }));
      // One dispatch per block where the fused products run and the block has no biases (qwen2's).
      const layers = type === 'F32' && (preset === 'tiny-llama' || preset === 'tiny-phi3');
      await sameWithAndWithoutFusion(bytes, `${preset}-${type}.gguf`, type === 'F32' && preset !== 'tiny-gemma2', {}, layers);
      if (layers) await sameWithAndWithoutFusion(bytes, `${preset}-${type}.gguf`, true, { decodeLayers: false });
    });
  }
});
