import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { getArray, getF32, getString, getU32 } from '../../shared/gguf/metadata';
import { gv } from '../../shared/gguf/values';
import { GgmlType } from '../../shared/gguf/ggml-types';
import {
  AUTO_QUANTIZE_MAX_PARAMS,
  GEN_TYPES,
  GEN_TYPE_BLOCK,
  LOGIT_STD,
  ModelGenError,
  PRESET_NAMES,
  Xoshiro128,
  buildBpeVocab,
  buildSpmVocab,
  MAX_TRAILING_BYTES,
  generateModelBytes,
  generateModelBytesSync,
  modelFileSize,
  modelTensors,
  parameterCount,
  planModel,
  presetConfig,
  resolveConfig,
  tensorChunks,
  writeModel,
  type GenTensor,
  type GenType,
} from '../../shared/model-gen';
import { QUANT_FORMATS } from '../../shared/quant';
import { ChatTemplate, Tokenizer, TokenType, tokenizerFromGguf } from '../../shared/tokenizer';
import { codeOf } from '../support/errors';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function collect(t: GenTensor, seed: number, method: 'quantize' | 'direct', chunkBytes?: number): Uint8Array {
  const ch = tensorChunks(t, seed, method, chunkBytes);
  const parts: Uint8Array[] = [];
  for (let c = ch.next(); c; c = ch.next()) parts.push(c);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  expect(out.length).toBe(ch.byteSize);
  return out;
}

