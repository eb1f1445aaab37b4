/**
 * The model store: GGUF models kept in a PixelFS volume as PXI-LLM v1 (specs/pxi_llm.md).
 *
 * A model is one PixelFS file per tensor (`models/<id>/tensors/<index>`), one for the GGUF header
 * bytes `[0, dataOffset)` verbatim (`models/<id>/header`), one for the bytes between and after
 * the tensors when they are not all zero (`models/<id>/padding`), and a manifest
 * (`models/<id>/manifest.json`, also kept in a row of `models.sqlite`). Export concatenates them
 * back into the identical GGUF.
 *
 * Import reads the source once, in order, hashing it as it goes, and streams each tensor's bytes
 * into a PixelFS put (a few puts overlap, so one tensor's last tiles are encoded while the next
 * tensor is read), and into the tensor's map pyramid (TensorPyramidWriter: the map's heat
 * and statistics come from the same pass, not from reading every tile back). Memory is bounded
 * by the read chunks and PixelFS's tile windows, never by tensor size. An import is recorded in `imports` before its first write and becomes a `models`
 * row in one transaction after its last, so a crash leaves either nothing visible or a complete
 * model; a rerun of the same import finds its `imports` row, keeps the tensor files that are
 * complete (after checking them against the source bytes it re-reads for the file hash) and lets
 * PixelFS reuse the committed tiles of the tensor that was being written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { realpathSync, type Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ByteSource } from '../../shared/binary/byte-source';
import { readGgufHeader, type GgufHeader } from '../../shared/gguf/reader';
import { ggmlType } from '../../shared/gguf/ggml-types';
import { modelConfigFromGguf, type ModelConfig } from '../../shared/model/config';
import { ModelError } from '../../shared/model/errors';
import {
  MODEL_ID,
  PXI_LLM_FORMAT,
  PXI_LLM_VERSION,
  modelPaths,
  paddingSegments,
  parseManifest,
  type MapPlacement,
  type ManifestTensor,
  type ModelManifest,
  type StoredFile,
} from '../../shared/model/manifest';
import { encodeMetadata } from '../../shared/model/metadata-json';
import { packageVersion } from '../app-meta';
import { buildPyramid, MapIndex, renderMapPng, type BuildPyramidResult, type IndexedRegion, type PyramidProgress, type RenderedMap } from '../map/index';
import { TensorPyramidWriter } from '../map/tensor-pyramid-writer';
import { DEFAULT_HEAT_SIZE } from '../../shared/map/pyramid-core';
import { layoutFromRegions, nextModelOrigin, placeModel, type ModelLayout, type PlacementOptions } from '../../shared/map/placement';
import { checkFreeSpace, freeBytesAt, mapNoSpace, nodeFileOps, PixelFsCodes, Volume, writeFileDurableStream, type FileOps, type OpenOptions, type PutResult, type VolumeSettings, type VolumeStats } from '../pixelfs/index';
import { FileByteSource } from '../storage/file-byte-source';
import { ChunkChannel } from './channel';
import { HashWorker, type HashStream, type Slot } from './hash-worker';
import { cancelledError, ModelStoreError } from './errors';
import { LAYOUTS_DIR, ModelLayouts, placesOf, type RecoveryOutcome, type TensorLocation } from './layout';
import { planLayout, type LayoutPlan, type TensorRead } from '../../shared/model/layout-plan';
import type { LayoutDecision, LayoutJournal } from '../../shared/model/layout-journal';
import { Pipe } from './pipe';
import { RateMeter } from './progress';
import { sameSource, STORE_DB_FILE, StoreDb, type ImportRow, type ModelRow, type SourceIdentity, type VerifyState } from './store-db';

/** Bytes outside the tensors that an import keeps in memory before storing them (see specs). */
export const MAX_PADDING_BYTES = 64 * 1024 * 1024;
const MAX_NAME_LENGTH = 256;

export interface ModelStoreOptions extends Pick<OpenOptions, 'fileOps' | 'pool' | 'workers' | 'cacheBytes' | 'commitEveryBytes'> {
  /** Create the volume if missing; an object gives its settings (an existing volume must match them). */
  create?: boolean | Partial<VolumeSettings>;
  /** Placement options for the map (specs/map.md); the defaults suit the explorer. */
  placement?: PlacementOptions;
  /** PixelFS files written, read or verified at once (default 3). */
  parallelFiles?: number;
  /** Bytes per source read (default: the tile size, at most 16 MiB). */
  chunkBytes?: number;
  /** Free bytes on the filesystem holding a folder (tests replace it; default statfs). */
  freeBytes?: (dir: string) => Promise<number>;
}

/** The listing entry; the same shape as the IPC contract's ModelSummary. */
export interface ModelSummary {
  id: string;
  name: string;
  architecture: string;
  parameterCount: number;
  bytes: number;
  tensorTypes: string[];
  verified: VerifyState;
}

export interface ImportProgress {
  phase: 'reading' | 'finishing' | 'done';
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  tensorsDone: number;
  tensorCount: number;
  /** The tensor being read. */
  tensor: string | null;
  /** Bytes this run did not have to store again (complete tensors and reused tiles of an earlier run). */
  bytesReused: number;
}

export interface ImportOptions {
  /** Model name (default: the file name without `.gguf`). */
  name?: string;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** Least milliseconds between progress calls (default 250). */
  progressIntervalMs?: number;
  /**
   * Build the map's level-of-detail pyramid from the bytes as they are stored (default true):
   * one pass over the file instead of a read-back of every tile afterwards.
   */
  pyramid?: boolean;
}

/** What an import did to the model's pyramid (null when it was not asked to build it). */
export interface ImportPyramid {
  built: number;
  alreadyBuilt: number;
  skipped: number;
  cells: number;
}

export interface ImportResult {
  model: ModelSummary;
  manifest: ModelManifest;
  /** The same file was imported already under this name: nothing was done. */
  alreadyImported: boolean;
  /** This run continued an interrupted import. */
  resumed: boolean;
  /** An interrupted import of another file under the same name was discarded first. */
  discardedStale: boolean;
  bytesRead: number;
  bytesReused: number;
  tilesWritten: number;
  tilesDeduped: number;
  tilesResumed: number;
  pyramid: ImportPyramid | null;
  seconds: number;
}

export interface OperationProgress {
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  filesDone: number;
  fileCount: number;
}

export interface ExportOptions {
  /** Replace an existing output file. */
  overwrite?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: OperationProgress) => void;
}

export interface ExportResult {
  path: string;
  size: number;
  sha256: string;
  seconds: number;
}

/** `pack`: a file of the active packed layout (electron/models/layout.ts), checked against the layout journal. */
export type ModelPart = 'header' | 'tensor' | 'padding' | 'manifest' | 'pack';

/** One damaged or missing piece of a model, located in the PixelFS file and in the GGUF. */
export interface ModelProblem {
  part: ModelPart;
  /** PixelFS file. */
  file: string;
  tensor: string | null;
  tensorIndex: number | null;
  tileIndex: number | null;
  /** Byte offset of the damaged range inside the PixelFS file (for a tensor: inside the tensor). */
  fileOffset: number | null;
  length: number | null;
  /** The same range's first byte in the GGUF file (null for the manifest, which is not part of it). */
  ggufOffset: number | null;
  code: string;
  message: string;
}

export interface ModelVerifyReport {
  ok: boolean;
  model: ModelSummary;
  filesChecked: number;
  tilesChecked: number;
  bytesChecked: number;
  problems: ModelProblem[];
  seconds: number;
}

export interface VerifyOptions {
  signal?: AbortSignal;
  onProgress?: (p: OperationProgress) => void;
}

export interface GcResult {
  importsRemoved: number;
  orphanModelsRemoved: number;
  pixelfs: Awaited<ReturnType<Volume['gc']>>;
}

function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw cancelledError(what, signal.reason);
}

function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return s || 'model';
}

