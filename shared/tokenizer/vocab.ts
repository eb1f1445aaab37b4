import { TokenizerError } from './errors';
import { preTokenizer, type PreTokenizer } from './pre-tokenizers';
import { applyTokenAttrs } from './token-attrs';
import { TokenType, type TokenizerSpec } from './types';

/** A byte-fallback token's text: `<0x` two hex digits `>` (SentencePiece writes them upper case). */
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

const MODELS = ['llama', 'gpt2', 'bert'] as const;
export type TokenizerModel = (typeof MODELS)[number];

/** The validated, indexed vocabulary shared by the tokenizer models. */
export interface Vocab {
  readonly model: TokenizerModel;
  readonly pre: string | undefined;
  /** The byte-level BPE pre-tokenizer (`gpt2` only). */
  readonly preTokenizer: PreTokenizer | undefined;
  readonly texts: readonly string[];
  readonly types: Uint8Array;
  readonly scores: Float32Array;
  readonly textToId: ReadonlyMap<string, number>;
  /** The byte value of each BYTE token, -1 for every other token. */
  readonly byteOf: Int16Array;
  /** Control, user-defined and unknown tokens, longest text (in UTF-8 bytes) first. */
  readonly specials: readonly number[];
  /** Special tokens that swallow the ASCII whitespace after them when matched in text. */
  readonly rstrip: ReadonlySet<number>;
  /** BPE merge ranks: left → right → rank. Empty for SentencePiece and WordPiece. */
  readonly ranks: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** Longest token text in UTF-8 bytes (WordPiece's longest match starts there). */
  readonly maxTokenBytes: number;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly unk: number | undefined;
  readonly pad: number | undefined;
  readonly eot: number | undefined;
  readonly sep: number | undefined;
  readonly eog: ReadonlySet<number>;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSep: boolean;
  readonly addSpacePrefix: boolean;
  /** Byte-level BPE: a pre-tokenized word that is a token is taken whole (llama.cpp's ignore_merges). */
  readonly ignoreMerges: boolean;
  /** WordPiece: lower-case, and drop accents (first code point of NFD, marks dropped). */
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  /** Decoding tidies spaces before punctuation as llama_detokenize's clean_spaces does. */
  readonly cleanSpaces: boolean;
  /** Things tolerated as llama.cpp tolerates them (an out-of-range special id, an empty token). */
  readonly warnings: readonly string[];
}

export function buildVocab(spec: TokenizerSpec): Vocab {
  const model = spec.model;
  if (!(MODELS as readonly string[]).includes(model)) {
    throw new TokenizerError('TOKENIZER_UNSUPPORTED', `tokenizer model ${JSON.stringify(model)} is not supported (${MODELS.join(', ')})`, {
      field: 'model',
      value: String(model),
    });
  }
  const pre = spec.pre;
  const preTok = model === 'gpt2' ? preTokenizer(pre) : undefined;

  const tokens = spec.tokens;
  if (!Array.isArray(tokens) || tokens.length === 0) {
    throw new TokenizerError('TOKENIZER_VOCAB', 'tokens: the vocabulary is empty or not a list', { field: 'tokens' });
  }
  const n = tokens.length;
  checkLength('scores', spec.scores, n);
  checkLength('tokenTypes', spec.tokenTypes, n);

  const warnings: string[] = [];
  const texts: string[] = new Array<string>(n);
  const types = new Uint8Array(n);
  const scores = new Float32Array(n);
  const byteOf = new Int16Array(n).fill(-1);
  const textToId = new Map<string, number>();

  for (let i = 0; i < n; i++) {
    let text = tokens[i];
    if (typeof text !== 'string') {
      throw new TokenizerError('TOKENIZER_VOCAB', `tokens[${i}] is not a string`, { field: 'tokens', index: i });
    }
    if (text.length === 0) {
      // llama.cpp renames empty tokens so they can never match (an empty special would loop forever).
      text = `[EMPTY_${i}]`;
      warnings.push(`tokens[${i}] is empty; renamed ${text}`);
    }
    texts[i] = text;

    if (spec.scores) {
      const s = Number(spec.scores[i]);
      if (Number.isNaN(s)) {
        throw new TokenizerError('TOKENIZER_VOCAB', `scores[${i}] is NaN`, { field: 'scores', index: i });
      }
      scores[i] = s;
    }

    let type: number = TokenType.NORMAL;
    if (spec.tokenTypes) {
      const t = Number(spec.tokenTypes[i]);
      type = Number.isInteger(t) && t >= 0 && t <= 6 ? t : TokenType.UNDEFINED;
    } else if (model === 'llama' && BYTE_TOKEN.test(text)) {
      // Without types, a SentencePiece vocab's <0xHH> pieces can only be byte-fallback tokens.
      type = TokenType.BYTE;
    }
    types[i] = type;

    if (type === TokenType.BYTE && model === 'llama') {
      const m = BYTE_TOKEN.exec(text);
      if (!m) {
        throw new TokenizerError(
          'TOKENIZER_BYTE_TOKEN',
          `tokens[${i}] is a byte token but its text ${JSON.stringify(text.slice(0, 32))} is not <0xHH>`,
          { field: 'tokens', index: i, value: text.slice(0, 32) },
        );
      }
      byteOf[i] = parseInt(m[1]!, 16);
    }

    // Later duplicates win, as in llama.cpp's token_to_id[word] = i.
    textToId.set(text, i);
  }

  const isLlama = model === 'llama';
  const isBert = model === 'bert';
  const specialId = (field: string, value: number | undefined, fallback: number | undefined): number | undefined => {
    // 0xFFFFFFFF (-1 written as uint32) is how converters write "no such token".
    if (value === undefined || value === -1 || value === 0xffffffff) return fallback !== undefined && fallback < n ? fallback : undefined;
    if (Number.isInteger(value) && value >= 0 && value < n) return value;
    // llama.cpp warns and keeps its default; a bad id must not index past the vocabulary.
    warnings.push(`${field} ${value} is outside the vocabulary of ${n}; using ${fallback ?? 'none'}`);
    return fallback !== undefined && fallback < n ? fallback : undefined;
  };
  // llama.cpp's defaults per model (SentencePiece: <unk> <s> </s>; BERT: [UNK] 100, [CLS] 101, [SEP] 102).
  const bos = specialId('bos', spec.bos, isLlama ? 1 : isBert ? 101 : undefined);
  const eos = specialId('eos', spec.eos, isLlama ? 2 : undefined);
  const unk = specialId('unk', spec.unk, isLlama ? 0 : isBert ? 100 : undefined);
  const pad = specialId('pad', spec.pad, isBert ? 0 : undefined);
  const sep = specialId('sep', spec.sep, isBert ? 102 : undefined);
  const named = specialId('eot', spec.eot, undefined);

  const attrs = applyTokenAttrs(textToId, types, named !== undefined, spec.modelName);
  const eot = named ?? attrs.eot;
  const eog = new Set<number>(attrs.eog);
  if (eos !== undefined) eog.add(eos);
  if (eot !== undefined) eog.add(eot);

  const specials: number[] = [];
  let maxTokenBytes = 0;
  const lens = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    lens[i] = utf8Length(texts[i]!);
    maxTokenBytes = Math.max(maxTokenBytes, lens[i]!);
    const t = types[i];
    if (t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN) specials.push(i);
  }
  specials.sort((a, b) => lens[b]! - lens[a]! || a - b);

