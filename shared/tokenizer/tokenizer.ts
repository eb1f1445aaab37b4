import { bpeEncode, unicodeToByte } from './bpe';
import { cleanSpaces } from './clean-spaces';
import { TokenizerError } from './errors';
import { spmEncode } from './spm';
import { TokenType, type DecodeOptions, type EncodeOptions, type TokenizerSpec } from './types';
import { buildVocab, type TokenizerModel, type Vocab } from './vocab';
import { wpmEncode } from './wpm';

/** A piece of input: raw text still to tokenize, or a special token already matched. */
type Fragment = string | number;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** C isspace: what llama.cpp's LSTRIP/RSTRIP strip. */
const ASCII_SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/**
 * A tokenizer built from a {@link TokenizerSpec}, encoding and decoding as llama.cpp does for the
 * same GGUF metadata (llama_tokenize / llama_token_to_piece).
 */
export class Tokenizer {
  private readonly vocab: Vocab;
  /** Each token's bytes as decode writes them with special = true; filled on first use. */
  private readonly pieces: (Uint8Array | undefined)[];

  constructor(spec: TokenizerSpec) {
    this.vocab = buildVocab(spec);
    this.pieces = new Array<Uint8Array | undefined>(this.vocab.texts.length);
  }

  get model(): TokenizerModel {
    return this.vocab.model;
  }
  get pre(): string | undefined {
    return this.vocab.pre;
  }
  /** Number of tokens in the vocabulary. */
  get size(): number {
    return this.vocab.texts.length;
  }
  get bos(): number | undefined {
    return this.vocab.bos;
  }
  get eos(): number | undefined {
    return this.vocab.eos;
  }
  get unk(): number | undefined {
    return this.vocab.unk;
  }
  get pad(): number | undefined {
    return this.vocab.pad;
  }
  get addBos(): boolean {
    return this.vocab.addBos;
  }
  get addEos(): boolean {
    return this.vocab.addEos;
  }
  get addSpacePrefix(): boolean {
    return this.vocab.addSpacePrefix;
  }
  /** WordPiece's separator, added at the end of an encoding when addSep. */
  get sep(): number | undefined {
    return this.vocab.sep;
  }
  get addSep(): boolean {
    return this.vocab.addSep;
  }
  /** Whether decode tidies spaces before punctuation by default (llama.cpp's clean_spaces). */
  get cleanSpaces(): boolean {
    return this.vocab.cleanSpaces;
  }
  /** Tokens that end generation: EOS, EOT, and control tokens such as `<|im_end|>`. */
  get eog(): ReadonlySet<number> {
    return this.vocab.eog;
  }
  /** What was tolerated while building (out-of-range special ids, empty tokens). */
  get warnings(): readonly string[] {
    return this.vocab.warnings;
  }

  /** The stored text of a token (`▁Hello`, `Ġworld`, `<0x0A>`, `<|im_end|>`). */
  tokenText(id: number): string {
    return this.vocab.texts[this.checkId(id)]!;
  }
  tokenType(id: number): number {
    return this.vocab.types[this.checkId(id)]!;
  }
  /** The id whose stored text is exactly `text`. */
  tokenId(text: string): number | undefined {
    return this.vocab.textToId.get(text);
  }
  isEog(id: number): boolean {
    return this.vocab.eog.has(id);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const parseSpecial = options.parseSpecial ?? false;
    const v = this.vocab;
    const out: number[] = [];
    const input = toWellFormed(text);

    if (addSpecial && v.addBos) out.push(this.required(v.bos, 'BOS'));

    // An empty text makes no fragments, so SentencePiece adds no space prefix to it.
    const fragments = input.length > 0 ? this.partition(input, parseSpecial) : [];
    let prevSpecial = true;
    for (const f of fragments) {
      if (typeof f === 'number') {
        out.push(f);
        prevSpecial = true;
        continue;
      }
      if (v.model === 'llama') {
        // SentencePiece's dummy prefix goes at the start and after each special token.
        const raw = v.addSpacePrefix && prevSpecial ? ' ' + f : f;
        spmEncode(v, raw.replace(/ /g, '\u2581'), out);
      } else if (v.model === 'bert') {
        wpmEncode(v, f, out);
      } else {
        bpeEncode(v, f, out);
      }
      prevSpecial = false;
    }

    if (addSpecial && v.addEos) out.push(this.required(v.eos, 'EOS'));
    if (addSpecial && v.addSep) out.push(this.required(v.sep, 'SEP'));
    return out;
  }

