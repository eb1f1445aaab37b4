import { TokenizerError } from './errors';
import { compileSplitRegex, matchView, splitRanges } from './regex-split';

/**
 * The byte-level BPE pre-tokenizers, by `tokenizer.ggml.pre` name, as llama.cpp (llama-vocab.cpp,
 * llm_tokenizer_bpe and llama_vocab::impl::load) defines them: the regexes that cut text into
 * the words BPE merges within, applied one after another, and the flags llama.cpp sets for the
 * name. The regex strings are llama.cpp's (which for Llama 3 and Qwen2 spell HF's `(?i:'s|…)` as
 * `'[sS]|…`); \s is handled as {@link compileSplitRegex} says.
 */
export interface PreTokenizer {
  /** The name llama.cpp's pre-type is called by (several GGUF names share one). */
  readonly kind: string;
  readonly regexes: readonly RegExp[];
  /** A word that is itself a token is taken whole, merges or not (Llama 3's ignore_merges). */
  readonly ignoreMerges: boolean;
  /** llama_detokenize's clean_spaces (" ," → ",", " 's" → "'s", …). */
  readonly cleanSpaces: boolean;
  /** add_bos when the GGUF has no tokenizer.ggml.add_bos_token. */
  readonly addBos: boolean;
}

// GPT-2's regex. llama.cpp recognises this exact string and runs hand-written code that also
// splits off a lone whitespace character (as `|\s+` would); splitting keeps unmatched text as a
// piece, which gives the same pieces.
const GPT2 = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`;
const LLAMA3 = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2 = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
// DeepSeek's letter class (cased letters), written with escapes so that no editor's Unicode
// normalisation can turn U+212A KELVIN SIGN into "K" and widen the range that starts with it.
const DEEPSEEK_LETTERS = String.raw`A-Za-z\u{B5}\u{C0}-\u{D6}\u{D8}-\u{F6}\u{F8}-\u{1BA}\u{1BC}-\u{1BF}\u{1C4}-\u{293}\u{295}-\u{2AF}\u{370}-\u{373}\u{376}\u{377}\u{37B}-\u{37D}\u{37F}\u{386}\u{388}-\u{38A}\u{38C}\u{38E}-\u{3A1}\u{3A3}-\u{3F5}\u{3F7}-\u{481}\u{48A}-\u{52F}\u{531}-\u{556}\u{10A0}-\u{10C5}\u{13A0}-\u{13F5}\u{13F8}-\u{13FD}\u{1C90}-\u{1CBA}\u{1CBD}-\u{1CBF}\u{1D00}-\u{1D2B}\u{1D6B}-\u{1D77}\u{1D79}-\u{1D9A}\u{1E00}-\u{1F15}\u{1F18}-\u{1F1D}\u{1F20}-\u{1F45}\u{1F48}-\u{1F4D}\u{1F50}-\u{1F57}\u{1F59}\u{1F5B}\u{1F5D}\u{1F5F}-\u{1F7D}\u{1F80}-\u{1FB4}\u{1FB6}-\u{1FBC}\u{1FBE}\u{1FC2}-\u{1FC4}\u{1FC6}-\u{1FCC}\u{1FD0}-\u{1FD3}\u{1FD6}-\u{1FDB}\u{1FE0}-\u{1FEC}\u{1FF2}-\u{1FF4}\u{1FF6}-\u{1FFC}\u{2102}\u{2107}\u{210A}-\u{2113}\u{2115}\u{2119}-\u{211D}\u{2124}\u{2126}\u{2128}\u{212A}-\u{212D}\u{212F}-\u{2134}\u{2139}\u{213C}-\u{213F}\u{2145}-\u{2149}\u{214E}\u{2183}\u{2184}\u{2C00}-\u{2C7B}\u{2C7E}-\u{2CE4}\u{2CEB}-\u{2CEE}\u{2CF2}\u{2CF3}\u{A640}-\u{A66D}\u{A680}-\u{A69B}\u{A722}-\u{A76F}\u{A771}-\u{A787}\u{A78B}-\u{A78E}\u{AB70}-\u{ABBF}\u{FB00}-\u{FB06}\u{FB13}-\u{FB17}\u{FF21}-\u{FF3A}\u{FF41}-\u{FF5A}\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}`;
// CJK ideographs (U+4E00-U+9FA5), everything from U+0800 to U+4E00, Hangul: llama.cpp's range.
const DEEPSEEK_CJK = String.raw`[\u{4E00}-\u{9FA5}\u{800}-\u{4E00}\u{AC00}-\u{D7FF}]+`;

interface Kind {
  regexes: readonly string[];
  ignoreMerges?: boolean;
  cleanSpaces?: boolean;
  addBos?: boolean;
}

/** llama.cpp's pre-types: its regex list and the flags it sets (BPE defaults: clean_spaces on). */
const KINDS: Record<string, Kind> = {
  llama3: { regexes: [LLAMA3], ignoreMerges: true, addBos: true },
  gpt2: { regexes: [GPT2] },
  starcoder: { regexes: [String.raw`\p{N}`, GPT2] },
  falcon: { regexes: [String.raw`[\p{P}\$\+<=>\^~\|` + '`' + String.raw`]+`, GPT2, '[0-9][0-9][0-9]'] },
  qwen2: { regexes: [QWEN2] },
  'deepseek-llm': {
    regexes: [
      String.raw`[\r\n]`,
      String.raw`\s?[` + DEEPSEEK_LETTERS + ']+',
      String.raw`\s?[!-/:-~\u{FF01}-\u{FF0F}\u{FF1A}-\u{FF5E}\u{2018}-\u{201F}\u{3000}-\u{3002}]+`,
      // llama.cpp's `\s+$`, anchored to the start of a whitespace run: the same matches, without
      // retrying from every position of a long run that does not reach the end (quadratic).
      String.raw`(?<!\s)\s+$`,
      DEEPSEEK_CJK,
      String.raw`\p{N}+`,
    ],
  },
  'deepseek-coder': { regexes: [String.raw`[\r\n]`, String.raw`\s?\p{L}+`, String.raw`\s?\p{P}+`, DEEPSEEK_CJK, String.raw`\p{N}`] },
};

