/** Seeded generators for the map tests. */
import { expect } from 'vitest';
import { cellsAt, topLevel } from '../../shared/map/lod';
import type { ModelSpec, TensorSpec } from '../../shared/map/placement';
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
}

/**
 * The pyramid by definition, straight from the values: each value's byte, tile and pixel, its
 * position in the grid, and for every level the cell and heat pixel it falls in.
 */
export function referencePyramid(values: Float32Array, pk: ElementPacking, grid: TileGrid, H: number): Map<string, Ref> {
  const cap = tileCapacity(grid.tileWidth, grid.tileHeight);
  const top = topLevel(grid);
  const out = new Map<string, Ref>();
  for (let k = 0; k <= top; k++) for (const { col, row } of cellsAt(grid, k)) out.set(`${k}/${col}/${row}`, { stats: emptyStats(), sum: new Float64Array(H * H), cnt: new Float64Array(H * H) });
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
      const h = Math.floor(((gy - r * sh) * H) / sh) * H + Math.floor(((gx - c * sw) * H) / sw);
      e.sum[h] += x;
      e.cnt[h]++;
    }
  }
  return out;
}

export function expectCellMatches(cell: { stats: ValueStats | null; heat?: Float32Array | null }, ref: Ref, what: string): void {
  const s = cell.stats!;
  const r = ref.stats;
  const close = (a: number, b: number, scale: number) => Math.abs(a - b) <= 1e-9 * (1 + Math.abs(scale));
  const statsOk =
    s.count === r.count &&
    s.nonFinite === r.nonFinite &&
    (r.count === 0 || (s.min === r.min && s.max === r.max)) &&
    close(s.sum, r.sum, r.sumSq) &&
    close(s.sumSq, r.sumSq, r.sumSq);
  if (!statsOk) expect(s, what).toEqual(r);
  // One expect for the whole image: vitest's expect is too slow per pixel.
  const heat = cell.heat!;
  let bad = '';
  for (let i = 0; i < heat.length && !bad; i++) {
    if (ref.cnt[i] === 0) {
      if (!Number.isNaN(heat[i])) bad = `heat ${i}: ${heat[i]} where no value falls`;
    } else {
      const m = ref.sum[i]! / ref.cnt[i]!;
      if (!(Math.abs(heat[i]! - m) <= 1e-6 * Math.abs(m) + 1e-12)) bad = `heat ${i}: ${heat[i]}, expected ${m}`;
    }
  }
  expect(bad, what).toBe('');
}
