/**
 * The statistics of a quantised tensor taken from its stored blocks' integer codes, never
 * decoding a value: Q4_K (through WebAssembly where it runs, q4k-runs.ts, else JavaScript),
 * Q6_K and Q8_0, folded into the pyramid's runs (pyramid-runs.ts). Separate from the runs and
 * from TensorPyramid (pyramid-core.ts) as the one place that reads a type's block layout.
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
 * added in order into lane 0 (lanes 1–3 stay 0); the rest is as in pyramid-runs.ts. The sums
 * are those of the exact values a·q − b, which differ from the f32-decoded values' by at most
 * 2^-24 of each.
 */
import { f16DecodeTable } from '../quant/half';
import { Q4K_SLICE_BLOCKS, type Q4kRunKernel, type Q4kRunState } from './q4k-runs';
import type { ElementPacking } from './pyramid-core';
import type { PyramidRuns } from './pyramid-runs';

/** The ggml types whose statistics come from their integer codes (pushBlocks; file comment). */
export const CODE_STATS_TYPES: ReadonlySet<string> = new Set(['Q4_K', 'Q6_K', 'Q8_0']);
export type CodeType = 'Q4_K' | 'Q6_K' | 'Q8_0';

/**
 * For a byte holding two 4-bit codes: the bit of each code in bits 0–15 and the sum of their
 * squares from bit 16 on (at most 450: the entries stay small integers). One load per two codes.
 */
const PAIR = new Int32Array(256);
for (let i = 0; i < 256; i++) PAIR[i] = ((1 << (i & 15)) | (1 << (i >> 4))) + (((i & 15) * (i & 15) + (i >> 4) * (i >> 4)) << 16);

export const CODE_PACKING: Readonly<Record<CodeType, ElementPacking>> = {
  Q4_K: { blockSize: 256, bytesPerBlock: 144 },
  Q6_K: { blockSize: 256, bytesPerBlock: 210 },
  Q8_0: { blockSize: 32, bytesPerBlock: 34 },
};

/** A tensor's blocks of one of CODE_STATS_TYPES into its runs (TensorPyramid.pushBlocks checks them first). */
export class CodeStats {
  private scratch = new Uint8Array(0);

  constructor(
    private readonly runs: PyramidRuns,
    /** Q4_K's WebAssembly route (q4k-runs.ts), null for the JavaScript one. */
    private readonly q4k: Q4kRunKernel | null,
  ) {}

  /** The tensor's next whole blocks of `type`, whose first value is value `next` of the tensor. */
  push(type: CodeType, bytes: Uint8Array, next: number): void {
    if (type === 'Q4_K') {
      if (this.q4k) this.blocksQ4KWasm(this.q4k, bytes, next);
      else this.blocksQ4K(bytes, next);
    }
    else if (type === 'Q6_K') this.blocksQ6K(bytes, next);
    else this.blocksQ80(bytes, next);
  }

