/**
 * Text corpora in a volume (specs/training.md, "Data: corpus and tokenizer").
 *
 * A corpus is a named list of documents. Each document is one PixelFS file of UTF-8 text
 * (`corpora/NAME/docs/I`, durable like `pxi fs put`), checked when added (not empty, no NUL
 * byte, valid UTF-8) and optionally normalised (shared/corpus/text.ts). The catalog is two
 * tables in the model store's database (`models.sqlite`), beside the map index: `corpora` and
 * `corpus_documents`. One transaction writes the catalog rows and the corpus's map regions (kind
 * `corpus`, one per document, under the map owner `corpus:NAME`), after every document file is
 * complete: a crash leaves either no corpus or a whole one, listed and on the map; files of a
 * corpus that never committed are swept when the corpora are next opened.
 *
 * Token shards (`corpora/NAME/shards/HASH`, shard-format.ts) cache a corpus tokenized by one
 * tokenizer: the document bytes are read back from PixelFS (every tile's sha256 checked),
 * tokenized, and the result kept so that the next run reads it instead.
 *
 * The passage index (passage-index.ts, its own database beside the catalog) is built when a
 * corpus is added and dropped when it is removed; it is derived from the documents, so
 * retrieval.ts rebuilds a corpus's entry when it is missing or stale.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { DocumentEncoder } from '../../shared/corpus/encode';
import { CorpusError } from '../../shared/corpus/errors';
import { corpusMapId, placeCorpus } from '../../shared/corpus/placement';
import { checkDocument, findMojibake, MAX_DOCUMENT_BYTES, normalizeText, NORMALIZE_STEPS, type NormalizeChange, type NormalizeStep } from '../../shared/corpus/text';
import type { Rect } from '../../shared/map/geometry';
import { nextModelOrigin } from '../../shared/map/placement';
import type { TokenizerSpec } from '../../shared/tokenizer';
import { cancelledError } from '../models/errors';
import type { ModelStore } from '../models/store';
import { PassageIndex } from './passage-index';
import { decodeShard, encodeShard, tokenizerHash } from './shard-format';

export const CORPUS_SCHEMA_VERSION = 1;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PREFIX = 'corpora/';

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

export type CorpusVerifyState = 'unverified' | 'ok' | 'corrupt';

export interface CorpusDocument {
  index: number;
  /** The file's base name when added. */
  name: string;
  sourcePath: string;
  sourceBytes: number;
  sourceSha256: string;
  /** The PixelFS file holding the (normalised) text. */
  file: string;
  bytes: number;
  sha256: string;
  /** What normalisation changed in this document. */
  changes: NormalizeChange[];
}

export interface CorpusInfo {
  name: string;
  documents: number;
  /** UTF-8 bytes stored (after normalisation). */
  bytes: number;
  /** sha256 of "pxi-corpus/1\n" + one line "SHA256 BYTES\n" per document, in order. */
  sha256: string;
  normalize: NormalizeStep[];
  createdAt: number;
  verifyState: CorpusVerifyState;
  verifiedAt: number | null;
  /** The corpus's box on the Infinite Map (null if its regions are gone). */
  mapBox: Rect | null;
}

export interface CorpusShardInfo {
  file: string;
  tokenizerHash: string;
  bytes: number;
}

export interface CorpusDetail extends CorpusInfo {
  docs: CorpusDocument[];
  mapId: string;
  shards: CorpusShardInfo[];
}

export interface AddProgress {
  bytesDone: number;
  bytesTotal: number;
  document: number;
  documents: number;
}

export interface AddOptions {
  normalize?: readonly NormalizeStep[];
  signal?: AbortSignal;
  onProgress?: (p: AddProgress) => void;
}

export interface AddResult {
  corpus: CorpusDetail;
  tilesWritten: number;
  tilesDeduped: number;
  seconds: number;
  /** Mojibake found in the text and left as it is (normalisation `mojibake` was not asked for). */
  mojibake: NormalizeChange[];
  /** Passages indexed for search, or why indexing failed (the corpus is stored either way; a search rebuilds it). */
  passages: { passages: number; seconds: number } | { error: string };
}

