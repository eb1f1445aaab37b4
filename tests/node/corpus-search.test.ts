/**
 * Retrieval over corpora: the passage index built on add and dropped on rm, rebuilt (and said so)
 * when missing, stale or unreadable, bm25 ranking on a small made-up corpus, hostile search
 * text through SQLite's FTS5 itself, `pxi corpus search` / `add-builtin`, and the services'
 * corpus:list / corpus:search (the built-in corpus added on its first search).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPxi } from '../support/cli';
import { BUILTIN_CORPUS, builtinDocuments, CorpusStore, PASSAGE_DB_FILE, searchCorpora, type IndexEvent } from '../../electron/corpus/index';
import { ModelStore } from '../../electron/models/store';
import { Services } from '../../electron/services/index';
import { directCaller } from '../../shared/ipc/dispatch';
import { NASTY_QUERIES } from '../support/nasty-queries';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pxi-corpus-search-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const pxi = runPxi;

function file(name: string, content: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, content);
  return p;
}

async function withCorpora<T>(volume: string, fn: (c: CorpusStore, s: ModelStore) => Promise<T>): Promise<T> {
  const s = await ModelStore.open(volume, { workers: 1, create: true });
  try {
    return await fn(await CorpusStore.open(s), s);
  } finally {
    await s.close();
  }
}

const filler = (topic: string, n: number) => Array.from({ length: n }, (_, i) => `The ${topic} stores model weights as pixel tiles, paragraph ${i}. Tiles are PNG images on the map.`).join('\n\n');

/** A made-up corpus: three documents about tiles; one passage alone names the zeppelin. */
const DOCS: Record<string, string> = {
  'guide.md': `# Guide\n\n${filler('guide', 6)}\n\n## Storage\n\n${filler('store', 4)}\n\nThe rare zeppelin checksum is kept beside every tile.\n\n## Map\n\n${filler('map', 5)}`,
  'notes.txt': `${filler('notes', 12)}`,
  'faq.md': `# FAQ\n\n## What is a tile?\n\n${filler('faq', 3)}\n\n## Colours\n\nEach colour channel holds one byte.`,
};

