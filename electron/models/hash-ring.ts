/**
 * sha256 of byte streams off the main thread, on the volume's one hash thread (the thread PixelFS
 * hashes its files on: one hash pool per process). Import and export hash every byte of a multi-GB
 * GGUF; on the main thread that costs as much as everything else it does (measured: ~1.5 ms/MiB
 * of a 2-core machine's main thread, which made it the import's bottleneck). The bytes sit in a
 * ring of SharedArrayBuffer slots: the caller reads (or copies) a chunk into a slot, hands the
 * slot to the hasher and to its other consumer at once, and the slot is reused when both have
 * released it (the hash thread reads the shared memory in place). Recycling slots also keeps
 * 4 MiB allocations (and the garbage collections they trigger) out of the hot loop. Each stream
 * is hashed in the order of its updates.
 */
import type { FileHash } from '../pixelfs/index';
import { copyInto } from '../pixelfs/tile-codec';

export interface Slot {
  readonly index: number;
  /** The whole slot; callers use a prefix of it. */
  readonly bytes: Uint8Array;
}

/** One sha256 computation on the hash thread. */
export interface HashStream {
  /** Appends the first `length` bytes of the slot; the hash thread holds the slot until it is done. */
  update(slot: Slot, length: number): void;
  /** The sha256 (hex) of everything passed to update, in order. The stream is finished after it. */
  digest(): Promise<string>;
  /** Forgets the stream without a digest (an operation that failed). */
  drop(): void;
}

export class HashRing {
  private readonly sabs: SharedArrayBuffer[];
  private readonly refs: number[];
  private readonly free: number[] = [];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private failure: Error | null = null;
  private closed = false;

  constructor(
    readonly slotBytes: number,
    slotCount: number,
    /** Where streams are hashed: one FileHash per stream (a store passes its volume's `Volume.fileHash`). */
    private readonly hashes: () => FileHash,
  ) {
    this.sabs = Array.from({ length: slotCount }, () => new SharedArrayBuffer(slotBytes));
    this.refs = this.sabs.map(() => 0);
    for (let i = slotCount - 1; i >= 0; i--) this.free.push(i);
  }

  private fail(e: Error): void {
    this.failure ??= e;
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
    if (this.closed) throw new Error('hash ring closed');
    return this.sharedStream(this.hashes());
  }

  /**
   * A stream over a FileHash of the hash thread: each update holds its slot until the thread has
   * read it (FileHash.update resolves then); a failed update fails the ring (every later call
   * rejects with that error).
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

  /** No more streams (the hash thread is the volume's: it closes with the volume). */
  async close(): Promise<void> {
    this.closed = true;
  }
}