export interface NewDocument {
  name: string;
  sourcePath: string;
  bytes: Uint8Array;
}

export interface CorpusVerifyReport {
  corpus: string;
  ok: boolean;
  documents: { index: number; name: string; file: string; ok: boolean; problems: string[] }[];
  shards: { file: string; ok: boolean; problems: string[] }[];
  tilesChecked: number;
  bytesChecked: number;
}

export interface TokenShard {
  corpus: string;
  /** tokenizerHash(spec): names the cached shard. */
  tokenizerHash: string;
  /** Every document's tokens in order, each started by BOS (when the tokenizer has one). */
  tokens: Uint16Array | Uint32Array;
  /** Token index where each document starts (at its BOS). */
  documentStarts: Uint32Array;
  bos: number | null;
  vocabSize: number;
  /** UTF-8 bytes of the corpus text the tokens cover. */
  textBytes: number;
  /** True when read from the cached shard; false when tokenized now (and then cached). */
  cached: boolean;
  /** The PixelFS file of the shard. */
  file: string;
  seconds: number;
}

export interface ShardProgress {
  bytesDone: number;
  bytesTotal: number;
  tokens: number;
}

export interface ShardOptions {
  /** Tokenize again even if a cached shard exists (and replace it). */
  rebuild?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: ShardProgress) => void;
}

interface CorpusRow {
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

const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** The corpus hash: over its documents' hashes and sizes, in order. */
export function corpusSha256(docs: readonly { sha256: string; bytes: number }[]): string {
  return sha256(`pxi-corpus/1\n${docs.map((d) => `${d.sha256} ${d.bytes}\n`).join('')}`);
}

export function checkCorpusName(name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new CorpusError('CORPUS_BAD_NAME', `corpus name ${JSON.stringify(name)} must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`, {
      field: 'name',
      value: name,
    });
  }
  return name;
}

export const corpusPaths = {
  prefix: (name: string) => `${PREFIX}${name}/`,
  doc: (name: string, i: number) => `${PREFIX}${name}/docs/${i}`,
  shardPrefix: (name: string) => `${PREFIX}${name}/shards/`,
  shard: (name: string, hash: string) => `${PREFIX}${name}/shards/${hash}`,
};

/** Names being added or removed, per store (one process owns a volume). */
const busy = new WeakMap<ModelStore, Set<string>>();
/** Shards being built, per store: a second caller waits for the first. */
const building = new WeakMap<ModelStore, Map<string, Promise<TokenShard>>>();

function* chunksOf(bytes: Uint8Array, signal: AbortSignal | undefined, what: string): Generator<Uint8Array> {
  const step = 4 << 20;
  for (let at = 0; at < bytes.length; at += step) {
    if (signal?.aborted) throw cancelledError(what, signal.reason);
    yield bytes.subarray(at, Math.min(bytes.length, at + step));
  }
}

export class CorpusStore {
  private readonly db: Database.Database;
  private readonly active: Set<string>;
  /** What the sweep at open removed: files of corpora that never committed or were being removed, passage entries of corpora no longer there. */
  openSweep = { filesRemoved: 0, passagesDropped: 0 };
  /** The passage index (its own database beside the catalog). */
  readonly passages: PassageIndex;

  private constructor(readonly store: ModelStore) {
    this.db = store.map.db;
    this.passages = PassageIndex.open(this.db, store.root);
    let a = busy.get(store);
    if (!a) busy.set(store, (a = new Set()));
    this.active = a;
  }