function checkName(name: string): void {
  // Printable text only: a name is shown in tables and typed on command lines.
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || /\p{Cc}/u.test(name) || name.trim() !== name) {
    throw new ModelStoreError('MODEL_BAD_NAME', `model name ${JSON.stringify(name.slice(0, 80))} must be 1 to ${MAX_NAME_LENGTH} printable characters without leading or trailing spaces`, {
      field: 'name',
      value: name.slice(0, 80),
    });
  }
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

interface Segment {
  kind: 'tensor' | 'gap';
  /** Tensor index (a gap follows tensor `index`). */
  index: number;
  start: number;
  length: number;
}

/** The data section in file order: each tensor, then the bytes up to the next tensor (or the end). */
function dataSegments(h: GgufHeader): Segment[] {
  const out: Segment[] = [];
  h.tensors.forEach((t, i) => {
    out.push({ kind: 'tensor', index: i, start: t.offset, length: t.byteSize });
    const end = i + 1 < h.tensors.length ? h.tensors[i + 1]!.offset : h.fileSize;
    const gap = end - (t.offset + t.byteSize);
    if (gap > 0) out.push({ kind: 'gap', index: i, start: t.offset + t.byteSize, length: gap });
  });
  return out;
}

/** Reads exactly `length` bytes at `position` into `into` (a short file is an error). */
async function readFully(fh: fs.FileHandle, into: Uint8Array, length: number, position: number, file: string): Promise<void> {
  let n = 0;
  while (n < length) {
    const { bytesRead } = await fh.read(into, n, length - n, position + n);
    if (bytesRead === 0) {
      throw new ModelStoreError('MODEL_SOURCE_CHANGED', `${file}: ended at byte ${position + n} while reading ${length} bytes at ${position}`, { file, field: 'size', value: position + n });
    }
    n += bytesRead;
  }
}

/**
 * Consecutive ranges read into hash-worker slots, one read in flight ahead of the consumer. The
 * consumer owns each yielded slot and must release it.
 */
async function* readIntoSlots(
  fh: fs.FileHandle,
  file: string,
  hasher: HashWorker,
  ranges: Iterable<{ start: number; length: number; seg: Segment }>,
): AsyncGenerator<{ seg: Segment; slot: Slot; length: number }> {
  const it = ranges[Symbol.iterator]();
  const begin = (): Promise<{ seg: Segment; slot: Slot; length: number }> | null => {
    const r = it.next();
    if (r.done) return null;
    const { start, length, seg } = r.value;
    const p = (async () => {
      const slot = await hasher.acquire();
      try {
        await readFully(fh, slot.bytes, length, start, file);
      } catch (e) {
        hasher.release(slot.index);
        throw e;
      }
      return { seg, slot, length };
    })();
    p.catch(() => undefined); // awaited below; never an unhandled rejection
    return p;
  };
  let next = begin();
  try {
    while (next) {
      const cur = await next;
      next = begin();
      yield cur;
    }
  } finally {
    // Stopped early: the read in flight still holds a slot.
    if (next) await next.then((r) => hasher.release(r.slot.index), () => undefined);
  }
}

function* chunked(segs: readonly Segment[], chunk: number): Generator<{ start: number; length: number; seg: Segment }> {
  for (const seg of segs) {
    for (let off = 0; off < seg.length; off += chunk) yield { start: seg.start + off, length: Math.min(chunk, seg.length - off), seg };
  }
}

async function* rangeOf(src: ByteSource, start: number, length: number, chunk: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < length; off += chunk) yield await src.read(start + off, Math.min(chunk, length - off));
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure stops new starts. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      if (signal?.aborted) return;
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { e: unknown }).e;
}

/** The model configuration, or null when the file is not a model of a family we run. */
function configOrNull(h: GgufHeader): ModelConfig | null {
  try {
    return modelConfigFromGguf(h);
  } catch (e) {
    if (e instanceof ModelError) return null;
    throw e;
  }
}

/** general.architecture as the file says it (a catalog column), or "unknown". */
function declaredArchitecture(h: GgufHeader): string {
  const v = h.metadata.get('general.architecture');
  return v?.type === 'string' && v.value.length > 0 ? v.value.slice(0, 64) : 'unknown';
}

interface ImportInput {
  h: GgufHeader;
  src: FileByteSource;
  id: string;
  name: string;
  identity: SourceIdentity;
  headerBytes: Uint8Array;
  segs: Segment[];
  /** Null for a GGUF of a family the engine does not run (stored and explored all the same). */
  config: ModelConfig | null;
  opts: ImportOptions;
  t0: number;
  resumed: boolean;
  discardedStale: boolean;
}

/** The state of one import run: counters and the progress it reports. */
interface ImportRun {
  counts: { tilesWritten: number; tilesDeduped: number; tilesResumed: number; bytesReused: number };
  bytesDone: number;
  tensorsDone: number;
  current: string | null;
  addPut(r: PutResult): void;
  report(phase: ImportProgress['phase'], force?: boolean): void;
}

interface StoredData {
  headerFile: StoredFile;
  shas: string[];
  padding: Uint8Array;
  paddingZero: boolean;
  sourceSha: string;
  pyramid: ImportPyramid | null;
}

/** The manifest's record of a map layout. */
function placementOf(layout: ModelLayout, tileWidth: number, tileHeight: number): MapPlacement {
  return {
    strategy: 'columns-by-block/1',
    tileWidth,
    tileHeight,
    box: { ...layout.box },
    regions: layout.regions.map((r) => ({
      name: r.name,
      kind: r.kind as Exclude<typeof r.kind, 'corpus'>, // a model's layout holds no corpus regions
      x: r.x,
      y: r.y,
      width: r.width,
      height: r.height,
      cols: r.grid.cols,
      rows: r.grid.rows,
      tiles: r.grid.tileCount,
    })),
  };
}

export class ModelStore {
  readonly root: string;
  /** The PixelFS volume underneath (generic files live beside the models). */
  readonly volume: Volume;
  private readonly db: StoreDb;
  /** The Infinite Map's index (regions, tiles, pyramid), in the store's database. */
  readonly map: MapIndex;
  private readonly placement: PlacementOptions;
  private readonly parallel: number;
  private readonly chunkBytes: number;
  private readonly active = new Set<string>();
  private readonly manifests = new Map<string, ModelManifest>();
  private hashWorker: HashWorker | null = null;
  private closed = false;
  /** The file operations of the volume, also used for the store's own outputs (exports). */
  private readonly fileOps: FileOps;
  private readonly freeBytes: (dir: string) => Promise<number>;
  /** What the sweep at open removed: models whose import or removal was cut off. */
  openSweep = { orphanModelsRemoved: 0 };
  /** Layout migrations that a crash cut off, finished or rolled back at open (model id -> what was done). */
  openLayoutRecovery = new Map<string, RecoveryOutcome>();
  /** Which layout each model is read in, and the migrations between layouts (electron/models/layout.ts). */
  private readonly layouts: ModelLayouts;

  private constructor(root: string, volume: Volume, db: StoreDb, opts: ModelStoreOptions) {
    this.root = root;
    this.volume = volume;
    this.db = db;
    this.map = new MapIndex(db.handle);
    this.placement = opts.placement ?? {};
    this.parallel = Math.max(1, opts.parallelFiles ?? 3);
    this.chunkBytes = opts.chunkBytes ?? Math.min(volume.tileBytes, 16 << 20);
    this.fileOps = opts.fileOps ?? nodeFileOps;
    this.freeBytes = opts.freeBytes ?? freeBytesAt;
    this.layouts = new ModelLayouts(root, volume, this.fileOps);
  }

