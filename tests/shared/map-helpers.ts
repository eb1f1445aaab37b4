/** Seeded generators for the map tests. */
import { expect } from 'vitest';
import { cellsAt, topLevel } from '../../shared/map/lod';
import type { ModelSpec, TensorSpec } from '../../shared/map/placement';
import { f16ToF32 as f16 } from '../../shared/quant/half';
import { valueByte, type ElementPacking } from '../../shared/map/pyramid-core';
import { tileCapacity, type TileGrid } from '../../shared/map/regions';
import { emptyStats, type ValueStats } from '../../shared/map/stats';

// The project's one seeded PRNG (mulberry32) drives reproducible test data too.
export { createRng as rng } from '../../shared/engine/sampling';

export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

export function shuffle<T>(r: () => number, a: readonly T[]): T[] {
  const b = [...a];
  for (let i = b.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [b[i], b[j]] = [b[j]!, b[i]!];
  }
  return b;
}

const BLOCK_PARTS = ['attn_norm.weight', 'attn_q.weight', 'attn_q.bias', 'attn_k.weight', 'attn_v.weight', 'attn_output.weight', 'ffn_norm.weight', 'ffn_gate.weight', 'ffn_up.weight', 'ffn_down.weight', 'zz_extra.weight'];

/** A random transformer-like model: F32 tensors whose byte sizes span 0..maxTiles tiles. */
export function randomModel(r: () => number, modelId: string, cap: number, maxTiles = 12): ModelSpec {
  const tensors: TensorSpec[] = [];
  const add = (name: string) => {
    const n = r() < 0.4 ? randInt(r, 1, Math.max(1, cap / 16)) : randInt(r, 1, (maxTiles * cap) / 4);
    tensors.push({ name, ggmlType: 'F32', dims: [n], byteSize: 4 * n });
  };
  if (r() < 0.9) add('token_embd.weight');
  const blocks = randInt(r, 0, 5);
  for (let b = 0; b < blocks; b++) for (const p of BLOCK_PARTS) if (r() < 0.85) add(`blk.${b}.${p}`);
  if (r() < 0.8) add('output_norm.weight');
  if (r() < 0.8) add('output.weight');
  if (r() < 0.3) add('rope_freqs.weight');
  return { modelId, tensors: shuffle(r, tensors) };
}

export interface Ref {
  stats: ValueStats;
  sum: Float64Array;
  cnt: Float64Array;
  /** Σ|x| of the cell's finite values and of each heat pixel's: the scale of a rounding tolerance. */
  absSum: number;
  abs: Float64Array;
}

/**
 * The pyramid by definition, straight from the values: each value's byte, tile and pixel, its
 * position in the grid, and for every level the cell and heat pixel it falls in.
 */
export function referencePyramid(values: Float32Array, pk: ElementPacking, grid: TileGrid, H: number): Map<string, Ref> {
  const cap = tileCapacity(grid.tileWidth, grid.tileHeight);
  const top = topLevel(grid);
  const out = new Map<string, Ref>();
  for (let k = 0; k <= top; k++) for (const { col, row } of cellsAt(grid, k)) out.set(`${k}/${col}/${row}`, { stats: emptyStats(), sum: new Float64Array(H * H), cnt: new Float64Array(H * H), absSum: 0, abs: new Float64Array(H * H) });
  for (let v = 0; v < values.length; v++) {
    const p = valueByte(v, pk);
    const t = Math.floor(p / cap);
    const pix = Math.floor((p % cap) / 4);
    const gx = (t % grid.cols) * grid.tileWidth + (pix % grid.tileWidth);
    const gy = Math.floor(t / grid.cols) * grid.tileHeight + Math.floor(pix / grid.tileWidth);
    const x = values[v]!;
    for (let k = 0; k <= top; k++) {
      const sw = 2 ** k * grid.tileWidth;
      const sh = 2 ** k * grid.tileHeight;
      const c = Math.floor(gx / sw);
      const r = Math.floor(gy / sh);
      const e = out.get(`${k}/${c}/${r}`)!;
      if (!Number.isFinite(x)) {
        e.stats.nonFinite++;
        continue;
      }
      e.stats.count++;
      e.stats.sum += x;
      e.stats.sumSq += x * x;
      e.stats.min = Math.min(e.stats.min, x);
      e.stats.max = Math.max(e.stats.max, x);
      e.absSum += Math.abs(x);
      const h = Math.floor(((gy - r * sh) * H) / sh) * H + Math.floor(((gx - c * sw) * H) / sw);
      e.sum[h] += x;
      e.cnt[h]++;
      e.abs[h] += Math.abs(x);
    }
  }
  return out;
}

