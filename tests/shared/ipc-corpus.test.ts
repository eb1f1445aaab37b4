/**
 * The corpus channels' contract through the dispatcher, with stand-in handlers: requests refused
 * naming the field (corpus names, query size, limit), the default limit filled in, and answers
 * that break the contract refused.
 */
import { describe, expect, it } from 'vitest';
import { BUILTIN_CORPUS_NAME, CORPUS_LIMITS, type SearchAnswer } from '../../shared/ipc/channels/corpus';
import { channelNames } from '../../shared/ipc/contract';
import { createDispatcher, type Handlers } from '../../shared/ipc/dispatch';
import { ctx, handlers, refused } from '../support/ipc';

const hit = {
  corpus: 'docs',
  document: { index: 0, name: 'README.md' },
  passage: 3,
  heading: ['Pixel-LLM', 'Install'],
  startChar: 100,
  endChar: 400,
  startLine: 12,
  endLine: 20,
  score: 4.5,
  snippet: 'the tiles are PNG',
  marks: [[4, 9]] as [number, number][],
  text: 'All the tiles are PNG files.',
};

const answer = (over: Partial<SearchAnswer> = {}): SearchAnswer => ({ corpora: ['docs'], terms: ['tiles'], droppedStopWords: false, rebuilt: [], addedBuiltin: false, hits: [hit], ...over });

