/**
 * `pxi run` and `pxi chat`: usage errors and JSON runs in-process through main(); streaming,
 * chat over a pipe and Ctrl-C as real processes (bin/pxi.js). Runs that need WebGPU skip with
 * the reason when Dawn finds no adapter.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPxi } from '../support/cli';
import { fixturePath, projectRoot } from '../support/fixtures';
import { openNodeGpu } from '../support/webgpu-node';
import { generatedBytes } from './engine-support';
import { PREFILL_VARIANTS } from '../../shared/engine/quant-matmul';

const STORIES = fixturePath('models', 'stories260K.gguf');
const dir = mkdtempSync(join(tmpdir(), 'pxi-engine-cli-'));
let gpuReason = '';
let chatModel = '';

beforeAll(async () => {
  const g = await openNodeGpu();
  if (!g.gpu) gpuReason = g.reason;
  chatModel = join(dir, 'tiny-qwen2-q4_0.gguf');
  writeFileSync(chatModel, await generatedBytes('tiny-qwen2', 'Q4_0', 'direct'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pxi = (...argv: string[]) => runPxi(argv);

function spawnPxi(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['bin/pxi.js', ...args], { cwd: projectRoot, encoding: 'utf8', input, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('pxi run', () => {
  it('has a truthful --help and refuses bad usage with exit 2', async () => {
    const help = await pxi('run', '--help');
    expect(help.code).toBe(0);
    for (const flag of ['-p, --prompt', '-n, --n-predict', '--temp', '--top-k', '--top-p', '--min-p', '--repeat-penalty', '--seed', '--json', '--stop', '--lora FILE', '--lora-scale X', '--gpu-memory SIZE', '--verbose']) {
      expect(help.out).toContain(flag);
    }
    const cases: [string[], RegExp][] = [
      [['run'], /needs a model/],
      [['run', STORIES], /-p\/--prompt is required/],
      [['run', join(dir, 'missing.gguf'), '-p', 'x'], /no such model file/],
      [['run', STORIES, STORIES, '-p', 'x'], /takes one model/],
      [['run', STORIES, '-p', 'x', '--temp', 'hot'], /--temp must be a number >= 0/],
      [['run', STORIES, '-p', 'x', '--top-p', '0'], /--top-p must be in \(0, 1\]/],
      [['run', STORIES, '-p', 'x', '--n-predict=-3'], /--n-predict must be a non-negative integer/],
      [['run', STORIES, '-p', 'x', '--seed', '4294967296'], /--seed must be an integer/],
      [['run', STORIES, '-p', 'x', '--frobnicate'], /frobnicate/],
      [['run', STORIES, '-p', 'x', '--lora-scale', '2'], /--lora-scale needs --lora FILE/],
      [['run', STORIES, '-p', 'x', '--lora', join(dir, 'missing.lora.gguf')], /no such adapter file/],
      [['run', STORIES, '-p', 'x', '--lora', STORIES, '--lora-scale', 'big'], /--lora-scale must be a finite number/],
      [['run', STORIES, '-p', 'x', '--gpu-memory', 'lots'], /--gpu-memory must be a size such as 4G, 500M/],
      [['run', STORIES, '-p', 'x', '--gpu-memory', '0'], /--gpu-memory must be a size/],
      [['chat', STORIES, '--gpu-memory', '1X'], /--gpu-memory must be a size/],
      [['chat'], /needs a model/],
    ];
    for (const [argv, msg] of cases) {
      const r = await pxi(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(msg);
    }
  });

  it('--json gives the text, tokens, stop reason and timings; a seed reproduces a sampled run', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const run = async (seed: string) => {
      const r = await pxi('run', STORIES, '-p', 'Once upon a time', '-n', '24', '--temp', '1.0', '--seed', seed, '--json');
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as { text: string; tokens: number[]; stopReason: string; seed: number; promptTokens: number[]; timings: Record<string, number> };
    };
    const a = await run('7');
    expect(a.promptTokens).toEqual([1, 403, 407, 261, 378]);
    expect(a.seed).toBe(7);
    expect(a.tokens.length).toBeGreaterThan(0);
    expect(a.tokens.length).toBeLessThanOrEqual(24);
    expect(['length', 'eos']).toContain(a.stopReason);
    expect(a.timings.promptTokens).toBe(5);
    expect(a.timings.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(await run('7')).toMatchObject({ tokens: a.tokens, text: a.text });
    expect((await run('8')).tokens).not.toEqual(a.tokens);
  });

  it('--verbose prints the GPU allocation ledger by kind after loading, and with the KV pages after generating', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = await pxi('run', STORIES, '-p', 'Once', '-n', '2', '--temp', '0', '--verbose');
    expect(r.code).toBe(0);
    const [loaded, generated] = r.err.split('GPU allocation ledger after generating');
    expect(loaded).toMatch(/GPU allocation ledger: \d+ buffers, [\d.]+ MB held/);
    expect(loaded).toMatch(/weights\s+\d+ buffers/);
    // Loaded, the KV cache holds no page; 3 tokens take one page of 256 positions in each of
    // stories260K's 5 blocks, K and V: 10 × 256 × 32 floats = 0.33 MB (the whole 2048 would be 2.62 MB).
    expect(loaded).not.toMatch(/kv-cache/);
    expect(generated).toMatch(/kv-cache\s+10 buffers\s+0\.33 MB/);
  });

  it('--gpu-memory below the weights streams some, prints the plan, and gives the same greedy text', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const args = ['run', STORIES, '-p', 'Once upon a time', '-n', '16', '--temp', '0', '-c', '64', '--json'];
    const full = await pxi(...args);
    // The budgeted run records its plan as a session in $PXI_HOME, confirmed by its decode speed.
    const home = mkdtempSync(join(tmpdir(), 'pxi-residency-'));
    const before = process.env.PXI_HOME;
    process.env.PXI_HOME = home;
    let budgeted: Awaited<ReturnType<typeof pxi>>;
    try {
      budgeted = await pxi(...args, '--gpu-memory', '600K', '--verbose');
      const file = JSON.parse(readFileSync(join(home, 'self-improvement-sessions.json'), 'utf8')) as {
        sessions: { kind: string; decision: string; effect: string; details: string[]; confirmation: { tokensPerSecond: number } | null }[];
      };
      expect(file.sessions).toHaveLength(1);
      expect(file.sessions[0]).toMatchObject({ kind: 'residency', decision: 'recorded', effect: expect.stringMatching(/weight matrices stream from host memory each token .* so the model fits 614\.4 KB/) });
      expect(file.sessions[0]!.details[0]).toMatch(/^budget 614\.4 KB/);
      expect(file.sessions[0]!.confirmation!.tokensPerSecond).toBeGreaterThan(0);
    } finally {
      if (before === undefined) delete process.env.PXI_HOME;
      else process.env.PXI_HOME = before;
      rmSync(home, { recursive: true, force: true });
    }
    expect(budgeted.code, budgeted.err).toBe(0);
    const tokens = (r: { out: string }) => (JSON.parse(r.out) as { tokens: number[] }).tokens;
    expect(tokens(budgeted)).toEqual(tokens(full));
    expect(tokens(full).length).toBeGreaterThan(4);
    expect(budgeted.err).toMatch(/residency plan:\n  budget 614\.4 KB/);
    expect(budgeted.err).toMatch(/matrices stream from host memory/);
    expect(budgeted.err).toMatch(/streamed: token_embd\.weight/);
    // Too small even row by row: exit 1, the field and the least that would do.
    const small = await pxi(...args, '--gpu-memory', '100K');
    expect(small.code).toBe(1);
    expect(small.err).toMatch(/gpuMemory 102\.4 KB is too small for this model: .* needs [\d.]+ KB/);
  });

  it('--lora: a model file is not an adapter (exit 1, naming the field)', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = await pxi('run', STORIES, '-p', 'Once', '-n', '2', '--lora', STORIES);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/general\.type/);
    expect(r.err).toMatch(/LORA_NOT_ADAPTER/);
  });

  it('fails with exit 1 and a clear message when the prompt and -n exceed the context', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = await pxi('run', STORIES, '-p', 'Once upon a time there was a dog', '-c', '16', '-n', '12');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /context window exceeded: 21 positions \(10 of prompt \+ 12 to generate, the last of which is not fed back\) requested, the context holds 16 \[CONTEXT_WINDOW_EXCEEDED\]/,
    );
  });

  it('a prompt and -n that exactly fill the context run: the last token is never fed back (off by one before)', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    // 10 prompt tokens + 7 generated = 16 positions used, the 7th token is not fed back.
    const fits = await pxi('run', STORIES, '-p', 'Once upon a time there was a dog', '-c', '16', '-n', '7', '--ignore-eos', '--json');
    expect(fits.code, fits.err).toBe(0);
    const got = JSON.parse(fits.out) as { tokens: number[]; stopReason: string; promptTokens: number[] };
    expect(got.promptTokens).toHaveLength(10);
    expect(got.tokens).toHaveLength(7);
    expect(got.stopReason).toBe('length');
    const over = await pxi('run', STORIES, '-p', 'Once upon a time there was a dog', '-c', '16', '-n', '8', '--ignore-eos');
    expect(over.code).toBe(1);
    expect(over.err).toMatch(/17 positions .* the context holds 16/);
  });

  it('a BOS id outside the vocabulary is repaired with a warning naming the file and the id, not accepted silently', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const bytes = new Uint8Array(readFileSync(STORIES));
    // The key's bytes are followed by its value type (u32 = 4) and the u32 value.
    const key = Buffer.from('tokenizer.ggml.bos_token_id');
    const at = Buffer.from(bytes).indexOf(key) + key.length;
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getUint32(at, true)).toBe(4);
    expect(view.getUint32(at + 4, true)).toBe(1);
    view.setUint32(at + 4, 70000, true);
    const file = join(dir, 'bad-bos.gguf');
    writeFileSync(file, bytes);
    const r = await pxi('run', file, '-p', 'Once', '-n', '2', '--temp', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning: .*bad-bos\.gguf: tokenizer: bos 70000 is outside the vocabulary of 512; using 1/);
  });

  it('-c beyond the context the model was trained for runs, with a warning naming both', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = await pxi('run', STORIES, '-p', 'Once', '-c', '3000', '-n', '2', '--temp', '0');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/warning: .*stories260K\.gguf: a context of 3000 is longer than the 2048 the model was trained for/);
    const within = await pxi('run', STORIES, '-p', 'Once', '-c', '2048', '-n', '2', '--temp', '0');
    expect(within.code, within.err).toBe(0);
    expect(within.err).not.toMatch(/trained for/);
  });

  it('streams the greedy story llama.cpp tells, with speeds on stderr', (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = spawnPxi(['run', STORIES, '-p', 'Once upon a time', '--temp', '0', '-n', '40']);
    expect(r.code, r.err).toBe(0);
    expect(r.out.startsWith('Once upon a time, there was a little girl named Lily. She loved to play outside in the park.')).toBe(true);
    expect(r.err).toMatch(/prefill: 5 tokens in [\d.]+ s \([\d.]+ tokens\/s\) · decode: 39 tokens in [\d.]+ s \([\d.]+ tokens\/s\) · stop: length/);
  });

  it('Ctrl-C stops generating, keeps what was printed and exits 130', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const child = spawn(process.execPath, ['bin/pxi.js', 'run', STORIES, '-p', 'Once', '--ignore-eos', '-n', '1500', '--temp', '0'], { cwd: projectRoot });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => child.once('exit', r));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.length > 40) resolve();
      });
    });
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(out.startsWith('Once')).toBe(true);
    expect(err).toMatch(/stop: aborted/);
  });
});

describe('pxi chat', () => {
  it('answers each line through the chat template until /exit', (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = spawnPxi(['chat', chatModel, '-n', '6', '--seed', '1', '--temp', '0'], 'Hello there\nHow are you?\n/exit\nnot read\n');
    expect(r.code, r.err).toBe(0);
    const turns = r.err.match(/prefill: (\d+) tokens .* decode: \d+ tokens .* stop: (length|eos)/g) ?? [];
    expect(turns).toHaveLength(2);
    // The second turn computes only what the KV cache lacks: fewer tokens than the whole conversation.
    const [first, second] = turns.map((l) => Number(/prefill: (\d+)/.exec(l)![1]));
    expect(first).toBeGreaterThan(5);
    expect(second).toBeLessThan(first! + 6 + 12);
    expect(r.out.split('\n').filter((l) => l.length > 0).length).toBeGreaterThanOrEqual(1);
  });

  it('refuses a model without a chat template (exit 1)', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = await pxi('chat', STORIES);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no chat template \(tokenizer\.chat_template\); use plain completion \(pxi run\) instead \[ENGINE_NO_CHAT_TEMPLATE\]/);
  });
});

describe('pxi tune', () => {
  it('measures, saves per adapter, and pxi run then loads with it; --forget and a damaged file', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const home = mkdtempSync(join(tmpdir(), 'pxi-tune-'));
    try {
      const env = { ...process.env, PXI_HOME: home };
      const run = (args: string[]) => {
        const r = spawnSync(process.execPath, ['bin/pxi.js', ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 120_000, env });
        return { code: r.status, out: r.stdout, err: r.stderr };
      };
      const usage = run(['tune', '--size', '300']);
      expect(usage.code).toBe(2);
      expect(usage.err).toMatch(/--size must be a multiple of 256/);
      expect(run(['tune', '--types', 'IQ2_XS']).err).toMatch(/--types: "IQ2_XS" is not one of/);

      expect(run(['tune', '--confirm', join(home, 'none.gguf')]).err).toMatch(/--confirm: no such model file/);
      const tuned = run(['tune', '--types', 'F32,Q8_0', '--size', '256', '--rounds', '1', '--confirm', STORIES]);
      expect(tuned.code, tuned.err).toBe(0);
      expect(tuned.out).toMatch(/^F32 +\d+x\d+ +[\d.]+ \([\d.]+\) +[\d.]+× \[[\d.]+× to [\d.]+×\]$/m);
      expect(tuned.out).toMatch(/^Q8_0 /m);
      // Prefill measured too: a tiled product against matmul over 16 tokens, matmul unless one was proven faster.
      expect(tuned.out).toMatch(new RegExp(`^Q8_0 +prefill 16 tokens: (matmul|${PREFILL_VARIANTS.join('|')}) [\\d.]+ ms \\(matmul [\\d.]+\\), [\\d.]+×`, 'm'));
      expect(tuned.out).not.toMatch(/^F32 +prefill/m);
      expect(tuned.err).toMatch(/64x1 [\d.]+ · 64x2 [\d.]+/);
      const file = join(home, 'kernel-tuning.json');
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { format: string; records: { types: Record<string, unknown> }[] };
      expect(saved.format).toBe('pxi-kernel-tuning');
      expect(Object.keys(saved.records[0]!.types).sort()).toEqual(['F32', 'Q8_0']);
      // The run is a self-improvement session, with every shape's rounds as evidence.
      expect(tuned.err).toMatch(/recorded session kernel-tuning-[a-z0-9]+-[0-9a-f]{8}/);
      const sessions = JSON.parse(readFileSync(join(home, 'self-improvement-sessions.json'), 'utf8')) as {
        sessions: { kind: string; model: string; confirmation: { tokensPerSecond: number; baselineTokensPerSecond: number; note: string }; trials: { subject: string; variants: { samplesMs: number[] }[] }[] }[];
      };
      expect(sessions.sessions.map((s) => s.kind)).toEqual(['kernel-tuning']);
      // --confirm: decoded with the default and the kept shapes, the same greedy tokens both ways.
      expect(sessions.sessions[0]!.model).toBe('stories260K.gguf');
      expect(sessions.sessions[0]!.confirmation.tokensPerSecond).toBeGreaterThan(0);
      expect(sessions.sessions[0]!.confirmation.baselineTokensPerSecond).toBeGreaterThan(0);
      expect(sessions.sessions[0]!.confirmation.note).toMatch(/the same tokens both ways/);
      expect(sessions.sessions[0]!.trials.map((t) => t.subject)).toEqual(['F32', 'Q8_0']);
      expect(sessions.sessions[0]!.trials[0]!.variants[0]!.samplesMs).toHaveLength(1);

      // pxi run says it uses the measurement, and greedy text is the same as untuned.
      const withTuning = run(['run', STORIES, '-p', 'Once upon a time', '--temp', '0', '-n', '24']);
      expect(withTuning.code, withTuning.err).toBe(0);
      expect(withTuning.err).toMatch(/decode kernels tuned for this adapter by pxi tune on \d{4}-\d\d-\d\d/);
      expect(run(['tune', '--forget']).err).toMatch(/forgot the measurement/);
      const without = run(['run', STORIES, '-p', 'Once upon a time', '--temp', '0', '-n', '24']);
      expect(without.err).not.toMatch(/tuned/);
      expect(without.out).toBe(withTuning.out);
      expect(run(['tune', '--forget']).err).toMatch(/nothing saved/);

      // A damaged file is named in a warning and the run goes on with the default shapes.
      writeFileSync(file, '{"format": "pxi-kernel-tuning", "version": 1, "records": [{"adapter": 1}]}');
      const damaged = run(['run', STORIES, '-p', 'Once upon a time', '--temp', '0', '-n', '24']);
      expect(damaged.code).toBe(0);
      expect(damaged.err).toMatch(/warning: ignoring the kernel tuning file: .*kernel-tuning\.json: records\.0\.adapter/);
      expect(damaged.out).toBe(without.out);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    // Eight CLI processes, the tune one compiling the decode shapes, the integer and the tiled prefill kernels.
  }, 240_000);
});
