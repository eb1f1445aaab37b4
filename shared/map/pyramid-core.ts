/**
 * The pure core of the level-of-detail pyramid of one tensor: it takes the tensor's decoded
 * values (or, for some quantised types, its stored blocks) in order and emits every cell (level 0 =
 * one per stored tile, then the 2x2 merges of pyramid-levels.ts) with exact statistics and a heat
 * image, holding only the cells still waiting for children. Q4_K's blocks go through WebAssembly
 * where it runs (q4k-runs.wat), with the same figures as the JavaScript route here.
 *
 * Where a value sits: value v of a type storing `blockSize` values in `bytesPerBlock` bytes is
 * attributed to byte p(v) = floor(v · bytesPerBlock / blockSize) of the tensor (exactly its byte
 * for F32/F16/BF16; a quantised block's values spread evenly over the block's bytes). Byte p is
 * in tile floor(p / capacity), pixel floor((p mod capacity) / 4) of that tile in row-major order
 * (PixelFS's layout). The heat image of a cell is heatSize x heatSize pixels over the cell's
 * nominal square; a heat pixel holds the mean of the values whose pixels fall in it (NaN where
 * none do: beyond the tensor's end, or past the grid for edge cells). A parent's heat pixel is
 * the count-weighted mean of its 2x2 child heat pixels, i.e. exactly the mean of its values.
 *
 * Order of the sums (what makes the result bit-exact and reproducible): the values of a tile go
 * in runs, one run per heat pixel per pixel row. Inside a run, value v is added to lane v mod 4
 * (four sums and four sums of squares, in value order), and the run's sum is (l0 + l1) + (l2 +
 * l3); runs are added to the tile's statistics and to their heat pixel in order. Nothing depends
 * on how the values are split into push() calls, so every reader of the same tensor bytes (the
 * import as it streams, the read-back build) gets the same cells, bit for bit.
 *
 * Code statistics (Q4_K, Q6_K, Q8_0: the types in CODE_STATS_TYPES, fed with pushBlocks): every
 * value of these types is x = fround(a·q − b), an integer code q times its sub-block's scale a
 * minus its offset b (b = 0 for Q6_K and Q8_0; a and b are the decoder's f32 products). A run
 * is cut where a sub-block ends into pieces; a piece's statistics come from the integer sums of
 * its codes (n, S1 = Σq, S2 = Σq², and its smallest and largest code) as
 *   sum = a·S1 − b·n,   sumSq = (a·a)·S2 − (2·a·b)·S1 + (b·b)·n   (float64, left to right),
 *   min, max = the smaller and larger of fround(a·qmin − b) and fround(a·qmax − b)
 * (the decoded values exactly); every product is exact in float64, so each piece's figures are
 * fixed by its codes alone. A piece whose a or b is not finite adds n non-finite values (every
 * value it decodes to is NaN or infinite). The run's sum and sum of squares are its pieces'
 * added in order into lane 0 (lanes 1–3 stay 0); the rest is as above. The sums are those of
 * the exact values a·q − b, which differ from the f32-decoded values' by at most 2^-24 of each.
 */
import { f16DecodeTable } from '../quant/half';
import { MapError } from './errors';
import { Q4K_SLICE_BLOCKS, q4kRunKernel, type Q4kRunKernel, type Q4kRunState } from './q4k-runs';
import { PyramidLevels } from './pyramid-levels';
import { tileCapacity, type TileGrid } from './regions';
import { emptyStats, mergeInto, type ValueStats } from './stats';

export interface TensorPyramidOptions {
  /** Q4_K's code statistics through WebAssembly where it runs (default) or, false, JavaScript. */
  q4kWasm?: boolean;
}

/** How a ggml type packs values: `blockSize` values in `bytesPerBlock` bytes. */
export interface ElementPacking {
  blockSize: number;
  bytesPerBlock: number;
}

