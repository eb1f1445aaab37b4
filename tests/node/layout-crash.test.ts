/**
 * Layout migrations of a stored model (issue 12 §4): apply and undo work end to end, and a crash
 * at every file operation N of an apply and of an undo (FaultyFileOps, then what a power cut
 * could leave) reopens to the model entirely in the old or entirely in the new layout (no
 * migration left half done, no stray pack files), its tensors byte-identical to the source GGUF,
 * and the map in step with it: every region's place and stored tile names the layout the journal
 * kept and reads the source's bytes there, and the map index itself is untouched.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAYOUTS_DIR } from '../../electron/models/layout';
import { ModelStore } from '../../electron/models/store';
import { exportModel } from '../../electron/ops/export';
import { verifyModel } from '../../electron/ops/verify';
import { nodeFileOps, PixelFsCodes, TilePool, type FileOps } from '../../electron/pixelfs/index';
import { LayoutError } from '../../shared/model/layout-errors';
import { FaultyFileOps } from '../support/faulty-file-ops';
import { checkMapSide } from './map-layout-support';
import { filesUnder, writeTinyModel } from './models-support';

let tmp: string;
let pool: TilePool;
let gguf: Buffer;
const opts = (): { pool: TilePool; commitEveryBytes: number } => ({ pool, commitEveryBytes: 8192 });
// FaultyFileOps models what a power cut loses; the real fsyncs underneath would add only time.
const noSync: FileOps = { ...nodeFileOps, fsync: async () => undefined, fsyncDir: async () => undefined };

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layout-crash-'));
  pool = new TilePool({ size: 1 });
  const file = path.join(tmp, 'm.gguf');
  // Two blocks in 32x32 tiles (4 KiB): each 4 KiB matrix fills a tile, each 128-byte norm owns one.
  writeTinyModel(file, { blocks: 2, embd: 32, ff: 32, heads: 2, kvHeads: 1, vocab: 32, seed: 5 });
  gguf = fs.readFileSync(file);
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A store with the tiny model imported as 'm', closed, in `dir`. */
async function importedVolume(dir: string): Promise<void> {
  const s = await ModelStore.open(dir, { ...opts(), create: { tileWidth: 32, tileHeight: 32, level: 0 } });
  await s.import(path.join(tmp, 'm.gguf'), { name: 'm' });
  await s.close();
}

/** Which layout the reopened model is in; fails unless it is wholly one of them and reads back the GGUF's bytes. */
async function checkModel(s: ModelStore, what: string): Promise<'old' | 'new'> {
  expect(s.integrityCheck(), what).toEqual({ catalog: ['ok'], store: ['ok'] });
  expect(s.volume.openSweep.missingTiles, what).toEqual([]);
  const j = await s.layoutJournal('m');
  expect(j.intent, what).toBeNull();
  const m = s.manifest('m');
  const packFiles = [...s.volume.ls().map((f) => f.name), ...s.volume.pending().map((p) => p.name)].filter((n) => n.includes('/layout-'));
  if (j.active) expect(packFiles.sort(), what).toEqual(j.active.packs.map((p) => p.file).sort());
  else expect(packFiles, what).toEqual([]);
  for (const t of m.tensors) {
    const got = await s.readTensor('m', t.name);
    expect(Buffer.compare(got, gguf.subarray(t.offset, t.offset + t.bytes)), `${what}: tensor ${t.name}`).toBe(0);
  }
  // The map follows: what the explorer reads names the same layout and the same bytes.
  expect((await checkMapSide(s, 'm', gguf, `${what}: map`)).layout, what).toBe(j.active ? 'packed' : 'import');
  return j.active ? 'new' : 'old';
}

/** Restores `dir` to `base` file by file (cheaper than copying 256 fan-out folders each run). */
function resetTo(dir: string, base: string): void {
  for (const f of fs.readdirSync(dir, { withFileTypes: true })) if (f.isFile()) fs.rmSync(path.join(dir, f.name));
  for (const f of filesUnder(path.join(dir, 'tiles'))) fs.rmSync(f);
  fs.rmSync(path.join(dir, LAYOUTS_DIR), { recursive: true, force: true });
  for (const f of fs.readdirSync(base, { withFileTypes: true })) if (f.isFile()) fs.copyFileSync(path.join(base, f.name), path.join(dir, f.name));
  for (const f of filesUnder(path.join(base, 'tiles'))) fs.copyFileSync(f, path.join(dir, path.relative(base, f)));
  if (fs.existsSync(path.join(base, LAYOUTS_DIR))) fs.cpSync(path.join(base, LAYOUTS_DIR), path.join(dir, LAYOUTS_DIR), { recursive: true });
}

