/**
 * A PixelFS volume: a folder with `tiles/` (content-addressed tile PNGs) and `catalog.sqlite`.
 *
 * Durability protocol (specs/pixelfs.md): a tile is written to a temp file in its final folder,
 * fsynced, renamed to `<sha256>.png`, and the folder fsynced, all before the catalog row that
 * points at it commits (the folder fsync is batched per commit). A file becomes visible in one transaction that flips it from pending to
 * complete. A crash leaves at worst orphan files (swept on open and by gc) and a pending file
 * whose committed tiles a rerun of the same put reuses.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { Catalog, type FileRow, type FileTileRow, type TileCommit, type VolumeSettings } from './catalog';
import { PixelFsCodes as C, PixelFsError, isPixelFsError } from './errors';
import { noSpaceMappingOps } from './disk-space';
import { nodeFileOps, writeFileDurableStream, type FileOps } from './file-ops';
import { ByteLru } from './lru';
import { RwLock } from './rw-lock';
import { SlabPool } from './slabs';
import { assertGeometry, assertLevel, copyInto, decodeTile, storedPngBytes, tileCapacity, type TileGeometry } from './tile-codec';
import { TilePool, type FileHash, type TileBuffer } from './worker-pool';

export type { VolumeSettings } from './catalog';

export const DEFAULT_SETTINGS: Readonly<VolumeSettings> = { tileWidth: 1024, tileHeight: 1024, level: 0 };
export const CATALOG_FILE = 'catalog.sqlite';
export const TILES_DIR = 'tiles';
const TEMP_PREFIX = '.tmp-';
const TILE_NAME = /^([0-9a-f]{64})\.png$/;
const FANOUT_NAME = /^[0-9a-f]{2}$/;
const MAX_NAME_LENGTH = 4096;

export interface OpenOptions {
  /** Create the volume when missing (true = default settings). When it exists, given settings must match. */
  create?: boolean | Partial<VolumeSettings>;
  /** Write-side filesystem calls (tests pass a failing one). */
  fileOps?: FileOps;
  /** A shared worker pool; without one the volume starts its own of `workers` threads. */
  pool?: TilePool;
  workers?: number;
  /** Decoded-tile cache for `read()`, in bytes (default 64 MiB). */
  cacheBytes?: number;
  /** Commit a batch of tile rows once this many payload bytes are durable (default 64 MiB). */
  commitEveryBytes?: number;
}

export interface PutProgress {
  name: string;
  bytesIn: number;
  totalBytes: number | null;
  tilesDone: number;
  tilesWritten: number;
  tilesDeduped: number;
  tilesResumed: number;
}

export interface PutOptions {
  /** Replace a complete file of the same name (atomically, in the completing transaction). */
  overwrite?: boolean;
  onProgress?: (p: PutProgress) => void;
  /** Expected size in bytes: for progress, and the put fails if the source disagrees. */
  size?: number;
  /**
   * The source starts at this byte of the file instead of 0. It must be a multiple of the tile
   * capacity and at most `pending()`'s resumeOffset for this name: the skipped tiles are read
   * back from the volume (and verified) to continue the file's sha256.
   */
  resumeOffset?: number;
  /** Tiles in flight at once (default 2 x workers + 4, fewer for huge tiles). */
  window?: number;
}

export interface PutResult {
  name: string;
  size: number;
  sha256: string;
  tiles: number;
  tilesWritten: number;
  tilesDeduped: number;
  tilesResumed: number;
  bytesWritten: number;
}

export interface FileInfo {
  name: string;
  size: number;
  sha256: string;
  tiles: number;
  createdAt: number;
  completedAt: number;
}

export interface PendingInfo {
  name: string;
  createdAt: number;
  /** Tile rows already committed for this put. */
  tilesStored: number;
  /** Tiles 0..n-1 all stored: a rerun may start its source at resumeOffset = n x capacity. */
  contiguousTiles: number;
  resumeOffset: number;
}

export interface VerifyProblem {
  file: string;
  code: string;
  message: string;
  tileIndex?: number;
  hash?: string;
  /** Byte range of the file the tile holds: [offset, offset + length). */
  offset?: number;
  length?: number;
}

export interface VerifyReport {
  ok: boolean;
  filesChecked: number;
  tilesChecked: number;
  bytesChecked: number;
  problems: VerifyProblem[];
}

