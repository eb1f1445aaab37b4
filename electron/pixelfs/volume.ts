/**
 * A PixelFS volume: a folder with `tiles/` (content-addressed tile PNGs) and `catalog.sqlite`.
 *
 * Durability protocol (specs/pixelfs.md): a tile is written to a temp file in its final folder,
 * fsynced, renamed to `<sha256>.png`, and the folder fsynced, all before the catalog row that
 * points at it commits (the folder fsync is batched per commit). A file becomes visible in one transaction that flips it from pending to
 * complete. A crash leaves at worst orphan files (swept on open and by gc) and a pending file
 * whose committed tiles a rerun of the same put reuses.
 *
 * `Volume` composes the parts and holds the locking: the tile files on disk (tile-files.ts),
 * reading tiles back (tile-reader.ts), the put pipeline (put-pipeline.ts, reading its source
 * with put-source.ts), verify (verify.ts); the API's shapes are in volume-types.ts.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { Catalog, type FileRow, type FileTileRow, type VolumeSettings } from './catalog';
import { PixelFsCodes as C, PixelFsError } from './errors';
import { noSpaceMappingOps } from './disk-space';
import { nodeFileOps, writeFileDurableStream, type FileOps } from './file-ops';
import { PutPipeline } from './put-pipeline';
import type { Source } from './put-source';
import { RwLock } from './rw-lock';
import { SlabPool } from './slabs';
import { assertGeometry, assertLevel, copyInto, storedPngBytes, tileCapacity, type TileGeometry } from './tile-codec';
import { TileFiles } from './tile-files';
import { TileReader } from './tile-reader';
import { verifyFiles } from './verify';
import type { FileInfo, GcOptions, GcResult, GetOptions, OpenOptions, PendingInfo, PutOptions, PutResult, SweepResult, VerifyReport, VolumeStats } from './volume-types';
import { TilePool, type FileHash } from './worker-pool';

export const DEFAULT_SETTINGS: Readonly<VolumeSettings> = { tileWidth: 1024, tileHeight: 1024, level: 0 };
export const CATALOG_FILE = 'catalog.sqlite';
const MAX_NAME_LENGTH = 4096;

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || name.includes('\0')) {
    throw new PixelFsError(C.BAD_NAME, `file name ${JSON.stringify(String(name)).slice(0, 80)} is not a non-empty string of at most ${MAX_NAME_LENGTH} characters without NUL`, {
      field: 'name',
      value: typeof name === 'string' ? name.slice(0, 80) : String(name),
    });
  }
}

export class Volume {
  readonly root: string;
  readonly settings: Readonly<VolumeSettings>;
  readonly geometry: TileGeometry;
  /** Payload bytes per tile (width x height x 4). */
  readonly tileBytes: number;
  /** What the orphan sweep at open found. */
  openSweep: SweepResult = { tempFilesRemoved: 0, orphanFilesRemoved: 0, missingTiles: [] };

  private readonly ops: FileOps;
  private readonly pool: TilePool;
  private readonly ownPool: boolean;
  private readonly lock = new RwLock();
  private readonly activePuts = new Set<string>();
  private readonly fileTilesCache = new Map<number, FileTileRow[]>();
  /** Recycled tile-sized shared buffers: source tiles, PNGs, decoded payloads. */
  private readonly slabs: SlabPool;
  private readonly files: TileFiles;
  private readonly reader: TileReader;
  private readonly putter: PutPipeline;
  private closed = false;

  private constructor(
    root: string,
    private readonly catalog: Catalog,
    opts: OpenOptions,
  ) {
    this.root = root;
    this.settings = Object.freeze({ tileWidth: catalog.settings.tileWidth, tileHeight: catalog.settings.tileHeight, level: catalog.settings.level });
    this.geometry = { width: this.settings.tileWidth, height: this.settings.tileHeight };
    this.tileBytes = tileCapacity(this.geometry);
    // A full disk surfaces as PIXELFS_NO_SPACE naming the volume, not a bare ENOSPC.
    this.ops = noSpaceMappingOps(opts.fileOps ?? nodeFileOps, root);
    this.ownPool = !opts.pool;
    this.pool = opts.pool ?? new TilePool(opts.workers === undefined ? {} : { size: opts.workers });
    const slabBytes = Math.max(this.tileBytes, storedPngBytes(this.geometry));
    // Only what is kept between operations (emptied when idle); in use, the windows bound it.
    this.slabs = new SlabPool(slabBytes, Math.max(4, Math.floor((256 * 1024 * 1024) / slabBytes)));
    this.files = new TileFiles(root, this.geometry, this.ops);
    this.reader = new TileReader(this.files, this.pool, this.slabs, this.geometry, this.tileBytes, opts.cacheBytes ?? 64 * 1024 * 1024);
    this.putter = new PutPipeline({
      root,
      catalog,
      files: this.files,
      reader: this.reader,
      pool: this.pool,
      slabs: this.slabs,
      geometry: this.geometry,
      level: this.settings.level,
      tileBytes: this.tileBytes,
      commitEveryBytes: opts.commitEveryBytes ?? 64 * 1024 * 1024,
    });
  }

  /** Tiles read from disk and decoded by `read()` (cache misses) since open: what a layout costs. */
  get tileLoads(): number {
    return this.reader.tileLoads;
  }

  /** Opens a volume folder (creating it with `create`), then sweeps orphans left by a crash. */
  static async open(root: string, opts: OpenOptions = {}): Promise<Volume> {
    root = path.resolve(root);
    const ops = opts.fileOps ?? nodeFileOps;
    const catalogPath = path.join(root, CATALOG_FILE);
    let create: VolumeSettings | null = null;
    if (opts.create) {
      create = { ...DEFAULT_SETTINGS, ...(opts.create === true ? {} : opts.create) };
      assertGeometry({ width: create.tileWidth, height: create.tileHeight }, root);
      assertLevel(create.level, root);
    }
    let exists = true;
    try {
      await fs.access(catalogPath);
    } catch {
      exists = false;
    }
    if (!exists) {
      if (!create) throw new PixelFsError(C.VOLUME_NOT_FOUND, `${root}: not a PixelFS volume (no ${CATALOG_FILE})`, { file: root });
      if (await ops.mkdir(root)) await ops.fsyncDir(path.dirname(root));
      await TileFiles.createLayout(root, ops);
      await ops.fsyncDir(root);
    }
    const catalog = Catalog.open(catalogPath, create, randomUUID());
    try {
      if (!exists) await ops.fsyncDir(root); // the new catalog's directory entry
      if (create && opts.create !== true) {
        const want = opts.create as Partial<VolumeSettings>;
        for (const k of ['tileWidth', 'tileHeight', 'level'] as const) {
          if (want[k] !== undefined && want[k] !== catalog.settings[k]) {
            throw new PixelFsError(C.SETTINGS_MISMATCH, `${root}: volume has ${k} ${catalog.settings[k]}, asked for ${want[k]}`, { file: root, field: k, value: want[k] });
          }
        }
      }
      const v = new Volume(root, catalog, opts);
      await v.files.prepare(ops);
      v.openSweep = await v.files.sweep(catalog.allTileHashes());
      return v;
    } catch (e) {
      catalog.close();
      throw e;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Paths and small helpers

  tilePath(hash: string): string {
    return this.files.path(hash);
  }

  private assertOpen(): void {
    if (this.closed) throw new PixelFsError(C.VOLUME_CLOSED, `${this.root}: volume is closed`, { file: this.root });
  }

  private completeOrThrow(name: string): FileRow & { size: number; sha256: string } {
    checkName(name);
    const f = this.catalog.completeFile(name);
    if (!f) throw new PixelFsError(C.FILE_NOT_FOUND, `${this.root}: no file named '${name}'`, { file: name });
    return f as FileRow & { size: number; sha256: string };
  }

  private tilesOf(file: FileRow): FileTileRow[] {
    let rows = this.fileTilesCache.get(file.id);
    if (!rows) {
      rows = this.catalog.fileTiles(file.id);
      if (this.fileTilesCache.size > 256) this.fileTilesCache.clear();
      this.fileTilesCache.set(file.id, rows);
    }
    return rows;
  }

  // -------------------------------------------------------------------------------------------
  // put

  /**
   * Stores a file under `name` from a path or a stream of chunks. Memory stays bounded (a few
   * tiles in flight). Tiles already stored (here or by an interrupted put of the same name) are
   * not encoded again. Resolves once the file is complete and visible.
   */
  async put(name: string, source: Source, opts: PutOptions = {}): Promise<PutResult> {
    this.assertOpen();
    checkName(name);
    if (this.activePuts.has(name)) throw new PixelFsError(C.PUT_IN_PROGRESS, `${this.root}: a put of '${name}' is already running`, { file: name });
    this.activePuts.add(name);
    let freed: string[] = [];
    try {
      const r = await this.lock.shared(async () => {
        const out = await this.putter.run(name, source, opts);
        freed = out.freed;
        return out.result;
      });
      return r;
    } finally {
      this.activePuts.delete(name);
      if (this.activePuts.size === 0) this.putter.clearUncommitted();
      if (freed.length > 0 && !this.closed) await this.freeTiles(freed);
    }
  }

  // -------------------------------------------------------------------------------------------
  // get / read / verify

  /** Writes a complete file to a path (atomically: temp + rename) or to a Writable. */
  async get(name: string, dest: string | Writable, opts: GetOptions = {}): Promise<FileInfo> {
    this.assertOpen();
    return this.lock.shared(async () => {
      const f = this.completeOrThrow(name);
      const rows = this.tilesOf(f);
      const check = (got: string | null): void => {
        if (opts.skipFileHash) return; // the caller checks a hash over these bytes itself
        if (got !== f.sha256) {
          throw new PixelFsError(C.FILE_CHECKSUM_MISMATCH, `'${name}': the tiles give sha256 ${got}, the catalog says ${f.sha256}`, { file: name, field: 'sha256', value: got });
        }
      };
      if (typeof dest === 'string') {
        // The project's one durable write; without `fsync`, only temp + rename (atomic, not durable).
        await writeFileDurableStream(
          dest,
          async (sink) => {
            // The write overlaps the hash thread reading the same payload.
            check(await this.reader.stream(name, rows, (payload: Buffer) => sink.write(payload), { hashFile: !opts.skipFileHash }));
          },
          { ops: this.ops, durable: opts.fsync === true, rolling: true, direct: true },
        );
      } else {
        const reuse = opts.reuseChunks === true;
        // A Writable may keep a chunk after its callback: it gets its own copy unless it said it
        // does not (reuseChunks), in which case the memory is reused after the callback.
        const write = async (payload: Buffer, _row: FileTileRow, keep: (p: Promise<unknown>) => void): Promise<void> => {
          if (reuse) {
            let written!: () => void;
            keep(new Promise<void>((resolve) => (written = resolve)));
            if (!dest.write(payload, () => written())) await once(dest, 'drain');
          } else {
            const own = Buffer.allocUnsafeSlow(payload.length);
            copyInto(own, 0, payload); // a memcpy (Buffer.from would copy shared memory slowly)
            if (!dest.write(own)) await once(dest, 'drain');
          }
        };
        check(await this.reader.stream(name, rows, write, { hashFile: !opts.skipFileHash }));
        if (opts.end ?? true) {
          dest.end();
          await once(dest, 'finish');
        }
      }
      return this.info(f, rows.length);
    });
  }

  /** Random access: `length` bytes at `offset` (fewer at the end of the file), every tile verified. */
  async read(name: string, offset: number, length: number): Promise<Buffer> {
    this.assertOpen();
    return this.lock.shared(async () => {
      const f = this.completeOrThrow(name);
      for (const [field, v] of [['offset', offset], ['length', length]] as const) {
        if (!Number.isSafeInteger(v) || v < 0) throw new PixelFsError(C.BAD_RANGE, `read '${name}': ${field} ${String(v)} is not a non-negative integer`, { file: name, field, value: v });
      }
      if (offset > f.size) throw new PixelFsError(C.BAD_RANGE, `read '${name}': offset ${offset} is past the end of the file (${f.size} bytes)`, { file: name, field: 'offset', value: offset });
      const end = Math.min(f.size, offset + length);
      const out = Buffer.allocUnsafe(end - offset);
      if (end === offset) return out;
      const rows = this.tilesOf(f);
      const cap = this.tileBytes;
      for (let t = Math.floor(offset / cap); t <= Math.floor((end - 1) / cap); t++) {
        const row = rows[t];
        if (!row || row.idx !== t) throw new PixelFsError(C.CATALOG_INCONSISTENT, `'${name}': tile row ${t} is missing from the catalog`, { file: name, field: 'file_tiles', value: t });
        const payload = await this.reader.payload(name, row);
        const from = Math.max(offset, t * cap);
        const to = Math.min(end, t * cap + row.length);
        payload.copy(out, from - offset, from - t * cap, to - t * cap);
      }
      return out;
    });
  }
  /** Re-reads and re-hashes every tile of one file (or of all complete files). */
  async verify(name?: string): Promise<VerifyReport> {
    this.assertOpen();
    return this.lock.shared(async () => {
      const files = name === undefined ? this.catalog.listComplete() : [this.completeOrThrow(name)];
      return verifyFiles(this.catalog, this.reader, files, this.tileBytes);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Listing, removal, gc, stats

  private info(f: FileRow, tiles: number): FileInfo {
    return { name: f.name, size: f.size!, sha256: f.sha256!, tiles, createdAt: f.createdAt, completedAt: f.completedAt! };
  }

  ls(): FileInfo[] {
    this.assertOpen();
    return this.catalog.listComplete().map((f) => this.info(f, Math.ceil(f.size! / this.tileBytes)));
  }

  stat(name: string): FileInfo | undefined {
    this.assertOpen();
    checkName(name);
    const f = this.catalog.completeFile(name);
    return f && this.info(f, Math.ceil(f.size! / this.tileBytes));
  }

  /** Interrupted puts, with what a rerun can skip. */
  pending(): PendingInfo[] {
    this.assertOpen();
    return this.catalog.listPending().map((p) => {
      const rows = this.catalog.fileTiles(p.id);
      let contiguous = 0;
      while (contiguous < rows.length && rows[contiguous]!.idx === contiguous && rows[contiguous]!.length === this.tileBytes) contiguous++;
      return { name: p.name, createdAt: p.createdAt, tilesStored: p.tiles, contiguousTiles: contiguous, resumeOffset: contiguous * this.tileBytes };
    });
  }

  /** Removes a complete file (or, with `pending`, an interrupted put) and frees tiles no one else uses. */
  async rm(name: string, opts: { pending?: boolean } = {}): Promise<{ tilesRemoved: number; bytesFreed: number }> {
    this.assertOpen();
    checkName(name);
    const f = opts.pending ? this.catalog.pendingFile(name) : this.catalog.completeFile(name);
    if (!f) throw new PixelFsError(C.FILE_NOT_FOUND, `${this.root}: no ${opts.pending ? 'pending ' : ''}file named '${name}'`, { file: name });
    if (opts.pending && this.activePuts.has(name)) throw new PixelFsError(C.PUT_IN_PROGRESS, `${this.root}: a put of '${name}' is running`, { file: name });
    const hashes = this.catalog.deleteFile(f); // invisible from here on
    this.fileTilesCache.delete(f.id);
    return this.freeTiles(hashes);
  }

  private async freeTiles(hashes: readonly string[]): Promise<{ tilesRemoved: number; bytesFreed: number }> {
    return this.lock.exclusive(async () => {
      // Rows first: a crash before the unlinks leaves orphan files, which the sweep removes.
      const gone = this.catalog.deleteUnreferencedTiles(hashes);
      return this.files.unlink(gone);
    });
  }

  /** Removes tiles no file uses, orphan and temp files, and (with `pending`) interrupted puts. */
  async gc(opts: GcOptions = {}): Promise<GcResult> {
    this.assertOpen();
    return this.lock.exclusive(async () => {
      let pendingRemoved = 0;
      if (opts.pending) {
        for (const p of this.catalog.listPending()) {
          if (this.activePuts.has(p.name)) continue;
          this.catalog.deleteFile(p);
          pendingRemoved++;
        }
      }
      this.putter.clearUncommitted(); // no put runs under the exclusive lock
      const freed = await this.files.unlink(this.catalog.deleteUnreferencedTiles(null));
      const swept = await this.files.sweep(this.catalog.allTileHashes());
      return { pendingRemoved, ...freed, tempFilesRemoved: swept.tempFilesRemoved, orphanFilesRemoved: swept.orphanFilesRemoved };
    });
  }

  stats(): VolumeStats {
    this.assertOpen();
    const s = this.catalog.stats();
    let catalogBytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        catalogBytes += statSync(path.join(this.root, CATALOG_FILE + suffix)).size;
      } catch {
        // absent -wal
      }
    }
    const ratio = (a: number, b: number): number => (b === 0 ? 1 : a / b);
    return {
      files: s.files,
      pendingFiles: s.pendingFiles,
      tiles: s.tiles,
      logicalBytes: s.logicalBytes,
      storedBytes: s.storedBytes,
      tilePayloadBytes: s.tilePayloadBytes,
      compressionRatio: ratio(s.tilePayloadBytes, s.storedBytes),
      dedupeRatio: ratio(s.logicalBytes, s.uniqueCompletePayloadBytes),
      overallRatio: ratio(s.logicalBytes, s.storedBytes),
      catalogBytes,
    };
  }

  integrityCheck(): string[] {
    this.assertOpen();
    return this.catalog.integrityCheck();
  }

  /**
   * A whole-file sha256 on the volume's hash thread (the one its puts hash their files on), for
   * other byte streams of the process: the model store hashes its GGUFs there (one hash pool).
   */
  fileHash(): FileHash {
    this.assertOpen();
    return this.pool.fileHash();
  }

  /** Empties the decoded-tile cache, so that the next reads load from disk (layout measurements). */
  dropCache(): void {
    this.reader.clearCache();
  }

  /** Waits for running operations, then closes the catalog (and the pool if the volume owns it). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.lock.exclusive(async () => {
      this.closed = true;
    });
    this.catalog.close();
    this.reader.clearCache();
    this.slabs.clear();
    if (this.ownPool) await this.pool.close();
  }

  /** Closes at once without waiting or writing anything: what a test does after a simulated crash. */
  async abandon(): Promise<void> {
    this.closed = true;
    this.catalog.close();
    if (this.ownPool) await this.pool.close();
  }
}
