/**
 * sha256 of byte streams off the main thread. Import and export hash every byte of a multi-GB
 * GGUF; on the main thread that costs as much as everything else it does (measured: ~1.5 ms/MiB
 * of a 2-core machine's main thread, which made it the import's bottleneck). Here the bytes sit
 * in a ring of SharedArrayBuffer slots: the caller reads (or copies) a chunk into a slot, hands
 * the slot to the hasher and to its other consumer at once, and the slot is reused when both
 * have released it. Recycling slots also keeps 4 MiB allocations (and the garbage collections
 * they trigger) out of the hot loop. Each stream is hashed in the order of its updates.
 *
 * Who hashes: given `hashes` (a store passes its volume's `Volume.fileHash`), the volume's one
 * hash thread, the thread PixelFS hashes its files on (one hash pool per process, not two: the
 * slots' shared memory is read there in place); without it, a worker of its own.
 */
import { Worker } from 'node:worker_threads';
import type { FileHash } from '../pixelfs/index';
import { copyInto } from '../pixelfs/tile-codec';

// Plain CommonJS, evaluated by the worker: no loader needed, works from sources, bundles and Electron.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const streams = new Map();
parentPort.on('message', (m) => {
  if (m.t === 'data') {
    let h = streams.get(m.s);
    if (!h) streams.set(m.s, (h = createHash('sha256')));
    h.update(new Uint8Array(m.sab, 0, m.length));
    parentPort.postMessage({ t: 'done', slot: m.slot });
  } else if (m.t === 'digest') {
    const h = streams.get(m.s) || createHash('sha256');
    streams.delete(m.s);
    parentPort.postMessage({ t: 'digest', s: m.s, hex: h.digest('hex') });
  } else if (m.t === 'drop') {
    streams.delete(m.s);
  }
});
`;

export interface Slot {
  readonly index: number;
  /** The whole slot; callers use a prefix of it. */
  readonly bytes: Uint8Array;
}

/** One sha256 computation over the worker. */
export interface HashStream {
  /** Appends the first `length` bytes of the slot; the hash thread holds the slot until it is done. */
  update(slot: Slot, length: number): void;
  /** The sha256 (hex) of everything passed to update, in order. The stream is finished after it. */
  digest(): Promise<string>;
  /** Forgets the stream without a digest (an operation that failed). */
  drop(): void;
}

type FromWorker = { t: 'done'; slot: number } | { t: 'digest'; s: number; hex: string };

export class HashWorker {
  /** The worker of its own (null when the streams go to `hashes`). */
  private readonly worker: Worker | null;
  private readonly sabs: SharedArrayBuffer[];
  private readonly refs: number[];
  private readonly free: number[] = [];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private readonly digests = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private nextStream = 1;
  private failure: Error | null = null;
  private closed = false;

  constructor(
    readonly slotBytes: number,
    slotCount: number,
    /** Where streams are hashed (one FileHash per stream); without it, a worker of its own. */
    private readonly hashes?: () => FileHash,
  ) {
    this.sabs = Array.from({ length: slotCount }, () => new SharedArrayBuffer(slotBytes));
    this.refs = this.sabs.map(() => 0);
    for (let i = slotCount - 1; i >= 0; i--) this.free.push(i);
    if (hashes) {
      this.worker = null;
      return;
    }
    this.worker = new Worker(WORKER_SOURCE, { eval: true });
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => {
      if (m.t === 'done') this.release(m.slot);
      else {
        const w = this.digests.get(m.s);
        this.digests.delete(m.s);
        w?.resolve(m.hex);
      }
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`hash worker exited with code ${code}`));
    });
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.digests.values()) w.reject(e);
    this.digests.clear();
  }

  private slot(i: number): Slot {
    return { index: i, bytes: new Uint8Array(this.sabs[i]!) };
  }

  /** A free slot, owned by the caller until it calls release (waits while all are in use). */
  acquire(): Promise<Slot> {
    if (this.failure) return Promise.reject(this.failure);
    const i = this.free.pop();
    if (i !== undefined) {
      this.refs[i] = 1;
      return Promise.resolve(this.slot(i));
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(index: number): void {
    if (--this.refs[index]! > 0) return;
    const w = this.waiting.shift();
    if (w) {
      this.refs[index] = 1;
      w(this.slot(index));
    } else {
      this.free.push(index);
    }
  }

  stream(): HashStream {
    if (this.hashes) return this.sharedStream(this.hashes());
    const worker = this.worker!;
    const s = this.nextStream++;
    let finished = false;
    return {
      update: (slot, length) => {
        if (this.failure) throw this.failure;
        if (finished) throw new Error('hash stream already finished');
        this.refs[slot.index]!++;
        worker.postMessage({ t: 'data', s, sab: this.sabs[slot.index], length, slot: slot.index });
      },
      digest: () => {
        if (this.failure) return Promise.reject(this.failure);
        finished = true;
        return new Promise((resolve, reject) => {
          this.digests.set(s, { resolve, reject });
          worker.postMessage({ t: 'digest', s });
        });
      },
      drop: () => {
        if (finished || this.closed) return;
        finished = true;
        worker.postMessage({ t: 'drop', s });
      },
    };
  }

  /**
   * A stream over a FileHash of the shared hash thread: each update holds its slot until the
   * thread has read it (FileHash.update resolves then); a failed update fails the hasher, as a
   * dead worker of its own does.
   */
  private sharedStream(fh: FileHash): HashStream {
    let finished = false;
    return {
      update: (slot, length) => {
        if (this.failure) throw this.failure;
        if (finished) throw new Error('hash stream already finished');
        this.refs[slot.index]!++;
        const i = slot.index;
        fh.update(new Uint8Array(this.sabs[i]!, 0, length)).then(
          () => this.release(i),
          (e: unknown) => {
            this.fail(e instanceof Error ? e : new Error(String(e)));
            this.release(i);
          },
        );
      },
      digest: () => {
        if (this.failure) return Promise.reject(this.failure);
        finished = true;
        return fh.digest();
      },
      drop: () => {
        if (finished) return;
        finished = true;
        fh.drop();
      },
    };
  }

  /** Copies `bytes` through slots into `stream` (for bytes already in memory). */
  async updateFrom(stream: HashStream, bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length; off += this.slotBytes) {
      const slot = await this.acquire();
      const piece = bytes.subarray(off, off + this.slotBytes);
      copyInto(slot.bytes, 0, piece); // a memcpy: TypedArray#set into shared memory is ~12x slower
      stream.update(slot, piece.length);
      this.release(slot.index);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker?.terminate();
  }
}
