/**
 * Streamed weights (the residency planner's "stream" side, residency.ts): matrices kept in host
 * memory and written, per pass, row piece by row piece, into a few reusable slot buffers just
 * before the dispatch that reads them. A pass makes its reads in dispatch order; slot
 * i % STREAM_SLOTS holds the i-th. The caller submits the command buffer that read a slot before `release()` queues
 * the write of the matrix STREAM_SLOTS uses ahead into it: the queue runs writes and submits in
 * the order they were made, so a slot is never overwritten before its reader ran, and the next
 * matrix's upload is staged while this one computes. Same kernels, same bytes: same logits.
 */
import { BufferUsage, type GpuContext } from '../gpu';
import { EngineError } from './errors';
import { STREAM_SLOTS } from './residency';
import type { GpuWeight, HostWeight, WeightPart } from './weights';

/** One read of a streamed matrix: a row piece (index into its parts). */
export interface StreamRead {
  name: string;
  piece: number;
}

export class WeightStream {
  /** The slot buffers, each sized for the largest piece. */
  private readonly slots: GPUBuffer[] = [];
  private readonly host: ReadonlyMap<string, HostWeight>;
  /** Bytes written to the slots since the model loaded (benchmarks divide by tokens). */
  uploadedBytes = 0;

  constructor(
    private readonly ctx: GpuContext,
    weights: readonly HostWeight[],
    slotBytes: number,
  ) {
    this.host = new Map(weights.map((w) => [w.name, w]));
    try {
      for (let s = 0; s < STREAM_SLOTS; s++) this.slots.push(ctx.createBuffer(slotBytes, BufferUsage.STORAGE | BufferUsage.COPY_DST, `stream.slot${s}.weight`));
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** Every slot buffer (the model owns and frees them). */
  get buffers(): GPUBuffer[] {
    return [...this.slots];
  }

  /** The matrix as the model's structure holds it: flagged streamed, one part per piece (in the first slot). */
  weight(name: string): GpuWeight {
    const w = this.hostWeight(name);
    return { name, type: w.type, rows: w.rows, cols: w.cols, bytes: w.bytes, streamed: true, parts: w.parts.map((p) => ({ rowStart: p.rowStart, rows: p.rows, buffer: this.slots[0]! })) };
  }

  /** The reads one pass makes of `name`: each piece, in row order. */
  reads(name: string): StreamRead[] {
    return this.hostWeight(name).parts.map((_, piece) => ({ name, piece }));
  }

  /** A piece as the kernels bind it: its rows, in a slot. */
  view(r: StreamRead, slot: number): WeightPart {
    const p = this.hostWeight(r.name).parts[r.piece]!;
    return { rowStart: p.rowStart, rows: p.rows, buffer: this.slots[slot]! };
  }

  /** Queues a piece's bytes into a slot (after everything submitted so far). */
  write(r: StreamRead, slot: number): void {
    const data = this.hostWeight(r.name).parts[r.piece]!.data;
    this.ctx.write(this.slots[slot]!, data);
    this.uploadedBytes += data.byteLength;
  }

  /** A pass that makes `order`'s reads, in dispatch order (a matrix may come back: a tied output). */
  pass(order: readonly StreamRead[]): StreamPass {
    return new StreamPass(this, order);
  }

  destroy(): void {
    for (const b of this.slots) b.destroy();
  }

  private hostWeight(name: string): HostWeight {
    const w = this.host.get(name);
    if (!w) throw new EngineError('ENGINE_BAD_OPTION', `${name} is not a streamed matrix`, { tensor: name });
    return w;
  }
}

export class StreamPass {
  private cursor = 0;

  constructor(
    private readonly stream: WeightStream,
    private readonly order: readonly StreamRead[],
  ) {
    for (let i = 0; i < Math.min(STREAM_SLOTS, order.length); i++) stream.write(order[i]!, i);
  }

  /** The slot holding the next read, which must be `name`'s `piece` (the pass's order is the encoders'). */
  bind(name: string, piece: number): WeightPart {
    const want = this.order[this.cursor];
    if (want?.name !== name || want.piece !== piece) {
      throw new EngineError('ENGINE_BAD_OPTION', `streamed weights out of order: ${name} piece ${piece} dispatched where ${want ? `${want.name} piece ${want.piece}` : 'nothing'} was planned`, { tensor: name });
    }
    return this.stream.view(want, this.cursor % STREAM_SLOTS);
  }

  /** Call once the command buffer that read the bound piece is submitted: its slot takes the read STREAM_SLOTS ahead. */
  release(): void {
    const freed = this.cursor % STREAM_SLOTS;
    this.cursor++;
    const next = this.cursor + STREAM_SLOTS - 1;
    if (next < this.order.length) this.stream.write(this.order[next]!, freed);
  }

  /** Every planned read ran. */
  finish(): void {
    if (this.cursor !== this.order.length) {
      throw new EngineError('ENGINE_BAD_OPTION', `streamed weights: ${this.cursor} of ${this.order.length} planned reads ran`);
    }
  }
}
