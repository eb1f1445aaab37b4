/**
 * llama-quantize's type mixes (`pxi gen --mix`, shared/model-gen/mix.ts) without llama.cpp: the
 * per-tensor types of each mix against tables written by hand from llama.cpp's rules
 * (src/llama-quant.cpp: llama_tensor_get_type_impl, use_more_bits, tensor_type_fallback), on
 * tiny-llama (untied, GQA 2, 2 blocks), tiny-gemma3 (tied, GQA 4, 6 blocks) and tiny-phi3 (fused
 * attn_qkv), on shapes that make llama.cpp fall back to 32-element types, and against the choices
 * llama.cpp records for real models (its tests/snapshots). Then the files: header types, file
 * type, and tensor bytes equal to a uniform file's of the same type.
 */
import { describe, expect, it } from 'vitest';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { getString, getU32 } from '../../shared/gguf/metadata';
import { GgmlType } from '../../shared/gguf/ggml-types';
import {
  GEN_MIXES,
  GEN_TYPE_BLOCK,
  MIX_BASE_TYPE,
  MIX_FILE_TYPE,
  ModelGenError,
  PRESET_NAMES,
  fallbackType,
  generateModelBytes,
  mixTensors,
  modelTensors,
  planModel,
  resolveConfig,
  type ConfigOverrides,
  type GenMix,
  type GenType,
  type PresetName,
} from '../../shared/model-gen';
import { codeOf } from '../support/errors';

/**
 * A hand-written table: each row is a tensor and its type under the ten mixes, in GEN_MIXES order
 * (Q2_K Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_XS).
 */
type Table = Readonly<Record<string, string>>;

/** The mix's types of the preset's 2-D tensors, as a table of the same shape. */
function typesOf(preset: PresetName, overrides: ConfigOverrides = {}): Record<string, string> {
  const c = resolveConfig(preset, overrides, { mix: 'Q4_K_M' });
  const per = GEN_MIXES.map((m) => mixTensors(c, m));
  const out: Record<string, string> = {};
  per[0]!.forEach((t, i) => {
    if (t.dims.length < 2) {
      // Norms, biases and rope_freqs: never quantised.
      for (const p of per) expect(p[i]!.type, `${t.name}`).toBe('F32');
      return;
    }
    out[t.name] = per.map((p) => p[i]!.type).join(' ');
  });
  return out;
}

const spaced = (t: Table): Record<string, string> => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.trim().split(/\s+/).join(' ')]));

// tiny-llama: 2 blocks (use_more_bits(i, 2) is true for i = 1 only: 1 ≥ 7·2/8; n/8 = n/16 = 0),
// GQA 4/2 = 2, untied. Rows 256 or 512: no fallback.
//                                  Q2_K  Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K IQ4_XS
const TINY_LLAMA: Table = {
  'token_embd.weight':            'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.attn_q.weight':          'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.attn_k.weight':          'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.attn_v.weight':          'Q3_K  Q3_K   Q5_K   Q5_K   Q5_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.attn_output.weight':     'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.ffn_gate.weight':        'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.ffn_up.weight':          'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.ffn_down.weight':        'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.attn_q.weight':          'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.attn_k.weight':          'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.attn_v.weight':          'Q3_K  Q3_K   Q5_K   Q5_K   Q5_K   Q6_K   Q5_K   Q6_K   Q6_K IQ4_XS',
  'blk.1.attn_output.weight':     'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.ffn_gate.weight':        'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.ffn_up.weight':          'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.ffn_down.weight':        'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q6_K   Q5_K   Q6_K   Q6_K IQ4_XS',
  'output.weight':                'Q6_K  Q6_K   Q6_K   Q6_K   Q6_K   Q6_K   Q6_K   Q6_K   Q6_K Q6_K',
};

