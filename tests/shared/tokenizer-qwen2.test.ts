import { beforeAll, describe, expect, it } from 'vitest';
import { renderChat, Tokenizer } from '../../shared/tokenizer';
import { qwenChatTemplate, qwenTokenizerSpec, readVocabVectors } from '../support/tokenizer-vectors';

const vectors = readVocabVectors('ggml-vocab-qwen2.gguf');
let tok: Tokenizer;

beforeAll(() => {
  tok = new Tokenizer(qwenTokenizerSpec());
});

describe('byte-level BPE (qwen2) against llama.cpp vectors', () => {
  it('reads all 46 vectors', () => {
    expect(vectors.inputs.length).toBe(46);
  });

  it.each(vectors.inputs.map((input, i) => [i, input] as const))('vector %i encodes to the expected ids and decodes back', (i, input) => {
    const ids = tok.encode(input, { addSpecial: false });
    expect(ids).toEqual(vectors.expected[i]);
    expect(tok.decode(ids)).toBe(input);
  });
});

describe('qwen2 specials', () => {
  it('adds no BOS by default and reads the special ids', () => {
    expect(tok.addBos).toBe(false);
    expect(tok.encode('Hello')).toEqual(tok.encode('Hello', { addSpecial: false }));
    expect(tok.isEog(tok.tokenId('<|im_end|>')!)).toBe(true);
    expect(tok.isEog(tok.tokenId('<|endoftext|>')!)).toBe(true);
    expect(tok.isEog(tok.tokenId('Hello')!)).toBe(false);
  });

  it('matches control tokens only with parseSpecial', () => {
    const text = '<|im_start|>user\nHi<|im_end|>';
    const start = tok.tokenId('<|im_start|>')!;
    const end = tok.tokenId('<|im_end|>')!;
    const parsed = tok.encode(text, { parseSpecial: true });
    expect(parsed[0]).toBe(start);
    expect(parsed.at(-1)).toBe(end);
    expect(parsed.slice(1, -1)).toEqual(tok.encode('user\nHi'));
    const plain = tok.encode(text);
    expect(plain).not.toContain(start);
    expect(plain).not.toContain(end);
    expect(tok.decode(plain)).toBe(text);
    // Control tokens are silent unless asked for.
    expect(tok.decode(parsed)).toBe('user\nHi');
    expect(tok.decode(parsed, { special: true })).toBe(text);
  });

  it('always matches user-defined tokens, as llama.cpp does', () => {
    const think = tok.tokenId('<think>')!;
    expect(tok.tokenType(think)).toBe(4);
    const ids = tok.encode('<think>\nok</think>');
    expect(ids[0]).toBe(think);
    expect(ids.at(-1)).toBe(tok.tokenId('</think>'));
    expect(tok.decode(ids)).toBe('<think>\nok</think>');
  });

  it('streams partial UTF-8 without replacement characters', () => {
    const text = '🦙 llama 日本語';
    const ids = tok.encode(text);
    const stream = tok.createStreamDecoder();
    let got = '';
    for (const id of ids) got += stream.push(id);
    got += stream.flush();
    expect(got).toBe(text);
    expect(got).not.toContain('\uFFFD');
  });

  it('turns lone surrogates into U+FFFD instead of failing', () => {
    expect(tok.decode(tok.encode('a\uD800b'))).toBe('a\uFFFDb');
  });
});

describe('Qwen3 chat template', () => {
  const messages = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'Hi there' },
  ];

  it('renders ChatML and tokenizes it with the control tokens in place', () => {
    const prompt = renderChat(qwenChatTemplate(), messages, { addGenerationPrompt: true });
    expect(prompt).toBe('<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n');
    const ids = tok.encode(prompt, { parseSpecial: true });
    const start = tok.tokenId('<|im_start|>')!;
    const end = tok.tokenId('<|im_end|>')!;
    expect(ids.filter((id) => id === start).length).toBe(3);
    expect(ids.filter((id) => id === end).length).toBe(2);
    expect(tok.decode(ids, { special: true })).toBe(prompt);
  });

  it('passes extra variables (enable_thinking)', () => {
    const prompt = renderChat(qwenChatTemplate(), messages, { addGenerationPrompt: true, extra: { enable_thinking: false } });
    expect(prompt.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
  });
});
