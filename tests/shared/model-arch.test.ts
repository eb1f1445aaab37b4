/**
 * What each family adds to llama, read from the metadata as llama.cpp reads it
 * (shared/model/arch.ts), on generated tiny models of each family, and the refusals (a RoPE
 * scaling we do not implement, factors of the wrong length, values of another head size).
 */
import { describe, expect, it } from 'vitest';
import { parseGgufBytes, type GgufHeader } from '../../shared/gguf/reader';
import type { GgufValue } from '../../shared/gguf/values';
import { modelArchFromGguf, modelConfigFromGguf, type ModelArchSpec } from '../../shared/model';
import { generateModelBytes, planModel, type PresetName } from '../../shared/model-gen';

const headers = new Map<string, GgufHeader>();
async function header(preset: PresetName): Promise<GgufHeader> {
  if (!headers.has(preset)) headers.set(preset, parseGgufBytes(await generateModelBytes(planModel({ preset, type: 'F32', seed: 0 })), `${preset}.gguf`));
  return headers.get(preset)!;
}
function edit(h: GgufHeader, changes: Record<string, GgufValue | null>): GgufHeader {
  const metadata = new Map(h.metadata);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null) metadata.delete(k);
    else metadata.set(k, v);
  }
  return { ...h, metadata };
}
const spec = (h: GgufHeader): ModelArchSpec => modelArchFromGguf(h, modelConfigFromGguf(h));
const f32 = (value: number): GgufValue => ({ type: 'float32', value });
const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
const str = (value: string): GgufValue => ({ type: 'string', value });

describe('model families', () => {
  it('llama: nothing added; Llama 3.1 files bring their RoPE factors', async () => {
    const s = spec(await header('tiny-mistral'));
    expect(s).toMatchObject({ qkNorm: false, fusedQkv: false, fusedGateUp: false, activation: 'silu', postNorms: false, embeddingScale: 1, attnSoftcap: 0, finalSoftcap: 0, slidingWindow: 0, ropeFactorsTensor: null });
    expect(s.sliding.every((x) => !x)).toBe(true);
    expect(spec(await header('tiny-llama3')).ropeFactorsTensor).toBe('rope_freqs.weight');
  });

  it('qwen3: per-head q/k norms, NEOX, a head size other than embd / heads', async () => {
    const h = await header('tiny-qwen3');
    const c = modelConfigFromGguf(h);
    expect(c).toMatchObject({ architecture: 'qwen3', ropeType: 'neox', qkvBias: false, headDim: 128, embeddingLength: 256, headCount: 4 });
    expect(spec(h)).toMatchObject({ qkNorm: true, activation: 'silu', postNorms: false });
  });

  it('phi3: fused qkv and gate|up; partial rotary as the file says', async () => {
    expect(spec(await header('tiny-phi3'))).toMatchObject({ fusedQkv: true, fusedGateUp: true });
    const c = modelConfigFromGguf(await header('tiny-phi4-mini'));
    expect(c).toMatchObject({ ropeType: 'neox', headDim: 64, ropeDimensionCount: 48 });
  });

  it('gemma2: GELU, post-norms, √embd, soft-caps, even layers sliding (4096 when the file names no window)', async () => {
    const h = await header('tiny-gemma2');
    const s = spec(h);
    expect(s).toMatchObject({ activation: 'gelu', postNorms: true, qkNorm: false, attnSoftcap: 50, finalSoftcap: 30, slidingWindow: 8 });
    expect(s.embeddingScale).toBe(Math.fround(16));
    expect(s.sliding).toEqual([true, false]);
    expect(s.attentionScale).toBeCloseTo(1 / Math.sqrt(128), 12);
    const defaults = spec(edit(h, { 'gemma2.attention.sliding_window': null, 'gemma2.attn_logit_softcapping': null, 'gemma2.final_logit_softcapping': null }));
    expect(defaults).toMatchObject({ slidingWindow: 4096, attnSoftcap: 50, finalSoftcap: 30 });
    expect(defaults.ropeThetaSliding).toBe(modelConfigFromGguf(h).ropeTheta);
  });

  it('gemma3: q/k norms, each sixth layer global with its own RoPE base; no window, no sliding', async () => {
    const h = await header('tiny-gemma3');
    const s = spec(h);
    expect(s).toMatchObject({ qkNorm: true, postNorms: true, attnSoftcap: 0, finalSoftcap: 0, slidingWindow: 8, ropeThetaSliding: 10000 });
    expect(s.sliding).toEqual([true, true, true, true, true, false]);
    expect(modelConfigFromGguf(h).ropeTheta).toBe(1e6);
    expect(spec(edit(h, { 'gemma3.attention.sliding_window': null })).sliding.some((x) => x)).toBe(false);
    expect(spec(edit(h, { 'gemma3.final_logit_softcapping': f32(30) })).finalSoftcap).toBe(30);
    // Linear scaling (Gemma 3 4B+) applies to the global layers only.
    const scaled = spec(edit(h, { 'gemma3.rope.scaling.type': str('linear'), 'gemma3.rope.scaling.factor': f32(8) }));
    expect([scaled.ropeFreqScale, scaled.ropeFreqScaleSliding]).toEqual([0.125, 1]);
  });

  it('refuses YaRN, RoPE factors of the wrong length and values of another head size, naming the key or tensor', async () => {
    const q = await header('tiny-qwen3');
    expect(() => spec(edit(q, { 'qwen3.rope.scaling.type': str('yarn') }))).toThrow(/qwen3\.rope\.scaling\.type.*yarn.*only linear/);
    expect(() => modelConfigFromGguf(edit(q, { 'qwen3.attention.value_length': u32(64) }))).toThrow(/qwen3\.attention\.value_length.*64.*key length 128/);
    const l3 = await header('tiny-llama3');
    const tensors = l3.tensors.map((t) => (t.name === 'rope_freqs.weight' ? { ...t, dims: [16], elementCount: 16 } : t));
    expect(() => spec({ ...l3, tensors })).toThrow(/rope_freqs\.weight.*expected \[32\]/);
  });
});
