/**
 * A model shape the generator writes (ModelConfig), the tensor types and llama-quantize mixes it
 * stores, and what follows from a shape (head size, rotated dimensions, sliding layers, Llama 3's
 * RoPE factors). The presets are in presets.ts; flag overrides and the checks that make every
 * shape one llama.cpp can load, in resolve.ts.
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
