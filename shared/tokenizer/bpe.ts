import { TokenizerError } from './errors';
import { mergeSymbols } from './merge';
import type { Vocab } from './vocab';

/**
 * GPT-2's byte ↔ unicode table: printable Latin-1 bytes stand for themselves, the other 68 bytes
 * (controls, space, 0x7F-0xA0, 0xAD) take code points 256, 257, … in byte order, so every
 * byte string becomes a printable string that BPE can merge.
 */
const BYTE_TO_CHAR: readonly string[] = (() => {
  const table: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return table;
})();
const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CHAR.map((ch, b) => [ch.charCodeAt(0), b]));

export function byteToUnicode(b: number): string {
  return BYTE_TO_CHAR[b]!;
}

/** The byte a mapped character stands for, or undefined when the character is not in the table. */
export function unicodeToByte(codePoint: number): number | undefined {
  return CHAR_TO_BYTE.get(codePoint);
}

// Whitespace as llama.cpp and Rust's regex see it (Unicode White_Space). JavaScript's \s differs:
// it includes U+FEFF and lacks U+0085, so the class is spelled out.
const WS = '\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/** Pre-tokenizer regexes by `tokenizer.ggml.pre` name. */
const PRE_REGEX: Record<string, RegExp> = {
  qwen2: new RegExp(
    [
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])",
      '[^\\r\\n\\p{L}\\p{N}]?\\p{L}+',
      '\\p{N}',
      ` ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*`,
      `[${WS}]*[\\r\\n]+`,
      `[${WS}]+(?![^${WS}])`,
      `[${WS}]+`,
    ].join('|'),
    'gu',
  ),
};

/** Splits text into the words that BPE merges within; text between matches is kept as words. */
export function preTokenize(pre: string, text: string): string[] {
  const re = PRE_REGEX[pre];
  if (!re) throw new TokenizerError('TOKENIZER_UNSUPPORTED', `pre-tokenizer ${JSON.stringify(pre)} is not supported`, { value: pre });
  const words: string[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    if (m.index > last) words.push(text.slice(last, m.index));
    words.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) words.push(text.slice(last));
  return words;
}

const encoder = new TextEncoder();

/**
 * Byte-level BPE as llama.cpp's llm_tokenizer_bpe does it, for one raw-text fragment: pre-tokenize,
 * map each word's UTF-8 bytes through the byte table, merge the adjacent pair of lowest merge
 * rank (ties: leftmost) until none is left, and look each symbol up.
 */
export function bpeEncode(vocab: Vocab, text: string, out: number[]): void {
  for (const word of preTokenize(vocab.pre!, text)) {
    let mapped = '';
    for (const b of encoder.encode(word)) mapped += BYTE_TO_CHAR[b];
    encodeWord(vocab, mapped, out);
  }
}

function encodeWord(vocab: Vocab, word: string, out: number[]): void {
  // Every mapped character is one UTF-16 unit (code points below 0x144): one symbol each.
  const starts = Array.from({ length: word.length }, (_, i) => i);
  for (const piece of mergeSymbols(word, starts, (left, right) => rankOf(vocab, left, right))) {
    const id = vocab.textToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    // llama.cpp's fallback: look each byte of the symbol up as a one-byte token (only ASCII can match).
    for (const ch of piece) {
      if (ch.charCodeAt(0) >= 0x80) continue;
      const single = vocab.textToId.get(ch);
      if (single !== undefined) out.push(single);
    }
  }
}

function rankOf(vocab: Vocab, left: string, right: string): number | undefined {
  return vocab.ranks.get(left)?.get(right);
}
