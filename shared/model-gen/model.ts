/**
 * A whole generated model before any byte is written: its configuration, metadata, tensor list
 * and the GGUF layout (header bytes and every tensor's offset).
 */
import { GgmlType } from '../gguf/ggml-types';
import { gv, type GgufValue } from '../gguf/values';
import { ALIGNMENT_KEY } from '../gguf/limits';
import { layoutGguf, type GgufLayout } from '../gguf/writer';
import { headDim, isGenMix, ropeDim, type GenMix, type GenType, type ModelConfig } from './config';
import { resolveConfig, type ConfigOverrides } from './resolve';
import { ModelGenError } from './errors';
import { MIX_BASE_TYPE, MIX_FILE_TYPE, applyMix } from './mix';
import { modelTensors, parameterCount, type GenTensor } from './tensors';
import { buildBpeVocab, buildSpmVocab, vocabMetadata, type GeneratedVocab } from './vocab';
import type { GenMethod } from './weights';

/** llama.cpp's `enum llama_ftype` for a file whose matrices are all of one type. */
export const FILE_TYPE: Readonly<Record<GenType, number>> = {
  F32: 0, // ALL_F32
  F16: 1, // MOSTLY_F16
  Q4_0: 2, // MOSTLY_Q4_0
  Q4_1: 3, // MOSTLY_Q4_1
  Q8_0: 7, // MOSTLY_Q8_0
  Q5_0: 8, // MOSTLY_Q5_0
  Q5_1: 9, // MOSTLY_Q5_1
  Q2_K: 10, // MOSTLY_Q2_K
  Q3_K: 11, // MOSTLY_Q3_K_S: Q3_K throughout
  Q4_K: 14, // MOSTLY_Q4_K_S: Q4_K throughout
  Q5_K: 16, // MOSTLY_Q5_K_S: Q5_K throughout
  Q6_K: 18, // MOSTLY_Q6_K
  IQ4_NL: 25, // MOSTLY_IQ4_NL
  IQ4_XS: 30, // MOSTLY_IQ4_XS
  BF16: 32, // MOSTLY_BF16
};

/**
 * Models up to this many parameters are quantised from normal values through shared/quant by
 * default; larger ones get directly synthesised blocks (quantising billions of values in
 * JavaScript takes hours; see specs/model-gen.md).
 */
export const AUTO_QUANTIZE_MAX_PARAMS = 32_000_000;

/**
 * How the file is laid out around the model, for tests of readers, the store and export. The
 * defaults are what ggml writes (and what `pxi gen` always writes): version 3, alignment 32 with
 * no `general.alignment` key, zero padding, nothing after the last tensor.
 */
export interface GenFileOptions {
  /** `general.alignment`: a power of two from 1 to 65536 (the key is written after the generated metadata). */
  readonly alignment?: number;
  /** GGUF version 2 or 3 (default 3). */
  readonly version?: 2 | 3;
  /**
   * Fill the alignment padding after each tensor with a non-zero pattern instead of zeros (the
   * file stays valid GGUF: readers skip padding, but a byte-exact copy must keep it).
   */
  readonly fillPadding?: boolean;
  /** Bytes of a fixed pattern appended after the last tensor's padding: 0 to 2^24 (default 0). */
  readonly trailingBytes?: number;
  /** Metadata entries written after the generated ones; their keys must be new ones. */
  readonly metadata?: ReadonlyMap<string, GgufValue>;
}

/** Largest trailing tail `file.trailingBytes` accepts. */
export const MAX_TRAILING_BYTES = 1 << 24;

interface GenCommonOptions {
  readonly preset: string;
  /** 0..2^32−1; default 0. */
  readonly seed?: number;
  readonly overrides?: ConfigOverrides;
  /** Default `auto`: quantize up to AUTO_QUANTIZE_MAX_PARAMS parameters, direct above. */
  readonly method?: GenMethod | 'auto';
  readonly file?: GenFileOptions;
}

/**
 * What to generate. Exactly one of `type` (every matrix that one type) and `mix` (each matrix
 * the type llama-quantize gives it for that file type; see mix.ts).
 */
export type GenOptions = GenCommonOptions &
  ({ readonly type: GenType; readonly mix?: undefined } | { readonly mix: GenMix; readonly type?: undefined });