export interface PyramidCell {
  level: number;
  col: number;
  row: number;
  stats: ValueStats;
  /** heatSize² means, row-major; NaN where no value falls. */
  heat: Float32Array<ArrayBuffer>;
}

export interface TensorPyramidSummary {
  stats: ValueStats;
  /** Range of the level-0 heat means (the finest image); ±Infinity when there is none. */
  heatMin: number;
  heatMax: number;
  levels: number;
  cells: number;
  /** Most cells held open at once (memory is bounded by this, not by the tensor's size). */
  peakOpenCells: number;
}

export const DEFAULT_HEAT_SIZE = 64;

/** The ggml types whose statistics come from their integer codes (pushBlocks; file comment). */
export const CODE_STATS_TYPES: ReadonlySet<string> = new Set(['Q4_K', 'Q6_K', 'Q8_0']);
type CodeType = 'Q4_K' | 'Q6_K' | 'Q8_0';

/**
 * For a byte holding two 4-bit codes: the bit of each code in bits 0–15 and the sum of their
 * squares from bit 16 on (at most 450: the entries stay small integers). One load per two codes.
 */
const PAIR = new Int32Array(256);
for (let i = 0; i < 256; i++) PAIR[i] = ((1 << (i & 15)) | (1 << (i >> 4))) + (((i & 15) * (i & 15) + (i >> 4) * (i >> 4)) << 16);

const CODE_PACKING: Readonly<Record<CodeType, ElementPacking>> = {
  Q4_K: { blockSize: 256, bytesPerBlock: 144 },
  Q6_K: { blockSize: 256, bytesPerBlock: 210 },
  Q8_0: { blockSize: 32, bytesPerBlock: 34 },
};

export function assertHeatSize(h: number): void {
  if (!Number.isInteger(h) || h < 2 || h > 1024 || h % 2 !== 0) {
    throw new MapError('MAP_INPUT', `heat size ${h} must be an even integer in 2..1024`, { heatSize: h });
  }
}

/** The byte a value is attributed to (see the file comment). */
export function valueByte(v: number, p: ElementPacking): number {
  return Math.floor((v * p.bytesPerBlock) / p.blockSize);
}

export class TensorPyramid {
  readonly elementCount: number;
  private next = 0;
  private readonly cap: number;
  private readonly H: number;
  private curTile = 0;
  private curStats = emptyStats();
  private curSum: Float64Array;
  private curCnt: Float64Array;
  private readonly levels: PyramidLevels;
  private readonly total = emptyStats();
  private heatMin = Infinity;
  private heatMax = -Infinity;
  private finished = false;
  // The open run (see the file comment): where it ends (-1: none open), its heat pixel, its
  // four lanes of sums and of sums of squares, its count, extrema and non-finite count.
  private segEnd = -1;
  private segHeat = 0;
  private readonly lanes = new Float64Array(8);
  private segN = 0;
  private segLo = Infinity;
  private segHi = -Infinity;
  private segBad = 0;
  /** How values came: none yet, push() (decoded values) or pushBlocks() (codes); never both. */
  private mode: 'none' | 'values' | 'codes' = 'none';
  private scratch = new Uint8Array(0);
  /** Q4_K's WebAssembly route (q4k-runs.ts), null for the JavaScript one. */
  private readonly q4k: Q4kRunKernel | null;

