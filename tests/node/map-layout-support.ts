/**
 * What the Infinite Map says about a stored model's bytes, checked against the model's layout
 * journal and the source GGUF (specs/map.md §2, specs/pixelfs.md "Layout reorganisation"): every
 * weights region's place (map:region, validated by the contract) is where the active layout
 * keeps the tensor, and every stored tile's bytes, read from the PixelFS tiles the map names,
 * are the source's. Used by the map-layout test and by the crash-at-every-call test after each
 * recovered crash.
 */
import { expect } from 'vitest';
import type { ModelStore } from '../../electron/models/store';
import { mapHandlers, tensorValues } from '../../electron/services/map-handlers';
import { mapChannels } from '../../shared/ipc/channels/map';
import type { CallContext } from '../../shared/ipc/dispatch';
import { storedTileSource } from '../../shared/map/regions';

const CTX = { transport: 'direct', origin: 'process' } as CallContext;

export interface MapSide {
  /** The layout every region's place names (the check fails when regions disagree). */
  layout: 'import' | 'packed';
  /** Level-0 cells whose bytes span two PixelFS tiles of their file (a pack's unaligned tensors). */
  splitTiles: number;
  /** The files the places name. */
  files: Set<string>;
}

/** The map's answers for model `ref` (what the explorer reads), checked; fails with `what` in the message. */
export async function checkMapSide(s: ModelStore, ref: string, gguf: Uint8Array, what: string): Promise<MapSide> {
  const handlers = mapHandlers(() => Promise.resolve(s));
  const m = s.manifest(ref);
  const j = await s.layoutJournal(ref);
  const want = new Map<string, { file: string; offset: number; tensorsInFile: number }>();
  for (const p of j.active?.packs ?? []) for (const t of p.tensors) want.set(t.name, { file: p.file, offset: t.offset, tensorsInFile: p.tensors.length });
  for (const t of m.tensors) if (!j.active) want.set(t.name, { file: t.file, offset: 0, tensorsInFile: 1 });
  const tileBytes = s.volume.tileBytes;
  const regions = s.map.listRegions(m.id).filter((r) => r.kind === 'weights');
  expect(regions.map((r) => r.name).sort(), what).toEqual(m.tensors.map((t) => t.name).sort());
  const out: MapSide = { layout: j.active ? 'packed' : 'import', splitTiles: 0, files: new Set() };
  for (const r of regions) {
    const t = m.tensors.find((x) => x.name === r.name)!;
    const d = mapChannels['map:region'].response.parse(await handlers['map:region']({ id: r.id }, CTX));
    const w = want.get(t.name)!;
    expect(d.place, `${what}: ${r.name}`).toEqual({
      layout: out.layout,
      generation: j.active?.generation ?? null,
      file: w.file,
      offset: w.offset,
      tiles: { first: Math.floor(w.offset / tileBytes), last: Math.floor((w.offset + t.bytes - 1) / tileBytes) },
      tensorsInFile: w.tensorsInFile,
    });
    expect(d.file, `${what}: ${r.name}`).toBe(w.file);
    // The values the explorer reads out are the source's.
    const win = { row: 0, col: 0, rows: 2, cols: 8 };
    const expected = await tensorValues(async (o, n) => gguf.subarray(t.offset + o, t.offset + o + n), { type: t.type, dims: t.dims, bytes: t.bytes }, win);
    expect(await handlers['map:values']({ id: r.id, ...win }, CTX), `${what}: ${r.name} values`).toEqual({ regionId: r.id, type: t.type, ...expected });
    out.files.add(w.file);
    // Every stored tile of the region, read where the map says it is, is the source's bytes.
    expect(r.grid.tileCount, `${what}: ${r.name}`).toBe(Math.ceil(t.bytes / tileBytes));
    for (let i = 0; i < r.grid.tileCount; i++) {
      const src = storedTileSource(d.place!, t.bytes, d.tileBytes, i);
      if (src.lastTile > src.firstTile) out.splitTiles++;
      const got = await s.volume.read(src.file, src.offset, src.length);
      const start = t.offset + i * tileBytes;
      expect(Buffer.compare(got, gguf.subarray(start, start + src.length)), `${what}: ${r.name} tile ${i}`).toBe(0);
      // The tiles it names hold those bytes: the span read tile-aligned contains them at the right place.
      const whole = await s.volume.read(src.file, src.firstTile * tileBytes, (src.lastTile - src.firstTile + 1) * tileBytes);
      expect(Buffer.compare(whole.subarray(src.offset - src.firstTile * tileBytes, src.offset - src.firstTile * tileBytes + src.length), got), `${what}: ${r.name} tile ${i}`).toBe(0);
    }
  }
  return out;
}
