import { describe, expect, it } from 'vitest';
import { MapError } from '../../shared/map/errors';
import { topLevel } from '../../shared/map/lod';
import { CODE_STATS_TYPES } from '../../shared/map/pyramid-codes';
import { TensorPyramid, type ElementPacking, type PyramidCell } from '../../shared/map/pyramid-core';
import { tileCapacity, type TileGrid } from '../../shared/map/regions';
import { getQuantFormat } from '../../shared/quant';
import { expectCellMatches, randInt, referenceCodeTiles, referencePyramid, rng } from './map-helpers';

const PACKINGS: ElementPacking[] = [
  { blockSize: 1, bytesPerBlock: 4 }, // F32
  { blockSize: 1, bytesPerBlock: 2 }, // F16
  { blockSize: 32, bytesPerBlock: 34 }, // Q8_0
  { blockSize: 32, bytesPerBlock: 18 }, // Q4_0
  { blockSize: 256, bytesPerBlock: 144 }, // Q4_K
  { blockSize: 256, bytesPerBlock: 210 }, // Q6_K
];

describe('TensorPyramid equals the pyramid computed from its definition', () => {
  it('on random packings, tile sizes, grids, heat sizes and push chunkings', () => {
    for (let seed = 1; seed <= 70; seed++) {
      const r = rng(seed);
      const pk = PACKINGS[seed % PACKINGS.length]!;
      const tw = randInt(r, 1, 12);
      const th = randInt(r, 1, 12);
      const H = 2 * randInt(r, 1, 4);
      const blocks = randInt(r, 1, Math.max(1, Math.floor(6000 / pk.blockSize)));
      const byteSize = blocks * pk.bytesPerBlock;
      const tileCount = Math.ceil(byteSize / tileCapacity(tw, th));
      const cols = randInt(r, 1, Math.min(tileCount, 9));
      const grid: TileGrid = { tileWidth: tw, tileHeight: th, cols, rows: Math.ceil(tileCount / cols), tileCount };
      const values = new Float32Array(blocks * pk.blockSize);
      for (let i = 0; i < values.length; i++) {
        const u = r();
        values[i] = u < 0.002 ? NaN : u < 0.003 ? -Infinity : (r() - 0.3) * 10 * (1 + (i % 7));
      }
      const cells: PyramidCell[] = [];
      const pyr = new TensorPyramid(grid, pk, byteSize, H, (c) => cells.push(c));
      for (let at = 0; at < values.length; ) {
        const n = Math.min(values.length - at, randInt(r, 1, 700));
        pyr.push(values.subarray(at, at + n));
        at += n;
      }
      const summary = pyr.finish();
      const ref = referencePyramid(values, pk, grid, H);
      const what = `seed ${seed} ${pk.blockSize}/${pk.bytesPerBlock} tile ${tw}x${th} grid ${cols}x${grid.rows}/${tileCount} H ${H}`;
      expect(cells.length, what).toBe(ref.size);
      expect(new Set(cells.map((c) => `${c.level}/${c.col}/${c.row}`)).size, what).toBe(ref.size);
      for (const c of cells) expectCellMatches(c, ref.get(`${c.level}/${c.col}/${c.row}`)!, `${what} cell ${c.level}/${c.col}/${c.row}`);
      // The top cell holds the whole tensor.
      const topRef = ref.get(`${topLevel(grid)}/0/0`)!;
      expect(summary.stats.count).toBe(topRef.stats.count);
      expect(summary.stats.nonFinite).toBe(topRef.stats.nonFinite);
      expect(summary.levels).toBe(topLevel(grid) + 1);
    }
  });

  it('gives bit-identical cells however the values are split into pushes', () => {
    // Long runs (a heat pixel spans 32 pixels of a 64-wide tile) of values over many binades, so
    // that summing in another order would change the last bits of sums and sums of squares.
    const grid: TileGrid = { tileWidth: 64, tileHeight: 8, cols: 3, rows: 2, tileCount: 5 };
    const pk = { blockSize: 1, bytesPerBlock: 4 };
    const byteSize = 5 * tileCapacity(64, 8) - 4 * 37;
    const r = rng(7);
    const values = new Float32Array(byteSize / 4);
    for (let i = 0; i < values.length; i++) values[i] = (r() - 0.4) * 10 ** randInt(r, -6, 6) + (r() < 0.001 ? NaN : 0);
    const run = (maxPush: number): PyramidCell[] => {
      const cells: PyramidCell[] = [];
      const pyr = new TensorPyramid(grid, pk, byteSize, 2, (c) => cells.push(c));
      for (let at = 0; at < values.length; ) {
        const n = Math.min(values.length - at, randInt(r, 1, maxPush));
        pyr.push(values.subarray(at, at + n));
        at += n;
      }
      pyr.finish();
      return cells;
    };
    const whole: PyramidCell[] = [];
    const one = new TensorPyramid(grid, pk, byteSize, 2, (c) => whole.push(c));
    one.push(values);
    one.finish();
    for (const maxPush of [1, 3, 31, 500]) expect(run(maxPush)).toEqual(whole);
  });

  it('emits each cell right after its last child, holding few cells open', () => {
    const grid: TileGrid = { tileWidth: 4, tileHeight: 4, cols: 8, rows: 50, tileCount: 397 };
    const pk = { blockSize: 1, bytesPerBlock: 4 };
    const cells: PyramidCell[] = [];
    const pyr = new TensorPyramid(grid, pk, 397 * 64 - 8, 4, (c) => cells.push(c));
    pyr.push(new Float32Array(pyr.elementCount).fill(1));
    const s = pyr.finish();
    expect(s.cells).toBe(cells.length);
    expect(cells.length).toBeGreaterThan(500);
    expect(s.peakOpenCells).toBeLessThanOrEqual(12);
    const last = cells[cells.length - 1]!;
    expect([last.level, last.col, last.row]).toEqual([topLevel(grid), 0, 0]);
    expect(last.stats.count).toBe(pyr.elementCount);
  });

  it('refuses inconsistent sizes and pushes', () => {
    const grid: TileGrid = { tileWidth: 2, tileHeight: 2, cols: 1, rows: 1, tileCount: 1 };
    const pk = { blockSize: 1, bytesPerBlock: 4 };
    expect(() => new TensorPyramid(grid, pk, 17, 2, () => {})).toThrow(MapError); // 2 tiles of 16 bytes
    expect(() => new TensorPyramid(grid, { blockSize: 32, bytesPerBlock: 34 }, 16, 2, () => {})).toThrow(MapError);
    expect(() => new TensorPyramid(grid, pk, 16, 3, () => {})).toThrow(MapError);
    const p = new TensorPyramid(grid, pk, 16, 2, () => {});
    expect(() => p.push(new Float32Array(5))).toThrow(MapError);
    p.push(new Float32Array(3));
    expect(() => p.finish()).toThrow(MapError);
  });
});