export interface ModelPlan {
  readonly preset: string;
  readonly config: ModelConfig;
  /** The uniform type; for a mix, its base type (the type of every matrix no rule names). */
  readonly type: GenType;
  /** The llama-quantize mix, if the plan is one (each tensor's type is in `tensors`). */
  readonly mix: GenMix | undefined;
  /** `general.file_type` (llama_ftype). */
  readonly fileType: number;
  readonly seed: number;
  readonly method: GenMethod;
  readonly vocab: GeneratedVocab;
  readonly tensors: readonly GenTensor[];
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly layout: GgufLayout;
  /** Padding after each tensor: zeros, or a non-zero pattern (GenFileOptions.fillPadding). */
  readonly fillPadding: boolean;
  /** Pattern bytes after the last tensor's padding (GenFileOptions.trailingBytes). */
  readonly trailingBytes: number;
  readonly parameterCount: number;
}

export function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new ModelGenError('MODELGEN_SEED', `seed ${String(seed)} must be an integer from 0 to 4294967295`, { seed });
  }
  return seed;
}

/** The vocabulary a configuration uses (cached per size: the 150k-token ones take a moment). */
export function modelVocab(c: ModelConfig): GeneratedVocab {
  switch (c.vocabStyle) {
    case 'llama':
    case 'mistral':
    case 'phi3':
    case 'gemma':
      return buildSpmVocab(c.vocab, c.vocabStyle, c.byteTokens ?? true);
    case 'qwen2':
    case 'smollm':
    case 'llama3':
      return buildBpeVocab(c.tokens, c.vocab, c.vocabStyle);
  }
}

/**
 * Metadata in the order llama.cpp's converter writes it. The keys past the common ones are those
 * llama.cpp's loader reads for the architecture (llama-model.cpp load_hparams and
 * src/models/<arch>.cpp load_arch_hparams): `attention.key_length` / `value_length` (qwen3,
 * gemma2, gemma3), `rope.freq_base_swa` (gemma3), `rope.scaling.original_context_length` (phi3),
 * `attn_logit_softcapping` / `final_logit_softcapping` (gemma2), `attention.sliding_window`
 * (gemma2, gemma3; phi3 0 as Phi-4 files have it: llama.cpp disables Phi's SWA).
 */
export function modelMetadata(
  c: ModelConfig,
  type: GenType,
  vocab: GeneratedVocab,
  provenance: { preset: string; seed: number; method: GenMethod; mix?: GenMix },
): Map<string, GgufValue> {
  const a = c.arch;
  const m = new Map<string, GgufValue>([
    ['general.architecture', gv.str(a)],
    ['general.type', gv.str('model')],
    ['general.name', gv.str(c.name)],
    ['general.description', gv.str('random weights for tests and benchmarks, written by pxi gen (Pixel-LLM); not a trained model')],
    [`${a}.block_count`, gv.u32(c.blocks)],
    [`${a}.context_length`, gv.u32(c.context)],
    [`${a}.embedding_length`, gv.u32(c.embd)],
    [`${a}.feed_forward_length`, gv.u32(c.ff)],
    [`${a}.attention.head_count`, gv.u32(c.heads)],
    [`${a}.attention.head_count_kv`, gv.u32(c.kvHeads)],
    [`${a}.rope.freq_base`, gv.f32(c.ropeTheta)],
  ]);
  if (c.ropeThetaSwa !== undefined) m.set(`${a}.rope.freq_base_swa`, gv.f32(c.ropeThetaSwa));
  m.set(`${a}.attention.layer_norm_rms_epsilon`, gv.f32(c.rmsEps));
  if (a === 'qwen3' || a === 'gemma2' || a === 'gemma3') {
    m.set(`${a}.attention.key_length`, gv.u32(headDim(c)));
    m.set(`${a}.attention.value_length`, gv.u32(headDim(c)));
  }
  m.set(`${a}.rope.dimension_count`, gv.u32(ropeDim(c)));
  if (c.ropeOriginalContext !== undefined) m.set(`${a}.rope.scaling.original_context_length`, gv.u32(c.ropeOriginalContext));
  if (c.attnSoftcap !== undefined) m.set(`${a}.attn_logit_softcapping`, gv.f32(c.attnSoftcap));
  if (c.finalSoftcap !== undefined) m.set(`${a}.final_logit_softcapping`, gv.f32(c.finalSoftcap));
  if (c.slidingWindow !== undefined) m.set(`${a}.attention.sliding_window`, gv.u32(c.slidingWindow));
  else if (a === 'phi3') m.set(`${a}.attention.sliding_window`, gv.u32(0));
  m.set(`${a}.vocab_size`, gv.u32(c.vocab));
  const mix = provenance.mix;
  m.set('general.file_type', gv.u32(mix !== undefined ? MIX_FILE_TYPE[mix] : FILE_TYPE[type]));
  if (mix !== undefined || (type !== 'F32' && type !== 'F16' && type !== 'BF16')) m.set('general.quantization_version', gv.u32(2));
  m.set('pxi.gen.preset', gv.str(provenance.preset));
  m.set('pxi.gen.seed', gv.u32(provenance.seed));
  m.set('pxi.gen.method', gv.str(provenance.method));
  if (mix !== undefined) m.set('pxi.gen.mix', gv.str(mix));
  for (const [k, v] of vocabMetadata(vocab)) m.set(k, v);
  return m;
}

