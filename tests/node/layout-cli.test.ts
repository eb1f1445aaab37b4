/**
 * `pxi layout` (issue 12 §4): plan, apply, status and undo on an imported model, with a trace
 * file; JSON output is the planner's proposal and the decision record; bad input is a usage
 * error or a LayoutError naming the trace file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPxi } from '../support/cli';
import { writeTinyModel } from './models-support';
import { withStore } from '../../electron/cli/storage-helpers';
import { openSessionStore, storeLayoutUndo } from '../../electron/services/session-handlers';
import { sessionsFilePath, SessionStore } from '../../electron/sessions/store';

let tmp: string;
let volume: string;

let home: string;
const homeBefore = process.env.PXI_HOME;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layout-cli-'));
  volume = path.join(tmp, 'volume');
  // pxi layout apply records a session in the data folder: a temporary one, never the user's.
  home = path.join(tmp, 'home');
  process.env.PXI_HOME = home;
});

afterAll(() => {
  if (homeBefore === undefined) delete process.env.PXI_HOME;
  else process.env.PXI_HOME = homeBefore;
  fs.rmSync(tmp, { recursive: true, force: true });
});

const pxi = runPxi;

describe('pxi layout', () => {
  it('plans, applies, reports and undoes a packed layout', async () => {
    const gguf = path.join(tmp, 'm.gguf');
    writeTinyModel(gguf, { blocks: 2, embd: 32, ff: 32, heads: 2, kvHeads: 1, vocab: 32, seed: 9 });
    expect((await pxi(['import', gguf, '--name', 'm', '--volume', volume, '--tile-size', '32'])).code).toBe(0);
    const V = ['--volume', volume];

    const plan = await pxi(['layout', 'plan', 'm', ...V, '--json']);
    expect(plan.code).toBe(0);
    const p = JSON.parse(plan.out) as { before: { tileLoads: number }; after: { tileLoads: number }; packs: unknown[] };
    expect(p.after.tileLoads).toBeLessThan(p.before.tileLoads);
    expect(p.packs).toHaveLength(4); // token_embd, two blocks, output_norm (+ output, tied here: none)

    // A trace that reads only block 1: the plan counts only what it reads.
    const traceFile = path.join(tmp, 'trace.json');
    fs.writeFileSync(traceFile, JSON.stringify({ reads: [{ tensor: 'blk.1.attn_norm.weight', offset: 0, length: 128 }, { tensor: 'blk.1.ffn_norm.weight', offset: 0, length: 128 }] }));
    const narrow = JSON.parse((await pxi(['layout', 'plan', 'm', ...V, '--trace', traceFile, '--json'])).out) as { before: { tileLoads: number }; after: { tileLoads: number } };
    expect(narrow).toMatchObject({ before: { tileLoads: 2 }, after: { tileLoads: 1 } });

    const applied = await pxi(['layout', 'apply', 'm', ...V, '--json']);
    expect(applied.code).toBe(0);
    const d = JSON.parse(applied.out) as { action: string; undo: { command: string } };
    expect(d.action).toBe('apply');
    expect(d.undo.command).toMatch(/^pxi layout undo m-/);
    expect((await pxi(['layout', 'status', 'm', ...V])).out).toMatch(/^packed \(read-order-packs\/1/);
    expect((await pxi(['verify', 'm', ...V])).code).toBe(0);

    // The decision is a kept session in the data folder, with its evidence and undo target.
    const sessions = new SessionStore(sessionsFilePath(home));
    const [kept] = sessions.list();
    expect(kept).toMatchObject({ kind: 'layout', model: 'm', decision: 'kept', undone: null, undoTarget: expect.stringMatching(/^m-.+\/[0-9a-f]{8,32}$/) });
    expect(kept!.trials[0]).toMatchObject({ subject: 'tile placement', baseline: 'import layout', kept: true });
    expect(kept!.details.join('\n')).toContain(d.undo.command);

    expect((await pxi(['layout', 'undo', 'm', ...V])).code).toBe(0);
    const status = JSON.parse((await pxi(['layout', 'status', 'm', ...V, '--json'])).out) as { active: unknown; decisions: { action: string }[] };
    expect(status.active).toBeNull();
    expect(status.decisions.map((x) => x.action)).toEqual(['apply', 'undo']);
    // Undone in a terminal: the session says so, and the Dashboard cannot undo it twice.
    expect(sessions.get(kept!.id).undone).toMatchObject({ note: expect.stringMatching(/^Undone with pxi layout undo/) });

    // Applied again and undone from the Dashboard's side: the session store's layout undo
    // (openSessionStore, as the services wire it) takes the model back to its import layout.
    expect((await pxi(['layout', 'apply', 'm', ...V, '--no-measure'])).code).toBe(0);
    const again = sessions.list()[0]!;
    expect(again.id).not.toBe(kept!.id);
    const undone = await withStore(volume, async (store) => {
      const viaDashboard = openSessionStore(sessionsFilePath(home), path.join(home, 'tuning.json'), storeLayoutUndo(() => store));
      const r = await viaDashboard.undo(again.id);
      return { r, active: (await store.layoutJournal('m')).active };
    });
    expect(undone.r.forgotten).toBe(true);
    expect(undone.active).toBeNull();
    // Its packs are gone: undoing the older, already-undone session is refused.
    await expect(openSessionStore(sessionsFilePath(home), path.join(home, 'tuning.json'), async () => true).undo(kept!.id)).rejects.toMatchObject({ code: 'SESSION_NOT_UNDOABLE' });
  }, 60_000);

  it('refuses bad input with the reason', async () => {
    expect((await pxi(['layout'])).code).toBe(2);
    expect((await pxi(['layout', 'shuffle', 'm', '--volume', volume])).code).toBe(2);
    expect((await pxi(['layout', 'plan', 'm', '--volume', volume, '--max-pack', 'lots'])).code).toBe(2);
    const bad = path.join(tmp, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ reads: [{ tensor: 'no.such.tensor', offset: 0, length: 1 }] }));
    const r = await pxi(['layout', 'plan', 'm', '--volume', volume, '--trace', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${bad}: reads[0].tensor = "no.such.tensor"`);
  });
});