  const ranks = model === 'gpt2' ? buildRanks(spec.merges) : new Map<string, Map<string, number>>();

  return {
    model,
    pre: model === 'gpt2' ? pre : undefined,
    preTokenizer: preTok,
    texts,
    types,
    scores,
    textToId,
    byteOf,
    specials,
    rstrip: attrs.rstrip,
    ranks,
    maxTokenBytes,
    bos,
    eos,
    unk,
    pad,
    eot,
    sep,
    eog,
    // WordPiece always puts [CLS] first and [SEP] last when adding specials, whatever the flags.
    addBos: isBert || (spec.addBos ?? (isLlama || (preTok?.addBos ?? false))),
    addEos: spec.addEos ?? false,
    addSep: isBert || (spec.addSep ?? false),
    lowercase: spec.lowercase ?? true,
    stripAccents: spec.stripAccents ?? spec.lowercase ?? true,
    addSpacePrefix: spec.addSpacePrefix ?? isLlama,
    ignoreMerges: preTok?.ignoreMerges ?? false,
    // SentencePiece: off; WordPiece: on; byte-level BPE: as the pre-tokenizer says.
    cleanSpaces: preTok?.cleanSpaces ?? isBert,
    warnings,
  };
}

function checkLength(field: string, arr: ArrayLike<number> | undefined, n: number): void {
  if (arr !== undefined && arr.length !== n) {
    throw new TokenizerError('TOKENIZER_VOCAB', `${field} has ${arr.length} entries for ${n} tokens`, {
      field,
      value: arr.length,
      tokens: n,
    });
  }
}

function buildRanks(merges: readonly string[] | undefined): Map<string, Map<string, number>> {
  if (!merges || merges.length === 0) {
    throw new TokenizerError('TOKENIZER_VOCAB', 'merges: a byte-level BPE tokenizer needs its merges', { field: 'merges' });
  }
  const ranks = new Map<string, Map<string, number>>();
  for (let i = 0; i < merges.length; i++) {
    const m = merges[i];
    // The separator is the first space after position 0, as llama.cpp splits them.
    const sp = typeof m === 'string' ? m.indexOf(' ', 1) : -1;
    if (sp < 0) {
      throw new TokenizerError('TOKENIZER_MERGE', `merges[${i}] ${JSON.stringify(String(m).slice(0, 32))} is not "left right"`, {
        field: 'merges',
        index: i,
      });
    }
    const left = m!.slice(0, sp);
    const right = m!.slice(sp + 1);
    let inner = ranks.get(left);
    if (!inner) ranks.set(left, (inner = new Map()));
    // The first occurrence keeps its rank (llama.cpp emplaces).
    if (!inner.has(right)) inner.set(right, i);
  }
  return ranks;
}

/** UTF-8 length of a well-formed string without allocating. */
export function utf8Length(s: string): number {
  let len = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) len += 1;
    else if (c < 0x800) len += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        len += 4;
        i++;
      } else len += 3;
    } else len += 3;
  }
  return len;
}
