/**
 * A Writable that a consumer reads as an AsyncIterable, with backpressure: `Volume.get` writes
 * decoded tiles into it and waits for 'drain', and the export loop takes them in file order.
 * Several gets run ahead into their own pipes (each holding at most a tile plus PixelFS's decode
 * window), so the worker pool decodes the next tensors while the current one is written out.
 * A chunk's write callback runs only when the reader asks for the next chunk (or stops), so a
 * producer may reuse the chunk's memory after it: `Volume.get(…, { reuseChunks: true })`.
 */
import { Writable } from 'node:stream';

export class Pipe extends Writable implements AsyncIterable<Buffer> {
  private readonly queue: { chunk: Buffer; cb: (e?: Error | null) => void }[] = [];
  private finished = false;
  private failure: { e: unknown } | null = null;
  private abandoned: Error | null = null;
  private wake: (() => void) | null = null;
  /** The chunk handed to the reader and not yet acknowledged. */
  private current: ((e?: Error | null) => void) | null = null;

  constructor() {
    super({ highWaterMark: 1 });
  }

  private signal(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.abandoned) return cb(this.abandoned);
    this.queue.push({ chunk, cb });
    this.signal();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.finished = true;
    this.signal();
    cb();
  }

  /** The producer failed: the reader's iteration throws `e`. */
  fail(e: unknown): void {
    this.failure ??= { e };
    this.signal();
  }

  /** The reader stopped: fail every pending and later write so the producer unwinds. */
  abandon(reason: Error): void {
    this.abandoned = reason;
    for (const q of this.queue.splice(0)) q.cb(reason);
    const cur = this.current;
    this.current = null;
    cur?.(reason);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const q = this.queue.shift();
      if (q) {
        this.current = q.cb;
        yield q.chunk;
        if (this.current === q.cb) {
          this.current = null;
          q.cb();
        }
        continue;
      }
      if (this.failure) throw this.failure.e;
      if (this.finished) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}
