import { mergeSymbols } from './merge';
import { splitWords } from './pre-tokenizers';
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

// The pre-tokenizers live in their own module; model-gen reaches preTokenize through here.
export { preTokenize } from './pre-tokenizers';

const encoder = new TextEncoder();

/**
 * Byte-level BPE as llama.cpp's llm_tokenizer_bpe does it, for one raw-text fragment: pre-tokenize,
 * map each word's UTF-8 bytes through the byte table, take a word that is a token whole when the
 * vocabulary ignores merges (Llama 3), else merge the adjacent pair of lowest merge rank (ties:
 * leftmost) until none is left, and look each symbol up.
 */
export function bpeEncode(vocab: Vocab, text: string, out: number[]): void {
  for (const word of splitWords(vocab.preTokenizer!, text)) {
    let mapped = '';
    for (const b of encoder.encode(word)) mapped += BYTE_TO_CHAR[b];
    const whole = vocab.ignoreMerges ? vocab.textToId.get(mapped) : undefined;
    if (whole !== undefined) out.push(whole);
    else encodeWord(vocab, mapped, out);
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
