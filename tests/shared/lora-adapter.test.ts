/**
 * LoRA adapters as files (shared/lora): the seeded generator's output read back by the reader
 * against its base (a generated tiny-llama), llama.cpp's scale, and every refusal of the reader
 * on a mutated adapter, each naming the file, the field or tensor, and the value. The same files
 * in llama.cpp itself: tests/node/lora-llama-cpp.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelHeader } from '../../shared/engine/tensor-source';
import { GgmlType, GgufError, gv, parseGgufBytes, tensorByteSize, writeGgufBytes, type GgufHeader, type GgufValue } from '../../shared/gguf';
import {
  DEFAULT_LORA_GAIN,
  defaultLoraTargets,
  generateLoraAdapterBytes,
  LoraError,
  loraAdapterFromGguf,
  loraScale,
  type LoraAdapter,
  type LoraErrorCode,
} from '../../shared/lora';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { f16ToF32 } from '../../shared/quant';

const ADAPTER = 'adapter.gguf';
let base: GgufHeader;
let baseBytes: Uint8Array;
let adapterBytes: Uint8Array;

beforeAll(async () => {
  baseBytes = await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'F32', seed: 0 }));
  base = parseGgufBytes(baseBytes, 'base.gguf');
  adapterBytes = generateLoraAdapterBytes({ base, rank: 8, alpha: 16, seed: 1 });
});

interface EditableTensor {
  name: string;
  dims: number[];
  type: number;
  data: Uint8Array;
}

/** The adapter rewritten after `edit` changed its metadata or tensors, and parsed again. */
function mutated(edit: (meta: Map<string, GgufValue>, tensors: EditableTensor[]) => void, bytes = adapterBytes): GgufHeader {
  const h = parseGgufBytes(bytes, ADAPTER);
  const meta = new Map(h.metadata);
  const tensors = h.tensors.map((t) => ({ name: t.name, dims: [...t.dims], type: t.type as number, data: bytes.slice(t.offset, t.offset + t.byteSize) }));
  edit(meta, tensors);
  for (const t of tensors) {
    const size = tensorByteSize(t.type, t.dims);
    if (t.data.length !== size) t.data = new Uint8Array(size);
  }
  return parseGgufBytes(writeGgufBytes(meta, tensors, { name: ADAPTER }), ADAPTER);
}

function tensor(tensors: EditableTensor[], name: string): EditableTensor {
  const t = tensors.find((x) => x.name === name);
  if (!t) throw new Error(`no tensor ${name}`);
  return t;
}

/** The LoraError `fn` throws (its code and message checked by the caller). */
function refusal(fn: () => unknown): LoraError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LoraError);
    return e as LoraError;
  }
  throw new Error('expected a LoraError');
}

function refused(adapter: ModelHeader, code: LoraErrorCode, ...mentions: string[]): LoraError {
  const e = refusal(() => loraAdapterFromGguf(adapter, base));
  expect(e.code).toBe(code);
  expect(e.message.startsWith(`${ADAPTER}: `)).toBe(true);
  for (const m of mentions) expect(e.message).toContain(m);
  return e;
}

function floats(bytes: Uint8Array, h: GgufHeader, name: string): Float32Array {
  const t = h.tensors.find((x) => x.name === name)!;
  const view = new DataView(bytes.buffer, bytes.byteOffset + t.offset, t.byteSize);
  const out = new Float32Array(t.elementCount);
  for (let i = 0; i < out.length; i++) out[i] = t.type === GgmlType.F16 ? f16ToF32(view.getUint16(i * 2, true)) : view.getFloat32(i * 4, true);
  return out;
}

function std(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s / v.length);
}

