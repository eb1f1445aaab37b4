/**
 * Tokenizing whole documents (megabytes) exactly as one llama.cpp `llama_tokenize` call of the
 * whole text would, in bounded memory and fast.
 *
 * SentencePiece (llama.cpp's llm_tokenizer_spm) merges two adjacent symbols only when their
 * concatenation is a token. So where two adjacent characters x, y of the text (spaces read as
 * "▁") never occur next to each other inside any token's text, no merge ever joins across that
 * point, and the symbols on either side evolve exactly as they would alone: the text can be cut
 * there and the pieces tokenized one by one with the same result. The encoder cuts at every such
 * point; for a vocabulary whose pieces stay inside words (ours) that is every word start, so
 * the pieces repeat and are cached. Only the first piece of a document gets the space prefix.
 * Vocabularies with user-defined tokens (matched in raw text before merging) and byte-level BPE
 * (`gpt2`) are tokenized whole instead.
 */
import { Tokenizer } from '../tokenizer/tokenizer';
import { TokenType, type TokenizerSpec } from '../tokenizer/types';

const SPACE = 0x2581;
const KEY = 0x110000;

function codePointAt(s: string, i: number): number {
  return s.codePointAt(i)!;
}

export interface DocumentEncoderOptions {
  /** Most distinct pieces kept in the cache (default 200 000). */
  cacheEntries?: number;
}

export class DocumentEncoder {
  /** The tokenizer for whole texts (its encode adds the space prefix at the start). */
  readonly tokenizer: Tokenizer;
  private readonly rest: Tokenizer | null;
  /** Adjacent code point pairs found inside any token (x · 0x110000 + y), spaces as U+2581. */
  private readonly pairs: Set<number> | null;
  private readonly cache = new Map<string, readonly number[]>();
  private readonly cacheEntries: number;

  constructor(spec: TokenizerSpec, opts: DocumentEncoderOptions = {}) {
    this.tokenizer = new Tokenizer(spec);
    this.cacheEntries = opts.cacheEntries ?? 200_000;
    const types = spec.tokenTypes;
    const userDefined = types !== undefined && Array.from(types).some((t) => Number(t) === TokenType.USER_DEFINED);
    if (spec.model !== 'llama' || userDefined) {
      this.rest = null;
      this.pairs = null;
      return;
    }
    this.rest = new Tokenizer({ ...spec, addSpacePrefix: false });
    const pairs = new Set<number>();
    for (const t of spec.tokens) {
      let prev = -1;
      for (let i = 0; i < t.length; i++) {
        const cp = codePointAt(t, i);
        if (cp > 0xffff) i++;
        if (prev >= 0) pairs.add(prev * KEY + cp);
        prev = cp;
      }
    }
    this.pairs = pairs;
  }

  /** True when documents are cut into pieces (SentencePiece without user-defined tokens). */
  get segmented(): boolean {
    return this.pairs !== null;
  }

  /**
   * The token ids of one document as `tokenizer.encode(text, { addSpecial: false })` gives them
   * (space prefix at the start, no BOS), handed to `sink` in order, a piece at a time, with the
   * index of `text` the piece ends at (for progress).
   */
  encode(text: string, sink: (ids: readonly number[], end: number) => void): void {
    if (this.pairs === null || this.rest === null) {
      sink(this.tokenizer.encode(text, { addSpecial: false }), text.length);
      return;
    }
    const pairs = this.pairs;
    let start = 0;
    let prev = -1;
    let first = true;
    const flush = (end: number): void => {
      if (end <= start) return;
      const piece = text.slice(start, end);
      if (first) {
        sink(this.tokenizer.encode(piece, { addSpecial: false }), end);
        first = false;
      } else {
        let ids = this.cache.get(piece);
        if (ids === undefined) {
          ids = this.rest!.encode(piece, { addSpecial: false });
          if (this.cache.size >= this.cacheEntries) this.cache.clear();
          this.cache.set(piece, ids);
        }
        sink(ids, end);
      }
      start = end;
    };
    for (let i = 0; i < text.length; ) {
      let cp = codePointAt(text, i);
      const width = cp > 0xffff ? 2 : 1;
      if (cp === 0x20) cp = SPACE;
      if (prev >= 0 && i > 0 && !pairs.has(prev * KEY + cp)) flush(i);
      prev = cp;
      i += width;
    }
    flush(text.length);
  }

  /** All ids of one document in one array (for tests and small texts). */
  encodeAll(text: string): number[] {
    const out: number[] = [];
    this.encode(text, (ids) => {
      for (const id of ids) out.push(id);
    });
    return out;
  }
}