  constructor(
    private readonly grid: TileGrid,
    private readonly packing: ElementPacking,
    readonly byteSize: number,
    heatSize: number,
    emit: (cell: PyramidCell) => void,
    opts: TensorPyramidOptions = {},
  ) {
    this.q4k = opts.q4kWasm === false ? null : q4kRunKernel();
    assertHeatSize(heatSize);
    const { blockSize, bytesPerBlock } = packing;
    if (!Number.isSafeInteger(blockSize) || blockSize < 1 || !Number.isSafeInteger(bytesPerBlock) || bytesPerBlock < 1) {
      throw new MapError('MAP_INPUT', `element packing ${blockSize}/${bytesPerBlock} is not valid`, { ...packing });
    }
    if (!Number.isSafeInteger(byteSize) || byteSize < 0 || byteSize % bytesPerBlock !== 0) {
      throw new MapError('MAP_INPUT', `byte size ${byteSize} is not a whole number of ${bytesPerBlock}-byte blocks`, { byteSize, bytesPerBlock });
    }
    this.cap = tileCapacity(grid.tileWidth, grid.tileHeight);
    const tiles = Math.ceil(byteSize / this.cap);
    if (tiles !== grid.tileCount) {
      throw new MapError('MAP_INPUT', `${byteSize} bytes fill ${tiles} tiles, the grid holds ${grid.tileCount}`, { byteSize, tileCount: grid.tileCount });
    }
    this.elementCount = (byteSize / bytesPerBlock) * blockSize;
    this.H = heatSize;
    this.levels = new PyramidLevels(grid, heatSize, emit);
    this.curSum = new Float64Array(heatSize * heatSize);
    this.curCnt = new Float64Array(heatSize * heatSize);
  }

  /** Index of the next value push() expects. */
  get nextElement(): number {
    return this.next;
  }

  /**
   * Adds the next values.length values of the tensor, in order. The cells do not depend on how
   * the values are split into pushes (see the file comment), so a pyramid fed from the import's
   * read chunks equals one fed from the map's read-back chunks, bit for bit.
   */
  push(values: Float32Array): void {
    if (this.finished) throw new MapError('MAP_INPUT', 'push after finish');
    if (this.mode === 'codes') throw new MapError('MAP_INPUT', 'push after pushBlocks: one tensor takes its values one way');
    this.mode = 'values';
    const start = this.next;
    const end = start + values.length;
    if (end > this.elementCount) {
      throw new MapError('MAP_INPUT', `${end} values pushed, the tensor has ${this.elementCount}`, { end, elementCount: this.elementCount });
    }
    let v = start;
    while (v < end) {
      if (this.segEnd < 0) this.openSegment(v);
      const stop = this.segEnd < end ? this.segEnd : end;
      this.accumulate(values, start, v, stop);
      if (stop === this.segEnd) this.closeSegment();
      v = stop;
    }
    this.next = end;
  }

  /**
   * Adds the tensor's next whole blocks of `type` (one of CODE_STATS_TYPES, whose packing the
   * pyramid was made with) as stored bytes: the statistics come from the codes (file comment),
   * no value is decoded. Like push(), independent of how the blocks are split into calls.
   */
  pushBlocks(type: string, bytes: Uint8Array): void {
    if (this.finished) throw new MapError('MAP_INPUT', 'push after finish');
    if (!CODE_STATS_TYPES.has(type)) throw new MapError('MAP_INPUT', `ggml type ${type} has no code statistics`, { type });
    const pk = CODE_PACKING[type as CodeType];
    if (pk.blockSize !== this.packing.blockSize || pk.bytesPerBlock !== this.packing.bytesPerBlock) {
      throw new MapError('MAP_INPUT', `${type} blocks pushed to a ${this.packing.blockSize}/${this.packing.bytesPerBlock} pyramid`, { type });
    }
    if (this.mode === 'values') throw new MapError('MAP_INPUT', 'pushBlocks after push: one tensor takes its values one way');
    this.mode = 'codes';
    if (bytes.length % pk.bytesPerBlock !== 0) {
      throw new MapError('MAP_INPUT', `${bytes.length} bytes are not whole ${type} blocks of ${pk.bytesPerBlock}`, { bytes: bytes.length, type });
    }
    const end = this.next + (bytes.length / pk.bytesPerBlock) * pk.blockSize;
    if (end > this.elementCount) {
      throw new MapError('MAP_INPUT', `${end} values pushed, the tensor has ${this.elementCount}`, { end, elementCount: this.elementCount });
    }
    if (type === 'Q4_K') {
      if (this.q4k) this.blocksQ4KWasm(this.q4k, bytes);
      else this.blocksQ4K(bytes);
    }
    else if (type === 'Q6_K') this.blocksQ6K(bytes);
    else this.blocksQ80(bytes);
    this.next = end;
  }

