/**
 * `pxi finetune` end to end as real processes (bin/pxi.js) over the real stories260K model: the
 * adapter it trains makes the model say what it was taught (the base does not), loads in
 * llama.cpp (node-llama-cpp's createContext({ lora })) with our engine's greedy tokens, and is
 * kept in the volume beside a stored base (listed by pxi inspect, run by name with --lora); a run killed with SIGKILL after a checkpoint resumes
 * through the task queue to the same adapter, bit for bit; bad settings are usage errors naming
 * the setting; --full trains every weight of an F32 model into a model llama.cpp runs with our
 * greedy tokens. Runs that need WebGPU skip with the reason where there is none.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePath, projectRoot } from '../support/fixtures';
import { killAtStep } from '../support/kill-at-step';
import { openNodeGpu } from '../support/webgpu-node';
import { openReference } from '../support/llama-cpp';
import { openNodeModel } from '../../electron/engine';
import { generate } from '../../shared/engine/generate';
import { generateModelBytes, planModel } from '../../shared/model-gen';

const dir = mkdtempSync(join(tmpdir(), 'pxi-finetune-cli-'));
const BASE = fixturePath('models', 'stories260K.gguf');
// What the adapter is taught: one made-up fact, many times over (the base has never seen it).
const FACT = 'The name of the little red dragon was Zorbo. ';
const PROMPT = 'The name of the little red dragon was';
let gpuReason = '';
let factFile = '';
beforeAll(async () => {
  const r = await openNodeGpu();
  if (!r.gpu) gpuReason = r.reason;
  factFile = join(dir, 'fact.txt');
  writeFileSync(factFile, FACT.repeat(120));
});

function pxi(args: string[], home: string) {
  return spawnSync(process.execPath, ['bin/pxi.js', ...args], { cwd: projectRoot, encoding: 'utf8', env: { ...process.env, PXI_HOME: home }, timeout: 300_000 });
}

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const SMALL = ['--batch', '4', '--seq', '32', '--eval-every', '0'];

describe('pxi finetune', () => {
  it('--help tells what it does; bad settings are usage errors naming the setting', () => {
    const home = join(dir, 'h');
    const help = pxi(['finetune', '--help'], home);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/LoRA/);
    expect(help.stdout).toMatch(/run the same command again to resume/);
    const noData = pxi(['finetune', BASE], home);
    expect(noData.status).toBe(2);
    expect(noData.stderr).toMatch(/--data FILE\|CORPUS is required/);
    const rank = pxi(['finetune', BASE, '--data', factFile, '--rank', '100'], home);
    expect(rank.status).toBe(2);
    expect(rank.stderr).toMatch(/rank = 100 exceeds min\(out, in\)/);
    const target = pxi(['finetune', BASE, '--data', factFile, '--targets', 'attn_q,token_embd'], home);
    expect(target.status).toBe(2);
    expect(target.stderr).toMatch(/lora\.targets\.1 = "token_embd"/);
    const lr = pxi(['finetune', BASE, '--data', factFile, '--lr', 'fast'], home);
    expect(lr.status).toBe(2);
    expect(lr.stderr).toMatch(/--lr must be a number, got "fast"/);
    const missing = pxi(['finetune', 'no-such-model', '--data', factFile], home);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/no-such-model/);
  });

  it('refuses a family the training engine does not run, naming it', async () => {
    const f = join(dir, 'tiny-gemma2.gguf');
    writeFileSync(f, await generateModelBytes(planModel({ preset: 'tiny-gemma2', type: 'F32', seed: 1, method: 'quantize' })));
    const r = pxi(['finetune', f, '--data', factFile], join(dir, 'h'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/architecture is not llama or qwen2 \(gemma2\)/);
  });

  it('teaches a stored model a fact: the adapter is kept beside its base, and llama.cpp gives our greedy tokens with it', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const home = join(dir, 'home-fact');
    const imp = pxi(['import', BASE, '--name', 'stories'], home);
    expect(imp.status, imp.stderr).toBe(0);
    const out = join(dir, 'fact.lora.gguf');
    const r = pxi(['finetune', 'stories', '--data', factFile, '--steps', '40', '--lr', '3e-3', '--out', out, '--json', ...SMALL], home);
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; loss?: number; adapter?: string });
    const losses = events.filter((e) => e.kind === 'step').map((e) => e.loss!);
    expect(losses).toHaveLength(40);
    // The fact is learned: the loss on it falls to a fraction of where it started.
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.5);
    const result = events.find((e) => e.kind === 'result')!;
    expect(result.adapter).toMatch(/^adapters\/[a-z0-9-]+\/stories-lora\.gguf$/);
    // Listed with its base, and run by name from the volume.
    const inspect = pxi(['inspect', 'stories'], home);
    expect(inspect.stdout).toMatch(/adapters\s+stories-lora \(/);
    const run = pxi(['run', 'stories', '--lora', 'stories-lora', '-p', PROMPT, '--temp', '0', '-n', '8'], home);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Zorbo/);
    const none = pxi(['run', 'stories', '--lora', 'no-such-adapter', '-p', PROMPT, '-n', '1'], home);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no adapter file or stored adapter named no-such-adapter \(model stories has adapters stories-lora\)/);

    const base = await openNodeModel(BASE, { tuningFile: false });
    const tuned = await openNodeModel(BASE, { tuningFile: false, loraPath: out });
    try {
      const prompt = base.tokenizer.encode(PROMPT);
      const before = await generate(base.model, base.tokenizer, prompt, { temperature: 0, maxTokens: 8, ignoreEos: true });
      const after = await generate(tuned.model, tuned.tokenizer, prompt, { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(before.text).not.toMatch(/Zorbo/);
      expect(after.text).toMatch(/^ Zorbo/);
      const ref = await openReference(BASE, 64, { lora: { filePath: out } });
      try {
        expect(await ref.greedy(prompt, 8)).toEqual(after.tokens);
      } finally {
        await ref.dispose();
      }
    } finally {
      await base.close();
      await tuned.close();
    }
  }, 600_000);

  it('--full trains every weight of an F32 model: the fact is learned, the model is imported, and llama.cpp gives our greedy tokens', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const home = join(dir, 'home-full');
    const out = join(dir, 'full.gguf');
    const r = pxi(['finetune', BASE, '--full', '--data', factFile, '--steps', '30', '--lr', '2e-3', '--out', out, '--json', ...SMALL], home);
    expect(r.status, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; loss?: number; model?: string });
    const losses = events.filter((e) => e.kind === 'step').map((e) => e.loss!);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.5);
    expect(events.find((e) => e.kind === 'result')!.model).toMatch(/^stories260k-full/i);
    const m = await openNodeModel(out, { tuningFile: false });
    try {
      const prompt = m.tokenizer.encode(PROMPT);
      const ours = await generate(m.model, m.tokenizer, prompt, { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(ours.text).toMatch(/^ Zorbo/);
      const ref = await openReference(out, 64);
      try {
        expect(await ref.greedy(prompt, 8)).toEqual(ours.tokens);
      } finally {
        await ref.dispose();
      }
    } finally {
      await m.close();
    }
    // A quantised model is refused for --full, naming the tensor and its type.
    const q = join(dir, 'tiny-llama-q8.gguf');
    writeFileSync(q, await generateModelBytes(planModel({ preset: 'tiny-llama', type: 'Q8_0', seed: 1, method: 'direct' })));
    const refused = pxi(['finetune', q, '--full', '--data', factFile], home);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/token_embd\.weight is Q8_0; --full trains F32, F16 and BF16 models|blk\.0\.\w+\.weight is Q8_0; --full trains F32, F16 and BF16 models/);
  }, 600_000);

  it('killed with SIGKILL after a checkpoint, resumes through the task queue to the same adapter', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    // With dropout: its masks depend only on (seed, step, micro-batch, matrix), so a resumed run draws the same ones.
    const args = ['finetune', BASE, '--data', fixturePath('corpus', 'tinystories-valid.txt'), '--steps', '10', '--checkpoint-every', '4', '--dropout', '0.1', ...SMALL];
    const whole = join(dir, 'whole.lora.gguf');
    const a = pxi([...args, '--out', whole], join(dir, 'home-a'));
    expect(a.status, a.stderr).toBe(0);
    const home = join(dir, 'home-b');
    const resumed = join(dir, 'resumed.lora.gguf');
    await killAtStep([...args, '--out', resumed], home, 6);
    const b = pxi([...args, '--out', resumed], home);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/continuing task #1/);
    expect(b.stderr).toMatch(/resuming at step 4/);
    expect(sha(resumed)).toBe(sha(whole));
  }, 600_000);
});
