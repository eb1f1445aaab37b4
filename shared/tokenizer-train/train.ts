/**
 * Learns a SentencePiece-style BPE vocabulary (llama.cpp's `tokenizer.ggml.model = "llama"`)
 * from text, deterministically (specs/training.md, "Data: corpus and tokenizer").
 *
 * The vocabulary: `<unk>` = 0, `<s>` = 1, `</s>` = 2, the 256 byte-fallback tokens `<0x00>` ..
 * `<0xFF>` (ids 3..258, type BYTE), then the merged pieces in the order they were learned, then
 * the single characters (most frequent first). Scores are 0 for the first 259 tokens and −k for
 * the k-th token after them (k = 1, 2, …), so a piece learned earlier has a higher score and llama.cpp's SPM
 * tokenizer (merge the adjacent pair whose concatenation is a token with the highest score)
 * applies the merges in the order they were learned. Single characters never result from a
 * merge, so their scores do not matter.
 *
 * Text is seen the way the tokenizer will see it: each document gets the space prefix
 * (add_space_prefix) and its spaces become U+2581 "▁". It is cut into words: a run of newlines,
 * or "▁" followed by characters up to the next "▁" or newline, or such characters at a document
 * or line start. Pieces never cross a word, so a piece holds "▁" only at its start and a
 * newline only among newlines; llama.cpp's merges, which may join any adjacent symbols whose
 * concatenation is a token, then never join across words either.
 *
 * Merging: the most frequent adjacent pair of symbols over all words (weighted by word count)
 * is merged everywhere (left to right, without overlaps), until the vocabulary is full. Ties:
 * the pair whose merged text is smaller wins (JavaScript string order: UTF-16 code units), then
 * the pair whose left side is smaller. A merge whose text is already a token (learned by another
 * split of the same text) adds no token. Pairs longer than `maxPieceLength` code points, or
 * whose text is a special or byte token's, are never merged.
 */
import { Heap } from '../tokenizer/heap';
import { TokenType } from '../tokenizer/types';
import { TokenizerTrainError } from './errors';

export const SPACE = '\u2581';
export const SPECIAL_TOKENS = ['<unk>', '<s>', '</s>'] as const;
/** The id of the first learned token: after the three specials and the 256 byte tokens. */
export const FIRST_PIECE_ID = SPECIAL_TOKENS.length + 256;
/** Largest vocabulary `trainTokenizer` makes (ids must fit the pair keys: 2^20 · 2^21 < 2^53). */
export const MAX_TRAIN_VOCAB = 1 << 20;
export const TRAINED_TOKENIZER_FORMAT = 'pxi-tokenizer/1';
export const DEFAULT_MAX_PIECE_LENGTH = 16;
export const TIE_BREAK = 'highest pair count; then the smaller merged text, then the smaller left side (UTF-16 code unit order)';

/** The word pattern (over text with spaces already "▁"): newline runs, "▁word", or a word at a line start. */
const WORD = /\n+|\u2581[^\u2581\n]*|[^\u2581\n]+/gu;

export interface TrainOptions {
  /** Tokens in all, the 259 specials and byte tokens included (259 .. 2^20). */
  vocabSize: number;
  /**
   * Share of the text's characters (by occurrence, most frequent first) that get a piece of
   * their own; the rest are written as byte tokens. Default 1: every character.
   */
  characterCoverage?: number;
  /** Longest piece in code points (1 .. 256). Default 16, as SentencePiece. */
  maxPieceLength?: number;
  /** Prefix each document with a space, as llama.cpp does for llama vocabularies. Default true. */
  addSpacePrefix?: boolean;
  onProgress?: (p: TrainProgress) => void;
}

export interface TrainProgress {
  phase: 'counting' | 'merging';
  done: number;
  total: number;
}

export interface TrainSource {
  name: string;
  bytes: number;
  sha256: string;
}

/** How a vocabulary was learned (kept in its JSON file; no times, so the file is reproducible). */
export interface TrainingInfo {
  algorithm: 'bpe';
  vocabSize: number;
  characterCoverage: number;
  maxPieceLength: number;
  tieBreak: string;
  documents: number;
  /** UTF-8 bytes of the text learned from (without the space prefixes). */
  textBytes: number;
  words: number;
  uniqueWords: number;
  /** Single characters with a token of their own. */
  characters: number;
  /** Distinct characters of the text left to byte fallback (coverage or room). */
  byteFallbackCharacters: number;
  /** Merged pieces (tokens made by merging). */
  pieces: number;
  /** Merge steps (a step whose text was already a token adds none). */
  merges: number;
  /** What the text was (filled by the caller: files or a corpus, and their hashes). */
  sources?: TrainSource[];
  /** Text normalisation applied before learning (shared/corpus/text.ts). */
  normalize?: string[];
}