  /**
   * Q4_K: 8 sub-blocks of 32; sub-block k's codes are the low (k even) or high nibbles of
   * qs[32·(k >> 1) ..]. The hottest loop of the import: the run's figures live in locals (stored
   * back at the end), a run is closed in place (as closeSegment does: its lanes 1–3 are 0), and
   * the codes are summed four bytes at a time from 32-bit words (SWAR; pair tables for the sums
   * of squares and the codes seen). The figures are those of the file comment, whatever the route.
   */
  private blocksQ4K(input: Uint8Array): void {
    const bytes = this.aligned(input);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    const t = f16DecodeTable();
    const L = this.lanes;
    let rs = L[0]!;
    let rq = L[4]!;
    let rn = this.segN;
    let rlo = this.segLo;
    let rhi = this.segHi;
    let rbad = this.segBad;
    let segEnd = this.segEnd;
    let v0 = this.next;
    for (let o = 0; o < bytes.length; o += 144, v0 += 256) {
      const d = t[bytes[o]! | (bytes[o + 1]! << 8)]!;
      const dmin = t[bytes[o + 2]! | (bytes[o + 3]! << 8)]!;
      for (let k = 0; k < 8; k++) {
        // ggml's get_scale_min_k4, as the decoder reads it (shared/quant/q4_k.ts).
        const s = o + 4;
        const sc = k < 4 ? bytes[s + k]! & 63 : (bytes[s + k + 4]! & 0xf) | ((bytes[s + k - 4]! >> 6) << 4);
        const m = k < 4 ? bytes[s + k + 4]! & 63 : (bytes[s + k + 4]! >> 4) | ((bytes[s + k]! >> 6) << 4);
        const a = Math.fround(d * sc);
        const b = Math.fround(dmin * m);
        const finite = a - a === 0 && b - b === 0;
        const aa = a * a;
        const ab2 = 2 * a * b;
        const bb = b * b;
        const q0 = o + 16 + 32 * (k >> 1);
        const shift = (k & 1) * 4;
        const vs = v0 + 32 * k;
        const ve = vs + 32;
        for (let v = vs; v < ve; ) {
          if (segEnd < 0) {
            this.openSegment(v);
            segEnd = this.segEnd;
          }
          const stop = segEnd < ve ? segEnd : ve;
          const n = stop - v;
          if (!finite) {
            rbad += n;
          } else {
            let j = q0 + (v - vs);
            const je = q0 + (stop - vs);
            let s1 = 0;
            let s2 = 0;
            let mask = 0;
            for (; j < je && (j & 3) !== 0; j++) {
              const q = (bytes[j]! >> shift) & 15;
              s1 += q;
              s2 += q * q;
              mask |= 1 << q;
            }
            for (; j + 4 <= je; j += 4) {
              // Four codes, one per byte's low nibble; their sum in the top byte of x·0x01010101.
              const x = (words[j >> 2]! >>> shift) & 0x0f0f0f0f;
              s1 += Math.imul(x, 0x01010101) >>> 24;
              const y = x | (x >>> 4);
              const t0 = PAIR[y & 0xff]!;
              const t1 = PAIR[(y >>> 16) & 0xff]!;
              s2 += (t0 >> 16) + (t1 >> 16);
              mask |= t0 | t1;
            }
            mask &= 0xffff;
            for (; j < je; j++) {
              const q = (bytes[j]! >> shift) & 15;
              s1 += q;
              s2 += q * q;
              mask |= 1 << q;
            }
            rs += a * s1 - b * n;
            rq += aa * s2 - ab2 * s1 + bb * n;
            rn += n;
            const x0 = Math.fround(a * (31 - Math.clz32(mask & -mask)) - b);
            const x1 = Math.fround(a * (31 - Math.clz32(mask)) - b);
            const lo = x0 < x1 ? x0 : x1;
            const hi = x0 < x1 ? x1 : x0;
            if (lo < rlo) rlo = lo;
            if (hi > rhi) rhi = hi;
          }
          if (stop === segEnd) {
            // closeSegment, with lanes 1–3 at 0: the run's sum is rs itself.
            const st = this.curStats;
            st.count += rn;
            st.sum += rs;
            st.sumSq += rq;
            if (rlo < st.min) st.min = rlo;
            if (rhi > st.max) st.max = rhi;
            st.nonFinite += rbad;
            this.curSum[this.segHeat] += rs;
            this.curCnt[this.segHeat] += rn;
            rs = 0;
            rq = 0;
            rn = 0;
            rlo = Infinity;
            rhi = -Infinity;
            rbad = 0;
            segEnd = -1;
            this.segEnd = -1;
          }
          v = stop;
        }
      }
    }
    L[0] = rs;
    L[4] = rq;
    this.segN = rn;
    this.segLo = rlo;
    this.segHi = rhi;
    this.segBad = rbad;
    this.segEnd = segEnd;
  }