function stats(v: Float32Array): { mean: number; std: number; maxAbs: number } {
  let s = 0;
  let s2 = 0;
  let maxAbs = 0;
  for (const x of v) {
    s += x;
    s2 += x * x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const mean = s / v.length;
  return { mean, std: Math.sqrt(s2 / v.length - mean * mean), maxAbs };
}

describe('xoshiro128** PRNG', () => {
  it('matches the reference algorithm from a known state', () => {
    // Values from an independent Python transcription of Blackman & Vigna's xoshiro128**.
    const r = Xoshiro128.fromState(1, 2, 3, 4);
    const got = Array.from({ length: 8 }, () => r.nextU32());
    expect(got).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
    const bulk = new Uint32Array(8);
    Xoshiro128.fromState(1, 2, 3, 4).fillU32(bulk);
    expect([...bulk]).toEqual(got);
  });

  it('gives one stream per (seed, name), the same every time', () => {
    const draw = (seed: number, name: string): number[] => {
      const r = Xoshiro128.forTensor(seed, name);
      return Array.from({ length: 4 }, () => r.nextU32());
    };
    expect(draw(7, 'blk.0.attn_q.weight')).toEqual(draw(7, 'blk.0.attn_q.weight'));
    expect(draw(7, 'blk.0.attn_q.weight')).not.toEqual(draw(8, 'blk.0.attn_q.weight'));
    expect(draw(7, 'blk.0.attn_q.weight')).not.toEqual(draw(7, 'blk.0.attn_k.weight'));
  });

  it('draws approximately normal values with the asked mean and spread, bounded at √12 σ', () => {
    const v = new Float32Array(200_000);
    new Xoshiro128(3).fillNormal(v, 0.5, 2);
    const s = stats(v);
    expect(s.mean).toBeCloseTo(2, 2);
    expect(s.std).toBeCloseTo(0.5, 2);
    let beyond2 = 0;
    let maxDev = 0;
    for (const x of v) {
      maxDev = Math.max(maxDev, Math.abs(x - 2));
      if (Math.abs(x - 2) > 1) beyond2++;
    }
    expect(maxDev).toBeLessThanOrEqual(0.5 * Math.sqrt(12) + 1e-6);
    expect(maxDev).toBeGreaterThan(0.5 * 3);
    // A normal puts 4.55% beyond 2σ; the Irwin–Hall(4) shape puts about 4.1% there.
    expect(beyond2 / v.length).toBeGreaterThan(0.03);
    expect(beyond2 / v.length).toBeLessThan(0.055);
  });
});

describe('presets', () => {
  it('qwen2.5-7b has Qwen2.5-7B shapes and its 7.6e9 parameters (arithmetic only)', () => {
    const c = presetConfig('qwen2.5-7b');
    expect(c).toMatchObject({ arch: 'qwen2', blocks: 28, embd: 3584, heads: 28, kvHeads: 4, ff: 18944, vocab: 152064, ropeTheta: 1e6, rmsEps: 1e-6, qkvBias: true, tied: false });
    const [e, v, ff, kv] = [3584, 152064, 18944, 512];
    const block = 2 * e + (e * e + e) + 2 * (e * kv + kv) + e * e + 3 * e * ff;
    expect(parameterCount(c)).toBe(2 * v * e + e + 28 * block);
    expect(parameterCount(c)).toBe(7_615_616_512);
    const ts = modelTensors(c, 'Q4_K');
    expect(ts).toHaveLength(1 + 28 * 12 + 2);
    const byName = new Map(ts.map((t) => [t.name, t]));
    expect(byName.get('token_embd.weight')!.dims).toEqual([3584, 152064]);
    expect(byName.get('blk.27.attn_q.weight')!.dims).toEqual([3584, 3584]);
    expect(byName.get('blk.27.attn_k.weight')!.dims).toEqual([3584, 512]);
    expect(byName.get('blk.27.attn_v.bias')!.dims).toEqual([512]);
    expect(byName.get('blk.27.attn_output.weight')!.dims).toEqual([3584, 3584]);
    expect(byName.get('blk.27.ffn_gate.weight')!.dims).toEqual([3584, 18944]);
    expect(byName.get('blk.27.ffn_down.weight')!.dims).toEqual([18944, 3584]);
    expect(byName.get('output.weight')!.dims).toEqual([3584, 152064]);
    for (const t of ts) expect(t.type).toBe(t.dims.length === 1 ? 'F32' : 'Q4_K');
  });

  it('every llama / qwen2 preset lists the llama.cpp tensors its architecture needs, with ggml shapes', () => {
    // The other architectures: tests/shared/model-gen-archs.test.ts.
    for (const name of PRESET_NAMES.filter((n) => ['llama', 'qwen2'].includes(presetConfig(n).arch))) {
      const c = presetConfig(name);
      const hd = c.embd / c.heads;
      const names = modelTensors(c, 'F16').map((t) => t.name);
      const expected = c.ropeScaling ? ['rope_freqs.weight', 'token_embd.weight'] : ['token_embd.weight'];
      for (let b = 0; b < c.blocks; b++) {
        const p = `blk.${b}.`;
        expected.push(`${p}attn_norm.weight`, `${p}attn_q.weight`);
        if (c.qkvBias) expected.push(`${p}attn_q.bias`);
        expected.push(`${p}attn_k.weight`);
        if (c.qkvBias) expected.push(`${p}attn_k.bias`);
        expected.push(`${p}attn_v.weight`);
        if (c.qkvBias) expected.push(`${p}attn_v.bias`);
        expected.push(`${p}attn_output.weight`, `${p}ffn_norm.weight`, `${p}ffn_gate.weight`, `${p}ffn_up.weight`, `${p}ffn_down.weight`);
      }
      expected.push('output_norm.weight');
      if (!c.tied) expected.push('output.weight');
      expect(names, name).toEqual(expected);
      expect(c.qkvBias, name).toBe(c.arch === 'qwen2');
      // Dimensions fit every K-quant: rows of embd and ff are whole 256-blocks.
      expect(c.embd % 256, name).toBe(0);
      expect(c.ff % 256, name).toBe(0);
      expect(hd % 2, name).toBe(0);
      for (const type of GEN_TYPES) expect(() => resolveConfig(name, {}, type)).not.toThrow();
    }
    expect(parameterCount(presetConfig('tiny-llama'))).toBeGreaterThan(300_000);
    expect(parameterCount(presetConfig('tiny-qwen2'))).toBeLessThan(5_000_000);
    expect(parameterCount(presetConfig('qwen2-1b'))).toBe(1_015_916_544);
    expect(presetConfig('qwen2-1b').tied).toBe(true);
  });

  it('applies overrides and refuses shapes llama.cpp or the type cannot hold', () => {
    const c = resolveConfig('tiny-qwen2', { blocks: 3, embd: 512, heads: 8, kvHeads: 4, vocab: 2000, tied: true }, 'Q4_K');
    expect(c).toMatchObject({ blocks: 3, embd: 512, heads: 8, kvHeads: 4, vocab: 2000, tokens: 1976, tied: true });
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { embd: 320 }, 'Q4_K'))).toBe('MODELGEN_DIMS');
    expect(resolveConfig('tiny-llama', { embd: 320, heads: 5 }, 'Q8_0')).toMatchObject({ embd: 320, heads: 5, kvHeads: 1 });
    expect(resolveConfig('qwen2.5-7b', { heads: 16 })).toMatchObject({ heads: 16, kvHeads: 4 });
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { heads: 3 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { kvHeads: 3 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { vocab: 100 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { blocks: 0 }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('huge-llama'))).toBe('MODELGEN_PRESET');
    expect(codeOf(ModelGenError, () => planModel({ preset: 'tiny-llama', type: 'F32', seed: 2 ** 32 }))).toBe('MODELGEN_SEED');
  });
});

