/**
 * The generator's presets beyond llama / qwen2 (qwen3, gemma2, gemma3, phi3, and the llama
 * variants Mistral, SmolLM, Llama 3), without llama.cpp: the exact tensor lists and shapes, the
 * architecture's metadata keys and values, the sliding-layer pattern, Llama 3.1's rope factors,
 * the override checks, and the vocabularies (control tokens, pre-tokenizer names, chat templates).
 * That llama.cpp loads and runs these files: tests/node/model-gen-archs.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { getArray, getString } from '../../shared/gguf/metadata';
import type { GgufValue } from '../../shared/gguf/values';
import { GgmlType } from '../../shared/gguf/ggml-types';
import {
  GEN_TYPES,
  LOGIT_STD,
  ModelGenError,
  generateModelBytes,
  headDim,
  llama3RopeFactors,
  modelTensors,
  parameterCount,
  planModel,
  presetConfig,
  resolveConfig,
  slidingLayers,
  type ModelConfig,
  type PresetName,
} from '../../shared/model-gen';
import { ChatTemplate, TokenType, tokenizerFromGguf } from '../../shared/tokenizer';
import { codeOf } from '../support/errors';

const NEW_PRESETS: readonly PresetName[] = ['tiny-qwen3', 'tiny-gemma2', 'tiny-gemma3', 'tiny-phi3', 'tiny-phi4-mini', 'tiny-mistral', 'tiny-smollm', 'tiny-llama3'];

/** The tensors llama.cpp's loader creates for the architecture (src/models/<arch>.cpp), written out independently. */
function expectedTensors(c: ModelConfig): [string, number[]][] {
  const hd = c.headDim ?? c.embd / c.heads;
  const q = c.heads * hd;
  const kv = c.kvHeads * hd;
  const out: [string, number[]][] = [];
  if (c.ropeScaling) out.push(['rope_freqs.weight', [hd / 2]]);
  out.push(['token_embd.weight', [c.embd, c.vocab]]);
  for (let b = 0; b < c.blocks; b++) {
    const p = `blk.${b}.`;
    out.push([`${p}attn_norm.weight`, [c.embd]]);
    if (c.arch === 'phi3') out.push([`${p}attn_qkv.weight`, [c.embd, q + 2 * kv]]);
    else out.push([`${p}attn_q.weight`, [c.embd, q]], [`${p}attn_k.weight`, [c.embd, kv]], [`${p}attn_v.weight`, [c.embd, kv]]);
    if (c.arch === 'qwen3' || c.arch === 'gemma3') out.push([`${p}attn_q_norm.weight`, [hd]], [`${p}attn_k_norm.weight`, [hd]]);
    out.push([`${p}attn_output.weight`, [q, c.embd]]);
    const gemma = c.arch === 'gemma2' || c.arch === 'gemma3';
    if (gemma) out.push([`${p}post_attention_norm.weight`, [c.embd]]);
    out.push([`${p}ffn_norm.weight`, [c.embd]]);
    if (c.arch === 'phi3') out.push([`${p}ffn_up.weight`, [c.embd, 2 * c.ff]]);
    else out.push([`${p}ffn_gate.weight`, [c.embd, c.ff]], [`${p}ffn_up.weight`, [c.embd, c.ff]]);
    out.push([`${p}ffn_down.weight`, [c.ff, c.embd]]);
    if (gemma) out.push([`${p}post_ffw_norm.weight`, [c.embd]]);
  }
  out.push(['output_norm.weight', [c.embd]]);
  if (!c.tied) out.push(['output.weight', [c.embd, c.vocab]]);
  return out;
}

