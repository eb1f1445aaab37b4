/**
 * One tensor's pyramid, fed with the tensor's bytes as they come: in chunks of any size and
 * alignment (a quantisation block cut by a chunk edge waits in a small carry buffer), handed to
 * the pure TensorPyramid a few blocks at a time: as they are for the types whose statistics come
 * from their integer codes (Q4_K, Q6_K, Q8_0: CODE_STATS_TYPES, never decoded), else decoded
 * with shared/quant into one reused buffer. Finished cells go to the index in small
 * transactions, and the one that writes the last cells marks the tensor built. buildPyramid
 * feeds it bytes read back from the volume; the import feeds it the source bytes it is storing
 * (one pass over the file). TensorPyramid's cells do not depend on the chunking, so both give
 * the same cells, bit for bit.
 */
import { MapError } from '../../shared/map/errors';
import { CODE_STATS_TYPES } from '../../shared/map/pyramid-codes';
import { TensorPyramid, type PyramidCell, type TensorPyramidSummary } from '../../shared/map/pyramid-core';
import { getQuantFormat, isQuantTypeName, type QuantFormat } from '../../shared/quant';
import type { MapIndex } from './map-index';
import type { IndexedRegion, PyramidWrite } from './map-types';

/** Bytes decoded per step: small enough to stay in cache, large enough to amortise the call. */
const DECODE_BYTES = 64 * 1024;

export class TensorPyramidWriter {
  private readonly pyr: TensorPyramid;
  private pending: PyramidCell[] = [];
  private readonly carry: Uint8Array;
  private carried = 0;
  private readonly values: Float32Array;
  private readonly step: number;
  /** The type's name when its blocks go to the pyramid undecoded (CODE_STATS_TYPES), else null. */
  private readonly codes: string | null;
  private written = 0;

  private constructor(
    /** Null for a detached writer (a pyramid thread's): it writes nothing anywhere. */
    private readonly index: MapIndex | null,
    readonly region: IndexedRegion,
    private readonly fmt: QuantFormat,
    private readonly heatSize: number,
    private readonly flushCells: number,
  ) {
    const byteSize = region.tensor!.byteSize;
    this.pyr = new TensorPyramid(region.grid, fmt, byteSize, heatSize, (c) => {
      this.pending.push(c);
      if (this.pending.length >= this.flushCells) this.flush();
    });
    this.carry = new Uint8Array(fmt.bytesPerBlock);
    this.step = Math.max(1, Math.floor(DECODE_BYTES / fmt.bytesPerBlock)) * fmt.bytesPerBlock;
    this.codes = CODE_STATS_TYPES.has(fmt.name) ? fmt.name : null;
    this.values = new Float32Array(this.codes ? 0 : (this.step / fmt.bytesPerBlock) * fmt.blockSize);
  }

  /**
   * Starts (or restarts: earlier cells are cleared) the pyramid of a weights region. A type with
   * no dequantiser is marked skipped in the index, with the reason, and gives a string.
   */
  static open(index: MapIndex, region: IndexedRegion, heatSize: number, flushCells = 32): TensorPyramidWriter | { skipped: string } {
    if (!Number.isSafeInteger(flushCells) || flushCells < 1) throw new MapError('MAP_INPUT', `flushCells ${flushCells} must be a positive integer`);
    const w = TensorPyramidWriter.checkOpen(index, region);
    if ('skipped' in w) return w;
    const fmt = w.fmt;
    index.beginPyramid(region.id, heatSize);
    return new TensorPyramidWriter(index, region, fmt, heatSize, flushCells);
  }

  /**
   * As open, but nothing is written to the index until the caller writes what finishDeferred
   * returns (MapIndex.writePyramids, a batch of tensors per commit): the import's route. The
   * region's old pyramid stays as it was until then; a skipped type is marked at once.
   */
  static openDeferred(index: MapIndex, region: IndexedRegion, heatSize: number): TensorPyramidWriter | { skipped: string } {
    const w = TensorPyramidWriter.checkOpen(index, region);
    if ('skipped' in w) return w;
    return new TensorPyramidWriter(index, region, w.fmt, heatSize, Infinity);
  }

  /**
   * A deferred writer that holds no index, for a thread that only computes (PyramidThread's
   * worker): the caller has checked the region on its own thread with `deferrable`, so a type
   * with no dequantiser here is an error, not a skip.
   */
  static detached(region: IndexedRegion, heatSize: number): TensorPyramidWriter {
    const w = TensorPyramidWriter.formatOf(region);
    if ('skipped' in w) throw new MapError('MAP_INPUT', `tensor ${region.name}: ${w.skipped}`, { regionId: region.id });
    return new TensorPyramidWriter(null, region, w.fmt, heatSize, Infinity);
  }

