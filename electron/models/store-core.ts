/**
 * What every part of the model store shares (electron/models/store.ts is their facade): the
 * volume, the model database and the map index in it, the options, the catalogue lookups
 * (a model by id or name, its manifest), the hash thread, and the removal of a model's files.
 * The import pipeline, the read view, verify's checks and the layout work each take this core.
 */
import { createHash } from 'node:crypto';
import { modelPaths, parseManifest, type ModelManifest } from '../../shared/model/manifest';
import type { PlacementOptions } from '../../shared/map/placement';
import { MapIndex } from '../map/index';
import { freeBytesAt, nodeFileOps, type FileOps, type Volume } from '../pixelfs/index';
import { ModelStoreError } from './errors';
import { HashRing } from './hash-ring';
import { ModelLayouts } from './layout';
import { STORE_DB_FILE, type ModelRow, type StoreDb } from './store-db';
import type { ModelStoreOptions, ModelSummary } from './types';

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export class StoreCore {
  readonly root: string;
  readonly volume: Volume;
  readonly db: StoreDb;
  /** The Infinite Map's index (regions, tiles, pyramid), in the store's database. */
  readonly map: MapIndex;
  readonly placement: PlacementOptions;
  /** PixelFS files written, read or verified at once. */
  readonly parallel: number;
  /** Bytes per source read. */
  readonly chunkBytes: number;
  /** Models with at least this many tensor bytes build their map pyramids on a thread of their own during import. */
  readonly pyramidThreadMinBytes: number;
  /** Model ids of the imports running now (the sweeps leave their files alone). */
  readonly active = new Set<string>();
  private readonly manifests = new Map<string, ModelManifest>();
  private hashRing: HashRing | null = null;
  closed = false;
  /** The file operations of the volume, also used for the store's own outputs (exports). */
  readonly fileOps: FileOps;
  readonly freeBytes: (dir: string) => Promise<number>;
  /** Which layout each model is read in, and the migrations between layouts (electron/models/layout.ts). */
  readonly layouts: ModelLayouts;

  constructor(root: string, volume: Volume, db: StoreDb, opts: ModelStoreOptions) {
    this.root = root;
    this.volume = volume;
    this.db = db;
    this.map = new MapIndex(db.handle);
    this.placement = opts.placement ?? {};
    this.parallel = Math.max(1, opts.parallelFiles ?? 3);
    this.chunkBytes = opts.chunkBytes ?? Math.min(volume.tileBytes, 16 << 20);
    this.pyramidThreadMinBytes = opts.pyramidThreadMinBytes ?? 64 << 20;
    this.fileOps = opts.fileOps ?? nodeFileOps;
    this.freeBytes = opts.freeBytes ?? freeBytesAt;
    this.layouts = new ModelLayouts(root, volume, this.fileOps);
  }

  assertOpen(): void {
    if (this.closed) throw new ModelStoreError('MODEL_NOT_FOUND', `${this.root}: the model store is closed`, { file: this.root });
  }

  /**
   * The store's hasher, made at first use: 12 slots of one read chunk each, hashed on the
   * volume's hash thread (the one PixelFS hashes its files on: one hash pool, not two).
   */
  hasher(): HashRing {
    this.hashRing ??= new HashRing(this.chunkBytes, 12, () => this.volume.fileHash());
    return this.hashRing;
  }

  summary(r: ModelRow): ModelSummary {
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

  /** A model's row by id or name; MODEL_NOT_FOUND names what was asked for. */
  row(ref: string): ModelRow {
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
  leanManifest(ref: string): ModelManifest {
    const r = this.row(ref);
    let m = this.manifests.get(r.id);
    if (!m) {
      m = { ...this.manifest(r.id), metadata: [] };
      if (this.manifests.size > 16) this.manifests.clear();
      this.manifests.set(r.id, m);
    }
    return m;
  }

  /** Drops the cached manifest of a removed model. */
  forgetManifest(id: string): void {
    this.manifests.delete(id);
  }

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

  /** Removes model `id`'s map regions and every PixelFS file of it. */
  async discard(id: string): Promise<void> {
    // Its map regions first (an unfinished import has them, with the cells built so far).
    this.map.removeModel(id);
    const { complete, pending } = this.filesOf(id);
    for (const n of pending) await this.volume.rm(n, { pending: true });
    for (const n of complete) await this.volume.rm(n);
  }

  /** Files under `models/<id>/` whose id is neither a model nor a pending import: leftovers of a crash. */
  async sweepOrphans(): Promise<number> {
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.volume.close();
    } finally {
      this.db.close();
      await this.hashRing?.close();
    }
  }

  /** Closes without waiting (after a simulated crash in tests). */
  async abandon(): Promise<void> {
    this.closed = true;
    await this.volume.abandon();
    this.db.close();
    await this.hashRing?.close();
  }
}
