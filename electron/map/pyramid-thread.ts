/**
 * The import's tensor pyramids on a thread of their own (pyramid-worker.ts), so that the main
 * thread, which reads the source and drives the puts, does not also compute every cell: on the
 * 1 GB Q4_K import the pyramid was half of the main thread's time, the critical path. The
 * import copies each chunk into a buffer the worker hands back (a pool, no garbage); at most
 * MAX_IN_FLIGHT bytes wait, beyond which write() waits for the worker (memory stays bounded).
 * Tensors go one after another, in order; finish() answers the tensor's cells and summary for
 * the main thread to write to the index (MapIndex.writePyramids). The first error fails every
 * later call.
 */
import { Worker } from 'node:worker_threads';
import type { IndexedRegion, PyramidWrite } from './map-types';
import type { FromPyramidWorker, ToPyramidWorker } from './pyramid-worker';

/** Bytes copied to the worker and not yet taken (a few of the import's 8 MiB chunks). */
const MAX_IN_FLIGHT = 32 * 1024 * 1024;

/** The worker beside this module: its .ts source under tsx, the built pyramid-worker.js when bundled. */
function workerEntry(): URL {
  return new URL(new URL(import.meta.url).pathname.endsWith('.ts') ? './pyramid-worker.ts' : './pyramid-worker.js', import.meta.url);
}

export class PyramidThreadError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'PyramidThreadError';
  }
}

export class PyramidThread {
  private readonly worker: Worker;
  private inFlight = 0;
  private readonly free: ArrayBuffer[] = [];
  private readonly waiters: Array<() => void> = [];
  private readonly finishes: Array<{ resolve: (w: PyramidWrite) => void; reject: (e: Error) => void }> = [];
  private failure: Error | null = null;
  private closed = false;

  /** `entry`: the worker module (default: pyramid-worker beside this file, source or built). */
  constructor(entry: URL = workerEntry()) {
    // A .ts entry needs tsx registered inside the worker first (PixelFS's worker-boot.mjs).
    this.worker = entry.pathname.endsWith('.ts')
      ? new Worker(new URL('../pixelfs/worker-boot.mjs', import.meta.url), { workerData: { entry: entry.href } })
      : new Worker(entry);
    this.worker.on('message', (m: FromPyramidWorker) => {
      if (m.t === 'ack') {
        this.inFlight -= m.length;
        this.free.push(m.buf);
        this.wake();
      } else if (m.t === 'finished') {
        this.finishes.shift()?.resolve(m.write);
      } else {
        const e = new PyramidThreadError(m.message, m.code);
        e.name = m.name;
        this.fail(e);
      }
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new PyramidThreadError(`the pyramid thread exited (code ${code})`, undefined));
    });
  }

  /** Starts a tensor's pyramid (its region checked with TensorPyramidWriter.deferrable). */
  begin(region: IndexedRegion, heatSize: number): void {
    this.check();
    this.post({ t: 'begin', region, heatSize });
  }

  /** The tensor's next bytes: copied at once (the caller may reuse them); waits only while too many are in flight. */
  async write(bytes: Uint8Array): Promise<void> {
    this.check();
    if (bytes.length === 0) return;
    let buf = this.free.pop();
    if (!buf || buf.byteLength < bytes.length) buf = new ArrayBuffer(Math.max(bytes.length, buf?.byteLength ?? 0));
    new Uint8Array(buf, 0, bytes.length).set(bytes);
    this.inFlight += bytes.length;
    this.post({ t: 'write', buf, length: bytes.length }, [buf]);
    while (this.inFlight > MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    this.check();
  }

  /** Ends the tensor (all its bytes written): its cells and summary once the worker has them. */
  finish(): Promise<PyramidWrite> {
    this.check();
    const p = new Promise<PyramidWrite>((resolve, reject) => this.finishes.push({ resolve, reject }));
    this.post({ t: 'finish' });
    return p;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new PyramidThreadError('the pyramid thread was closed', undefined));
    await this.worker.terminate();
  }

  private post(m: ToPyramidWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const f of this.finishes.splice(0)) f.reject(this.failure);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