describe('corpus channels in the contract', () => {
  it('declares corpus:list, corpus:passage-rects and corpus:search', () => {
    expect(channelNames.filter((c) => c.startsWith('corpus:')).sort()).toEqual(['corpus:list', 'corpus:passage-rects', 'corpus:search']);
  });

  it('corpus:search takes any text as the query and fills in the default limit', async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'corpus:search': (req) => {
          seen.push(req);
          return answer();
        },
      }),
    );
    for (const query of ['', 'NEAR("a" b*) -c: ^d', '模型 🙂', 'x'.repeat(CORPUS_LIMITS.queryChars)]) {
      const env = await d('corpus:search', { corpus: 'docs', query }, ctx);
      expect(env.ok).toBe(true);
    }
    expect((await d('corpus:search', { corpus: null, query: 'tiles', limit: 100 }, ctx)).ok).toBe(true);
    expect(seen[0]).toEqual({ corpus: 'docs', query: '', limit: CORPUS_LIMITS.defaultLimit });
    expect(seen[4]).toEqual({ corpus: null, query: 'tiles', limit: 100 });
  });

  it('refuses bad requests naming the field', async () => {
    const d = createDispatcher(handlers({ 'corpus:search': () => answer(), 'corpus:list': () => ({ corpora: [], builtin: { name: BUILTIN_CORPUS_NAME, present: false } }) }));
    for (const corpus of ['../x', 'a b', '', '-x', 'x'.repeat(65), 3, undefined]) await refused(d, 'corpus:search', { corpus, query: 'x' }, 'IPC_INVALID_REQUEST', /corpus/);
    await refused(d, 'corpus:search', { corpus: 'docs', query: 'x'.repeat(CORPUS_LIMITS.queryChars + 1) }, 'IPC_INVALID_REQUEST', /query/);
    await refused(d, 'corpus:search', { corpus: 'docs', query: 5 }, 'IPC_INVALID_REQUEST', /query/);
    await refused(d, 'corpus:search', { corpus: 'docs' }, 'IPC_INVALID_REQUEST', /query/);
    for (const limit of [0, -1, 1.5, CORPUS_LIMITS.limit + 1, '5']) await refused(d, 'corpus:search', { corpus: 'docs', query: 'x', limit }, 'IPC_INVALID_REQUEST', /limit/);
    await refused(d, 'corpus:search', { corpus: 'docs', query: 'x', extra: 1 }, 'IPC_INVALID_REQUEST', /extra|Unrecognized/i);
    await refused(d, 'corpus:list', { all: true }, 'IPC_INVALID_REQUEST', /all|Unrecognized/i);
  });

  it('refuses answers that break the contract', async () => {
    const bad: [string, () => unknown][] = [
      ['corpus:search', () => answer({ hits: [{ ...hit, score: Number.NaN }] })],
      ['corpus:search', () => answer({ hits: [{ ...hit, text: 'x'.repeat(CORPUS_LIMITS.passageChars + 1) }] })],
      ['corpus:search', () => answer({ hits: Array.from({ length: CORPUS_LIMITS.limit + 1 }, () => hit) })],
      ['corpus:search', () => answer({ hits: [{ ...hit, startLine: -1 }] })],
      ['corpus:list', () => ({ corpora: [{ name: 'a b', documents: 1, bytes: 1, passages: null, builtin: false }], builtin: { name: BUILTIN_CORPUS_NAME, present: false } })],
      ['corpus:list', () => ({ corpora: [], builtin: { name: 'other', present: true } })],
    ];
    for (const [channel, fn] of bad) {
      const d = createDispatcher(handlers({ [channel]: fn } as Partial<Handlers>));
      const payload = channel === 'corpus:search' ? { corpus: 'docs', query: 'x' } : {};
      await refused(d, channel, payload, 'IPC_INVALID_RESPONSE', /./);
    }
  });

  it('corpus:passage-rects takes passages as search hits give them and answers their map rectangles', async () => {
    const place = { document: 0, startChar: 100, endChar: 400, startByte: 104, endByte: 410, rects: [{ x: -5, y: 7, width: 64, height: 2 }] };
    const ok = { corpus: 'docs', mapId: 'corpus:docs', box: { x: -5, y: 7, width: 300, height: 64 }, passages: [place] };
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'corpus:passage-rects': (req) => {
          seen.push(req);
          return ok;
        },
      }),
    );
    const env = await d('corpus:passage-rects', { corpus: 'docs', passages: [{ document: 0, startChar: 100, endChar: 400 }] }, ctx);
    expect(env.ok).toBe(true);
    if (env.ok) expect(env.value).toEqual(ok);
    expect(seen).toEqual([{ corpus: 'docs', passages: [{ document: 0, startChar: 100, endChar: 400 }] }]);
    // A corpus no longer on the map: no box, no rectangles.
    const gone = createDispatcher(handlers({ 'corpus:passage-rects': () => ({ ...ok, box: null, passages: [{ ...place, rects: [] }] }) }));
    expect((await gone('corpus:passage-rects', { corpus: 'docs', passages: [{ document: 0, startChar: 0, endChar: 0 }] }, ctx)).ok).toBe(true);
  });

  it('corpus:passage-rects refuses bad requests and answers naming the field', async () => {
    const good = { document: 1, startChar: 0, endChar: 10 };
    const d = createDispatcher(handlers({ 'corpus:passage-rects': () => ({ corpus: 'docs', mapId: 'corpus:docs', box: null, passages: [] }) }));
    for (const corpus of ['../x', '', null, 3]) await refused(d, 'corpus:passage-rects', { corpus, passages: [good] }, 'IPC_INVALID_REQUEST', /corpus/);
    await refused(d, 'corpus:passage-rects', { corpus: 'docs', passages: [] }, 'IPC_INVALID_REQUEST', /passages|at least one/);
    await refused(d, 'corpus:passage-rects', { corpus: 'docs', passages: Array.from({ length: CORPUS_LIMITS.limit + 1 }, () => good) }, 'IPC_INVALID_REQUEST', /passages/);
    await refused(d, 'corpus:passage-rects', { corpus: 'docs', passages: [{ ...good, startChar: 20 }] }, 'IPC_INVALID_REQUEST', /endChar/);
    await refused(d, 'corpus:passage-rects', { corpus: 'docs', passages: [{ ...good, endChar: CORPUS_LIMITS.passageChars + 1 }] }, 'IPC_INVALID_REQUEST', /endChar/);
    for (const document of [-1, 1.5, '1']) await refused(d, 'corpus:passage-rects', { corpus: 'docs', passages: [{ ...good, document }] }, 'IPC_INVALID_REQUEST', /document/);
    await refused(d, 'corpus:passage-rects', { corpus: 'docs', passages: [{ ...good, extra: 1 }] }, 'IPC_INVALID_REQUEST', /extra|Unrecognized/i);
    const place = { ...good, startByte: 0, endByte: 10, rects: [] as unknown[] };
    const bad: unknown[] = [
      { corpus: 'docs', mapId: 'corpus:docs', box: null, passages: [{ ...place, rects: [{ x: 0, y: 0, width: -1, height: 1 }] }] },
      { corpus: 'docs', mapId: 'corpus:docs', box: null, passages: [{ ...place, endByte: 1.5 }] },
      { corpus: 'docs', mapId: 'corpus:docs', passages: [] },
    ];
    for (const answer of bad) await refused(createDispatcher(handlers({ 'corpus:passage-rects': () => answer } as Partial<Handlers>)), 'corpus:passage-rects', { corpus: 'docs', passages: [good] }, 'IPC_INVALID_RESPONSE', /./);
  });
});
