import { TokenizerError } from './errors';
import type { Vocab } from './vocab';

/**
 * WordPiece (BERT) as llama.cpp's llm_tokenizer_wpm does it. The GGUF stores word-initial pieces
 * with a leading U+2581 and continuation pieces without BERT's "##". Text is normalised code
 * point by code point (with strip_accents: each replaced by the first code point of its NFD form
 * and combining marks dropped; with lowercase: lower-cased; NUL, U+FFFD and control characters
 * dropped), cut at whitespace, and punctuation, ASCII symbols and CJK ideographs become words of
 * their own. Each word, with U+2581 in front, is covered by greedy longest matches; a word with
 * any position no token starts at becomes a single unknown token.
 */
export function wpmEncode(vocab: Vocab, text: string, out: number[]): void {
  for (const word of wpmWords(text, vocab.lowercase, vocab.stripAccents)) {
    const w = '\u2581' + word;
    const bytes = encoder.encode(w);
    const first = out.length;
    let ok = true;
    for (let i = 0; i < bytes.length && ok; ) {
      ok = false;
      // llama.cpp tries lengths in bytes, longest first; only whole UTF-8 sequences can be tokens.
      for (let j = Math.min(bytes.length, i + vocab.maxTokenBytes + 1); j > i; j--) {
        const id = vocab.textToId.get(decoder.decode(bytes.subarray(i, j)));
        if (id !== undefined && isWhole(bytes, i, j)) {
          out.push(id);
          i = j;
          ok = true;
          break;
        }
      }
    }
    if (!ok) out.length = first;
    if (out.length === first) out.push(unknown(vocab));
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** True when bytes[i, j) starts and ends on UTF-8 sequence boundaries. */
function isWhole(bytes: Uint8Array, i: number, j: number): boolean {
  const cont = (k: number) => k < bytes.length && (bytes[k]! & 0xc0) === 0x80;
  return !cont(i) && !cont(j);
}

function unknown(vocab: Vocab): number {
  if (vocab.unk === undefined) {
    throw new TokenizerError('TOKENIZER_NO_TOKEN', 'a word matches no WordPiece token and the vocabulary has no unknown token', { token: 'UNK' });
  }
  return vocab.unk;
}

const WHITESPACE = /\p{White_Space}/u;
const CONTROL = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u;
const PUNCTUATION = /\p{P}/u;
const SYMBOL = /\p{S}/u;
const MARK = /\p{M}/u;

/** BERT's CJK ideograph blocks as llama.cpp lists them (one bound follows HF's Rust code). */
function isChinese(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** The words of a text after llama.cpp's WordPiece normalisation. */
export function wpmWords(text: string, lowercase = true, stripAccents = lowercase): string[] {
  const words: string[] = [];
  let word = '';
  const flush = () => {
    if (word.length > 0) words.push(word);
    word = '';
  };
  for (const original of text) {
    const ch = stripAccents ? String.fromCodePoint(original.normalize('NFD').codePointAt(0)!) : original;
    const cp = ch.codePointAt(0)!;
    if (WHITESPACE.test(ch)) {
      flush();
      continue;
    }
    if (cp === 0 || cp === 0xfffd || CONTROL.test(ch)) continue;
    if (stripAccents && MARK.test(ch)) continue;
    // llama.cpp's lower-case table maps one code point to one (the first of a longer mapping).
    const out = lowercase ? String.fromCodePoint(ch.toLowerCase().codePointAt(0)!) : ch;
    if (PUNCTUATION.test(ch) || (cp < 0x7f && SYMBOL.test(ch)) || isChinese(cp)) {
      flush();
      words.push(out);
    } else word += out;
  }
  flush();
  return words;
}
