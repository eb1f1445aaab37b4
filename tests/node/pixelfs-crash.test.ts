import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PixelFsCodes as C, PixelFsError, TilePool, Volume, type VolumeSettings } from '../../electron/pixelfs/index';
import { FaultyFileOps } from '../support/faulty-file-ops';

const SETTINGS: VolumeSettings = { tileWidth: 64, tileHeight: 64, level: 0 };
const CAP = 64 * 64 * 4;
const COMMIT = 2 * CAP; // several commits per put, so crashes land between them too

let tmp: string;
let pool: TilePool;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pixelfs-crash-'));
  pool = new TilePool({ size: 1 });
});

afterAll(async () => {
  await pool.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/** Copies a volume's files but not its empty fan-out folders: cheap to make and delete, and the
 * put then creates the folders it needs, so the crash loop covers that path (mkdir + fsync of
 * tiles/) too. */
function cloneVolume(from: string, to: string): void {
  fs.mkdirSync(path.join(to, 'tiles'), { recursive: true });
  for (const e of fs.readdirSync(from, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const rel = path.relative(from, path.join(e.parentPath, e.name));
    fs.mkdirSync(path.join(to, path.dirname(rel)), { recursive: true });
    fs.copyFileSync(path.join(from, rel), path.join(to, rel));
  }
}

/** The invariants after any crash: catalog intact, no leftovers after the sweep, every visible file verifies. */
async function checkRecovered(root: string): Promise<Volume> {
  const v = await Volume.open(root, { pool, commitEveryBytes: COMMIT });
  expect(v.integrityCheck()).toEqual(['ok']);
  expect(v.openSweep.missingTiles).toEqual([]); // no row points at a tile lost by the power cut
  const onDisk = filesUnder(path.join(root, 'tiles'));
  expect(onDisk.filter((f) => path.basename(f).startsWith('.tmp-'))).toEqual([]);
  expect(onDisk.length).toBe(v.stats().tiles); // every tile file has a row and vice versa
  const rep = await v.verify();
  expect(rep.problems).toEqual([]);
  return v;
}

describe('PixelFS crash safety', () => {
  // `keep` exists before the crash; the crashing put writes `new` (7 tiles: 2 shared with keep,
  // one repeated inside itself, a short last tile) or overwrites `keep`.
  const keep = randomBytes(4 * CAP);
  const fresh = Buffer.concat([keep.subarray(0, CAP), randomBytes(CAP), randomBytes(CAP), keep.subarray(2 * CAP, 3 * CAP), randomBytes(CAP)]);
  fresh.copy(fresh, 4 * CAP, CAP, 2 * CAP); // tile 4 = tile 1
  const newData = Buffer.concat([fresh, randomBytes(CAP), randomBytes(1000)]);

  it.each([
    ['put of a new file', 'new', false],
    ['overwrite of an existing file', 'keep', true],
  ] as const)('%s: crash at every file-op call N, power loss, reopen, rerun', async (_label, name, overwrite) => {
    const base = path.join(tmp, `base-${name}`);
    const b = await Volume.open(base, { create: SETTINGS, pool, commitEveryBytes: COMMIT });
    await b.put('keep', [keep]);
    await b.close();

    // Crash at call 1, 2, 3, ... of the whole run (open included: its sweep may unlink) until a
    // run gets through; that last run then loses power right after put returned, and what put
    // acknowledged must survive. (The number of calls can vary a little from run to run: how
    // tiles fall into commit batches decides how many folder fsyncs there are.)
    const outcomes = { absent: 0, complete: 0, old: 0 };
    let acknowledged = false;
    let failAt = 0;
    while (!acknowledged) {
      failAt++;
      expect(failAt).toBeLessThan(200);
      const dir = path.join(tmp, `crash-${name}-${failAt}`);
      cloneVolume(base, dir);
      const ops = new FaultyFileOps({ failAt });
      let v: Volume | null = null;
      try {
        v = await Volume.open(dir, { pool, fileOps: ops, commitEveryBytes: COMMIT });
        await v.put(name, [newData], { overwrite });
        acknowledged = true;
      } catch (e) {
        expect(e).toBeInstanceOf(PixelFsError);
        expect((e as PixelFsError).code, `call ${failAt}: ${(e as Error).message}`).toBe(C.SIMULATED_CRASH);
      }
      await v?.abandon();
      await ops.powerLoss();

      const r = await checkRecovered(dir);
      const got = r.stat(name);
      if (acknowledged) expect(got?.sha256).toBe(sha(newData));
      if (overwrite) {
        // Old or new, nothing in between.
        expect([sha(keep), sha(newData)]).toContain(got?.sha256);
        outcomes[got!.sha256 === sha(keep) ? 'old' : 'complete']++;
      } else {
        expect(r.stat('keep')?.sha256).toBe(sha(keep));
        if (got) expect(got.sha256).toBe(sha(newData));
        outcomes[got ? 'complete' : 'absent']++;
      }
      const again = await r.put(name, [newData], { overwrite: true });
      expect(again.sha256).toBe(sha(newData));
      expect(Buffer.compare(await r.read(name, 0, newData.length), newData)).toBe(0);
      expect((await r.verify()).ok).toBe(true);
      await r.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(failAt).toBeGreaterThan(20); // it really went through many calls
    // The loop really crossed the commit point (both sides were seen).
    if (overwrite) expect(outcomes.old).toBeGreaterThan(0);
    else expect(outcomes.absent).toBeGreaterThan(0);
  });

  it('an acknowledged put survives a power cut right after it returns (all rows in the completing transaction)', async () => {
    const dir = path.join(tmp, 'ack');
    const ops = new FaultyFileOps();
    const v = await Volume.open(dir, { create: SETTINGS, pool, fileOps: ops, commitEveryBytes: Number.MAX_SAFE_INTEGER });
    const data = randomBytes(5 * CAP + 3);
    await v.put('f', [data]);
    await v.abandon();
    await ops.powerLoss();
    const r = await checkRecovered(dir);
    expect(r.stat('f')?.sha256).toBe(sha(data));
    await r.close();
  });

  it('a put killed with SIGKILL at random moments resumes to a verified file', async () => {
    const root = path.join(tmp, 'killed');
    const src = path.join(tmp, 'kill-src.bin');
    const data = randomBytes(300 * CAP + 4321); // ~4.7 MiB, 301 tiles
    fs.writeFileSync(src, data);
    const child = path.join(import.meta.dirname, 'pixelfs-crash-child.ts');
    let seed = 4242;
    const rand = (k: number): number => {
      seed = (seed * 48271) % 2147483647;
      return seed % k;
    };
    let resumedSomewhere = false;
    const outcomes: string[] = [];
    for (let round = 0; round < 3; round++) {
      const killAfter = 20 + rand(200);
      const outcome = await new Promise<string>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', child, root, src, 'model.bin'], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        p.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = out.match(/P (\d+)\n(?!.*P \d+\n)/s);
          if (m && Number(m[1]) >= killAfter && p.exitCode === null) p.kill('SIGKILL');
        });
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('error', reject);
        p.on('exit', (code, signal) => {
          if (signal === 'SIGKILL') resolve('killed');
          else if (code === 0 && out.includes('DONE')) resolve('done');
          else reject(new Error(`child exited ${code}: ${err}`));
        });
      });
      outcomes.push(outcome);
      const v = await Volume.open(root, { pool });
      expect(v.integrityCheck()).toEqual(['ok']);
      const pend = v.pending();
      if (outcome === 'killed' && pend.length > 0) {
        resumedSomewhere ||= pend[0]!.tilesStored > 0;
        expect(v.ls()).toEqual([]);
      }
      await v.close();
      if (outcome === 'done') break;
    }
    const v = await Volume.open(root, { pool });
    const r = await v.put('model.bin', src, { overwrite: true });
    expect(r.sha256).toBe(sha(data));
    expect((await v.verify()).ok).toBe(true);
    const out = path.join(tmp, 'killed-out.bin');
    await v.get('model.bin', out);
    expect(sha(fs.readFileSync(out))).toBe(sha(data));
    // Progress is printed after a tile's row is queued and rows commit every 4 tiles, so a kill
    // after >= 20 tiles always leaves committed tiles for the rerun to reuse.
    expect(outcomes[0]).toBe('killed');
    expect(resumedSomewhere).toBe(true);
    // The rerun reuses what the killed children stored (as resumed rows of the pending file, or
    // as deduped tiles if the last child finished) instead of writing everything again.
    expect(r.tilesWritten).toBeLessThan(r.tiles);
    expect(r.tilesResumed + r.tilesDeduped).toBeGreaterThan(0);
    await v.close();
  });
});
