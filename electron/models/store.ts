/**
 * The model store: GGUF models kept in a PixelFS volume as PXI-LLM v1 (specs/pxi_llm.md).
 *
 * A model is one PixelFS file per tensor (`models/<id>/tensors/<index>`), one for the GGUF header
 * bytes `[0, dataOffset)` verbatim (`models/<id>/header`), one for the bytes between and after
 * the tensors when they are not all zero (`models/<id>/padding`), and a manifest
 * (`models/<id>/manifest.json`, also kept in a row of `models.sqlite`). Export concatenates them
 * back into the identical GGUF.
 *
 * ModelStore is the facade over the store's parts, each in its own module over one shared core
 * (store-core.ts: the volume, the database, the catalogue lookups):
 *   - import-pipeline.ts (with import-source.ts): a GGUF stored in one pass, resumable;
 *   - read-view.ts: the model as its checked GGUF stream, as a ByteSource, one tensor's bytes;
 *   - verify.ts: the files of a model and the check of each;
 *   - layout.ts: which files a model's tensors are read from, and the migrations between layouts;
 *   - the catalogue, the map's pyramid, removal and gc: here.
 * The use cases over it (import with its pyramid, verify, export; the task handlers) are in
 * electron/ops/.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ByteSource } from '../../shared/binary/byte-source';
import type { ModelManifest } from '../../shared/model/manifest';
import { planLayout, type LayoutPlan, type TensorRead } from '../../shared/model/layout-plan';
import type { LayoutDecision, LayoutJournal } from '../../shared/model/layout-journal';
import { buildPyramid, renderMapPng, type BuildPyramidResult, type MapIndex, type PyramidProgress, type RenderedMap } from '../map/index';
import { Volume, type FileOps, type VolumeStats } from '../pixelfs/index';
import { ImportPipeline } from './import-pipeline';
import { LAYOUTS_DIR, placesOf, type RecoveryOutcome, type TensorLocation } from './layout';
import { ModelReads, type GgufStream } from './read-view';
import { StoreCore } from './store-core';
import { STORE_DB_FILE, StoreDb, type ImportRow } from './store-db';
import type { GcResult, ImportOptions, ImportResult, ModelStoreOptions, ModelSummary, ModelVerifyReport } from './types';
import { verifyPlan, type VerifyPlan } from './verify';

export { MAX_PADDING_BYTES } from './import-pipeline';
export type { GgufStream } from './read-view';
export type { PartCheck, StoredPart, VerifyPlan } from './verify';
export type { GcResult, ImportOptions, ImportProgress, ImportPyramid, ImportResult, ModelPart, ModelProblem, ModelStoreOptions, ModelSummary, ModelVerifyReport, OperationProgress } from './types';

export class ModelStore {
  private readonly core: StoreCore;
  private readonly importer: ImportPipeline;
  private readonly reads: ModelReads;
  /** What the sweep at open removed: models whose import or removal was cut off. */
  openSweep = { orphanModelsRemoved: 0 };
  /** Layout migrations that a crash cut off, finished or rolled back at open (model id -> what was done). */
  openLayoutRecovery = new Map<string, RecoveryOutcome>();

  private constructor(root: string, volume: Volume, db: StoreDb, opts: ModelStoreOptions) {
    this.core = new StoreCore(root, volume, db, opts);
    this.importer = new ImportPipeline(this.core);
    this.reads = new ModelReads(this.core);
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
      store.openSweep.orphanModelsRemoved = await store.core.sweepOrphans();
      await store.recoverLayouts();
    } catch (e) {
      await store.close();
      throw e;
    }
    return store;
  }

  get root(): string {
    return this.core.root;
  }

  /** The PixelFS volume underneath (generic files live beside the models). */
  get volume(): Volume {
    return this.core.volume;
  }

  /** The Infinite Map's index (regions, tiles, pyramid), in the store's database. */
  get map(): MapIndex {
    return this.core.map;
  }

  /** The file operations of the volume, also used for the store's own outputs (exports). */
  get fileOps(): FileOps {
    return this.core.fileOps;
  }

  /** Free bytes on the filesystem holding a folder (what exports check before writing). */
  get freeBytes(): (dir: string) => Promise<number> {
    return this.core.freeBytes;
  }

  // -------------------------------------------------------------------------------------------
  // Listing

  list(): ModelSummary[] {
    this.core.assertOpen();
    return this.core.db.models().map((r) => this.core.summary(r));
  }

  /** A model by id or name; MODEL_NOT_FOUND names what was asked for. */
  get(ref: string): ModelSummary {
    return this.core.summary(this.core.row(ref));
  }

  /** The model's manifest, parsed and validated (metadata included: for readers such as inspect). */
  manifest(ref: string): ModelManifest {
    return this.core.manifest(ref);
  }

  /** The last verify report stored for the model, if any. */
  lastVerify(ref: string): ModelVerifyReport | null {
    const json = this.core.db.verifyReport(this.core.row(ref).id);
    return json ? (JSON.parse(json) as ModelVerifyReport) : null;
  }

  /** Imports that started and did not finish (a rerun resumes them; gc with `pending` removes them). */
  pendingImports(): ImportRow[] {
    this.core.assertOpen();
    return this.core.db.imports();
  }

  stats(): VolumeStats {
    return this.core.volume.stats();
  }

  integrityCheck(): { catalog: string[]; store: string[] } {
    return { catalog: this.core.volume.integrityCheck(), store: this.core.db.integrityCheck() };
  }

  // -------------------------------------------------------------------------------------------
  // Import, verify, reads

  /**
   * Imports a GGUF file (electron/models/import-pipeline.ts). The header is parsed and the model
   * configured before anything is written, so a malformed, truncated or unsupported file is
   * refused with the volume untouched.
   */
  async import(sourcePath: string, opts: ImportOptions = {}): Promise<ImportResult> {
    return this.importer.run(sourcePath, opts);
  }

  /** The files verify reads of the model and the check of each (electron/ops/verify.ts runs them). */
  async verifyPlan(ref: string): Promise<VerifyPlan> {
    return verifyPlan(this.core, ref);
  }

  /**
   * The model as its GGUF file, streamed and checked against the source's sha256 (export, browser
   * mode's download; see electron/models/read-view.ts). `dest` names where the bytes go, for the
   * MODEL_CORRUPT error.
   */
  exportStream(ref: string, signal?: AbortSignal, dest?: string): GgufStream {
    return this.reads.ggufStream(ref, signal, dest);
  }

  /** Bytes of one tensor (`offset`, `length` within it), every tile verified on the way. */
  async readTensor(ref: string, tensor: string, offset = 0, length?: number): Promise<Buffer> {
    return this.reads.readTensor(ref, tensor, offset, length);
  }

  /**
   * Where a tensor's bytes are now (its file and offset in the active layout): what the map's
   * region details name and its stored tiles resolve through (specs/map.md §2).
   */
  tensorLocation(ref: string, tensor: string): Promise<TensorLocation> {
    return this.reads.tensorLocation(ref, tensor);
  }

  /** The stored model seen as its GGUF file, without exporting it (range reads from its files). */
  ggufSource(ref: string): ByteSource {
    return this.reads.ggufSource(ref);
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
    for (const n of [...this.core.volume.ls().map((f) => f.name), ...this.core.volume.pending().map((p) => p.name)]) {
      const id = /^models\/([^/]+)\/layout-/.exec(n)?.[1];
      if (id) ids.add(id);
    }
    let names: string[] = [];
    try {
      names = await fs.readdir(path.join(this.core.root, LAYOUTS_DIR));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const n of names) {
      const id = /^([a-z0-9][a-z0-9-]{0,63})\.json$/.exec(n)?.[1];
      if (!id) continue; // temp files of a cut-off journal write (nothing reads them) and anything not ours
      if (this.core.db.model(id)) ids.add(id);
      else if (!this.core.db.imports().some((i) => i.modelId === id)) await this.core.layouts.forget(id);
    }
    for (const id of ids) {
      if (!this.core.db.model(id)) continue; // pack files of a removed model: the orphan sweep's
      const what = await this.core.layouts.recover(this.core.leanManifest(id));
      if (what !== 'none') this.openLayoutRecovery.set(id, what);
    }
  }

  /** The model's layout journal: the active layout, a cut-off migration, the decisions taken. */
  async layoutJournal(ref: string): Promise<LayoutJournal> {
    return this.core.layouts.journal(this.core.leanManifest(ref));
  }

  /** The trace a load makes when none was recorded: every tensor whole, in the tensor table's order (Model.load's order). */
  tableTrace(ref: string): TensorRead[] {
    return this.core.leanManifest(ref).tensors.map((t) => ({ tensor: t.name, offset: 0, length: t.bytes }));
  }

  /** Proposes a packed layout for `trace`, with its cost before (in the active layout) and after. Writes nothing. */
  async planLayout(ref: string, trace: readonly TensorRead[], opts: { maxPackBytes?: number; traceName?: string } = {}): Promise<LayoutPlan> {
    const m = this.core.leanManifest(ref);
    return planLayout(trace, m.tensors, placesOf(m, await this.core.layouts.journal(m)), this.core.volume.tileBytes, opts);
  }

  /** Plans and applies a packed layout (journaled; see electron/models/layout.ts). With `measure`, times a cold read of the trace before and after. */
  async applyLayout(ref: string, trace: readonly TensorRead[], opts: { maxPackBytes?: number; traceName?: string; measure?: boolean } = {}): Promise<LayoutDecision> {
    const m = this.core.leanManifest(ref);
    const plan = await this.planLayout(m.id, trace, opts);
    const measure = opts.measure ? async () => (await this.core.layouts.coldRead(trace, (r) => this.readTensor(m.id, r.tensor, r.offset, r.length))).ms : undefined;
    return this.core.layouts.apply(m, plan, trace, measure);
  }

  /** Switches the model back to its import layout and removes the packs. */
  async undoLayout(ref: string, trace?: readonly TensorRead[]): Promise<LayoutDecision> {
    const m = this.core.leanManifest(ref);
    return this.core.layouts.undo(m, trace ?? this.tableTrace(m.id));
  }

  /** A cold read of `trace` in the model's active layout: wall time and tiles loaded (benchmarks). */
  async coldRead(ref: string, trace: readonly TensorRead[]): Promise<{ ms: number; tileLoads: number }> {
    const id = this.core.row(ref).id;
    return this.core.layouts.coldRead(trace, (r) => this.readTensor(id, r.tensor, r.offset, r.length));
  }

  /** Every layout decision of every model, oldest first (what a dashboard lists). */
  async layoutDecisions(): Promise<LayoutDecision[]> {
    const out: LayoutDecision[] = [];
    for (const r of this.core.db.models()) out.push(...(await this.core.layouts.journal(this.core.leanManifest(r.id))).decisions);
    return out.sort((a, b) => a.at.localeCompare(b.at));
  }

  // -------------------------------------------------------------------------------------------
  // The map

  /**
   * Builds (or resumes building) the model's level-of-detail pyramid: per-tile statistics and
   * heat images of the decoded values, read back from the volume (every tile verified).
   */
  async buildPyramid(ref: string, opts: { signal?: AbortSignal; onProgress?: (p: PyramidProgress) => void; rebuild?: boolean; heatSize?: number } = {}): Promise<BuildPyramidResult> {
    const r = this.core.row(ref);
    return buildPyramid({
      index: this.core.map,
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
    const r = this.core.row(ref);
    return this.core.map
      .listRegions(r.id)
      .filter((x) => x.kind === 'weights')
      .every((x) => x.pyramid.state === 'built' || x.pyramid.state === 'skipped');
  }

  /** The model's map as a PNG (long side `maxSize` pixels), from its pyramid. */
  async renderMap(ref: string, opts: { maxSize?: number } = {}): Promise<RenderedMap> {
    const r = this.core.row(ref);
    return renderMapPng({ index: this.core.map, modelId: r.id, ...(opts.maxSize === undefined ? {} : { maxSize: opts.maxSize }) });
  }

  // -------------------------------------------------------------------------------------------
  // Removal and garbage collection

  /** Removes a model: it disappears in one commit, then its files go (a crash in between leaves orphans the next open sweeps). */
  async remove(ref: string): Promise<void> {
    const core = this.core;
    const r = core.row(ref);
    core.db.transaction(() => {
      core.map.removeModel(r.id);
      core.db.deleteModel(r.id);
    });
    core.forgetManifest(r.id);
    await core.discard(r.id);
    await core.layouts.forget(r.id);
  }

  /**
   * Sweeps orphaned model files; with `pending`, also removes interrupted imports (they can no
   * longer resume) and interrupted generic puts; then PixelFS's gc frees unused tiles.
   */
  async gc(opts: { pending?: boolean } = {}): Promise<GcResult> {
    const core = this.core;
    core.assertOpen();
    let importsRemoved = 0;
    if (opts.pending) {
      for (const imp of core.db.imports()) {
        if (core.active.has(imp.modelId)) continue;
        await core.discard(imp.modelId);
        core.db.dropImport(imp.modelId);
        importsRemoved++;
      }
    }
    const orphanModelsRemoved = await core.sweepOrphans();
    const pixelfs = await core.volume.gc({ pending: opts.pending ?? false });
    return { importsRemoved, orphanModelsRemoved, pixelfs };
  }

  async close(): Promise<void> {
    await this.core.close();
  }

  /** Closes without waiting (after a simulated crash in tests). */
  async abandon(): Promise<void> {
    await this.core.abandon();
  }
}

/** The volume `pxi` uses when none is named: `<data dir>/volume`. */
export function defaultVolumeDir(dataDir: string): string {
  return path.join(dataDir, 'volume');
}