export interface GetOptions {
  /** fsync the destination file before renaming it into place, and its folder after (path destinations). */
  fsync?: boolean;
  /** End a Writable destination when done (default true, like stream.pipe). */
  end?: boolean;
  /**
   * The Writable destination is done with each chunk once that chunk's write callback has run
   * (true of fs write streams and of consumers that copy what they keep). PixelFS then hands it
   * tiles in recycled memory instead of a fresh copy of every tile.
   */
  reuseChunks?: boolean;
  /**
   * Leave out the recheck of the file's sha256, for a caller that itself checks a sha256 over
   * these bytes in order (the model store's export checks the whole GGUF against its source, a
   * superset). Every tile's sha256 is still checked, and any change to the file still fails
   * the caller's check; only the hash pass that would repeat it is saved.
   */
  skipFileHash?: boolean;
}

export interface GcOptions {
  /** Also remove pending (interrupted, resumable) files. */
  pending?: boolean;
}

export interface GcResult {
  pendingRemoved: number;
  tilesRemoved: number;
  bytesFreed: number;
  tempFilesRemoved: number;
  orphanFilesRemoved: number;
}

export interface SweepResult {
  tempFilesRemoved: number;
  orphanFilesRemoved: number;
  /** Tile rows whose file is not on disk (verify names the files that use them). */
  missingTiles: string[];
}

export interface VolumeStats {
  files: number;
  pendingFiles: number;
  tiles: number;
  /** Sum of complete file sizes. */
  logicalBytes: number;
  /** Bytes of tile PNGs on disk (all tiles in the catalog). */
  storedBytes: number;
  /** Payload bytes of distinct tiles (all tiles in the catalog). */
  tilePayloadBytes: number;
  /** tilePayloadBytes / storedBytes: above 1 when deflate gains more than PNG framing costs. */
  compressionRatio: number;
  /** logicalBytes / distinct payload bytes of complete files: 2 = every tile stored once for two uses. */
  dedupeRatio: number;
  /** logicalBytes / storedBytes. */
  overallRatio: number;
  catalogBytes: number;
}

interface TileSource {
  buf: SharedArrayBuffer;
  length: number;
}

type Source = string | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH || name.includes('\0')) {
    throw new PixelFsError(C.BAD_NAME, `file name ${JSON.stringify(String(name)).slice(0, 80)} is not a non-empty string of at most ${MAX_NAME_LENGTH} characters without NUL`, {
      field: 'name',
      value: typeof name === 'string' ? name.slice(0, 80) : String(name),
    });
  }
}

function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Supplies a tile-sized buffer, recycled when one is free. */
type TakeBuffer = () => SharedArrayBuffer;

