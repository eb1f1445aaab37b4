/**
 * Where a region's stored tile reads its bytes from (shared/map/regions.ts, specs/map.md §2):
 * tile i of a tensor in its own import file is PixelFS tile i; in a pack at an offset it is the
 * pack's bytes from offset + i · capacity, in one or two of the pack's tiles. Checked against a
 * brute-force byte walk over many sizes and offsets, and hostile numbers refused.
 */
import { describe, expect, it } from 'vitest';
import { MapError } from '../../shared/map/errors';
import { fileTileSpan, storedTileSource } from '../../shared/map/regions';

describe('storedTileSource', () => {
  it('in the import layout tile i is PixelFS tile i of the tensor file, the last one short', () => {
    const place = { file: 'models/a/tensors/3', offset: 0 };
    expect(storedTileSource(place, 10_000, 4096, 0)).toEqual({ file: place.file, offset: 0, length: 4096, firstTile: 0, lastTile: 0 });
    expect(storedTileSource(place, 10_000, 4096, 2)).toEqual({ file: place.file, offset: 8192, length: 10_000 - 8192, firstTile: 2, lastTile: 2 });
  });

  it('in a pack an unaligned tensor\'s tile straddles two pack tiles', () => {
    const place = { file: 'models/a/layout-00ff00ff/1', offset: 128 };
    expect(storedTileSource(place, 4096, 4096, 0)).toEqual({ file: place.file, offset: 128, length: 4096, firstTile: 0, lastTile: 1 });
    expect(storedTileSource({ ...place, offset: 4096 }, 4096, 4096, 0)).toMatchObject({ firstTile: 1, lastTile: 1 });
  });

  it('agrees with walking the bytes one by one over many sizes, offsets and tiles', () => {
    for (const cap of [1, 3, 16, 64]) {
      for (let bytes = 1; bytes <= 5 * cap + 1; bytes += Math.max(1, Math.floor(cap / 3))) {
        for (let offset = 0; offset <= 3 * cap; offset += Math.max(1, Math.floor(cap / 4))) {
          const tiles = Math.ceil(bytes / cap);
          let covered = 0;
          for (let i = 0; i < tiles; i++) {
            const s = storedTileSource({ file: 'f', offset }, bytes, cap, i);
            const fileTiles = new Set<number>();
            for (let b = i * cap; b < Math.min(bytes, (i + 1) * cap); b++) fileTiles.add(Math.floor((offset + b) / cap));
            expect(s.offset).toBe(offset + i * cap);
            expect(s.length).toBe(Math.min(bytes, (i + 1) * cap) - i * cap);
            expect([s.firstTile, s.lastTile]).toEqual([Math.min(...fileTiles), Math.max(...fileTiles)]);
            expect(s.lastTile - s.firstTile).toBeLessThanOrEqual(1);
            covered += s.length;
          }
          expect(covered).toBe(bytes);
        }
      }
    }
  });

  it('refuses a tile outside the tensor and numbers that are not counts', () => {
    const place = { file: 'f', offset: 0 };
    for (const i of [-1, 3, 0.5, Number.NaN]) expect(() => storedTileSource(place, 3 * 16, 16, i)).toThrow(MapError);
    expect(() => storedTileSource(place, 0, 16, 0)).toThrow(/outside the tensor's 0 stored tiles/);
    expect(() => storedTileSource({ file: 'f', offset: -1 }, 16, 16, 0)).toThrow(MapError);
    expect(() => storedTileSource(place, 16, 0, 0)).toThrow(MapError);
    expect(() => storedTileSource(place, 2 ** 60, 16, 0)).toThrow(MapError);
  });
});

describe('fileTileSpan', () => {
  it('gives the first and last tile a span touches, null for an empty one', () => {
    expect(fileTileSpan(0, 4096, 4096)).toEqual({ first: 0, last: 0 });
    expect(fileTileSpan(4095, 2, 4096)).toEqual({ first: 0, last: 1 });
    expect(fileTileSpan(10, 0, 4096)).toBeNull();
    expect(() => fileTileSpan(0, 1, 0)).toThrow(MapError);
    expect(() => fileTileSpan(Number.MAX_SAFE_INTEGER + 1, 1, 1)).toThrow(MapError);
  });
});
