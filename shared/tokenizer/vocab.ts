import { TokenizerError } from './errors';
import { TokenType, type TokenizerSpec } from './types';

/** A byte-fallback token's text: `<0x` two hex digits `>` (SentencePiece writes them upper case). */
const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

/** Token texts that end a turn; llama.cpp adds control tokens with these texts to its EOG set. */
const EOG_TEXTS = new Set([
  '<|eot_id|>',
  '<|im_end|>',
  '<|end|>',
  '<end_of_turn>',
  '<|endoftext|>',
  '<|eom_id|>',
  '<EOT>',
  '_<EOT>',
  '<｜end▁of▁sentence｜>',
]);

/** The validated, indexed vocabulary shared by both tokenizer models. */
export interface Vocab {
  readonly model: 'llama' | 'gpt2';
  readonly pre: string | undefined;
  readonly texts: readonly string[];
  readonly types: Uint8Array;
  readonly scores: Float32Array;
  readonly textToId: ReadonlyMap<string, number>;
  /** The byte value of each BYTE token, -1 for every other token. */
  readonly byteOf: Int16Array;
  /** Control, user-defined and unknown tokens, longest text (in UTF-8 bytes) first. */
  readonly specials: readonly number[];
  /** BPE merge ranks: left → right → rank. Empty for SentencePiece. */
  readonly ranks: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly bos: number | undefined;
  readonly eos: number | undefined;
  readonly unk: number | undefined;
  readonly pad: number | undefined;
  readonly eot: number | undefined;
  readonly eog: ReadonlySet<number>;
  readonly addBos: boolean;
  readonly addEos: boolean;
  readonly addSpacePrefix: boolean;
  /** Things tolerated as llama.cpp tolerates them (an out-of-range special id, an empty token). */
  readonly warnings: readonly string[];
}

const SUPPORTED_PRE = new Set(['qwen2']);

export function buildVocab(spec: TokenizerSpec): Vocab {
  const model = spec.model;
  if (model !== 'llama' && model !== 'gpt2') {
    throw new TokenizerError('TOKENIZER_UNSUPPORTED', `tokenizer model ${JSON.stringify(model)} is not supported (llama, gpt2)`, {
      field: 'model',
      value: String(model),
    });
  }
  const pre = spec.pre;
  if (model === 'gpt2') {
    // Each pre-tokenizer is a different regex; guessing one would silently give wrong ids.
    if (pre === undefined || !SUPPORTED_PRE.has(pre)) {
      throw new TokenizerError(
        'TOKENIZER_UNSUPPORTED',
        `byte-level BPE pre-tokenizer ${JSON.stringify(pre ?? null)} is not supported (supported: ${[...SUPPORTED_PRE].join(', ')})`,
        { field: 'pre', value: pre ?? null },
      );
    }
  }

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

  const specials: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = types[i];
    if (t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN) specials.push(i);
  }
  const byteLen = (s: string): number => utf8Length(s);
  const lens = new Map<number, number>(specials.map((id) => [id, byteLen(texts[id]!)]));
  specials.sort((a, b) => lens.get(b)! - lens.get(a)! || a - b);

  const ranks = model === 'gpt2' ? buildRanks(spec.merges) : new Map<string, Map<string, number>>();

  const isLlama = model === 'llama';
  const specialId = (field: string, value: number | undefined, fallback: number | undefined): number | undefined => {
    // 0xFFFFFFFF (-1 written as uint32) is how converters write "no such token".
    if (value === undefined || value === -1 || value === 0xffffffff) return fallback !== undefined && fallback < n ? fallback : undefined;
    if (Number.isInteger(value) && value >= 0 && value < n) return value;
    // llama.cpp warns and keeps its default; a bad id must not index past the vocabulary.
    warnings.push(`${field} ${value} is outside the vocabulary of ${n}; using ${fallback ?? 'none'}`);
    return fallback !== undefined && fallback < n ? fallback : undefined;
  };
  const bos = specialId('bos', spec.bos, isLlama ? 1 : undefined);
  const eos = specialId('eos', spec.eos, isLlama ? 2 : undefined);
  const unk = specialId('unk', spec.unk, isLlama ? 0 : undefined);
  const pad = specialId('pad', spec.pad, undefined);
  const eot = specialId('eot', spec.eot, undefined);

  const eog = new Set<number>();
  if (eos !== undefined) eog.add(eos);
  if (eot !== undefined) eog.add(eot);
  for (const id of specials) {
    if (types[id] === TokenType.CONTROL && EOG_TEXTS.has(texts[id]!)) eog.add(id);
  }

  return {
    model,
    pre: isLlama ? undefined : pre,
    texts,
    types,
    scores,
    textToId,
    byteOf,
    specials,
    ranks,
    bos,
    eos,
    unk,
    pad,
    eot,
    eog,
    addBos: spec.addBos ?? isLlama,
    addEos: spec.addEos ?? false,
    addSpacePrefix: spec.addSpacePrefix ?? isLlama,
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
