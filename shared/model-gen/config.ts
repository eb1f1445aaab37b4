/**
 * Model shapes the generator writes: the presets, flag overrides, and the checks that make
 * every shape one llama.cpp can load (head counts that divide, row lengths that are whole
 * quantisation blocks).
 */
import { ModelGenError } from './errors';

export type ModelArch = 'llama' | 'qwen2';

/** The tensor types `pxi gen` writes (ggml names). Norms and biases stay F32 whatever the type. */
export const GEN_TYPES = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS'] as const;
export type GenType = (typeof GEN_TYPES)[number];

/** Elements per block of each type: every matrix row length must be a multiple of it. */
export const GEN_TYPE_BLOCK: Readonly<Record<GenType, number>> = {
  F32: 1,
  F16: 1,
  BF16: 1,
  Q8_0: 32,
  Q4_0: 32,
  Q4_1: 32,
  Q5_0: 32,
  Q5_1: 32,
  Q2_K: 256,
  Q3_K: 256,
  Q4_K: 256,
  Q5_K: 256,
  Q6_K: 256,
  IQ4_NL: 32,
  IQ4_XS: 256,
};

export function isGenType(s: string): s is GenType {
  return (GEN_TYPES as readonly string[]).includes(s);
}

export interface ModelConfig {
  readonly arch: ModelArch;
  /** `general.name`. */
  readonly name: string;
  readonly blocks: number;
  /** Hidden width (embedding_length). */
  readonly embd: number;
  /** FFN inner width (feed_forward_length). */
  readonly ff: number;
  readonly heads: number;
  readonly kvHeads: number;
  /** Rows of token_embd / output: the vocabulary the model scores. */
  readonly vocab: number;
  /**
   * Real tokens of the tokenizer; the token list is padded with unused `[PADn]` tokens up to
   * `vocab`, as converters pad Qwen's list to its embedding rows. Equals `vocab` for llama.
   */
  readonly tokens: number;
  readonly context: number;
  readonly ropeTheta: number;
  readonly rmsEps: number;
  /** q/k/v projections have biases (qwen2). */
  readonly qkvBias: boolean;
  /** No output.weight: llama.cpp then scores with token_embd. */
  readonly tied: boolean;
}

export type PresetName = 'tiny-llama' | 'tiny-qwen2' | 'qwen2-1b' | 'qwen2.5-7b';

export interface ModelPreset {
  readonly name: PresetName;
  readonly summary: string;
  readonly config: ModelConfig;
}

const PRESET_LIST: readonly ModelPreset[] = [
  {
    name: 'tiny-llama',
    summary: 'llama, 2 blocks, width 256, 4 heads / 2 KV heads, FFN 512, SentencePiece vocab 1024 (~1.7M params, tests)',
    config: {
      arch: 'llama',
      name: 'pxi tiny-llama',
      blocks: 2,
      embd: 256,
      ff: 512,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1024,
      context: 2048,
      ropeTheta: 10000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: false,
    },
  },
  {
    name: 'tiny-qwen2',
    summary: 'qwen2, 2 blocks, width 256, 4 heads / 2 KV heads, FFN 768, q/k/v biases, byte-level BPE 1000 tokens padded to 1024 (~2.1M params, tests)',
    config: {
      arch: 'qwen2',
      name: 'pxi tiny-qwen2',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1000,
      context: 4096,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: true,
      tied: false,
    },
  },
  {
    name: 'qwen2-1b',
    summary: 'qwen2, 16 blocks, width 2048, 16 heads / 2 KV heads, FFN 5632, vocab 151936, tied embeddings (~1.0B params, benchmarks)',
    config: {
      arch: 'qwen2',
      name: 'pxi qwen2-1b',
      blocks: 16,
      embd: 2048,
      ff: 5632,
      heads: 16,
      kvHeads: 2,
      vocab: 151936,
      tokens: 151646,
      context: 32768,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: true,
      tied: true,
    },
  },
  {
    name: 'qwen2.5-7b',
    summary: "Qwen2.5-7B's shapes: 28 blocks, width 3584, 28 heads / 4 KV heads, FFN 18944, vocab 152064, q/k/v biases, untied (~7.6B params)",
    config: {
      arch: 'qwen2',
      name: 'pxi qwen2.5-7b',
      blocks: 28,
      embd: 3584,
      ff: 18944,
      heads: 28,
      kvHeads: 4,
      vocab: 152064,
      tokens: 151646,
      context: 32768,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: true,
      tied: false,
    },
  },
];

export const MODEL_PRESETS: ReadonlyMap<PresetName, ModelPreset> = new Map(PRESET_LIST.map((p) => [p.name, p]));
export const PRESET_NAMES: readonly PresetName[] = PRESET_LIST.map((p) => p.name);

