/**
 * The passage index of a volume's corpora (specs/training.md, "Retrieval: passages and search"):
 * every document split into passages (shared/corpus/passages.ts), searched with SQLite FTS5 and
 * ranked by bm25.
 *
 * It is its own database, `corpus-passages.sqlite` beside the store's `models.sqlite`, attached
 * to the store's connection as `pxi_passages` (so it opens and closes with the store, and one
 * process owns it as it owns the volume). It holds derived data only: each corpus's passages
 * are stamped with the corpus sha256 and the splitter version they were made from, and an entry
 * that is missing or whose stamp differs is rebuilt from the documents in PixelFS. A file that
 * is not a readable index (damaged, another schema) is deleted and made again, for the same
 * reason. SQLite writes this file itself (WAL); nothing else writes it.
 *
 * Tables: `passage_meta(key, value)` (schema), `passage_corpora(corpus, sha256, splitter,
 * documents, passages, built_at)`, `passages(id, corpus, doc, doc_name, seq, heading (JSON),
 * title, start_char, end_char, start_line, end_line, body)` and the FTS5 table `passage_fts(title,
 * body)` over it (external content, tokenizer `porter unicode61 remove_diacritics 2`; `title` is
 * the document name and heading path).
 */
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { CorpusError } from '../../shared/corpus/errors';
import { PASSAGE_SPLITTER_VERSION, splitPassages } from '../../shared/corpus/passages';

