/**
 * The corpus catalog: two tables in the model store's database (`models.sqlite`), beside the map
 * index: `corpora` and `corpus_documents` (and `corpus_meta` for the schema version). Statements
 * only; the store wraps the writes that go with map regions in one transaction.
 */
import type Database from 'better-sqlite3';
import { CorpusError } from '../../shared/corpus/errors';
import type { NormalizeChange, NormalizeStep } from '../../shared/corpus/text';
import type { CorpusDocument, CorpusVerifyState } from './store-types';

export const CORPUS_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS corpus_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS corpora (
  name         TEXT PRIMARY KEY,
  documents    INTEGER NOT NULL CHECK (documents >= 1),
  bytes        INTEGER NOT NULL CHECK (bytes >= 1),
  sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
  normalize    TEXT NOT NULL,
  created_at   INTEGER NOT NULL,
  verify_state TEXT NOT NULL DEFAULT 'unverified' CHECK (verify_state IN ('unverified', 'ok', 'corrupt')),
  verified_at  INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS corpus_documents (
  corpus        TEXT NOT NULL,
  idx           INTEGER NOT NULL CHECK (idx >= 0),
  name          TEXT NOT NULL,
  source_path   TEXT NOT NULL,
  source_bytes  INTEGER NOT NULL CHECK (source_bytes >= 1),
  source_sha256 TEXT NOT NULL CHECK (length(source_sha256) = 64),
  file          TEXT NOT NULL UNIQUE,
  bytes         INTEGER NOT NULL CHECK (bytes >= 1),
  sha256        TEXT NOT NULL CHECK (length(sha256) = 64),
  changes       TEXT NOT NULL,
  PRIMARY KEY (corpus, idx)
) WITHOUT ROWID;
`;

export interface CorpusRow {
  name: string;
  documents: number;
  bytes: number;
  sha256: string;
  normalize: string;
  created_at: number;
  verify_state: CorpusVerifyState;
  verified_at: number | null;
}

interface DocRow {
  corpus: string;
  idx: number;
  name: string;
  source_path: string;
  source_bytes: number;
  source_sha256: string;
  file: string;
  bytes: number;
  sha256: string;
  changes: string;
}

export class CorpusCatalog {
  constructor(private readonly db: Database.Database) {}

  /** Creates the tables on first use; refuses a catalog of another schema version. */
  init(): void {
    this.db.transaction(() => {
      this.db.exec(SCHEMA);
      const v = this.db.prepare('SELECT value FROM corpus_meta WHERE key = ?').pluck().get('schema') as string | undefined;
      if (v === undefined) this.db.prepare('INSERT INTO corpus_meta (key, value) VALUES (?, ?)').run('schema', String(CORPUS_SCHEMA_VERSION));
      else if (v !== String(CORPUS_SCHEMA_VERSION)) {
        throw new CorpusError('CORPUS_CORRUPT', `the corpus catalog has schema ${v}; this Pixel-LLM reads ${CORPUS_SCHEMA_VERSION}`, { field: 'corpus_meta.schema', value: v });
      }
    })();
  }

  names(): string[] {
    return this.db.prepare('SELECT name FROM corpora ORDER BY name').pluck().all() as string[];
  }

  row(name: string): CorpusRow | undefined {
    return this.db.prepare('SELECT * FROM corpora WHERE name = ?').get(name) as CorpusRow | undefined;
  }

  rows(): CorpusRow[] {
    return this.db.prepare('SELECT * FROM corpora ORDER BY name').all() as CorpusRow[];
  }

  has(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM corpora WHERE name = ?').get(name) !== undefined;
  }

  documents(name: string): CorpusDocument[] {
    return (this.db.prepare('SELECT * FROM corpus_documents WHERE corpus = ? ORDER BY idx').all(name) as DocRow[]).map(
      (d): CorpusDocument => ({
        index: d.idx,
        name: d.name,
        sourcePath: d.source_path,
        sourceBytes: d.source_bytes,
        sourceSha256: d.source_sha256,
        file: d.file,
        bytes: d.bytes,
        sha256: d.sha256,
        changes: JSON.parse(d.changes) as NormalizeChange[],
      }),
    );
  }

  /** The rows of a new corpus (the caller's transaction). */
  insert(name: string, documents: readonly CorpusDocument[], bytes: number, sha256: string, normalize: readonly NormalizeStep[]): void {
    this.db
      .prepare('INSERT INTO corpora (name, documents, bytes, sha256, normalize, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(name, documents.length, bytes, sha256, JSON.stringify(normalize), Date.now());
    const ins = this.db.prepare(
      `INSERT INTO corpus_documents (corpus, idx, name, source_path, source_bytes, source_sha256, file, bytes, sha256, changes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const d of documents) ins.run(name, d.index, d.name, d.sourcePath, d.sourceBytes, d.sourceSha256, d.file, d.bytes, d.sha256, JSON.stringify(d.changes));
  }

  /** The rows of a corpus (the caller's transaction). */
  delete(name: string): void {
    this.db.prepare('DELETE FROM corpus_documents WHERE corpus = ?').run(name);
    this.db.prepare('DELETE FROM corpora WHERE name = ?').run(name);
  }

  /** Records a verify's outcome. */
  setVerified(name: string, ok: boolean): void {
    this.db.prepare('UPDATE corpora SET verify_state = ?, verified_at = ? WHERE name = ?').run(ok ? 'ok' : 'corrupt', Date.now(), name);
  }
}
