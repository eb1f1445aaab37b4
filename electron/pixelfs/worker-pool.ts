/**
 * A pool of tile workers (node:worker_threads). Size 0 runs everything inline on the calling
 * thread (same API; for debugging and for hosts that cannot start workers).
 *
 * The caller hashes a tile itself (it streams the bytes anyway for the file hash) and sends only
 * tiles that are not stored yet. Buffers are transferred, not copied, and come back with the
 * answer so the caller can reuse them.
 *
 * A .ts worker entry starts through worker-boot.mjs, which registers tsx inside the worker (a
 * worker does not inherit the parent's TypeScript loader; `execArgv: ['--import', 'tsx']` does
 * not help on Node 20 either). A bundled build passes `entry`: the URL of the built worker .js,
 * which starts directly.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { PixelFsCodes as C, PixelFsError, type PixelFsCode } from './errors';
import { decodeTile, encodeTile, type DecodeOptions, type TileGeometry } from './tile-codec';

export type ToWorker =
  | { t: 'encode'; id: number; tile: ArrayBuffer; length: number; sha256: string; width: number; height: number; level: number; spare?: ArrayBuffer }
  | { t: 'decode'; id: number; png: ArrayBuffer; length: number; opts: DecodeOptions; into?: ArrayBuffer };

export type FromWorker =
  | { t: 'encoded'; id: number; png: ArrayBuffer; length: number; tile: ArrayBuffer }
  | { t: 'decoded'; id: number; buf: ArrayBuffer; length: number; sha256: string | null; png: ArrayBuffer }
  | { t: 'error'; id: number; code: string; message: string; details?: Record<string, unknown> };

export interface EncodeJob {
  /** The tile payload (transferred: the caller gives it up until the answer). */
  tile: ArrayBuffer;
  length: number;
  sha256: string;
  geometry: TileGeometry;
  level: number;
  /** A buffer the PNG may be written into (transferred). */
  spare?: ArrayBuffer;
}

export interface Encoded {
  /** The PNG bytes: a view from offset 0 of an ArrayBuffer the caller now owns. */
  png: Buffer;
  /** The tile buffer, back for reuse. */
  tile: ArrayBuffer;
}

export interface DecodeJob {
  png: ArrayBuffer;
  length: number;
  opts: DecodeOptions;
  /** A buffer of at least width*height*4 bytes to decode into (transferred). */
  into?: ArrayBuffer;
}

export interface Decoded {
  /** Exactly the payload: a view from offset 0 of an ArrayBuffer the caller now owns. */
  payload: Buffer;
  sha256: string | null;
  /** The PNG buffer, back for reuse. */
  png: ArrayBuffer;
}

export interface TilePoolOptions {
  /** Number of worker threads; default max(1, availableParallelism - 1); 0 = inline. */
  size?: number;
  /** The worker module (file URL). Default: ./tile-worker.ts next to this file. */
  entry?: URL;
}

export function defaultPoolSize(): number {
  return Math.max(1, os.availableParallelism() - 1);
}

interface Job {
  resolve: (m: FromWorker) => void;
  reject: (e: Error) => void;
}

class Slot {
  worker: Worker | null = null;
  readonly jobs = new Map<number, Job>();
}

function toError(m: Extract<FromWorker, { t: 'error' }>): Error {
  if (m.code.startsWith('PIXELFS_')) return new PixelFsError(m.code as PixelFsCode, m.message, m.details);
  return new PixelFsError(C.WORKER_FAILED, `tile worker failed: ${m.message}`, { cause: m.code });
}

export class TilePool {
  readonly size: number;
  private readonly entry: URL;
  private readonly slots: Slot[];
  private nextId = 1;
  private closed = false;

  constructor(opts: TilePoolOptions = {}) {
    const size = opts.size ?? defaultPoolSize();
    if (!Number.isInteger(size) || size < 0) {
      throw new PixelFsError(C.BAD_SETTINGS, `TilePool: size ${String(size)} is not a non-negative integer`, { field: 'size', value: size });
    }
    this.size = size;
    this.entry = opts.entry ?? new URL('./tile-worker.ts', import.meta.url);
    this.slots = Array.from({ length: size }, () => new Slot());
  }