export const PASSAGE_DB_FILE = 'corpus-passages.sqlite';
export const PASSAGE_SCHEMA_VERSION = 1;
const S = 'pxi_passages';
/** bm25 column weights: a word in the document name or heading counts twice one in the text. */
const TITLE_WEIGHT = 2;
const BODY_WEIGHT = 1;
/** Snippet markers (control characters a snippet turns into highlight ranges). */
const MARK_OPEN = '\u0001';
const MARK_CLOSE = '\u0002';
/** Words of context a snippet shows around the matches. */
const SNIPPET_TOKENS = 24;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ${S}.passage_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${S}.passage_corpora (
  corpus    TEXT PRIMARY KEY,
  sha256    TEXT NOT NULL,
  splitter  INTEGER NOT NULL,
  documents INTEGER NOT NULL,
  passages  INTEGER NOT NULL,
  built_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ${S}.passages (
  id         INTEGER PRIMARY KEY,
  corpus     TEXT NOT NULL,
  doc        INTEGER NOT NULL,
  doc_name   TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  heading    TEXT NOT NULL,
  title      TEXT NOT NULL,
  start_char INTEGER NOT NULL,
  end_char   INTEGER NOT NULL,
  start_line INTEGER NOT NULL,
  end_line   INTEGER NOT NULL,
  body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ${S}.passages_corpus ON passages (corpus, doc, seq);
CREATE VIRTUAL TABLE IF NOT EXISTS ${S}.passage_fts USING fts5(title, body, content='passages', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');
`;

export interface IndexedCorpus {
  corpus: string;
  sha256: string;
  splitter: number;
  documents: number;
  passages: number;
  builtAt: number;
}

/** Whether a corpus's passages are there and made from its current text by this splitter. */
export type IndexState = { state: 'ok'; passages: number } | { state: 'missing'; reason: string } | { state: 'stale'; reason: string };

export interface IndexDocument {
  index: number;
  name: string;
  text: string;
}

export interface PassageRow {
  corpus: string;
  document: { index: number; name: string };
  /** Passage number within its document. */
  passage: number;
  heading: string[];
  startChar: number;
  endChar: number;
  startLine: number;
  endLine: number;
  /** −bm25 (FTS5's bm25 is lower for better matches): higher is better, comparable within one query. */
  score: number;
  /** Up to SNIPPET_TOKENS words of the passage around the matches. */
  snippet: string;
  /** [start, end) of each matched word in `snippet`. */
  marks: [number, number][];
  text: string;
}

interface RawRow {
  corpus: string;
  doc: number;
  doc_name: string;
  seq: number;
  heading: string;
  start_char: number;
  end_char: number;
  start_line: number;
  end_line: number;
  body: string;
  rank: number;
  snip: string;
}

/** Snippet text with the markers taken out, and where they were. */
function unmark(s: string): { snippet: string; marks: [number, number][] } {
  let out = '';
  const marks: [number, number][] = [];
  let open = -1;
  for (const ch of s) {
    if (ch === MARK_OPEN) open = out.length;
    else if (ch === MARK_CLOSE) {
      if (open >= 0 && out.length > open) marks.push([open, out.length]);
      open = -1;
    } else out += ch;
  }
  return { snippet: out, marks };
}

const sqliteCode = (e: unknown): string => String((e as { code?: unknown }).code ?? '');

export class PassageIndex {
  /** Why the file was made anew when opened (damaged, another schema), or null. */
  recreated: string | null = null;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {}

  /**
   * The index of the store whose connection is `db` and whose folder is `root`: attached on
   * first use (idempotent for a connection), created if missing, made anew if unreadable.
   */
  static open(db: Database.Database, root: string): PassageIndex {
    const file = path.join(root, PASSAGE_DB_FILE);
    const ix = new PassageIndex(db, file);
    const attached = (db.pragma('database_list') as { name: string }[]).some((d) => d.name === S);
    if (attached) return ix;
    try {
      ix.attach();
      ix.prepareSchema();
    } catch (e) {
      const code = sqliteCode(e);
      if (!(e instanceof CorpusError) && !code.startsWith('SQLITE_CORRUPT') && code !== 'SQLITE_NOTADB') throw e;
      ix.recreated = e instanceof CorpusError ? e.message : `${file} was not a readable passage index (${code}: ${(e as Error).message})`;
      if ((db.pragma('database_list') as { name: string }[]).some((d) => d.name === S)) db.exec(`DETACH DATABASE ${S}`);
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
      ix.attach();
      ix.prepareSchema();
    }
    return ix;
  }

  private attach(): void {
    this.db.prepare(`ATTACH DATABASE ? AS ${S}`).run(this.file);
    // Derived data: a commit lost to a power cut is found missing and rebuilt.
    this.db.pragma(`${S}.journal_mode = WAL`);
    this.db.pragma(`${S}.synchronous = NORMAL`);
  }

  private prepareSchema(): void {
    this.db
      .transaction(() => {
        this.db.exec(SCHEMA);
        const v = this.db.prepare(`SELECT value FROM ${S}.passage_meta WHERE key = 'schema'`).pluck().get() as string | undefined;
        if (v === undefined) this.db.prepare(`INSERT INTO ${S}.passage_meta (key, value) VALUES ('schema', ?)`).run(String(PASSAGE_SCHEMA_VERSION));
        else if (v !== String(PASSAGE_SCHEMA_VERSION)) {
          throw new CorpusError('CORPUS_INDEX', `${this.file} has passage index schema ${v}; this Pixel-LLM makes ${PASSAGE_SCHEMA_VERSION}, so it is made anew`, { file: this.file, value: v });
        }
      })
      .immediate();
  }

  /** Whether the index file exists on disk (it is created when the index is first opened). */
  exists(): boolean {
    return existsSync(this.file);
  }

  list(): IndexedCorpus[] {
    return (this.db.prepare(`SELECT corpus, sha256, splitter, documents, passages, built_at AS builtAt FROM ${S}.passage_corpora ORDER BY corpus`).all() as IndexedCorpus[]).map((r) => ({ ...r }));
  }

  state(corpus: string, sha256: string): IndexState {
    const r = this.db.prepare(`SELECT sha256, splitter, passages FROM ${S}.passage_corpora WHERE corpus = ?`).get(corpus) as { sha256: string; splitter: number; passages: number } | undefined;
    if (!r) return { state: 'missing', reason: `corpus ${corpus} has no passage index yet` };
    if (r.sha256 !== sha256) return { state: 'stale', reason: `the passage index of ${corpus} was built from other text (sha256 ${r.sha256.slice(0, 12)}…, the corpus is ${sha256.slice(0, 12)}…)` };
    if (r.splitter !== PASSAGE_SPLITTER_VERSION) return { state: 'stale', reason: `the passage index of ${corpus} was split by splitter version ${r.splitter}; this Pixel-LLM splits with version ${PASSAGE_SPLITTER_VERSION}` };
    return { state: 'ok', passages: r.passages };
  }

  /** Replaces a corpus's passages (one transaction): split each document, index every passage. */
  replace(corpus: string, sha256: string, docs: readonly IndexDocument[], onDocument?: (done: number, total: number) => void): { passages: number } {
    const split = docs.map((d) => ({ d, passages: splitPassages(d.text) }));
    let passages = 0;
    this.db
      .transaction(() => {
        this.dropRows(corpus);
        const ins = this.db.prepare(
          `INSERT INTO ${S}.passages (corpus, doc, doc_name, seq, heading, title, start_char, end_char, start_line, end_line, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        const fts = this.db.prepare(`INSERT INTO ${S}.passage_fts (rowid, title, body) VALUES (?, ?, ?)`);
        for (const [k, { d, passages: ps }] of split.entries()) {
          for (const p of ps) {
            const title = [d.name, ...p.heading].join(' › ');
            const id = ins.run(corpus, d.index, d.name, p.index, JSON.stringify(p.heading), title, p.startChar, p.endChar, p.startLine, p.endLine, p.text).lastInsertRowid;
            fts.run(id, title, p.text);
            passages++;
          }
          onDocument?.(k + 1, split.length);
        }
        this.db
          .prepare(`INSERT INTO ${S}.passage_corpora (corpus, sha256, splitter, documents, passages, built_at) VALUES (?, ?, ?, ?, ?, ?)`)
          .run(corpus, sha256, PASSAGE_SPLITTER_VERSION, docs.length, passages, Date.now());
      })
      .immediate();
    return { passages };
  }

  /** Drops a corpus's passages; resolves to how many there were. */
  drop(corpus: string): number {
    return this.db.transaction(() => this.dropRows(corpus)).immediate();
  }

  private dropRows(corpus: string): number {
    // External content: FTS5 forgets a row when told its indexed values.
    this.db.prepare(`INSERT INTO ${S}.passage_fts (passage_fts, rowid, title, body) SELECT 'delete', id, title, body FROM ${S}.passages WHERE corpus = ?`).run(corpus);
    const n = this.db.prepare(`DELETE FROM ${S}.passages WHERE corpus = ?`).run(corpus).changes;
    this.db.prepare(`DELETE FROM ${S}.passage_corpora WHERE corpus = ?`).run(corpus);
    return n;
  }

  /** Passages of `corpora` matching the FTS5 expression `match`, best first (ties: corpus, document, passage order). */
  search(match: string, corpora: readonly string[], limit: number): PassageRow[] {
    const rows = this.db
      .prepare(
        `SELECT p.corpus, p.doc, p.doc_name, p.seq, p.heading, p.start_char, p.end_char, p.start_line, p.end_line, p.body,
                bm25(passage_fts, ${TITLE_WEIGHT}, ${BODY_WEIGHT}) AS rank,
                snippet(passage_fts, 1, char(1), char(2), '…', ${SNIPPET_TOKENS}) AS snip
           FROM ${S}.passage_fts JOIN ${S}.passages AS p ON p.id = passage_fts.rowid
          WHERE passage_fts MATCH ? AND p.corpus IN (SELECT value FROM json_each(?))
          ORDER BY rank, p.corpus, p.doc, p.seq
          LIMIT ?`,
      )
      .all(match, JSON.stringify(corpora), limit) as RawRow[];
    return rows.map((r) => ({
      corpus: r.corpus,
      document: { index: r.doc, name: r.doc_name },
      passage: r.seq,
      heading: JSON.parse(r.heading) as string[],
      startChar: r.start_char,
      endChar: r.end_char,
      startLine: r.start_line,
      endLine: r.end_line,
      score: r.rank === 0 ? 0 : -r.rank,
      ...unmark(r.snip),
      text: r.body,
    }));
  }

  /** FTS5's own check that the full-text index agrees with the passages. */
  integrityCheck(): void {
    this.db.prepare(`INSERT INTO ${S}.passage_fts (passage_fts, rank) VALUES ('integrity-check', 1)`).run();
  }
}