  /**
   * Q4_K through the WebAssembly kernel (q4k-runs.wat): the same figures as blocksQ4K, bit for
   * bit; the kernel walks the pieces and runs, and hands back one record per run that opened or
   * closed, which is folded here as openSegment and closeSegment do.
   */
  private blocksQ4KWasm(k: Q4kRunKernel, bytes: Uint8Array): void {
    const L = this.lanes;
    const st: Q4kRunState = { segEnd: this.segEnd, sum: L[0]!, sumSq: L[4]!, count: this.segN, min: this.segLo, max: this.segHi, nonFinite: this.segBad };
    const g = { tileWidth: this.grid.tileWidth, tileHeight: this.grid.tileHeight, heatSize: this.H, tileBytes: this.cap };
    const step = Q4K_SLICE_BLOCKS * 144;
    let v0 = this.next;
    for (let at = 0; at < bytes.length; at += step) {
      const slice = bytes.subarray(at, Math.min(bytes.length, at + step));
      const r = k.run(slice, v0, st, g);
      // The tile's figures in locals, stored back before a tile is finished and at the end.
      let cs = this.curStats;
      let count = cs.count;
      let sum = cs.sum;
      let sumSq = cs.sumSq;
      let min = cs.min;
      let max = cs.max;
      let bad = cs.nonFinite;
      let heat = this.segHeat | 0;
      const hs = this.curSum;
      const hc = this.curCnt;
      for (let i = 0; i < r.length; i += 9) {
        const flags = r[i + 8]! | 0;
        if (flags & 2) {
          const t = r[i + 6]!;
          if (this.curTile < t) {
            cs.count = count;
            cs.sum = sum;
            cs.sumSq = sumSq;
            cs.min = min;
            cs.max = max;
            cs.nonFinite = bad;
            while (this.curTile < t) this.finishTile();
            cs = this.curStats;
            count = cs.count;
            sum = cs.sum;
            sumSq = cs.sumSq;
            min = cs.min;
            max = cs.max;
            bad = cs.nonFinite;
          }
          heat = r[i + 7]! | 0;
        }
        if (flags & 1) {
          const rs = r[i]!;
          const n = r[i + 4]!;
          count += n;
          sum += rs;
          sumSq += r[i + 1]!;
          const lo = r[i + 2]!;
          const hi = r[i + 3]!;
          if (lo < min) min = lo;
          if (hi > max) max = hi;
          bad += r[i + 5]!;
          hs[heat] += rs;
          hc[heat] += n;
        }
      }
      cs.count = count;
      cs.sum = sum;
      cs.sumSq = sumSq;
      cs.min = min;
      cs.max = max;
      cs.nonFinite = bad;
      this.segHeat = heat;
      v0 += (slice.length / 144) * 256;
    }
    this.segEnd = st.segEnd;
    L[0] = st.sum;
    L[4] = st.sumSq;
    this.segN = st.count;
    this.segLo = st.min;
    this.segHi = st.max;
    this.segBad = st.nonFinite;
  }