/** The architecture keys each preset's file carries (beyond block/context/embedding/FFN/head counts, eps, vocab size). */
const ARCH_KEYS: Record<string, Record<string, number>> = {
  'tiny-qwen3': { 'rope.freq_base': 1e6, 'attention.key_length': 128, 'attention.value_length': 128, 'rope.dimension_count': 128 },
  'tiny-gemma2': {
    'rope.freq_base': 10000,
    'attention.key_length': 128,
    'attention.value_length': 128,
    'rope.dimension_count': 128,
    attn_logit_softcapping: 50,
    final_logit_softcapping: 30,
    'attention.sliding_window': 8,
  },
  'tiny-gemma3': {
    'rope.freq_base': 1e6,
    'rope.freq_base_swa': 10000,
    'attention.key_length': 128,
    'attention.value_length': 128,
    'rope.dimension_count': 128,
    'attention.sliding_window': 8,
  },
  'tiny-phi3': { 'rope.freq_base': 10000, 'rope.dimension_count': 64, 'rope.scaling.original_context_length': 4096, 'attention.sliding_window': 0 },
  'tiny-phi4-mini': { 'rope.freq_base': 10000, 'rope.dimension_count': 48, 'rope.scaling.original_context_length': 4096, 'attention.sliding_window': 0 },
  'tiny-mistral': { 'rope.freq_base': 1e6, 'rope.dimension_count': 32 },
  'tiny-smollm': { 'rope.freq_base': 100000, 'rope.dimension_count': 64 },
  'tiny-llama3': { 'rope.freq_base': 500000, 'rope.dimension_count': 64 },
};
const COMMON_KEYS = ['block_count', 'context_length', 'embedding_length', 'feed_forward_length', 'attention.head_count', 'attention.head_count_kv', 'attention.layer_norm_rms_epsilon', 'vocab_size'];

function num(v: GgufValue | undefined): number | undefined {
  return v && typeof v.value === 'number' ? v.value : undefined;
}

