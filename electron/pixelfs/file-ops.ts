/**
 * Every write-side filesystem call PixelFS makes goes through FileOps, so a test can stop the
 * world at any one of them (tests/support/faulty-file-ops.ts) and check that the volume recovers. Reads do not go
 * through here: a crash cannot happen "inside" a read in a way that changes what is on disk.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { alignedSharedBuffer } from './slabs';
import { copyInto } from './tile-bytes';

export interface WriteHandle {
  readonly path: string;
}

export interface CreateOptions {
  /**
   * Write around the page cache where the system allows it (Linux O_DIRECT): for bulk data written
   * once and not read back soon (tiles). Copying a gigabyte into the page cache and writing it
   * back costs this VM ~1.6-2.8 s of kernel CPU; straight from user memory, ~0.3 s (specs/pixelfs.md,
   * "Tiles around the page cache"). Only a write whose memory, position and length suit the device
   * (512-byte aligned; PixelFS's slabs are page-aligned) goes direct; any other write, and every
   * write where the file system refuses O_DIRECT, goes through the cache as usual. Durability is
   * unchanged: the caller still fsyncs.
   */
  direct?: boolean;
}

export interface FileOps {
  /** mkdir -p; resolves true when `dir` itself was created by this call. */
  mkdir(dir: string): Promise<boolean>;
  /** Creates a new file for writing; fails if it exists (O_CREAT | O_EXCL | O_WRONLY). */
  create(file: string, opts?: CreateOptions): Promise<WriteHandle>;
  /** Writes all of `data` at `position`. */
  write(h: WriteHandle, data: Uint8Array, position: number): Promise<void>;
  fsync(h: WriteHandle): Promise<void>;
  close(h: WriteHandle): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(file: string): Promise<void>;
  /** fsync of a directory: makes creations, renames and unlinks inside it durable. */
  fsyncDir(dir: string): Promise<void>;
}

/**
 * Direct writes: memory address, file position and length in multiples of this. 512 is what
 * block devices ask (their logical block); 4096 also suits 4K-sector disks, and PixelFS's slabs
 * are page-aligned, so it costs nothing.
 */
const DIRECT_ALIGN = 4096;
/** O_DIRECT where the platform has it (Linux); elsewhere every write goes through the cache. */
const O_DIRECT: number | undefined = (fsConstants as { O_DIRECT?: number }).O_DIRECT;
/** Folders whose file system refused O_DIRECT once (tmpfs before Linux 6.6, some FUSE mounts): not asked again. */
const directRefused = new Set<string>();

class NodeHandle implements WriteHandle {
  /** A second handle on the file without O_DIRECT, opened at the first write that cannot go direct. */
  private cachedFh: fs.FileHandle | null = null;
  /** The file's length as written so far (it was created empty): a padded direct write may not cut it. */
  end = 0;

  constructor(
    readonly path: string,
    readonly fh: fs.FileHandle,
    /** fh was opened with O_DIRECT. */
    public direct = false,
  ) {}

  /** A handle for a write through the page cache: fh itself, or the second handle when fh is direct. */
  async cached(): Promise<fs.FileHandle> {
    if (!this.direct) return this.fh;
    this.cachedFh ??= await fs.open(this.path, 'r+');
    return this.cachedFh;
  }

  async close(): Promise<void> {
    const second = this.cachedFh;
    this.cachedFh = null;
    try {
      await second?.close();
    } finally {
      await this.fh.close();
    }
  }
}

async function writeAll(fh: fs.FileHandle, data: Uint8Array, from: number, position: number): Promise<void> {
  let off = from;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off, position + off);
    if (bytesWritten <= 0) throw new Error(`write to ${position + off} wrote nothing`);
    off += bytesWritten;
  }
}

/**
 * Writes data at position on a direct handle when it can: whole blocks, the last one rounded up
 * when the buffer has room after the data and nothing was written past it (then the file is cut
 * back to the data's end). Returns how many bytes of data went down: all, or a whole number of
 * blocks (maybe none) when the memory or the kernel did not allow more; the caller writes the
 * rest through the cache.
 */
async function writeDirect(h: NodeHandle, data: Uint8Array, position: number): Promise<number> {
  const end = position + data.length;
  const padded = end >= h.end ? Math.ceil(data.length / DIRECT_ALIGN) * DIRECT_ALIGN : data.length - (data.length % DIRECT_ALIGN);
  if (position % DIRECT_ALIGN !== 0 || data.byteOffset % DIRECT_ALIGN !== 0 || padded === 0 || data.byteOffset + padded > data.buffer.byteLength) return 0;
  const whole = new Uint8Array(data.buffer, data.byteOffset, padded);
  let done = 0;
  try {
    while (done < padded) {
      const { bytesWritten } = await h.fh.write(whole, done, padded - done, position + done);
      if (bytesWritten <= 0 || bytesWritten % DIRECT_ALIGN !== 0) break;
      done += bytesWritten;
    }
  } catch (e) {
    // EINVAL: this memory is not aligned (not a slab) or the device wants more; the cache takes the rest.
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
  }
  if (done > data.length) {
    await h.fh.truncate(end);
    done = data.length;
  }
  h.end = Math.max(h.end, position + done);
  return done;
}