async function* tilesFromPath(file: string, cap: number, start: number, take: TakeBuffer): AsyncGenerator<TileSource> {
  const fh = await fs.open(file, 'r');
  try {
    let pos = start;
    for (;;) {
      const b = Buffer.from(take(), 0, cap);
      let n = 0;
      while (n < cap) {
        const { bytesRead } = await fh.read(b, n, cap - n, pos + n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (n === 0) return;
      yield { buf: b.buffer as SharedArrayBuffer, length: n };
      pos += n;
      if (n < cap) return;
    }
  } finally {
    await fh.close();
  }
}

async function* tilesFromIterable(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, cap: number, take: TakeBuffer): AsyncGenerator<TileSource> {
  let cur = Buffer.from(take(), 0, cap);
  let n = 0;
  for await (const chunk of src as AsyncIterable<Uint8Array>) {
    if (!(chunk instanceof Uint8Array)) {
      throw new PixelFsError(C.SOURCE_UNREADABLE, `put source yielded a ${typeof chunk}, expected Uint8Array chunks`, { field: 'source', value: typeof chunk });
    }
    let off = 0;
    while (off < chunk.length) {
      const k = Math.min(cap - n, chunk.length - off);
      copyInto(cur, n, chunk.subarray(off, off + k)); // a memcpy even between shared buffers
      n += k;
      off += k;
      if (n === cap) {
        yield { buf: cur.buffer as SharedArrayBuffer, length: cap };
        cur = Buffer.from(take(), 0, cap);
        n = 0;
      }
    }
  }
  if (n > 0) yield { buf: cur.buffer as SharedArrayBuffer, length: n };
}

export class Volume {
  readonly root: string;
  readonly settings: Readonly<VolumeSettings>;
  readonly geometry: TileGeometry;
  /** Payload bytes per tile (width x height x 4). */
  readonly tileBytes: number;
  /** What the orphan sweep at open found. */
  openSweep: SweepResult = { tempFilesRemoved: 0, orphanFilesRemoved: 0, missingTiles: [] };
  /** Tiles read from disk and decoded by `read()` (cache misses) since open: what a layout costs. */
  tileLoads = 0;

  private readonly tilesDir: string;
  private readonly ops: FileOps;
  private readonly pool: TilePool;
  private readonly ownPool: boolean;
  private readonly cache: ByteLru<string, Buffer>;
  private readonly commitEveryBytes: number;
  private readonly lock = new RwLock();
  private readonly activePuts = new Set<string>();
  /** Tiles written durably by a running put whose rows have not committed yet: hash -> PNG size. */
  private readonly uncommitted = new Map<string, number>();
  private readonly writing = new Map<string, Promise<number>>();
  private readonly dirsReady = new Map<string, Promise<void>>();
  private readonly loading = new Map<string, Promise<Buffer>>();
  private readonly fileTilesCache = new Map<number, FileTileRow[]>();
  private readonly maxPngBytes: number;
  /** Recycled tile-sized shared buffers: source tiles, PNGs, decoded payloads. */
  private readonly slabs: SlabPool;
  private closed = false;

  private constructor(
    root: string,
    private readonly catalog: Catalog,
    opts: OpenOptions,
  ) {
    this.root = root;
    this.tilesDir = path.join(root, TILES_DIR);
    this.settings = Object.freeze({ tileWidth: catalog.settings.tileWidth, tileHeight: catalog.settings.tileHeight, level: catalog.settings.level });
    this.geometry = { width: this.settings.tileWidth, height: this.settings.tileHeight };
    this.tileBytes = tileCapacity(this.geometry);
    // A full disk surfaces as PIXELFS_NO_SPACE naming the volume, not a bare ENOSPC.
    this.ops = noSpaceMappingOps(opts.fileOps ?? nodeFileOps, root);
    this.ownPool = !opts.pool;
    this.pool = opts.pool ?? new TilePool(opts.workers === undefined ? {} : { size: opts.workers });
    this.cache = new ByteLru(opts.cacheBytes ?? 64 * 1024 * 1024);
    this.commitEveryBytes = opts.commitEveryBytes ?? 64 * 1024 * 1024;
    const raw = this.settings.tileHeight * (this.settings.tileWidth * 4 + 1);
    // Deflate's worst case plus room for ancillary chunks a re-saving tool may add.
    this.maxPngBytes = raw + Math.ceil(raw / 1024) + 1024 * 1024;
    const slabBytes = Math.max(this.tileBytes, storedPngBytes(this.geometry));
    // Only what is kept between operations (emptied when idle); in use, the windows bound it.
    this.slabs = new SlabPool(slabBytes, Math.max(4, Math.floor((256 * 1024 * 1024) / slabBytes)));
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
      const tiles = path.join(root, TILES_DIR);
      await ops.mkdir(tiles);
      // All 256 fan-out folders now, so that a put never pays a mkdir + folder fsync.
      for (let i = 0; i < 256; i++) await ops.mkdir(path.join(tiles, i.toString(16).padStart(2, '0')));
      await ops.fsyncDir(tiles);
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
      await ops.mkdir(v.tilesDir);
      // Subfolders that an earlier session created are made durable once here, so that new
      // tiles only need their own folder fsynced.
      await ops.fsyncDir(v.tilesDir);
      v.openSweep = await v.sweep();
      return v;
    } catch (e) {
      catalog.close();
      throw e;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Paths and small helpers

  tilePath(hash: string): string {
    return path.join(this.tilesDir, hash.slice(0, 2), `${hash}.png`);
  }

  /**
   * Tiles in flight: enough to keep every worker and the disk busy (2 per worker + 4), but each
   * costs about two tile buffers, so the total stays under ~256 MiB whatever the tile size.
   */
  private defaultWindow(): number {
    const byMemory = Math.floor((256 * 1024 * 1024) / (2 * this.tileBytes));
    return Math.max(2, Math.min(this.pool.size * 2 + 4, byMemory));
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

  private tileContext(file: string, row: FileTileRow): { file: string; tileIndex: number; hash: string; offset: number; length: number } {
    return { file, tileIndex: row.idx, hash: row.hash, offset: row.idx * this.tileBytes, length: row.length };
  }

  /** Wraps a tile-level failure with the file, tile index, hash and byte range it concerns. */
  private tileError(file: string, row: FileTileRow, e: unknown): PixelFsError {
    const ctx = this.tileContext(file, row);
    const where = `tile ${row.idx} of '${file}' (bytes ${ctx.offset}..${ctx.offset + row.length - 1}, sha256 ${row.hash})`;
    if (isPixelFsError(e, C.TILE_MISSING)) return new PixelFsError(C.TILE_MISSING, `${where}: ${e.message}`, { ...ctx, cause: e.code });
    if (isPixelFsError(e) && (e.code.startsWith('PIXELFS_PNG_') || e.code.startsWith('PIXELFS_TILE_'))) {
      return new PixelFsError(C.TILE_CORRUPT, `${where} is corrupt: ${e.message}`, { ...ctx, cause: e.code });
    }
    if (e instanceof PixelFsError) return e;
    return new PixelFsError(C.TILE_CORRUPT, `${where} could not be read: ${(e as Error).message}`, { ...ctx, cause: (e as NodeJS.ErrnoException).code ?? 'ERROR' });
  }

  /** Reads a tile file into `reuse` when it fits, else into a fresh buffer that owns its ArrayBuffer. */
  private async readTileFile(hash: string, reuse?: TileBuffer): Promise<{ buf: TileBuffer; length: number }> {
    const p = this.tilePath(hash);
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(p, 'r');
    } catch (e) {
      if (isEnoent(e)) throw new PixelFsError(C.TILE_MISSING, `tile file ${p} does not exist`, { path: p });
      throw e;
    }
    try {
      const size = (await fh.stat()).size;
      if (size > this.maxPngBytes) throw new PixelFsError(C.TILE_TOO_LARGE, `${p}: ${size} bytes, larger than any tile of this volume can be (${this.maxPngBytes})`, { path: p, field: 'size', value: size });
      const b = reuse && reuse.byteLength >= size ? Buffer.from(reuse, 0, size) : Buffer.allocUnsafeSlow(size);
      let n = 0;
      while (n < size) {
        const { bytesRead } = await fh.read(b, n, size - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      return { buf: b.buffer as TileBuffer, length: n };
    } finally {
      await fh.close();
    }
  }

  private decodeOpts(hash: string, length: number, source: string) {
    return { maxWidth: this.geometry.width, maxHeight: this.geometry.height, expectedLength: length, expectedSha256: hash, source };
  }

  /** A verified payload, decoded on this thread, through the LRU cache. */
  private async tilePayload(file: string, row: FileTileRow): Promise<Buffer> {
    const hit = this.cache.get(row.hash);
    if (hit) return hit;
    let p = this.loading.get(row.hash);
    if (!p) {
      p = (async () => {
        try {
          this.tileLoads++;
          const { buf, length } = await this.readTileFile(row.hash);
          const payload = decodeTile(Buffer.from(buf, 0, length), this.decodeOpts(row.hash, row.length, this.tilePath(row.hash))).payload;
          this.cache.set(row.hash, payload);
          return payload;
        } finally {
          this.loading.delete(row.hash);
        }
      })();
      this.loading.set(row.hash, p);
    }
    try {
      return await p;
    } catch (e) {
      throw this.tileError(file, row, e);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Durable tile writes

  private ensureDir(dir: string): Promise<void> {
    let p = this.dirsReady.get(dir);
    if (!p) {
      p = (async () => {
        if (await this.ops.mkdir(dir)) await this.ops.fsyncDir(this.tilesDir);
      })();
      this.dirsReady.set(dir, p);
      p.catch(() => this.dirsReady.delete(dir));
    }
    return p;
  }

  /**
   * temp file -> write -> fsync -> close -> rename. The folder fsync that makes the rename durable
   * comes later, in syncTileDirs, once per folder per commit (one journal commit instead of one
   * per tile); no catalog row points at the tile before that.
   */
  private async writeTileFile(hash: string, png: Uint8Array): Promise<void> {
    const dir = path.join(this.tilesDir, hash.slice(0, 2));
    await this.ensureDir(dir);
    const tmp = path.join(dir, `${TEMP_PREFIX}${hash.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
    const h = await this.ops.create(tmp);
    let closed = false;
    try {
      await this.ops.write(h, png, 0);
      await this.ops.fsync(h);
      closed = true;
      await this.ops.close(h);
      await this.ops.rename(tmp, this.tilePath(hash));
    } catch (e) {
      // Best effort; whatever stays behind is a temp file the next sweep removes.
      if (!closed) await this.ops.close(h).catch(() => undefined);
      if (!isPixelFsError(e, C.SIMULATED_CRASH)) await this.ops.unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  /** fsyncs the folder of every tile a batch may add, before the batch's rows commit. */
  private async syncTileDirs(rows: readonly TileCommit[]): Promise<void> {
    const dirs = new Set<string>();
    for (const r of rows) if (r.storedSize !== null) dirs.add(path.join(this.tilesDir, r.hash.slice(0, 2)));
    await Promise.all([...dirs].map((d) => this.ops.fsyncDir(d)));
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
        const out = await this.doPut(name, source, opts);
        freed = out.freed;
        return out.result;
      });
      return r;
    } finally {
      this.activePuts.delete(name);
      if (this.activePuts.size === 0) this.uncommitted.clear();
      if (freed.length > 0 && !this.closed) await this.freeTiles(freed);
    }
  }

  private async doPut(name: string, source: Source, opts: PutOptions): Promise<{ result: PutResult; freed: string[] }> {
    const cat = this.catalog;
    const replace = cat.completeFile(name);
    if (replace && !opts.overwrite) throw new PixelFsError(C.FILE_EXISTS, `${this.root}: a file named '${name}' exists (pass overwrite to replace it)`, { file: name });
    const file = cat.pendingFile(name) ?? cat.createPending(name);
    const prior = new Map(cat.fileTiles(file.id).map((r) => [r.idx, r] as const));
    const cap = this.tileBytes;
    // The file's sha256 runs on the pool's hash thread, the tiles' on the tile workers: this
    // thread only reads, decides and writes.
    const fileHash = this.pool.fileHash();
    try {
      return await this.putTiles(name, source, opts, file, replace, prior, fileHash, cap);
    } finally {
      fileHash.drop(); // a no-op after the digest
    }
  }

  private async putTiles(
    name: string,
    source: Source,
    opts: PutOptions,
    file: FileRow,
    replace: FileRow | undefined,
    prior: Map<number, FileTileRow>,
    fileHash: FileHash,
    cap: number,
  ): Promise<{ result: PutResult; freed: string[] }> {
    const cat = this.catalog;
    const counts = { tilesWritten: 0, tilesDeduped: 0, tilesResumed: 0, bytesWritten: 0, tilesDone: 0 };
    let idx = 0;
    let bytesIn = 0;
    let totalBytes: number | null = opts.size ?? null;

    const start = opts.resumeOffset ?? 0;
    if (start !== 0) {
      let contiguous = 0;
      while (prior.has(contiguous) && prior.get(contiguous)!.length === cap) contiguous++;
      if (!Number.isSafeInteger(start) || start < 0 || start % cap !== 0 || start / cap > contiguous) {
        throw new PixelFsError(C.BAD_RESUME, `put '${name}': resumeOffset ${start} must be a multiple of the tile size ${cap} and at most ${contiguous * cap} (the stored prefix)`, {
          file: name,
          field: 'resumeOffset',
          value: start,
        });
      }
      for (; idx < start / cap; idx++) {
        await fileHash.update(await this.tilePayload(name, prior.get(idx)!));
        counts.tilesResumed++;
        counts.tilesDone++;
      }
      bytesIn = start;
    }

    // Source tiles and PNGs live in the volume's recycled shared slabs.
    const slabs = this.slabs;
    const take = (): SharedArrayBuffer => slabs.take();

    let tiles: AsyncGenerator<TileSource>;
    if (typeof source === 'string') {
      try {
        const st = await fs.stat(source);
        if (!st.isFile()) throw new Error('not a regular file');
        if (totalBytes === null) totalBytes = st.size;
      } catch (e) {
        throw new PixelFsError(C.SOURCE_UNREADABLE, `put '${name}': cannot read source ${source}: ${(e as Error).message}`, { file: name, field: 'source', value: source });
      }
      tiles = tilesFromPath(source, cap, start, take);
    } else {
      tiles = tilesFromIterable(source, cap, take);
    }

    let batch: TileCommit[] = [];
    let batchBytes = 0;
    // Commits run one after another (folder fsyncs, then one transaction); the put waits for the
    // chain before completing, and a failed commit fails the put.
    let commits: Promise<void> = Promise.resolve();
    const commit = (): Promise<void> => {
      const rows = batch;
      batch = [];
      batchBytes = 0;
      if (rows.length > 0) {
        commits = commits.then(async () => {
          await this.syncTileDirs(rows);
          cat.commitTiles(file.id, rows);
          for (const r of rows) this.uncommitted.delete(r.hash);
        });
      }
      return commits;
    };
    const progress = (): void => opts.onProgress?.({ name, bytesIn, totalBytes, ...counts });

    const window = opts.window ?? this.defaultWindow();
    const inFlight = new Set<Promise<void>>();
    let failure: { e: unknown } | null = null;

    // One tile: its sha256 on a worker, then what it needs (nothing, a row, or encode + write).
    // Its slab goes back once both the worker and the file hash are done with it.
    const handle = async (i: number, t: TileSource, hashed: Promise<void>): Promise<void> => {
      try {
        const { sha256: hash } = await this.pool.hash({ buf: t.buf, length: t.length });
        const row = await this.placeTile(t, hash, i, prior.get(i), counts);
        if (row) {
          batch.push(row);
          batchBytes += row.length;
          if (batchBytes >= this.commitEveryBytes) await commit();
        }
        counts.tilesDone++;
        progress();
      } finally {
        await hashed.catch(() => undefined); // its failure fails the digest
        slabs.give(t.buf);
      }
      await hashed;
    };

    try {
      for await (const t of tiles) {
        // Queued in file order; the hash thread reads the slab in place.
        const hashed = fileHash.update(new Uint8Array(t.buf, 0, t.length));
        hashed.catch(() => undefined); // awaited in handle
        bytesIn += t.length;
        const p = handle(idx++, t, hashed).catch((e: unknown) => {
          failure ??= { e };
        });
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
        while (inFlight.size >= window) await Promise.race(inFlight);
        if (failure) break;
      }
    } catch (e) {
      failure ??= { e };
    }
    // Nothing may still be writing when put returns, failed or not.
    await Promise.all(inFlight);
    if (failure) {
      // The tiles of this batch are written: recording them lets a rerun skip them.
      await commit().catch(() => undefined); // the original failure matters more
      throw (failure as { e: unknown }).e;
    }

    if (opts.size !== undefined && opts.size !== bytesIn) {
      await commit(); // keep the work: a rerun with the right source resumes from it
      throw new PixelFsError(C.SOURCE_SIZE_MISMATCH, `put '${name}': source gave ${bytesIn} bytes, expected ${opts.size}`, { file: name, field: 'size', value: bytesIn });
    }
    const sha256 = await fileHash.digest();
    await commits;
    await this.syncTileDirs(batch);
    const freed = cat.completePending(file, batch, bytesIn, sha256, idx, replace);
    for (const r of batch) this.uncommitted.delete(r.hash);
    progress();
    return {
      result: { name, size: bytesIn, sha256, tiles: idx, ...counts },
      freed,
    };
  }

  /** Decides what one hashed tile needs; returns the row to commit, or null if already committed. */
  private async placeTile(
    t: TileSource,
    hash: string,
    idx: number,
    prior: FileTileRow | undefined,
    counts: { tilesWritten: number; tilesDeduped: number; tilesResumed: number; bytesWritten: number },
  ): Promise<TileCommit | null> {
    const length = t.length;
    if (prior && prior.hash === hash && prior.length === length) {
      counts.tilesResumed++;
      return null;
    }
    if (this.catalog.hasTile(hash)) {
      counts.tilesDeduped++;
      return { idx, hash, length, storedSize: null };
    }
    const known = this.uncommitted.get(hash);
    if (known !== undefined) {
      counts.tilesDeduped++;
      return { idx, hash, length, storedSize: known };
    }
    const running = this.writing.get(hash);
    if (running) {
      const storedSize = await running;
      counts.tilesDeduped++;
      return { idx, hash, length, storedSize };
    }
    const w = (async () => {
      const spare = this.slabs.take();
      let png: TileBuffer = spare;
      try {
        const enc = await this.pool.encode({ tile: t.buf, length, sha256: hash, geometry: this.geometry, level: this.settings.level, spare });
        png = enc.png.buffer as TileBuffer;
        this.slabs.give(enc.spare); // only when the PNG did not fit (deflate at levels 1-9)
        await this.writeTileFile(hash, enc.png);
        return enc.png.length;
      } finally {
        this.slabs.give(png); // the worker is done with it (answered or failed), and so is the write
      }
    })();
    this.writing.set(hash, w);
    try {
      const storedSize = await w;
      this.uncommitted.set(hash, storedSize);
      counts.tilesWritten++;
      counts.bytesWritten += storedSize;
      return { idx, hash, length, storedSize };
    } finally {
      this.writing.delete(hash);
    }
  }

  // -------------------------------------------------------------------------------------------
  // get / read / verify

  /**
   * Runs fn(payload, row) for every tile of a file in order, decoding (and checking each tile's
   * sha256) on the worker pool with a window of tiles in flight, while the pool's hash thread
   * computes the file's sha256 over the same shared memory (unless `hashFile` is false). Returns
   * that sha256, or null when a tile failed or the file was not hashed. Tile errors come wrapped
   * with file/tile context; with `onError` they go there and the tile is skipped. The payload's
   * memory is reused once fn has returned and every promise fn passed to `keep` has settled.
   */
  private async streamTiles(
    name: string,
    rows: readonly FileTileRow[],
    fn: (payload: Buffer, row: FileTileRow, keep: (p: Promise<unknown>) => void) => Promise<void> | void,
    { onError, hashFile = true }: { onError?: (e: PixelFsError, row: FileTileRow) => void; hashFile?: boolean } = {},
  ): Promise<string | null> {
    const window = this.defaultWindow();
    const slabs = this.slabs;
    const load = async (row: FileTileRow): Promise<Buffer> => {
      const pngSlab = slabs.take();
      const into = slabs.take();
      let kept = false;
      try {
        const { buf, length } = await this.readTileFile(row.hash, pngSlab);
        const d = await this.pool.decode({ png: buf, length, opts: this.decodeOpts(row.hash, row.length, this.tilePath(row.hash)), into });
        kept = d.payload.buffer === into; // the pool answers with the caller's own buffer objects
        return d.payload;
      } finally {
        // The worker has answered (or failed): the PNG slab is free, and `into` unless it holds the payload.
        slabs.give(pngSlab);
        if (!kept) slabs.give(into);
      }
    };
    const fileHash = hashFile ? this.pool.fileHash() : null;
    let failed = false;
    const queue: Promise<Buffer>[] = [];
    const settled = (p: Promise<Buffer>): Promise<Buffer> => {
      p.catch(() => undefined); // handled when its turn comes
      return p;
    };
    // Payloads handed out and not yet free (the hash thread or the destination may still read them).
    const releases: Promise<void>[] = [];
    let next = 0;
    try {
      while (next < rows.length && queue.length < window) queue.push(settled(load(rows[next++]!)));
      for (const row of rows) {
        const p = queue.shift()!;
        let payload: Buffer;
        try {
          payload = await p;
        } catch (e) {
          if (next < rows.length) queue.push(settled(load(rows[next++]!)));
          const err = this.tileError(name, row, e);
          if (!onError) throw err;
          failed = true;
          onError(err, row);
          continue;
        }
        const kept: Promise<unknown>[] = [];
        if (fileHash && !failed) {
          const hashed = fileHash.update(payload);
          hashed.catch(() => undefined); // the digest fails too
          kept.push(hashed);
        }
        await fn(payload, row, (q) => kept.push(q));
        releases.push(Promise.allSettled(kept).then(() => slabs.give(payload.buffer as TileBuffer)));
        // Bounded: a slow hash thread or destination holds at most two payloads beyond the window.
        if (releases.length > 2) await releases.shift();
        if (next < rows.length) queue.push(settled(load(rows[next++]!)));
      }
      if (failed || !fileHash) return null;
      return await fileHash.digest();
    } finally {
      fileHash?.drop(); // a no-op after the digest
      await Promise.allSettled(queue); // nothing keeps running after we return
    }
  }

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
            check(await this.streamTiles(name, rows, (payload: Buffer) => sink.write(payload), { hashFile: !opts.skipFileHash }));
          },
          { ops: this.ops, durable: opts.fsync === true, rolling: true },
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
        check(await this.streamTiles(name, rows, write, { hashFile: !opts.skipFileHash }));
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
        const payload = await this.tilePayload(name, row);
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
      const report: VerifyReport = { ok: true, filesChecked: 0, tilesChecked: 0, bytesChecked: 0, problems: [] };
      const cap = this.tileBytes;
      for (const f of files) {
        report.filesChecked++;
        const rows = this.catalog.fileTiles(f.id);
        const size = f.size ?? 0;
        const before = report.problems.length;
        // The shape of the rows: 0..n-1, full tiles except the last, summing to the size.
        const expectTiles = Math.ceil(size / cap);
        let sum = 0;
        rows.forEach((r, i) => {
          sum += r.length;
          const want = i === expectTiles - 1 ? size - i * cap : cap;
          if (r.idx !== i || r.length !== want) {
            report.problems.push({ ...this.tileContext(f.name, r), code: C.CATALOG_INCONSISTENT, message: `'${f.name}': tile row ${i} has index ${r.idx} and length ${r.length}, expected ${i} and ${want}` });
          }
        });
        if (rows.length !== expectTiles || sum !== size) {
          report.problems.push({ file: f.name, code: C.CATALOG_INCONSISTENT, message: `'${f.name}': ${rows.length} tile rows holding ${sum} bytes, expected ${expectTiles} holding ${size}` });
        }
        const got = await this.streamTiles(
          f.name,
          rows,
          (payload) => {
            report.tilesChecked++;
            report.bytesChecked += payload.length;
          },
          {
            onError: (e, row) => {
              report.tilesChecked++;
              report.problems.push({ ...this.tileContext(f.name, row), code: e.code, message: e.message });
            },
          },
        );
        if (report.problems.length === before && got !== f.sha256) {
          report.problems.push({ file: f.name, code: C.FILE_CHECKSUM_MISMATCH, message: `'${f.name}': the tiles give sha256 ${got}, the catalog says ${f.sha256}` });
        }
      }
      report.ok = report.problems.length === 0;
      return report;
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
      return this.unlinkTiles(gone);
    });
  }

  private async unlinkTiles(gone: { hash: string; storedSize: number }[]): Promise<{ tilesRemoved: number; bytesFreed: number }> {
    let bytesFreed = 0;
    for (const t of gone) {
      await this.ops.unlink(this.tilePath(t.hash)).catch((e: unknown) => {
        if (!isEnoent(e)) throw e;
      });
      bytesFreed += t.storedSize;
    }
    return { tilesRemoved: gone.length, bytesFreed };
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
      this.uncommitted.clear(); // no put runs under the exclusive lock
      const freed = await this.unlinkTiles(this.catalog.deleteUnreferencedTiles(null));
      const swept = await this.sweep();
      return { pendingRemoved, ...freed, tempFilesRemoved: swept.tempFilesRemoved, orphanFilesRemoved: swept.orphanFilesRemoved };
    });
  }

  /** Temp files and tile files without a catalog row are leftovers of a crash: remove them. */
  private async sweep(): Promise<SweepResult> {
    const known = this.catalog.allTileHashes();
    const result: SweepResult = { tempFilesRemoved: 0, orphanFilesRemoved: 0, missingTiles: [] };
    const seen = new Set<string>();
    let dirs: string[];
    try {
      dirs = await fs.readdir(this.tilesDir);
    } catch (e) {
      if (!isEnoent(e)) throw e;
      dirs = [];
    }
    for (const d of dirs) {
      if (!FANOUT_NAME.test(d)) continue;
      const dir = path.join(this.tilesDir, d);
      let names: string[];
      try {
        names = await fs.readdir(dir);
      } catch {
        continue; // not a folder
      }
      if (!this.dirsReady.has(dir)) this.dirsReady.set(dir, Promise.resolve());
      for (const n of names) {
        const p = path.join(dir, n);
        if (n.startsWith(TEMP_PREFIX)) {
          await this.ops.unlink(p);
          result.tempFilesRemoved++;
          continue;
        }
        const m = TILE_NAME.exec(n);
        if (!m) continue; // not ours: leave it
        const hash = m[1]!;
        if (hash.slice(0, 2) === d && known.has(hash)) {
          seen.add(hash);
          continue;
        }
        await this.ops.unlink(p);
        result.orphanFilesRemoved++;
      }
    }
    for (const h of known) if (!seen.has(h)) result.missingTiles.push(h);
    return result;
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

  /** Empties the decoded-tile cache, so that the next reads load from disk (layout measurements). */
  dropCache(): void {
    this.cache.clear();
  }

  /** Waits for running operations, then closes the catalog (and the pool if the volume owns it). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.lock.exclusive(async () => {
      this.closed = true;
    });
    this.catalog.close();
    this.cache.clear();
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