describe('passage index and search', () => {
  let volume: string;
  beforeAll(async () => {
    volume = path.join(tmp, 'v-rank');
    const files = Object.entries(DOCS).map(([n, t]) => file(n, t));
    const add = await pxi(['corpus', 'add', 'made-up', ...files, '--volume', volume]);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toMatch(/\nindexed \d+ passages for search in /);
  });

  it('indexes the corpus when it is added: passages with document, heading path and lines', async () => {
    await withCorpora(volume, async (c) => {
      const [e] = c.passages.list();
      expect(e).toMatchObject({ corpus: 'made-up', sha256: c.get('made-up').sha256, documents: 3 });
      expect(e!.passages).toBeGreaterThan(3);
      expect(c.passages.state('made-up', c.get('made-up').sha256)).toEqual({ state: 'ok', passages: e!.passages });
      c.passages.integrityCheck();
    });
    const show = await pxi(['corpus', 'show', 'made-up', '--volume', volume]);
    expect(show.out).toMatch(/\npassages   \d+ indexed for search\n/);
  });

  it('ranks first the passage that holds the rare word, and reports where it is', async () => {
    await withCorpora(volume, async (c) => {
      const r = await searchCorpora(c, ['made-up'], 'Where is the zeppelin tile checksum kept?', { limit: 5 });
      expect(r.terms).toEqual(['zeppelin', 'tile', 'checksum', 'kept']);
      expect(r.rebuilt).toEqual([]);
      expect(r.hits.length).toBe(5);
      const [best] = r.hits;
      expect(best).toMatchObject({ corpus: 'made-up', document: { index: 0, name: 'guide.md' }, heading: ['Guide', 'Storage'] });
      expect(best!.text).toContain('zeppelin');
      const lines = DOCS['guide.md']!.split('\n');
      expect(lines.findIndex((l) => l.includes('zeppelin')) + 1).toBeLessThanOrEqual(best!.endLine);
      expect(lines.slice(best!.startLine - 1, best!.endLine).join('\n')).toBe(DOCS['guide.md']!.slice(best!.startChar, best!.endChar));
      // Scores fall down the list; the snippet marks the matched words.
      for (let i = 1; i < r.hits.length; i++) expect(r.hits[i]!.score).toBeLessThanOrEqual(r.hits[i - 1]!.score);
      const marked = best!.marks.map(([a, b]) => best!.snippet.slice(a, b).toLowerCase());
      expect(marked).toContain('zeppelin');
      // A word in a heading counts: "colours" is the heading and the text of one passage.
      const colour = await searchCorpora(c, ['made-up'], 'colour', { limit: 3 });
      expect(colour.hits[0]).toMatchObject({ document: { name: 'faq.md' }, heading: ['FAQ', 'Colours'], text: 'Each colour channel holds one byte.' });
      // Stemming: "stored" finds "stores".
      expect((await searchCorpora(c, ['made-up'], 'stored', { limit: 1 })).hits).toHaveLength(1);
      // Nothing holds the word: no hits, no error.
      expect((await searchCorpora(c, ['made-up'], 'xylophone', { limit: 5 })).hits).toEqual([]);
    });
  });

  it('never raises an FTS5 error, whatever the text', async () => {
    await withCorpora(volume, async (c) => {
      for (const [text, terms] of NASTY_QUERIES) {
        const r = await searchCorpora(c, ['made-up'], text, { limit: 3 });
        expect(r.terms).toEqual(terms);
        if (terms.length === 0) expect(r.hits).toEqual([]);
      }
      // The FTS5 keywords and syntax as words: "near" and "and" are found as text.
      const near = await searchCorpora(c, null, 'NEAR(tiles map) AND "tile*" -pixel', { limit: 3 });
      expect(near.hits.length).toBe(3);
    });
  });

  it('refuses with typed errors naming the corpus, the limit or the text size', async () => {
    await withCorpora(volume, async (c) => {
      await expect(searchCorpora(c, ['nope'], 'tiles')).rejects.toMatchObject({ code: 'CORPUS_NOT_FOUND', message: expect.stringContaining('"nope"') });
      await expect(searchCorpora(c, ['made-up', 'nope'], 'tiles')).rejects.toMatchObject({ code: 'CORPUS_NOT_FOUND' });
      await expect(searchCorpora(c, ['made-up'], 'tiles', { limit: 0 })).rejects.toMatchObject({ code: 'CORPUS_BAD_QUERY' });
      await expect(searchCorpora(c, ['made-up'], 'x'.repeat(10_001))).rejects.toMatchObject({ code: 'CORPUS_BAD_QUERY' });
    });
  });

  it('rebuilds a missing, stale or unreadable index, and says why', async () => {
    const events: IndexEvent[] = [];
    const onIndex = (e: IndexEvent) => events.push(e);
    const before = await withCorpora(volume, async (c) => (await searchCorpora(c, ['made-up'], 'zeppelin')).hits);
    // Missing: a volume made before the index (the entry, or the whole file, is not there).
    await withCorpora(volume, async (c) => {
      c.passages.drop('made-up');
      const r = await searchCorpora(c, ['made-up'], 'zeppelin', { onIndex });
      expect(r.rebuilt).toEqual([{ corpus: 'made-up', reason: 'corpus made-up has no passage index yet' }]);
      expect(r.hits).toEqual(before);
    });
    expect(events.map((e) => e.kind)).toEqual(['start', 'progress', 'progress', 'progress', 'done']);
    fs.rmSync(path.join(volume, PASSAGE_DB_FILE));
    fs.rmSync(path.join(volume, `${PASSAGE_DB_FILE}-wal`), { force: true });
    const rebuilt = await pxi(['corpus', 'search', 'made-up', 'zeppelin', '--volume', volume]);
    expect(rebuilt.code, rebuilt.err).toBe(0);
    expect(rebuilt.err).toMatch(/^indexing passages of made-up \(3 documents\): corpus made-up has no passage index yet\nindexed made-up: \d+ passages in /);
    expect(rebuilt.out).toMatch(/^\d+ passages? for zeppelin in made-up\n1\. made-up: guide\.md › Guide › Storage · lines \d+-\d+ · score [\d.]+\n {3}.*\[zeppelin\]/);
    // Up to date now: the next search says nothing about indexing.
    expect((await pxi(['corpus', 'search', 'made-up', 'zeppelin', '--volume', volume])).err).toBe('');
    // Stale: built from other text (the corpus's sha256 differs).
    await withCorpora(volume, async (c, s) => {
      s.map.db.prepare(`UPDATE pxi_passages.passage_corpora SET sha256 = ? WHERE corpus = ?`).run('0'.repeat(64), 'made-up');
      const r = await searchCorpora(c, ['made-up'], 'zeppelin');
      expect(r.rebuilt[0]!.reason).toMatch(/^the passage index of made-up was built from other text/);
      expect(r.hits).toEqual(before);
    });
    // Unreadable: the file is made anew.
    fs.writeFileSync(path.join(volume, PASSAGE_DB_FILE), 'not a database '.repeat(512));
    fs.rmSync(path.join(volume, `${PASSAGE_DB_FILE}-wal`), { force: true });
    fs.rmSync(path.join(volume, `${PASSAGE_DB_FILE}-shm`), { force: true });
    await withCorpora(volume, async (c) => {
      expect(c.passages.recreated).toMatch(/was not a readable passage index \(SQLITE_NOTADB/);
      const r = await searchCorpora(c, ['made-up'], 'zeppelin');
      expect(r.rebuilt).toHaveLength(1);
      expect(r.hits).toEqual(before);
    });
  });

  it('drops a corpus\'s passages when it is removed, and sweeps entries of corpora that are gone', async () => {
    const v = path.join(tmp, 'v-rm');
    expect((await pxi(['corpus', 'add', 'a', file('a.md', DOCS['guide.md']!), '--volume', v])).code).toBe(0);
    expect((await pxi(['corpus', 'add', 'b', file('b.md', DOCS['faq.md']!), '--volume', v])).code).toBe(0);
    const rm = await pxi(['corpus', 'rm', 'a', '--volume', v]);
    expect(rm.out).toMatch(/, \d+ passages dropped from the search index$/);
    await withCorpora(v, async (c, s) => {
      expect(c.passages.list().map((e) => e.corpus)).toEqual(['b']);
      expect(s.map.db.prepare(`SELECT count(*) FROM pxi_passages.passages WHERE corpus = 'a'`).pluck().get()).toBe(0);
      c.passages.integrityCheck();
      expect((await searchCorpora(c, null, 'zeppelin')).hits).toEqual([]);
      // An entry whose corpus left the catalog (a crash between rm's commit and its drop).
      c.passages.replace('ghost', 'f'.repeat(64), [{ index: 0, name: 'x', text: 'ghost text' }]);
    });
    await withCorpora(v, async (c) => {
      expect(c.openSweep.passagesDropped).toBe(1);
      expect(c.passages.list().map((e) => e.corpus)).toEqual(['b']);
    });
  });
});

describe('pxi corpus search and add-builtin', () => {
  it('searches one corpus or all, as text or JSON, with a limit; refuses bad usage', async () => {
    const v = path.join(tmp, 'v-cli');
    const V = ['--volume', v];
    expect((await pxi(['corpus', 'add', 'one', file('one.md', DOCS['guide.md']!), ...V])).code).toBe(0);
    expect((await pxi(['corpus', 'add', 'two', file('two.md', DOCS['faq.md']!), ...V])).code).toBe(0);
    const all = await pxi(['corpus', 'search', '--all', 'tile', 'colour', '--limit', '2', '--json', ...V]);
    expect(all.code, all.err).toBe(0);
    const r = JSON.parse(all.out) as { corpora: string[]; terms: string[]; hits: { corpus: string }[] };
    expect(r.corpora).toEqual(['one', 'two']);
    expect(r.terms).toEqual(['tile', 'colour']);
    expect(r.hits).toHaveLength(2);
    expect(r.hits[0]!.corpus).toBe('two');
    const none = await pxi(['corpus', 'search', ...V, 'one', '--', '-"*"']);
    expect(none.code).toBe(0);
    expect(none.out).toMatch(/^no words to search for in .*; nothing found in one$/);
    const missing = await pxi(['corpus', 'search', 'nope', 'tile', ...V]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no corpus named "nope" .*\[CORPUS_NOT_FOUND\]/);
    for (const bad of [['corpus', 'search', 'one'], ['corpus', 'search', '--all'], ['corpus', 'search', 'one', 'x', '--limit', '0'], ['corpus', 'list', '--all']]) {
      expect((await pxi([...bad, ...V])).code, bad.join(' ')).toBe(2);
    }
    const help = await pxi(['corpus', '--help']);
    expect(help.out).toContain('search NAME QUERY...');
    expect(help.out).toContain('search --all QUERY...');
    expect(help.out).toContain('--limit K');
    expect(help.out).toContain('add-builtin');
    expect(help.out).toContain('200-1200');
  });

  it('adds the built-in corpus of the README and specs once, and finds the workstation in it', async () => {
    const v = path.join(tmp, 'v-builtin');
    const docs = builtinDocuments();
    expect(docs[0]!.name).toBe('README.md');
    expect(docs.map((d) => d.name)).toContain('specs/ARCHITECTURE.md');
    const add = await pxi(['corpus', 'add-builtin', '--volume', v]);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toMatch(new RegExp(`^added corpus ${BUILTIN_CORPUS}: ${docs.length} documents \\(README.md, specs/\\*.md\\)`));
    expect((await pxi(['corpus', 'add-builtin', '--volume', v])).out).toMatch(/is present and holds the shipped README and specs/);
    const s = await pxi(['corpus', 'search', BUILTIN_CORPUS, 'How', 'does', 'PixelFS', 'store', 'tiles?', '--json', '--volume', v]);
    const hits = (JSON.parse(s.out) as { hits: { document: { name: string } }[] }).hits;
    // The specs change with the project (pxi_llm.md also describes how tiles are stored): the
    // PixelFS spec must be among the first hits, not necessarily the first.
    expect(hits.slice(0, 3).map((h) => h.document.name)).toContain('specs/pixelfs.md');
  });
});

describe('corpus channels in the services', () => {
  it('lists corpora with the built-in one named, and adds it on its first search', async () => {
    const dataDir = path.join(tmp, 'services');
    const services = new Services({ dataDir, mode: 'browser', version: 'test', log: () => {} });
    try {
      const call = directCaller(services.dispatch);
      expect(await call('corpus:list', {})).toEqual({ corpora: [], builtin: { name: BUILTIN_CORPUS, present: false } });
      const [first, second] = await Promise.all([
        call('corpus:search', { corpus: BUILTIN_CORPUS, query: 'Which folders may shared/ import?', limit: 3 }),
        call('corpus:search', { corpus: BUILTIN_CORPUS, query: 'bm25 passages', limit: 3 }),
      ]);
      expect(first.addedBuiltin || second.addedBuiltin).toBe(true);
      expect(first.hits.length).toBe(3);
      expect(first.hits.some((h) => h.document.name === 'specs/ARCHITECTURE.md')).toBe(true);
      const list = await call('corpus:list', {});
      expect(list.builtin.present).toBe(true);
      expect(list.corpora).toEqual([expect.objectContaining({ name: BUILTIN_CORPUS, builtin: true, passages: expect.any(Number) })]);
      const again = await call('corpus:search', { corpus: BUILTIN_CORPUS, query: 'NEAR("tiles" * -', limit: 2 });
      expect(again).toMatchObject({ addedBuiltin: false, rebuilt: [], terms: ['near', 'tiles'] });
      await expect(call('corpus:search', { corpus: 'missing', query: 'x', limit: 2 })).rejects.toMatchObject({ code: 'CORPUS_NOT_FOUND', message: expect.stringContaining('"missing"') });
    } finally {
      await services.close();
    }
  });
});
