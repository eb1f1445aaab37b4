import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgufError } from '../../shared/gguf/errors';
import { modelPaths } from '../../shared/model/manifest';
import { ModelStore } from '../../electron/models/store';
import { exportModel } from '../../electron/ops/export';
import { verifyModel } from '../../electron/ops/verify';
import { PixelFsCodes, TilePool } from '../../electron/pixelfs/index';
import { filesUnder, sha256File, tinyModel, writeTinyModel } from './models-support';

let tmp: string;
let pool: TilePool;
const TILE = { tileWidth: 64, tileHeight: 64, level: 0 };
const CAP = 64 * 64 * 4;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'models-integrity-'));
  pool = new TilePool({ size: 1 });
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const open = (name: string): Promise<ModelStore> => ModelStore.open(path.join(tmp, name), { create: TILE, pool });

/** Nothing of a model anywhere: no files, no pending puts, no tiles, no import records. */
function expectEmpty(store: ModelStore): void {
  expect(store.list()).toEqual([]);
  expect(store.pendingImports()).toEqual([]);
  expect(store.volume.ls()).toEqual([]);
  expect(store.volume.pending()).toEqual([]);
  expect(store.stats().tiles).toBe(0);
  expect(filesUnder(path.join(store.root, 'tiles')).filter((f) => f.endsWith('.png'))).toEqual([]);
}

describe('refusing bad GGUF files before writing anything', () => {
  it.each([
    ['truncated in the tensor data', (b: Uint8Array) => b.subarray(0, Math.floor(b.length * 0.6)), 'GGUF_DATA_PAST_END'],
    ['truncated in the header', (b: Uint8Array) => b.subarray(0, 200), 'GGUF_TRUNCATED'],
    ['with a bad magic', (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === 0 ? 0x58 : x)), 'GGUF_BAD_MAGIC'],
  ] as const)('refuses a file %s, leaving the volume as it was', async (label, mutate, code) => {
    const store = await open(`refuse-${code}`);
    const file = path.join(tmp, `refuse-${code}.gguf`);
    fs.writeFileSync(file, mutate(tinyModel({ embd: 64, ff: 64 }).bytes));
    const err = await store.import(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err, label).toBeInstanceOf(GgufError);
    expect((err as GgufError).code).toBe(code);
    expect((err as Error).message).toContain(`refuse-${code}.gguf`);
    expectEmpty(store);
    await store.close();
  });
});

describe('storing a GGUF the engine does not run', () => {
  it.each([
    ['of an architecture we do not run', 'mamba'],
    ['whose shapes disagree with its hyperparameters', 'shapes'],
  ] as const)('stores a file %s with no configuration, byte for byte, under the architecture it declares', async (_label, kind) => {
    const store = await open(`foreign-${kind}`);
    const file = path.join(tmp, `foreign-${kind}.gguf`);
    let bytes: Uint8Array;
    if (kind === 'mamba') {
      // Same length as "llama", so the header layout stays valid.
      const b = tinyModel({ embd: 64, ff: 64 }).bytes;
      const at = Buffer.from(b).indexOf('general.architecture') + 'general.architecture'.length + 4 + 8;
      bytes = Uint8Array.from(b, (x, i) => (i >= at && i < at + 5 ? 'mamba'.charCodeAt(i - at) : x));
    } else {
      const m = tinyModel({ embd: 64, ff: 64, heads: 4, kvHeads: 2 });
      m.metadata.set('llama.attention.head_count_kv', { type: 'uint32', value: 1 });
      const { writeGgufBytes } = await import('../../shared/gguf/writer');
      bytes = writeGgufBytes(m.metadata, m.tensors);
    }
    fs.writeFileSync(file, bytes);
    const { model, manifest } = await store.import(file);
    expect(manifest.config).toBeNull();
    expect(model.architecture).toBe(kind === 'mamba' ? 'mamba' : 'llama');
    expect(model.parameterCount).toBe(manifest.tensors.reduce((n, t) => n + t.elements, 0));
    const out = path.join(tmp, `foreign-${kind}-export.gguf`);
    await exportModel(store, model.id, out);
    expect(sha256File(out)).toBe(sha256File(file));
    // Reopened: the manifest with its null configuration validates.
    await store.close();
    const again = await open(`foreign-${kind}`);
    expect(again.manifest(model.id).config).toBeNull();
    await again.close();
  });
});

