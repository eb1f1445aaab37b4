import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGgufBytes } from '../../shared/gguf/reader';
import type { Tokenizer } from '../../shared/tokenizer';
import { tokenizerFromGguf } from '../../shared/tokenizer/from-gguf';
import { fixturePath } from '../support/fixtures';
import { readVocabVectors } from '../support/tokenizer-vectors';

function loadGguf(...parts: string[]): Tokenizer {
  const file = fixturePath(...parts);
  // A plain Uint8Array copy: the header reader is given bytes, not a Node Buffer (whose slice() is a view).
  const header = parseGgufBytes(new Uint8Array(readFileSync(file)), parts.at(-1));
  return tokenizerFromGguf(header.metadata, parts.at(-1));
}

const vectors = readVocabVectors('ggml-vocab-llama-spm.gguf');
let llama: Tokenizer;

beforeAll(() => {
  llama = loadGguf('tokenizer', 'ggml-vocab-llama-spm.gguf');
});

describe('SentencePiece (llama-spm) against llama.cpp vectors', () => {
  it('reads the vocabulary and all 46 vectors', () => {
    expect(vectors.inputs.length).toBe(46);
    expect(llama.size).toBe(32000);
    expect([llama.bos, llama.eos, llama.unk, llama.addBos, llama.addSpacePrefix]).toEqual([1, 2, 0, true, true]);
  });

  it.each(vectors.inputs.map((input, i) => [i, input] as const))('vector %i encodes to the expected ids and decodes back', (i, input) => {
    const ids = llama.encode(input, { addSpecial: false });
    expect(ids).toEqual(vectors.expected[i]);
    expect(llama.decode(ids)).toBe(input);
  });

  it('adds BOS by default and strips the space prefix after it when decoding', () => {
    const ids = llama.encode('Hello world');
    expect(ids).toEqual([1, 15043, 3186]);
    expect(llama.decode(ids)).toBe('Hello world');
    expect(llama.decode(ids, { special: true })).toBe('<s> Hello world');
  });

  it('streams byte-fallback tokens into whole characters', () => {
    const text = 'llama 🦙 ok';
    const ids = llama.encode(text, { addSpecial: false });
    // The llama emoji has no piece of its own: it goes out as four <0xHH> tokens.
    expect(ids.filter((id) => llama.tokenType(id) === 6).length).toBe(4);
    const stream = llama.createStreamDecoder();
    const parts = ids.map((id) => stream.push(id));
    expect(parts.join('') + stream.flush()).toBe(' ' + text);
    expect(parts.join('')).not.toContain('\uFFFD');
  });
});

describe('stories260K tokenizer', () => {
  it('encodes "Once upon a time" with BOS to whole-word pieces and back', () => {
    const t = loadGguf('models', 'stories260K.gguf');
    expect(t.size).toBe(512);
    const ids = t.encode('Once upon a time');
    expect(ids.map((id) => t.tokenText(id))).toEqual(['<s>', '▁Once', '▁upon', '▁a', '▁time']);
    expect(ids).toEqual([1, 403, 407, 261, 378]);
    expect(t.decode(ids)).toBe('Once upon a time');
    // Its GGUF writes padding_token_id = 0xFFFFFFFF, meaning none.
    expect(t.pad).toBeUndefined();
  });
});
