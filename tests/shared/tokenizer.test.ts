import { describe, expect, it } from 'vitest';
import { gv, type GgufValue } from '../../shared/gguf/values';
import { ChatTemplate, renderChat, Tokenizer, TokenizerError, type TokenizerSpec } from '../../shared/tokenizer';
import { chatTemplateFromGguf, tokenizerSpecFromGguf } from '../../shared/tokenizer/from-gguf';
import { codeOf } from '../support/errors';

/** A small SentencePiece vocabulary: <unk> <s> </s>, two byte tokens, then pieces with scores. */
function spm(extra: [string, number][], over: Partial<TokenizerSpec> = {}): TokenizerSpec {
  const base: [string, number, number][] = [
    ['<unk>', 0, 2],
    ['<s>', 0, 3],
    ['</s>', 0, 3],
    ['<0x0A>', 0, 6],
    ['<0xC3>', 0, 6],
    ['<0xA9>', 0, 6],
  ];
  const all = [...base, ...extra.map(([t, s]) => [t, s, 1] as [string, number, number])];
  return {
    model: 'llama',
    tokens: all.map((t) => t[0]),
    scores: Float32Array.from(all.map((t) => t[1])),
    tokenTypes: Int32Array.from(all.map((t) => t[2])),
    ...over,
  };
}

const letters: [string, number][] = [
  ['▁', -1],
  ['a', -2],
  ['b', -2],
  ['c', -2],
];

describe('SentencePiece merges', () => {
  it('merges the pair with the higher score first', () => {
    const bcFirst = new Tokenizer(spm([...letters, ['ab', -5], ['bc', -4]]));
    const abFirst = new Tokenizer(spm([...letters, ['ab', -4], ['bc', -5]]));
    const ids = (t: Tokenizer, ...s: string[]): number[] => s.map((x) => t.tokenId(x)!);
    expect(bcFirst.encode('abc', { addSpecial: false })).toEqual(ids(bcFirst, '▁', 'a', 'bc'));
    expect(abFirst.encode('abc', { addSpecial: false })).toEqual(ids(abFirst, '▁', 'ab', 'c'));
  });

  it('takes the leftmost pair on equal scores', () => {
    const t = new Tokenizer(spm([...letters, ['aa', -3]]));
    const aa = t.tokenId('aa')!;
    const a = t.tokenId('a')!;
    expect(t.encode('aaa', { addSpecial: false }).slice(1)).toEqual([aa, a]);
  });

  it('falls back to byte tokens, then to <unk>', () => {
    const t = new Tokenizer(spm(letters));
    // é is C3 A9 and \n is 0A, all with byte tokens; ü is C3 BC and BC has none, so <unk> stands in.
    expect(t.encode('é\n', { addSpecial: false })).toEqual([t.tokenId('▁'), 4, 5, 3]);
    expect(t.encode('ü', { addSpecial: false })).toEqual([t.tokenId('▁'), 4, 0]);
    expect(t.decode(t.encode('é\na', { addSpecial: false }))).toBe('é\na');
  });

  it('adds BOS by default for llama and EOS only when asked', () => {
    const t = new Tokenizer(spm(letters));
    expect(t.addBos).toBe(true);
    expect(t.encode('a')).toEqual([1, t.tokenId('▁'), t.tokenId('a')]);
    expect(t.encode('')).toEqual([1]);
    expect(t.encode('', { addSpecial: false })).toEqual([]);
    const noBos = new Tokenizer(spm(letters, { addBos: false, addEos: true }));
    expect(noBos.encode('a')).toEqual([noBos.tokenId('▁'), noBos.tokenId('a'), 2]);
  });

  it('adds no space prefix when add_space_prefix is false', () => {
    const t = new Tokenizer(spm(letters, { addSpacePrefix: false }));
    expect(t.encode('a b', { addSpecial: false })).toEqual([t.tokenId('a'), t.tokenId('▁'), t.tokenId('b')]);
    expect(t.decode(t.encode('a b', { addSpecial: false }))).toBe('a b');
  });

  it('strips the space prefix after BOS when decoding, and renders control tokens only on request', () => {
    const t = new Tokenizer(spm(letters));
    const ids = t.encode('a b');
    expect(ids[0]).toBe(1);
    expect(t.decode(ids)).toBe('a b');
    expect(t.decode(ids, { special: true })).toBe('<s> a b');
    expect(t.decode(ids, { stripLeadingSpace: false })).toBe(' a b');
  });

  it('parses <s> in the text only with parseSpecial, and puts a space prefix after it', () => {
    const t = new Tokenizer(spm(letters));
    expect(t.encode('a<s>b', { addSpecial: false, parseSpecial: true })).toEqual([
      t.tokenId('▁'),
      t.tokenId('a'),
      1,
      t.tokenId('▁'),
      t.tokenId('b'),
    ]);
    expect(t.encode('a<s>b', { addSpecial: false })).not.toContain(1);
  });
});

