/**
 * Model shapes the generator writes: the presets, flag overrides, and the checks that make
 * every shape one llama.cpp can load (head counts that divide, row lengths that are whole
 * quantisation blocks).
 */
import { ModelGenError } from './errors';

/**
 * `general.architecture` values the generator writes. Mistral, SmolLM and Llama 3 files are
 * `llama` (their differences are the vocabulary, head counts and `rope_freqs`).
 */
export type ModelArch = 'llama' | 'qwen2' | 'qwen3' | 'phi3' | 'gemma2' | 'gemma3';

/**
 * The tokenizer a model carries (see vocab.ts): SentencePiece in the layout of Llama 2
 * (`llama`, `mistral`: `<unk>` `<s>` `</s>` first), Phi-3 (the same, plus Phi-3's chat control
 * tokens at the end) or Gemma (`<pad>` `<eos>` `<bos>` `<unk>` and the turn tokens first, no
 * space prefix); byte-level BPE with the pre-tokenizer of Qwen2 (`qwen2`), SmolLM (`smollm`) or
 * Llama 3 (`llama3`, pre-tokenizer `llama-bpe`).
 */
export type VocabStyle = 'llama' | 'mistral' | 'phi3' | 'gemma' | 'qwen2' | 'smollm' | 'llama3';

/** Llama 3.1's RoPE scaling (HF `rope_scaling.rope_type = "llama3"`), stored as `rope_freqs.weight`. */
export interface Llama3RopeScaling {
  readonly factor: number;
  readonly lowFreqFactor: number;
  readonly highFreqFactor: number;
  readonly originalContext: number;
}

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

/**
 * llama-quantize's file types (`llama_ftype`) the generator reproduces (`pxi gen --mix`): each
 * matrix gets the type llama.cpp's `llama_tensor_get_type` picks for it (see mix.ts). Q2_K, Q6_K
 * and IQ4_XS are also GEN_TYPES; as a mix they name the file type, not one tensor type.
 */
export const GEN_MIXES = ['Q2_K', 'Q3_K_S', 'Q3_K_M', 'Q3_K_L', 'Q4_K_S', 'Q4_K_M', 'Q5_K_S', 'Q5_K_M', 'Q6_K', 'IQ4_XS'] as const;
export type GenMix = (typeof GEN_MIXES)[number];

export function isGenMix(s: string): s is GenMix {
  return (GEN_MIXES as readonly string[]).includes(s);
}

/**
 * Row lengths a mix accepts: llama-quantize gives a row that is not a whole number of its type's
 * 256-element blocks a 32-element type instead (tensor_type_fallback), so rows need only be
 * multiples of 32. (Below that llama.cpp would store F16; the generator refuses such shapes.)
 */
export const MIX_ROW_BLOCK = 32;

/** How the matrices are stored: one type for all, or a llama-quantize mix. */
export type GenPrecision = GenType | { readonly mix: GenMix };

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
  readonly vocabStyle: VocabStyle;
  /**
   * Head size written as `attention.key_length` / `value_length` (qwen3, gemma2, gemma3), which
   * may differ from embd/heads (then q has heads·headDim rows). Absent: embd/heads, no key.
   */
  readonly headDim?: number;
  /** Rotated dimensions per head (`rope.dimension_count`, phi3 partial rotary). Absent: the head size. */
  readonly ropeDim?: number;
  /** Sliding-window size of the local layers (gemma2, gemma3: `attention.sliding_window`). */
  readonly slidingWindow?: number;
  /** RoPE base of the sliding-window layers (gemma3: `rope.freq_base_swa`). */
  readonly ropeThetaSwa?: number;
  /** Soft-capping of attention scores and of the logits (gemma2: `attn_logit_softcapping`, `final_logit_softcapping`). */
  readonly attnSoftcap?: number;
  readonly finalSoftcap?: number;
  /** `rope.scaling.original_context_length` (phi3). */
  readonly ropeOriginalContext?: number;
  /** Llama 3.1 RoPE scaling: a `rope_freqs.weight` tensor of per-frequency divisors. */
  readonly ropeScaling?: Llama3RopeScaling;
  /**
   * SentencePiece styles only: false leaves out the 256 byte tokens `<0x00>`..`<0xFF>`, so the
   * vocabulary can be as small as the control tokens and one piece (store and layout tests want
   * files of a few kilobytes). llama.cpp loads such a file but cannot tokenize text outside its
   * pieces (no byte fallback). Absent: true.
   */
  readonly byteTokens?: boolean;
}

