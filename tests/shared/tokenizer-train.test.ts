/**
 * The BPE vocabulary trainer (shared/tokenizer-train): its fixed layout, the merge order and tie
 * rule on hand-checked inputs, determinism, what it refuses, its JSON file, and the GGUF
 * metadata it gives (read back by our GGUF reader into the same tokenizer).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { writeGgufBytes } from '../../shared/gguf/writer';
import { gv } from '../../shared/gguf/values';
import { Tokenizer, TokenType, tokenizerSpecFromGguf } from '../../shared/tokenizer';
import {
  FIRST_PIECE_ID,
  SPACE,
  TokenizerTrainError,
  documentWords,
  parseTrainedTokenizer,
  serializeTrainedTokenizer,
  tokenizerMetadata,
  trainTokenizer,
  trainedTokenizerSpec,
  withTokenizerMetadata,
  type TrainedTokenizer,
} from '../../shared/tokenizer-train';
import { fixturePath } from '../support/fixtures';
import { codeOf } from '../support/errors';

const STORIES = readFileSync(fixturePath('corpus', 'tinystories-valid.txt'), 'utf8').slice(0, 60_000);

describe('trainTokenizer', () => {
  it('merges the most frequent pair first, ties to the smaller text, and lays out the vocabulary', () => {
    // Pairs (▁,a) (a,b) (▁,c) (c,d) all occur twice: "ab" < "cd" < "▁a…" (U+2581 sorts after ASCII).
    const t = trainTokenizer(['ab ab cd cd'], { vocabSize: FIRST_PIECE_ID + 4 + 5 });
    expect(t.tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect(t.tokens[FIRST_PIECE_ID - 1]).toBe('<0xFF>');
    expect(t.tokens.slice(FIRST_PIECE_ID)).toEqual(['ab', 'cd', `${SPACE}ab`, `${SPACE}cd`, SPACE, 'a', 'b', 'c', 'd']);
    expect(t.tokenTypes.slice(0, 4)).toEqual([TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL, TokenType.BYTE]);
    expect(t.tokenTypes.slice(FIRST_PIECE_ID).every((x) => x === TokenType.NORMAL)).toBe(true);
    expect(t.scores.slice(FIRST_PIECE_ID)).toEqual([-1, -2, -3, -4, -5, -6, -7, -8, -9]);
    expect(t.scores.slice(0, FIRST_PIECE_ID).every((s) => s === 0)).toBe(true);
    expect({ bos: t.bos, eos: t.eos, unk: t.unk, addBos: t.addBos, addEos: t.addEos, addSpacePrefix: t.addSpacePrefix }).toEqual({
      bos: 1,
      eos: 2,
      unk: 0,
      addBos: true,
      addEos: false,
      addSpacePrefix: true,
    });
    expect(t.training).toMatchObject({ documents: 1, textBytes: 11, words: 4, uniqueWords: 2, characters: 5, pieces: 4, merges: 4, byteFallbackCharacters: 0 });
    // A count beats the text order: "xy" occurs 3 times, "ab" twice.
    const u = trainTokenizer(['ab ab xyxyxy'], { vocabSize: FIRST_PIECE_ID + 6 + 1 });
    expect(u.tokens[FIRST_PIECE_ID]).toBe('xy');
  });

  it('sees the text as llama.cpp tokenizes it: space prefix, "▁" for spaces, pieces never crossing a word or a newline', () => {
    expect(documentWords('Once upon\n\nThe  end.\n')).toEqual([`${SPACE}Once`, `${SPACE}upon`, '\n\n', 'The', SPACE, `${SPACE}end.`, '\n']);
    expect(documentWords('x y', false)).toEqual(['x', `${SPACE}y`]);
    const t = trainTokenizer([STORIES], { vocabSize: 800 });
    const learned = t.tokens.slice(FIRST_PIECE_ID);
    for (const p of learned) {
      expect(p.indexOf(SPACE, 1), p).toBe(-1);
      if (p.includes('\n')) expect(/^\n+$/.test(p), JSON.stringify(p)).toBe(true);
      expect([...p].length).toBeLessThanOrEqual(16);
    }
    // Every merged piece joins two tokens that come before it (so llama.cpp can reach it by merging).
    const ids = new Map(t.tokens.map((x, i) => [x, i]));
    const firstChar = FIRST_PIECE_ID + t.training.pieces;
    for (let i = FIRST_PIECE_ID; i < firstChar; i++) {
      const p = t.tokens[i]!;
      const cps = [...p];
      const reachable = cps.some((_, k) => {
        if (k === 0) return false;
        const l = ids.get(cps.slice(0, k).join(''));
        const r = ids.get(cps.slice(k).join(''));
        const earlier = (id: number | undefined) => id !== undefined && id >= FIRST_PIECE_ID && (id < i || id >= firstChar);
        return earlier(l) && earlier(r);
      });
      expect(reachable, p).toBe(true);
    }
    expect(new Set(t.tokens).size).toBe(t.tokens.length);
  });

  it('is deterministic and independent of document order', () => {
    const docs = [STORIES.slice(0, 30_000), STORIES.slice(30_000)];
    const a = trainTokenizer(docs, { vocabSize: 700 });
    const b = trainTokenizer(docs, { vocabSize: 700 });
    expect(serializeTrainedTokenizer(b)).toBe(serializeTrainedTokenizer(a));
    const c = trainTokenizer([...docs].reverse(), { vocabSize: 700 });
    expect(c.tokens).toEqual(a.tokens);
  });

  it('leaves rare characters to byte fallback with coverage < 1, and our tokenizer round-trips them', () => {
    const text = `${STORIES.slice(0, 20_000)} 🙂 日本`;
    const t = trainTokenizer([text], { vocabSize: 400, characterCoverage: 0.999 });
    expect(t.training.byteFallbackCharacters).toBeGreaterThan(0);
    expect(t.tokens).not.toContain('🙂');
    const tok = new Tokenizer(trainedTokenizerSpec(t));
    const ids = tok.encode(' 🙂 日本', { addSpecial: false });
    expect(ids.filter((id) => tok.tokenType(id) === TokenType.BYTE).length).toBeGreaterThanOrEqual(4 + 3);
    expect(tok.decode(ids)).toBe(' 🙂 日本');
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it('refuses impossible options and text too small for the vocabulary, saying what is possible', () => {
    expect(codeOf(TokenizerTrainError, () => trainTokenizer(['abc'], { vocabSize: 258 }))).toBe('TOKENIZER_TRAIN_OPTIONS');
    expect(codeOf(TokenizerTrainError, () => trainTokenizer(['abc'], { vocabSize: 300.5 }))).toBe('TOKENIZER_TRAIN_OPTIONS');
    expect(codeOf(TokenizerTrainError, () => trainTokenizer(['abc'], { vocabSize: 300, characterCoverage: 0 }))).toBe('TOKENIZER_TRAIN_OPTIONS');
    expect(codeOf(TokenizerTrainError, () => trainTokenizer(['abc'], { vocabSize: 300, maxPieceLength: 0 }))).toBe('TOKENIZER_TRAIN_OPTIONS');
    expect(codeOf(TokenizerTrainError, () => trainTokenizer(['', ''], { vocabSize: 300 }))).toBe('TOKENIZER_TRAIN_EMPTY');
    try {
      trainTokenizer(['abc abc'], { vocabSize: 300 });
      expect.unreachable();
    } catch (e) {
      // ▁ a b c, then ab, abc, ▁abc (or the like): 3 merged pieces at most.
      expect((e as TokenizerTrainError).code).toBe('TOKENIZER_TRAIN_TOO_SMALL');
      expect((e as TokenizerTrainError).message).toMatch(/supports at most 266 tokens .*asked for 300/);
    }
    // A vocabulary of only the fixed tokens is allowed: every character is byte fallback, the
    // space prefix too (as "▁", E2 96 81, the way llama.cpp writes it).
    const bytesOnly = trainTokenizer(['abc'], { vocabSize: FIRST_PIECE_ID });
    expect(bytesOnly.tokens).toHaveLength(FIRST_PIECE_ID);
    expect(new Tokenizer(trainedTokenizerSpec(bytesOnly)).encode('ab', { addSpecial: false })).toEqual([3 + 0xe2, 3 + 0x96, 3 + 0x81, 3 + 0x61, 3 + 0x62]);
  });

  it('never learns a piece whose text is a special or byte token', () => {
    const t = trainTokenizer([STORIES.slice(0, 5000), Array.from({ length: 50 }, () => '<s> </s> <unk> <0x41>').join(' ')], { vocabSize: 400 });
    expect(t.tokens.slice(FIRST_PIECE_ID)).toContain(`${SPACE}<`);
    const learned = t.tokens.slice(FIRST_PIECE_ID);
    for (const p of ['<s>', '</s>', '<unk>', '<0x41>']) expect(learned).not.toContain(p);
  });
});

describe('the trained tokenizer file and its GGUF metadata', () => {
  const trained: TrainedTokenizer = trainTokenizer([STORIES], { vocabSize: 600 });

  it('serializes to JSON that reads back the same, and refuses files that are not one', () => {
    const text = serializeTrainedTokenizer(trained);
    const back = parseTrainedTokenizer(JSON.parse(text), 't.json');
    expect(back).toEqual(trained);
    const obj = JSON.parse(text) as Record<string, unknown> & { tokens: string[]; scores: number[] };
    const bad = (mutate: (o: typeof obj) => void): string => {
      const o = JSON.parse(text) as typeof obj;
      mutate(o);
      try {
        parseTrainedTokenizer(o, 't.json');
      } catch (e) {
        expect((e as TokenizerTrainError).code).toBe('TOKENIZER_TRAIN_FILE');
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(bad((o) => (o.format = 'x'))).toMatch(/^t\.json: not a trained tokenizer \(pxi-tokenizer\/1\): format: /);
    expect(bad((o) => o.scores.pop())).toBe('t.json: 600 tokens but 599 scores and 600 token types');
    expect(bad((o) => (o.tokens[5] = '<0x99>'))).toBe('t.json: tokens[5] is "<0x99>", expected <0x02>');
    expect(bad((o) => (o.tokens[400] = o.tokens[300]!))).toMatch(/^t\.json: tokens\[400\] .* appears twice$/);
    expect(bad((o) => (o.scores[300] = 5))).toBe('t.json: scores[300] is 5, expected -42');
    expect(bad((o) => delete (o as Record<string, unknown>).tokens)).toMatch(/tokens: /);
  });

  it('gives the tokenizer.ggml.* keys llama.cpp reads, which our GGUF reader turns back into the same tokenizer', () => {
    const meta = tokenizerMetadata(trained);
    expect(meta.map(([k, v]) => `${k}:${v.type === 'array' ? `array of ${v.value.itemType}` : v.type}`)).toEqual([
      'tokenizer.ggml.model:string',
      'tokenizer.ggml.tokens:array of string',
      'tokenizer.ggml.scores:array of float32',
      'tokenizer.ggml.token_type:array of int32',
      'tokenizer.ggml.bos_token_id:uint32',
      'tokenizer.ggml.eos_token_id:uint32',
      'tokenizer.ggml.unknown_token_id:uint32',
      'tokenizer.ggml.add_bos_token:bool',
      'tokenizer.ggml.add_eos_token:bool',
      'tokenizer.ggml.add_space_prefix:bool',
    ]);
    const model = new Map([
      ['general.architecture', gv.str('llama')],
      ['tokenizer.ggml.model', gv.str('gpt2')],
      ['tokenizer.chat_template', gv.str('{{x}}')],
      ['llama.vocab_size', gv.u32(600)],
    ]);
    const merged = withTokenizerMetadata(model, trained);
    expect([...merged.keys()].slice(0, 2)).toEqual(['general.architecture', 'llama.vocab_size']);
    expect(merged.has('tokenizer.chat_template')).toBe(false);
    const header = parseGgufBytes(writeGgufBytes(merged, []), 'vocab.gguf');
    const fromGguf = new Tokenizer(tokenizerSpecFromGguf(header.metadata, 'vocab.gguf'));
    const ours = new Tokenizer(trainedTokenizerSpec(trained));
    expect(fromGguf.size).toBe(600);
    expect(fromGguf.addSpacePrefix).toBe(true);
    for (const t of [STORIES.slice(0, 5000), 'Ünïcödé 🙂', '  x\n\ny ']) expect(fromGguf.encode(t)).toEqual(ours.encode(t));
  });
});