const CODE_TYPES = ['Q4_K', 'Q6_K', 'Q8_0'] as const;

/**
 * Blocks of random codes and scales: f16 scales of either sign, most with exponents near 1,
 * a third anywhere in f16's range; a few are −0, infinite or NaN.
 */
function randomBlocks(r: () => number, type: (typeof CODE_TYPES)[number], blocks: number): Uint8Array {
  const fmt = getQuantFormat(type);
  const bytes = new Uint8Array(blocks * fmt.bytesPerBlock);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  const scale = (): number => {
    const u = r();
    if (u < 0.01) return 0x7c00; // +Infinity
    if (u < 0.02) return 0x7e00; // NaN
    if (u < 0.04) return 0x8000; // −0
    // Exponents far apart in a third of the scales: products that need rounding when combined.
    const e = u < 0.35 ? randInt(r, 1, 30) : randInt(r, 12, 18);
    return (r() < 0.5 ? 0x8000 : 0) | (e << 10) | randInt(r, 0, 1023);
  };
  const at = type === 'Q6_K' ? [208] : type === 'Q4_K' ? [0, 2] : [0];
  for (let b = 0; b < blocks; b++) {
    for (const a of at) {
      const h = scale();
      bytes[b * fmt.bytesPerBlock + a] = h & 0xff;
      bytes[b * fmt.bytesPerBlock + a + 1] = h >> 8;
    }
  }
  return bytes;
}

function codePyramid(type: string, bytes: Uint8Array, grid: TileGrid, H: number, chunk: () => number): { cells: PyramidCell[]; summary: ReturnType<TensorPyramid['finish']> } {
  const fmt = getQuantFormat(type);
  const cells: PyramidCell[] = [];
  const pyr = new TensorPyramid(grid, fmt, bytes.length, H, (c) => cells.push(c));
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, chunk() * fmt.bytesPerBlock);
    // An odd byte offset: the Q4_K loop reads 32-bit words and must realign such chunks.
    const copy = new Uint8Array(n + 1).subarray(1);
    copy.set(bytes.subarray(at, at + n));
    pyr.pushBlocks(type, r01(at) ? copy : bytes.subarray(at, at + n));
    at += n;
  }
  return { cells, summary: pyr.finish() };
}
const r01 = (at: number): boolean => at % 3 === 1;

