/**
 * The plain description of a tokenizer, independent of the file it came from. Field names follow
 * the GGUF keys `tokenizer.ggml.*` (model, pre, tokens, scores, token_type, merges, bos_token_id,
 * eos_token_id, unknown_token_id, padding_token_id, add_bos_token, add_eos_token,
 * add_space_prefix); `eot` is `tokenizer.ggml.eot_token_id` where a file has it, `sep` and
 * `addSep` are `tokenizer.ggml.seperator_token_id` (sic) and `tokenizer.ggml.add_sep_token`,
 * `modelName` is `general.name`.
 */
export interface TokenizerSpec {
  /** `llama`: SentencePiece with byte fallback; `gpt2`: byte-level BPE; `bert`: WordPiece. */
  model: 'llama' | 'gpt2' | 'bert';
  /**
   * Pre-tokenizer name for `gpt2` (`tokenizer.ggml.pre`: llama-bpe, qwen2, gpt-2, … — see
   * SUPPORTED_PRE_TOKENIZERS). Ignored for `llama` and `bert`.
   */
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
  /** WordPiece's [SEP], added at the end when addSep. */
  sep?: number;
  addBos?: boolean;
  addEos?: boolean;
  addSep?: boolean;
  addSpacePrefix?: boolean;
  /**
   * WordPiece normalisation (`tokenizer.ggml.normalizer.lowercase`, default true, and
   * `tokenizer.ggml.normalizer.strip_accents`, default: as lowercase).
   */
  lowercase?: boolean;
  stripAccents?: boolean;
  /**
   * The model's name (`general.name`). llama.cpp keys per-token attributes on it: for a name
   * containing "phi-3" or "phi3", special tokens swallow the whitespace after them.
   */
  modelName?: string;
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
  /**
   * Tidy spaces as llama_detokenize does for vocabularies with clean_spaces (GPT-2, Llama 3,
   * Falcon, MPT, StarCoder, WordPiece): " ?", " !", " .", " ," lose the space, " ' " its spaces,
   * " 's", " 'm", " 're", " 've" the space. Default: the vocabulary's flag.
   */
  cleanSpaces?: boolean;
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