async function createDirect(file: string): Promise<NodeHandle> {
  const dir = path.dirname(file);
  if (O_DIRECT === undefined || directRefused.has(dir)) return new NodeHandle(file, await fs.open(file, 'wx'));
  try {
    return new NodeHandle(file, await fs.open(file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | O_DIRECT, 0o666), true);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
    directRefused.add(dir);
    // Linux creates the file before it checks O_DIRECT: the new (empty) file may be there already.
    try {
      return new NodeHandle(file, await fs.open(file, 'wx'));
    } catch (e2) {
      if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2;
      return new NodeHandle(file, await fs.open(file, 'r+'));
    }
  }
}

/** Whether a handle of nodeFileOps writes around the page cache (asked with `direct` and granted by the file system). */
export function writesDirect(h: WriteHandle): boolean {
  return h instanceof NodeHandle && h.direct;
}

function nodeHandle(h: WriteHandle): NodeHandle {
  if (!(h instanceof NodeHandle)) throw new TypeError('FileOps: handle from another FileOps implementation');
  return h;
}

/** The real thing. */
export const nodeFileOps: FileOps = {
  async mkdir(dir) {
    const first = await fs.mkdir(dir, { recursive: true });
    return first !== undefined && path.resolve(first) === path.resolve(dir);
  },
  async create(file, opts) {
    if (opts?.direct) return createDirect(file);
    return new NodeHandle(file, await fs.open(file, 'wx'));
  },
  async write(h, data, position) {
    const nh = nodeHandle(h);
    const done = nh.direct ? await writeDirect(nh, data, position) : 0;
    if (done < data.length) {
      await writeAll(await nh.cached(), data, done, position);
      nh.end = Math.max(nh.end, position + data.length);
    }
  },
  async fsync(h) {
    await nodeHandle(h).fh.sync();
  },
  async close(h) {
    await nodeHandle(h).close();
  },
  async rename(from, to) {
    await fs.rename(from, to);
  },
  async unlink(file) {
    await fs.unlink(file);
  },
  async fsyncDir(dir) {
    const fh = await fs.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

/**
 * For a large output written through one handle (an export, a `get` to a path with fsync): starts
 * an fdatasync in the background after every `everyBytes` written, one at a time, so the kernel
 * writes the output back while it is being produced and the final fsync waits only for the tail.
 * Otherwise that one fsync finds the whole file dirty (gigabytes: seconds at disk speed, after
 * all the CPU work is done). It adds syncs; the caller still fsyncs at the end.
 */
export class RollingSync {
  private inFlight: Promise<void> | null = null;
  private since = 0;
  private failure: { e: unknown } | null = null;

  constructor(
    private readonly fh: fs.FileHandle,
    private readonly everyBytes = 64 * 1024 * 1024,
  ) {}

  /** Counts bytes just written; may start a background fdatasync. */
  wrote(n: number): void {
    this.since += n;
    if (this.since < this.everyBytes || this.inFlight) return;
    this.since = 0;
    this.inFlight = this.fh
      .datasync()
      .catch((e: unknown) => {
        this.failure ??= { e };
      })
      .finally(() => {
        this.inFlight = null;
      });
  }

  /** Waits for the sync in flight and throws what any background sync hit. Call before the final fsync and before closing. */
  async settle(): Promise<void> {
    await this.inFlight;
    if (this.failure) throw this.failure.e;
  }
}

/** What a streaming durable write hands its producer: append bytes to the new file. */
export interface DurableSink {
  write(data: Uint8Array): Promise<void>;
  /** Bytes written so far. */
  readonly bytes: number;
}

export interface DurableWriteOptions {
  /** The file operations (tests pass FaultyFileOps). Default: the real ones. */
  ops?: FileOps;
  /**
   * false: temp file and rename only, no fsync (an output the caller does not need to survive a
   * power cut, e.g. a `get` to a scratch path). Default true.
   */
  durable?: boolean;
  /** Write back in the background every 64 MiB (large outputs: exports), so the final fsync waits for the tail only. */
  rolling?: boolean;
  /**
   * Write around the page cache (CreateOptions.direct) where the file system allows it: the bytes
   * are gathered into page-aligned buffers and written a whole buffer at a time (large outputs
   * written once: exports). Then no rolling sync is needed: the data is on the device as it goes.
   */
  direct?: boolean;
}

/** Bytes per staging buffer of a direct stream. */
const STAGE_BYTES = 8 * 1024 * 1024;

/**
 * A direct stream's staging: the producer's bytes are copied into one of two page-aligned
 * buffers; a full one is written (whole blocks, direct) while the other fills, so the producer
 * waits for the device only when both are busy. The copy (~0.03 ms per MiB) is what it costs to
 * skip the page cache's (~1-1.6 ms per MiB of kernel time on this VM).
 */
class DirectStage {
  private readonly bufs = [new Uint8Array(alignedSharedBuffer(STAGE_BYTES)), new Uint8Array(alignedSharedBuffer(STAGE_BYTES))];
  private cur = 0;
  private fill = 0;
  private pos = 0;
  private inFlight: Promise<void> | null = null;
  private failure: { e: unknown } | null = null;

  constructor(
    private readonly ops: FileOps,
    private readonly h: WriteHandle,
  ) {}

  async write(data: Uint8Array): Promise<void> {
    for (let off = 0; off < data.length; ) {
      const n = Math.min(STAGE_BYTES - this.fill, data.length - off);
      copyInto(this.bufs[this.cur]!, this.fill, data.subarray(off, off + n));
      this.fill += n;
      off += n;
      if (this.fill === STAGE_BYTES) await this.flush();
    }
  }

  /** Writes what is staged and waits for every write. */
  async end(): Promise<void> {
    if (this.fill > 0) await this.flush();
    await this.settle();
  }

  /** Waits for the write in flight and throws what any write hit; call before closing the handle. */
  async settle(): Promise<void> {
    await this.inFlight;
    this.inFlight = null;
    if (this.failure) throw this.failure.e;
  }

  private async flush(): Promise<void> {
    await this.settle();
    const at = this.pos;
    // Caught at once (kept for settle): a write failing while the producer is busy elsewhere
    // must not be an unhandled rejection.
    this.inFlight = this.ops.write(this.h, this.bufs[this.cur]!.subarray(0, this.fill), at).catch((e: unknown) => {
      this.failure ??= { e };
    });
    this.pos += this.fill;
    this.fill = 0;
    this.cur ^= 1;
  }
}

/**
 * THE durable write of the project: every file it writes outside PixelFS's tiles goes through
 * here. A temp file in the same folder (random name), the producer's bytes, fsync, close, rename
 * over the target, fsync the folder. A crash at any point leaves either the old file or the new
 * one (and perhaps a `.NAME.pxtmp-*` leftover), never a torn file. If the producer throws, the
 * temp file is removed and the target is untouched. Returns what the producer returned.
 */
export async function writeFileDurableStream<T>(file: string, produce: (sink: DurableSink) => Promise<T>, opts: DurableWriteOptions = {}): Promise<T> {
  const ops = opts.ops ?? nodeFileOps;
  const durable = opts.durable ?? true;
  const dir = path.dirname(file);
  // Random, not pid + time: a crashed write leaves its temp behind, and the next one may come
  // within the same millisecond.
  const tmp = path.join(dir, `.${path.basename(file)}.pxtmp-${randomBytes(8).toString('hex')}`);
  const h = await ops.create(tmp, { direct: opts.direct === true });
  // The staging only when the handle really writes direct (FaultyFileOps wraps nodeFileOps' handles).
  const stage = opts.direct && writesDirect(h) ? new DirectStage(ops, h) : null;
  const rolling = durable && opts.rolling && !stage && h instanceof NodeHandle ? new RollingSync(h.fh) : null;
  let result: T;
  try {
    let pos = 0;
    const sink: DurableSink = {
      async write(data) {
        if (stage) await stage.write(data);
        else await ops.write(h, data, pos);
        pos += data.length;
        rolling?.wrote(data.length);
      },
      get bytes() {
        return pos;
      },
    };
    result = await produce(sink);
    await stage?.end();
    await rolling?.settle();
    if (durable) await ops.fsync(h);
  } catch (e) {
    await stage?.settle().catch(() => undefined); // no write may run on a closed handle
    await rolling?.settle().catch(() => undefined); // nor a sync
    await ops.close(h).catch(() => undefined);
    await ops.unlink(tmp).catch(() => undefined);
    throw e;
  }
  await ops.close(h);
  try {
    await ops.rename(tmp, file);
  } catch (e) {
    await ops.unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (durable) await ops.fsyncDir(dir);
  return result;
}

/** A whole file in memory, written through writeFileDurableStream. */
export async function writeFileDurable(file: string, data: Uint8Array, ops: FileOps = nodeFileOps): Promise<void> {
  await writeFileDurableStream(file, (sink) => sink.write(data), { ops });
}

/**
 * The last step of the durable write for a file that was written and fsynced in place under a
 * temporary name by its own writer (a resumable upload's part file): rename, fsync the folder.
 */
export async function renameDurable(from: string, to: string, ops: FileOps = nodeFileOps): Promise<void> {
  await ops.rename(from, to);
  await ops.fsyncDir(path.dirname(to));
}
