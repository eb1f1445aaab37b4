/**
 * `pxi train` end to end as real processes (bin/pxi.js): a tiny model trained on real
 * TinyStories text, killed with SIGKILL after a checkpoint and resumed through the task queue,
 * ends with the same weights (bit for bit) as a run that was never stopped; the GGUF it writes
 * loads in llama.cpp and gives our engine's greedy tokens. Runs that need WebGPU skip with the
 * reason where there is none.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, projectRoot } from '../support/fixtures';
import { killAtStep } from '../support/kill-at-step';
import { openNodeGpu } from '../support/webgpu-node';
import { openReference } from '../support/llama-cpp';
import { openNodeModel } from '../../electron/engine';
import { generate } from '../../shared/engine/generate';

const dir = mkdtempSync(join(tmpdir(), 'pxi-train-cli-'));
let gpuReason = '';
beforeAll(async () => {
  const r = await openNodeGpu();
  if (!r.gpu) gpuReason = r.reason;
});
afterAll(() => undefined);

function recipe(name: string, steps: number) {
  // Small enough to train in seconds on lavapipe; a real model shape (GQA, SwiGLU, tied output).
  return {
    name,
    model: { arch: 'llama', dim: 32, layers: 2, heads: 4, kvHeads: 2, ff: 64, context: 48 },
    data: { train: [fixturePath('corpus', 'tinystories-train.txt')], valid: [fixturePath('corpus', 'tinystories-valid.txt')], vocab: 320 },
    train: { seed: 3, batch: 4, steps, lr: 3e-3, warmup: 4, evalEvery: 5, evalBatches: 2, checkpointEvery: 4 },
  };
}

function writeRecipe(name: string, steps: number): string {
  const f = join(dir, `${name}.recipe.json`);
  writeFileSync(f, JSON.stringify(recipe(name, steps)));
  return f;
}

function pxi(args: string[], home: string) {
  return spawnSync(process.execPath, ['bin/pxi.js', ...args], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, PXI_HOME: home }, timeout: 300_000 });
}

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('pxi train', () => {
  it('--help tells what it does; a bad recipe is a usage error naming the field', () => {
    const help = pxi(['train', '--help'], join(dir, 'h'));
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/resumes from the last checkpoint/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...recipe('bad', 3), model: { ...recipe('bad', 3).model, heads: 5 } }));
    const r = pxi(['train', bad], join(dir, 'h'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/heads = 5 does not divide dim = 32/);
  });

  it('killed with SIGKILL after a checkpoint, resumes through the task queue to the same weights', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const steps = 10;
    const f = writeRecipe('tiny-resume', steps);
    // The uninterrupted run.
    const whole = join(dir, 'whole.gguf');
    const a = pxi(['train', f, '--out', whole, '--no-import'], join(dir, 'home-a'));
    expect(a.status, a.stderr).toBe(0);
    // The run killed after its first checkpoint (step 4), then started again.
    const home = join(dir, 'home-b');
    await killAtStep(['train', f, '--no-import', '--out', join(dir, 'resumed.gguf')], home, 6);
    const b = pxi(['train', f, '--no-import', '--out', join(dir, 'resumed.gguf')], home);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/continuing task #1/);
    expect(b.stderr).toMatch(/resuming at step 4/);
    expect(sha(join(dir, 'resumed.gguf'))).toBe(sha(whole));
  }, 600_000);

  it('the trained GGUF runs in llama.cpp with our greedy tokens', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const f = writeRecipe('tiny-parity', 30);
    const out = join(dir, 'parity.gguf');
    const r = pxi(['train', f, '--out', out, '--no-import'], join(dir, 'home-c'));
    expect(r.status, r.stderr).toBe(0);
    const m = await openNodeModel(out, { tuningFile: false });
    try {
      const prompt = m.tokenizer.encode('Once upon a time');
      const ours = await generate(m.model, m.tokenizer, prompt, { temperature: 0, maxTokens: 16, ignoreEos: true });
      const ref = await openReference(out, 64);
      try {
        expect(ref.tokenize('Once upon a time')).toEqual(prompt.slice(1));
        expect(await ref.greedy(prompt, 16)).toEqual(ours.tokens);
      } finally {
        await ref.dispose();
      }
    } finally {
      await m.close();
    }
  }, 600_000);
});
