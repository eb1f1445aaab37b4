/**
 * Recycled tile-sized SharedArrayBuffers ("slabs") for one volume: source tiles, PNGs, decoded
 * payloads. Shared memory lets the tile worker and the hash thread read the same bytes that the
 * calling thread reads into or writes out, with no copy and no transfer; recycling keeps 4 MiB
 * allocations, their page faults and the garbage collections they cause (measured ~1-1.3 s per GB
 * when every put and get allocated its own) out of the hot path.
 *
 * How many slabs exist at once is bounded by the callers' windows; the free list only bounds what
 * is kept between operations, and it is emptied when no slab has been taken for a while, so an
 * idle volume does not hold tens of MiB.
 */
export class SlabPool {
  private readonly free: SharedArrayBuffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private used = false;

  constructor(
    /** Bytes per slab: the largest of a tile payload and a level-0 tile PNG. */
    readonly slabBytes: number,
    private readonly maxFree: number,
    private readonly idleMs = 2000,
  ) {}

  take(): SharedArrayBuffer {
    this.used = true;
    return this.free.pop() ?? new SharedArrayBuffer(this.slabBytes);
  }

  /** Returns a buffer to the pool; anything that is not one of its slabs is left to the GC. */
  give(b: ArrayBuffer | SharedArrayBuffer | undefined): void {
    if (!(b instanceof SharedArrayBuffer) || b.byteLength !== this.slabBytes) return;
    // Given twice, one slab would go to two users at once: refuse the second (cheap: short list).
    if (this.free.length < this.maxFree && !this.free.includes(b)) this.free.push(b);
    if (!this.timer) {
      this.used = false;
      this.timer = setTimeout(() => this.idle(), this.idleMs);
      this.timer.unref();
    }
  }

  /** Slabs kept for reuse right now. */
  get kept(): number {
    return this.free.length;
  }

  private idle(): void {
    this.timer = null;
    if (this.used) {
      // Still in use: look again later.
      this.used = false;
      this.timer = setTimeout(() => this.idle(), this.idleMs);
      this.timer.unref();
      return;
    }
    this.free.length = 0;
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.free.length = 0;
  }
}