/**
 * A cell against the reference from the decoded values. `rel` is the relative error each value
 * may carry on top of double rounding: 0 where the pyramid sums the decoded values themselves,
 * 2^-23 for the code statistics of Q4_K (pyramid-codes.ts: the sums of a·q − b, whose f32
 * decoding rounds each value by up to 2^-24).
 */
export function expectCellMatches(cell: { stats: ValueStats | null; heat?: Float32Array | null }, ref: Ref, what: string, rel = 0): void {
  const s = cell.stats!;
  const r = ref.stats;
  const close = (a: number, b: number, scale: number, extra: number) => Math.abs(a - b) <= 1e-9 * (1 + Math.abs(scale)) + extra;
  const statsOk =
    s.count === r.count &&
    s.nonFinite === r.nonFinite &&
    (r.count === 0 || (s.min === r.min && s.max === r.max)) &&
    close(s.sum, r.sum, r.sumSq, rel * ref.absSum) &&
    close(s.sumSq, r.sumSq, r.sumSq, 2 * rel * r.sumSq);
  if (!statsOk) expect(s, what).toEqual(r);
  // One expect for the whole image: vitest's expect is too slow per pixel.
  const heat = cell.heat!;
  let bad = '';
  for (let i = 0; i < heat.length && !bad; i++) {
    if (ref.cnt[i] === 0) {
      if (!Number.isNaN(heat[i])) bad = `heat ${i}: ${heat[i]} where no value falls`;
    } else {
      const m = ref.sum[i]! / ref.cnt[i]!;
      if (!(Math.abs(heat[i]! - m) <= 1e-6 * Math.abs(m) + 1e-12 + (rel * ref.abs[i]!) / ref.cnt[i]!)) bad = `heat ${i}: ${heat[i]}, expected ${m}`;
    }
  }
  expect(bad, what).toBe('');
}

/** A value of a code-statistics type as its definition reads it: code q, scale a, offset b, sub-block. */
export interface CodedValue {
  q: number;
  a: number;
  b: number;
  sub: number;
}

/**
 * Value i of Q4_K, Q6_K or Q8_0 bytes, one at a time, from ggml's block layouts (the dequantisers'
 * formulas: Q4_K's get_scale_min_k4, Q6_K's ql/qh/scale indices), with its sub-block's number.
 */
export function codedValue(type: 'Q4_K' | 'Q6_K' | 'Q8_0', bytes: Uint8Array, i: number): CodedValue {
  const u16 = (o: number) => bytes[o]! | (bytes[o + 1]! << 8);
  const i8 = (o: number) => (bytes[o]! << 24) >> 24;
  if (type === 'Q8_0') {
    const o = Math.floor(i / 32) * 34;
    return { q: i8(o + 2 + (i % 32)), a: f16(u16(o)), b: 0, sub: Math.floor(i / 32) };
  }
  const blk = Math.floor(i / 256);
  const e = i % 256;
  if (type === 'Q4_K') {
    const o = blk * 144;
    const j = Math.floor(e / 32);
    const s = o + 4;
    const sc = j < 4 ? bytes[s + j]! & 63 : (bytes[s + j + 4]! & 0xf) | ((bytes[s + j - 4]! >> 6) << 4);
    const m = j < 4 ? bytes[s + j + 4]! & 63 : (bytes[s + j + 4]! >> 4) | ((bytes[s + j]! >> 6) << 4);
    const byte = bytes[o + 16 + 32 * Math.floor(j / 2) + (e % 32)]!;
    return { q: j % 2 ? byte >> 4 : byte & 15, a: Math.fround(f16(u16(o)) * sc), b: Math.fround(f16(u16(o + 2)) * m), sub: blk * 8 + j };
  }
  const o = blk * 210;
  const h = Math.floor(e / 128);
  const quarter = Math.floor((e % 128) / 32);
  const l = e % 32;
  const is = 8 * h + Math.floor(l / 16) + 2 * quarter;
  const lowByte = bytes[o + 64 * h + l + (quarter % 2) * 32]!;
  const low = quarter >= 2 ? lowByte >> 4 : lowByte & 15;
  const high = (bytes[o + 128 + 32 * h + l]! >> (2 * quarter)) & 3;
  return { q: (low | (high << 4)) - 32, a: Math.fround(f16(u16(o + 208)) * i8(o + 192 + is)), b: 0, sub: blk * 16 + is };
}

