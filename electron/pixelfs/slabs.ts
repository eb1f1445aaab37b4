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
const WASM_PAGE = 65536;

/**
 * A SharedArrayBuffer of `bytes` (a multiple of 64 KiB) whose first byte is page-aligned, so that
 * a tile PNG built in it can be written around the page cache (O_DIRECT, file-ops.ts), which
 * wants aligned memory. A plain SharedArrayBuffer is malloc'd 16 bytes past a page boundary; a
 * shared WebAssembly.Memory is the one shared allocation JavaScript can get page-aligned. When
 * the host refuses one (no WebAssembly, address space spent), a plain buffer does: its writes
 * then go through the cache.
 */
export function alignedSharedBuffer(bytes: number): SharedArrayBuffer {
  const pages = bytes / WASM_PAGE;
  if (Number.isInteger(pages) && pages > 0 && pages <= 65536 && typeof WebAssembly === 'object') {
    try {
      const buf: unknown = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer;
      if (buf instanceof SharedArrayBuffer && buf.byteLength === bytes) return buf;
    } catch {
      // fall through to a plain buffer
    }
  }
  return new SharedArrayBuffer(bytes);
}

export class SlabPool {
  private readonly free: SharedArrayBuffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private used = false;
  /** Bytes per slab: what was asked, rounded up to whole 64 KiB pages (alignedSharedBuffer). */
  readonly slabBytes: number;

  constructor(
    /** At least this many bytes per slab: the largest of a tile payload and a level-0 tile PNG. */
    minBytes: number,
    private readonly maxFree: number,
    private readonly idleMs = 2000,
  ) {
    this.slabBytes = Math.ceil(minBytes / WASM_PAGE) * WASM_PAGE;
  }

  take(): SharedArrayBuffer {
    this.used = true;
    return this.free.pop() ?? alignedSharedBuffer(this.slabBytes);
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
