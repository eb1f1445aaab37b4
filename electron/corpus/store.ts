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
 *
 * `CorpusStore` puts these parts to use: the catalog's statements are in catalog.ts, names,
 * paths and the corpus hash in naming.ts, building a token shard in shard-build.ts, the public
 * shapes in store-types.ts (re-exported here).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';
import { CorpusError } from '../../shared/corpus/errors';
import { corpusMapId, placeCorpus } from '../../shared/corpus/placement';
import { checkDocument, findMojibake, MAX_DOCUMENT_BYTES, normalizeText, NORMALIZE_STEPS, type NormalizeChange, type NormalizeStep } from '../../shared/corpus/text';
import { nextModelOrigin } from '../../shared/map/placement';
import type { TokenizerSpec } from '../../shared/tokenizer';
import { cancelledError } from '../models/errors';
import type { ModelStore } from '../models/store';
import { CorpusCatalog, type CorpusRow } from './catalog';
import { CORPUS_PREFIX, checkCorpusName, corpusPaths, corpusSha256, sha256 } from './naming';
import { PassageIndex } from './passage-index';
import { buildTokenShard } from './shard-build';
import { tokenizerHash } from './shard-format';
import type { AddOptions, AddResult, CorpusDetail, CorpusDocument, CorpusInfo, CorpusVerifyReport, NewDocument, ShardOptions, TokenShard } from './store-types';

export { CORPUS_SCHEMA_VERSION } from './catalog';
export { checkCorpusName, corpusPaths, corpusSha256 } from './naming';
export type {
  AddOptions,
  AddProgress,
  AddResult,
  CorpusDetail,
  CorpusDocument,
  CorpusInfo,
  CorpusShardInfo,
  CorpusVerifyReport,
  CorpusVerifyState,
  NewDocument,
  ShardOptions,
  ShardProgress,
  TokenShard,
} from './store-types';

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
  private readonly catalog: CorpusCatalog;
  private readonly active: Set<string>;
  /** What the sweep at open removed: files of corpora that never committed or were being removed, passage entries of corpora no longer there. */
  openSweep = { filesRemoved: 0, passagesDropped: 0 };
  /** The passage index (its own database beside the catalog). */
  readonly passages: PassageIndex;

  private constructor(readonly store: ModelStore) {
    this.db = store.map.db;
    this.catalog = new CorpusCatalog(this.db);
    this.passages = PassageIndex.open(this.db, store.root);
    let a = busy.get(store);
    if (!a) busy.set(store, (a = new Set()));
    this.active = a;
  }

  /** The corpora of a store's volume (creates the catalog tables on first use, sweeps leftovers). */
  static async open(store: ModelStore): Promise<CorpusStore> {
    const c = new CorpusStore(store);
    c.catalog.init();
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
    const owner = (n: string): string | null => (n.startsWith(CORPUS_PREFIX) ? n.slice(CORPUS_PREFIX.length).split('/')[0]! : null);
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
    return this.catalog.names();
  }

  private row(name: string): CorpusRow {
    const r = this.catalog.row(name);
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
    return this.catalog.has(name);
  }

  list(): CorpusInfo[] {
    return this.catalog.rows().map((r) => this.info(r));
  }

  get(name: string): CorpusDetail {
    const r = this.row(name);
    const docs = this.catalog.documents(name);
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
        this.catalog.insert(
          name,
          docRows.map((d) => ({ index: d.index, name: d.name, sourcePath: d.sourcePath, sourceBytes: d.bytes.length, sourceSha256: d.sourceSha, file: d.file, bytes: d.stored.length, sha256: d.sha, changes: d.changes })),
          total,
          sha,
          steps,
        );
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
        this.catalog.delete(name);
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
    this.catalog.setVerified(name, report.ok);
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
    const job = buildTokenShard(this.volume, (d) => this.readDoc(d), c, tokenizer, hash, file, opts);
    map.set(file, job);
    try {
      return await job;
    } finally {
      map.delete(file);
    }
  }
}