  /** `bytes` itself when it starts on a 4-byte boundary, else a copy that does (a reused buffer). */
  private aligned(bytes: Uint8Array): Uint8Array {
    if ((bytes.byteOffset & 3) === 0 && (bytes.length & 3) === 0) return bytes;
    if (this.scratch.length < bytes.length) this.scratch = new Uint8Array(bytes.length + 3 - ((bytes.length + 3) % 4));
    const out = this.scratch.subarray(0, bytes.length);
    out.set(bytes);
    return out;
  }

  /**
   * Q6_K: 16 sub-blocks of 16 with int8 scales; value i of a block is half h = i >> 7, quarter
   * c = (i >> 5) & 3, l = i & 31: code (ql[64h + l + 32(c & 1)] >> 4(c >> 1)) & 15 |
   * ((qh[32h + l] >> 2c) & 3) << 4, minus 32; sub-block i >> 4 (ggml's dequantize_row_q6_K).
   */
  private blocksQ6K(bytes: Uint8Array): void {
    const t = f16DecodeTable();
    let v0 = this.next;
    for (let o = 0; o < bytes.length; o += 210, v0 += 256) {
      const d = t[bytes[o + 208]! | (bytes[o + 209]! << 8)]!;
      for (let k = 0; k < 16; k++) {
        const a = Math.fround(d * ((bytes[o + 192 + k]! << 24) >> 24));
        const h = k >> 3;
        const c = (k >> 1) & 3;
        const l0 = (k & 1) * 16;
        const ql = o + 64 * h + 32 * (c & 1) + l0;
        const qh = o + 128 + 32 * h + l0;
        const sl = (c >> 1) * 4;
        const sh = 2 * c;
        const vs = v0 + 16 * k;
        const ve = vs + 16;
        for (let v = vs; v < ve; ) {
          if (this.segEnd < 0) this.openSegment(v);
          const stop = this.segEnd < ve ? this.segEnd : ve;
          let s1 = 0;
          let s2 = 0;
          let lo = 63;
          let hi = 0;
          for (let j = v - vs, je = stop - vs; j < je; j++) {
            const q = ((bytes[ql + j]! >> sl) & 15) | (((bytes[qh + j]! >> sh) & 3) << 4);
            s1 += q;
            s2 += q * q;
            lo = Math.min(lo, q);
            hi = Math.max(hi, q);
          }
          // Codes q − 32: S1 and S2 of the shifted codes from those of q (exact integers).
          const n = stop - v;
          this.addPiece(n, s1 - 32 * n, s2 - 64 * s1 + 1024 * n, lo - 32, hi - 32, a, 0);
          if (stop === this.segEnd) this.closeSegment();
          v = stop;
        }
      }
    }
  }

  /** Q8_0: blocks of 32 int8 codes with one f16 scale. */
  private blocksQ80(bytes: Uint8Array): void {
    const t = f16DecodeTable();
    let v0 = this.next;
    for (let o = 0; o < bytes.length; o += 34, v0 += 32) {
      const a = t[bytes[o]! | (bytes[o + 1]! << 8)]!;
      const ve = v0 + 32;
      for (let v = v0; v < ve; ) {
        if (this.segEnd < 0) this.openSegment(v);
        const stop = this.segEnd < ve ? this.segEnd : ve;
        let s1 = 0;
        let s2 = 0;
        let lo = 127;
        let hi = -128;
        for (let j = o + 2 + (v - v0), je = o + 2 + (stop - v0); j < je; j++) {
          const q = (bytes[j]! << 24) >> 24;
          s1 += q;
          s2 += q * q;
          lo = Math.min(lo, q);
          hi = Math.max(hi, q);
        }
        this.addPiece(stop - v, s1, s2, lo, hi, a, 0);
        if (stop === this.segEnd) this.closeSegment();
        v = stop;
      }
    }
  }