/** A learned vocabulary, as `pxi tokenizer train` writes it (JSON). */
export interface TrainedTokenizer {
  format: typeof TRAINED_TOKENIZER_FORMAT;
  model: 'llama';
  tokens: string[];
  scores: number[];
  tokenTypes: number[];
  bos: number;
  eos: number;
  unk: number;
  addBos: boolean;
  addEos: boolean;
  addSpacePrefix: boolean;
  training: TrainingInfo;
}

/** The byte-fallback token text of byte b: `<0xHH>` (upper-case hex, as SentencePiece). */
export function byteTokenText(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
}

export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The words of one document as the trainer counts them (spaces escaped, space prefix added). */
export function documentWords(text: string, addSpacePrefix = true): string[] {
  const escaped = (addSpacePrefix ? ' ' + text : text).replace(/ /g, SPACE);
  return escaped.match(WORD) ?? [];
}

function checkOptions(o: TrainOptions): Required<Omit<TrainOptions, 'onProgress'>> {
  const v = o.vocabSize;
  if (!Number.isInteger(v) || v < FIRST_PIECE_ID || v > MAX_TRAIN_VOCAB) {
    throw new TokenizerTrainError('TOKENIZER_TRAIN_OPTIONS', `vocabulary size ${String(v)} must be an integer from ${FIRST_PIECE_ID} (3 specials + 256 byte tokens) to ${MAX_TRAIN_VOCAB}`, {
      field: 'vocabSize',
      value: v,
    });
  }
  const cov = o.characterCoverage ?? 1;
  if (typeof cov !== 'number' || !(cov > 0 && cov <= 1)) {
    throw new TokenizerTrainError('TOKENIZER_TRAIN_OPTIONS', `character coverage ${String(cov)} must be a number in (0, 1]`, { field: 'characterCoverage', value: cov });
  }
  const len = o.maxPieceLength ?? DEFAULT_MAX_PIECE_LENGTH;
  if (!Number.isInteger(len) || len < 1 || len > 256) {
    throw new TokenizerTrainError('TOKENIZER_TRAIN_OPTIONS', `max piece length ${String(len)} must be an integer from 1 to 256`, { field: 'maxPieceLength', value: len });
  }
  return { vocabSize: v, characterCoverage: cov, maxPieceLength: len, addSpacePrefix: o.addSpacePrefix ?? true };
}

interface Word {
  syms: number[];
  count: number;
}

interface Candidate {
  key: number;
  count: number;
  joined: string;
  left: string;
}

const KEY = 2 ** 21;

/**
 * Learns a vocabulary of exactly `vocabSize` tokens from `documents` (each one text, tokenized
 * later as a whole: one space prefix at its start). Deterministic: the same documents and
 * options give the same vocabulary, whatever the platform.
 */
