/**
 * The session store (electron/sessions/store.ts): add, list, get and undo, the size bound, a
 * damaged file reported by name and field and never overwritten, a crash at every file
 * operation of a write leaving the old file or the new one, and the undo of a kernel-tuning
 * session forgetting the kept measurement in the tuning file (electron/services/session-handlers.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTuning, emptyTuningFile } from '../../shared/engine/autotune';
import { PixelFsCodes } from '../../electron/pixelfs/index';
import { readTuningFile } from '../../electron/engine/tuning-store';
import { openSessionStore } from '../../electron/services/session-handlers';
import { SessionStore } from '../../electron/sessions/store';
import { emptySessionsFile, parseSessionsFile, SESSION_LIMITS, withSession } from '../../shared/sessions/record';
import { PxiError } from '../../shared/errors';
import { FaultyFileOps } from '../support/faulty-file-ops';
import { syntheticRun, syntheticSession } from '../support/sessions';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'session-store-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const dir = (name: string) => fs.mkdtempSync(path.join(tmp, `${name}-`));

describe('the session store', () => {
  it('adds with an id it chooses, lists newest first, gets one, and reads an absent file as empty', async () => {
    const store = new SessionStore(path.join(dir('basic'), 'nested', 's.json'));
    expect(store.list()).toEqual([]);
    const a = await store.add(syntheticSession({ model: 'first' }));
    const b = await store.add(syntheticSession({ model: 'second' }));
    expect(a.id).toMatch(/^kernel-tuning-[a-z0-9]+-[0-9a-f]{8}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.undone).toBeNull();
    expect(store.list().map((s) => s.model)).toEqual(['second', 'first']);
    expect(store.get(a.id)).toEqual(a);
    expect(() => store.get('kernel-tuning-none')).toThrow(expect.objectContaining({ code: 'SESSION_NOT_FOUND' }));
    // What a CLI caller hands over is checked too (it does not pass through the IPC checks).
    await expect(store.add({ ...syntheticSession(), decision: 'maybe' } as never)).rejects.toThrow(/decision/);
  });

  it('a confirmation in tokens/s is added to a recorded session, checked against the schema', async () => {
    const store = new SessionStore(path.join(dir('confirm'), 's.json'));
    const s = await store.add(syntheticSession({ kind: 'residency', decision: 'recorded', trials: [] }));
    const c = await store.confirm(s.id, { tokensPerSecond: 42.5, baselineTokensPerSecond: null, note: 'the run after' });
    expect(c.confirmation).toEqual({ tokensPerSecond: 42.5, baselineTokensPerSecond: null, note: 'the run after' });
    expect(store.get(s.id).confirmation!.tokensPerSecond).toBe(42.5);
    await expect(store.confirm(s.id, { tokensPerSecond: -1, baselineTokensPerSecond: null, note: '' })).rejects.toThrow(/tokensPerSecond/);
    await expect(store.confirm('residency-none', { tokensPerSecond: 1, baselineTokensPerSecond: null, note: '' })).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('changes made at once are all kept (one write at a time)', async () => {
    const store = new SessionStore(path.join(dir('queue'), 's.json'));
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.add(syntheticSession({ model: `m${i}` }))));
    expect(store.list()).toHaveLength(8);
  });

  it('keeps at most SESSION_LIMITS.sessions, dropping the oldest', async () => {
    const file = path.join(dir('bound'), 's.json');
    const store = new SessionStore(file);
    const one = await store.add(syntheticSession());
    // Fill the file directly (adding 200 one by one is slow for no extra coverage).
    const full = { format: 'pxi-sessions', version: 1, sessions: Array.from({ length: SESSION_LIMITS.sessions }, (_, i) => ({ ...one, id: `kernel-tuning-old-${i}`, model: `old ${i}` })) };
    fs.writeFileSync(file, JSON.stringify(full));
    const newest = await store.add(syntheticSession({ model: 'newest' }));
    const list = store.list();
    expect(list).toHaveLength(SESSION_LIMITS.sessions);
    expect(list[0]!.id).toBe(newest.id);
    expect(list.at(-1)!.id).toBe(`kernel-tuning-old-${SESSION_LIMITS.sessions - 2}`);
  });

  it('keeps the file under its size limit, dropping the oldest, and always keeps the newest', () => {
    const s = { ...syntheticSession(), id: 'kernel-tuning-a-00000000', undone: null };
    const one = JSON.stringify(s).length;
    let file = emptySessionsFile();
    for (let i = 0; i < 10; i++) file = withSession(file, { ...s, id: `kernel-tuning-${i}-00000000` }, one * 3.5);
    expect(file.sessions.map((x) => x.id)).toEqual(['kernel-tuning-9-00000000', 'kernel-tuning-8-00000000', 'kernel-tuning-7-00000000']);
    expect(JSON.stringify(file).length).toBeLessThanOrEqual(one * 3.5);
    // A session larger than the limit alone is still kept (the schema bounds it).
    expect(withSession(file, { ...s, id: 'kernel-tuning-big-00000000' }, 10).sessions.map((x) => x.id)).toEqual(['kernel-tuning-big-00000000']);
  });

  it('a damaged file is a SESSIONS_BAD_FILE naming the file and the field, and is never overwritten', async () => {
    const file = path.join(dir('bad'), 's.json');
    const store = new SessionStore(file);
    const good = await store.add(syntheticSession());
    const text = fs.readFileSync(file, 'utf8');
    const cases: [string, RegExp][] = [
      ['{"format": "pxi-sessions", "version": 1, "sessions": [', /s\.json: not JSON/],
      [text.replace('"kernel-tuning"', '"kernel-retuning"'), /s\.json: sessions\.0\.kind/],
      [text.replace(/"samplesMs":\[[^\]]*\]/, '"samplesMs":["fast"]'), /s\.json: sessions\.0\.trials\.\d+\.variants\.0\.samplesMs\.0/],
      [JSON.stringify({ format: 'pxi-sessions', version: 2, sessions: [] }), /s\.json: version/],
    ];
    for (const [bad, want] of cases) {
      fs.writeFileSync(file, bad);
      let err: unknown;
      try {
        store.list();
      } catch (e) {
        err = e;
      }
      expect(err, bad.slice(0, 60)).toBeInstanceOf(PxiError);
      expect((err as PxiError).code).toBe('SESSIONS_BAD_FILE');
      expect((err as PxiError).message).toMatch(want);
      expect((err as PxiError).details).toMatchObject({ file, field: expect.any(String) });
      await expect(store.add(syntheticSession())).rejects.toMatchObject({ code: 'SESSIONS_BAD_FILE' });
      expect(fs.readFileSync(file, 'utf8')).toBe(bad);
    }
    expect(good.id).toBeTruthy();
  });

  it('a process crash at every file operation of a write leaves the old file or the new one, whole', async () => {
    const d = dir('crash');
    const file = path.join(d, 's.json');
    const seed = new SessionStore(file);
    await seed.add(syntheticSession({ model: 'before' }));
    const before = fs.readFileSync(file, 'utf8');
    const counter = new FaultyFileOps();
    await new SessionStore(file, { ops: counter }).add(syntheticSession({ model: 'counted' }));
    expect(counter.calls).toBeGreaterThanOrEqual(6);
    for (let failAt = 1; failAt <= counter.calls; failAt++) {
      fs.writeFileSync(file, before);
      const ops = new FaultyFileOps({ failAt });
      await expect(new SessionStore(file, { ops }).add(syntheticSession({ model: 'after' }))).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
      const models = parseSessionsFile(fs.readFileSync(file, 'utf8'), file).sessions.map((s) => s.model);
      expect([['before'], ['after', 'before']], `call ${failAt}: ${models.join(',')}`).toContainEqual(models);
    }
  });

  it('the first session: a crash at every file operation and then a power cut leave no file or a whole one', async () => {
    const counter = new FaultyFileOps();
    await new SessionStore(path.join(dir('count'), 's.json'), { ops: counter }).add(syntheticSession());
    for (let failAt = 1; failAt <= counter.calls; failAt++) {
      const file = path.join(dir(`first-${failAt}`), 's.json');
      const ops = new FaultyFileOps({ failAt });
      await expect(new SessionStore(file, { ops }).add(syntheticSession())).rejects.toMatchObject({ code: PixelFsCodes.SIMULATED_CRASH });
      await ops.powerLoss();
      const store = new SessionStore(file);
      expect([0, 1], `call ${failAt}`).toContain(store.list().length);
      await store.add(syntheticSession());
      expect(store.list().length).toBeGreaterThanOrEqual(1);
    }
  });

  it('undo of a kernel-tuning session forgets the kept measurement and marks it, and the earlier ones of the same state, undone', async () => {
    const d = dir('undo');
    const tuningFile = path.join(d, 'kernel-tuning.json');
    const { record } = syntheticRun();
    const other = { ...record, adapter: 'another GPU' };
    fs.writeFileSync(tuningFile, JSON.stringify(withTuning(withTuning(emptyTuningFile(), other), record)));
    const store = openSessionStore(path.join(d, 's.json'), tuningFile);
    const older = await store.add(syntheticSession());
    const unchanged = await store.add(syntheticSession({ decision: 'unchanged' }));
    const elsewhere = await store.add(syntheticSession({ adapter: 'another GPU' }));
    const newer = await store.add(syntheticSession());

    const r = await store.undo(newer.id);
    expect(r.forgotten).toBe(true);
    expect(r.session.undone).toMatchObject({ note: expect.stringMatching(/^Undone/) });
    expect(r.alsoUndone).toEqual([older.id]);
    // The measurement of this adapter and kernels is gone; the other GPU's stays.
    expect(readTuningFile(tuningFile).records.map((x) => x.adapter)).toEqual(['another GPU']);
    const byId = new Map(store.list().map((s) => [s.id, s]));
    expect(byId.get(older.id)!.undone!.note).toMatch(new RegExp(`Undone with session ${newer.id}`));
    expect(byId.get(unchanged.id)!.undone).toBeNull();
    expect(byId.get(elsewhere.id)!.undone).toBeNull();

    // Not twice, not for a session that kept nothing, not for an unknown one.
    await expect(store.undo(newer.id)).rejects.toMatchObject({ code: 'SESSION_NOT_UNDOABLE', message: expect.stringMatching(/undone already/) });
    await expect(store.undo(unchanged.id)).rejects.toMatchObject({ code: 'SESSION_NOT_UNDOABLE', message: expect.stringMatching(/kept nothing/) });
    await expect(store.undo('kernel-tuning-gone')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    // A kind without an undo cannot be undone yet.
    const layout = await store.add(syntheticSession({ kind: 'layout' }));
    await expect(store.undo(layout.id)).rejects.toMatchObject({ code: 'SESSION_NOT_UNDOABLE', message: expect.stringMatching(/layout session cannot be undone yet/) });
    // The other GPU's session forgets its own measurement; once nothing is left to forget, an
    // undo still marks the session (forgotten: false).
    expect(await store.undo(elsewhere.id)).toMatchObject({ forgotten: true, alsoUndone: [] });
    expect(readTuningFile(tuningFile).records).toEqual([]);
    const late = await store.add(syntheticSession());
    expect(await store.undo(late.id)).toMatchObject({ forgotten: false, session: { undone: { note: expect.stringMatching(/^Undone/) } } });
  });
  it('undoes a layout session through the layout undo it is given: its own model and generation only', async () => {
    const calls: string[] = [];
    const store = openSessionStore(path.join(dir('layout'), 's.json'), path.join(tmp, 'no-tuning.json'), async (modelId, generation) => {
      calls.push(`${modelId}/${generation}`);
      return true;
    });
    const layout = (model: string, undoTarget: string) => syntheticSession({ kind: 'layout', model, adapter: 'pixelfs-volume', codeHash: null, undoTarget });
    const a = await store.add(layout('a', 'm-a/00000001'));
    const b = await store.add(layout('b', 'm-b/00000002'));
    const r = await store.undo(a.id);
    expect(calls).toEqual(['m-a/00000001']);
    // Another model's packs are another state: its session stays kept.
    expect(r.alsoUndone).toEqual([]);
    expect(store.get(b.id).undone).toBeNull();
    // Taken back outside the store (pxi layout undo): noteUndone marks only what it picks.
    expect(await store.noteUndone((x) => x.undoTarget === 'm-b/00000002', 'Undone with pxi layout undo.')).toEqual([b.id]);
    expect(store.get(b.id).undone).toMatchObject({ note: 'Undone with pxi layout undo.' });
    expect(await store.noteUndone(() => true, 'again')).toEqual([]);
    // A session with no target undoes nothing, and says so (forgotten: false).
    const blind = await store.add(layout('c', ''));
    expect((await store.undo(blind.id)).forgotten).toBe(false);
    expect(calls).toHaveLength(1);
  });
});
