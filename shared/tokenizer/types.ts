/**
 * The plain description of a tokenizer, independent of the file it came from. Field names follow
 * the GGUF keys `tokenizer.ggml.*` (model, pre, tokens, scores, token_type, merges, bos_token_id,
 * eos_token_id, unknown_token_id, padding_token_id, add_bos_token, add_eos_token,
 * add_space_prefix); `eot` is `tokenizer.ggml.eot_token_id` where a file has it.
 */
export interface TokenizerSpec {
  /** `llama`: SentencePiece with byte fallback; `gpt2`: byte-level BPE. */
  model: 'llama' | 'gpt2';
  /** Pre-tokenizer name for `gpt2` (`qwen2` is the one implemented). Ignored for `llama`. */
  pre?: string;
  tokens: readonly string[];
  /** SentencePiece merge priorities, one per token (higher merges first). */
  scores?: Float32Array | readonly number[];
  /** One of {@link TokenType} per token. Without it every token is NORMAL (as llama.cpp does). */
  tokenTypes?: Int32Array | readonly number[];
  /** BPE merges in rank order, each "left right". */
  merges?: readonly string[];
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
  eot?: number;
  addBos?: boolean;
  addEos?: boolean;
  addSpacePrefix?: boolean;
}

/** llama.cpp's token types (`tokenizer.ggml.token_type`). */
export const TokenType = {
  UNDEFINED: 0,
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
export type TokenTypeValue = (typeof TokenType)[keyof typeof TokenType];

export interface EncodeOptions {
  /** Add BOS/EOS as the model's add_bos_token / add_eos_token say. Default true. */
  addSpecial?: boolean;
  /**
   * Match control and unknown tokens (`<|im_start|>`, `<s>`) written in the text, as llama.cpp's
   * parse_special. User-defined tokens are matched either way. Default false.
   */
  parseSpecial?: boolean;
}

export interface DecodeOptions {
  /** Render control and unknown tokens as their text (`<s>`, `<|im_end|>`). Default false. */
  special?: boolean;
  /**
   * Drop one leading space from the first piece, undoing the space prefix that encoding added.
   * Default: the tokenizer's addSpacePrefix. A leading BOS that renders nothing is passed over,
   * so decode(encode(x)) is x with or without BOS (SentencePiece's own decode does the same;
   * llama.cpp's llama_detokenize strips only when the very first id is text, not after a BOS).
   */
  stripLeadingSpace?: boolean;
}