describe('verify and export find damaged tiles', () => {
  it('names the tensor, tile and GGUF offset of a flipped byte; export refuses and writes nothing', async () => {
    const store = await open('corrupt');
    const file = path.join(tmp, 'corrupt.gguf');
    const want = writeTinyModel(file, { seed: 77 });
    const { model, manifest } = await store.import(file);
    const t = manifest.tensors.find((x) => x.name === 'blk.0.ffn_up.weight')!;
    expect(t.bytes).toBeGreaterThan(8 * CAP);
    // Tile 5 of the tensor: its address is the sha256 of its payload.
    const src = fs.readFileSync(file);
    const payload = src.subarray(t.offset + 5 * CAP, t.offset + 6 * CAP);
    const tilePath = store.volume.tilePath(createHash('sha256').update(payload).digest('hex'));
    const png = fs.readFileSync(tilePath);
    png[Math.floor(png.length / 2)] ^= 0x10;
    fs.writeFileSync(tilePath, png);

    const rep = await verifyModel(store, model.id);
    expect(rep.ok).toBe(false);
    expect(rep.problems).toHaveLength(1);
    const p = rep.problems[0]!;
    expect(p).toMatchObject({
      part: 'tensor',
      file: modelPaths.tensor(model.id, t.index),
      tensor: 'blk.0.ffn_up.weight',
      tensorIndex: t.index,
      tileIndex: 5,
      fileOffset: 5 * CAP,
      length: CAP,
      ggufOffset: t.offset + 5 * CAP,
      code: PixelFsCodes.TILE_CORRUPT,
    });
    expect(p.message).toContain(`tensor blk.0.ffn_up.weight (#${t.index}): tile 5 = tensor bytes ${5 * CAP}..${6 * CAP - 1}, GGUF bytes ${t.offset + 5 * CAP}..`);
    expect(store.get(model.id).verified).toBe('corrupt');
    expect(store.lastVerify(model.id)?.problems[0]?.tileIndex).toBe(5);

    const out = path.join(tmp, 'corrupt-out.gguf');
    await expect(exportModel(store, model.id, out)).rejects.toMatchObject({ code: PixelFsCodes.TILE_CORRUPT });
    expect(fs.readdirSync(tmp).filter((f) => f.includes('corrupt-out'))).toEqual([]);

    // A missing tile file is named the same way.
    png[Math.floor(png.length / 2)] ^= 0x10;
    fs.writeFileSync(tilePath, png);
    const hdr = store.volume.tilePath(createHash('sha256').update(src.subarray(0, Math.min(CAP, manifest.header.size))).digest('hex'));
    fs.rmSync(hdr);
    const rep2 = await verifyModel(store, model.id);
    expect(rep2.problems.map((x) => [x.part, x.tileIndex, x.ggufOffset, x.code])).toEqual([['header', 0, 0, PixelFsCodes.TILE_MISSING]]);
    await store.close();
    expect(want).toBe(sha256File(file));
  });
});