/** Dimensions a caller may override on top of a preset (the `pxi gen` flags). */
export interface ConfigOverrides {
  blocks?: number;
  embd?: number;
  ff?: number;
  heads?: number;
  kvHeads?: number;
  vocab?: number;
  context?: number;
  ropeTheta?: number;
  rmsEps?: number;
  tied?: boolean;
}

/** Smallest token list: three specials and the 256 byte tokens. */
export const MIN_VOCAB = 3 + 256;

export function presetConfig(name: string): ModelConfig {
  const p = MODEL_PRESETS.get(name as PresetName);
  if (!p) {
    throw new ModelGenError('MODELGEN_PRESET', `unknown preset ${JSON.stringify(name)} (presets: ${PRESET_NAMES.join(', ')})`, { preset: name });
  }
  return p.config;
}

/**
 * A preset with overrides applied, checked against `type`. An overridden vocabulary keeps the
 * preset's padding for qwen2 where it fits (so a smaller vocabulary still exercises [PADn]).
 */
export function resolveConfig(preset: string, overrides: ConfigOverrides = {}, type: GenType = 'F32'): ModelConfig {
  const base = presetConfig(preset);
  const vocab = overrides.vocab ?? base.vocab;
  const padding = base.vocab - base.tokens;
  const tokens = overrides.vocab === undefined ? base.tokens : vocab - padding >= MIN_VOCAB ? vocab - padding : vocab;
  const config: ModelConfig = {
    ...base,
    blocks: overrides.blocks ?? base.blocks,
    embd: overrides.embd ?? base.embd,
    ff: overrides.ff ?? base.ff,
    heads: overrides.heads ?? base.heads,
    kvHeads: overrides.kvHeads ?? (overrides.heads !== undefined ? largestDivisorUpTo(overrides.heads, base.kvHeads) : base.kvHeads),
    vocab,
    tokens,
    context: overrides.context ?? base.context,
    ropeTheta: overrides.ropeTheta ?? base.ropeTheta,
    rmsEps: overrides.rmsEps ?? base.rmsEps,
    tied: overrides.tied ?? base.tied,
  };
  checkConfig(config, type);
  return config;
}

/** New head counts keep the preset's KV heads where they divide, else the nearest count below that does. */
function largestDivisorUpTo(n: number, max: number): number {
  for (let d = Math.min(n, max); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

function bad(field: string, value: unknown, why: string): ModelGenError {
  return new ModelGenError('MODELGEN_DIMS', `${field} = ${String(value)}: ${why}`, { field, value });
}

/** Refuses a shape llama.cpp could not load or `type` could not store. */
export function checkConfig(c: ModelConfig, type: GenType): void {
  const posInt = (field: string, v: number, max: number): void => {
    if (!Number.isSafeInteger(v) || v < 1 || v > max) throw bad(field, v, `must be an integer from 1 to ${max}`);
  };
  posInt('blocks', c.blocks, 1024);
  posInt('embd', c.embd, 1 << 16);
  posInt('ff', c.ff, 1 << 18);
  posInt('heads', c.heads, 1024);
  posInt('kv-heads', c.kvHeads, 1024);
  posInt('vocab', c.vocab, 1 << 22);
  posInt('context', c.context, 1 << 24);
  if (c.vocab < MIN_VOCAB) throw bad('vocab', c.vocab, `must be at least ${MIN_VOCAB} (3 special tokens and 256 byte tokens)`);
  if (c.tokens < MIN_VOCAB || c.tokens > c.vocab) throw bad('tokens', c.tokens, `must be from ${MIN_VOCAB} to vocab (${c.vocab})`);
  if (c.embd % c.heads !== 0) throw bad('heads', c.heads, `must divide embd (${c.embd})`);
  if ((c.embd / c.heads) % 2 !== 0) throw bad('heads', c.heads, `head size embd/heads = ${c.embd / c.heads} must be even (RoPE rotates pairs)`);
  if (c.heads % c.kvHeads !== 0) throw bad('kv-heads', c.kvHeads, `must divide heads (${c.heads})`);
  if (!(c.ropeTheta > 0) || !Number.isFinite(c.ropeTheta)) throw bad('rope-theta', c.ropeTheta, 'must be a positive number');
  if (!(c.rmsEps > 0) || !(c.rmsEps < 1)) throw bad('rms-eps', c.rmsEps, 'must be in (0, 1)');
  // Every matrix row (ggml ne0) is embd or ff long; a block never straddles rows.
  const block = GEN_TYPE_BLOCK[type];
  for (const [field, v] of [
    ['embd', c.embd],
    ['ff', c.ff],
  ] as const) {
    if (v % block !== 0) throw bad(field, v, `must be a multiple of ${block} for ${type} (rows are whole ${block}-element blocks)`);
  }
}

/** Head size (rope.dimension_count). */
export function headDim(c: ModelConfig): number {
  return c.embd / c.heads;
}
