import { TokenizerError } from './errors';
import { Heap } from './heap';
import type { Vocab } from './vocab';

/**
 * SentencePiece BPE as llama.cpp's llm_tokenizer_spm does it: start from single characters,
 * repeatedly merge the adjacent pair whose concatenation is a vocabulary token with the highest
 * score (ties: leftmost first), then write each remaining symbol as its token, or as byte tokens
 * when it is not one. `text` already has its spaces escaped to U+2581.
 */
export function spmEncode(vocab: Vocab, text: string, out: number[]): void {
  if (text.length === 0) return;
  // Symbols are UTF-16 ranges of `text`; a symbol only ever grows by absorbing its right
  // neighbour, so its start never moves and (start, length) describes it.
  const starts: number[] = [];
  for (let i = 0; i < text.length; i++) {
    starts.push(i);
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
  }
  const count = starts.length;
  const len = new Int32Array(count);
  const prev = new Int32Array(count);
  const next = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    len[i] = (i + 1 < count ? starts[i + 1]! : text.length) - starts[i]!;
    prev[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }

  interface Bigram {
    left: number;
    right: number;
    score: number;
    size: number;
  }
  const queue = new Heap<Bigram>((a, b) => a.score > b.score || (a.score === b.score && a.left < b.left));
  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const size = len[left]! + len[right]!;
    const id = vocab.textToId.get(text.substr(starts[left]!, size));
    if (id === undefined) return;
    queue.push({ left, right, score: vocab.scores[id]!, size });
  };

  for (let i = 1; i < count; i++) tryAdd(i - 1, i);

  for (let bg = queue.pop(); bg !== undefined; bg = queue.pop()) {
    const { left, right } = bg;
    // A pair whose sides were merged since it was queued is stale.
    if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== bg.size) continue;
    len[left] = len[left]! + len[right]!;
    len[right] = 0;
    next[left] = next[right]!;
    if (next[right]! >= 0) prev[next[right]!] = left;
    tryAdd(prev[left]!, left);
    tryAdd(left, next[left]!);
  }

  for (let i = 0; i !== -1; i = next[i]!) {
    const piece = text.substr(starts[i]!, len[i]!);
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