/** Bytes of the whole file: the layout's and any trailing bytes. */
export function modelFileSize(plan: Pick<ModelPlan, 'layout' | 'trailingBytes'>): number {
  return plan.layout.fileSize + plan.trailingBytes;
}

function badFile(field: string, value: unknown, why: string): ModelGenError {
  return new ModelGenError('MODELGEN_FILE', `${field} = ${String(value)}: ${why}`, { field, value });
}

/** Checks the file options and adds `general.alignment` and the extra entries to `metadata`. */
function applyFileOptions(f: GenFileOptions, metadata: Map<string, GgufValue>): void {
  if (f.version !== undefined && f.version !== 2 && f.version !== 3) throw badFile('version', f.version, 'must be 2 or 3');
  const tail = f.trailingBytes ?? 0;
  if (!Number.isSafeInteger(tail) || tail < 0 || tail > MAX_TRAILING_BYTES) {
    throw badFile('trailingBytes', tail, `must be an integer from 0 to ${MAX_TRAILING_BYTES}`);
  }
  if (f.alignment !== undefined) {
    const a = f.alignment;
    if (!Number.isSafeInteger(a) || a < 1 || a > 1 << 16 || (a & (a - 1)) !== 0) throw badFile('alignment', a, 'must be a power of two from 1 to 65536');
    metadata.set(ALIGNMENT_KEY, gv.u32(a));
  }
  for (const [k, v] of f.metadata ?? []) {
    if (k === ALIGNMENT_KEY) throw badFile('metadata', k, 'set the alignment with the alignment option');
    if (metadata.has(k)) throw badFile('metadata', k, 'the generator writes this key itself');
    metadata.set(k, v);
  }
}

export function planModel(opts: GenOptions): ModelPlan {
  const mix = opts.mix;
  if ((mix === undefined) === (opts.type === undefined)) {
    throw new ModelGenError('MODELGEN_TYPE', 'give exactly one of type (one type for every matrix) and mix (a llama-quantize file type)', {
      type: opts.type,
      mix,
    });
  }
  if (mix !== undefined && !isGenMix(mix)) throw new ModelGenError('MODELGEN_TYPE', `unknown mix ${JSON.stringify(mix)}`, { mix });
  const type = mix !== undefined ? MIX_BASE_TYPE[mix] : opts.type!;
  const seed = checkSeed(opts.seed ?? 0);
  const config = resolveConfig(opts.preset, opts.overrides, mix !== undefined ? { mix } : type);
  const params = parameterCount(config);
  const method: GenMethod =
    opts.method === undefined || opts.method === 'auto' ? (params <= AUTO_QUANTIZE_MAX_PARAMS ? 'quantize' : 'direct') : opts.method;
  const vocab = modelVocab(config);
  const tensors = mix !== undefined ? applyMix(config, mix, modelTensors(config, type)) : modelTensors(config, type);
  const metadata = modelMetadata(config, type, vocab, { preset: opts.preset, seed, method, ...(mix !== undefined ? { mix } : {}) });
  const file = opts.file ?? {};
  applyFileOptions(file, metadata);
  const layout = layoutGguf(
    metadata,
    tensors.map((t) => ({ name: t.name, dims: t.dims, type: GgmlType[t.type] })),
    { name: `${opts.preset}.gguf`, version: file.version ?? 3 },
  );
  const fileType = mix !== undefined ? MIX_FILE_TYPE[mix] : FILE_TYPE[type];
  const trailingBytes = file.trailingBytes ?? 0;
  return {
    preset: opts.preset,
    config,
    type,
    mix,
    fileType,
    seed,
    method,
    vocab,
    tensors,
    metadata,
    layout,
    fillPadding: file.fillPadding ?? false,
    trailingBytes,
    parameterCount: params,
  };
}