describe('generated adapters, read back', () => {
  it('has the metadata llama.cpp requires and a pair per default target of the base', () => {
    const h = parseGgufBytes(adapterBytes, ADAPTER);
    expect(h.metadata.get('general.type')).toEqual(gv.str('adapter'));
    expect(h.metadata.get('general.architecture')).toEqual(gv.str('llama'));
    expect(h.metadata.get('adapter.type')).toEqual(gv.str('lora'));
    expect(h.metadata.get('adapter.lora.alpha')).toEqual(gv.f32(16));
    const lora: LoraAdapter = loraAdapterFromGguf(h, base);
    expect(lora.file).toBe(ADAPTER);
    expect(lora.alpha).toBe(16);
    expect(lora.ignored).toEqual([]);
    const targets = defaultLoraTargets(base);
    // tiny-llama: 2 blocks × q, k, v, output, gate, up, down.
    expect(targets).toHaveLength(14);
    expect([...lora.pairs.keys()]).toEqual(targets);
    const q = lora.pairs.get('blk.0.attn_q.weight')!;
    expect(q.rank).toBe(8);
    expect(q.a.dims).toEqual([256, 8]);
    expect(q.b.dims).toEqual([8, 256]);
    const k = lora.pairs.get('blk.1.attn_k.weight')!;
    expect(k.a.dims).toEqual([256, 8]);
    expect(k.b.dims).toEqual([8, 128]);
    const down = lora.pairs.get('blk.0.ffn_down.weight')!;
    expect(down.a.dims).toEqual([512, 8]);
    expect(down.b.dims).toEqual([8, 256]);
    expect(loraScale(lora, q)).toBe(2);
    expect(loraScale(lora, q, 0.5)).toBe(1);
  });

  it('draws A ~ N(0, 1/in) and B so that the update has the asked gain, reproducibly', () => {
    const h = parseGgufBytes(adapterBytes, ADAPTER);
    const a = floats(adapterBytes, h, 'blk.0.ffn_down.weight.lora_a');
    const b = floats(adapterBytes, h, 'blk.0.ffn_down.weight.lora_b');
    expect(std(a)).toBeCloseTo(1 / Math.sqrt(512), 2);
    // gain / (s·√r) with s = 16 / 8.
    expect(std(b) / (DEFAULT_LORA_GAIN / (2 * Math.sqrt(8)))).toBeGreaterThan(0.9);
    expect(std(b) / (DEFAULT_LORA_GAIN / (2 * Math.sqrt(8)))).toBeLessThan(1.1);
    expect(generateLoraAdapterBytes({ base, rank: 8, alpha: 16, seed: 1 })).toEqual(adapterBytes);
    expect(generateLoraAdapterBytes({ base, rank: 8, alpha: 16, seed: 2 })).not.toEqual(adapterBytes);
    // F16 holds the same draws, rounded; other targets leave a target's values alone.
    const f16 = generateLoraAdapterBytes({ base, rank: 8, alpha: 16, seed: 1, type: 'F16', targets: ['blk.0.ffn_down.weight'] });
    const h16 = parseGgufBytes(f16, 'f16.gguf');
    expect(h16.tensors.map((t) => [t.name, t.type])).toEqual([
      ['blk.0.ffn_down.weight.lora_a', GgmlType.F16],
      ['blk.0.ffn_down.weight.lora_b', GgmlType.F16],
    ]);
    const a16 = floats(f16, h16, 'blk.0.ffn_down.weight.lora_a');
    for (let i = 0; i < a.length; i += 97) expect(a16[i]).toBeCloseTo(a[i]!, 3);
    expect(loraAdapterFromGguf(h16, base).pairs.size).toBe(1);
    // Alpha 0: llama.cpp's scale is the user's; B is drawn for s = 1.
    const noAlpha = parseGgufBytes(generateLoraAdapterBytes({ base, rank: 4, alpha: 0, seed: 1, scaleB: 0.2 }), 'a0.gguf');
    const l0 = loraAdapterFromGguf(noAlpha, base);
    expect(loraScale(l0, l0.pairs.get('blk.0.attn_q.weight')!, 0.75)).toBe(0.75);
  });

  it("adapts phi3's fused attn_qkv and gate|up by default", async () => {
    const phi = parseGgufBytes(await generateModelBytes(planModel({ preset: 'tiny-phi3', type: 'F32', seed: 0 })), 'phi3.gguf');
    const targets = defaultLoraTargets(phi);
    expect(targets).toContain('blk.0.attn_qkv.weight');
    expect(targets).toContain('blk.1.ffn_up.weight');
    expect(targets.some((t) => t.includes('attn_q.weight') || t.includes('ffn_gate'))).toBe(false);
    const lora = loraAdapterFromGguf(parseGgufBytes(generateLoraAdapterBytes({ base: phi, rank: 16, alpha: 32, seed: 3 }), 'phi3-lora.gguf'), phi);
    expect(lora.pairs.get('blk.0.attn_qkv.weight')!.b.dims).toEqual([16, 768]);
    expect(lora.pairs.get('blk.0.ffn_up.weight')!.b.dims).toEqual([16, 1024]);
  });

  it('refuses options it cannot honour', () => {
    const gen = (o: Partial<Parameters<typeof generateLoraAdapterBytes>[0]>): LoraError =>
      refusal(() => generateLoraAdapterBytes({ base, rank: 8, alpha: 16, seed: 1, ...o }));
    expect(gen({ rank: 0 })).toMatchObject({ code: 'LORA_BAD_OPTION', field: 'rank' });
    expect(gen({ rank: 2.5 })).toMatchObject({ code: 'LORA_BAD_OPTION', field: 'rank' });
    expect(gen({ rank: 129 }).message).toContain('exceeds min(in, out) = 128 of blk.0.attn_k.weight');
    expect(gen({ alpha: Number.NaN })).toMatchObject({ code: 'LORA_BAD_OPTION', field: 'alpha' });
    expect(gen({ seed: -1 })).toMatchObject({ code: 'LORA_BAD_OPTION', field: 'seed' });
    expect(gen({ scaleB: -1 })).toMatchObject({ code: 'LORA_BAD_OPTION', field: 'scaleB' });
    expect(gen({ targets: ['blk.7.attn_q.weight'] }).message).toContain('targets[0] = "blk.7.attn_q.weight": the base model base.gguf has no tensor');
    expect(gen({ targets: ['blk.0.attn_norm.weight'] }).message).toContain('not a matrix');
    expect(gen({ targets: ['token_embd.weight'] }).message).toContain('token_embd');
    expect(gen({ targets: ['blk.0.attn_q.weight', 'blk.0.attn_q.weight'] }).message).toContain('named twice');
    expect(gen({ targets: [] })).toMatchObject({ code: 'LORA_BAD_OPTION', field: 'targets' });
  });
});

