/**
 * Crash safety of the model store, in the two forms of issue 3:
 * (a) PixelFS's file-operations layer fails at its Nth call (and every later one), the disk is
 *     rolled back to what a power cut could leave, and the volume is reopened: the catalogs must
 *     pass integrity_check and the model must be absent or complete and verified; N loops over
 *     every call of a whole import.
 * (b) a real `pxi import` process is killed with SIGKILL at random moments and rerun, until it
 *     finishes: the model verifies and exports byte-identical.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore } from '../../electron/models/store';
import { exportModel } from '../../electron/ops/export';
import { verifyModel } from '../../electron/ops/verify';
import { nodeFileOps, PixelFsCodes, TilePool, type FileOps } from '../../electron/pixelfs/index';
import { FaultyFileOps } from '../support/faulty-file-ops';
import { projectRoot } from '../support/fixtures';
import { filesUnder, sha256File, writeTinyModel } from './models-support';
import { pyramidSnapshot } from './pyramid-snapshot';

let tmp: string;
let pool: TilePool;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'models-crash-'));
  pool = new TilePool({ size: 1 });
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('model store crash safety', () => {
  it('(a) a failing file operation at every call N of an import: volume intact, model absent or complete', async () => {
    // A model of ~14 one-tile tensors in 32x32 tiles: about a hundred file operations.
    const file = path.join(tmp, 'a.gguf');
    const want = writeTinyModel(file, { embd: 32, ff: 32, heads: 2, kvHeads: 1, vocab: 32, seed: 3 });
    const base = path.join(tmp, 'a-base');
    const opts = { pool, commitEveryBytes: 8192 };
    await (await ModelStore.open(base, { ...opts, create: { tileWidth: 32, tileHeight: 32, level: 0 } })).close();

    // FaultyFileOps itself models what a power cut loses (powerLoss() rolls back what was not
    // fsynced), so the real fsyncs underneath add nothing here but time.
    const noSync: FileOps = { ...nodeFileOps, fsync: async () => undefined, fsyncDir: async () => undefined };
    const probe = path.join(tmp, 'a-probe');
    fs.cpSync(base, probe, { recursive: true });
    const counter = new FaultyFileOps({}, noSync);
    const ps = await ModelStore.open(probe, { ...opts, fileOps: counter });
    const pr = await ps.import(file, { name: 'm' });
    const wantPyramid = pyramidSnapshot(ps, pr.model.id);
    await ps.close();
    const total = counter.calls;
    expect(total).toBeGreaterThan(40);

    // One folder reset to the base state before each run (copying and deleting 256 fan-out
    // folders per run would cost more than the runs).
    const dir = path.join(tmp, 'a-run');
    fs.cpSync(base, dir, { recursive: true });
    const reset = (): void => {
      for (const f of fs.readdirSync(dir, { withFileTypes: true })) if (f.isFile()) fs.rmSync(path.join(dir, f.name));
      for (const f of filesUnder(path.join(dir, 'tiles'))) fs.rmSync(f);
      for (const f of fs.readdirSync(base, { withFileTypes: true })) if (f.isFile()) fs.copyFileSync(path.join(base, f.name), path.join(dir, f.name));
    };
    const seen = { absent: 0, complete: 0, resumedLater: 0 };
    for (let failAt = 1; failAt <= total; failAt++) {
      reset();
      const ops = new FaultyFileOps({ failAt }, noSync);
      let store: ModelStore | null = null;
      try {
        store = await ModelStore.open(dir, { ...opts, fileOps: ops });
        await store.import(file, { name: 'm' });
        expect.unreachable(`call ${failAt} of ${total} should have failed`);
      } catch (e) {
        expect((e as { code?: string }).code, `call ${failAt}: ${(e as Error).message}`).toBe(PixelFsCodes.SIMULATED_CRASH);
      }
      await store?.abandon();
      await ops.powerLoss();

      const s = await ModelStore.open(dir, opts);
      expect(s.integrityCheck(), `call ${failAt}`).toEqual({ catalog: ['ok'], store: ['ok'] });
      expect(s.volume.openSweep.missingTiles).toEqual([]);
      expect(filesUnder(path.join(dir, 'tiles')).filter((f) => path.basename(f).startsWith('.tmp-'))).toEqual([]);
      const models = s.list();
      // The map holds regions of the model or of its unfinished import (placed when it began), nothing else.
      const owners = new Set([...models.map((m) => m.id), ...s.pendingImports().map((p) => p.modelId)]);
      for (const m of s.map.listModels()) expect(owners.has(m.modelId), `call ${failAt}: map model ${m.modelId}`).toBe(true);
      if (models.length > 0) {
        seen.complete++;
        expect((await verifyModel(s, 'm')).ok, `call ${failAt}`).toBe(true);
      } else {
        seen.absent++;
        expect(s.volume.ls().filter((f) => f.name.endsWith('manifest.json'))).toHaveLength(0);
      }
      // Every few crashes, the rerun completes to the identical model.
      if (failAt % 7 === 0 || failAt === total) {
        const r = await s.import(file, { name: 'm' });
        if (r.resumed) seen.resumedLater++;
        // The pyramid, built as the bytes streamed (partly before the crash, the rest now), is
        // the one an uninterrupted import builds.
        expect(s.pyramidReady('m'), `call ${failAt}`).toBe(true);
        if (!r.alreadyImported) expect(pyramidSnapshot(s, r.model.id), `call ${failAt}`).toEqual(wantPyramid);
        const out = path.join(tmp, `a-${failAt}.gguf`);
        await exportModel(s, 'm', out);
        expect(sha256File(out), `call ${failAt}`).toBe(want);
        fs.rmSync(out);
      }
      await s.close();
    }
    // The loop crossed the commit point: both outcomes were seen, and reruns resumed.
    expect(seen.absent).toBeGreaterThan(0);
    expect(seen.resumedLater).toBeGreaterThan(0);
  }, 120_000);

  it('(b) pxi import killed with SIGKILL at random moments, then rerun, gives a verified identical model', async () => {
    const file = path.join(tmp, 'b.gguf');
    const want = writeTinyModel(file, { blocks: 2, seed: 8 });
    const volume = path.join(tmp, 'b-volume');
    let seed = 20251126;
    const rand = (k: number): number => {
      seed = (seed * 48271) % 2147483647;
      return seed % k;
    };
    const outcomes: string[] = [];
    let pendingSeen = 0;
    for (let round = 0; round < 6; round++) {
      const killDelay = round < 5 ? 100 + rand(900) : null; // the last round runs to the end
      const outcome = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ['bin/pxi.js', 'import', file, '--volume', volume, '--tile-size', '64', '--name', 'killed'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        let armed = false;
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          // Kill a random time after the first progress line (the process is then past startup).
          if (!armed && killDelay !== null && /(import|pyramid): /.test(err)) {
            armed = true;
            setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), killDelay);
          }
        });
        child.on('error', reject);
        child.on('exit', (code, signal) => {
          if (signal === 'SIGKILL') resolve(/pyramid: /.test(err) ? 'killed-in-pyramid' : 'killed');
          else if (code === 0) resolve('done');
          else reject(new Error(`pxi import exited ${code}: ${err}`));
        });
      });
      outcomes.push(outcome);
      const s = await ModelStore.open(volume, { pool });
      expect(s.integrityCheck()).toEqual({ catalog: ['ok'], store: ['ok'] });
      if (s.pendingImports().length > 0) {
        pendingSeen++;
        expect(s.list()).toEqual([]);
      }
      await s.close();
      if (outcome === 'done') break;
    }
    expect(outcomes.at(-1)).toBe('done');
    expect(outcomes[0]).toMatch(/^killed/);
    expect(pendingSeen).toBeGreaterThan(0);
    const s = await ModelStore.open(volume, { pool });
    expect(s.pendingImports()).toEqual([]);
    expect((await verifyModel(s, 'killed')).ok).toBe(true);
    expect(s.pyramidReady('killed')).toBe(true);
    const out = path.join(tmp, 'b-out.gguf');
    await exportModel(s, 'killed', out);
    expect(sha256File(out)).toBe(want);
    await s.close();
  }, 120_000);
});
