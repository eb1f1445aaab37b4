import { TokenizerError } from './errors';
import { mergeSymbols } from './merge';
import type { Vocab } from './vocab';

/**
 * SentencePiece BPE as llama.cpp's llm_tokenizer_spm does it: start from single characters,
 * repeatedly merge the adjacent pair whose concatenation is a vocabulary token with the highest
 * score (ties: leftmost first), then write each remaining symbol as its token, or as byte tokens
 * when it is not one. `text` already has its spaces escaped to U+2581.
 */
export function spmEncode(vocab: Vocab, text: string, out: number[]): void {
  if (text.length === 0) return;
  // Symbols start as single code points (a surrogate pair is one symbol).
  const starts: number[] = [];
  for (let i = 0; i < text.length; i++) {
    starts.push(i);
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
  }
  // Highest score first: the priority is the score negated.
  const symbols = mergeSymbols(text, starts, (left, right) => {
    const id = vocab.textToId.get(left + right);
    return id === undefined ? undefined : -vocab.scores[id]!;
  });
  for (const piece of symbols) {
    const id = vocab.textToId.get(piece);
    if (id !== undefined) {
      out.push(id);
      continue;
    }
    for (const b of utf8Bytes(piece)) out.push(byteToken(vocab, b));
  }
}

/** llama.cpp's byte_to_token: the `<0xHH>` token, else a one-character token, else unknown. */
export function byteToken(vocab: Vocab, b: number): number {
  const hex = b.toString(16).toUpperCase().padStart(2, '0');
  const id = vocab.textToId.get(`<0x${hex}>`) ?? (b < 0x80 ? vocab.textToId.get(String.fromCharCode(b)) : undefined) ?? vocab.unk;
  if (id === undefined) {
    throw new TokenizerError('TOKENIZER_NO_TOKEN', `byte 0x${hex} has no byte-fallback token and the vocabulary has no unknown token`, {
      byte: b,
    });
  }
  return id;
}

const encoder = new TextEncoder();
export function utf8Bytes(s: string): Uint8Array {
  return encoder.encode(s);
}