/**
 * The level-0 cells of a code-statistics tensor by their definition (shared/map/pyramid-codes.ts,
 * "Code statistics"), value by value: each run (a heat pixel's span of one pixel row) cut into
 * pieces at sub-block ends, each piece's figures from its codes' integer sums, the pieces added
 * in order into the run, the runs in order into their tile and heat pixel.
 */
export function referenceCodeTiles(type: 'Q4_K' | 'Q6_K' | 'Q8_0', bytes: Uint8Array, pk: ElementPacking, grid: TileGrid, H: number): Array<{ stats: ValueStats; heat: Float32Array }> {
  const cap = tileCapacity(grid.tileWidth, grid.tileHeight);
  const tiles = Array.from({ length: grid.tileCount }, () => ({ stats: emptyStats(), sum: new Float64Array(H * H), cnt: new Float64Array(H * H) }));
  const n = (bytes.length / pk.bytesPerBlock) * pk.blockSize;
  let run = { key: '', tile: 0, heat: 0, sum: 0, sumSq: 0, n: 0, lo: Infinity, hi: -Infinity, bad: 0 };
  let piece = { key: '', a: 0, b: 0, n: 0, s1: 0, s2: 0, qlo: Infinity, qhi: -Infinity };
  const closePiece = () => {
    if (piece.n === 0) return;
    const { a, b } = piece;
    if (!Number.isFinite(a) || !Number.isFinite(b)) run.bad += piece.n;
    else {
      run.sum += a * piece.s1 - b * piece.n;
      run.sumSq += a * a * piece.s2 - 2 * a * b * piece.s1 + b * b * piece.n;
      run.n += piece.n;
      const x0 = Math.fround(a * piece.qlo - b);
      const x1 = Math.fround(a * piece.qhi - b);
      // Compared with < as the pyramid does (Math.min would order −0 before +0).
      const lo = x0 < x1 ? x0 : x1;
      const hi = x0 < x1 ? x1 : x0;
      if (lo < run.lo) run.lo = lo;
      if (hi > run.hi) run.hi = hi;
    }
    piece.n = 0;
  };
  const closeRun = () => {
    closePiece();
    if (run.key === '') return;
    const t = tiles[run.tile]!;
    t.stats.count += run.n;
    t.stats.sum += run.sum;
    t.stats.sumSq += run.sumSq;
    if (run.lo < t.stats.min) t.stats.min = run.lo;
    if (run.hi > t.stats.max) t.stats.max = run.hi;
    t.stats.nonFinite += run.bad;
    t.sum[run.heat] += run.sum;
    t.cnt[run.heat] += run.n;
  };
  for (let v = 0; v < n; v++) {
    const p = valueByte(v, pk);
    const t = Math.floor(p / cap);
    const pix = Math.floor((p % cap) / 4);
    const py = Math.floor(pix / grid.tileWidth);
    const hx = Math.floor(((pix % grid.tileWidth) * H) / grid.tileWidth);
    const hy = Math.floor((py * H) / grid.tileHeight);
    const runKey = `${t}/${py}/${hx}`;
    const c = codedValue(type, bytes, v);
    if (runKey !== run.key) {
      closeRun();
      run = { key: runKey, tile: t, heat: hy * H + hx, sum: 0, sumSq: 0, n: 0, lo: Infinity, hi: -Infinity, bad: 0 };
    }
    const pieceKey = `${runKey}/${c.sub}`;
    if (pieceKey !== piece.key) {
      closePiece();
      piece = { key: pieceKey, a: c.a, b: c.b, n: 0, s1: 0, s2: 0, qlo: Infinity, qhi: -Infinity };
    }
    piece.n++;
    piece.s1 += c.q;
    piece.s2 += c.q * c.q;
    piece.qlo = Math.min(piece.qlo, c.q);
    piece.qhi = Math.max(piece.qhi, c.q);
  }
  closeRun();
  return tiles.map((t) => ({ stats: t.stats, heat: Float32Array.from(t.sum, (s, i) => (t.cnt[i]! > 0 ? s / t.cnt[i]! : NaN)) }));
}