  /** The corpora of a store's volume (creates the catalog tables on first use, sweeps leftovers). */
  static async open(store: ModelStore): Promise<CorpusStore> {
    const c = new CorpusStore(store);
    c.db.transaction(() => {
      c.db.exec(SCHEMA);
      const v = c.db.prepare('SELECT value FROM corpus_meta WHERE key = ?').pluck().get('schema') as string | undefined;
      if (v === undefined) c.db.prepare('INSERT INTO corpus_meta (key, value) VALUES (?, ?)').run('schema', String(CORPUS_SCHEMA_VERSION));
      else if (v !== String(CORPUS_SCHEMA_VERSION)) {
        throw new CorpusError('CORPUS_CORRUPT', `the corpus catalog has schema ${v}; this Pixel-LLM reads ${CORPUS_SCHEMA_VERSION}`, { field: 'corpus_meta.schema', value: v });
      }
    })();
    c.openSweep.filesRemoved = await c.sweep();
    c.openSweep.passagesDropped = c.sweepPassages();
    return c;
  }

  private get volume() {
    return this.store.volume;
  }

  /** PixelFS files under corpora/ of no committed corpus (and not being added now) are removed. */
  private async sweep(): Promise<number> {
    const known = new Set([...this.names(), ...this.active]);
    const owner = (n: string): string | null => (n.startsWith(PREFIX) ? n.slice(PREFIX.length).split('/')[0]! : null);
    let n = 0;
    for (const p of this.volume.pending()) {
      const o = owner(p.name);
      if (o !== null && !known.has(o)) {
        await this.volume.rm(p.name, { pending: true });
        n++;
      }
    }
    for (const f of this.volume.ls()) {
      const o = owner(f.name);
      if (o !== null && !known.has(o)) {
        await this.volume.rm(f.name);
        n++;
      }
    }
    return n;
  }

  /** Passage entries of corpora that are not in the catalog (a crash between a removal's commit and its index drop) are dropped. */
  private sweepPassages(): number {
    const known = new Set([...this.names(), ...this.active]);
    let n = 0;
    for (const e of this.passages.list()) if (!known.has(e.corpus)) n += this.passages.drop(e.corpus);
    return n;
  }

  private names(): string[] {
    return this.db.prepare('SELECT name FROM corpora ORDER BY name').pluck().all() as string[];
  }

  private row(name: string): CorpusRow {
    const r = this.db.prepare('SELECT * FROM corpora WHERE name = ?').get(name) as CorpusRow | undefined;
    if (!r) {
      const known = this.names();
      throw new CorpusError('CORPUS_NOT_FOUND', `no corpus named ${JSON.stringify(name)} in ${this.store.root}${known.length ? ` (corpora: ${known.slice(0, 10).join(', ')})` : ' (it holds no corpora)'}`, {
        field: 'corpus',
        value: name,
      });
    }
    return r;
  }

  private info(r: CorpusRow): CorpusInfo {
    return {
      name: r.name,
      documents: r.documents,
      bytes: r.bytes,
      sha256: r.sha256,
      normalize: JSON.parse(r.normalize) as NormalizeStep[],
      createdAt: r.created_at,
      verifyState: r.verify_state,
      verifiedAt: r.verified_at,
      mapBox: this.store.map.modelBox(corpusMapId(r.name)) ?? null,
    };
  }

  has(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM corpora WHERE name = ?').get(name) !== undefined;
  }

  list(): CorpusInfo[] {
    return (this.db.prepare('SELECT * FROM corpora ORDER BY name').all() as CorpusRow[]).map((r) => this.info(r));
  }

