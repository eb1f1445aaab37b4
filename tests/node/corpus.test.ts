/**
 * `pxi corpus` and the corpus store: documents in PixelFS, the catalog, the corpus's region on
 * the Infinite Map, typed refusals of bad input (nothing stored), verify, the orphan sweep,
 * normalisation of the TinyStories mojibake, and token shards read back from the tiles and
 * cached per tokenizer.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPxi } from '../support/cli';
import { CorpusStore, decodeShard, encodeShard, readTokenShard, SHARD_HEADER_BYTES, tokenizerHash } from '../../electron/corpus/index';
import { ModelStore } from '../../electron/models/store';
import { Services } from '../../electron/services/index';
import { directCaller } from '../../shared/ipc/dispatch';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { Tokenizer, tokenizerSpecFromGguf } from '../../shared/tokenizer';
import { parseTrainedTokenizer, trainedTokenizerSpec } from '../../shared/tokenizer-train';
import { fixturePath } from '../support/fixtures';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pxi-corpus-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const pxi = runPxi;

function file(name: string, content: string | Uint8Array): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, content);
  return p;
}

async function withOpenStore<T>(volume: string, fn: (s: ModelStore, c: CorpusStore) => Promise<T>): Promise<T> {
  const s = await ModelStore.open(volume, { workers: 1 });
  try {
    return await fn(s, await CorpusStore.open(s));
  } finally {
    await s.close();
  }
}

const STORY_A = 'Once upon a time, there was a little dog named Max. Max liked to run.\n\nOne day, Max found a ball.\n';
const STORY_B = 'Lily had a red kite. She flew it high in the sky.\nThe wind was strong, and Lily laughed.\n';

describe('pxi corpus add / list / show / verify / rm', () => {
  it('stores each file as a PixelFS document, records the corpus, and lays it out on the map as its own region', async () => {
    const volume = path.join(tmp, 'v1');
    const V = ['--volume', volume];
    const a = file('a.txt', STORY_A);
    const b = file('b.txt', STORY_B);
    const add = await pxi(['corpus', 'add', 'stories', a, b, ...V]);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toMatch(/^added corpus stories: 2 documents, \d+ B, sha256 [0-9a-f]{64}; tiles: 2 written, 0 already stored; on the map as corpus:stories/);

    const list = await pxi(['corpus', 'list', ...V, '--json']);
    const [info] = JSON.parse(list.out) as { name: string; documents: number; bytes: number; sha256: string }[];
    expect(info).toMatchObject({ name: 'stories', documents: 2, bytes: STORY_A.length + STORY_B.length });
    const docSha = [STORY_A, STORY_B].map((s) => createHash('sha256').update(s).digest('hex'));
    expect(info!.sha256).toBe(createHash('sha256').update(`pxi-corpus/1\n${docSha[0]} ${STORY_A.length}\n${docSha[1]} ${STORY_B.length}\n`).digest('hex'));

    const show = await pxi(['corpus', 'show', 'stories', ...V]);
    expect(show.code).toBe(0);
    expect(show.out).toContain('[0] a.txt');
    expect(show.out).toContain('[1] b.txt');
    expect(show.out).toMatch(/map {8}corpus:stories: \d+x\d+ px at \(0, 0\)/);

    await withOpenStore(volume, async (store, corpora) => {
      // Durable PixelFS files, byte for byte the text.
      expect(store.volume.stat('corpora/stories/docs/0')).toMatchObject({ size: STORY_A.length, sha256: docSha[0] });
      expect(await corpora.readDocuments('stories')).toEqual([STORY_A, STORY_B]);
      // The map: one corpus region per document, its tiles as level-0 cells, found by viewport queries.
      const regions = store.map.listRegions('corpus:stories');
      expect(regions.map((r) => [r.id, r.kind, r.name, r.grid.tileCount])).toEqual([
        ['corpus:stories/0', 'corpus', 'a.txt', 1],
        ['corpus:stories/1', 'corpus', 'b.txt', 1],
      ]);
      const box = store.map.modelBox('corpus:stories')!;
      const view = { x0: box.x, y0: box.y, x1: box.x + box.width, y1: box.y + box.height };
      expect(store.map.queryRegions(view, { kinds: ['corpus'] }).items).toHaveLength(2);
      expect(store.map.queryRegions(view, { kinds: ['weights'] }).items).toHaveLength(0);
      expect(store.map.queryCells(view, { kinds: ['corpus'] }).items.map((c) => c.tile).sort()).toEqual([0, 0]);
    });

    // A second corpus goes right of the first on the map.
    await pxi(['corpus', 'add', 'more', b, ...V]);
    const more = JSON.parse((await pxi(['corpus', 'show', 'more', ...V, '--json'])).out) as { mapBox: { x: number } };
    expect(more.mapBox.x).toBeGreaterThan(0);

    const ok = await pxi(['corpus', 'verify', 'stories', ...V]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/^OK: corpus stories, 2 documents and 0 token shards, 2 tiles/);
    expect((await pxi(['corpus', 'list', ...V])).out).toMatch(/stories +2 +\d+ B +ok /);

    const rm = await pxi(['corpus', 'rm', 'stories', ...V]);
    expect(rm.code, rm.err).toBe(0);
    expect(rm.out).toMatch(/^removed corpus stories: 2 files/);
    await withOpenStore(volume, async (store, corpora) => {
      expect(corpora.list().map((c) => c.name)).toEqual(['more']);
      expect(store.map.listRegions('corpus:stories')).toEqual([]);
      expect(store.volume.ls().filter((f) => f.name.startsWith('corpora/stories/'))).toEqual([]);
    });
    const gone = await pxi(['corpus', 'show', 'stories', ...V]);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('no corpus named "stories"');
    expect(gone.err).toContain('[CORPUS_NOT_FOUND]');
  });

  it('refuses bad input with a typed error naming the file and what is wrong, and stores nothing', async () => {
    const volume = path.join(tmp, 'v2');
    const V = ['--volume', volume];
    const good = file('good.txt', STORY_A);
    expect((await pxi(['corpus', 'add', 'taken', good, ...V])).code).toBe(0);
    const cases: [string, string[], RegExp][] = [
      ['missing', [path.join(tmp, 'nope.txt')], /nope\.txt: no such file \[CORPUS_FILE_MISSING\]/],
      ['a folder', [tmp], /: not a regular file \[CORPUS_FILE_MISSING\]/],
      ['empty', [file('empty.txt', '')], /empty\.txt: the file is empty \(0 bytes\) \[CORPUS_EMPTY\]/],
      ['whitespace', [file('blank.txt', ' \n\t\n')], /blank\.txt: the file holds only whitespace \(4 bytes\) \[CORPUS_EMPTY\]/],
      ['binary', [file('bin.txt', Uint8Array.from([0x68, 0x69, 0x0a, 0x21, 0x21, 0x00, 0x01]))], /bin\.txt: binary data, not text: a NUL byte at offset 5 \(line 2\) \[CORPUS_BINARY\]/],
      [
        'Latin-1',
        [file('latin1.txt', Buffer.from('caf\u00e9 au lait\nna\u00efve', 'latin1'))],
        /latin1\.txt: not valid UTF-8 at byte offset 4 \(line 1\): byte 0x20 cannot follow 0xE9 \(expected a continuation byte 0x80-0xBF\) \[CORPUS_NOT_UTF8\]/,
      ],
      ['truncated', [file('cut.txt', Uint8Array.from([0x61, 0x0a, 0x62, 0xe2, 0x80]))], /cut\.txt: not valid UTF-8 at byte offset 3 \(line 2\): the 3-byte sequence starting with 0xE2 is cut off by the end of the file/],
      ['overlong', [file('overlong.txt', Uint8Array.from([0x61, 0xc0, 0xaf]))], /overlong\.txt: not valid UTF-8 at byte offset 1 .*overlong/],
      ['the same file twice', [good, path.join(tmp, '.', 'good.txt')], /good\.txt: the same file is given twice .*\[CORPUS_DUPLICATE_FILE\]/],
    ];
    for (const [label, files, message] of cases) {
      const r = await pxi(['corpus', 'add', 'bad', good, ...files, ...V]);
      expect(r.code, label).toBe(1);
      expect(r.err, label).toMatch(message);
    }
    const dup = await pxi(['corpus', 'add', 'taken', good, ...V]);
    expect(dup.code).toBe(1);
    expect(dup.err).toMatch(/a corpus named "taken" already exists .*\[CORPUS_EXISTS\]/);
    const badName = await pxi(['corpus', 'add', '../x', good, ...V]);
    expect(badName.err).toMatch(/corpus name "..\/x" must be 1-64 characters .*\[CORPUS_BAD_NAME\]/);
    const badNorm = await pxi(['corpus', 'add', 'n', good, '--normalize', 'nfkc', ...V]);
    expect(badNorm.err).toMatch(/unknown normalisation "nfkc" \(known: mojibake, ascii-punct, or none\) \[CORPUS_NORMALIZE\]/);
    for (const args of [['corpus'], ['corpus', 'frob'], ['corpus', 'add', 'x'], ['corpus', 'show'], ['corpus', 'list', '--normalize', 'mojibake'], ['corpus', 'tokenize', 'taken']]) {
      expect((await pxi([...args, ...V])).code, args.join(' ')).toBe(2);
    }
    await withOpenStore(volume, async (store, corpora) => {
      expect(corpora.list().map((c) => c.name)).toEqual(['taken']);
      expect(store.volume.ls().map((f) => f.name)).toEqual(['corpora/taken/docs/0']);
      expect(store.volume.pending()).toEqual([]);
      expect(store.map.listModels().map((m) => m.modelId)).toEqual(['corpus:taken']);
    });
  });

  it('verify finds a damaged tile: exit 3, naming the document', async () => {
    const volume = path.join(tmp, 'v3');
    const V = ['--volume', volume];
    expect((await pxi(['corpus', 'add', 'c', file('c1.txt', STORY_A), file('c2.txt', STORY_B), ...V])).code).toBe(0);
    await withOpenStore(volume, async (store) => {
      const tile = store.volume.tilePath(createHash('sha256').update(STORY_B).digest('hex'));
      const png = fs.readFileSync(tile);
      const at = png.indexOf('kite');
      expect(at).toBeGreaterThan(0);
      png[at] = 'K'.charCodeAt(0);
      fs.writeFileSync(tile, png);
    });
    const r = await pxi(['corpus', 'verify', 'c', ...V]);
    expect(r.code).toBe(3);
    expect(r.out).toMatch(/DAMAGED document 1 \(c2\.txt\): .*corpora\/c\/docs\/1/);
    expect(r.out).toMatch(/^DAMAGED: corpus c, 2 documents/m);
    expect((await pxi(['corpus', 'list', ...V])).out).toMatch(/c +2 +\d+ B +corrupt/);
    // Reading the damaged document for tokens fails as corruption too (exit 3), never with wrong text.
    const tok = path.join(tmp, 'c-tok.json');
    const t = await pxi(['tokenizer', 'train', '--corpus', 'c', '--vocab', '280', '--out', tok, ...V]);
    expect(t.code).toBe(3);
    expect(t.err).toMatch(/PIXELFS_TILE_CORRUPT/);
  });

  it('sweeps the files of a corpus that never committed (a crash between storing documents and the commit)', async () => {
    const volume = path.join(tmp, 'v4');
    expect((await pxi(['corpus', 'add', 'kept', file('k.txt', STORY_A), '--volume', volume])).code).toBe(0);
    await withOpenStore(volume, async (store) => {
      await store.volume.put('corpora/ghost/docs/0', [new TextEncoder().encode(STORY_B)], { size: STORY_B.length });
    });
    await withOpenStore(volume, async (store, corpora) => {
      expect(corpora.openSweep.filesRemoved).toBe(1);
      expect(store.volume.ls().map((f) => f.name)).toEqual(['corpora/kept/docs/0']);
      expect(corpora.list().map((c) => c.name)).toEqual(['kept']);
    });
  });
});

describe('a corpus seen through the map channels (the explorer\'s view)', () => {
  it('map:overview, map:regions and map:cells answer with the corpus region and its tile, through response validation', async () => {
    const dataDir = path.join(tmp, 'services');
    expect((await pxi(['corpus', 'add', 'docs', file('m1.txt', STORY_A), file('m2.txt', STORY_B), '--volume', path.join(dataDir, 'volume')])).code).toBe(0);
    const services = new Services({ dataDir, mode: 'browser', version: 'test', log: () => {} });
    try {
      const call = directCaller(services.dispatch);
      const overview = await call('map:overview', {});
      expect(overview.models.map((m) => m.modelId)).toEqual(['corpus:docs']);
      const b = overview.bounds!;
      const viewport = { x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height };
      const regions = await call('map:regions', { viewport });
      expect(regions.regions.map((r) => [r.id, r.kind, r.name])).toEqual([
        ['corpus:docs/0', 'corpus', 'm1.txt'],
        ['corpus:docs/1', 'corpus', 'm2.txt'],
      ]);
      expect((await call('map:regions', { viewport, kinds: ['weights'] })).regions).toEqual([]);
      const cells = await call('map:cells', { viewport, level: 0, kinds: ['corpus'] });
      expect(cells.cells).toHaveLength(2);
    } finally {
      await services.close();
    }
  });
});

describe('the TinyStories mojibake', () => {
  it('is counted, named in a note, and repaired by --normalize mojibake,ascii-punct', async () => {
    const volume = path.join(tmp, 'v5');
    const V = ['--volume', volume];
    const train = fixturePath('corpus', 'tinystories-train.txt');
    const valid = fixturePath('corpus', 'tinystories-valid.txt');
    const raw = await pxi(['corpus', 'add', 'valid-raw', valid, ...V]);
    expect(raw.code).toBe(0);
    expect(raw.err).toContain('note: the text holds 30 mojibake sequences (UTF-8 read as Windows-1252): "â€" → "”" ×11, "â€œ" → "“" ×11, "â€™" → "’" ×7, "â€”" → "—" ×1; they are stored as they are.');

    const add = await pxi(['corpus', 'add', 'train', train, '--normalize', 'mojibake,ascii-punct', ...V, '--json']);
    expect(add.code, add.err).toBe(0);
    const r = JSON.parse(add.out) as { corpus: { bytes: number; docs: { changes: { step: string; from: string; to: string; count: number }[]; sourceBytes: number }[] } };
    const changes = r.corpus.docs[0]!.changes;
    const mojibake = Object.fromEntries(changes.filter((c) => c.step === 'mojibake').map((c) => [c.from, [c.to, c.count]]));
    expect(mojibake).toEqual({ 'â€œ': ['“', 155], 'â€': ['”', 152], 'â€™': ['’', 127], 'â€“': ['–', 8], 'â€”': ['—', 7] });
    expect(changes.filter((c) => c.step === 'mojibake').reduce((s, c) => s + c.count, 0)).toBe(449);
    expect(changes.filter((c) => c.step === 'ascii-punct').reduce((s, c) => s + c.count, 0)).toBe(449);
    expect(r.corpus.docs[0]!.sourceBytes).toBe(944_426);
    expect(r.corpus.bytes).toBe(944_426 - 2532);
    await withOpenStore(volume, async (_store, corpora) => {
      const [text] = await corpora.readDocuments('train');
      expect(/^[\x00-\x7f]*$/.test(text!)).toBe(true);
      expect(text).not.toContain('â€');
    });
  });
});

describe('token shards from the corpus tiles', () => {
  it('tokenizes the corpus from its tiles once per tokenizer, caches the shard, and reads it back', async () => {
    const volume = path.join(tmp, 'v6');
    const V = ['--volume', volume];
    const train = fixturePath('corpus', 'tinystories-train.txt');
    const docs = [file('s1.txt', STORY_A), file('s2.txt', STORY_B)];
    expect((await pxi(['corpus', 'add', 'ts', train, ...V, '--normalize', 'mojibake,ascii-punct'])).code).toBe(0);
    expect((await pxi(['corpus', 'add', 'two', ...docs, ...V])).code).toBe(0);

    const tokFile = path.join(tmp, 'tok.json');
    const tr = await pxi(['tokenizer', 'train', '--corpus', 'ts', '--vocab', '512', '--out', tokFile, ...V]);
    expect(tr.code, tr.err).toBe(0);
    expect(tr.out).toMatch(/^wrote .*tok\.json: 512 tokens \(3 special, 256 byte, \d+ merged pieces, \d+ characters\) learned from 1 document, 941894 bytes in .*; the text is \d+ tokens, 2\.\d+ bytes per token$/);
    const again = await pxi(['tokenizer', 'train', '--corpus', 'ts', '--vocab', '512', '--out', tokFile, ...V]);
    expect(again.code).toBe(2);
    expect(again.err).toContain('exists; pass --overwrite');
    // Learned from the files directly (normalised the same way), the vocabulary is the same one.
    const fromFile = path.join(tmp, 'tok-file.json');
    expect((await pxi(['tokenizer', 'train', '--file', train, '--normalize', 'mojibake,ascii-punct', '--vocab', '512', '--out', fromFile])).code).toBe(0);
    const a = parseTrainedTokenizer(JSON.parse(fs.readFileSync(tokFile, 'utf8')));
    const b = parseTrainedTokenizer(JSON.parse(fs.readFileSync(fromFile, 'utf8')));
    expect(b.tokens).toEqual(a.tokens);
    expect(b.scores).toEqual(a.scores);

    const first = await pxi(['corpus', 'tokenize', 'two', '--tokenizer', tokFile, ...V, '--json']);
    expect(first.code, first.err).toBe(0);
    const s1 = JSON.parse(first.out) as { cached: boolean; tokens: number; documents: number; bos: number; file: string; tokenizerHash: string };
    expect(s1).toMatchObject({ cached: false, documents: 2, bos: 1 });
    const second = JSON.parse((await pxi(['corpus', 'tokenize', 'two', '--tokenizer', tokFile, ...V, '--json'])).out) as typeof s1;
    expect(second).toMatchObject({ cached: true, tokens: s1.tokens, file: s1.file });
    const rebuilt = JSON.parse((await pxi(['corpus', 'tokenize', 'two', '--tokenizer', tokFile, '--rebuild', ...V, '--json'])).out) as typeof s1;
    expect(rebuilt).toMatchObject({ cached: false, tokens: s1.tokens });
    // Another tokenizer (a GGUF model's) gets its own shard.
    const gguf = fixturePath('models', 'stories260K.gguf');
    const other = JSON.parse((await pxi(['corpus', 'tokenize', 'two', '--tokenizer', gguf, ...V, '--json'])).out) as typeof s1;
    expect(other.tokenizerHash).not.toBe(s1.tokenizerHash);
    const show = await pxi(['corpus', 'show', 'two', ...V]);
    expect(show.out.match(/token shard [0-9a-f]{16}…/g)).toHaveLength(2);
    expect((await pxi(['corpus', 'verify', 'two', ...V])).out).toMatch(/^OK: corpus two, 2 documents and 2 token shards/);

    // The API the trainer calls: [BOS, doc 0 …, BOS, doc 1 …], as the tokenizer encodes each document.
    const spec = trainedTokenizerSpec(a);
    const tok = new Tokenizer(spec);
    await withOpenStore(volume, async (store) => {
      const shard = await readTokenShard(store, 'two', spec);
      expect(shard.cached).toBe(true);
      expect(shard.tokens).toBeInstanceOf(Uint16Array);
      const expected = [...tok.encode(STORY_A), ...tok.encode(STORY_B)];
      expect(Array.from(shard.tokens)).toEqual(expected);
      expect(Array.from(shard.documentStarts)).toEqual([0, tok.encode(STORY_A).length]);
      expect(shard.textBytes).toBe(STORY_A.length + STORY_B.length);
      const storiesSpec = tokenizerSpecFromGguf(parseGgufBytes(new Uint8Array(fs.readFileSync(gguf))).metadata);
      const viaGguf = await readTokenShard(store, 'two', storiesSpec);
      expect(viaGguf.cached).toBe(true);
      expect(Array.from(viaGguf.tokens)).toEqual([...new Tokenizer(storiesSpec).encode(STORY_A), ...new Tokenizer(storiesSpec).encode(STORY_B)]);

      // A shard whose bytes no longer make sense is rebuilt, not trusted.
      const f = store.volume.stat(shard.file)!;
      const bytes = await store.volume.read(shard.file, 0, f.size);
      bytes[SHARD_HEADER_BYTES + 2 * 4 + 1] = 0xff; // the high byte of the first token: an id past the vocabulary
      await store.volume.put(shard.file, [bytes], { overwrite: true, size: bytes.length });
      const redone = await readTokenShard(store, 'two', spec);
      expect(redone.cached).toBe(false);
      expect(Array.from(redone.tokens)).toEqual(expected);
    });
  });

  it('the shard format round-trips and refuses what is not its own', () => {
    const base = { vocabSize: 70000, bos: 1, corpusSha256: 'a'.repeat(64), tokenizerHash: 'b'.repeat(64), documentStarts: Uint32Array.of(0, 3), tokens: Uint32Array.of(1, 5, 69999, 1, 7) };
    const bytes = encodeShard(base);
    const expect0 = { corpusSha256: base.corpusSha256, tokenizerHash: base.tokenizerHash, vocabSize: 70000 };
    const back = decodeShard(bytes, expect0)!;
    expect(back.tokens).toBeInstanceOf(Uint32Array);
    expect(Array.from(back.tokens)).toEqual([1, 5, 69999, 1, 7]);
    expect(Array.from(back.documentStarts)).toEqual([0, 3]);
    const why: string[] = [];
    expect(decodeShard(bytes, { ...expect0, tokenizerHash: 'c'.repeat(64) }, why)).toBeNull();
    expect(decodeShard(bytes.subarray(0, bytes.length - 1), expect0, why)).toBeNull();
    expect(decodeShard(Uint8Array.from(bytes, (x, i) => (i === 0 ? 0 : x)), expect0, why)).toBeNull();
    expect(why).toEqual(['made for another corpus content or tokenizer', `${bytes.length - 1} bytes, expected ${bytes.length}`, 'no PXTS magic']);
    // The hash follows what changes tokens, not how the spec is written.
    const spec = { model: 'llama' as const, tokens: ['<unk>', '<s>', '</s>', 'a', 'b', 'ab'], scores: [0, 0, 0, -1, -2, -3] };
    expect(tokenizerHash(spec)).toBe(tokenizerHash({ ...spec, scores: Float32Array.from(spec.scores), bos: 1, eos: 2, unk: 0 }));
    expect(tokenizerHash(spec)).not.toBe(tokenizerHash({ ...spec, scores: [0, 0, 0, -1, -2, -0.5] }));
    expect(tokenizerHash(spec)).not.toBe(tokenizerHash({ ...spec, addSpacePrefix: false }));
  });
});
