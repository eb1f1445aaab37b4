/**
 * A pool of tile workers (node:worker_threads). Size 0 runs everything inline on the calling
 * thread (same API; for debugging and for hosts that cannot start workers).
 *
 * Tile buffers are SharedArrayBuffers when they come from a volume (its slab pool): a worker
 * reads and writes them in place, nothing is copied or transferred, and the caller reuses them
 * once the answer is in. A plain ArrayBuffer still works: it is transferred and comes back with
 * the answer.
 *
 * Besides the tile workers, the pool has one hash thread for whole-file sha256 streams: put, get
 * and verify hash every byte of a file in order, and on the calling thread that pass (with the
 * tile sha256s, now on the tile workers: `hash`, `decode`) made the calling thread the bottleneck.
 *
 * A .ts worker entry starts through worker-boot.mjs, which registers tsx inside the worker (a
 * worker does not inherit the parent's TypeScript loader; `execArgv: ['--import', 'tsx']` does
 * not help on Node 20 either). Bundled (out/main), the pool starts the built tile-worker.js
 * directly (defaultWorkerEntry); `entry` overrides either. The hash thread is plain JavaScript evaluated in place: no loader.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { PixelFsCodes as C, PixelFsError, type PixelFsCode } from './errors';
import { decodeTile, encodeTile, sha256Hex, type DecodeOptions, type TileGeometry } from './tile-codec';

/** A tile-sized buffer: shared (a volume's slab, used in place) or plain (transferred). */
export type TileBuffer = ArrayBuffer | SharedArrayBuffer;

export type ToWorker =
  | { t: 'encode'; id: number; tile: TileBuffer; length: number; sha256: string; width: number; height: number; level: number; spare?: TileBuffer }
  | { t: 'decode'; id: number; png: TileBuffer; length: number; opts: DecodeOptions; into?: TileBuffer }
  | { t: 'hash'; id: number; buf: TileBuffer; length: number };

export type FromWorker =
  | { t: 'encoded'; id: number; png: TileBuffer; length: number; tile: TileBuffer; spare?: TileBuffer }
  | { t: 'decoded'; id: number; buf: TileBuffer; length: number; sha256: string | null; png: TileBuffer; into?: TileBuffer }
  | { t: 'hashed'; id: number; sha256: string; buf: TileBuffer }
  | { t: 'error'; id: number; code: string; message: string; details?: Record<string, unknown> };

/** The buffers of a message that must be transferred: the plain ones (shared ones are shared). */
export function transferable(...bufs: (TileBuffer | undefined)[]): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  for (const b of bufs) if (b instanceof ArrayBuffer && !out.includes(b)) out.push(b);
  return out;
}

export interface EncodeJob {
  /** The tile payload (a plain ArrayBuffer is transferred: the caller gives it up until the answer). */
  tile: TileBuffer;
  length: number;
  sha256: string;
  geometry: TileGeometry;
  level: number;
  /** A buffer the PNG may be written into. */
  spare?: TileBuffer;
}

export interface Encoded {
  /** The PNG bytes: a view from offset 0 of the spare, or of a fresh ArrayBuffer the caller now owns. */
  png: Buffer;
  /** The tile buffer, back for reuse. */
  tile: TileBuffer;
  /** The spare when it was too small to hold the PNG, back for reuse. */
  spare?: TileBuffer;
}

export interface DecodeJob {
  png: TileBuffer;
  length: number;
  opts: DecodeOptions;
  /** A buffer of at least width*height*4 bytes to decode into. */
  into?: TileBuffer;
}

export interface Decoded {
  /** Exactly the payload: a view from offset 0 of `into` or of a fresh ArrayBuffer the caller now owns. */
  payload: Buffer;
  sha256: string | null;
  /** The PNG buffer, back for reuse. */
  png: TileBuffer;
  /** `into` when it was not used (too small), back for reuse. */
  into?: TileBuffer;
}

export interface HashJob {
  buf: TileBuffer;
  length: number;
}

export interface Hashed {
  sha256: string;
  /** The buffer, back for reuse. */
  buf: TileBuffer;
}

