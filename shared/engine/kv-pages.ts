/**
 * The paged KV cache of a model: per block one K and one V buffer, [rows, kvHeads, headDim] f32,
 * whose rows are a whole number of pages of `pageSize` positions (the last page cut at the
 * context). It holds no page until the first token and grows by whole pages when a pass needs
 * more positions; `shrink` gives back the pages past what the conversation uses.
 *
 * Why contiguous rows and not a page table (specs/engine.md, "The paged KV cache"): a WebGPU
 * buffer cannot grow and a stage binds only 8–10 storage buffers, so a per-page buffer cannot be
 * bound and a page pool would still have to be re-allocated and copied to grow. With one model
 * running one sequence, indirection would buy nothing: growing re-allocates the block's buffers
 * one or more pages larger and copies the used rows, and the kernels read the same layout as
 * before (identical results, no kernel changes).
 */
import { type CoreKernels, type GpuContext, type KvCache } from '../gpu';

/** Positions per KV page: the cache grows and shrinks by whole pages of this many positions. */
export const KV_PAGE_POSITIONS = 256;

export class PagedKvCache {
  private caches: KvCache[] = [];
  private pageCount = 0;

  constructor(
    private readonly ctx: GpuContext,
    private readonly kernels: CoreKernels,
    private readonly shape: { blocks: number; kvHeads: number; headDim: number; maxContext: number; pageSize: number },
    /** Called after buffers were replaced (cached bind groups that name the old ones are stale). */
    private readonly onReplace: () => void = () => undefined,
  ) {}

  get pageSize(): number {
    return this.shape.pageSize;
  }

  /** Pages held now (each block holds this many in K and in V). */
  get pages(): number {
    return this.pageCount;
  }

  /** Positions the held pages cover: pages · pageSize, never past the context. */
  get capacity(): number {
    return this.rowsFor(this.pageCount);
  }

  /** Bytes of one position in every block, K and V. */
  get bytesPerPosition(): number {
    return 2 * this.shape.blocks * this.shape.kvHeads * this.shape.headDim * 4;
  }

  /** Bytes held now (the ledger holds the same under kind kv-cache). */
  get bytes(): number {
    return this.capacity * this.bytesPerPosition;
  }

  /** Block b's K and V buffers; only valid until the next grow or shrink. */
  block(b: number): KvCache {
    const c = this.caches[b];
    if (!c) throw new Error(`KV cache of block ${b} holds no page: grow() it before encoding`);
    return c;
  }

  /** Makes room for `positions` (at most the context), keeping the first `used` rows. */
  async grow(positions: number, used: number): Promise<void> {
    const want = Math.ceil(Math.min(positions, this.shape.maxContext) / this.shape.pageSize);
    if (want > this.pageCount) await this.resize(want, used);
  }

  /** Gives back every page past those the first `used` positions need (0: all of them). */
  async shrink(used: number): Promise<void> {
    const want = Math.ceil(used / this.shape.pageSize);
    if (want === 0) this.clear();
    else if (want < this.pageCount) await this.resize(want, used);
  }

  /** Gives back every page at once (the conversation ended; nothing to copy). */
  clear(): void {
    if (this.pageCount === 0) return;
    this.drop();
    this.caches = [];
    this.pageCount = 0;
    this.onReplace();
  }

  destroy(): void {
    this.drop();
    this.caches = [];
    this.pageCount = 0;
  }

  private drop(): void {
    for (const c of this.caches) {
      c.k.destroy();
      c.v.destroy();
    }
  }

  private rowsFor(pages: number): number {
    return Math.min(pages * this.shape.pageSize, this.shape.maxContext);
  }

  /**
   * New buffers of `pages` pages (> 0) per block, the first `used` rows copied over in one
   * submit, the old ones destroyed once the copy has run. On an allocation failure the old
   * buffers stay as they were.
   */
  private async resize(pages: number, used: number): Promise<void> {
    const { blocks, kvHeads, headDim } = this.shape;
    const rows = this.rowsFor(pages);
    const fresh: KvCache[] = [];
    try {
      await this.ctx.checked('KV cache', () => {
        for (let b = 0; b < blocks; b++) fresh.push(this.kernels.createKvCache(rows, kvHeads, headDim, `blk.${b}.kv`));
      });
    } catch (e) {
      for (const c of fresh) {
        c.k.destroy();
        c.v.destroy();
      }
      throw e;
    }
    const keep = Math.min(used, rows, this.capacity) * kvHeads * headDim * 4;
    if (keep > 0) {
      const enc = this.ctx.device.createCommandEncoder({ label: 'kv pages' });
      for (const [b, c] of fresh.entries()) {
        enc.copyBufferToBuffer(this.caches[b]!.k, 0, c.k, 0, keep);
        enc.copyBufferToBuffer(this.caches[b]!.v, 0, c.v, 0, keep);
      }
      this.ctx.device.queue.submit([enc.finish()]);
      // The old buffers go only once the copy has read them.
      await this.ctx.device.queue.onSubmittedWorkDone();
    }
    this.drop();
    this.caches = fresh;
    this.pageCount = pages;
    this.onReplace();
  }
}