// tiny-gemma3: 6 blocks (use_more_bits(i, 6): i = 2 ((i − 0) mod 3 = 2) and i = 5 (≥ 42/8 = 5)),
// GQA 4/1 = 4 (Q2_K's attn_v is Q4_K, IQ4_XS's Q5_K), tied: token_embd takes output's Q6_K.
const G = (v: string, o: string, d: string): Record<string, string> => ({ v, o, d });
const GEMMA3_BLOCK: readonly Record<string, string>[] = [
  //  attn_v                                                   attn_output                                              ffn_down
  G('Q4_K Q3_K Q5_K Q5_K Q5_K Q4_K Q5_K Q5_K Q6_K Q5_K', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS'),
  G('Q4_K Q3_K Q5_K Q5_K Q5_K Q4_K Q5_K Q5_K Q6_K Q5_K', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS'),
  G('Q4_K Q3_K Q4_K Q5_K Q5_K Q6_K Q5_K Q6_K Q6_K Q5_K', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q6_K Q5_K Q6_K Q6_K IQ4_XS'),
  G('Q4_K Q3_K Q4_K Q5_K Q5_K Q4_K Q5_K Q5_K Q6_K Q5_K', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS'),
  G('Q4_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K Q5_K', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS'),
  G('Q4_K Q3_K Q4_K Q5_K Q4_K Q6_K Q5_K Q6_K Q6_K Q5_K', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS', 'Q3_K Q3_K Q4_K Q5_K Q4_K Q6_K Q5_K Q6_K Q6_K IQ4_XS'),
];
const BASE_ROW = 'Q2_K Q3_K Q3_K Q3_K Q4_K Q4_K Q5_K Q5_K Q6_K IQ4_XS';
const TINY_GEMMA3: Table = {
  'token_embd.weight': 'Q6_K Q6_K Q6_K Q6_K Q6_K Q6_K Q6_K Q6_K Q6_K Q6_K',
  ...Object.fromEntries(
    GEMMA3_BLOCK.flatMap((b, i) => [
      [`blk.${i}.attn_q.weight`, BASE_ROW],
      [`blk.${i}.attn_k.weight`, BASE_ROW],
      [`blk.${i}.attn_v.weight`, b.v!],
      [`blk.${i}.attn_output.weight`, b.o!],
      [`blk.${i}.ffn_gate.weight`, BASE_ROW],
      [`blk.${i}.ffn_up.weight`, BASE_ROW],
      [`blk.${i}.ffn_down.weight`, b.d!],
    ]),
  ),
};

// tiny-phi3: the fused attn_qkv counts as attn_v in llama.cpp (category_is_attn_v), so it follows
// the attn_v rules (GQA 1); llama.cpp's own attn_qkv branch (Q4_K_M → Q5_K, …) comes after and is
// never reached. The fused gate|up is ffn_up: the base type.
const TINY_PHI3: Table = {
  'token_embd.weight':            'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.attn_qkv.weight':        'Q3_K  Q3_K   Q5_K   Q5_K   Q5_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.attn_output.weight':     'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.ffn_up.weight':          'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.0.ffn_down.weight':        'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.attn_qkv.weight':        'Q3_K  Q3_K   Q5_K   Q5_K   Q5_K   Q6_K   Q5_K   Q6_K   Q6_K IQ4_XS',
  'blk.1.attn_output.weight':     'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.ffn_up.weight':          'Q2_K  Q3_K   Q3_K   Q3_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.ffn_down.weight':        'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q6_K   Q5_K   Q6_K   Q6_K IQ4_XS',
  'output.weight':                'Q6_K  Q6_K   Q6_K   Q6_K   Q6_K   Q6_K   Q6_K   Q6_K   Q6_K Q6_K',
};

// tiny-llama with embd 320 (head size 80): every row but ffn_down's (512) is 320 long, not whole
// 256-blocks. output: Q8_0 (the output rule's own fallback). Others: tensor_type_fallback
// (Q2_K/Q3_K → Q4_0, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, IQ4_XS → IQ4_NL) of the type the
// rules chose.
const L320 = 'Q4_0  Q4_0   Q4_0   Q4_0   Q5_0   Q5_0   Q5_1   Q5_1   Q8_0 IQ4_NL';
const EMBD_320: Table = {
  'token_embd.weight':            L320,
  'blk.0.attn_q.weight':          L320,
  'blk.0.attn_k.weight':          L320,
  'blk.0.attn_v.weight':          'Q4_0  Q4_0   Q5_1   Q5_1   Q5_1   Q5_0   Q5_1   Q5_1   Q8_0 IQ4_NL',
  'blk.0.attn_output.weight':     'Q4_0  Q4_0   Q5_0   Q5_1   Q5_0   Q5_0   Q5_1   Q5_1   Q8_0 IQ4_NL',
  'blk.0.ffn_gate.weight':        L320,
  'blk.0.ffn_up.weight':          L320,
  'blk.0.ffn_down.weight':        'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q4_K   Q5_K   Q5_K   Q6_K IQ4_XS',
  'blk.1.attn_q.weight':          L320,
  'blk.1.attn_k.weight':          L320,
  'blk.1.attn_v.weight':          'Q4_0  Q4_0   Q5_1   Q5_1   Q5_1   Q8_0   Q5_1   Q8_0   Q8_0 IQ4_NL',
  'blk.1.attn_output.weight':     'Q4_0  Q4_0   Q5_0   Q5_1   Q5_0   Q5_0   Q5_1   Q5_1   Q8_0 IQ4_NL',
  'blk.1.ffn_gate.weight':        L320,
  'blk.1.ffn_up.weight':          L320,
  'blk.1.ffn_down.weight':        'Q3_K  Q3_K   Q4_K   Q5_K   Q4_K   Q6_K   Q5_K   Q6_K   Q6_K IQ4_XS',
  'output.weight':                'Q8_0  Q8_0   Q8_0   Q8_0   Q8_0   Q8_0   Q8_0   Q8_0   Q8_0 Q8_0',
};

// tiny-llama with ff 320: only ffn_down's rows (320) fall back; every fallback branch is hit.
const FF_320_DOWN: Table = {
  'blk.0.ffn_down.weight':        'Q4_0  Q4_0   Q5_0   Q5_1   Q5_0   Q5_0   Q5_1   Q5_1   Q8_0 IQ4_NL',
  'blk.1.ffn_down.weight':        'Q4_0  Q4_0   Q5_0   Q5_1   Q5_0   Q8_0   Q5_1   Q8_0   Q8_0 IQ4_NL',
};

describe('llama-quantize mixes: per-tensor types', () => {
  it('the column order of the tables is GEN_MIXES, and each mix has its llama_ftype and base type', () => {
    expect(GEN_MIXES).toEqual(['Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q4_K_S', 'Q4_K_M', 'Q5_K_S', 'Q5_K_M', 'Q6_K', 'IQ4_XS']);
    expect(MIX_FILE_TYPE).toEqual({ Q2_K: 10, Q3_K_S: 11, Q3_K_M: 12, Q3_K_L: 13, Q4_K_S: 14, Q4_K_M: 15, Q5_K_S: 16, Q5_K_M: 17, Q6_K: 18, IQ4_XS: 30 });
    expect(GEN_MIXES.map((m) => MIX_BASE_TYPE[m]).join(' ')).toBe(BASE_ROW);
  });

  it('tiny-llama (untied, GQA 2, 2 blocks)', () => {
    expect(typesOf('tiny-llama')).toEqual(spaced(TINY_LLAMA));
  });

  it('tiny-gemma3 (tied: token_embd is Q6_K; GQA 4; 6 blocks)', () => {
    expect(typesOf('tiny-gemma3')).toEqual(spaced(TINY_GEMMA3));
  });

  it('tiny-phi3 (fused attn_qkv follows the attn_v rules)', () => {
    expect(typesOf('tiny-phi3')).toEqual(spaced(TINY_PHI3));
  });

  it('falls back to 32-element types where a row is not whole 256-blocks (embd 320)', () => {
    expect(typesOf('tiny-llama', { embd: 320 })).toEqual(spaced(EMBD_320));
    // Tied, token_embd takes the output rule: Q8_0 for every mix.
    const tied = typesOf('tiny-llama', { embd: 320, tied: true });
    expect(tied['token_embd.weight']).toBe(Array(10).fill('Q8_0').join(' '));
    expect(tied['output.weight']).toBeUndefined();
  });

  it('falls back on ffn_down alone with ff 320, every branch of tensor_type_fallback', () => {
    expect(typesOf('tiny-llama', { ff: 320 })).toEqual({ ...spaced(TINY_LLAMA), ...spaced(FF_320_DOWN) });
  });

  it('tensor_type_fallback: 32-element types keep their type, and F16 when even 32 does not divide', () => {
    expect(fallbackType('Q4_K', 256)).toBe('Q4_K');
    expect(fallbackType('Q4_K', 288)).toBe('Q5_0');
    expect(fallbackType('Q4_K', 100)).toBe('F16');
    expect(fallbackType('Q8_0', 288)).toBe('Q8_0');
    expect(fallbackType('Q8_0', 48)).toBe('F16');
    expect(fallbackType('IQ4_XS', 96)).toBe('IQ4_NL');
    expect(fallbackType('F32', 7)).toBe('F32');
  });

  it("matches llama.cpp's recorded choices on real shapes (its tests/snapshots: Qwen3-0.6B, Llama-3.1-70B)", () => {
    const blocksWith = (c: ReturnType<typeof resolveConfig>, mix: GenMix, tensor: string, type: GenType): number[] =>
      mixTensors(c, mix)
        .filter((t) => t.name.endsWith(`.${tensor}.weight`) && t.type === type)
        .map((t) => Number(t.name.split('.')[1]));
    const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
    // Qwen3-0.6B: 28 blocks, 16 / 8 heads of 128, width 1024, FFN 3072, untied.
    const q = resolveConfig('tiny-qwen3', { blocks: 28, embd: 1024, ff: 3072, heads: 16, kvHeads: 8, tied: false }, { mix: 'Q4_K_M' });
    const more = [0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27];
    for (const mix of ['Q4_K_M', 'Q5_K_M'] as const) {
      expect(blocksWith(q, mix, 'attn_v', 'Q6_K')).toEqual(more);
      expect(blocksWith(q, mix, 'ffn_down', 'Q6_K')).toEqual(more);
    }
    expect(blocksWith(q, 'Q4_K_S', 'attn_v', 'Q5_K')).toEqual([0, 1, 2, 3]);
    expect(blocksWith(q, 'Q4_K_S', 'ffn_down', 'Q5_K')).toEqual([0, 1, 2]);
    expect(blocksWith(q, 'IQ4_XS', 'ffn_down', 'Q5_K')).toEqual([0, 1, 2]);
    expect(blocksWith(q, 'Q3_K_M', 'attn_v', 'Q5_K')).toEqual([0, 1]);
    expect(blocksWith(q, 'Q3_K_M', 'ffn_down', 'Q5_K')).toEqual([0]);
    expect(blocksWith(q, 'Q3_K_M', 'ffn_down', 'Q4_K')).toEqual(range(1, 28));
    // Llama-3.1-70B: 80 blocks and GQA 8 make llama.cpp's LLM_TYPE_70B: attn_v Q3_K/Q4_K → Q5_K.
    const l = resolveConfig('tiny-llama3', { blocks: 80, embd: 8192, ff: 28672, heads: 64, kvHeads: 8 }, { mix: 'Q4_K_M' });
    const more70 = [...range(0, 10), ...range(10, 70).filter((i) => (i - 10) % 3 === 2), ...range(70, 80)];
    expect(blocksWith(l, 'Q4_K_M', 'attn_v', 'Q6_K')).toEqual(more70);
    expect(blocksWith(l, 'Q4_K_M', 'ffn_down', 'Q6_K')).toEqual(more70);
    expect(blocksWith(l, 'Q4_K_M', 'attn_v', 'Q5_K')).toEqual(range(0, 80).filter((i) => !more70.includes(i)));
    expect(blocksWith(l, 'Q3_K_S', 'attn_v', 'Q5_K')).toEqual(range(0, 80));
    expect(blocksWith(l, 'Q2_K', 'attn_v', 'Q5_K')).toEqual(range(0, 80));
    expect(blocksWith(l, 'IQ4_XS', 'attn_v', 'Q5_K')).toEqual(range(0, 80));
    expect(blocksWith(l, 'IQ4_XS', 'ffn_down', 'Q5_K')).toEqual(range(0, 10));
    // The same shapes with as many KV heads as heads are a 65B to llama.cpp: no 70B rule.
    const l65 = resolveConfig('tiny-llama3', { blocks: 80, embd: 8192, ff: 28672, heads: 64, kvHeads: 64 }, { mix: 'Q3_K_S' });
    expect(blocksWith(l65, 'Q3_K_S', 'attn_v', 'Q5_K')).toEqual([]);
  });

  it('every preset: rows are whole blocks of their types, only matrices change, the Q6_K mix is uniform Q6_K', () => {
    for (const preset of PRESET_NAMES) {
      const c = resolveConfig(preset, {}, { mix: 'Q2_K' });
      const uniform = modelTensors(c, 'Q6_K').map((t) => t.type);
      expect(mixTensors(c, 'Q6_K').map((t) => t.type), preset).toEqual(uniform);
      for (const mix of GEN_MIXES) {
        for (const t of mixTensors(c, mix)) {
          expect(t.dims[0]! % GEN_TYPE_BLOCK[t.type], `${preset} ${mix} ${t.name}`).toBe(0);
          if (t.dims.length < 2) expect(t.type).toBe('F32');
        }
      }
    }
  });

  it('mixes accept rows that are multiples of 32 (the fallbacks), uniform K-quants still need 256', () => {
    expect(resolveConfig('tiny-llama', { embd: 288, heads: 4 }, { mix: 'Q4_K_M' })).toMatchObject({ embd: 288 });
    expect(codeOf(ModelGenError, () => resolveConfig('tiny-llama', { embd: 288, heads: 4 }, 'Q4_K'))).toBe('MODELGEN_DIMS');
    expect(() => resolveConfig('tiny-llama', { ff: 336 }, { mix: 'Q4_K_M' })).toThrow('ff = 336: must be a multiple of 32 for the Q4_K_M mix');
  });
});

describe('llama-quantize mixes: files', () => {
  it('planModel({ preset, mix }): header types, general.file_type, provenance', async () => {
    const plan = planModel({ preset: 'tiny-llama', mix: 'Q4_K_M', seed: 4, method: 'direct' });
    expect(plan.mix).toBe('Q4_K_M');
    expect(plan.type).toBe('Q4_K');
    expect(plan.fileType).toBe(15);
    const bytes = await generateModelBytes(plan);
    const h = parseGgufBytes(bytes, 'mix.gguf');
    expect(getU32(h, 'general.file_type')).toBe(15);
    expect(getU32(h, 'general.quantization_version')).toBe(2);
    expect(getString(h, 'pxi.gen.mix')).toBe('Q4_K_M');
    const types = Object.fromEntries(h.tensors.map((t) => [t.name, t.type]));
    for (const t of plan.tensors) expect(types[t.name], t.name).toBe(GgmlType[t.type]);
    expect(types['blk.1.attn_v.weight']).toBe(GgmlType.Q6_K);
    expect(types['blk.0.attn_v.weight']).toBe(GgmlType.Q4_K);
    expect(types['output.weight']).toBe(GgmlType.Q6_K);
    expect(types['output_norm.weight']).toBe(GgmlType.F32);

    // Each tensor's bytes are those of a uniform file of its type (one PRNG stream per tensor).
    const uniform = new Map<GenType, Uint8Array>();
    for (const type of new Set(plan.tensors.map((t) => t.type))) {
      uniform.set(type, await generateModelBytes(planModel({ preset: 'tiny-llama', type, seed: 4, method: 'direct' })));
    }
    const u = new Map([...uniform].map(([type, b]) => [type, parseGgufBytes(b, type)]));
    for (const t of h.tensors) {
      const type = plan.tensors.find((p) => p.name === t.name)!.type;
      const ut = u.get(type)!.tensors.find((x) => x.name === t.name)!;
      expect(Buffer.compare(bytes.subarray(t.offset, t.offset + t.byteSize), uniform.get(type)!.subarray(ut.offset, ut.offset + ut.byteSize)), t.name).toBe(0);
    }
  });

  it('a uniform file is unchanged: no pxi.gen.mix, the type file types', () => {
    const plan = planModel({ preset: 'tiny-llama', type: 'Q6_K', seed: 0 });
    expect(plan.mix).toBeUndefined();
    expect(plan.fileType).toBe(18);
    expect(plan.metadata.has('pxi.gen.mix')).toBe(false);
    expect(planModel({ preset: 'tiny-llama', type: 'Q3_K' }).fileType).toBe(11);
  });

  it('refuses both or neither of type and mix, and unknown mixes', () => {
    expect(codeOf(ModelGenError, () => planModel({ preset: 'tiny-llama' } as never))).toBe('MODELGEN_TYPE');
    expect(codeOf(ModelGenError, () => planModel({ preset: 'tiny-llama', type: 'Q4_K', mix: 'Q4_K_M' } as never))).toBe('MODELGEN_TYPE');
    expect(codeOf(ModelGenError, () => planModel({ preset: 'tiny-llama', mix: 'Q4_K' as GenMix }))).toBe('MODELGEN_TYPE');
  });
});