/** Runs `op` with a file operation failing at every call N in turn; returns how often each layout came back. */
async function crashEveryCall(name: string, base: string, op: (s: ModelStore) => Promise<unknown>): Promise<{ old: number; new: number; total: number }> {
  const probe = path.join(tmp, `${name}-probe`);
  fs.cpSync(base, probe, { recursive: true });
  const counter = new FaultyFileOps({}, noSync);
  const ps = await ModelStore.open(probe, { ...opts(), fileOps: counter });
  // The map index is not a step of a migration: every crash leaves it as it was.
  const index0 = ps.map.listRegions(ps.get('m').id);
  const cells0 = ps.map.counts();
  await op(ps);
  await ps.close();
  const total = counter.calls;

  const dir = path.join(tmp, `${name}-run`);
  fs.cpSync(base, dir, { recursive: true });
  const seen = { old: 0, new: 0, total };
  for (let failAt = 1; failAt <= total; failAt++) {
    resetTo(dir, base);
    const ops = new FaultyFileOps({ failAt }, noSync);
    let store: ModelStore | null = null;
    try {
      store = await ModelStore.open(dir, { ...opts(), fileOps: ops });
      await op(store);
      expect.unreachable(`${name}: call ${failAt} of ${total} should have failed`);
    } catch (e) {
      expect((e as { code?: string }).code, `${name} call ${failAt}: ${(e as Error).message}`).toBe(PixelFsCodes.SIMULATED_CRASH);
    }
    await store?.abandon();
    await ops.powerLoss();
    const s = await ModelStore.open(dir, opts());
    seen[await checkModel(s, `${name} call ${failAt}/${total}`)]++;
    expect(s.map.listRegions(s.get('m').id), `${name} call ${failAt}/${total}: map regions`).toEqual(index0);
    expect(s.map.counts(), `${name} call ${failAt}/${total}: map rows`).toEqual(cells0);
    await s.close();
  }
  return seen;
}

