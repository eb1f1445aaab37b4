/**
 * Reading a volume's tiles back: one verified payload through the decoded-tile cache (random
 * access), or every tile of a file in order, decoded on the worker pool with a window in flight
 * while the pool's hash thread computes the file's sha256 (get, verify). Tile failures come
 * wrapped with the file, tile index, hash and byte range they concern.
 */
import type { FileTileRow } from './catalog';
import { PixelFsCodes as C, PixelFsError, isPixelFsError } from './errors';
import { ByteLru } from './lru';
import type { SlabPool } from './slabs';
import { decodeTile, type TileGeometry } from './tile-codec';
import type { TileFiles } from './tile-files';
import type { TileBuffer, TilePool } from './worker-pool';

/** Where a tile sits in a file: what a tile error or a verify problem names. */
export interface TileContext {
  file: string;
  tileIndex: number;
  hash: string;
  offset: number;
  length: number;
}

/**
 * Tiles in flight: enough to keep every worker and the disk busy (2 per worker + 4), but each
 * costs about two tile buffers, so the total stays under ~256 MiB whatever the tile size.
 */
export function tileWindow(poolSize: number, tileBytes: number): number {
  const byMemory = Math.floor((256 * 1024 * 1024) / (2 * tileBytes));
  return Math.max(2, Math.min(poolSize * 2 + 4, byMemory));
}

export class TileReader {
  /** Tiles read from disk and decoded by `payload()` (cache misses): what a layout costs. */
  tileLoads = 0;
  private readonly cache: ByteLru<string, Buffer>;
  private readonly loading = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly files: TileFiles,
    private readonly pool: TilePool,
    /** Recycled tile-sized shared buffers: PNGs and decoded payloads. */
    private readonly slabs: SlabPool,
    private readonly geometry: TileGeometry,
    /** Payload bytes per tile. */
    private readonly tileBytes: number,
    cacheBytes: number,
  ) {
    this.cache = new ByteLru(cacheBytes);
  }

  context(file: string, row: FileTileRow): TileContext {
    return { file, tileIndex: row.idx, hash: row.hash, offset: row.idx * this.tileBytes, length: row.length };
  }

  /** Wraps a tile-level failure with the file, tile index, hash and byte range it concerns. */
  error(file: string, row: FileTileRow, e: unknown): PixelFsError {
    const ctx = this.context(file, row);
    const where = `tile ${row.idx} of '${file}' (bytes ${ctx.offset}..${ctx.offset + row.length - 1}, sha256 ${row.hash})`;
    if (isPixelFsError(e, C.TILE_MISSING)) return new PixelFsError(C.TILE_MISSING, `${where}: ${e.message}`, { ...ctx, cause: e.code });
    if (isPixelFsError(e) && (e.code.startsWith('PIXELFS_PNG_') || e.code.startsWith('PIXELFS_TILE_'))) {
      return new PixelFsError(C.TILE_CORRUPT, `${where} is corrupt: ${e.message}`, { ...ctx, cause: e.code });
    }
    if (e instanceof PixelFsError) return e;
    return new PixelFsError(C.TILE_CORRUPT, `${where} could not be read: ${(e as Error).message}`, { ...ctx, cause: (e as NodeJS.ErrnoException).code ?? 'ERROR' });
  }

  private decodeOpts(hash: string, length: number, source: string) {
    return { maxWidth: this.geometry.width, maxHeight: this.geometry.height, expectedLength: length, expectedSha256: hash, source };
  }

  /** A verified payload, decoded on this thread, through the LRU cache. */
  async payload(file: string, row: FileTileRow): Promise<Buffer> {
    const hit = this.cache.get(row.hash);
    if (hit) return hit;
    let p = this.loading.get(row.hash);
    if (!p) {
      p = (async () => {
        try {
          this.tileLoads++;
          const { buf, length } = await this.files.read(row.hash);
          const payload = decodeTile(Buffer.from(buf, 0, length), this.decodeOpts(row.hash, row.length, this.files.path(row.hash))).payload;
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
      throw this.error(file, row, e);
    }
  }

  /** Empties the decoded-tile cache. */
  clearCache(): void {
    this.cache.clear();
  }

  /**
   * Runs fn(payload, row) for every tile of a file in order, decoding (and checking each tile's
   * sha256) on the worker pool with a window of tiles in flight, while the pool's hash thread
   * computes the file's sha256 over the same shared memory (unless `hashFile` is false). Returns
   * that sha256, or null when a tile failed or the file was not hashed. Tile errors come wrapped
   * with file/tile context; with `onError` they go there and the tile is skipped. The payload's
   * memory is reused once fn has returned and every promise fn passed to `keep` has settled.
   */
  async stream(
    name: string,
    rows: readonly FileTileRow[],
    fn: (payload: Buffer, row: FileTileRow, keep: (p: Promise<unknown>) => void) => Promise<void> | void,
    { onError, hashFile = true }: { onError?: (e: PixelFsError, row: FileTileRow) => void; hashFile?: boolean } = {},
  ): Promise<string | null> {
    const window = tileWindow(this.pool.size, this.tileBytes);
    const slabs = this.slabs;
    const load = async (row: FileTileRow): Promise<Buffer> => {
      const pngSlab = slabs.take();
      const into = slabs.take();
      let kept = false;
      try {
        const { buf, length } = await this.files.read(row.hash, pngSlab);
        const d = await this.pool.decode({ png: buf, length, opts: this.decodeOpts(row.hash, row.length, this.files.path(row.hash)), into });
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
          const err = this.error(name, row, e);
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
}
