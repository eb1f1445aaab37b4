import { describe, expect, it } from 'vitest';
import { TensorPyramid, type PyramidCell } from '../../shared/map/pyramid-core';
import { Q4K_SLICE_BLOCKS, q4kRunKernel } from '../../shared/map/q4k-runs';
import { Q4K_RUNS_WASM } from '../../shared/map/q4k-runs-wasm';
import { tileCapacity, type TileGrid } from '../../shared/map/regions';
import { generatedModule, WASM_SOURCES } from '../../scripts/wasm/build-wasm';
import { randInt, rng } from './map-helpers';

const Q4K = { blockSize: 256, bytesPerBlock: 144 };

/** Random Q4_K blocks: scales of either sign over f16's range, some −0, infinite or NaN. */
function q4kBlocks(r: () => number, blocks: number): Uint8Array {
  const bytes = new Uint8Array(blocks * 144);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
  for (let b = 0; b < blocks; b++) {
    for (const at of [0, 2]) {
      const u = r();
      const h = u < 0.01 ? 0x7c00 : u < 0.02 ? 0xfe00 : u < 0.03 ? 0x8000 : u < 0.04 ? randInt(r, 1, 1023) : (r() < 0.5 ? 0x8000 : 0) | (randInt(r, 1, 30) << 10) | randInt(r, 0, 1023);
      bytes[b * 144 + at] = h & 0xff;
      bytes[b * 144 + at + 1] = h >> 8;
    }
  }
  return bytes;
}

function cellsOf(bytes: Uint8Array, grid: TileGrid, H: number, q4kWasm: boolean, chunk: () => number): PyramidCell[] {
  const cells: PyramidCell[] = [];
  const pyr = new TensorPyramid(grid, Q4K, bytes.length, H, (c) => cells.push(c), { q4kWasm });
  for (let at = 0; at < bytes.length; ) {
    const n = Math.min(bytes.length - at, chunk() * 144);
    pyr.pushBlocks('Q4_K', bytes.subarray(at, at + n));
    at += n;
  }
  pyr.finish();
  return cells;
}

describe('Q4_K code statistics through WebAssembly (shared/map/q4k-runs.wat)', () => {
  it('loads in Node (so the tests below compare two routes, not one with itself)', () => {
    expect(q4kRunKernel()).not.toBeNull();
  });

  it('gives cells bit-identical to the JavaScript route on random tiles, heat sizes, scales and chunkings', () => {
    for (let seed = 1; seed <= 24; seed++) {
      const r = rng(5000 + seed);
      // Small tiles: runs shorter than a sub-block, pieces starting and ending anywhere; large
      // ones: the import's shape; block counts past one slice of the kernel.
      const small = seed % 3 !== 0;
      const tw = small ? randInt(r, 1, 40) : 2 ** randInt(r, 6, 9);
      const th = small ? randInt(r, 1, 12) : 2 ** randInt(r, 3, 6);
      const H = small ? 2 * randInt(r, 1, 6) : 2 ** randInt(r, 1, 6);
      const blocks = randInt(r, 1, seed % 4 === 0 ? 3 * Q4K_SLICE_BLOCKS : 300);
      const bytes = q4kBlocks(r, blocks);
      const tileCount = Math.ceil(bytes.length / tileCapacity(tw, th));
      const cols = randInt(r, 1, Math.min(tileCount, 9));
      const grid: TileGrid = { tileWidth: tw, tileHeight: th, cols, rows: Math.ceil(tileCount / cols), tileCount };
      const what = `seed ${seed}: ${blocks} blocks, tile ${tw}x${th}, H ${H}`;
      const js = cellsOf(bytes, grid, H, false, () => 1 << 30);
      const wasm = cellsOf(bytes, grid, H, true, () => randInt(r, 1, 2 * Q4K_SLICE_BLOCKS + 7));
      expect(wasm.length, what).toBe(js.length);
      expect(wasm, what).toEqual(js);
      // Object.is, so that −0 and 0 are told apart too.
      for (let i = 0; i < js.length; i++) {
        for (const k of ['sum', 'sumSq', 'min', 'max'] as const) expect(Object.is(wasm[i]!.stats[k], js[i]!.stats[k]), `${what} cell ${i} ${k}`).toBe(true);
      }
    }
  });

  it('is the module its .wat source compiles to (scripts/wasm/build-wasm.ts)', async () => {
    const src = WASM_SOURCES.find((s) => s.name === 'Q4K_RUNS_WASM')!;
    const text = await generatedModule(src);
    expect(text).toContain(`'${Q4K_RUNS_WASM.slice(0, 64)}`);
    const b64 = [...text.matchAll(/'([A-Za-z0-9+/=]+)'/g)].map((m) => m[1]).join('');
    expect(b64).toBe(Q4K_RUNS_WASM);
  });

  it('refuses a slice that is not whole blocks or too long', () => {
    const k = q4kRunKernel()!;
    const st = { segEnd: -1, sum: 0, sumSq: 0, count: 0, min: Infinity, max: -Infinity, nonFinite: 0 };
    const g = { tileWidth: 4, tileHeight: 4, heatSize: 2, tileBytes: 64 };
    expect(() => k.run(new Uint8Array(143), 0, st, g)).toThrow(RangeError);
    expect(() => k.run(new Uint8Array(144 * (Q4K_SLICE_BLOCKS + 1)), 0, st, g)).toThrow(RangeError);
  });
});