describe('layout migration', () => {
  it('apply packs co-read tensors, reads the same bytes in fewer tile loads; undo goes back; both are recorded', async () => {
    const dir = path.join(tmp, 'plain');
    await importedVolume(dir);
    const s = await ModelStore.open(dir, opts());
    try {
      const trace = s.tableTrace('m');
      const plan = await s.planLayout('m', trace);
      expect(plan.after.tileLoads).toBeLessThan(plan.before.tileLoads);
      const cold0 = await s.coldRead('m', trace);
      expect(cold0.tileLoads).toBe(plan.before.tileLoads);
      const verified0 = await verifyModel(s, 'm');

      const d = await s.applyLayout('m', trace, { measure: true });
      expect(d).toMatchObject({ kind: 'layout', modelId: s.get('m').id, action: 'apply', undo: { action: 'undo', generation: d.generation } });
      expect(d.before.tileLoads).toBe(plan.before.tileLoads);
      expect(d.after.tileLoads).toBe(plan.after.tileLoads);
      expect(d.before.coldReadMs).not.toBeNull();
      expect(d.after.coldReadMs).not.toBeNull();
      expect(JSON.parse(JSON.stringify(d))).toEqual(d); // a plain record a dashboard can list
      expect(await checkModel(s, 'after apply')).toBe('new');
      // verify reads the packs too (the files the engine now reads).
      const verified = await verifyModel(s, 'm');
      expect(verified.ok).toBe(true);
      expect(verified.filesChecked).toBe(verified0.filesChecked + plan.packs.length);
      // The measured cold read in the new layout loads what the planner said.
      expect((await s.coldRead('m', trace)).tileLoads).toBe(plan.after.tileLoads);
      await expect(s.applyLayout('m', trace)).rejects.toMatchObject({ code: 'LAYOUT_STATE' });
      // Export still gives the source file (it reads the import files, which stay).
      const out = path.join(tmp, 'plain-out.gguf');
      await exportModel(s, 'm', out);
      expect(Buffer.compare(fs.readFileSync(out), gguf)).toBe(0);
    } finally {
      await s.close();
    }

    // The layout survives reopening; undo returns to the import layout and removes the packs.
    const r = await ModelStore.open(dir, opts());
    try {
      expect(await checkModel(r, 'reopened')).toBe('new');
      const u = await r.undoLayout('m');
      expect(u).toMatchObject({ action: 'undo', undo: null });
      expect(await checkModel(r, 'after undo')).toBe('old');
      await expect(r.undoLayout('m')).rejects.toBeInstanceOf(LayoutError);
      expect((await r.layoutDecisions()).map((x) => x.action)).toEqual(['apply', 'undo']);
      const id = r.get('m').id;
      await r.remove('m');
      expect(fs.existsSync(path.join(dir, LAYOUTS_DIR, `${id}.json`))).toBe(false);
    } finally {
      await r.close();
    }
  }, 60_000);

  it('a damaged journal is refused at open with a LayoutError naming the file and field; a pack that disagrees with it fails verify', async () => {
    const dir = path.join(tmp, 'damaged');
    await importedVolume(dir);
    const s = await ModelStore.open(dir, opts());
    const id = s.get('m').id;
    await s.applyLayout('m', s.tableTrace('m'));
    await s.close();
    const jf = path.join(dir, LAYOUTS_DIR, `${id}.json`);
    const j = JSON.parse(fs.readFileSync(jf, 'utf8')) as { active: { packs: { size: number }[] } };
    j.active.packs[0]!.size += 1;
    fs.writeFileSync(jf, JSON.stringify(j));
    await expect(ModelStore.open(dir, opts())).rejects.toMatchObject({ code: 'LAYOUT_JOURNAL_INVALID', details: { file: jf, field: 'active.packs[0].size' } });
    // A pack whose bytes disagree with the journal: verify names it as a pack.
    j.active.packs[0]!.size -= 1;
    (j.active.packs[0] as unknown as { sha256: string }).sha256 = 'b'.repeat(64);
    fs.writeFileSync(jf, JSON.stringify(j));
    const s2 = await ModelStore.open(dir, opts());
    try {
      const v = await verifyModel(s2, 'm');
      expect(v.ok).toBe(false);
      expect(v.problems).toEqual([expect.objectContaining({ part: 'pack', code: 'PIXELFS_FILE_CHECKSUM_MISMATCH' })]);
    } finally {
      await s2.close();
    }
  }, 60_000);

  it('an apply that fails (a full disk) is recovered by the next one in the same process; two at once: one runs, one is refused', async () => {
    const dir = path.join(tmp, 'failing');
    await importedVolume(dir);
    let armed = false;
    const tiles = `${path.sep}tiles${path.sep}`;
    const ops: FileOps = {
      ...nodeFileOps,
      async create(f, o) {
        if (armed && f.includes(tiles)) {
          armed = false;
          throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
        }
        return nodeFileOps.create(f, o);
      },
    };
    const s = await ModelStore.open(dir, { ...opts(), fileOps: ops });
    try {
      armed = true;
      await expect(s.applyLayout('m', s.tableTrace('m'))).rejects.toMatchObject({ code: PixelFsCodes.NO_SPACE });
      expect((await s.layoutJournal('m')).intent?.op).toBe('apply');
      const again = await Promise.allSettled([s.applyLayout('m', s.tableTrace('m')), s.applyLayout('m', s.tableTrace('m'))]);
      expect(again.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      expect(again.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'LAYOUT_STATE' } });
      expect(await checkModel(s, 'after the failed apply and the one that ran')).toBe('new');
    } finally {
      await s.close();
    }
  }, 60_000);

  it('a crash at every file operation of an apply, then of an undo, leaves the old or the new layout, never between', async () => {
    const base = path.join(tmp, 'crash-base');
    await importedVolume(base);
    // With `measure`, the journal is written once more after the switch (the measured decision),
    // so the loop crashes on both sides of the switch.
    const applied = await crashEveryCall('apply', base, (s) => s.applyLayout('m', s.tableTrace('m'), { measure: true }));
    expect(applied.total).toBeGreaterThan(20);
    // The loop crossed the switch: crashes before it give the old layout, after it the new one.
    expect(applied.old).toBeGreaterThan(0);
    expect(applied.new).toBeGreaterThan(0);

    const packedBase = path.join(tmp, 'crash-packed');
    fs.cpSync(base, packedBase, { recursive: true });
    const p = await ModelStore.open(packedBase, opts());
    await p.applyLayout('m', p.tableTrace('m'));
    await p.close();
    const undone = await crashEveryCall('undo', packedBase, (s) => s.undoLayout('m'));
    expect(undone.old).toBeGreaterThan(0);
    expect(undone.new).toBeGreaterThan(0);
  }, 300_000);
});