describe('weights', () => {
  const mk = (type: GenType, std = 0.03): GenTensor => ({ name: 'w', dims: [512, 96], type, role: 'matrix', mean: 0, std });

  it('direct blocks decode (by our dequantisers) to mean 0 and the tensor std', () => {
    for (const type of GEN_TYPES.filter((g) => GEN_TYPE_BLOCK[g] > 1)) {
      const t: GenTensor = { ...mk(type), dims: [1024, 256] };
      const v = QUANT_FORMATS[type].dequantize(collect(t, 11, 'direct'), 1024 * 256);
      const s = stats(v);
      expect(Math.abs(s.mean), type).toBeLessThan(0.03 * 0.01);
      expect(s.std / 0.03, type).toBeGreaterThan(0.97);
      expect(s.std / 0.03, type).toBeLessThan(1.03);
      expect(s.maxAbs, type).toBeLessThan(0.03 * 4);
    }
  });

  it('quantize encodes the same normal values for every type (one model, many precisions)', () => {
    const ref = QUANT_FORMATS.F32.dequantize(collect(mk('F32'), 5, 'quantize'), 512 * 96);
    // Measured: Q4_1 0.076, Q5_0 0.041, Q5_1 0.037, Q2_K 0.263, Q3_K 0.140, Q5_K 0.035,
    // IQ4_NL 0.071, IQ4_XS 0.072 (the older types' bounds predate the record).
    const tol: Record<GenType, number> = {
      F32: 0,
      F16: 1e-3,
      BF16: 8e-3,
      Q8_0: 8e-3,
      Q6_K: 3e-2,
      Q4_0: 0.12,
      Q4_K: 0.12,
      Q4_1: 0.1,
      Q5_0: 0.055,
      Q5_1: 0.05,
      Q2_K: 0.32,
      Q3_K: 0.18,
      Q5_K: 0.05,
      IQ4_NL: 0.095,
      IQ4_XS: 0.095,
    };
    for (const type of GEN_TYPES) {
      const v = QUANT_FORMATS[type].dequantize(collect(mk(type), 5, 'quantize'), 512 * 96);
      let err = 0;
      for (let i = 0; i < v.length; i++) err += (v[i]! - ref[i]!) ** 2;
      // Relative RMS error of the quantised copy against the F32 values.
      expect(Math.sqrt(err / v.length) / 0.03, type).toBeLessThanOrEqual(tol[type]);
    }
  });

  it('bytes do not depend on the chunk size', () => {
    for (const type of GEN_TYPES) {
      for (const method of ['direct', 'quantize'] as const) {
        const t = mk(type);
        expect(sha256(collect(t, 9, method, 1)), `${type} ${method}`).toBe(sha256(collect(t, 9, method, 1 << 20)));
      }
    }
  });
});