describe('vocabulary validation', () => {
  it.each(['<0x-1>', '<0xZZ>', '<0x1>', '<0x100>', '<0x0A', 'A'])('refuses the byte token %s', (text) => {
    const s = spm(letters);
    const tokens = [...s.tokens];
    tokens[4] = text;
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...s, tokens }))).toBe('TOKENIZER_BYTE_TOKEN');
  });

  it('refuses lengths that disagree, NaN scores, unknown models and pre-tokenizers, bad merges', () => {
    const s = spm(letters);
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...s, scores: new Float32Array(3) }))).toBe('TOKENIZER_VOCAB');
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...s, tokenTypes: new Int32Array(1) }))).toBe('TOKENIZER_VOCAB');
    const nan = Float32Array.from(s.scores!);
    nan[7] = NaN;
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...s, scores: nan }))).toBe('TOKENIZER_VOCAB');
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...s, tokens: [] }))).toBe('TOKENIZER_VOCAB');
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...s, model: 't5' as 'llama' }))).toBe('TOKENIZER_UNSUPPORTED');
    const bpe: TokenizerSpec = { model: 'gpt2', pre: 'qwen2', tokens: ['a', 'b', 'ab'], merges: ['a b'] };
    expect(new Tokenizer(bpe).encode('ab')).toEqual([2]);
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...bpe, pre: 'tekken' }))).toBe('TOKENIZER_UNSUPPORTED');
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...bpe, pre: undefined }))).toBe('TOKENIZER_UNSUPPORTED');
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...bpe, merges: ['ab'] }))).toBe('TOKENIZER_MERGE');
    expect(codeOf(TokenizerError, () => new Tokenizer({ ...bpe, merges: [] }))).toBe('TOKENIZER_VOCAB');
  });

  it('keeps the default for an out-of-range special id, with a warning', () => {
    const t = new Tokenizer(spm(letters, { bos: 99999, eos: -3 }));
    expect(t.bos).toBe(1);
    expect(t.eos).toBe(2);
    expect(t.warnings.length).toBe(2);
  });

  it('refuses to decode ids outside the vocabulary', () => {
    const t = new Tokenizer(spm(letters));
    expect(codeOf(TokenizerError, () => t.decode([t.size]))).toBe('TOKENIZER_TOKEN_ID');
    expect(codeOf(TokenizerError, () => t.decode([-1]))).toBe('TOKENIZER_TOKEN_ID');
    expect(codeOf(TokenizerError, () => t.decode([1.5]))).toBe('TOKENIZER_TOKEN_ID');
  });

  it('fails clearly when BOS is to be added but the vocabulary has none', () => {
    const t = new Tokenizer({ model: 'gpt2', pre: 'qwen2', tokens: ['a'], merges: ['a a'], addBos: true });
    expect(codeOf(TokenizerError, () => t.encode('a'))).toBe('TOKENIZER_NO_TOKEN');
  });
});