export type PresetName =
  | 'tiny-llama'
  | 'tiny-qwen2'
  | 'qwen2-1b'
  | 'qwen2.5-7b'
  | 'tiny-qwen3'
  | 'tiny-gemma2'
  | 'tiny-gemma3'
  | 'tiny-phi3'
  | 'tiny-phi4-mini'
  | 'tiny-mistral'
  | 'tiny-smollm'
  | 'tiny-llama3';

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
      vocabStyle: 'llama',
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
      vocabStyle: 'qwen2',
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
      vocabStyle: 'qwen2',
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
      vocabStyle: 'qwen2',
    },
  },
  {
    name: 'tiny-qwen3',
    summary: 'qwen3, 2 blocks, width 256, 4 heads / 2 KV heads of size 128 (q 512 wide), per-head q/k RMSNorm, FFN 768, no biases, tied, byte-level BPE 1000 tokens padded to 1024',
    config: {
      arch: 'qwen3',
      name: 'pxi tiny-qwen3',
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
      qkvBias: false,
      tied: true,
      vocabStyle: 'qwen2',
      headDim: 128,
    },
  },
  {
    name: 'tiny-gemma2',
    summary: 'gemma2, 2 blocks (0 sliding window 8, 1 global), width 256, 4 heads / 2 KV heads of size 128, FFN 512 GeGLU, post-norms, soft-capping 50/30, tied, Gemma SentencePiece 1024',
    config: {
      arch: 'gemma2',
      name: 'pxi tiny-gemma2',
      blocks: 2,
      embd: 256,
      ff: 512,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1024,
      context: 8192,
      ropeTheta: 10000,
      rmsEps: 1e-6,
      qkvBias: false,
      tied: true,
      vocabStyle: 'gemma',
      headDim: 128,
      slidingWindow: 8,
      attnSoftcap: 50,
      finalSoftcap: 30,
    },
  },
  {
    name: 'tiny-gemma3',
    summary: 'gemma3, 6 blocks (0-4 sliding window 8 at RoPE base 1e4, 5 global at 1e6), width 256, 4 heads / 1 KV head of size 128, q/k norms, FFN 512 GeGLU, tied, Gemma SentencePiece 1024',
    config: {
      arch: 'gemma3',
      name: 'pxi tiny-gemma3',
      blocks: 6,
      embd: 256,
      ff: 512,
      heads: 4,
      kvHeads: 1,
      vocab: 1024,
      tokens: 1024,
      context: 32768,
      ropeTheta: 1_000_000,
      rmsEps: 1e-6,
      qkvBias: false,
      tied: true,
      vocabStyle: 'gemma',
      headDim: 128,
      slidingWindow: 8,
      ropeThetaSwa: 10000,
    },
  },
  {
    name: 'tiny-phi3',
    summary: 'phi3, 2 blocks, width 256, 4 heads / 4 KV heads, fused attn_qkv and gate|up, FFN 512, untied, Phi-3 SentencePiece 1024',
    config: {
      arch: 'phi3',
      name: 'pxi tiny-phi3',
      blocks: 2,
      embd: 256,
      ff: 512,
      heads: 4,
      kvHeads: 4,
      vocab: 1024,
      tokens: 1024,
      context: 4096,
      ropeTheta: 10000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: false,
      vocabStyle: 'phi3',
      ropeOriginalContext: 4096,
    },
  },
  {
    name: 'tiny-phi4-mini',
    summary: "phi3 with Phi-4-mini's layout: partial RoPE (48 of 64 dims), 4 heads / 2 KV heads, fused attn_qkv and gate|up, FFN 768, tied, Phi-3 SentencePiece 1024",
    config: {
      arch: 'phi3',
      name: 'pxi tiny-phi4-mini',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1024,
      context: 4096,
      ropeTheta: 10000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: true,
      vocabStyle: 'phi3',
      ropeDim: 48,
      ropeOriginalContext: 4096,
    },
  },
  {
    name: 'tiny-mistral',
    summary: 'llama as Mistral 7B files are: 2 blocks, width 256, 8 heads / 2 KV heads (size 32), FFN 768, RoPE base 1e6, untied, SentencePiece 1024',
    config: {
      arch: 'llama',
      name: 'pxi tiny-mistral',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 8,
      kvHeads: 2,
      vocab: 1024,
      tokens: 1024,
      context: 32768,
      ropeTheta: 1_000_000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: false,
      vocabStyle: 'mistral',
    },
  },
  {
    name: 'tiny-smollm',
    summary: 'llama as SmolLM2 files are: 2 blocks, width 256, 4 heads / 4 KV heads, FFN 768, tied, byte-level BPE 1024 (pre-tokenizer smollm)',
    config: {
      arch: 'llama',
      name: 'pxi tiny-smollm',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 4,
      vocab: 1024,
      tokens: 1024,
      context: 8192,
      ropeTheta: 100_000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: true,
      vocabStyle: 'smollm',
    },
  },
  {
    name: 'tiny-llama3',
    summary: 'llama as Llama 3.1 files are: 2 blocks, width 256, 4 heads / 1 KV head, FFN 768, RoPE base 5e5 with rope_freqs (factor 8), untied, byte-level BPE 1024 (llama-bpe)',
    config: {
      arch: 'llama',
      name: 'pxi tiny-llama3',
      blocks: 2,
      embd: 256,
      ff: 768,
      heads: 4,
      kvHeads: 1,
      vocab: 1024,
      tokens: 1024,
      context: 131072,
      ropeTheta: 500_000,
      rmsEps: 1e-5,
      qkvBias: false,
      tied: false,
      vocabStyle: 'llama3',
      ropeScaling: { factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 },
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

export function presetConfig(name: string): ModelConfig {
  const p = MODEL_PRESETS.get(name as PresetName);
  if (!p) {
    throw new ModelGenError('MODELGEN_PRESET', `unknown preset ${JSON.stringify(name)} (presets: ${PRESET_NAMES.join(', ')})`, { preset: name });
  }
  return p.config;
}

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

/** Head size: `attention.key_length` where the file has it, else embd/heads. */
export function headDim(c: ModelConfig): number {
  return c.headDim ?? c.embd / c.heads;
}

/** Rotated dimensions per head (rope.dimension_count). */
export function ropeDim(c: ModelConfig): number {
  return c.ropeDim ?? headDim(c);
}

/**
 * Which layers use the sliding window, as llama.cpp decides (llama_hparams::set_swa_pattern,
 * dense_first false: layer il slides iff il % period < period − 1): gemma2 every other layer
 * from layer 0 (period 2), gemma3 five of every six (period 6, layers 5, 11, … are global). Other
 * architectures: none. llama.cpp reads the period from `attention.sliding_window_pattern` if a
 * file has it; the generator never writes it, so these defaults apply.
 */
export function slidingLayers(c: ModelConfig): boolean[] {
  const period = c.arch === 'gemma2' ? 2 : c.arch === 'gemma3' && c.slidingWindow !== undefined ? 6 : 0;
  return Array.from({ length: c.blocks }, (_, il) => period > 0 && il % period < period - 1);
}

/**
 * Llama 3.1's RoPE frequency divisors (rope_freqs.weight, head/2 values), computed as llama.cpp's
 * converter does (conversion/llama.py, LlamaModel.generate_extra_tensors): for each frequency
 * θ^(−2i/d), wavelength 2π/freq; below original/high_freq_factor → 1, above
 * original/low_freq_factor → factor, between → 1 / ((1 − s)/factor + s) with
 * s = (original/wavelength − low) / (high − low). llama.cpp divides each pair's angle by its value.
 * The converter works in float32; this rounds each step to float32 likewise.
 */
export function llama3RopeFactors(c: ModelConfig): Float32Array {
  const s = c.ropeScaling;
  if (!s) throw new ModelGenError('MODELGEN_DIMS', `${c.name} has no Llama 3 RoPE scaling`, {});
  const f = Math.fround;
  const d = ropeDim(c);
  const out = new Float32Array(d / 2);
  const lowWavelen = s.originalContext / s.lowFreqFactor;
  const highWavelen = s.originalContext / s.highFreqFactor;
  for (let i = 0; i < d / 2; i++) {
    const freq = f(1 / f(f(c.ropeTheta) ** f((2 * i) / d)));
    const wavelen = f(f(2 * Math.PI) / freq);
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth = f(f(f(s.originalContext / wavelen) - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor));
      out[i] = f(1 / f(f(f(1 - smooth) / s.factor) + smooth));
    }
  }
  return out;
}
