/**
 * A preset with the `pxi gen` flags applied, and the checks that make every shape one llama.cpp
 * can load (head counts that divide, row lengths that are whole quantisation blocks).
 */
import { GEN_TYPE_BLOCK, headDim, MIX_ROW_BLOCK, type GenPrecision, type ModelArch, type ModelConfig, type VocabStyle } from './config';
import { ModelGenError } from './errors';
import { presetConfig } from './presets';

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
  /** Head size (`attention.key_length`): qwen3, gemma2, gemma3 only. */
  headDim?: number;
  /** Rotated dimensions per head: phi3 only (llama.cpp's other graphs require the whole head). */
  ropeDim?: number;
  /** Sliding window of the local layers: gemma2, gemma3 only. */
  slidingWindow?: number;
  /** false: no byte tokens (SentencePiece styles only; see ModelConfig.byteTokens). */
  byteTokens?: boolean;
}

/** Smallest token list of the llama / qwen2 vocabularies: three specials and the 256 byte tokens. */
export const MIN_VOCAB = 3 + 256;

/** Control tokens each vocabulary style adds to its 256 byte tokens (see vocab.ts). */
const STYLE_SPECIALS: Readonly<Record<VocabStyle, number>> = {
  llama: 3,
  mistral: 3,
  phi3: 3 + 5,
  gemma: 6,
  qwen2: 3,
  smollm: 3,
  llama3: 5,
};

/**
 * Smallest token list a vocabulary style can make: its control tokens and the 256 byte tokens,
 * or (`byteTokens` false) its control tokens and one piece.
 */
export function minVocab(style: VocabStyle, byteTokens = true): number {
  return STYLE_SPECIALS[style] + (byteTokens ? 256 : 1);
}

/** Vocabulary styles that can leave out the byte tokens (SentencePiece; byte-level BPE is built on them). */
const SPM_STYLES: ReadonlySet<VocabStyle> = new Set<VocabStyle>(['llama', 'mistral', 'phi3', 'gemma']);

/** Architectures whose files carry `attention.key_length` (a head size apart from embd/heads). */
const KEY_LENGTH_ARCHS: ReadonlySet<ModelArch> = new Set<ModelArch>(['qwen3', 'gemma2', 'gemma3']);

/**
 * A preset with overrides applied, checked against `type` (a tensor type or `{ mix }`). An overridden vocabulary keeps the
 * preset's padding for qwen2 where it fits (so a smaller vocabulary still exercises [PADn]).
 */
export function resolveConfig(preset: string, overrides: ConfigOverrides = {}, type: GenPrecision = 'F32'): ModelConfig {
  const base = presetConfig(preset);
  const vocab = overrides.vocab ?? base.vocab;
  const padding = base.vocab - base.tokens;
  const byteTokens = overrides.byteTokens ?? base.byteTokens ?? true;
  const tokens =
    overrides.vocab === undefined ? base.tokens : vocab - padding >= minVocab(base.vocabStyle, byteTokens) ? vocab - padding : vocab;
  const misplaced = (field: string, value: number, archs: string): ModelGenError =>
    bad(field, value, `only ${archs} files carry it (this preset is ${base.arch})`);
  if (overrides.headDim !== undefined && !KEY_LENGTH_ARCHS.has(base.arch)) throw misplaced('head-dim', overrides.headDim, 'qwen3, gemma2 and gemma3');
  if (overrides.ropeDim !== undefined && base.arch !== 'phi3') throw misplaced('rope-dim', overrides.ropeDim, 'phi3');
  if (overrides.slidingWindow !== undefined && base.arch !== 'gemma2' && base.arch !== 'gemma3') {
    throw misplaced('sliding-window', overrides.slidingWindow, 'gemma2 and gemma3');
  }
  const headDim = overrides.headDim ?? base.headDim;
  const ropeDim = overrides.ropeDim ?? base.ropeDim;
  const slidingWindow = overrides.slidingWindow ?? base.slidingWindow;
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
    ...(headDim !== undefined ? { headDim } : {}),
    ...(ropeDim !== undefined ? { ropeDim } : {}),
    ...(slidingWindow !== undefined ? { slidingWindow } : {}),
    ...(byteTokens ? {} : { byteTokens: false }),
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

/** Refuses a shape llama.cpp could not load or `type` (a tensor type or `{ mix }`) could not store. */
export function checkConfig(c: ModelConfig, type: GenPrecision): void {
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
  const byteTokens = c.byteTokens ?? true;
  if (!byteTokens && !SPM_STYLES.has(c.vocabStyle)) {
    throw bad('byte-tokens', false, `a ${c.vocabStyle} vocabulary is byte-level BPE, built on its 256 byte symbols`);
  }
  const min = minVocab(c.vocabStyle, byteTokens);
  const parts = byteTokens ? `${min - 256} special tokens and 256 byte tokens` : `${min - 1} special tokens and one piece`;
  if (c.vocab < min) throw bad('vocab', c.vocab, `must be at least ${min} (${parts})`);
  if (c.tokens < min || c.tokens > c.vocab) throw bad('tokens', c.tokens, `must be from ${min} to vocab (${c.vocab})`);
  if (c.headDim === undefined) {
    if (c.embd % c.heads !== 0) throw bad('heads', c.heads, `must divide embd (${c.embd})`);
    if ((c.embd / c.heads) % 2 !== 0) throw bad('heads', c.heads, `head size embd/heads = ${c.embd / c.heads} must be even (RoPE rotates pairs)`);
  } else {
    posInt('head-dim', c.headDim, 1024);
    if (c.headDim % 2 !== 0) throw bad('head-dim', c.headDim, 'must be even (RoPE rotates pairs)');
  }
  if (c.heads % c.kvHeads !== 0) throw bad('kv-heads', c.kvHeads, `must divide heads (${c.heads})`);
  if (c.ropeDim !== undefined) {
    posInt('rope-dim', c.ropeDim, headDim(c));
    if (c.ropeDim % 2 !== 0) throw bad('rope-dim', c.ropeDim, 'must be even (RoPE rotates pairs)');
  }
  if (c.slidingWindow !== undefined) posInt('sliding-window', c.slidingWindow, 1 << 24);
  // llama.cpp's gemma2 graph always scores with token_embd and never looks for output.weight (an
  // extra tensor fails its tensor count).
  if (c.arch === 'gemma2' && !c.tied) throw bad('tied', c.tied, 'gemma2 files have no output.weight (llama.cpp always scores with token_embd)');
  if (!(c.ropeTheta > 0) || !Number.isFinite(c.ropeTheta)) throw bad('rope-theta', c.ropeTheta, 'must be a positive number');
  if (!(c.rmsEps > 0) || !(c.rmsEps < 1)) throw bad('rms-eps', c.rmsEps, 'must be in (0, 1)');
  // Every matrix row (ggml ne0) is embd, ff or heads·head long; a block never straddles rows.
  // A mix's rows that are not whole 256-blocks fall back to 32-element types (see mix.ts).
  const block = typeof type === 'string' ? GEN_TYPE_BLOCK[type] : MIX_ROW_BLOCK;
  const why =
    typeof type === 'string'
      ? `for ${type} (rows are whole ${block}-element blocks)`
      : `for the ${type.mix} mix (rows that are not whole 256-blocks fall back to 32-element types, as llama-quantize does)`;
  for (const [field, v] of [
    ['embd', c.embd],
    ['ff', c.ff],
    ['heads·head-dim', c.heads * headDim(c)],
  ] as const) {
    if (v % block !== 0) throw bad(field, v, `must be a multiple of ${block} ${why}`);
  }
}