  get(name: string): CorpusDetail {
    const r = this.row(name);
    const docs = (this.db.prepare('SELECT * FROM corpus_documents WHERE corpus = ? ORDER BY idx').all(name) as DocRow[]).map(
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
    const prefix = corpusPaths.shardPrefix(name);
    const shards = this.volume
      .ls()
      .filter((f) => f.name.startsWith(prefix))
      .map((f) => ({ file: f.name, tokenizerHash: f.name.slice(prefix.length), bytes: f.size }));
    return { ...this.info(r), docs, mapId: corpusMapId(name), shards };
  }

  // -------------------------------------------------------------------------------------------
  // Adding

  /**
   * Adds a corpus from text files, one document per file. Every file is read and checked
   * (missing, not a file, empty, binary, not UTF-8, too large, named twice) before anything is
   * written, so bad input leaves the volume as it was.
   */
  async add(name: string, files: readonly string[], opts: AddOptions = {}): Promise<AddResult> {
    this.checkNew(name);
    if (files.length === 0) throw new CorpusError('CORPUS_FILE_MISSING', `corpus ${name}: no document files given`, { corpus: name });
    const seen = new Map<string, string>();
    const docs: NewDocument[] = [];
    for (const f of files) {
      const abs = path.resolve(f);
      const twice = seen.get(abs);
      if (twice !== undefined) throw new CorpusError('CORPUS_DUPLICATE_FILE', `${f}: the same file is given twice (also as ${twice})`, { file: f });
      seen.set(abs, f);
      const st = await fs.stat(abs).catch(() => null);
      if (!st) throw new CorpusError('CORPUS_FILE_MISSING', `${f}: no such file`, { file: f });
      if (!st.isFile()) throw new CorpusError('CORPUS_FILE_MISSING', `${f}: not a regular file`, { file: f });
      if (st.size > MAX_DOCUMENT_BYTES) {
        throw new CorpusError('CORPUS_TOO_LARGE', `${f}: ${st.size} bytes; one document may hold at most ${MAX_DOCUMENT_BYTES} (split it into several files)`, { file: f, size: st.size });
      }
      const bytes = await fs.readFile(abs);
      checkDocument(bytes, f);
      docs.push({ name: path.basename(abs), sourcePath: abs, bytes });
    }
    return this.addDocuments(name, docs, opts);
  }

  private checkNew(name: string): void {
    checkCorpusName(name);
    if (this.has(name)) throw new CorpusError('CORPUS_EXISTS', `a corpus named ${JSON.stringify(name)} already exists in ${this.store.root}; remove it first (pxi corpus rm ${name}) or choose another name`, { field: 'name', value: name });
    if (this.active.has(name)) throw new CorpusError('CORPUS_BUSY', `corpus ${name} is being added or removed right now`, { field: 'name', value: name });
  }

  /** Adds a corpus from documents already in memory (each checked as `add` checks a file). */
  async addDocuments(name: string, documents: readonly NewDocument[], opts: AddOptions = {}): Promise<AddResult> {
    const t0 = performance.now();
    this.checkNew(name);
    if (documents.length === 0) throw new CorpusError('CORPUS_FILE_MISSING', `corpus ${name}: no documents given`, { corpus: name });
    const steps = NORMALIZE_STEPS.filter((s) => (opts.normalize ?? []).includes(s));
    const enc = new TextEncoder();
    const mojibake = new Map<string, NormalizeChange>();
    const prepared = documents.map((d) => {
      const text = checkDocument(d.bytes, d.sourcePath || d.name);
      const norm = steps.length > 0 ? normalizeText(text, steps) : { text, changes: [] };
      const stored = steps.length > 0 ? enc.encode(norm.text) : d.bytes;
      if (!steps.includes('mojibake')) {
        for (const c of findMojibake(text)) {
          const m = mojibake.get(c.from);
          if (m) m.count += c.count;
          else mojibake.set(c.from, { ...c });
        }
      }
      return { ...d, text: norm.text, stored, sha: sha256(stored), sourceSha: sha256(d.bytes), changes: norm.changes };
    });
    const total = prepared.reduce((s, d) => s + d.stored.length, 0);

    this.active.add(name);
    const written: string[] = [];
    try {
      let done = 0;
      let tilesWritten = 0;
      let tilesDeduped = 0;
      for (let i = 0; i < prepared.length; i++) {
        const d = prepared[i]!;
        const file = corpusPaths.doc(name, i);
        written.push(file);
        const put = await this.volume.put(file, chunksOf(d.stored, opts.signal, `adding corpus ${name}`), {
          overwrite: true,
          size: d.stored.length,
          onProgress: (p) => {
            if (p.bytesIn < d.stored.length) opts.onProgress?.({ bytesDone: done + p.bytesIn, bytesTotal: total, document: i, documents: prepared.length });
          },
        });
        if (put.sha256 !== d.sha) throw new CorpusError('CORPUS_CORRUPT', `${file}: PixelFS stored sha256 ${put.sha256}, the text has ${d.sha}`, { file });
        tilesWritten += put.tilesWritten;
        tilesDeduped += put.tilesDeduped;
        done += d.stored.length;
        opts.onProgress?.({ bytesDone: done, bytesTotal: total, document: i + 1, documents: prepared.length });
      }
      if (opts.signal?.aborted) throw cancelledError(`adding corpus ${name}`, opts.signal.reason);
      const geo = { tileWidth: this.volume.settings.tileWidth, tileHeight: this.volume.settings.tileHeight };
      const docRows = prepared.map((d, i) => ({ ...d, index: i, file: corpusPaths.doc(name, i) }));
      const sha = corpusSha256(docRows.map((d) => ({ sha256: d.sha, bytes: d.stored.length })));
      this.db.transaction(() => {
        if (this.has(name)) throw new CorpusError('CORPUS_EXISTS', `a corpus named ${JSON.stringify(name)} already exists`, { field: 'name', value: name });
        const origin = nextModelOrigin(
          this.store.map.listModels().map((m) => m.box),
          4 * geo.tileWidth,
        );
        const layout = placeCorpus(name, docRows.map((d) => ({ name: d.name, bytes: d.stored.length })), geo, origin);
        this.db
          .prepare('INSERT INTO corpora (name, documents, bytes, sha256, normalize, created_at) VALUES (?, ?, ?, ?, ?, ?)')
          .run(name, docRows.length, total, sha, JSON.stringify(steps), Date.now());
        const ins = this.db.prepare(
          `INSERT INTO corpus_documents (corpus, idx, name, source_path, source_bytes, source_sha256, file, bytes, sha256, changes)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        );
        for (const d of docRows) ins.run(name, d.index, d.name, d.sourcePath, d.bytes.length, d.sourceSha, d.file, d.stored.length, d.sha, JSON.stringify(d.changes));
        this.store.map.putRegions(layout.regions);
      }).immediate();
      // The passage index is derived: built now, after the commit; a failure here leaves the corpus whole and the index missing.
      let passages: AddResult['passages'];
      const t1 = performance.now();
      try {
        passages = { ...this.passages.replace(name, sha, docRows.map((d) => ({ index: d.index, name: d.name, text: d.text }))), seconds: (performance.now() - t1) / 1000 };
      } catch (e) {
        passages = { error: (e as Error).message };
      }
      return {
        corpus: this.get(name),
        tilesWritten,
        tilesDeduped,
        seconds: (performance.now() - t0) / 1000,
        mojibake: [...mojibake.values()].sort((a, b) => b.count - a.count),
        passages,
      };
    } catch (e) {
      // Nothing committed: take back what this call stored (a crash leaves it to the sweep).
      for (const f of written) {
        await this.volume.rm(f).catch(() => this.volume.rm(f, { pending: true }).catch(() => undefined));
      }
      throw e;
    } finally {
      this.active.delete(name);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Removing, verifying, reading

  /** Removes a corpus: catalog rows and map regions in one commit, then its passages, then its files (documents and shards). */
  async remove(name: string): Promise<{ filesRemoved: number; tilesRemoved: number; bytesFreed: number; passagesDropped: number }> {
    this.row(name);
    if (this.active.has(name)) throw new CorpusError('CORPUS_BUSY', `corpus ${name} is being added or removed right now`, { field: 'name', value: name });
    this.active.add(name);
    try {
      this.db.transaction(() => {
        this.db.prepare('DELETE FROM corpus_documents WHERE corpus = ?').run(name);
        this.db.prepare('DELETE FROM corpora WHERE name = ?').run(name);
        this.store.map.removeModel(corpusMapId(name));
      }).immediate();
      const passagesDropped = this.passages.drop(name);
      const prefix = corpusPaths.prefix(name);
      let filesRemoved = 0;
      let tilesRemoved = 0;
      let bytesFreed = 0;
      for (const p of this.volume.pending()) if (p.name.startsWith(prefix)) await this.volume.rm(p.name, { pending: true });
      for (const f of this.volume.ls()) {
        if (!f.name.startsWith(prefix)) continue;
        const r = await this.volume.rm(f.name);
        filesRemoved++;
        tilesRemoved += r.tilesRemoved;
        bytesFreed += r.bytesFreed;
      }
      return { filesRemoved, tilesRemoved, bytesFreed, passagesDropped };
    } finally {
      this.active.delete(name);
    }
  }

  /**
   * Re-reads every tile of every document (and cached shard) and checks each document's file
   * against its catalog record (size, sha256). Records the outcome in the catalog.
   */
  async verify(name: string): Promise<CorpusVerifyReport> {
    const c = this.get(name);
    const report: CorpusVerifyReport = { corpus: name, ok: true, documents: [], shards: [], tilesChecked: 0, bytesChecked: 0 };
    const check = async (file: string, expect: { bytes: number; sha256: string } | null): Promise<string[]> => {
      const problems: string[] = [];
      const st = this.volume.stat(file);
      if (!st) return [`${file}: the PixelFS file is missing`];
      if (expect && (st.size !== expect.bytes || st.sha256 !== expect.sha256)) {
        problems.push(`${file}: the catalog records ${expect.bytes} bytes with sha256 ${expect.sha256}; PixelFS holds ${st.size} bytes with sha256 ${st.sha256}`);
      }
      const rep = await this.volume.verify(file);
      report.tilesChecked += rep.tilesChecked;
      report.bytesChecked += rep.bytesChecked;
      for (const p of rep.problems) problems.push(p.message);
      return problems;
    };
    for (const d of c.docs) {
      const problems = await check(d.file, { bytes: d.bytes, sha256: d.sha256 });
      report.documents.push({ index: d.index, name: d.name, file: d.file, ok: problems.length === 0, problems });
    }
    for (const s of c.shards) {
      const problems = await check(s.file, null);
      report.shards.push({ file: s.file, ok: problems.length === 0, problems });
    }
    report.ok = report.documents.every((d) => d.ok) && report.shards.every((s) => s.ok);
    this.db.prepare('UPDATE corpora SET verify_state = ?, verified_at = ? WHERE name = ?').run(report.ok ? 'ok' : 'corrupt', Date.now(), name);
    return report;
  }

  /** One document's text, read back from its PixelFS tiles (tile and file sha256 checked). */
  async readDocument(name: string, index: number): Promise<string> {
    const d = this.get(name).docs.find((x) => x.index === index);
    if (!d) throw new CorpusError('CORPUS_NOT_FOUND', `corpus ${name} has no document ${index}`, { corpus: name, field: 'document', value: index });
    return this.readDoc(d);
  }

  private async readDoc(d: CorpusDocument): Promise<string> {
    const bytes = await this.volume.read(d.file, 0, d.bytes);
    if (bytes.length !== d.bytes || sha256(bytes) !== d.sha256) {
      throw new CorpusError('CORPUS_CORRUPT', `${d.file} (${d.name}): the stored bytes do not match the catalog (sha256 ${d.sha256}, ${d.bytes} bytes)`, { file: d.file });
    }
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  }

  /** Every document's text in order, read back from PixelFS. */
  async readDocuments(name: string): Promise<string[]> {
    const out: string[] = [];
    for (const d of this.get(name).docs) out.push(await this.readDoc(d));
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Token shards

  /**
   * The corpus as one token stream for `tokenizer`: for each document in order, BOS (when the
   * tokenizer has one) then the document's tokens exactly as llama.cpp's
   * `llama_tokenize(text, add_special = false)` gives them for the whole text (space prefix at
   * the document start). No EOS. Read from the cached shard when there is a valid one; else the
   * documents are read back from PixelFS, tokenized and the shard stored for next time.
   */
  async tokenShard(name: string, tokenizer: TokenizerSpec, opts: ShardOptions = {}): Promise<TokenShard> {
    const c = this.get(name);
    const hash = tokenizerHash(tokenizer);
    const file = corpusPaths.shard(name, hash);
    let map = building.get(this.store);
    if (!map) building.set(this.store, (map = new Map()));
    const running = map.get(file);
    if (running) return running;
    const job = this.shardJob(c, tokenizer, hash, file, opts);
    map.set(file, job);
    try {
      return await job;
    } finally {
      map.delete(file);
    }
  }

  private async shardJob(c: CorpusDetail, spec: TokenizerSpec, hash: string, file: string, opts: ShardOptions): Promise<TokenShard> {
    const t0 = performance.now();
    const enc = new DocumentEncoder(spec);
    const vocabSize = enc.tokenizer.size;
    const expect = { corpusSha256: c.sha256, tokenizerHash: hash, vocabSize };
    const st = this.volume.stat(file);
    if (st && !opts.rebuild) {
      const why: string[] = [];
      const s = decodeShard(await this.volume.read(file, 0, st.size), expect, why);
      if (s) {
        return { corpus: c.name, tokenizerHash: hash, tokens: s.tokens, documentStarts: s.documentStarts, bos: s.bos, vocabSize, textBytes: c.bytes, cached: true, file, seconds: (performance.now() - t0) / 1000 };
      }
    }
    const bos = enc.tokenizer.bos ?? null;
    let buf = new Uint32Array(Math.max(1024, Math.ceil(c.bytes / 2) + c.docs.length));
    let n = 0;
    const push = (id: number): void => {
      if (n === buf.length) {
        const next = new Uint32Array(buf.length * 2);
        next.set(buf);
        buf = next;
      }
      buf[n++] = id;
    };
    const starts = new Uint32Array(c.docs.length);
    let bytesDone = 0;
    let lastReport = 0;
    for (const d of c.docs) {
      if (opts.signal?.aborted) throw cancelledError(`tokenizing corpus ${c.name}`, opts.signal.reason);
      if (n > 0xffffffff - 1) throw new CorpusError('CORPUS_TOO_LARGE', `corpus ${c.name} has more than 2^32 tokens`, { corpus: c.name });
      starts[d.index] = n;
      if (bos !== null) push(bos);
      const text = await this.readDoc(d);
      let pieces = 0;
      enc.encode(text, (ids, end) => {
        for (const id of ids) push(id);
        if (++pieces % 4096 === 0) {
          if (opts.signal?.aborted) throw cancelledError(`tokenizing corpus ${c.name}`, opts.signal.reason);
          const now = performance.now();
          if (opts.onProgress && now - lastReport > 250) {
            lastReport = now;
            opts.onProgress({ bytesDone: bytesDone + Math.round((d.bytes * end) / Math.max(1, text.length)), bytesTotal: c.bytes, tokens: n });
          }
        }
      });
      bytesDone += d.bytes;
      opts.onProgress?.({ bytesDone, bytesTotal: c.bytes, tokens: n });
    }
    if (n > 0xffffffff) throw new CorpusError('CORPUS_TOO_LARGE', `corpus ${c.name} has more than 2^32 tokens`, { corpus: c.name });
    const tokens = vocabSize <= 65536 ? Uint16Array.from(buf.subarray(0, n)) : buf.slice(0, n);
    const bytes = encodeShard({ vocabSize, bos, corpusSha256: c.sha256, tokenizerHash: hash, documentStarts: starts, tokens });
    await this.volume.put(file, [bytes], { overwrite: true, size: bytes.length });
    return { corpus: c.name, tokenizerHash: hash, tokens, documentStarts: starts, bos, vocabSize, textBytes: c.bytes, cached: false, file, seconds: (performance.now() - t0) / 1000 };
  }
}
