/**
 * A volume's tile files on disk: `tiles/<first two hex digits>/<sha256>.png`.
 *
 * Durability (specs/pixelfs.md): a tile is written to a temp file in its final folder, fsynced,
 * renamed to `<sha256>.png`; the folder fsync that makes the rename durable is batched per
 * catalog commit (`syncDirs`), and no catalog row points at a tile before it. Every write-side
 * call goes through the volume's FileOps. What a crash leaves (temp files, files without a
 * catalog row) `sweep` removes.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TileCommit } from './catalog';
import { PixelFsCodes as C, PixelFsError, isPixelFsError } from './errors';
import type { FileOps } from './file-ops';
import type { TileGeometry } from './tile-codec';
import type { SweepResult } from './volume-types';
import type { TileBuffer } from './worker-pool';

export const TILES_DIR = 'tiles';
const TEMP_PREFIX = '.tmp-';
const TILE_NAME = /^([0-9a-f]{64})\.png$/;
const FANOUT_NAME = /^[0-9a-f]{2}$/;

export function isEnoent(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

export class TileFiles {
  /** The `tiles/` folder. */
  readonly dir: string;
  /** No tile file of this volume's geometry can be larger: a bigger one is rejected unread. */
  readonly maxPngBytes: number;
  private readonly dirsReady = new Map<string, Promise<void>>();

  constructor(
    root: string,
    geometry: TileGeometry,
    private readonly ops: FileOps,
  ) {
    this.dir = path.join(root, TILES_DIR);
    const raw = geometry.height * (geometry.width * 4 + 1);
    // Deflate's worst case plus room for ancillary chunks a re-saving tool may add.
    this.maxPngBytes = raw + Math.ceil(raw / 1024) + 1024 * 1024;
  }

  /**
   * The folders of a new volume: `tiles/` and all 256 fan-out folders now, so that a put never
   * pays a mkdir + folder fsync. The caller fsyncs the volume folder after.
   */
  static async createLayout(root: string, ops: FileOps): Promise<void> {
    const tiles = path.join(root, TILES_DIR);
    await ops.mkdir(tiles);
    for (let i = 0; i < 256; i++) await ops.mkdir(path.join(tiles, i.toString(16).padStart(2, '0')));
    await ops.fsyncDir(tiles);
  }

  /**
   * At open: `tiles/` exists, and subfolders that an earlier session created are made durable
   * once here, so that new tiles only need their own folder fsynced.
   */
  async prepare(ops: FileOps): Promise<void> {
    await ops.mkdir(this.dir);
    await ops.fsyncDir(this.dir);
  }

  path(hash: string): string {
    return path.join(this.dir, hash.slice(0, 2), `${hash}.png`);
  }

  private ensureDir(dir: string): Promise<void> {
    let p = this.dirsReady.get(dir);
    if (!p) {
      p = (async () => {
        if (await this.ops.mkdir(dir)) await this.ops.fsyncDir(this.dir);
      })();
      this.dirsReady.set(dir, p);
      p.catch(() => this.dirsReady.delete(dir));
    }
    return p;
  }

  /**
   * temp file -> write -> fsync -> close -> rename. The folder fsync that makes the rename durable
   * comes later, in syncDirs, once per folder per commit (one journal commit instead of one
   * per tile); no catalog row points at the tile before that.
   */
  async write(hash: string, png: Uint8Array): Promise<void> {
    const dir = path.join(this.dir, hash.slice(0, 2));
    await this.ensureDir(dir);
    const tmp = path.join(dir, `${TEMP_PREFIX}${hash.slice(0, 16)}-${randomBytes(6).toString('hex')}`);
    // Around the page cache: a tile is written once and, during an import, not read back soon.
    const h = await this.ops.create(tmp, { direct: true });
    let closed = false;
    try {
      await this.ops.write(h, png, 0);
      await this.ops.fsync(h);
      closed = true;
      await this.ops.close(h);
      await this.ops.rename(tmp, this.path(hash));
    } catch (e) {
      // Best effort; whatever stays behind is a temp file the next sweep removes.
      if (!closed) await this.ops.close(h).catch(() => undefined);
      if (!isPixelFsError(e, C.SIMULATED_CRASH)) await this.ops.unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  /** fsyncs the folder of every tile a batch may add, before the batch's rows commit. */
  async syncDirs(rows: readonly TileCommit[]): Promise<void> {
    const dirs = new Set<string>();
    for (const r of rows) if (r.storedSize !== null) dirs.add(path.join(this.dir, r.hash.slice(0, 2)));
    await Promise.all([...dirs].map((d) => this.ops.fsyncDir(d)));
  }

  /** Reads a tile file into `reuse` when it fits, else into a fresh buffer that owns its ArrayBuffer. */
  async read(hash: string, reuse?: TileBuffer): Promise<{ buf: TileBuffer; length: number }> {
    const p = this.path(hash);
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

  /** Unlinks the files of tiles whose rows are gone (a file already missing is not an error). */
  async unlink(gone: { hash: string; storedSize: number }[]): Promise<{ tilesRemoved: number; bytesFreed: number }> {
    let bytesFreed = 0;
    for (const t of gone) {
      await this.ops.unlink(this.path(t.hash)).catch((e: unknown) => {
        if (!isEnoent(e)) throw e;
      });
      bytesFreed += t.storedSize;
    }
    return { tilesRemoved: gone.length, bytesFreed };
  }

  /** Temp files and tile files without a catalog row (not in `known`) are leftovers of a crash: remove them. */
  async sweep(known: ReadonlySet<string>): Promise<SweepResult> {
    const result: SweepResult = { tempFilesRemoved: 0, orphanFilesRemoved: 0, missingTiles: [] };
    const seen = new Set<string>();
    let dirs: string[];
    try {
      dirs = await fs.readdir(this.dir);
    } catch (e) {
      if (!isEnoent(e)) throw e;
      dirs = [];
    }
    for (const d of dirs) {
      if (!FANOUT_NAME.test(d)) continue;
      const dir = path.join(this.dir, d);
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
}