/** One whole-file sha256 on the pool's hash thread, over the updates in the order they were made. */
export interface FileHash {
  /**
   * Appends bytes. Resolves once the hash thread has read them: bytes over shared memory must not
   * change before then (other bytes are copied at once and may change right away).
   */
  update(bytes: Uint8Array): Promise<void>;
  /** The sha256 (hex) of everything passed to update. The stream is finished after it. */
  digest(): Promise<string>;
  /** Forgets the stream without a digest (an operation that failed). */
  drop(): void;
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

/** The caller's object for a buffer that went to a worker and came back (shared: same memory). */
function same(sent: TileBuffer, back: TileBuffer): TileBuffer {
  return sent instanceof SharedArrayBuffer ? sent : back;
}

function toError(m: Extract<FromWorker, { t: 'error' }>): Error {
  if (m.code.startsWith('PIXELFS_')) return new PixelFsError(m.code as PixelFsCode, m.message, m.details);
  return new PixelFsError(C.WORKER_FAILED, `tile worker failed: ${m.message}`, { cause: m.code });
}

// The hash thread: plain CommonJS evaluated by the worker (no loader: works from sources, bundles
// and Electron). 'u' appends bytes (shared memory read in place, or a transferred copy), 'd'
// digests, 'x' forgets; each stream is hashed in the order its messages arrive.
const HASH_THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const streams = new Map();
parentPort.on('message', (m) => {
  try {
    if (m.t === 'u') {
      let h = streams.get(m.s);
      if (!h) streams.set(m.s, (h = createHash('sha256')));
      h.update(new Uint8Array(m.buf, m.off, m.len));
      parentPort.postMessage({ t: 'u', id: m.id });
    } else if (m.t === 'd') {
      const h = streams.get(m.s) || createHash('sha256');
      streams.delete(m.s);
      parentPort.postMessage({ t: 'd', id: m.id, hex: h.digest('hex') });
    } else if (m.t === 'x') {
      streams.delete(m.s);
    }
  } catch (e) {
    parentPort.postMessage({ t: 'e', id: m.id, message: String((e && e.stack) || e) });
  }
});
`;

type FromHashThread = { t: 'u'; id: number } | { t: 'd'; id: number; hex: string } | { t: 'e'; id: number; message: string };

/** The pool's whole-file hash thread, started at first use. */
class HashThread {
  private worker: Worker | null = null;
  private readonly jobs = new Map<number, { resolve: (m: FromHashThread) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private nextStream = 1;
  /** Counts thread starts: a stream belongs to the thread that saw its first bytes. */
  private generation = 0;
  private closed = false;

  private ensure(): Worker {
    if (this.closed) throw new PixelFsError(C.VOLUME_CLOSED, 'TilePool: the pool is closed');
    if (this.worker) return this.worker;
    const w = new Worker(HASH_THREAD_SOURCE, { eval: true });
    w.on('message', (m: FromHashThread) => {
      const job = this.jobs.get(m.id);
      if (!job) return;
      this.jobs.delete(m.id);
      this.updateRef();
      if (m.t === 'e') job.reject(new PixelFsError(C.WORKER_FAILED, `hash thread failed: ${m.message}`));
      else job.resolve(m);
    });
    const die = (why: string): void => {
      if (this.worker !== w) return;
      this.worker = null;
      const err = new PixelFsError(C.WORKER_FAILED, `hash thread stopped: ${why}`);
      for (const job of this.jobs.values()) job.reject(err);
      this.jobs.clear();
    };
    w.on('error', (e) => die(e instanceof Error ? e.message : String(e)));
    w.on('exit', (code) => die(`exit code ${code}`));
    this.worker = w;
    this.generation++;
    return w;
  }

  // Idle, the thread must not keep the process alive; busy, it must.
  private updateRef(): void {
    if (!this.worker) return;
    if (this.jobs.size > 0) this.worker.ref();
    else this.worker.unref();
  }

  /**
   * Posts a message for stream `st`. A stream whose thread died has lost its state: a restarted
   * thread would hash only what comes after, so the stream fails instead (for good).
   */
  private send(st: { gen: number; failed: Error | null }, msg: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<FromHashThread> {
    let w: Worker;
    try {
      if (st.failed) throw st.failed;
      w = this.ensure();
      if (st.gen === 0) st.gen = this.generation;
      else if (st.gen !== this.generation) throw (st.failed = new PixelFsError(C.WORKER_FAILED, 'hash thread restarted in the middle of a file hash'));
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.jobs.set(id, {
        resolve,
        reject: (e) => {
          st.failed ??= e;
          reject(e);
        },
      });
      this.updateRef();
      w.postMessage({ ...msg, id }, transfer);
    });
  }

  stream(): FileHash {
    const s = this.nextStream++;
    const st = { gen: 0, failed: null as Error | null };
    let finished = false;
    const notFinished = (): void => {
      if (finished) throw new PixelFsError(C.WORKER_FAILED, 'file hash stream already finished');
    };
    return {
      update: async (bytes) => {
        notFinished();
        if (bytes.length === 0) return;
        if (bytes.buffer instanceof SharedArrayBuffer) {
          await this.send(st, { t: 'u', s, buf: bytes.buffer, off: bytes.byteOffset, len: bytes.length }, []);
        } else {
          // Only these bytes travel, in a buffer of their own (Buffer#slice would be a view of,
          // say, Node's shared 8 KiB pool); the caller keeps its buffer.
          const copy = Uint8Array.prototype.slice.call(bytes);
          await this.send(st, { t: 'u', s, buf: copy.buffer, off: 0, len: copy.length }, [copy.buffer as ArrayBuffer]);
        }
      },
      digest: async () => {
        notFinished();
        finished = true;
        const m = await this.send(st, { t: 'd', s }, []);
        return (m as { hex: string }).hex;
      },
      drop: () => {
        if (finished) return;
        finished = true;
        this.worker?.postMessage({ t: 'x', s });
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
    const err = new PixelFsError(C.VOLUME_CLOSED, 'TilePool: the pool is closed');
    for (const job of this.jobs.values()) job.reject(err);
    this.jobs.clear();
  }
}

/** The inline (size 0) file hash: on the calling thread. */
function inlineFileHash(): FileHash {
  const h = createHash('sha256');
  return {
    update: (bytes) => {
      h.update(bytes);
      return Promise.resolve();
    },
    digest: () => Promise.resolve(h.digest('hex')),
    drop: () => undefined,
  };
}

/**
 * The tile worker beside this module: the .ts source when it runs from source (tsx), the built
 * tile-worker.js when it is bundled (electron-vite builds it as its own entry next to index.js).
 */
export function defaultWorkerEntry(moduleUrl: string = import.meta.url): URL {
  return new URL(new URL(moduleUrl).pathname.endsWith('.ts') ? './tile-worker.ts' : './tile-worker.js', moduleUrl);
}

export class TilePool {
  readonly size: number;
  private readonly entry: URL;
  private readonly slots: Slot[];
  private readonly hashThread = new HashThread();
  private nextId = 1;
  private closed = false;

  constructor(opts: TilePoolOptions = {}) {
    const size = opts.size ?? defaultPoolSize();
    if (!Number.isInteger(size) || size < 0) {
      throw new PixelFsError(C.BAD_SETTINGS, `TilePool: size ${String(size)} is not a non-negative integer`, { field: 'size', value: size });
    }
    this.size = size;
    this.entry = opts.entry ?? defaultWorkerEntry();
    this.slots = Array.from({ length: size }, () => new Slot());
  }

  async encode(job: EncodeJob): Promise<Encoded> {
    if (this.size === 0) {
      const opts = { level: job.level, sha256: job.sha256, ...(job.spare ? { into: job.spare } : {}) };
      return { png: encodeTile(new Uint8Array(job.tile, 0, job.length), job.geometry, opts), tile: job.tile };
    }
    const msg: ToWorker = { t: 'encode', id: this.nextId++, tile: job.tile, length: job.length, sha256: job.sha256, width: job.geometry.width, height: job.geometry.height, level: job.level };
    if (job.spare) msg.spare = job.spare;
    const m = await this.send(msg, transferable(job.tile, job.spare));
    if (m.t !== 'encoded') throw new PixelFsError(C.WORKER_FAILED, `tile worker answered ${m.t} to encode`);
    // A shared buffer arrives as a new object over the same memory: hand back the caller's own
    // objects, so that a buffer pool sees each buffer as itself.
    const png = job.spare instanceof SharedArrayBuffer && !m.spare ? job.spare : m.png;
    return { png: Buffer.from(png, 0, m.length), tile: same(job.tile, m.tile), ...(m.spare ? { spare: same(job.spare!, m.spare) } : {}) };
  }

  async decode(job: DecodeJob): Promise<Decoded> {
    if (this.size === 0) {
      const d = decodeTile(new Uint8Array(job.png, 0, job.length), job.into ? { ...job.opts, into: job.into } : job.opts);
      return { payload: d.payload, sha256: d.sha256, png: job.png };
    }
    const msg: ToWorker = { t: 'decode', id: this.nextId++, png: job.png, length: job.length, opts: job.opts };
    if (job.into) msg.into = job.into;
    const m = await this.send(msg, transferable(job.png, job.into));
    if (m.t !== 'decoded') throw new PixelFsError(C.WORKER_FAILED, `tile worker answered ${m.t} to decode`);
    const out = job.into instanceof SharedArrayBuffer && !m.into ? job.into : m.buf;
    return { payload: Buffer.from(out, 0, m.length), sha256: m.sha256, png: same(job.png, m.png), ...(m.into ? { into: same(job.into!, m.into) } : {}) };
  }

  /** sha256 (hex) of the first `length` bytes of a tile buffer, on a worker. */
  async hash(job: HashJob): Promise<Hashed> {
    if (this.size === 0) {
      if (this.closed) throw new PixelFsError(C.VOLUME_CLOSED, 'TilePool: the pool is closed');
      return { sha256: sha256Hex(new Uint8Array(job.buf, 0, job.length)), buf: job.buf };
    }
    const m = await this.send({ t: 'hash', id: this.nextId++, buf: job.buf, length: job.length }, transferable(job.buf));
    if (m.t !== 'hashed') throw new PixelFsError(C.WORKER_FAILED, `tile worker answered ${m.t} to hash`);
    return { sha256: m.sha256, buf: same(job.buf, m.buf) };
  }

  /** A whole-file sha256 on the pool's hash thread (on the calling thread for a size-0 pool). */
  fileHash(): FileHash {
    if (this.closed) throw new PixelFsError(C.VOLUME_CLOSED, 'TilePool: the pool is closed');
    return this.size === 0 ? inlineFileHash() : this.hashThread.stream();
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([
      ...this.slots.map(async (s) => {
        const w = s.worker;
        s.worker = null;
        if (w) await w.terminate();
      }),
      this.hashThread.close(),
    ]);
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