describe('cancel and resume', () => {
  it('an import cancelled half-way leaves nothing visible and resumes to an identical model', async () => {
    const store = await open('resume');
    const file = path.join(tmp, 'resume.gguf');
    const want = writeTinyModel(file, { blocks: 2, seed: 5 });
    const size = fs.statSync(file).size;
    const ac = new AbortController();
    const err = await store
      .import(file, {
        signal: ac.signal,
        progressIntervalMs: 0,
        onProgress: (p) => {
          if (p.bytesDone > size * 0.6) ac.abort(new Error('enough'));
        },
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((err as { code?: string }).code).toBe('MODEL_CANCELLED');
    expect(store.list()).toEqual([]);
    expect(store.pendingImports()).toHaveLength(1);
    const stored = store.volume.ls().filter((f) => f.name.includes('/tensors/')).length;
    expect(stored).toBeGreaterThan(2);

    const r = await store.import(file);
    expect(r.resumed).toBe(true);
    expect(r.bytesReused).toBeGreaterThan(size * 0.4);
    expect(r.tilesWritten).toBeLessThan(Math.ceil((size * 0.6) / CAP));
    expect(store.pendingImports()).toEqual([]);
    const out = path.join(tmp, 'resume-out.gguf');
    await exportModel(store, r.model.id, out);
    expect(sha256File(out)).toBe(want);
    expect((await verifyModel(store, r.model.id)).ok).toBe(true);
    await store.close();
  });

  it('a source that changed since the interrupted import is imported afresh', async () => {
    const store = await open('stale');
    const file = path.join(tmp, 'stale.gguf');
    writeTinyModel(file, { seed: 1 });
    const ac = new AbortController();
    await store.import(file, { signal: ac.signal, progressIntervalMs: 0, onProgress: (p) => p.tensorsDone > 3 && ac.abort() }).catch(() => undefined);
    expect(store.pendingImports()).toHaveLength(1);
    const want = writeTinyModel(file, { seed: 2 }); // same size and header, other weights
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
    const r = await store.import(file);
    expect(r.discardedStale).toBe(true);
    expect(r.resumed).toBe(false);
    await exportModel(store, r.model.id, path.join(tmp, 'stale-out.gguf'));
    expect(sha256File(path.join(tmp, 'stale-out.gguf'))).toBe(want);
    await store.close();
  });
});

describe('the model on the map, removal and gc', () => {
  it('places tensors as regions, builds the pyramid, renders, and removes everything', async () => {
    const store = await open('map');
    const a = path.join(tmp, 'map-a.gguf');
    const b = path.join(tmp, 'map-b.gguf');
    writeTinyModel(a, { seed: 11 });
    writeTinyModel(b, { seed: 12, type: 'Q8_0' });
    const ra = await store.import(a);
    // b without its pyramid, so the read-back build below has work to do.
    const rb = await store.import(b, { pyramid: false });
    expect(ra.pyramid?.built).toBe(ra.manifest.tensors.length);
    expect(store.pyramidReady(ra.model.id)).toBe(true);
    for (const r of [ra, rb]) {
      const regions = store.map.listRegions(r.model.id);
      const weights = regions.filter((x) => x.kind === 'weights');
      expect(weights.map((x) => x.name).sort()).toEqual(r.manifest.tensors.map((t) => t.name).sort());
      for (const t of r.manifest.tensors) {
        const reg = weights.find((x) => x.name === t.name)!;
        expect(reg.grid.tileCount).toBe(Math.ceil(t.bytes / CAP));
        const m = r.manifest.map!.regions.find((x) => x.name === t.name)!;
        expect([m.x, m.y, m.width, m.height, m.tiles]).toEqual([reg.x, reg.y, reg.width, reg.height, reg.grid.tileCount]);
      }
      expect(regions.map((x) => x.kind)).toEqual(expect.arrayContaining(['activations', 'kv-cache']));
    }
    // Side by side, not overlapping.
    const boxA = store.map.modelBox(ra.model.id)!;
    const boxB = store.map.modelBox(rb.model.id)!;
    expect(boxB.x).toBeGreaterThanOrEqual(boxA.x + boxA.width);
    const q = store.map.queryRegions({ x0: boxA.x, y0: boxA.y, x1: boxA.x + boxA.width, y1: boxA.y + boxA.height });
    expect(new Set(q.items.map((x) => x.modelId))).toEqual(new Set([ra.model.id]));

    expect(store.pyramidReady(rb.model.id)).toBe(false);
    const p = await store.buildPyramid(rb.model.id);
    expect(p.built).toBe(rb.manifest.tensors.length);
    expect(store.pyramidReady(rb.model.id)).toBe(true);
    const img = await store.renderMap(rb.model.id, { maxSize: 256 });
    expect(Math.max(img.width, img.height)).toBe(256);
    expect(Buffer.from(img.bytes.subarray(1, 4)).toString()).toBe('PNG');

    const tilesBefore = store.stats().tiles;
    await store.remove(ra.model.id);
    expect(store.list().map((m) => m.id)).toEqual([rb.model.id]);
    expect(store.map.listRegions(ra.model.id)).toEqual([]);
    expect(store.volume.ls().filter((f) => f.name.startsWith(modelPaths.prefix(ra.model.id)))).toEqual([]);
    expect(store.stats().tiles).toBeLessThan(tilesBefore);
    expect(store.integrityCheck()).toEqual({ catalog: ['ok'], store: ['ok'] });
    await store.close();
  });

  it('sweeps files of a model whose removal or import record is gone, and gc --pending drops interrupted imports', async () => {
    const store = await open('sweep');
    const file = path.join(tmp, 'sweep.gguf');
    writeTinyModel(file, { seed: 21 });
    const ac = new AbortController();
    await store.import(file, { signal: ac.signal, progressIntervalMs: 0, onProgress: (p) => p.tensorsDone > 2 && ac.abort() }).catch(() => undefined);
    expect(store.pendingImports()).toHaveLength(1);
    const g = await store.gc({ pending: true });
    expect(g.importsRemoved).toBe(1);
    expectEmpty(store);
    // Files under models/<id>/ that no record owns (a crash between removing the row and the files).
    await store.volume.put('models/ghost-00000000/tensors/0', [new Uint8Array(1000).fill(7)]);
    await store.close();
    const again = await open('sweep');
    expect(again.openSweep.orphanModelsRemoved).toBe(1);
    expect(again.volume.ls()).toEqual([]);
    await again.close();
  });
});
