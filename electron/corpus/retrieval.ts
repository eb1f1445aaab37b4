/**
 * Search over corpora (specs/training.md, "Retrieval: passages and search"): the person's text
 * made a safe FTS5 query (shared/corpus/query.ts), the passage index brought up to date first
 * (a corpus whose entry is missing or stale is re-split from its documents in PixelFS, and the
 * caller is told why), then the best passages by bm25.
 */
import { performance } from 'node:perf_hooks';
import { CorpusError } from '../../shared/corpus/errors';
import { buildSearchQuery } from '../../shared/corpus/query';
import type { PassageRow } from './passage-index';
import type { CorpusStore } from './store';

/** Longest search text taken (characters); only its first MAX_QUERY_TERMS words count anyway. */
export const MAX_SEARCH_TEXT = 10_000;
export const MAX_SEARCH_LIMIT = 100;
export const DEFAULT_SEARCH_LIMIT = 5;

/** A corpus's passage index being (re)built: why, then progress by document, then the outcome. */
export type IndexEvent =
  | { kind: 'start'; corpus: string; reason: string; documents: number }
  | { kind: 'progress'; corpus: string; document: number; documents: number }
  | { kind: 'done'; corpus: string; passages: number; seconds: number };

export interface EnsureResult {
  corpus: string;
  /** Null when the index was up to date; else why it was (re)built. */
  rebuilt: string | null;
  passages: number;
}

/** Brings one corpus's passages up to date (CORPUS_NOT_FOUND naming it when there is no such corpus). */
export async function ensurePassages(corpora: CorpusStore, name: string, onIndex?: (e: IndexEvent) => void): Promise<EnsureResult> {
  const c = corpora.get(name);
  const st = corpora.passages.state(name, c.sha256);
  if (st.state === 'ok') return { corpus: name, rebuilt: null, passages: st.passages };
  const t0 = performance.now();
  onIndex?.({ kind: 'start', corpus: name, reason: st.reason, documents: c.documents });
  const texts = await corpora.readDocuments(name);
  const { passages } = corpora.passages.replace(
    name,
    c.sha256,
    c.docs.map((d, i) => ({ index: d.index, name: d.name, text: texts[i]! })),
    (document, documents) => onIndex?.({ kind: 'progress', corpus: name, document, documents }),
  );
  onIndex?.({ kind: 'done', corpus: name, passages, seconds: (performance.now() - t0) / 1000 });
  return { corpus: name, rebuilt: st.reason, passages };
}

export interface SearchOptions {
  limit?: number;
  onIndex?: (e: IndexEvent) => void;
}

export interface SearchResult {
  /** The corpora searched. */
  corpora: string[];
  /** The words searched for (empty: the text held none, and nothing is found). */
  terms: string[];
  /** The FTS5 expression run, or null. */
  match: string | null;
  droppedStopWords: boolean;
  /** Corpora whose passage index was (re)built for this search, and why. */
  rebuilt: { corpus: string; reason: string }[];
  hits: PassageRow[];
}

/**
 * The best passages for `text` in the named corpora (null: every corpus of the volume), best
 * first. Never an FTS5 syntax error, whatever the text; CORPUS_NOT_FOUND names a missing corpus,
 * CORPUS_BAD_QUERY a limit out of range or a text over MAX_SEARCH_TEXT characters.
 */
export async function searchCorpora(corpora: CorpusStore, names: readonly string[] | null, text: string, opts: SearchOptions = {}): Promise<SearchResult> {
  const limit = opts.limit ?? DEFAULT_SEARCH_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    throw new CorpusError('CORPUS_BAD_QUERY', `the number of passages must be an integer from 1 to ${MAX_SEARCH_LIMIT}, got ${limit}`, { field: 'limit', value: limit });
  }
  if (typeof text !== 'string') throw new CorpusError('CORPUS_BAD_QUERY', 'the search text must be text', { field: 'query' });
  if (text.length > MAX_SEARCH_TEXT) {
    throw new CorpusError('CORPUS_BAD_QUERY', `the search text has ${text.length} characters; a search takes at most ${MAX_SEARCH_TEXT}`, { field: 'query', value: text.length });
  }
  const list = names === null ? corpora.list().map((c) => c.name) : [...new Set(names)];
  for (const n of list) corpora.get(n); // every name exists before anything is (re)built
  const q = buildSearchQuery(text);
  const rebuilt: SearchResult['rebuilt'] = [];
  for (const n of list) {
    const r = await ensurePassages(corpora, n, opts.onIndex);
    if (r.rebuilt) rebuilt.push({ corpus: n, reason: r.rebuilt });
  }
  const hits = q.match && list.length ? corpora.passages.search(q.match, list, limit) : [];
  return { corpora: list, terms: q.terms, match: q.match, droppedStopWords: q.droppedStopWords, rebuilt, hits };
}