  /** As openDeferred's checks (a type with no dequantiser is marked skipped), with no writer made. */
  static deferrable(index: MapIndex, region: IndexedRegion): true | { skipped: string } {
    const w = TensorPyramidWriter.checkOpen(index, region);
    return 'skipped' in w ? w : true;
  }

  /** formatOf, and a type with no dequantiser marked skipped in the index. */
  private static checkOpen(index: MapIndex, region: IndexedRegion): { fmt: QuantFormat } | { skipped: string } {
    const w = TensorPyramidWriter.formatOf(region);
    if ('skipped' in w) index.skipPyramid(region.id, w.skipped);
    return w;
  }

  /** The tensor's format, after checking its size; the reason to skip it for a type with no dequantiser. */
  private static formatOf(region: IndexedRegion): { fmt: QuantFormat } | { skipped: string } {
    const tensor = region.tensor;
    if (!tensor) throw new MapError('MAP_INPUT', `region ${region.id} holds no tensor`, { regionId: region.id });
    if (!isQuantTypeName(tensor.ggmlType)) return { skipped: `ggml type ${tensor.ggmlType} has no dequantiser` };
    const fmt = getQuantFormat(tensor.ggmlType);
    const n = tensor.dims.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(n) || n % fmt.blockSize !== 0 || (n / fmt.blockSize) * fmt.bytesPerBlock !== tensor.byteSize) {
      throw new MapError('MAP_INPUT', `tensor ${region.name}: ${n} ${tensor.ggmlType} values do not occupy ${tensor.byteSize} bytes`, {
        tensor: region.name,
        dims: tensor.dims,
        byteSize: tensor.byteSize,
      });
    }
    return { fmt };
  }

  /** Bytes of the tensor taken so far. */
  get bytesWritten(): number {
    return this.written;
  }

  /** The tensor's next bytes, in order (any length; the caller may reuse `bytes` afterwards). */
  write(bytes: Uint8Array): void {
    const size = this.region.tensor!.byteSize;
    if (this.written + bytes.length > size) {
      throw new MapError('MAP_INPUT', `tensor ${this.region.name}: ${this.written + bytes.length} bytes written, it has ${size}`, {
        tensor: this.region.name,
        written: this.written + bytes.length,
        byteSize: size,
      });
    }
    this.written += bytes.length;
    const bpb = this.fmt.bytesPerBlock;
    let at = 0;
    if (this.carried > 0) {
      const take = Math.min(bpb - this.carried, bytes.length);
      this.carry.set(bytes.subarray(0, take), this.carried);
      this.carried += take;
      at = take;
      if (this.carried < bpb) return;
      this.decode(this.carry);
      this.carried = 0;
    }
    const whole = at + Math.floor((bytes.length - at) / bpb) * bpb;
    for (let off = at; off < whole; off += this.step) this.decode(bytes.subarray(off, Math.min(off + this.step, whole)));
    if (whole < bytes.length) {
      this.carry.set(bytes.subarray(whole));
      this.carried = bytes.length - whole;
    }
  }

  /** Ends the tensor (all its bytes written): the last cells and the built mark, in one transaction. */
  finish(): TensorPyramidSummary {
    const summary = this.pyr.finish();
    this.indexOf().writeCells(this.region.id, this.pending, summary);
    this.pending = [];
    return summary;
  }

  /** Ends a deferred writer's tensor (all its bytes written): its cells and summary, unwritten. */
  finishDeferred(): PyramidWrite {
    const summary = this.pyr.finish();
    const cells = this.pending;
    this.pending = [];
    return { regionId: this.region.id, heatSize: this.heatSize, cells, summary };
  }

  /** Whole blocks: to the pyramid as codes, or decoded into the reused buffer where the format can, else into a new array. */
  private decode(blocks: Uint8Array): void {
    if (this.codes) {
      this.pyr.pushBlocks(this.codes, blocks);
      return;
    }
    const n = (blocks.length / this.fmt.bytesPerBlock) * this.fmt.blockSize;
    if (this.fmt.dequantizeInto) {
      this.fmt.dequantizeInto(blocks, n, this.values);
      this.pyr.push(this.values.subarray(0, n));
    } else {
      // A plain Uint8Array view: Node Buffers have a slice() that does not copy, which
      // decoders that call slice() to realign do not expect.
      this.pyr.push(this.fmt.dequantize(new Uint8Array(blocks.buffer, blocks.byteOffset, blocks.length), n));
    }
  }

  private indexOf(): MapIndex {
    if (!this.index) throw new MapError('MAP_INPUT', `tensor ${this.region.name}: a detached pyramid writer has no index to write to`);
    return this.index;
  }

  private flush(): void {
    this.indexOf().writeCells(this.region.id, this.pending);
    this.pending = [];
  }
}
