/**
 * Search text as hostile input (shared/corpus/query.ts): whatever a person types becomes quoted
 * words OR-ed, never FTS5 syntax. tests/node/corpus-search.test.ts runs the same table through
 * SQLite's FTS5 itself. Also Chat's corpus prompt (shared/corpus/prompt.ts): the budget, the
 * numbering, and the best passage cut to fit.
 */
import { describe, expect, it } from 'vitest';
import { buildCorpusPrompt, MAX_PASSAGE_BUDGET, MIN_PASSAGE_BUDGET, passageBudget, sourceLabel } from '../../shared/corpus/prompt';
import { buildSearchQuery, MAX_QUERY_TERMS, queryWords } from '../../shared/corpus/query';
import { NASTY_QUERIES } from '../support/nasty-queries';

describe('buildSearchQuery', () => {
  it.each(NASTY_QUERIES)('%j searches for %j, quoted and OR-ed', (text, terms) => {
    const q = buildSearchQuery(text);
    expect(q.terms).toEqual(terms);
    expect(q.match).toBe(terms.length ? terms.map((t) => `"${t}"`).join(' OR ') : null);
  });

  it('each term is only letters, digits and marks, so a quoted term is one FTS5 string', () => {
    for (const [text] of NASTY_QUERIES) for (const t of buildSearchQuery(text).terms) expect(t).toMatch(/^[\p{L}\p{N}\p{M}\p{Co}]+$/u);
  });

  it('drops common words only when others remain, and says so', () => {
    expect(buildSearchQuery('how are the tiles stored')).toMatchObject({ terms: ['tiles', 'stored'], droppedStopWords: true });
    expect(buildSearchQuery('to be or not to be')).toMatchObject({ terms: ['to', 'be', 'or', 'not'], droppedStopWords: false });
  });

  it('keeps at most MAX_QUERY_TERMS distinct words', () => {
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`);
    expect(buildSearchQuery(words.join(' ')).terms).toEqual(words.slice(0, MAX_QUERY_TERMS));
    expect(queryWords('b a b a')).toEqual(['b', 'a']);
  });

  it('takes anything without throwing', () => {
    let s = 7;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 500; i++) {
      const text = Array.from({ length: Math.floor(rnd() * 40) }, () => String.fromCharCode(Math.floor(rnd() * 0x3000))).join('');
      const q = buildSearchQuery(text);
      if (q.match !== null) expect(q.match.split(' OR ')).toHaveLength(q.terms.length);
    }
    expect(buildSearchQuery(undefined as unknown as string).match).toBeNull();
  });
});

describe('buildCorpusPrompt', () => {
  const hit = (n: number, chars: number, heading = ['Guide']) => ({
    corpus: 'docs',
    document: { name: `doc${n}.md` },
    heading,
    startLine: n * 10,
    endLine: n * 10 + 4,
    text: `passage ${n} ${'word '.repeat(chars / 5)}`.slice(0, chars),
  });

  it('gives one character of passage text per token of context, within bounds', () => {
    expect(passageBudget(128)).toBe(MIN_PASSAGE_BUDGET);
    expect(passageBudget(2048)).toBe(2048);
    expect(passageBudget(131072)).toBe(MAX_PASSAGE_BUDGET);
    expect(passageBudget(Number.NaN)).toBe(MIN_PASSAGE_BUDGET);
  });

  it('puts the passages that fit ahead of the question, numbered, with an instruction and their sources', () => {
    const hits = [hit(1, 500), hit(2, 900), hit(3, 400)];
    const r = buildCorpusPrompt('How are tiles stored?', hits, { budget: 1000 });
    // 500 fits, 900 does not (skipped), 400 fits: 900 characters in all.
    expect(r.used.map((u) => [u.number, u.passage.document.name, u.cut])).toEqual([
      [1, 'doc1.md', false],
      [2, 'doc3.md', false],
    ]);
    expect(r.prompt).toMatch(/^Answer the question using the numbered passages below, from the corpus "docs"\. Cite/);
    expect(r.prompt).toContain(`[1] doc1.md › Guide (lines 10-14)\n${hits[0]!.text}\n\n[2] doc3.md › Guide (lines 30-34)\n${hits[2]!.text}\n\nQuestion: How are tiles stored?`);
    expect(r.prompt.endsWith('Question: How are tiles stored?')).toBe(true);
    expect(buildCorpusPrompt('q', hits, { budget: 1000, completion: true }).prompt.endsWith('Question: q\nAnswer:')).toBe(true);
  });

  it('cuts the best passage at a word when it alone is over the budget', () => {
    const r = buildCorpusPrompt('q', [hit(1, 1200), hit(2, 100)], { budget: 400 });
    expect(r.used).toHaveLength(1);
    expect(r.used[0]!.cut).toBe(true);
    expect(r.used[0]!.text.length).toBeLessThanOrEqual(400);
    expect(r.used[0]!.text.endsWith('word…')).toBe(true);
  });

  it('sends the question alone when nothing was found', () => {
    expect(buildCorpusPrompt('just this', [], { budget: 1000 })).toEqual({ prompt: 'just this', used: [] });
  });

  it('labels a source by document, heading path and lines', () => {
    expect(sourceLabel({ ...hit(1, 10, []), startLine: 7, endLine: 7 })).toBe('doc1.md (line 7)');
    expect(sourceLabel(hit(2, 10, ['A', 'B']))).toBe('doc2.md › A › B (lines 20-24)');
  });
});