describe('the reader refuses what llama.cpp refuses, naming it', () => {
  it('general.type and adapter.type', () => {
    refused(mutated((m) => m.set('general.type', gv.str('model'))), 'LORA_NOT_ADAPTER', 'kv["general.type"] = "model"');
    refused(mutated((m) => m.delete('general.type')), 'LORA_NOT_ADAPTER', 'kv["general.type"] = "missing"');
    refused(mutated((m) => m.set('general.type', gv.u32(1))), 'LORA_NOT_ADAPTER', 'kv["general.type"] = "uint32"');
    refused(mutated((m) => m.set('adapter.type', gv.str('control_vector'))), 'LORA_NOT_ADAPTER', 'kv["adapter.type"] = "control_vector"');
    refused(mutated((m) => m.delete('adapter.type')), 'LORA_NOT_ADAPTER', 'kv["adapter.type"] = "missing"');
    // The base model itself is no adapter.
    refused({ ...base, file: ADAPTER }, 'LORA_NOT_ADAPTER', 'kv["general.type"]');
  });

  it('general.architecture against the base', () => {
    refused(mutated((m) => m.set('general.architecture', gv.str('qwen2'))), 'LORA_ARCH_MISMATCH', 'kv["general.architecture"] = "qwen2"', 'base.gguf is "llama"');
    refused(mutated((m) => m.delete('general.architecture')), 'LORA_ARCH_MISMATCH', 'kv["general.architecture"] = "missing"');
  });

  it('adapter.lora.alpha: float32, 0 when absent (as llama.cpp), never NaN or of another type', () => {
    const none = loraAdapterFromGguf(mutated((m) => m.delete('adapter.lora.alpha')), base);
    expect(none.alpha).toBe(0);
    expect(loraScale(none, none.pairs.get('blk.0.attn_q.weight')!, 0.5)).toBe(0.5);
    refused(mutated((m) => m.set('adapter.lora.alpha', gv.f64(16))), 'LORA_BAD_ALPHA', 'kv["adapter.lora.alpha"] = "float64"', 'float32');
    refused(mutated((m) => m.set('adapter.lora.alpha', gv.u32(16))), 'LORA_BAD_ALPHA', 'kv["adapter.lora.alpha"] = "uint32"');
    refused(mutated((m) => m.set('adapter.lora.alpha', gv.f32(Number.NaN))), 'LORA_BAD_ALPHA', 'kv["adapter.lora.alpha"] = NaN');
    refused(mutated((m) => m.set('adapter.lora.alpha', gv.f32(Infinity))), 'LORA_BAD_ALPHA', 'Infinity');
  });

  it('aLoRA (invocation tokens)', () => {
    refused(mutated((m) => m.set('adapter.alora.invocation_tokens', gv.array('uint32', new Uint32Array([1, 2])))), 'LORA_ALORA', 'kv["adapter.alora.invocation_tokens"] = "array of uint32"');
  });

  it('an unpaired half', () => {
    const e = refused(
      mutated((_, t) => t.splice(t.findIndex((x) => x.name === 'blk.1.ffn_up.weight.lora_b'), 1)),
      'LORA_UNPAIRED',
      'tensor["blk.1.ffn_up.weight.lora_a"] = "blk.1.ffn_up.weight"',
      'lora_b',
    );
    expect(e.field).toBe('tensor["blk.1.ffn_up.weight.lora_a"]');
    refused(mutated((_, t) => t.splice(t.findIndex((x) => x.name === 'blk.0.attn_v.weight.lora_a'), 1)), 'LORA_UNPAIRED', 'blk.0.attn_v.weight.lora_b', 'lora_a');
  });

  it('shapes that do not fit the base tensor', () => {
    // lora_a's rows must be as long as the base's rows.
    refused(
      mutated((_, t) => (tensor(t, 'blk.0.attn_q.weight.lora_a').dims = [128, 8])),
      'LORA_SHAPE',
      'tensor["blk.0.attn_q.weight.lora_a"].dims[0] = 128',
      'row length 256',
    );
    // lora_b must have the base's row count.
    refused(
      mutated((_, t) => (tensor(t, 'blk.0.attn_k.weight.lora_b').dims = [8, 256])),
      'LORA_SHAPE',
      'tensor["blk.0.attn_k.weight.lora_b"].dims[1] = 256',
      "the base's blk.0.attn_k.weight is [256, 128]",
    );
    // The two halves of a pair have one rank.
    refused(mutated((_, t) => (tensor(t, 'blk.0.attn_q.weight.lora_a').dims = [256, 4])), 'LORA_SHAPE', 'tensor["blk.0.attn_q.weight.lora_a"].dims[1] = 4', "lora_b's (8)");
    // A third dimension a matrix does not have (ggml_mul_mat_id's expert axis).
    refused(mutated((_, t) => (tensor(t, 'blk.0.attn_q.weight.lora_a').dims = [256, 8, 2])), 'LORA_SHAPE', 'tensor["blk.0.attn_q.weight.lora_a"].dims[2] = 2');
    // Rank above min(in, out): attn_k is [256, 128].
    refused(
      mutated((_, t) => {
        tensor(t, 'blk.0.attn_k.weight.lora_a').dims = [256, 200];
        tensor(t, 'blk.0.attn_k.weight.lora_b').dims = [200, 128];
      }),
      'LORA_SHAPE',
      'tensor["blk.0.attn_k.weight.lora_b"].dims[0] = 200',
      'exceeds min(in, out) = 128',
    );
  });

  it('tensor types other than F32 and F16', () => {
    refused(
      mutated((_, t) => (tensor(t, 'blk.1.attn_output.weight.lora_a').type = GgmlType.Q8_0)),
      'LORA_TYPE',
      'tensor["blk.1.attn_output.weight.lora_a"].type = "Q8_0"',
      'F32 or F16',
    );
    refused(mutated((_, t) => (tensor(t, 'blk.1.attn_output.weight.lora_b').type = GgmlType.BF16)), 'LORA_TYPE', '"BF16"');
  });

  it('tensors that are no LoRA half, pairs for tensors the base lacks, two tensors for one half', () => {
    refused(
      mutated((_, t) => t.push({ name: 'output.weight', dims: [256, 1024], type: GgmlType.F32, data: new Uint8Array(0) })),
      'LORA_UNKNOWN_TENSOR',
      'tensor["output.weight"].name = "output.weight"',
      'not a LoRA tensor',
    );
    refused(
      mutated((_, t) => {
        for (const x of t) x.name = x.name.replace('blk.1.attn_q.weight', 'blk.9.attn_q.weight');
      }),
      'LORA_UNKNOWN_TENSOR',
      'tensor["blk.9.attn_q.weight.lora_a"] = "blk.9.attn_q.weight"',
      'base.gguf has no tensor',
    );
    // llama.cpp strips every ".lora_a", so this names the same pair as blk.0.attn_q.weight.lora_a.
    refused(
      mutated((_, t) => t.push({ ...tensor(t, 'blk.0.attn_q.weight.lora_a'), name: 'blk.0.attn_q.lora_a.weight.lora_a' })),
      'LORA_DUPLICATE',
      'tensor["blk.0.attn_q.lora_a.weight.lora_a"] = "blk.0.attn_q.weight"',
    );
  });

  it('takes what llama.cpp takes beyond the defaults: norm tensors (skipped), output and token_embd pairs', () => {
    const r = 4;
    const lora = loraAdapterFromGguf(
      mutated((_, t) => {
        t.push({ name: 'blk.0.attn_norm.weight', dims: [256], type: GgmlType.F32, data: new Uint8Array(0) });
        // tiny-llama is tied: no output.weight; token_embd is [256, 1024], its pair A [r, n_vocab], B [r, n_embd].
        t.push({ name: 'token_embd.weight.lora_a', dims: [r, 1024], type: GgmlType.F32, data: new Uint8Array(0) });
        t.push({ name: 'token_embd.weight.lora_b', dims: [r, 256], type: GgmlType.F16, data: new Uint8Array(0) });
      }),
      base,
    );
    expect(lora.ignored).toEqual(['blk.0.attn_norm.weight']);
    expect(lora.pairs.get('token_embd.weight')).toMatchObject({ target: 'token_embd.weight', rank: r });
    expect(lora.pairs.size).toBe(15);
    // token_embd laid out as a plain matrix's pair is refused.
    refused(
      mutated((_, t) => {
        t.push({ name: 'token_embd.weight.lora_a', dims: [256, r], type: GgmlType.F32, data: new Uint8Array(0) });
        t.push({ name: 'token_embd.weight.lora_b', dims: [r, 1024], type: GgmlType.F32, data: new Uint8Array(0) });
      }),
      'LORA_SHAPE',
      'tensor["token_embd.weight.lora_a"].dims[1] = 4',
    );
  });

  it('a truncated file is the GGUF reader’s error', () => {
    for (const cut of [10, 200, adapterBytes.length - 1]) {
      expect(() => parseGgufBytes(adapterBytes.subarray(0, cut), ADAPTER)).toThrow(GgufError);
    }
    try {
      parseGgufBytes(adapterBytes.subarray(0, adapterBytes.length - 100), ADAPTER);
    } catch (e) {
      expect((e as GgufError).message).toMatch(/^adapter\.gguf: /);
    }
  });
});