  /**
   * Q4_K: 8 sub-blocks of 32; sub-block k's codes are the low (k even) or high nibbles of
   * qs[32·(k >> 1) ..]. The hottest loop of the import: the run's figures live in locals (stored
   * back at the end), a run is closed in place (as PyramidRuns.closeSegment does: its lanes 1–3
   * are 0), and the codes are summed four bytes at a time from 32-bit words (SWAR; pair tables
   * for the sums of squares and the codes seen). The figures are those of the file comment,
   * whatever the route.
   */
  private blocksQ4K(input: Uint8Array, next: number): void {
    const runs = this.runs;
    const bytes = this.aligned(input);
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >> 2);
    const t = f16DecodeTable();
    const L = runs.lanes;
    let rs = L[0]!;
    let rq = L[4]!;
    let rn = runs.segN;
    let rlo = runs.segLo;
    let rhi = runs.segHi;
    let rbad = runs.segBad;
    let segEnd = runs.segEnd;
    let v0 = next;
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
            runs.openSegment(v);
            segEnd = runs.segEnd;
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
            const st = runs.curStats;
            st.count += rn;
            st.sum += rs;
            st.sumSq += rq;
            if (rlo < st.min) st.min = rlo;
            if (rhi > st.max) st.max = rhi;
            st.nonFinite += rbad;
            runs.curSum[runs.segHeat] += rs;
            runs.curCnt[runs.segHeat] += rn;
            rs = 0;
            rq = 0;
            rn = 0;
            rlo = Infinity;
            rhi = -Infinity;
            rbad = 0;
            segEnd = -1;
            runs.segEnd = -1;
          }
          v = stop;
        }
      }
    }
    L[0] = rs;
    L[4] = rq;
    runs.segN = rn;
    runs.segLo = rlo;
    runs.segHi = rhi;
    runs.segBad = rbad;
    runs.segEnd = segEnd;
  }

  /**
   * Q4_K through the WebAssembly kernel (q4k-runs.wat): the same figures as blocksQ4K, bit for
   * bit; the kernel walks the pieces and runs, and hands back one record per run that opened or
   * closed, which is folded here as PyramidRuns.openSegment and closeSegment do.
   */
  private blocksQ4KWasm(k: Q4kRunKernel, bytes: Uint8Array, next: number): void {
    const runs = this.runs;
    const L = runs.lanes;
    const st: Q4kRunState = { segEnd: runs.segEnd, sum: L[0]!, sumSq: L[4]!, count: runs.segN, min: runs.segLo, max: runs.segHi, nonFinite: runs.segBad };
    const g = { tileWidth: runs.grid.tileWidth, tileHeight: runs.grid.tileHeight, heatSize: runs.H, tileBytes: runs.cap };
    const step = Q4K_SLICE_BLOCKS * 144;
    let v0 = next;
    for (let at = 0; at < bytes.length; at += step) {
      const slice = bytes.subarray(at, Math.min(bytes.length, at + step));
      const r = k.run(slice, v0, st, g);
      // The tile's figures in locals, stored back before a tile is finished and at the end.
      let cs = runs.curStats;
      let count = cs.count;
      let sum = cs.sum;
      let sumSq = cs.sumSq;
      let min = cs.min;
      let max = cs.max;
      let bad = cs.nonFinite;
      let heat = runs.segHeat | 0;
      const hs = runs.curSum;
      const hc = runs.curCnt;
      for (let i = 0; i < r.length; i += 9) {
        const flags = r[i + 8]! | 0;
        if (flags & 2) {
          const t = r[i + 6]!;
          if (runs.curTile < t) {
            cs.count = count;
            cs.sum = sum;
            cs.sumSq = sumSq;
            cs.min = min;
            cs.max = max;
            cs.nonFinite = bad;
            while (runs.curTile < t) runs.finishTile();
            cs = runs.curStats;
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
      runs.segHeat = heat;
      v0 += (slice.length / 144) * 256;
    }
    runs.segEnd = st.segEnd;
    L[0] = st.sum;
    L[4] = st.sumSq;
    runs.segN = st.count;
    runs.segLo = st.min;
    runs.segHi = st.max;
    runs.segBad = st.nonFinite;
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
  private blocksQ6K(bytes: Uint8Array, next: number): void {
    const runs = this.runs;
    const t = f16DecodeTable();
    let v0 = next;
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
          if (runs.segEnd < 0) runs.openSegment(v);
          const stop = runs.segEnd < ve ? runs.segEnd : ve;
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
          if (stop === runs.segEnd) runs.closeSegment();
          v = stop;
        }
      }
    }
  }

  /** Q8_0: blocks of 32 int8 codes with one f16 scale. */
  private blocksQ80(bytes: Uint8Array, next: number): void {
    const runs = this.runs;
    const t = f16DecodeTable();
    let v0 = next;
    for (let o = 0; o < bytes.length; o += 34, v0 += 32) {
      const a = t[bytes[o]! | (bytes[o + 1]! << 8)]!;
      const ve = v0 + 32;
      for (let v = v0; v < ve; ) {
        if (runs.segEnd < 0) runs.openSegment(v);
        const stop = runs.segEnd < ve ? runs.segEnd : ve;
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
        if (stop === runs.segEnd) runs.closeSegment();
        v = stop;
      }
    }
  }

  /** One piece of a run from its codes' integer sums (file comment, "Code statistics"). */
  private addPiece(n: number, s1: number, s2: number, qlo: number, qhi: number, a: number, b: number): void {
    const runs = this.runs;
    // a - a is NaN exactly for NaN and ±Infinity: then every value of the piece is non-finite.
    if (a - a !== 0 || b - b !== 0) {
      runs.segBad += n;
      return;
    }
    const L = runs.lanes;
    L[0] += a * s1 - b * n;
    L[4] += a * a * s2 - 2 * a * b * s1 + b * b * n;
    runs.segN += n;
    const x0 = Math.fround(a * qlo - b);
    const x1 = Math.fround(a * qhi - b);
    const lo = x0 < x1 ? x0 : x1;
    const hi = x0 < x1 ? x1 : x0;
    if (lo < runs.segLo) runs.segLo = lo;
    if (hi > runs.segHi) runs.segHi = hi;
  }
}