describe('presets of the other architectures', () => {
  it('list exactly the tensors llama.cpp creates for their architecture, with ggml shapes, in every type', () => {
    for (const name of NEW_PRESETS) {
      const c = presetConfig(name);
      const ts = modelTensors(c, 'Q4_K');
      expect(ts.map((t) => [t.name, [...t.dims]]), name).toEqual(expectedTensors(c));
      for (const t of ts) expect(t.type, `${name} ${t.name}`).toBe(t.dims.length === 1 ? 'F32' : 'Q4_K');
      expect(parameterCount(c), name).toBe(expectedTensors(c).reduce((n, [, d]) => n + d.reduce((a, b) => a * b, 1), 0));
      for (const type of GEN_TYPES) expect(() => resolveConfig(name, {}, type), `${name} ${type}`).not.toThrow();
      expect(parameterCount(c), name).toBeLessThan(5_000_000);
    }
  });

  it('have the shapes that exercise each path', () => {
    // Head size apart from embd/heads (Qwen3-0.6B: 1024 wide, 16 heads of 128).
    for (const name of ['tiny-qwen3', 'tiny-gemma2', 'tiny-gemma3'] as const) {
      const c = presetConfig(name);
      expect(headDim(c), name).toBe(128);
      expect(c.heads * headDim(c), name).toBe(512);
      expect(c.embd, name).toBe(256);
    }
    expect(presetConfig('tiny-gemma3').blocks).toBe(6);
    expect(presetConfig('tiny-mistral')).toMatchObject({ arch: 'llama', heads: 8, kvHeads: 2, vocabStyle: 'mistral' });
    expect(presetConfig('tiny-smollm')).toMatchObject({ arch: 'llama', tied: true, vocabStyle: 'smollm' });
    expect(presetConfig('tiny-llama3')).toMatchObject({ arch: 'llama', vocabStyle: 'llama3', ropeTheta: 500000 });
    expect(presetConfig('tiny-phi4-mini')).toMatchObject({ arch: 'phi3', ropeDim: 48, tied: true });
    expect(presetConfig('tiny-gemma2').tied).toBe(true);
  });

  it('mark the sliding layers as llama.cpp does (gemma2 even layers, gemma3 all but every 6th)', () => {
    expect(slidingLayers(presetConfig('tiny-gemma2'))).toEqual([true, false]);
    expect(slidingLayers(presetConfig('tiny-gemma3'))).toEqual([true, true, true, true, true, false]);
    expect(slidingLayers(resolveConfig('tiny-gemma3', { blocks: 12 }))).toEqual([...Array(12).keys()].map((i) => i !== 5 && i !== 11));
    expect(slidingLayers(resolveConfig('tiny-gemma2', { blocks: 5 }))).toEqual([true, false, true, false, true]);
    expect(slidingLayers(presetConfig('tiny-llama3'))).toEqual([false, false]);
  });

  it('write Llama 3.1 rope factors: 1 at high frequencies, 8 at low, smoothed between', () => {
    const c = presetConfig('tiny-llama3');
    const f = llama3RopeFactors(c);
    expect(f).toHaveLength(32);
    // Independently, in double precision: wavelength 2π·θ^(2i/d) against 8192/4 and 8192/1.
    for (let i = 0; i < 32; i++) {
      const wavelen = 2 * Math.PI * 500000 ** ((2 * i) / 64);
      const want = wavelen < 2048 ? 1 : wavelen > 8192 ? 8 : 1 / ((1 - (8192 / wavelen - 1) / 3) / 8 + (8192 / wavelen - 1) / 3);
      expect(f[i], `i=${i}`).toBeCloseTo(want, 5);
    }
    expect([...f.slice(0, 15)].every((x) => x === 1)).toBe(true);
    expect([...f.slice(18)].every((x) => x === 8)).toBe(true);
    for (let i = 15; i < 18; i++) {
      expect(f[i]).toBeGreaterThan(f[i - 1]!);
      expect(f[i]).toBeLessThan(8);
    }
    // The tensor holds them whatever the matrices' type, first in the file as the converter writes it.
    const t = modelTensors(c, 'Q4_K')[0]!;
    expect(t).toMatchObject({ name: 'rope_freqs.weight', type: 'F32', dims: [32] });
    expect([...t.values!]).toEqual([...f]);
    // Another base moves the band.
    const g = llama3RopeFactors(resolveConfig('tiny-llama3', { ropeTheta: 10000 }));
    expect(g.indexOf(8)).toBeGreaterThan(f.indexOf(8));
  });

  it('draws Gemma norms near 1 (its converter stores 1 + w) and q/k norms at 1.5', () => {
    for (const name of ['tiny-gemma2', 'tiny-gemma3', 'tiny-qwen3'] as const) {
      const c = presetConfig(name);
      for (const t of modelTensors(c, 'F32')) {
        if (t.role !== 'norm') continue;
        const want = /attn_[qk]_norm/.test(t.name) ? 1.5 : 1;
        expect(t.mean, t.name).toBe(want);
        expect(t.std, t.name).toBeCloseTo(want * 0.1, 12);
      }
    }
    // Gemma scales embeddings by √embd in its graph: rows are √embd shorter and the output norm
    // √embd larger, so the logits spread by LOGIT_STD as elsewhere.
    const g = modelTensors(presetConfig('tiny-gemma2'), 'F32');
    expect(g.find((t) => t.name === 'token_embd.weight')!.std).toBe(1 / 256);
    expect(g.find((t) => t.name === 'output_norm.weight')!.mean).toBe(LOGIT_STD * 16);
    const q = modelTensors(presetConfig('tiny-qwen3'), 'F32');
    expect(q.find((t) => t.name === 'token_embd.weight')!.std).toBe(1 / 16);
    expect(q.find((t) => t.name === 'output_norm.weight')!.mean).toBe(LOGIT_STD);
  });

  it('apply the architecture overrides and refuse the ones llama.cpp could not load', () => {
    const g = resolveConfig('tiny-gemma3', { headDim: 64, slidingWindow: 16, tied: false }, 'Q4_K');
    expect(g).toMatchObject({ headDim: 64, slidingWindow: 16, tied: false });
    expect(modelTensors(g, 'Q4_K').find((t) => t.name === 'blk.0.attn_q.weight')!.dims).toEqual([256, 256]);
    expect(modelTensors(g, 'Q4_K').at(-1)!.name).toBe('output.weight');
    expect(resolveConfig('tiny-phi3', { ropeDim: 32 }).ropeDim).toBe(32);
    expect(resolveConfig('tiny-qwen3', { heads: 8 })).toMatchObject({ heads: 8, headDim: 128, kvHeads: 2 });
    // Q4_K rows: heads·head_dim = 4·96 = 384 is not a whole number of 256-blocks.
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-qwen3', { headDim: 96 }, 'Q4_K'))).toBe('MODELGEN_DIMS');
    expect(resolveConfig('tiny-qwen3', { headDim: 96 }, 'Q8_0').headDim).toBe(96);
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-gemma2', { tied: false }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { headDim: 128 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-phi3', { headDim: 128 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-qwen3', { ropeDim: 64 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-phi3', { ropeDim: 33 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-phi3', { ropeDim: 128 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama3', { slidingWindow: 8 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-gemma2', { slidingWindow: 0 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-gemma2', { vocab: 261 }))).toBe('MODELGEN_DIMS');
    expect(resolveConfig('tiny-gemma2', { vocab: 262 }).vocab).toBe(262);
  });
});

