/**
 * A bounded, single-producer single-consumer queue of byte chunks that is an AsyncIterable: the
 * import's one sequential reader pushes a tensor's bytes into it while PixelFS's put consumes
 * them. `push` waits while `capacity` chunks are queued (backpressure bounds memory), and
 * rejects once the consumer has stopped (its put failed), so the reader never waits forever.
 *
 * A chunk may come with a `release` callback, called once the consumer is done with it: when it
 * asks for the next chunk (an async-iteration consumer that copies what it needs before pulling
 * again, as PixelFS's put does), when it stops, or when the channel is closed. The reader then
 * recycles the chunk's buffer.
 */
interface Item {
  chunk: Uint8Array;
  release: (() => void) | undefined;
}

export class ChunkChannel implements AsyncIterable<Uint8Array> {
  private readonly queue: Item[] = [];
  private handed: Item | null = null;
  private ended = false;
  private error: { e: unknown } | null = null;
  private consumerGone = false;
  private wakeConsumer: (() => void) | null = null;
  private wakeProducer: (() => void) | null = null;

  constructor(private readonly capacity = 2) {}

  private signalConsumer(): void {
    const w = this.wakeConsumer;
    this.wakeConsumer = null;
    w?.();
  }

  private signalProducer(): void {
    const w = this.wakeProducer;
    this.wakeProducer = null;
    w?.();
  }

  private releaseHanded(): void {
    const h = this.handed;
    this.handed = null;
    h?.release?.();
  }

  /**
   * Resolves once the chunk is queued; rejects if the consumer stopped reading (the chunk is not
   * taken then: the caller still owns it and must release it itself).
   */
  async push(chunk: Uint8Array, release?: () => void): Promise<void> {
    while (this.queue.length >= this.capacity && !this.consumerGone) {
      await new Promise<void>((r) => (this.wakeProducer = r));
    }
    if (this.consumerGone) throw new Error('the consumer of this channel stopped reading');
    this.queue.push({ chunk, release });
    this.signalConsumer();
  }

  /** No more chunks: the consumer's iteration ends after the queued ones. */
  end(): void {
    this.ended = true;
    this.signalConsumer();
  }

  /** The consumer's iteration throws `e` (the producer failed or was cancelled). */
  fail(e: unknown): void {
    this.error ??= { e };
    this.signalConsumer();
  }

  /** The consumer is gone (its put finished or failed): release everything and wake the producer. */
  close(): void {
    this.consumerGone = true;
    this.releaseHanded();
    for (const it of this.queue.splice(0)) it.release?.();
    this.signalProducer();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: async (): Promise<IteratorResult<Uint8Array>> => {
        this.releaseHanded();
        for (;;) {
          if (this.error) throw this.error.e;
          const it = this.queue.shift();
          if (it) {
            this.handed = it;
            this.signalProducer();
            return { value: it.chunk, done: false };
          }
          if (this.ended) return { value: undefined, done: true };
          await new Promise<void>((r) => (this.wakeConsumer = r));
        }
      },
      return: async (): Promise<IteratorResult<Uint8Array>> => {
        this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