describe('GGUF metadata', () => {
  const base = (): Map<string, GgufValue> =>
    new Map<string, GgufValue>([
      ['tokenizer.ggml.model', gv.str('llama')],
      ['tokenizer.ggml.tokens', gv.array('string', ['<unk>', '<s>', '</s>', '▁', 'a'])],
      ['tokenizer.ggml.scores', gv.array('float32', new Float32Array(5))],
      ['tokenizer.ggml.token_type', gv.array('int32', Int32Array.of(2, 3, 3, 1, 1))],
      ['tokenizer.ggml.bos_token_id', gv.u32(1)],
      ['tokenizer.ggml.eos_token_id', gv.u32(2)],
      ['tokenizer.ggml.add_bos_token', gv.bool(false)],
      ['tokenizer.chat_template', gv.str('{{ messages[0].content }}')],
    ]);

  it('reads the keys into a spec', () => {
    const spec = tokenizerSpecFromGguf(base(), 'x.gguf');
    expect(spec.model).toBe('llama');
    expect(spec.tokens.length).toBe(5);
    expect(spec.bos).toBe(1);
    expect(spec.addBos).toBe(false);
    expect(new Tokenizer(spec).encode('a')).toEqual([3, 4]);
    expect(chatTemplateFromGguf(base())).toBe('{{ messages[0].content }}');
  });

  it('names the file and key when a value has the wrong type or is missing', () => {
    const m = base();
    m.set('tokenizer.ggml.token_type', gv.array('float32', new Float32Array(5)));
    expect(() => tokenizerSpecFromGguf(m, 'x.gguf')).toThrow(/x\.gguf: tokenizer\.ggml\.token_type is array of float32/);
    const m2 = base();
    m2.set('tokenizer.ggml.bos_token_id', gv.str('1'));
    expect(codeOf(TokenizerError, () => tokenizerSpecFromGguf(m2))).toBe('TOKENIZER_GGUF');
    const m3 = base();
    m3.delete('tokenizer.ggml.tokens');
    expect(codeOf(TokenizerError, () => tokenizerSpecFromGguf(m3))).toBe('TOKENIZER_GGUF');
    const m4 = base();
    m4.set('tokenizer.ggml.model', gv.str('t5'));
    expect(codeOf(TokenizerError, () => tokenizerSpecFromGguf(m4))).toBe('TOKENIZER_UNSUPPORTED');
  });
});

describe('chat templates', () => {
  const chatml =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const messages = [
    { role: 'system', content: 'Be brief.' },
    { role: 'user', content: 'Hi' },
  ];

  it('renders ChatML with and without the generation prompt', () => {
    const withPrompt = renderChat(chatml, messages, { addGenerationPrompt: true });
    expect(withPrompt).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n');
    expect(renderChat(chatml, messages)).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n');
  });

  it('passes bos_token and eos_token', () => {
    const t = new ChatTemplate("{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}");
    expect(t.render(messages, { bosToken: '<s>', eosToken: '</s>' })).toBe('<s>[system] Be brief.</s>[user] Hi</s>');
  });

  it('gives a typed error for a template that does not parse', () => {
    expect(codeOf(TokenizerError, () => renderChat('{% for m in messages %}{{ m.content }}', messages))).toBe('CHAT_TEMPLATE_PARSE');
    expect(codeOf(TokenizerError, () => new ChatTemplate('{{ messages[ }}'))).toBe('CHAT_TEMPLATE_PARSE');
  });

  it('gives a typed error when the template raises', () => {
    const t = new ChatTemplate("{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}ok");
    expect(t.render([{ role: 'user', content: 'x' }])).toBe('ok');
    expect(() => t.render(messages)).toThrow(/user first/);
    expect(codeOf(TokenizerError, () => t.render(messages))).toBe('CHAT_TEMPLATE_RENDER');
  });
});