describe('vocabularies', () => {
  it('SentencePiece: specials, 256 byte tokens, then pieces each made of two earlier pieces', () => {
    const v = buildSpmVocab(1024);
    expect(v.tokens).toHaveLength(1024);
    expect(new Set(v.tokens).size).toBe(1024);
    expect(v.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect([...v.tokenTypes.slice(0, 3)]).toEqual([TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]);
    for (let b = 0; b < 256; b++) {
      expect(v.tokens[3 + b]).toBe(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      expect(v.tokenTypes[3 + b]).toBe(TokenType.BYTE);
    }
    const seen = new Set<string>();
    let merged = 0;
    for (let i = 259; i < 1024; i++) {
      const p = v.tokens[i]!;
      expect(v.tokenTypes[i]).toBe(TokenType.NORMAL);
      expect(p.indexOf('\u2581', 1)).toBe(-1);
      if ([...p].length > 1) {
        merged++;
        // Reachable by SPM merging: some split is two pieces already in the vocabulary.
        const splits = [...Array(p.length - 1).keys()].map((k) => [p.slice(0, k + 1), p.slice(k + 1)]);
        expect(splits.some(([a, b]) => seen.has(a!) && seen.has(b!)), p).toBe(true);
        // Earlier merges score higher, so SPM (highest score first) merges in BPE order.
        if (merged > 1) expect(v.scores![i]).toBeLessThan(v.scores![i - 1]!);
      }
      seen.add(p);
    }
    expect(merged).toBeGreaterThan(500);
    expect(v.tokens).toContain('\u2581the');
  });

  it('byte-level BPE: 256 byte symbols, merges over earlier tokens, control tokens, padding', () => {
    const v = buildBpeVocab(1000, 1024);
    expect(v.tokens).toHaveLength(1024);
    expect(new Set(v.tokens).size).toBe(1024);
    expect(v.tokens.slice(997, 1000)).toEqual(['<|endoftext|>', '<|im_start|>', '<|im_end|>']);
    expect([...v.tokenTypes.slice(997, 1000)]).toEqual([TokenType.CONTROL, TokenType.CONTROL, TokenType.CONTROL]);
    expect(v.tokens[1000]).toBe('[PAD1000]');
    expect([...v.tokenTypes.slice(1000)].every((t) => t === TokenType.UNUSED)).toBe(true);
    expect(v.bos).toBe(997);
    expect(v.eos).toBe(999);
    expect(v.addBos).toBe(false);
    const rank = new Map<string, number>(v.tokens.slice(0, 997).map((t, i) => [t, i]));
    const made = new Map<string, number>();
    v.merges!.forEach((m, i) => {
      const [a, b] = m.split(' ') as [string, string];
      expect(rank.has(a) && rank.has(b), m).toBe(true);
      // Each side exists before this merge: a byte symbol or made by an earlier merge.
      for (const side of [a, b]) expect(rank.get(side)! < 256 || made.get(side)! < i, `${m}: ${side}`).toBe(true);
      if (!made.has(a + b)) made.set(a + b, i);
    });
    expect(rank.has('\u0120the')).toBe(true); // "Ġthe"
  });

  it('fills big vocabularies with synthetic merges (Qwen2.5-7B: 151,643 regular tokens)', () => {
    const v = buildBpeVocab(151646, 152064);
    expect(v.tokens).toHaveLength(152064);
    expect(v.merges!.length).toBeGreaterThanOrEqual(151643 - 256);
    expect(v.tokens[151643]).toBe('<|endoftext|>');
    expect(v.tokens[152063]).toBe('[PAD152063]');
    expect(new Set(v.tokens).size).toBe(152064);
    const t = new Tokenizer({ model: 'gpt2', pre: 'qwen2', tokens: v.tokens, tokenTypes: v.tokenTypes, merges: v.merges });
    const text = 'Hello world, 2024! The keeper measured the river: 131 centimetres.';
    expect(t.decode(t.encode(text))).toBe(text);
  });
});

describe('whole files', () => {
  const texts = [
    'The keeper looked at the maps.',
    '  leading spaces,\ttabs and\nnew lines\n\n',
    'Numbers 1234567 and 3.14159; symbols #@$%^&*()[]{}',
    'Ünïcödé — 日本語のテキスト 🙂👍🏽 ∑∫√',
    "it's don't we're I'll they've",
  ];

  for (const preset of ['tiny-llama', 'tiny-qwen2'] as const) {
    it(`${preset}: parses with our reader, carries llama.cpp's keys, and its tokenizer round-trips`, async () => {
      const plan = planModel({ preset, type: 'F16', seed: 1 });
      const bytes = await generateModelBytes(plan);
      const h = parseGgufBytes(bytes, `${preset}.gguf`);
      const c = plan.config;
      const a = c.arch;
      expect(getString(h, 'general.architecture')).toBe(a);
      expect(getU32(h, `${a}.block_count`)).toBe(c.blocks);
      expect(getU32(h, `${a}.context_length`)).toBe(c.context);
      expect(getU32(h, `${a}.embedding_length`)).toBe(c.embd);
      expect(getU32(h, `${a}.feed_forward_length`)).toBe(c.ff);
      expect(getU32(h, `${a}.attention.head_count`)).toBe(c.heads);
      expect(getU32(h, `${a}.attention.head_count_kv`)).toBe(c.kvHeads);
      expect(getF32(h, `${a}.rope.freq_base`)).toBe(Math.fround(c.ropeTheta));
      expect(getF32(h, `${a}.attention.layer_norm_rms_epsilon`)).toBe(Math.fround(c.rmsEps));
      expect(getU32(h, 'general.file_type')).toBe(1);
      expect(getArray(h, 'tokenizer.ggml.tokens', 'string')).toHaveLength(c.vocab);
      expect(h.tensors.map((t) => t.name)).toEqual(plan.tensors.map((t) => t.name));
      for (const t of h.tensors) expect(t.type).toBe(t.dims.length === 1 ? GgmlType.F32 : GgmlType.F16);
      expect(h.fileSize).toBe(bytes.length);

      const tok = tokenizerFromGguf(h.metadata, preset);
      expect(tok.size).toBe(c.vocab);
      for (const text of texts) expect(tok.decode(tok.encode(text, { addSpecial: false }))).toBe(text);
      // Real merges, not one token per byte: ordinary words take fewer tokens than bytes.
      const ids = tok.encode(texts[0]!, { addSpecial: false });
      expect(ids.length).toBeLessThan(texts[0]!.length / 2);

      const template = new ChatTemplate(getString(h, 'tokenizer.chat_template'));
      const chat = template.render([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true, bosToken: '<s>', eosToken: '</s>' });
      if (a === 'qwen2') {
        expect(chat).toBe('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
        const chatIds = tok.encode(chat, { addSpecial: false, parseSpecial: true });
        expect(chatIds[0]).toBe(tok.tokenId('<|im_start|>'));
        expect(tok.isEog(tok.tokenId('<|im_end|>')!)).toBe(true);
      } else {
        expect(chat).toBe('<s>[INST] Hi [/INST]');
      }
    });
  }

  it('the same seed gives the same bytes, another seed other weights but the same header', async () => {
    const a = await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'Q8_0', seed: 42 }));
    const b = await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'Q8_0', seed: 42 }));
    const c = await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'Q8_0', seed: 43 }));
    expect(sha256(a)).toBe(sha256(b));
    expect(sha256(a)).not.toBe(sha256(c));
    const h = parseGgufBytes(a);
    expect(getU32(h, 'pxi.gen.seed')).toBe(42);
    // Only the seed key differs in the header; every tensor's data differs.
    const hc = parseGgufBytes(c);
    expect(hc.dataOffset).toBe(h.dataOffset);
    for (const t of h.tensors) {
      expect(sha256(a.subarray(t.offset, t.offset + t.byteSize)), t.name).not.toBe(sha256(c.subarray(t.offset, t.offset + t.byteSize)));
    }
  });

  it('keeps its bytes across versions (golden hashes: change them only on purpose, and say so)', async () => {
    // Files others generated and cached stay valid while these hold. Neither depends on the
    // project's quantisers: F32 is the PRNG and the header, direct Q4_K is this module's blocks.
    const f32 = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'F32', seed: 0 }));
    expect(sha256(f32)).toBe('ba1f8f1565554ac0765caa9ba5015b584bb2e9108330454fa07b42952aa9ccc6');
    const q4k = await generateModelBytes(planModel({ preset: 'tiny-qwen2', type: 'Q4_K', seed: 0, method: 'direct' }));
    expect(sha256(q4k)).toBe('9ceb66f68a4ba16d88c9eb2c03d42946178986cce2cf9dad38751c0168c2cd4d');
  });

  it('streams through a sink with progress, and stops when asked', async () => {
    const plan = planModel({ preset: 'tiny-llama', type: 'F32', seed: 3 });
    let clock = 0;
    const seen: number[] = [];
    let total = 0;
    const res = await writeModel(
      plan,
      {
        write(bytes) {
          total += bytes.length;
          clock += 10;
          return Promise.resolve();
        },
      },
      { chunkBytes: 64 << 10, progressEveryMs: 50, now: () => clock, onProgress: (p) => seen.push(p.bytesDone) },
    );
    expect(total).toBe(plan.layout.fileSize);
    expect(res.bytes).toBe(plan.layout.fileSize);
    expect(seen.length).toBeGreaterThan(3);
    expect(seen[seen.length - 1]).toBe(plan.layout.fileSize);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);

    let chunks = 0;
    await expect(
      writeModel(plan, { write: () => Promise.resolve() }, { chunkBytes: 64 << 10, shouldStop: () => ++chunks > 3 }),
    ).rejects.toMatchObject({ code: 'MODELGEN_ABORTED' });
  });

  it('file options: alignment, GGUF v2, filled padding, trailing bytes and extra metadata around the same model', async () => {
    // Width 96: 384-byte norms, so 256-byte alignment leaves padding after them.
    const overrides = { blocks: 1, embd: 96, ff: 96, heads: 4, kvHeads: 2 };
    const plain = planModel({ preset: 'tiny-llama', type: 'Q8_0', seed: 7, overrides });
    const plainBytes = generateModelBytesSync(plain);
    // The synchronous and the streaming writer make the same file.
    expect(sha256(plainBytes)).toBe(sha256(await generateModelBytes(plain)));
    const extra = new Map([
      ['test.u64', gv.u64(18446744073709551615n)],
      ['test.nan', gv.f32(NaN)],
    ]);
    const plan = planModel({
      preset: 'tiny-llama',
      type: 'Q8_0',
      seed: 7,
      overrides,
      file: { alignment: 256, version: 2, fillPadding: true, trailingBytes: 1000, metadata: extra },
    });
    const bytes = generateModelBytesSync(plan, { chunkBytes: 4096 });
    expect(bytes.length).toBe(modelFileSize(plan));
    expect(bytes.length).toBe(plan.layout.fileSize + 1000);
    expect(sha256(bytes)).toBe(sha256(await generateModelBytes(plan)));
    const h = parseGgufBytes(bytes);
    expect(h.version).toBe(2);
    expect(h.alignment).toBe(256);
    expect(getU32(h, 'general.alignment')).toBe(256);
    expect(h.metadata.get('test.u64')).toEqual(gv.u64(18446744073709551615n));
    expect(Number.isNaN(h.metadata.get('test.nan')!.value)).toBe(true);
    const p = parseGgufBytes(plainBytes);
    expect(h.tensors.map((t) => t.name)).toEqual(p.tensors.map((t) => t.name));
    let padding = 0;
    h.tensors.forEach((t, i) => {
      expect(t.offset % 256, t.name).toBe(0);
      const q = p.tensors[i]!;
      // The same weights, wherever the layout puts them.
      expect(sha256(bytes.subarray(t.offset, t.offset + t.byteSize)), t.name).toBe(sha256(plainBytes.subarray(q.offset, q.offset + q.byteSize)));
      const end = i + 1 < h.tensors.length ? h.tensors[i + 1]!.offset : plan.layout.fileSize;
      for (let o = t.offset + t.byteSize; o < end; o++, padding++) expect(bytes[o], `padding at ${o}`).not.toBe(0);
    });
    expect(padding).toBeGreaterThan(0);
    expect(bytes.subarray(plan.layout.fileSize).some((b) => b !== 0)).toBe(true);
    // Streaming reports the whole file, trailing bytes included.
    const seen: number[] = [];
    const res = await writeModel(plan, { write: () => Promise.resolve() }, { progressEveryMs: 0, onProgress: (g) => seen.push(g.bytesTotal) });
    expect(res.bytes).toBe(bytes.length);
    expect(new Set(seen)).toEqual(new Set([bytes.length]));
    // Defaults are what ggml writes: no alignment key, version 3, zero padding, nothing after.
    expect(plain.metadata.has('general.alignment')).toBe(false);
    expect(p.version).toBe(3);
    expect(modelFileSize(plain)).toBe(plain.layout.fileSize);
  });

  it('refuses file options out of range, and extra metadata that would replace generated keys', () => {
    const file = (f: object): string | undefined => codeOf(ModelGenError, () => planModel({ preset: 'tiny-llama', type: 'F32', file: f }));
    for (const alignment of [0, 3, 48, 1 << 17, 1.5, -8]) expect(file({ alignment }), `alignment ${alignment}`).toBe('MODELGEN_FILE');
    for (const alignment of [1, 8, 256, 1 << 16]) expect(file({ alignment }), `alignment ${alignment}`).toBeUndefined();
    expect(file({ version: 1 })).toBe('MODELGEN_FILE');
    for (const trailingBytes of [-1, 0.5, MAX_TRAILING_BYTES + 1]) expect(file({ trailingBytes }), `trailing ${trailingBytes}`).toBe('MODELGEN_FILE');
    expect(file({ metadata: new Map([['general.name', gv.str('x')]]) })).toBe('MODELGEN_FILE');
    expect(file({ metadata: new Map([['general.alignment', gv.u32(8)]]) })).toBe('MODELGEN_FILE');
    expect(file({ metadata: new Map([['test.new', gv.str('x')]]) })).toBeUndefined();
  });

  it('small SentencePiece vocabularies without byte tokens, only when asked', () => {
    // Without the option the byte tokens set the floor (pxi gen's behaviour).
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { vocab: 32 }))).toBe('MODELGEN_DIMS');
    const c = resolveConfig('tiny-llama', { vocab: 32, embd: 32, ff: 32, heads: 2, kvHeads: 1, byteTokens: false });
    expect(c).toMatchObject({ vocab: 32, tokens: 32, byteTokens: false });
    const plan = planModel({ preset: 'tiny-llama', type: 'F32', overrides: { vocab: 32, embd: 32, ff: 32, heads: 2, kvHeads: 1, byteTokens: false } });
    expect(plan.vocab.tokens).toHaveLength(32);
    expect(plan.vocab.tokens.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(plan.vocab.tokens.some((t) => /^<0x[0-9A-F]{2}>$/.test(t))).toBe(false);
    expect(new Set(plan.vocab.tokens).size).toBe(32);
    expect(plan.tensors.find((t) => t.name === 'token_embd.weight')!.dims).toEqual([32, 32]);
    expect(buildSpmVocab(1024).tokens).toEqual(buildSpmVocab(1024, 'llama', true).tokens);
    // The floor is the control tokens and one piece; byte-level BPE cannot leave its bytes out.
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { vocab: 4, byteTokens: false }))).toBeUndefined();
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { vocab: 3, byteTokens: false }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-qwen2', { byteTokens: false }))).toBe('MODELGEN_DIMS');
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { byteTokens: true }))).toBeUndefined();
    expect(resolveConfig('tiny-llama', { byteTokens: true })).toEqual(presetConfig('tiny-llama'));
  });

  it('picks the method by size: quantize for small models, direct for big ones', () => {
    expect(planModel({ preset: 'tiny-llama', type: 'Q4_K' }).method).toBe('quantize');
    expect(parameterCount(presetConfig('qwen2-1b'))).toBeGreaterThan(AUTO_QUANTIZE_MAX_PARAMS);
    expect(planModel({ preset: 'tiny-llama', type: 'Q4_K', method: 'direct' }).method).toBe('direct');
    const big = planModel({ preset: 'qwen2-1b', type: 'Q4_K' });
    expect(big.method).toBe('direct');
    expect(big.layout.fileSize).toBeGreaterThan(500e6);
    expect(getF32({ file: 'x', metadata: big.metadata }, 'qwen2.rope.freq_base')).toBe(1e6);
    expect(LOGIT_STD).toBeGreaterThan(1);
  });
});