  /** Opens (or with `create`, creates) the volume folder and its model database, then sweeps leftovers of a crash. */
  static async open(dir: string, opts: ModelStoreOptions = {}): Promise<ModelStore> {
    const root = path.resolve(dir);
    const volume = await Volume.open(root, {
      ...(opts.create === undefined ? {} : { create: opts.create }),
      ...(opts.fileOps ? { fileOps: opts.fileOps } : {}),
      ...(opts.pool ? { pool: opts.pool } : {}),
      ...(opts.workers === undefined ? {} : { workers: opts.workers }),
      ...(opts.cacheBytes === undefined ? {} : { cacheBytes: opts.cacheBytes }),
      ...(opts.commitEveryBytes === undefined ? {} : { commitEveryBytes: opts.commitEveryBytes }),
    });
    let db: StoreDb;
    try {
      db = StoreDb.open(path.join(root, STORE_DB_FILE));
    } catch (e) {
      await volume.close();
      throw e;
    }
    const store = new ModelStore(root, volume, db, opts);
    try {
      store.openSweep.orphanModelsRemoved = await store.sweepOrphans();
      await store.recoverLayouts();
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  private assertOpen(): void {
    if (this.closed) throw new ModelStoreError('MODEL_NOT_FOUND', `${this.root}: the model store is closed`, { file: this.root });
  }

  /** The store's hash thread, started at first use (12 slots of one read chunk each). */
  private hasher(): HashWorker {
    this.hashWorker ??= new HashWorker(this.chunkBytes, 12);
    return this.hashWorker;
  }

  // -------------------------------------------------------------------------------------------
  // Listing

  private summary(r: ModelRow): ModelSummary {
    return {
      id: r.id,
      name: r.name,
      architecture: r.architecture,
      parameterCount: r.parameterCount,
      bytes: r.bytes,
      tensorTypes: r.tensorTypes,
      verified: r.verifyState,
    };
  }

  list(): ModelSummary[] {
    this.assertOpen();
    return this.db.models().map((r) => this.summary(r));
  }

  /** A model by id or name; MODEL_NOT_FOUND names what was asked for. */
  get(ref: string): ModelSummary {
    return this.summary(this.row(ref));
  }

  private row(ref: string): ModelRow {
    this.assertOpen();
    const r = this.db.model(ref);
    if (!r) {
      const known = this.db.models().map((m) => m.name);
      throw new ModelStoreError('MODEL_NOT_FOUND', `${this.root}: no model with id or name ${JSON.stringify(ref)}${known.length ? ` (models: ${known.slice(0, 10).join(', ')})` : ' (the volume holds no models)'}`, {
        file: this.root,
        field: 'model',
        value: ref,
      });
    }
    return r;
  }

  /** The model's manifest, parsed and validated (metadata included: for readers such as inspect). */
  manifest(ref: string): ModelManifest {
    const r = this.row(ref);
    return parseManifest(JSON.parse(this.db.manifestJson(r.id)!) as unknown, `${STORE_DB_FILE}:models[${r.id}].manifest`);
  }

  /**
   * The manifest without its metadata entries, cached: what export, verify and reads need. A
   * Qwen vocabulary is ~300k strings; kept alive, it would make every garbage collection of a
   * multi-GB export mark them again.
   */
  private layout(ref: string): ModelManifest {
    const r = this.row(ref);
    let m = this.manifests.get(r.id);
    if (!m) {
      m = { ...this.manifest(r.id), metadata: [] };
      if (this.manifests.size > 16) this.manifests.clear();
      this.manifests.set(r.id, m);
    }
    return m;
  }

  /** The last verify report stored for the model, if any. */
  lastVerify(ref: string): ModelVerifyReport | null {
    const json = this.db.verifyReport(this.row(ref).id);
    return json ? (JSON.parse(json) as ModelVerifyReport) : null;
  }

  /** Imports that started and did not finish (a rerun resumes them; gc with `pending` removes them). */
  pendingImports(): ImportRow[] {
    this.assertOpen();
    return this.db.imports();
  }

  stats(): VolumeStats {
    return this.volume.stats();
  }

  integrityCheck(): { catalog: string[]; store: string[] } {
    return { catalog: this.volume.integrityCheck(), store: this.db.integrityCheck() };
  }

  // -------------------------------------------------------------------------------------------
  // Import

  /**
   * Imports a GGUF file. The header is parsed and the model configured before anything is
   * written, so a malformed, truncated or unsupported file is refused with the volume untouched.
   */
  async import(sourcePath: string, opts: ImportOptions = {}): Promise<ImportResult> {
    this.assertOpen();
    const t0 = performance.now();
    throwIfAborted(opts.signal, 'import');
    const file = path.resolve(sourcePath);
    let st: Stats;
    let src: FileByteSource;
    try {
      src = await FileByteSource.open(file);
      st = await fs.stat(file);
    } catch (e) {
      throw new ModelStoreError('MODEL_SOURCE_UNREADABLE', `cannot read ${file}: ${(e as Error).message}`, { file, field: 'source', value: (e as NodeJS.ErrnoException).code ?? 'ERROR' });
    }
    try {
      const h = await readGgufHeader(src, { name: path.basename(file) });
      const config = configOrNull(h);
      const segs = dataSegments(h);
      const paddingBytes = segs.reduce((n, s) => n + (s.kind === 'gap' ? s.length : 0), 0);
      if (paddingBytes > MAX_PADDING_BYTES) {
        throw new ModelStoreError('MODEL_PADDING_TOO_LARGE', `${h.file}: ${paddingBytes} bytes lie outside the tensors (padding and trailing data); the store keeps at most ${MAX_PADDING_BYTES}`, {
          file: h.file,
          field: 'padding',
          value: paddingBytes,
        });
      }
      const headerSize = Math.min(h.dataOffset, h.fileSize);
      const headerBytes = new Uint8Array(await src.read(0, headerSize));
      const identity: SourceIdentity = { path: realpathSync(file), size: st.size, mtimeMs: st.mtimeMs, headerSha256: sha256(headerBytes) };
      const name = opts.name ?? (path.basename(file).replace(/\.gguf$/i, '') || 'model');
      checkName(name);

      const existing = this.db.model(name);
      if (existing && existing.name === name) {
        if (sameSource(identity, { path: existing.sourcePath, size: existing.bytes, mtimeMs: existing.sourceMtimeMs, headerSha256: existing.headerSha256 })) {
          return { ...this.emptyResult(existing, t0), alreadyImported: true };
        }
        throw new ModelStoreError('MODEL_EXISTS', `${this.root}: a model named ${JSON.stringify(name)} exists (id ${existing.id}); choose another name or remove it first`, {
          file: h.file,
          field: 'name',
          value: name,
        });
      }
      if (existing) {
        throw new ModelStoreError('MODEL_EXISTS', `${this.root}: ${JSON.stringify(name)} is the id of model ${JSON.stringify(existing.name)}; choose another name`, { file: h.file, field: 'name', value: name });
      }

      let pending = this.db.importByName(name);
      let discardedStale = false;
      if (pending && this.active.has(pending.modelId)) {
        throw new ModelStoreError('MODEL_EXISTS', `${this.root}: an import named ${JSON.stringify(name)} is running`, { file: h.file, field: 'name', value: name });
      }
      if (pending && !sameSource(identity, pending)) {
        // An interrupted import of another file (or of this file before it changed): its bytes
        // are not this file's, so nothing of it may be reused.
        await this.discard(pending.modelId);
        this.db.dropImport(pending.modelId);
        pending = undefined;
        discardedStale = true;
      }
      // A new import needs about the source's size again for its tiles (less with deflate and
      // dedup): refuse up front, naming the folder, rather than fail with ENOSPC midway.
      if (!pending) await checkFreeSpace(this.root, st.size, `importing ${file}`, this.freeBytes);
      const resumed = pending !== undefined;
      let id: string;
      if (pending) {
        id = pending.modelId;
      } else {
        do id = `${slug(name)}-${randomBytes(4).toString('hex')}`;
        while (this.db.idInUse(id) || !MODEL_ID.test(id));
        const newId = id;
        // The import record and the model's place on the map in one commit: the pyramid's cells
        // are written to those regions as the bytes stream (§6), and a rerun finds them.
        this.db.transaction(() => {
          this.db.beginImport({ ...identity, modelId: newId, name, startedAt: Date.now() });
          this.map.putRegions(this.placeOnMap(newId, h).regions);
        });
      }
      this.active.add(id);
      try {
        return await this.runImport({ h, src, id, name, identity, headerBytes, segs, config, opts, t0, resumed, discardedStale });
      } catch (e) {
        throw mapNoSpace(e, this.root, `importing ${file}`, st.size);
      } finally {
        this.active.delete(id);
      }
    } finally {
      await src.close();
    }
  }

  private emptyResult(r: ModelRow, t0: number): ImportResult {
    return {
      model: this.summary(r),
      manifest: this.manifest(r.id),
      alreadyImported: false,
      resumed: false,
      discardedStale: false,
      bytesRead: 0,
      bytesReused: 0,
      tilesWritten: 0,
      tilesDeduped: 0,
      tilesResumed: 0,
      pyramid: null,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  private async runImport(a: ImportInput): Promise<ImportResult> {
    const { h, opts } = a;
    const vol = this.volume;
    // Progress is bytes read in file order (the puts trail it by at most a few tiles).
    const meter = new RateMeter();
    const interval = opts.progressIntervalMs ?? 250;
    let lastReport = -Infinity;
    const run: ImportRun = {
      counts: { tilesWritten: 0, tilesDeduped: 0, tilesResumed: 0, bytesReused: 0 },
      bytesDone: 0,
      tensorsDone: 0,
      current: null,
      addPut(r) {
        run.counts.tilesWritten += r.tilesWritten;
        run.counts.tilesDeduped += r.tilesDeduped;
        run.counts.tilesResumed += r.tilesResumed;
        run.counts.bytesReused += Math.min(r.size, r.tilesResumed * vol.tileBytes);
      },
      report(phase, force = false) {
        if (!opts.onProgress) return;
        const now = performance.now();
        if (!force && now - lastReport < interval) return;
        lastReport = now;
        const rate = meter.sample(run.bytesDone, h.fileSize);
        opts.onProgress({
          phase,
          bytesDone: run.bytesDone,
          bytesTotal: h.fileSize,
          bytesPerSecond: rate.bytesPerSecond,
          etaSeconds: phase === 'done' ? 0 : rate.etaSeconds,
          tensorsDone: run.tensorsDone,
          tensorCount: h.tensors.length,
          tensor: run.current,
          bytesReused: run.counts.bytesReused,
        });
      },
    };
    run.report('reading', true);
    const layout = this.layoutOf(a.id, h);
    // The weights regions the pyramid is written to, by tensor name (none without a pyramid).
    const regions = new Map<string, IndexedRegion>();
    if (opts.pyramid !== false) for (const r of this.map.listRegions(a.id)) if (r.kind === 'weights') regions.set(r.name, r);
    // The whole file's sha256 runs on the hash thread over the slots the reads land in.
    const stream = this.hasher().stream();
    const fh = await fs.open(a.identity.path, 'r');
    try {
      const data = await this.storeData(a, run, stream, fh, regions);
      return await this.finishImport(a, run, data, layout);
    } finally {
      stream.drop();
      await fh.close();
    }
  }

  /**
   * Step 3 of an import (specs/pxi_llm.md §8): one sequential pass over the file that hashes
   * it, streams every tensor into its PixelFS file and collects the gaps.
   */
  private async storeData(a: ImportInput, run: ImportRun, stream: HashStream, fh: fs.FileHandle, regions: ReadonlyMap<string, IndexedRegion>): Promise<StoredData> {
    const { h, src, id, opts } = a;
    const hasher = this.hasher();
    const vol = this.volume;
    const signal = opts.signal;
    const counts = run.counts;

    await hasher.updateFrom(stream, a.headerBytes);
    run.bytesDone = a.headerBytes.length;
    const headerFile = await this.putSmall(modelPaths.header(id), a.headerBytes, counts);

    const shas: string[] = new Array<string>(h.tensors.length);
    const open = new Set<Promise<void>>();
    let failure: { e: unknown } | null = null;
    const fail = (e: unknown): void => {
      failure ??= { e };
    };
    const track = (p: Promise<void>): void => {
      const q = p.catch(fail).finally(() => open.delete(q));
      open.add(q);
    };
    const padding = new Uint8Array(a.segs.reduce((n, s) => n + (s.kind === 'gap' ? s.length : 0), 0));
    let padPos = 0;
    let paddingZero = true;

    const pyramid: ImportPyramid | null = regions.size > 0 ? { built: 0, alreadyBuilt: 0, skipped: 0, cells: 0 } : null;
    // The pyramid of the tensor being read, fed the same bytes as its put (null: none to build).
    let pyr: TensorPyramidWriter | null = null;
    let seg: Segment | null = null;
    let channel: ChunkChannel | null = null;
    let check: { hash: ReturnType<typeof createHash>; stored: string } | null = null;
    const finishSegment = (): void => {
      if (!seg || seg.kind !== 'tensor') return;
      const i = seg.index;
      const t = h.tensors[i]!;
      if (channel) {
        channel.end();
      } else if (check) {
        if (check.hash.digest('hex') === check.stored) {
          shas[i] = check.stored;
          counts.bytesReused += t.byteSize;
        } else {
          // A complete file from the earlier run holds other bytes (the source was replaced by
          // one with the same size, mtime and header): store this tensor again.
          track(
            vol.put(modelPaths.tensor(id, i), rangeOf(src, t.offset, t.byteSize, this.chunkBytes), { overwrite: true, size: t.byteSize, window: 4 }).then((r) => {
              shas[i] = r.sha256;
              run.addPut(r);
            }),
          );
        }
      }
      if (pyr && pyramid) {
        pyramid.cells += pyr.finish().cells;
        pyramid.built++;
      }
      pyr = null;
      run.tensorsDone++;
      channel = null;
      check = null;
    };

    const beginPyramid = (t: { name: string }): void => {
      const region = regions.get(t.name);
      if (!region || !pyramid) return;
      if (region.pyramid.state === 'built') {
        pyramid.alreadyBuilt++;
        return;
      }
      const w = TensorPyramidWriter.open(this.map, region, DEFAULT_HEAT_SIZE);
      if (w instanceof TensorPyramidWriter) pyr = w;
      else pyramid.skipped++;
    };

    const beginTensor = async (i: number): Promise<void> => {
      const t = h.tensors[i]!;
      run.current = t.name;
      while (open.size >= this.parallel && !failure) await Promise.race(open);
      if (failure) return;
      beginPyramid(t);
      const name = modelPaths.tensor(id, i);
      const done = vol.stat(name);
      if (done && done.size === t.byteSize) {
        check = { hash: createHash('sha256'), stored: done.sha256 };
        return;
      }
      const ch = new ChunkChannel(2);
      channel = ch;
      track(
        vol
          .put(name, ch, { overwrite: done !== undefined, size: t.byteSize, window: 4 })
          .then((r) => {
            shas[i] = r.sha256;
            run.addPut(r);
          })
          .finally(() => ch.close()),
      );
    };

    try {
      for await (const { seg: s, slot, length } of readIntoSlots(fh, h.file, hasher, chunked(a.segs, this.chunkBytes))) {
        // This loop owns `slot` until it hands it to a channel or releases it.
        let owned = true;
        try {
          if (failure) break;
          if (signal?.aborted) {
            fail(cancelledError('import', signal.reason));
            break;
          }
          if (s !== seg) {
            finishSegment();
            seg = s;
            if (s.kind === 'tensor') await beginTensor(s.index);
            if (failure) break;
          }
          stream.update(slot, length);
          const bytes = slot.bytes.subarray(0, length);
          run.bytesDone += length;
          // Before the bytes go to the put, which may hand the slot back as soon as it has them.
          if (s.kind === 'tensor') (pyr as TensorPyramidWriter | null)?.write(bytes);
          if (s.kind === 'gap') {
            padding.set(bytes, padPos);
            padPos += length;
            if (paddingZero) paddingZero = bytes.every((b) => b === 0);
          } else if (check) {
            (check as { hash: ReturnType<typeof createHash> }).hash.update(bytes);
          } else if (channel) {
            try {
              owned = false;
              await (channel as ChunkChannel).push(bytes, () => hasher.release(slot.index));
            } catch {
              owned = true;
              // The put stopped reading: its own rejection (recorded by track) says why.
              await Promise.allSettled([...open]);
              break;
            }
          }
          run.report('reading');
        } finally {
          if (owned) hasher.release(slot.index);
        }
      }
      if (!failure) finishSegment();
    } catch (e) {
      fail(e);
    }
    if (failure) (channel as ChunkChannel | null)?.fail((failure as { e: unknown }).e);
    run.report('finishing', true);
    await Promise.allSettled([...open]);
    if (failure) {
      const e = (failure as { e: unknown }).e;
      throw signal?.aborted ? cancelledError('import', signal.reason) : e;
    }
    throwIfAborted(signal, 'import');
    return { headerFile, shas, padding, paddingZero, sourceSha: await stream.digest(), pyramid };
  }

  /** Steps 4 and 5: check the source did not change, write padding, placement and manifest, commit. */
  private async finishImport(a: ImportInput, run: ImportRun, data: StoredData, layout: ModelLayout): Promise<ImportResult> {
    const { h, id } = a;
    const vol = this.volume;
    const counts = run.counts;
    const { headerFile, shas, padding, paddingZero, sourceSha } = data;
    // The file must not have changed under us: what we stored is what we hashed.
    const after = await fs.stat(a.identity.path);
    if (after.size !== a.identity.size || after.mtimeMs !== a.identity.mtimeMs) {
      throw new ModelStoreError('MODEL_SOURCE_CHANGED', `${h.file} changed while it was imported (size ${a.identity.size} -> ${after.size}); import it again`, {
        file: h.file,
        field: 'mtime',
        value: after.mtimeMs,
      });
    }

    let paddingFile: StoredFile | null = null;
    if (!paddingZero) paddingFile = await this.putSmall(modelPaths.padding(id), padding, counts);

    const tensors: ManifestTensor[] = h.tensors.map((t, i) => ({
      index: i,
      name: t.name,
      type: ggmlType(t.type).name,
      typeId: t.type,
      dims: [...t.dims],
      elements: t.elementCount,
      offset: t.offset,
      bytes: t.byteSize,
      file: modelPaths.tensor(id, i),
      sha256: shas[i]!,
    }));
    const placement = placementOf(layout, vol.settings.tileWidth, vol.settings.tileHeight);
    const manifest: ModelManifest = {
      format: PXI_LLM_FORMAT,
      formatVersion: PXI_LLM_VERSION,
      id,
      name: a.name,
      createdAt: new Date().toISOString(),
      producer: `pixel-llm ${packageVersion()}`,
      source: { fileName: path.basename(a.identity.path), size: h.fileSize, sha256: sourceSha },
      gguf: { version: h.version, alignment: h.alignment, headerEnd: h.headerEnd, dataOffset: h.dataOffset, tensorCount: h.tensors.length, kvCount: h.metadata.size },
      storage: { tileWidth: vol.settings.tileWidth, tileHeight: vol.settings.tileHeight, tileBytes: vol.tileBytes, level: vol.settings.level },
      header: headerFile,
      padding: { bytes: padding.length, allZero: paddingZero, file: paddingFile },
      tensors,
      metadata: encodeMetadata(h.metadata),
      config: a.config,
      map: placement,
    };
    const json = JSON.stringify(manifest);
    parseManifest(JSON.parse(json) as unknown, `manifest of ${id}`); // what readers will see must validate
    const manifestFile = await this.putSmall(modelPaths.manifest(id), new TextEncoder().encode(json), counts, true);

    const byType = new Map<string, number>();
    for (const t of tensors) byType.set(t.type, (byType.get(t.type) ?? 0) + t.bytes);
    const row: Omit<ModelRow, 'verifyState' | 'verifiedAt'> = {
      id,
      name: a.name,
      architecture: a.config?.architecture ?? declaredArchitecture(h),
      parameterCount: h.tensors.reduce((n, t) => n + t.elementCount, 0),
      bytes: h.fileSize,
      tensorTypes: [...byType].sort((x, y) => y[1] - x[1]).map(([t]) => t),
      sourceSha256: sourceSha,
      sourcePath: a.identity.path,
      sourceMtimeMs: a.identity.mtimeMs,
      headerSha256: a.identity.headerSha256,
      manifestSha256: manifestFile.sha256,
      createdAt: Date.now(),
    };
    // One commit: the model row and the end of the import record (its map regions are there
    // since the import began).
    this.db.completeImport(row, json);
    run.current = null;
    run.report('done', true);
    return {
      model: this.summary({ ...row, verifyState: 'unverified', verifiedAt: null }),
      manifest,
      alreadyImported: false,
      resumed: a.resumed,
      discardedStale: a.discardedStale,
      bytesRead: run.bytesDone,
      ...counts,
      pyramid: data.pyramid,
      seconds: (performance.now() - a.t0) / 1000,
    };
  }

  /** Stores bytes held in memory, keeping a complete file that already has them. */
  private async putSmall(
    name: string,
    bytes: Uint8Array,
    counts: { tilesWritten: number; tilesDeduped: number; tilesResumed: number; bytesReused: number },
    replaceAlways = false,
  ): Promise<StoredFile> {
    const sha = sha256(bytes);
    const have = this.volume.stat(name);
    if (have && have.sha256 === sha && have.size === bytes.length && !replaceAlways) {
      counts.bytesReused += bytes.length;
      return { name, size: bytes.length, sha256: sha };
    }
    if (have && have.sha256 === sha && have.size === bytes.length) return { name, size: bytes.length, sha256: sha };
    const r = await this.volume.put(name, [bytes], { overwrite: have !== undefined, size: bytes.length });
    counts.tilesWritten += r.tilesWritten;
    counts.tilesDeduped += r.tilesDeduped;
    counts.tilesResumed += r.tilesResumed;
    return { name, size: r.size, sha256: r.sha256 };
  }

  // -------------------------------------------------------------------------------------------
  // Files of a model

  private modelFiles(m: ModelManifest): { part: ModelPart; file: StoredFile; tensorIndex: number | null }[] {
    const out: { part: ModelPart; file: StoredFile; tensorIndex: number | null }[] = [{ part: 'header', file: m.header, tensorIndex: null }];
    for (const t of m.tensors) out.push({ part: 'tensor', file: { name: t.file, size: t.bytes, sha256: t.sha256 }, tensorIndex: t.index });
    if (m.padding.file) out.push({ part: 'padding', file: m.padding.file, tensorIndex: null });
    const r = this.db.model(m.id);
    out.push({ part: 'manifest', file: { name: modelPaths.manifest(m.id), size: -1, sha256: r?.manifestSha256 ?? '' }, tensorIndex: null });
    return out;
  }

  /** GGUF offset of byte `off` of the padding file (the gaps after each tensor, concatenated). */
  private paddingToGguf(m: ModelManifest, off: number): number {
    const gaps = paddingSegments(m);
    let acc = 0;
    for (let i = 0; i < gaps.length; i++) {
      if (off < acc + gaps[i]!) return m.tensors[i]!.offset + m.tensors[i]!.bytes + (off - acc);
      acc += gaps[i]!;
    }
    return m.source.size;
  }

  // -------------------------------------------------------------------------------------------
  // Verify

  /**
   * Re-reads and re-hashes every tile of every file of the model and checks each file's sha256
   * against the manifest. Damage is located by tile, tensor and GGUF byte range.
   */
  async verify(ref: string, opts: VerifyOptions = {}): Promise<ModelVerifyReport> {
    const t0 = performance.now();
    const r = this.row(ref);
    const m = this.layout(r.id);
    // The engine reads a packed model from its packs: they are checked too, against the journal.
    const packs = (await this.layouts.journal(m)).active?.packs ?? [];
    const files = [...this.modelFiles(m), ...packs.map((p) => ({ part: 'pack' as const, file: { name: p.file, size: p.size, sha256: p.sha256 }, tensorIndex: null }))];
    const vol = this.volume;
    const total = files.reduce((n, f) => n + Math.max(0, f.file.size), 0);
    const meter = new RateMeter();
    const progress = { bytesDone: 0, filesDone: 0 };
    const results: ModelProblem[][] = files.map(() => []);
    let tilesChecked = 0;
    let bytesChecked = 0;
    await eachLimited(
      files,
      this.parallel,
      async (f, i) => {
        throwIfAborted(opts.signal, 'verify');
        const t = f.tensorIndex === null ? null : m.tensors[f.tensorIndex]!;
        const problem = (p: Partial<ModelProblem> & { code: string; message: string }): void => {
          results[i]!.push({
            part: f.part,
            file: f.file.name,
            tensor: t?.name ?? null,
            tensorIndex: t?.index ?? null,
            tileIndex: null,
            fileOffset: null,
            length: null,
            ggufOffset: null,
            ...p,
          });
        };
        const info = vol.stat(f.file.name);
        if (!info) {
          problem({ code: PixelFsCodes.FILE_NOT_FOUND, message: `${f.file.name} is missing from the volume${t ? ` (tensor ${t.name})` : ''}` });
          return;
        }
        if (info.sha256 !== f.file.sha256 || (f.file.size >= 0 && info.size !== f.file.size)) {
          problem({ code: PixelFsCodes.FILE_CHECKSUM_MISMATCH, message: `${f.file.name}: the volume holds ${info.size} bytes with sha256 ${info.sha256}, the manifest says ${f.file.size} bytes with ${f.file.sha256}` });
        }
        const rep = await vol.verify(f.file.name);
        tilesChecked += rep.tilesChecked;
        bytesChecked += rep.bytesChecked;
        for (const p of rep.problems) {
          const off = p.offset ?? null;
          let gguf: number | null = null;
          if (off !== null) {
            if (f.part === 'header') gguf = off;
            else if (f.part === 'tensor') gguf = t!.offset + off;
            else if (f.part === 'padding') gguf = this.paddingToGguf(m, off);
          }
          const where =
            p.tileIndex === undefined
              ? ''
              : `tile ${p.tileIndex}${off !== null ? ` = ${f.part === 'tensor' ? 'tensor' : 'file'} bytes ${off}..${off + (p.length ?? 1) - 1}` : ''}${gguf !== null ? `, GGUF bytes ${gguf}..${gguf + (p.length ?? 1) - 1}` : ''}: `;
          problem({
            tileIndex: p.tileIndex ?? null,
            fileOffset: off,
            length: p.length ?? null,
            ggufOffset: gguf,
            code: p.code,
            message: `${t ? `tensor ${t.name} (#${t.index})` : f.part}: ${where}${p.message}`,
          });
        }
        progress.bytesDone += Math.max(0, f.file.size);
        progress.filesDone++;
        const rate = meter.sample(progress.bytesDone, total);
        opts.onProgress?.({ ...progress, bytesTotal: total, ...rate, fileCount: files.length });
      },
      opts.signal,
    );
    throwIfAborted(opts.signal, 'verify');
    const problems = results.flat();
    const state: VerifyState = problems.length === 0 ? 'ok' : 'corrupt';
    const report: ModelVerifyReport = {
      ok: problems.length === 0,
      model: { ...this.summary(r), verified: state },
      filesChecked: files.length,
      tilesChecked,
      bytesChecked,
      problems,
      seconds: (performance.now() - t0) / 1000,
    };
    this.db.setVerify(r.id, state, Date.now(), JSON.stringify(report));
    return report;
  }

  // -------------------------------------------------------------------------------------------
  // Export and reads

  /**
   * Streams the stored files of `m` in GGUF order: header, then each tensor followed by its
   * padding. Up to `parallel` files are decoded ahead of the one being consumed.
   */
  private async *ggufChunks(m: ModelManifest, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
    const vol = this.volume;
    const gaps = paddingSegments(m);
    const padding = m.padding.file ? await vol.read(m.padding.file.name, 0, m.padding.file.size) : null;
    if (padding && sha256(padding) !== m.padding.file!.sha256) {
      throw new ModelStoreError('MODEL_CORRUPT', `${m.padding.file!.name}: sha256 differs from the manifest`, { file: m.padding.file!.name, field: 'sha256' });
    }
    const names = [m.header.name, ...m.tensors.map((t) => t.file)];
    const pipes: { pipe: Pipe; done: Promise<void> }[] = [];
    let started = 0;
    const start = (): void => {
      const name = names[started++]!;
      const pipe = new Pipe();
      // The export loop copies or writes each chunk before it asks for the next (which is when
      // the Pipe acknowledges it), so PixelFS may reuse the chunk's memory: no copy per tile.
      // PixelFS checks every tile's sha256; the file's own sha256 would be a third pass over the
      // bytes that export() already checks as part of the whole GGUF's sha256 against the source.
      const done = vol.get(name, pipe, { reuseChunks: true, skipFileHash: true }).then(
        () => undefined,
        (e: unknown) => pipe.fail(e),
      );
      pipes.push({ pipe, done });
    };
    let zeros: Uint8Array | null = null;
    let padPos = 0;
    try {
      for (let k = 0; k < names.length; k++) {
        // One file fewer ahead than imports overlap: each get holds a decode window of tiles.
        while (started < names.length && started < k + Math.max(1, this.parallel - 1)) start();
        const { pipe, done } = pipes[k]!;
        for await (const chunk of pipe) {
          throwIfAborted(signal, 'export');
          yield chunk;
        }
        await done;
        if (k >= 1) {
          const gap = gaps[k - 1]!;
          if (gap > 0) {
            if (padding) yield padding.subarray(padPos, padPos + gap);
            else {
              if (!zeros || zeros.length < gap) zeros = new Uint8Array(Math.max(gap, 4096));
              yield zeros.subarray(0, gap);
            }
            padPos += gap;
          }
        }
      }
    } finally {
      // Stopped early (error, cancel): let the gets still running unwind, then wait for them.
      const stop = new Error('export stopped');
      for (const p of pipes) p.pipe.abandon(stop);
      await Promise.allSettled(pipes.map((p) => p.done));
    }
  }

  /**
   * `ggufChunks` with every byte hashed on the hash thread on its way out; after the last chunk
   * it throws MODEL_CORRUPT when the count or the sha256 differ from the source's, so a writer
   * that holds back its last bytes until the loop ends never finishes a wrong file. `dest`
   * names where the bytes go, for that error.
   */
  private async *checkedGgufChunks(m: ModelManifest, signal: AbortSignal | undefined, dest: string): AsyncGenerator<Uint8Array> {
    const hasher = this.hasher();
    const stream = hasher.stream();
    try {
      let bytes = 0;
      for await (const chunk of this.ggufChunks(m, signal)) {
        await hasher.updateFrom(stream, chunk);
        bytes += chunk.length;
        yield chunk;
      }
      const got = await stream.digest();
      if (bytes !== m.source.size || got !== m.source.sha256) {
        throw new ModelStoreError(
          'MODEL_CORRUPT',
          `export of ${m.name}: wrote ${bytes} bytes with sha256 ${got}, the source had ${m.source.size} bytes with ${m.source.sha256} (pxi verify names the file and tile that differ)`,
          { file: dest, field: 'sha256', value: got },
        );
      }
    } finally {
      stream.drop();
    }
  }

  /**
   * Writes the model back as a GGUF file byte-identical to the imported one: to a temp file in
   * the destination folder, checked against the source sha256, fsynced, then renamed.
   */
  async export(ref: string, outPath: string, opts: ExportOptions = {}): Promise<ExportResult> {
    const t0 = performance.now();
    const m = this.layout(ref);
    const out = path.resolve(outPath);
    if (!opts.overwrite) {
      const exists = await fs.stat(out).then(
        () => true,
        () => false,
      );
      if (exists) throw new ModelStoreError('MODEL_EXPORT_EXISTS', `${out} exists (pass overwrite to replace it)`, { file: out, field: 'out', value: out });
    }
    // Refuse up front when the output cannot fit; an ENOSPC that comes anyway is mapped below.
    const outDir = path.dirname(out);
    await checkFreeSpace(outDir, m.source.size, `exporting ${m.name} to ${out}`, this.freeBytes);
    // Through the project's one durable write (temp beside OUT, fsync, rename, fsync the folder);
    // a mismatch throws inside (after the last chunk), so the temp goes and OUT is untouched.
    const pos = await writeFileDurableStream(
      out,
      async (sink) => {
        const meter = new RateMeter();
        let last = -Infinity;
        for await (const chunk of this.checkedGgufChunks(m, opts.signal, out)) {
          await sink.write(chunk);
          const now = performance.now();
          if (opts.onProgress && now - last >= 250) {
            last = now;
            opts.onProgress({ bytesDone: sink.bytes, bytesTotal: m.source.size, ...meter.sample(sink.bytes, m.source.size), filesDone: 0, fileCount: m.tensors.length + 1 });
          }
        }
        return sink.bytes;
      },
      { rolling: true, ops: this.fileOps },
    ).catch((e: unknown) => {
      throw mapNoSpace(e, outDir, `exporting ${m.name} to ${out}`, m.source.size);
    });
    return { path: out, size: pos, sha256: m.source.sha256, seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * The model as its GGUF file for a reader elsewhere (browser mode's download): the model is
   * looked up now (MODEL_NOT_FOUND before any byte), `chunks` then yields the file in order,
   * each chunk valid only until the next is asked for, and throws MODEL_CORRUPT after the last
   * one when the whole does not match the source's sha256 (see checkedGgufChunks).
   */
  exportStream(ref: string, signal?: AbortSignal): { id: string; name: string; size: number; sha256: string; chunks: AsyncGenerator<Uint8Array> } {
    const m = this.layout(ref);
    return { id: m.id, name: m.name, size: m.source.size, sha256: m.source.sha256, chunks: this.checkedGgufChunks(m, signal, 'download') };
  }

  /** Bytes of one tensor (`offset`, `length` within it), every tile verified on the way. */
  async readTensor(ref: string, tensor: string, offset = 0, length?: number): Promise<Buffer> {
    const m = this.layout(ref);
    const t = m.tensors.find((x) => x.name === tensor);
    if (!t) throw new ModelStoreError('MODEL_NOT_FOUND', `model ${m.name} has no tensor ${JSON.stringify(tensor)}`, { file: m.id, field: 'tensor', value: tensor });
    return this.layouts.read(m, t, offset, length ?? t.bytes - offset);
  }

  /**
   * Where a tensor's bytes are now (its file and offset in the active layout): what the map's
   * region details name and its stored tiles resolve through (specs/map.md §2).
   */
  async tensorLocation(ref: string, tensor: string): Promise<TensorLocation> {
    const m = this.layout(ref);
    const t = m.tensors.find((x) => x.name === tensor);
    if (!t) throw new ModelStoreError('MODEL_NOT_FOUND', `model ${m.name} has no tensor ${JSON.stringify(tensor)}`, { file: m.id, field: 'tensor', value: tensor });
    return this.layouts.location(m, t);
  }

  // -------------------------------------------------------------------------------------------
  // Layout (issue 12 §4): which PixelFS files a model's tensors are read from

  /**
   * Finishes or rolls back every layout migration a crash cut off; drops journals of removed
   * models. Only models with a journal or pack files are looked at (parsing every manifest at
   * each open would cost a large vocabulary's worth of time per model).
   */
  private async recoverLayouts(): Promise<void> {
    const ids = new Set<string>();
    for (const n of [...this.volume.ls().map((f) => f.name), ...this.volume.pending().map((p) => p.name)]) {
      const id = /^models\/([^/]+)\/layout-/.exec(n)?.[1];
      if (id) ids.add(id);
    }
    let names: string[] = [];
    try {
      names = await fs.readdir(path.join(this.root, LAYOUTS_DIR));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const n of names) {
      const id = /^([a-z0-9][a-z0-9-]{0,63})\.json$/.exec(n)?.[1];
      if (!id) continue; // temp files of a cut-off journal write (nothing reads them) and anything not ours
      if (this.db.model(id)) ids.add(id);
      else if (!this.db.imports().some((i) => i.modelId === id)) await this.layouts.forget(id);
    }
    for (const id of ids) {
      if (!this.db.model(id)) continue; // pack files of a removed model: the orphan sweep's
      const what = await this.layouts.recover(this.layout(id));
      if (what !== 'none') this.openLayoutRecovery.set(id, what);
    }
  }

  /** The model's layout journal: the active layout, a cut-off migration, the decisions taken. */
  async layoutJournal(ref: string): Promise<LayoutJournal> {
    return this.layouts.journal(this.layout(ref));
  }

  /** The trace a load makes when none was recorded: every tensor whole, in the tensor table's order (Model.load's order). */
  tableTrace(ref: string): TensorRead[] {
    return this.layout(ref).tensors.map((t) => ({ tensor: t.name, offset: 0, length: t.bytes }));
  }

  /** Proposes a packed layout for `trace`, with its cost before (in the active layout) and after. Writes nothing. */
  async planLayout(ref: string, trace: readonly TensorRead[], opts: { maxPackBytes?: number; traceName?: string } = {}): Promise<LayoutPlan> {
    const m = this.layout(ref);
    return planLayout(trace, m.tensors, placesOf(m, await this.layouts.journal(m)), this.volume.tileBytes, opts);
  }

  /** Plans and applies a packed layout (journaled; see electron/models/layout.ts). With `measure`, times a cold read of the trace before and after. */
  async applyLayout(ref: string, trace: readonly TensorRead[], opts: { maxPackBytes?: number; traceName?: string; measure?: boolean } = {}): Promise<LayoutDecision> {
    const m = this.layout(ref);
    const plan = await this.planLayout(m.id, trace, opts);
    const measure = opts.measure ? async () => (await this.layouts.coldRead(trace, (r) => this.readTensor(m.id, r.tensor, r.offset, r.length))).ms : undefined;
    return this.layouts.apply(m, plan, trace, measure);
  }

  /** Switches the model back to its import layout and removes the packs. */
  async undoLayout(ref: string, trace?: readonly TensorRead[]): Promise<LayoutDecision> {
    const m = this.layout(ref);
    return this.layouts.undo(m, trace ?? this.tableTrace(m.id));
  }

  /** A cold read of `trace` in the model's active layout: wall time and tiles loaded (benchmarks). */
  async coldRead(ref: string, trace: readonly TensorRead[]): Promise<{ ms: number; tileLoads: number }> {
    const id = this.row(ref).id;
    return this.layouts.coldRead(trace, (r) => this.readTensor(id, r.tensor, r.offset, r.length));
  }

  /** Every layout decision of every model, oldest first (what a dashboard lists). */
  async layoutDecisions(): Promise<LayoutDecision[]> {
    const out: LayoutDecision[] = [];
    for (const r of this.db.models()) out.push(...(await this.layouts.journal(this.layout(r.id))).decisions);
    return out.sort((a, b) => a.at.localeCompare(b.at));
  }

  /**
   * The stored model seen as its GGUF file, without exporting it: range reads are served from
   * the header, tensor and padding files (so the GGUF reader, the engine and the map can read a
   * stored model directly).
   */
  ggufSource(ref: string): ByteSource {
    const m = this.layout(ref);
    const vol = this.volume;
    const gaps = paddingSegments(m);
    // [start, end, file or null (zeros), offset of start inside that file]
    const parts: { start: number; end: number; file: string | null; at: number }[] = [{ start: 0, end: m.header.size, file: m.header.name, at: 0 }];
    let padAt = 0;
    m.tensors.forEach((t, i) => {
      parts.push({ start: t.offset, end: t.offset + t.bytes, file: t.file, at: 0 });
      const g = gaps[i]!;
      if (g > 0) parts.push({ start: t.offset + t.bytes, end: t.offset + t.bytes + g, file: m.padding.file?.name ?? null, at: padAt });
      padAt += g;
    });
    const size = m.source.size;
    return {
      size,
      async read(offset: number, length: number): Promise<Uint8Array> {
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
          throw new ModelStoreError('MODEL_NOT_FOUND', `read of ${length} bytes at ${offset} is outside the model's ${size} bytes`, { file: m.id, field: 'range', value: offset });
        }
        const out = new Uint8Array(length);
        let lo = 0;
        let hi = parts.length - 1;
        while (lo < hi) {
          const mid = (lo + hi + 1) >> 1;
          if (parts[mid]!.start <= offset) lo = mid;
          else hi = mid - 1;
        }
        for (let k = lo; k < parts.length && parts[k]!.start < offset + length; k++) {
          const p = parts[k]!;
          const from = Math.max(offset, p.start);
          const to = Math.min(offset + length, p.end);
          if (to <= from || p.file === null) continue;
          const b = await vol.read(p.file, p.at + (from - p.start), to - from);
          out.set(b, from - offset);
        }
        return out;
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // The map

  /** The model's place: right of every model (and unfinished import) already on the map. */
  private placeOnMap(id: string, h: GgufHeader): ModelLayout {
    const geo = { tileWidth: this.volume.settings.tileWidth, tileHeight: this.volume.settings.tileHeight };
    const boxes = this.map
      .listModels()
      .filter((m) => m.modelId !== id)
      .map((m) => m.box);
    const origin = nextModelOrigin(boxes, this.placement.modelGap ?? 4 * geo.tileWidth);
    const tensors = h.tensors.map((t) => ({ name: t.name, ggmlType: ggmlType(t.type).name, dims: [...t.dims], byteSize: t.byteSize }));
    return placeModel({ modelId: id, tensors }, geo, this.placement, origin);
  }

  /**
   * The layout of an import: the regions written when it began (a resumed import keeps its
   * place and its built pyramid tensors), or, for an import record without them, placed now.
   */
  private layoutOf(id: string, h: GgufHeader): ModelLayout {
    const box = this.map.modelBox(id);
    if (box) return layoutFromRegions(id, box, this.map.listRegions(id));
    const layout = this.placeOnMap(id, h);
    this.map.putRegions(layout.regions);
    return layout;
  }

  /**
   * Builds (or resumes building) the model's level-of-detail pyramid: per-tile statistics and
   * heat images of the decoded values, read back from the volume (every tile verified).
   */
  async buildPyramid(ref: string, opts: { signal?: AbortSignal; onProgress?: (p: PyramidProgress) => void; rebuild?: boolean; heatSize?: number } = {}): Promise<BuildPyramidResult> {
    const r = this.row(ref);
    return buildPyramid({
      index: this.map,
      modelId: r.id,
      read: (tensor, offset, length) => this.readTensor(r.id, tensor, offset, length),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.rebuild === undefined ? {} : { rebuild: opts.rebuild }),
      ...(opts.heatSize === undefined ? {} : { heatSize: opts.heatSize }),
    });
  }

  /** True when every weights region of the model has its pyramid built (or skipped for an unsupported type). */
  pyramidReady(ref: string): boolean {
    const r = this.row(ref);
    return this.map
      .listRegions(r.id)
      .filter((x) => x.kind === 'weights')
      .every((x) => x.pyramid.state === 'built' || x.pyramid.state === 'skipped');
  }

  /** The model's map as a PNG (long side `maxSize` pixels), from its pyramid. */
  async renderMap(ref: string, opts: { maxSize?: number } = {}): Promise<RenderedMap> {
    const r = this.row(ref);
    return renderMapPng({ index: this.map, modelId: r.id, ...(opts.maxSize === undefined ? {} : { maxSize: opts.maxSize }) });
  }

  // -------------------------------------------------------------------------------------------
  // Removal and garbage collection

  /** Every PixelFS file (complete or pending) of model `id`. */
  private filesOf(id: string): { complete: string[]; pending: string[] } {
    const prefix = modelPaths.prefix(id);
    return {
      complete: this.volume
        .ls()
        .map((f) => f.name)
        .filter((n) => n.startsWith(prefix)),
      pending: this.volume
        .pending()
        .map((p) => p.name)
        .filter((n) => n.startsWith(prefix)),
    };
  }

  private async discard(id: string): Promise<void> {
    // Its map regions first (an unfinished import has them, with the cells built so far).
    this.map.removeModel(id);
    const { complete, pending } = this.filesOf(id);
    for (const n of pending) await this.volume.rm(n, { pending: true });
    for (const n of complete) await this.volume.rm(n);
  }

  /** Removes a model: it disappears in one commit, then its files go (a crash in between leaves orphans the next open sweeps). */
  async remove(ref: string): Promise<void> {
    const r = this.row(ref);
    this.db.transaction(() => {
      this.map.removeModel(r.id);
      this.db.deleteModel(r.id);
    });
    this.manifests.delete(r.id);
    await this.discard(r.id);
    await this.layouts.forget(r.id);
  }

  /** Files under `models/<id>/` whose id is neither a model nor a pending import: leftovers of a crash. */
  private async sweepOrphans(): Promise<number> {
    const known = new Set([...this.db.models().map((m) => m.id), ...this.db.imports().map((i) => i.modelId)]);
    const ids = new Set<string>();
    const idOf = (n: string): string | null => {
      const m = /^models\/([^/]+)\//.exec(n);
      return m ? m[1]! : null;
    };
    for (const f of this.volume.ls()) {
      const id = idOf(f.name);
      if (id && !known.has(id) && !this.active.has(id)) ids.add(id);
    }
    for (const p of this.volume.pending()) {
      const id = idOf(p.name);
      if (id && !known.has(id) && !this.active.has(id)) ids.add(id);
    }
    for (const id of ids) await this.discard(id);
    return ids.size;
  }

  /**
   * Sweeps orphaned model files; with `pending`, also removes interrupted imports (they can no
   * longer resume) and interrupted generic puts; then PixelFS's gc frees unused tiles.
   */
  async gc(opts: { pending?: boolean } = {}): Promise<GcResult> {
    this.assertOpen();
    let importsRemoved = 0;
    if (opts.pending) {
      for (const imp of this.db.imports()) {
        if (this.active.has(imp.modelId)) continue;
        await this.discard(imp.modelId);
        this.db.dropImport(imp.modelId);
        importsRemoved++;
      }
    }
    const orphanModelsRemoved = await this.sweepOrphans();
    const pixelfs = await this.volume.gc({ pending: opts.pending ?? false });
    return { importsRemoved, orphanModelsRemoved, pixelfs };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.volume.close();
    } finally {
      this.db.close();
      await this.hashWorker?.close();
    }
  }

  /** Closes without waiting (after a simulated crash in tests). */
  async abandon(): Promise<void> {
    this.closed = true;
    await this.volume.abandon();
    this.db.close();
    await this.hashWorker?.close();
  }
}

/** The volume `pxi` uses when none is named: `<data dir>/volume`. */
export function defaultVolumeDir(dataDir: string): string {
  return path.join(dataDir, 'volume');
}
