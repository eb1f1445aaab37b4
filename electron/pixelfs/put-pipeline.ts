/**
 * A put's pipeline: the source cut into tiles, each tile's sha256 on a worker, then per tile what
 * it needs (nothing when a rerun finds it committed, a row when the volume already holds it,
 * or encode + durable write), rows committed in batches after their folders are fsynced, and the
 * file completed in one transaction. The file's sha256 runs on the pool's hash thread.
 */
import fs from 'node:fs/promises';
import type { Catalog, FileRow, FileTileRow, TileCommit } from './catalog';
import { PixelFsCodes as C, PixelFsError } from './errors';
import { tilesFromIterable, tilesFromPath, type Source, type TileSource } from './put-source';
import type { SlabPool } from './slabs';
import type { TileGeometry } from './tile-codec';
import type { TileFiles } from './tile-files';
import { tileWindow, type TileReader } from './tile-reader';
import type { PutOptions, PutResult } from './volume-types';
import type { FileHash, TileBuffer, TilePool } from './worker-pool';

/** What a put works with: the volume's parts. */
export interface PutDeps {
  root: string;
  catalog: Catalog;
  files: TileFiles;
  reader: TileReader;
  pool: TilePool;
  /** Recycled tile-sized shared buffers: source tiles and PNGs. */
  slabs: SlabPool;
  geometry: TileGeometry;
  level: number;
  /** Payload bytes per tile. */
  tileBytes: number;
  /** Commit a batch of tile rows once this many payload bytes are durable. */
  commitEveryBytes: number;
}

export class PutPipeline {
  /** Tiles written durably by a running put whose rows have not committed yet: hash -> PNG size. */
  private readonly uncommitted = new Map<string, number>();
  private readonly writing = new Map<string, Promise<number>>();

  constructor(private readonly d: PutDeps) {}

  /** Forgets tiles written by puts that are over (none runs: their rows committed or never will). */
  clearUncommitted(): void {
    this.uncommitted.clear();
  }

  /** Runs one put; `freed` names the tiles of a replaced file, for the caller to free. */
  async run(name: string, source: Source, opts: PutOptions): Promise<{ result: PutResult; freed: string[] }> {
    const cat = this.d.catalog;
    const replace = cat.completeFile(name);
    if (replace && !opts.overwrite) throw new PixelFsError(C.FILE_EXISTS, `${this.d.root}: a file named '${name}' exists (pass overwrite to replace it)`, { file: name });
    const file = cat.pendingFile(name) ?? cat.createPending(name);
    const prior = new Map(cat.fileTiles(file.id).map((r) => [r.idx, r] as const));
    const cap = this.d.tileBytes;
    // The file's sha256 runs on the pool's hash thread, the tiles' on the tile workers: this
    // thread only reads, decides and writes.
    const fileHash = this.d.pool.fileHash();
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
    const cat = this.d.catalog;
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
        await fileHash.update(await this.d.reader.payload(name, prior.get(idx)!));
        counts.tilesResumed++;
        counts.tilesDone++;
      }
      bytesIn = start;
    }

    // Source tiles and PNGs live in the volume's recycled shared slabs.
    const slabs = this.d.slabs;
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
          await this.d.files.syncDirs(rows);
          cat.commitTiles(file.id, rows);
          for (const r of rows) this.uncommitted.delete(r.hash);
        });
      }
      return commits;
    };
    const progress = (): void => opts.onProgress?.({ name, bytesIn, totalBytes, ...counts });

    const window = opts.window ?? tileWindow(this.d.pool.size, this.d.tileBytes);
    const inFlight = new Set<Promise<void>>();
    let failure: { e: unknown } | null = null;

    // One tile: its sha256 on a worker, then what it needs (nothing, a row, or encode + write).
    // Its slab goes back once both the worker and the file hash are done with it.
    const handle = async (i: number, t: TileSource, hashed: Promise<void>): Promise<void> => {
      try {
        const { sha256: hash } = await this.d.pool.hash({ buf: t.buf, length: t.length });
        const row = await this.placeTile(t, hash, i, prior.get(i), counts);
        if (row) {
          batch.push(row);
          batchBytes += row.length;
          if (batchBytes >= this.d.commitEveryBytes) await commit();
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
    await this.d.files.syncDirs(batch);
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
    if (this.d.catalog.hasTile(hash)) {
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
      const spare = this.d.slabs.take();
      let png: TileBuffer = spare;
      try {
        const enc = await this.d.pool.encode({ tile: t.buf, length, sha256: hash, geometry: this.d.geometry, level: this.d.level, spare });
        png = enc.png.buffer as TileBuffer;
        this.d.slabs.give(enc.spare); // only when the PNG did not fit (deflate at levels 1-9)
        await this.d.files.write(hash, enc.png);
        return enc.png.length;
      } finally {
        this.d.slabs.give(png); // the worker is done with it (answered or failed), and so is the write
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
}