  /** One piece of a run from its codes' integer sums (file comment, "Code statistics"). */
  private addPiece(n: number, s1: number, s2: number, qlo: number, qhi: number, a: number, b: number): void {
    // a - a is NaN exactly for NaN and ±Infinity: then every value of the piece is non-finite.
    if (a - a !== 0 || b - b !== 0) {
      this.segBad += n;
      return;
    }
    const L = this.lanes;
    L[0] += a * s1 - b * n;
    L[4] += a * a * s2 - 2 * a * b * s1 + b * b * n;
    this.segN += n;
    const x0 = Math.fround(a * qlo - b);
    const x1 = Math.fround(a * qhi - b);
    const lo = x0 < x1 ? x0 : x1;
    const hi = x0 < x1 ? x1 : x0;
    if (lo < this.segLo) this.segLo = lo;
    if (hi > this.segHi) this.segHi = hi;
  }

  /** Opens the run of values from v on: to the end of v's heat pixel span on v's pixel row. */
  private openSegment(v: number): void {
    const { blockSize: bs, bytesPerBlock: bpb } = this.packing;
    const tw = this.grid.tileWidth;
    const H = this.H;
    const cap = this.cap;
    const p = Math.floor((v * bpb) / bs);
    const t = Math.floor(p / cap);
    while (this.curTile < t) this.finishTile();
    const pix = Math.floor((p - t * cap) / 4);
    const py = Math.floor(pix / tw);
    const px = pix - py * tw;
    const hx = Math.floor((px * H) / tw);
    const hy = Math.floor((py * H) / this.grid.tileHeight);
    const pxEnd = Math.min(tw, Math.ceil(((hx + 1) * tw) / H));
    const b1 = t * cap + (py * tw + pxEnd) * 4;
    this.segEnd = Math.floor((b1 * bs + bpb - 1) / bpb);
    this.segHeat = hy * H + hx;
  }

  /** Folds the finished run into its tile's statistics and heat pixel. */
  private closeSegment(): void {
    const L = this.lanes;
    const sum = L[0]! + L[1]! + (L[2]! + L[3]!);
    const sumSq = L[4]! + L[5]! + (L[6]! + L[7]!);
    const st = this.curStats;
    st.count += this.segN;
    st.sum += sum;
    st.sumSq += sumSq;
    if (this.segLo < st.min) st.min = this.segLo;
    if (this.segHi > st.max) st.max = this.segHi;
    st.nonFinite += this.segBad;
    this.curSum[this.segHeat] += sum;
    this.curCnt[this.segHeat] += this.segN;
    L.fill(0);
    this.segN = 0;
    this.segLo = Infinity;
    this.segHi = -Infinity;
    this.segBad = 0;
    this.segEnd = -1;
  }

  /** One value of the open run into lane v & 3. */
  private addOne(x: number, lane: number): void {
    // x - x is NaN exactly for NaN and ±Infinity.
    if (x - x !== 0) {
      this.segBad++;
      return;
    }
    this.lanes[lane] += x;
    this.lanes[4 + lane] += x * x;
    this.segN++;
    if (x < this.segLo) this.segLo = x;
    if (x > this.segHi) this.segHi = x;
  }