  async encode(job: EncodeJob): Promise<Encoded> {
    if (this.size === 0) {
      const opts = { level: job.level, sha256: job.sha256, ...(job.spare ? { into: job.spare } : {}) };
      return { png: encodeTile(new Uint8Array(job.tile, 0, job.length), job.geometry, opts), tile: job.tile };
    }
    const msg: ToWorker = { t: 'encode', id: this.nextId++, tile: job.tile, length: job.length, sha256: job.sha256, width: job.geometry.width, height: job.geometry.height, level: job.level };
    if (job.spare) msg.spare = job.spare;
    const m = await this.send(msg, job.spare ? [job.tile, job.spare] : [job.tile]);
    if (m.t !== 'encoded') throw new PixelFsError(C.WORKER_FAILED, `tile worker answered ${m.t} to encode`);
    return { png: Buffer.from(m.png, 0, m.length), tile: m.tile };
  }

  async decode(job: DecodeJob): Promise<Decoded> {
    if (this.size === 0) {
      const d = decodeTile(new Uint8Array(job.png, 0, job.length), job.into ? { ...job.opts, into: job.into } : job.opts);
      return { payload: d.payload, sha256: d.sha256, png: job.png };
    }
    const msg: ToWorker = { t: 'decode', id: this.nextId++, png: job.png, length: job.length, opts: job.opts };
    if (job.into) msg.into = job.into;
    const m = await this.send(msg, job.into ? [job.png, job.into] : [job.png]);
    if (m.t !== 'decoded') throw new PixelFsError(C.WORKER_FAILED, `tile worker answered ${m.t} to decode`);
    return { payload: Buffer.from(m.buf, 0, m.length), sha256: m.sha256, png: m.png };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        s.worker = null;
        if (w) await w.terminate();
      }),
    );
  }

  private ensureWorker(slot: Slot): Worker {
    if (slot.worker) return slot.worker;
    // A .ts entry needs tsx registered inside the worker first (worker-boot.mjs); a built .js
    // entry starts directly.
    const w = this.entry.pathname.endsWith('.ts')
      ? new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: { entry: this.entry.href } })
      : new Worker(this.entry);
    w.on('message', (m: FromWorker) => {
      const job = slot.jobs.get(m.id);
      if (!job) return;
      slot.jobs.delete(m.id);
      this.updateRef(slot);
      if (m.t === 'error') job.reject(toError(m));
      else job.resolve(m);
    });
    const die = (why: string): void => {
      if (slot.worker !== w) return;
      slot.worker = null;
      const err = new PixelFsError(C.WORKER_FAILED, `tile worker stopped: ${why}`, { entry: this.entry.href });
      for (const job of slot.jobs.values()) job.reject(err);
      slot.jobs.clear();
    };
    w.on('error', (e) => die(e instanceof Error ? e.message : String(e)));
    w.on('exit', (code) => die(`exit code ${code}`));
    slot.worker = w;
    return w;
  }

  // An idle worker must not keep the process alive; a busy one must.
  private updateRef(slot: Slot): void {
    if (!slot.worker) return;
    if (slot.jobs.size > 0) slot.worker.ref();
    else slot.worker.unref();
  }

  private send(msg: ToWorker, transfer: ArrayBuffer[]): Promise<FromWorker> {
    if (this.closed) return Promise.reject(new PixelFsError(C.VOLUME_CLOSED, 'TilePool: the pool is closed'));
    let slot = this.slots[0]!;
    for (const s of this.slots) if (s.jobs.size < slot.jobs.size) slot = s;
    const w = this.ensureWorker(slot);
    return new Promise<FromWorker>((resolve, reject) => {
      slot.jobs.set(msg.id, { resolve, reject });
      this.updateRef(slot);
      w.postMessage(msg, transfer);
    });
  }
}