/** GGUF `tokenizer.ggml.pre` names → llama.cpp pre-type and the flags it overrides for that name. */
const NAMES: Record<string, { kind: keyof typeof KINDS; cleanSpaces?: boolean }> = {
  'llama-bpe': { kind: 'llama3' },
  llama3: { kind: 'llama3' },
  'llama-v3': { kind: 'llama3' },
  falcon3: { kind: 'llama3' },
  'gpt-2': { kind: 'gpt2' },
  'phi-2': { kind: 'gpt2' },
  mpt: { kind: 'gpt2' },
  olmo: { kind: 'gpt2' },
  starcoder: { kind: 'starcoder' },
  refact: { kind: 'starcoder' },
  'command-r': { kind: 'starcoder', cleanSpaces: false },
  smollm: { kind: 'starcoder', cleanSpaces: false },
  codeshell: { kind: 'starcoder' },
  falcon: { kind: 'falcon' },
  qwen2: { kind: 'qwen2', cleanSpaces: false },
  'deepseek-r1-qwen': { kind: 'qwen2', cleanSpaces: false },
  stablelm2: { kind: 'qwen2' },
  'deepseek-llm': { kind: 'deepseek-llm', cleanSpaces: false },
  'deepseek-coder': { kind: 'deepseek-coder', cleanSpaces: false },
};

/** Every `tokenizer.ggml.pre` name this project tokenizes, sorted. */
export const SUPPORTED_PRE_TOKENIZERS: readonly string[] = Object.keys(NAMES).sort();

const cache = new Map<string, PreTokenizer>();

/** The pre-tokenizer a GGUF names, or a TOKENIZER_UNSUPPORTED error listing the supported names. */
export function preTokenizer(name: string | undefined): PreTokenizer {
  const hit = name === undefined ? undefined : cache.get(name);
  if (hit) return hit;
  const entry = name === undefined || !Object.hasOwn(NAMES, name) ? undefined : NAMES[name];
  if (entry === undefined) {
    // Each pre-tokenizer is a different regex; guessing one would silently give wrong ids.
    throw new TokenizerError(
      'TOKENIZER_UNSUPPORTED',
      `byte-level BPE pre-tokenizer ${JSON.stringify(name ?? null)} is not supported (supported: ${SUPPORTED_PRE_TOKENIZERS.join(', ')})`,
      { field: 'pre', value: name ?? null },
    );
  }
  const kind = KINDS[entry.kind]!;
  const pre: PreTokenizer = {
    kind: entry.kind,
    regexes: kind.regexes.map(compileSplitRegex),
    ignoreMerges: kind.ignoreMerges ?? false,
    cleanSpaces: entry.cleanSpaces ?? kind.cleanSpaces ?? true,
    addBos: kind.addBos ?? false,
  };
  cache.set(name!, pre);
  return pre;
}

/** Splits text into the words that BPE merges within (by pre-tokenizer name). */
export function preTokenize(name: string, text: string): string[] {
  return splitWords(preTokenizer(name), text);
}

/** Splits text into the words that BPE merges within; text between matches is kept as words. */
export function splitWords(pre: PreTokenizer, text: string): string[] {
  const ranges = splitRanges(matchView(text), pre.regexes);
  const words: string[] = [];
  for (let i = 0; i < ranges.length; i += 2) words.push(text.slice(ranges[i], ranges[i + 1]));
  return words;
}
