/**
 * `pxi layout` (issue 12 §4): plan, apply, status and undo on an imported model, with a trace
 * file; JSON output is the planner's proposal and the decision record; bad input is a usage
 * error or a LayoutError naming the trace file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../electron/cli/main';
import type { CliIo } from '../../electron/cli/command';
import { writeTinyModel } from './models-support';

let tmp: string;
let volume: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layout-cli-'));
  volume = path.join(tmp, 'volume');
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function pxi(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t), interrupted: new Promise<void>(() => undefined) };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

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

    expect((await pxi(['layout', 'undo', 'm', ...V])).code).toBe(0);
    const status = JSON.parse((await pxi(['layout', 'status', 'm', ...V, '--json'])).out) as { active: unknown; decisions: { action: string }[] };
    expect(status.active).toBeNull();
    expect(status.decisions.map((x) => x.action)).toEqual(['apply', 'undo']);
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