  /**
   * Splits the text at special tokens, longest first, as llama.cpp's tokenizer_st_partition:
   * user-defined tokens always, control and unknown tokens only when parseSpecial. A token with
   * the RSTRIP attribute (Phi-3's) drops the ASCII whitespace that follows it.
   */
  private partition(text: string, parseSpecial: boolean): Fragment[] {
    const v = this.vocab;
    let fragments: Fragment[] = [text];
    for (const id of v.specials) {
      const type = v.types[id];
      if (!parseSpecial && (type === TokenType.CONTROL || type === TokenType.UNKNOWN)) continue;
      const needle = v.texts[id]!;
      let touched = false;
      const nextFragments: Fragment[] = [];
      for (const f of fragments) {
        if (typeof f === 'number' || !f.includes(needle)) {
          nextFragments.push(f);
          continue;
        }
        touched = true;
        const rstrip = v.rstrip.has(id);
        let from = 0;
        for (let at = f.indexOf(needle); at >= 0; at = f.indexOf(needle, from)) {
          if (at > from) nextFragments.push(f.slice(from, at));
          nextFragments.push(id);
          from = at + needle.length;
          if (rstrip) while (from < f.length && ASCII_SPACE.has(f.charCodeAt(from))) from++;
        }
        if (from < f.length) nextFragments.push(f.slice(from));
      }
      if (touched) fragments = nextFragments;
    }
    return fragments;
  }

  /**
   * The bytes a token contributes to decoded text: SentencePiece pieces with U+2581 as space,
   * byte tokens as their byte, byte-level BPE pieces mapped back to bytes, user-defined tokens as
   * written; control and unknown tokens only with `special`; unused tokens as nothing.
   */
  pieceBytes(id: number, special = false): Uint8Array {
    return this.piece(id, special).slice();
  }

  /** The cached piece itself; callers inside this class only read it. */
  private piece(id: number, special: boolean): Uint8Array {
    const v = this.vocab;
    this.checkId(id);
    const type = v.types[id];
    if (!special && (type === TokenType.CONTROL || type === TokenType.UNKNOWN)) return EMPTY;
    let piece = this.pieces[id];
    if (piece === undefined) {
      piece = this.computePiece(id);
      this.pieces[id] = piece;
    }
    return piece;
  }

  private computePiece(id: number): Uint8Array {
    const v = this.vocab;
    const text = v.texts[id]!;
    const type = v.types[id];
    if (type === TokenType.CONTROL || type === TokenType.UNKNOWN || type === TokenType.USER_DEFINED) {
      return encoder.encode(text);
    }
    if (v.model === 'llama' || v.model === 'bert') {
      if (type === TokenType.NORMAL) return encoder.encode(text.replace(/\u2581/g, ' '));
      if (type === TokenType.BYTE) return Uint8Array.of(v.byteOf[id]!);
      return EMPTY;
    }
    if (type !== TokenType.NORMAL) return EMPTY;
    const bytes: number[] = [];
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      const b = unicodeToByte(cp);
      // A character outside the byte table cannot come from byte-level BPE; keep it as written.
      if (b !== undefined) bytes.push(b);
      else for (const x of encoder.encode(ch)) bytes.push(x);
    }
    return Uint8Array.from(bytes);
  }

  /** The text of one token (partial UTF-8 sequences come out as U+FFFD; use a StreamDecoder). */
  tokenToPiece(id: number, special = false): string {
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.piece(id, special));
  }

  decodeBytes(ids: ArrayLike<number>, options: DecodeOptions = {}): Uint8Array {
    const special = options.special ?? false;
    let strip = options.stripLeadingSpace ?? this.vocab.addSpacePrefix;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      let piece = this.piece(id, special);
      // The space to strip is the prefix encode put after BOS; a BOS that renders nothing is passed over.
      if (i === 0 && id === this.vocab.bos && piece.length === 0) continue;
      if (strip && piece.length > 0 && piece[0] === 0x20) piece = piece.subarray(1);
      strip = false;
      parts.push(piece);
      total += piece.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return options.cleanSpaces ?? this.vocab.cleanSpaces ? cleanSpaces(out) : out;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.decodeBytes(ids, options));
  }

  /** A decoder for generated tokens that holds back incomplete UTF-8 sequences between calls. */
  createStreamDecoder(options: { special?: boolean } = {}): StreamDecoder {
    return new StreamDecoder(this, options.special ?? false);
  }

  private checkId(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocab.texts.length) {
      throw new TokenizerError('TOKENIZER_TOKEN_ID', `token id ${id} is not in the vocabulary of ${this.vocab.texts.length}`, {
        value: id,
        size: this.vocab.texts.length,
      });
    }
    return id;
  }

  private required(id: number | undefined, what: string): number {
    if (id === undefined) {
      throw new TokenizerError('TOKENIZER_NO_TOKEN', `the tokenizer adds ${what} but the vocabulary defines no ${what} token`, {
        token: what,
      });
    }
    return id;
  }
}

/** Turns token ids into text as they arrive, emitting only complete characters. */
export class StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly special: boolean,
  ) {}

  push(id: number): string {
    return this.decoder.decode(this.tokenizer.pieceBytes(id, this.special), { stream: true });
  }

  /** Whatever is still held back, as U+FFFD. */
  flush(): string {
    return this.decoder.decode();
  }
}

/** Lone surrogates become U+FFFD, as the UTF-8 encoder would write them anyway. */
function toWellFormed(s: string): string {
  return s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

export function createTokenizer(spec: TokenizerSpec): Tokenizer {
  return new Tokenizer(spec);
}