describe('whole files of the other architectures', () => {
  const texts = ['The keeper looked at the maps.', '  leading spaces,\ttabs and\nnew lines\n\n', 'Ünïcödé — 日本語 🙂', "it's don't we're I'll"];

  for (const name of NEW_PRESETS) {
    it(`${name}: carries llama.cpp's keys for its architecture, and its tokenizer round-trips`, async () => {
      const plan = planModel({ preset: name, type: 'F16', seed: 1 });
      const bytes = await generateModelBytes(plan);
      const h = parseGgufBytes(bytes, `${name}.gguf`);
      const c = plan.config;
      const a = c.arch;
      expect(getString(h, 'general.architecture')).toBe(a);
      const archKeys = [...h.metadata.keys()].filter((k) => k.startsWith(`${a}.`)).map((k) => k.slice(a.length + 1));
      expect(archKeys.sort()).toEqual([...COMMON_KEYS, ...Object.keys(ARCH_KEYS[name]!)].sort());
      for (const [k, v] of Object.entries(ARCH_KEYS[name]!)) expect(num(h.metadata.get(`${a}.${k}`)), k).toBe(v);
      expect(h.tensors.map((t) => t.name)).toEqual(expectedTensors(c).map(([n]) => n));
      for (const t of h.tensors) expect(t.type, t.name).toBe(t.dims.length === 1 ? GgmlType.F32 : GgmlType.F16);
      expect(getArray(h, 'tokenizer.ggml.tokens', 'string')).toHaveLength(c.vocab);

      const tok = tokenizerFromGguf(h.metadata, name);
      for (const text of texts) expect(tok.decode(tok.encode(text, { addSpecial: false })), text).toBe(text);
      expect(tok.encode(texts[0]!, { addSpecial: false }).length).toBeLessThan(texts[0]!.length / 2);
    });
  }

  it('Gemma vocabulary: <pad> <eos> <bos> <unk> and the turn tokens first, no space prefix, Gemma chat', async () => {
    const h = parseGgufBytes(await generateModelBytes(planModel({ preset: 'tiny-gemma2', type: 'F32' })));
    const tokens = getArray(h, 'tokenizer.ggml.tokens', 'string') as string[];
    expect(tokens.slice(0, 7)).toEqual(['<pad>', '<eos>', '<bos>', '<unk>', '<start_of_turn>', '<end_of_turn>', '<0x00>']);
    expect(num(h.metadata.get('tokenizer.ggml.bos_token_id'))).toBe(2);
    expect(num(h.metadata.get('tokenizer.ggml.eos_token_id'))).toBe(1);
    expect(num(h.metadata.get('tokenizer.ggml.unknown_token_id'))).toBe(3);
    expect(num(h.metadata.get('tokenizer.ggml.padding_token_id'))).toBe(0);
    expect(h.metadata.get('tokenizer.ggml.add_space_prefix')).toEqual({ type: 'bool', value: false });
    expect(h.metadata.get('tokenizer.ggml.add_bos_token')).toEqual({ type: 'bool', value: true });
    expect(getString(h, 'tokenizer.ggml.pre')).toBe('default');
    const tok = tokenizerFromGguf(h.metadata);
    // No space prefix: a text's first word is not the ▁word piece.
    expect(tok.encode('the keeper', { addSpecial: false })[0]).not.toBe(tok.tokenId('\u2581the'));
    expect(tok.encode(' the keeper', { addSpecial: false })[0]).toBe(tok.tokenId('\u2581the'));
    const chat = new ChatTemplate(getString(h, 'tokenizer.chat_template')).render(
      [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
      ],
      { addGenerationPrompt: true, bosToken: '<bos>' },
    );
    expect(chat).toBe('<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n<start_of_turn>model\n');
  });

  it('Phi-3, Mistral, SmolLM and Llama 3 vocabularies have their families’ control tokens and pre-tokenizers', async () => {
    const files = new Map<string, Uint8Array>();
    const meta = async (preset: PresetName) => {
      const bytes = await generateModelBytes(planModel({ preset, type: 'F32' }));
      files.set(preset, bytes);
      return parseGgufBytes(bytes);
    };

    const phi = await meta('tiny-phi3');
    const pt = getArray(phi, 'tokenizer.ggml.tokens', 'string') as string[];
    expect(pt.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(pt.slice(-5)).toEqual(['<|endoftext|>', '<|assistant|>', '<|system|>', '<|end|>', '<|user|>']);
    expect([...(getArray(phi, 'tokenizer.ggml.token_type', 'int32') as Int32Array).slice(-5)]).toEqual(Array(5).fill(TokenType.CONTROL));
    expect(num(phi.metadata.get('tokenizer.ggml.eos_token_id'))).toBe(1019);
    expect(getString(phi, 'tokenizer.ggml.pre')).toBe('default');
    expect(new ChatTemplate(getString(phi, 'tokenizer.chat_template')).render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true })).toBe(
      '<|user|>\nHi<|end|>\n<|assistant|>\n',
    );

    const mistral = await meta('tiny-mistral');
    expect(getString(mistral, 'tokenizer.ggml.model')).toBe('llama');
    expect(getString(mistral, 'tokenizer.ggml.pre')).toBe('default');
    expect(mistral.metadata.has('llama.attention.sliding_window')).toBe(false);
    expect(new ChatTemplate(getString(mistral, 'tokenizer.chat_template')).render([{ role: 'user', content: 'Hi' }], { bosToken: '<s>' })).toBe('<s>[INST] Hi [/INST]');

    const smol = await meta('tiny-smollm');
    const st = getArray(smol, 'tokenizer.ggml.tokens', 'string') as string[];
    expect(getString(smol, 'tokenizer.ggml.pre')).toBe('smollm');
    expect(st.slice(0, 3)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>']);
    expect([...(getArray(smol, 'tokenizer.ggml.token_type', 'int32') as Int32Array).slice(0, 4)]).toEqual([
      TokenType.CONTROL,
      TokenType.CONTROL,
      TokenType.CONTROL,
      TokenType.NORMAL,
    ]);
    expect(num(smol.metadata.get('tokenizer.ggml.bos_token_id'))).toBe(1);
    expect(num(smol.metadata.get('tokenizer.ggml.eos_token_id'))).toBe(2);
    expect(smol.tensors.some((t) => t.name === 'output.weight')).toBe(false);

    const l3 = await meta('tiny-llama3');
    const lt = getArray(l3, 'tokenizer.ggml.tokens', 'string') as string[];
    expect(getString(l3, 'tokenizer.ggml.pre')).toBe('llama-bpe');
    expect(lt.slice(-5)).toEqual(['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>']);
    expect(num(l3.metadata.get('tokenizer.ggml.bos_token_id'))).toBe(1019);
    expect(num(l3.metadata.get('tokenizer.ggml.eos_token_id'))).toBe(1023);
    expect(l3.metadata.get('tokenizer.ggml.add_bos_token')).toEqual({ type: 'bool', value: true });
    // No rope scaling keys: Llama 3.1's converter puts its scaling in rope_freqs.weight only.
    expect([...l3.metadata.keys()].filter((k) => k.includes('rope.scaling'))).toEqual([]);
    expect(l3.tensors[0]).toMatchObject({ name: 'rope_freqs.weight', dims: [32], type: GgmlType.F32 });
    const rf = l3.tensors[0]!;
    const stored = new Float32Array(files.get('tiny-llama3')!.slice(rf.offset, rf.offset + rf.byteSize).buffer);
    expect([...stored]).toEqual([...llama3RopeFactors(presetConfig('tiny-llama3'))]);
    const chat = new ChatTemplate(getString(l3, 'tokenizer.chat_template')).render([{ role: 'user', content: 'Hi' }], {
      addGenerationPrompt: true,
      bosToken: '<|begin_of_text|>',
    });
    expect(chat).toBe('<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
    const tok = tokenizerFromGguf(l3.metadata);
    const ids = tok.encode(chat, { addSpecial: false, parseSpecial: true });
    expect(ids[0]).toBe(1019);
    expect(ids).toContain(tok.tokenId('<|eot_id|>'));
  });
});