export function trainTokenizer(documents: Iterable<string>, options: TrainOptions): TrainedTokenizer {
  const o = checkOptions(options);
  const progress = options.onProgress;

  // ---- words and characters
  const wordCounts = new Map<string, number>();
  let docCount = 0;
  let textBytes = 0;
  let totalWords = 0;
  for (const doc of documents) {
    docCount++;
    if (doc.length === 0) continue;
    textBytes += utf8Length(doc);
    for (const w of documentWords(doc, o.addSpacePrefix)) {
      wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
      totalWords++;
    }
    progress?.({ phase: 'counting', done: docCount, total: docCount });
  }
  if (totalWords === 0) {
    throw new TokenizerTrainError('TOKENIZER_TRAIN_EMPTY', `no text to learn from (${docCount} document${docCount === 1 ? '' : 's'}, all empty)`, { documents: docCount });
  }
  const charFreq = new Map<string, number>();
  let charTotal = 0;
  for (const [w, c] of wordCounts) {
    for (const ch of w) {
      charFreq.set(ch, (charFreq.get(ch) ?? 0) + c);
      charTotal += c;
    }
  }
  const byFreq = [...charFreq.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
  const room = o.vocabSize - FIRST_PIECE_ID;
  const chars: string[] = [];
  let covered = 0;
  for (const [ch, n] of byFreq) {
    if (chars.length >= room || covered >= o.characterCoverage * charTotal) break;
    chars.push(ch);
    covered += n;
  }

  // ---- symbols: characters first (internal ids), merged pieces after
  const text: string[] = [...chars];
  const len: number[] = chars.map(() => 1);
  const idOf = new Map<string, number>(chars.map((c, i) => [c, i]));
  const reserved = new Set<string>([...SPECIAL_TOKENS, ...Array.from({ length: 256 }, (_, b) => byteTokenText(b))]);

  const words: Word[] = [];
  for (const [w, count] of wordCounts) {
    const syms: number[] = [];
    for (const ch of w) syms.push(idOf.get(ch) ?? -1);
    if (syms.length > 1) words.push({ syms, count });
  }

  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const mergeable = (a: number, b: number): boolean => a >= 0 && b >= 0 && len[a]! + len[b]! <= o.maxPieceLength;
  const addPairs = (wi: number, sign: 1 | -1, changed: Set<number> | null): void => {
    const { syms, count } = words[wi]!;
    for (let i = 0; i + 1 < syms.length; i++) {
      const a = syms[i]!;
      const b = syms[i + 1]!;
      if (!mergeable(a, b)) continue;
      const key = a * KEY + b;
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * count);
      changed?.add(key);
      if (sign > 0) {
        let s = pairWords.get(key);
        if (!s) pairWords.set(key, (s = new Set<number>()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1, null);

  const before = (x: Candidate, y: Candidate): boolean =>
    x.count > y.count || (x.count === y.count && (x.joined < y.joined || (x.joined === y.joined && x.left < y.left)));
  const heap = new Heap<Candidate>(before);
  const candidate = (key: number): Candidate | null => {
    const count = pairCount.get(key) ?? 0;
    if (count <= 0) return null;
    const a = Math.floor(key / KEY);
    const b = key - a * KEY;
    return { key, count, joined: text[a]! + text[b]!, left: text[a]! };
  };
  for (const key of pairCount.keys()) {
    const c = candidate(key);
    if (c) heap.push(c);
  }

  const want = room - chars.length;
  const learned: number[] = [];
  let merges = 0;
  while (learned.length < want) {
    const top = heap.pop();
    if (top === undefined) break;
    if ((pairCount.get(top.key) ?? 0) !== top.count) continue; // stale: a newer entry holds the count
    if (reserved.has(top.joined)) {
      pairCount.delete(top.key);
      continue;
    }
    const a = Math.floor(top.key / KEY);
    const b = top.key - a * KEY;
    let id = idOf.get(top.joined);
    if (id === undefined) {
      id = text.length;
      text.push(top.joined);
      len.push(len[a]! + len[b]!);
      idOf.set(top.joined, id);
      learned.push(id);
    }
    merges++;
    const changed = new Set<number>();
    for (const wi of pairWords.get(top.key) ?? []) {
      const s = words[wi]!.syms;
      let hit = false;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) {
          hit = true;
          break;
        }
      }
      if (!hit) continue;
      addPairs(wi, -1, changed);
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(s[i]!);
      }
      words[wi]!.syms = next;
      addPairs(wi, 1, changed);
    }
    pairWords.delete(top.key);
    pairCount.delete(top.key);
    for (const key of changed) {
      const c = candidate(key);
      if (c) heap.push(c);
      else pairCount.delete(key);
    }
    if (progress && learned.length % 64 === 0) progress({ phase: 'merging', done: learned.length, total: want });
  }
  if (learned.length < want) {
    const most = FIRST_PIECE_ID + chars.length + learned.length;
    throw new TokenizerTrainError(
      'TOKENIZER_TRAIN_TOO_SMALL',
      `the text (${textBytes} bytes, ${wordCounts.size} distinct words) supports at most ${most} tokens with pieces up to ${o.maxPieceLength} characters; asked for ${o.vocabSize}`,
      { field: 'vocabSize', value: o.vocabSize, max: most },
    );
  }
  progress?.({ phase: 'merging', done: want, total: want });

  // ---- the vocabulary
  const tokens: string[] = [...SPECIAL_TOKENS];
  const types: number[] = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(byteTokenText(b));
    types.push(TokenType.BYTE);
  }
  for (const id of learned) tokens.push(text[id]!);
  for (const ch of chars) tokens.push(ch);
  while (types.length < tokens.length) types.push(TokenType.NORMAL);
  const scores = tokens.map((_, i) => (i < FIRST_PIECE_ID ? 0 : FIRST_PIECE_ID - 1 - i));

  return {
    format: TRAINED_TOKENIZER_FORMAT,
    model: 'llama',
    tokens,
    scores,
    tokenTypes: types,
    bos: 1,
    eos: 2,
    unk: 0,
    addBos: true,
    addEos: false,
    addSpacePrefix: o.addSpacePrefix,
    training: {
      algorithm: 'bpe',
      vocabSize: o.vocabSize,
      characterCoverage: o.characterCoverage,
      maxPieceLength: o.maxPieceLength,
      tieBreak: TIE_BREAK,
      documents: docCount,
      textBytes,
      words: totalWords,
      uniqueWords: wordCounts.size,
      characters: chars.length,
      byteFallbackCharacters: charFreq.size - chars.length,
      pieces: learned.length,
      merges,
    },
  };
}