describe('TensorPyramid code statistics (Q4_K, Q6_K, Q8_0 fed as blocks)', () => {
  it('level-0 cells equal their definition bit for bit, every cell the decoded values within the stated rounding', () => {
    for (let seed = 1; seed <= 45; seed++) {
      const r = rng(1000 + seed);
      const type = CODE_TYPES[seed % 3]!;
      const fmt = getQuantFormat(type);
      expect(CODE_STATS_TYPES.has(type)).toBe(true);
      const tw = randInt(r, 1, 24);
      const th = randInt(r, 1, 12);
      const H = 2 * randInt(r, 1, 4);
      const blocks = randInt(r, 1, type === 'Q8_0' ? 120 : 16);
      const bytes = randomBlocks(r, type, blocks);
      const tileCount = Math.ceil(bytes.length / tileCapacity(tw, th));
      const cols = randInt(r, 1, Math.min(tileCount, 9));
      const grid: TileGrid = { tileWidth: tw, tileHeight: th, cols, rows: Math.ceil(tileCount / cols), tileCount };
      const what = `seed ${seed} ${type} tile ${tw}x${th} grid ${cols}x${grid.rows}/${tileCount} H ${H}`;
      const { cells, summary } = codePyramid(type, bytes, grid, H, () => randInt(r, 1, 5));

      const level0 = referenceCodeTiles(type, bytes, fmt, grid, H);
      for (const c of cells.filter((x) => x.level === 0)) {
        const ref = level0[c.row * grid.cols + c.col]!;
        expect({ stats: c.stats, heat: c.heat }, `${what} tile ${c.col},${c.row}`).toEqual(ref);
      }
      // Against the f32-decoded values: counts, non-finite counts, extrema exact; sums within
      // 2^-24 per value for Q4_K (a·q − b is rounded to f32 when decoded), exact for the others
      // (their a·q is an f32 value).
      const values = fmt.dequantize(bytes, summary.stats.count + summary.stats.nonFinite);
      const ref = referencePyramid(values, fmt, grid, H);
      expect(cells.length, what).toBe(ref.size);
      for (const c of cells) expectCellMatches(c, ref.get(`${c.level}/${c.col}/${c.row}`)!, `${what} cell ${c.level}/${c.col}/${c.row}`, type === 'Q4_K' ? 2 ** -23 : 0);
    }
  });

  it('gives bit-identical cells however the blocks are split into calls', () => {
    for (const type of CODE_TYPES) {
      const r = rng(99);
      const bytes = randomBlocks(r, type, type === 'Q8_0' ? 400 : 60);
      const grid: TileGrid = { tileWidth: 16, tileHeight: 8, cols: 3, rows: 4, tileCount: Math.ceil(bytes.length / tileCapacity(16, 8)) };
      const whole = codePyramid(type, bytes, grid, 8, () => 10_000).cells;
      for (const max of [1, 2, 7, 33]) expect(codePyramid(type, bytes, grid, 8, () => randInt(r, 1, max)).cells, `${type} chunks of up to ${max}`).toEqual(whole);
    }
  });

  it('refuses other types, partial blocks, and a tensor fed both ways', () => {
    const grid: TileGrid = { tileWidth: 4, tileHeight: 4, cols: 1, rows: 1, tileCount: 1 };
    const q80 = getQuantFormat('Q8_0');
    const p = new TensorPyramid(grid, q80, 34, 2, () => {});
    expect(() => p.pushBlocks('Q4_0', new Uint8Array(34))).toThrow(MapError);
    expect(() => p.pushBlocks('Q4_K', new Uint8Array(144))).toThrow(MapError); // packing differs
    expect(() => p.pushBlocks('Q8_0', new Uint8Array(33))).toThrow(MapError);
    expect(() => p.pushBlocks('Q8_0', new Uint8Array(68))).toThrow(MapError); // past the tensor's end
    const v = new TensorPyramid(grid, q80, 34, 2, () => {});
    v.push(new Float32Array(1));
    expect(() => v.pushBlocks('Q8_0', new Uint8Array(34))).toThrow(MapError);
    const c = new TensorPyramid(grid, q80, 68 / 2, 2, () => {});
    c.pushBlocks('Q8_0', new Uint8Array(34));
    expect(() => c.push(new Float32Array(0))).toThrow(MapError);
    expect(c.finish().stats.count).toBe(32);
  });
});
