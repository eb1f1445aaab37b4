/**
 * DocumentEncoder (shared/corpus/encode.ts): a document cut where no token holds the two
 * characters on either side, each piece tokenized alone, gives exactly the ids of tokenizing
 * the whole text at once. Checked with our trained vocabularies, with the Llama SentencePiece
 * vocabulary of llama.cpp's test files (32 000 pieces, "▁▁…" and multi-word pieces), with
 * stories260K's, and with a vocabulary made to join across newlines and spaces.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DocumentEncoder } from '../../shared/corpus/encode';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { Tokenizer, TokenType, tokenizerSpecFromGguf, type TokenizerSpec } from '../../shared/tokenizer';
import { trainTokenizer, trainedTokenizerSpec } from '../../shared/tokenizer-train';
import { fixturePath } from '../support/fixtures';

const VALID = readFileSync(fixturePath('corpus', 'tinystories-valid.txt'), 'utf8');
const EXCERPT = VALID.slice(0, 80_000);
const EDGES = ['', ' ', '\n', 'x', '  two leading spaces\n\n\nthree newlines', 'tail spaces   ', '🙂 日本語 — “quotes” â€™', 'a\r\nb\tc', '<s> literal </s>'];

function spec(file: string): TokenizerSpec {
  return tokenizerSpecFromGguf(parseGgufBytes(new Uint8Array(readFileSync(file))).metadata, file);
}

function checkSame(s: TokenizerSpec, texts: readonly string[]): void {
  const enc = new DocumentEncoder(s);
  const tok = new Tokenizer(s);
  for (const t of texts) {
    const pieces: number[] = [];
    let calls = 0;
    enc.encode(t, (ids) => {
      calls++;
      for (const id of ids) pieces.push(id);
    });
    expect(pieces, JSON.stringify(t.slice(0, 40))).toEqual(tok.encode(t, { addSpecial: false }));
    if (t.length > 1000) expect(calls).toBeGreaterThan(1);
  }
}

describe('DocumentEncoder', () => {
  it('gives the whole-text ids with vocabularies learned from TinyStories', () => {
    for (const vocab of [300, 512, 1024]) {
      const s = trainedTokenizerSpec(trainTokenizer([VALID.slice(100_000)], { vocabSize: vocab }));
      expect(new DocumentEncoder(s).segmented).toBe(true);
      checkSame(s, [EXCERPT, ...EDGES]);
    }
  });

  it("gives the whole-text ids with Llama's 32 000-piece vocabulary and stories260K's", () => {
    checkSame(spec(fixturePath('tokenizer', 'ggml-vocab-llama-spm.gguf')), [EXCERPT.slice(0, 30_000), ...EDGES]);
    checkSame(spec(fixturePath('models', 'stories260K.gguf')), [EXCERPT, ...EDGES]);
  });

  it('does not cut where a token spans the boundary (pieces across newlines and spaces)', () => {
    const base = trainedTokenizerSpec(trainTokenizer([EXCERPT], { vocabSize: 400 }));
    const extra = ['.\n', '.\nO', '\nOnce', 'e▁', 'd▁t', '▁▁', '▁▁▁'];
    const tokens = [...base.tokens, ...extra];
    const s: TokenizerSpec = {
      ...base,
      tokens,
      scores: [...Array.from(base.scores!), ...extra.map((_, i) => 10 + i)],
      tokenTypes: [...Array.from(base.tokenTypes!), ...extra.map(() => TokenType.NORMAL)],
    };
    const text = `${EXCERPT.slice(0, 20_000)}\nOnce upon a time.\nOnce more   the end`;
    checkSame(s, [text, ...EDGES]);
    const ids = new Tokenizer(s).encode(text, { addSpecial: false });
    expect(ids).toContain(tokens.indexOf('.\nO'));
  });

  it('tokenizes whole texts for vocabularies with user-defined tokens', () => {
    const base = trainedTokenizerSpec(trainTokenizer([EXCERPT], { vocabSize: 400 }));
    const s: TokenizerSpec = {
      ...base,
      tokens: [...base.tokens, '<|story|>'],
      scores: [...Array.from(base.scores!), 0],
      tokenTypes: [...Array.from(base.tokenTypes!), TokenType.USER_DEFINED],
    };
    expect(new DocumentEncoder(s).segmented).toBe(false);
    checkSame(s, ['<|story|>Once upon a time.\n<|story|> The end.', ...EDGES]);
  });
});