  /** Values [from, stop) of the tensor (values[0] is value `start`) into the open run. */
  private accumulate(values: Float32Array, start: number, from: number, stop: number): void {
    let i = from;
    for (; i < stop && (i & 3) !== 0; i++) this.addOne(values[i - start]!, i & 3);
    const body = i + ((stop - i) & ~3);
    if (i < body && !this.addFinite(values, i - start, body - start)) {
      // A non-finite value among them (addFinite left the run as it was): one by one.
      for (; i < body; i++) this.addOne(values[i - start]!, i & 3);
    }
    i = body;
    for (; i < stop; i++) this.addOne(values[i - start]!, i & 3);
  }

  /**
   * values[j0..j1) (a multiple of 4, lane-aligned) into the open run, assuming every value is
   * finite; false, with the run untouched, when one is not. Four independent sums: one
   * sequential sum waits on each addition's latency. No test per value: a finite value cannot
   * make these sums non-finite (|x| < 2^128, so x² < 2^256), so non-finite sums at the end say
   * a value was NaN or infinite.
   */
  private addFinite(values: Float32Array, j0: number, j1: number): boolean {
    const L = this.lanes;
    let s0 = L[0]!;
    let s1 = L[1]!;
    let s2 = L[2]!;
    let s3 = L[3]!;
    let q0 = L[4]!;
    let q1 = L[5]!;
    let q2 = L[6]!;
    let q3 = L[7]!;
    let lo = this.segLo;
    let hi = this.segHi;
    for (let j = j0; j < j1; j += 4) {
      const x0 = values[j]!;
      const x1 = values[j + 1]!;
      const x2 = values[j + 2]!;
      const x3 = values[j + 3]!;
      s0 += x0;
      s1 += x1;
      s2 += x2;
      s3 += x3;
      q0 += x0 * x0;
      q1 += x1 * x1;
      q2 += x2 * x2;
      q3 += x3 * x3;
      // Math.min/max compile to branch-free instructions; compares of random values mispredict.
      lo = Math.min(lo, x0, x1, x2, x3);
      hi = Math.max(hi, x0, x1, x2, x3);
    }
    const check = s0 + s1 + s2 + s3 + q0 + q1 + q2 + q3;
    if (check - check !== 0) return false;
    L[0] = s0;
    L[1] = s1;
    L[2] = s2;
    L[3] = s3;
    L[4] = q0;
    L[5] = q1;
    L[6] = q2;
    L[7] = q3;
    this.segLo = lo;
    this.segHi = hi;
    this.segN += j1 - j0;
    return true;
  }

  /** Flushes the remaining tiles and cells; all values must have been pushed. */
  finish(): TensorPyramidSummary {
    if (this.next !== this.elementCount) {
      throw new MapError('MAP_INPUT', `finish after ${this.next} of ${this.elementCount} values`, { pushed: this.next, elementCount: this.elementCount });
    }
    if (!this.finished) {
      if (this.segEnd >= 0) this.closeSegment();
      while (this.curTile < this.grid.tileCount) this.finishTile();
      this.finished = true;
    }
    return {
      stats: { ...this.total },
      heatMin: this.heatMin,
      heatMax: this.heatMax,
      levels: this.grid.tileCount === 0 ? 0 : this.levels.top + 1,
      cells: this.levels.cells,
      peakOpenCells: this.levels.peakOpen,
    };
  }

  private finishTile(): void {
    const t = this.curTile;
    const col = t % this.grid.cols;
    const row = Math.floor(t / this.grid.cols);
    const H2 = this.H * this.H;
    for (let i = 0; i < H2; i++) {
      const c = this.curCnt[i]!;
      if (c > 0) {
        const m = this.curSum[i]! / c;
        if (m < this.heatMin) this.heatMin = m;
        if (m > this.heatMax) this.heatMax = m;
      }
    }
    mergeInto(this.total, this.curStats);
    this.levels.complete(0, col, row, this.curStats, this.curSum, this.curCnt);
    this.curStats = emptyStats();
    this.curSum.fill(0);
    this.curCnt.fill(0);
    this.curTile++;
  }
}
