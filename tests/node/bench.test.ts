/**
 * `pxi bench`: the accounting helpers (bytes per token, kernel groups), usage errors, and one
 * real run on stories260K against llama.cpp (skipped with Dawn's reason when there is no
 * WebGPU adapter). Speed itself is not asserted here: that is the benchmark's job
 * (npm run bench:decode, specs/benchmarks.md).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { groupPasses, kernelGroupName, parseTuning, promptIds, weightBytesPerToken } from '../../electron/cli/bench/accounting';
import type { BenchResult, LlamaFigures } from '../../electron/cli/bench/results';
import { runPxi } from '../support/cli';
import { fixturePath } from '../support/fixtures';
import { openNodeGpu } from '../support/webgpu-node';

const STORIES = fixturePath('models', 'stories260K.gguf');
let gpuReason = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if (!g.gpu) gpuReason = g.reason;
});

const pxi = (...argv: string[]) => runPxi(argv);

describe('bench accounting', () => {
  const weights = [
    { name: 'token_embd.weight', rows: 1000, bytes: 64_000, parts: 1 },
    { name: 'output.weight', rows: 1000, bytes: 64_000, parts: 2 },
    { name: 'blk.0.attn_q.weight', rows: 64, bytes: 4_096, parts: 1 },
    { name: 'blk.1.attn_q.weight', rows: 64, bytes: 4_096, parts: 1 },
  ];

  it('counts every matrix once and one embedding row; a tied output reads token_embd in full', () => {
    expect(weightBytesPerToken(weights, false)).toBe(64 + 64_000 + 2 * 4_096);
    const tied = weights.filter((w) => w.name !== 'output.weight');
    expect(weightBytesPerToken(tied, true)).toBe(64_000 + 64 + 2 * 4_096);
  });

  it('names kernel groups without block numbers and drops the repeated entry point', () => {
    expect(kernelGroupName('matvec blk.13.ffn_down.weight')).toBe('matvec ffn_down');
    expect(kernelGroupName('get_rows get_rows token_embd.weight')).toBe('get_rows token_embd');
    expect(kernelGroupName('rmsnorm')).toBe('rmsnorm');
  });

  it('groups timed passes per step with the bytes each weight dispatch reads', () => {
    const step = [
      { label: 'get_rows get_rows token_embd.weight', ms: 0.01 },
      { label: 'rmsnorm', ms: 0.5 },
      { label: 'matvec blk.0.attn_q.weight', ms: 1 },
      { label: 'matvec blk.1.attn_q.weight', ms: 3 },
      { label: 'matvec output.weight', ms: 2 }, // two row parts: half the matrix each
      { label: 'matvec output.weight', ms: 2 },
    ];
    const g = groupPasses([step, step], weights);
    expect(g.map((x) => x.name)).toEqual(['matvec attn_q', 'matvec output', 'rmsnorm', 'get_rows token_embd']);
    const q = g[0]!;
    expect(q).toMatchObject({ calls: 2, ms: 4, bytes: 8_192 });
    expect(q.gbps).toBeCloseTo(8_192 / 4 / 1e6, 12);
    expect(g[1]).toMatchObject({ calls: 2, ms: 4, bytes: 64_000 });
    expect(g[2]).toMatchObject({ calls: 1, ms: 0.5, bytes: 0, gbps: null });
    expect(g[3]).toMatchObject({ calls: 1, bytes: 64 });
    // The groups account for exactly the bytes a token reads.
    expect(g.reduce((s, x) => s + x.bytes, 0)).toBe(weightBytesPerToken(weights, false));
  });

  it('parses kernel shapes and refuses impossible ones', () => {
    expect(parseTuning('256x32')).toEqual({ workgroupSize: 256, threadsPerRow: 32 });
    for (const bad of ['64', '64x3', '32x64', '2048x1', 'ax1']) expect(() => parseTuning(bad), bad).toThrow(/--tuning/);
  });

  it('makes prompts of exactly n ids by repeating the text, inside the vocabulary', () => {
    const tok = { encode: (t: string) => [1, ...[...t].map((c) => c.charCodeAt(0))] };
    const ids = promptIds(tok, 1000, 256);
    expect(ids).toHaveLength(1000);
    expect(ids[0]).toBe(1);
    expect(promptIds(tok, 5, 256)).toEqual(ids.slice(0, 5));
    expect(() => promptIds(tok, 10, 100)).toThrow(/outside the vocabulary of 100/);
  });
});

describe('pxi bench', () => {
  it('has a truthful --help and refuses bad usage with exit 2', async () => {
    const help = await pxi('bench', '--help');
    expect(help.code).toBe(0);
    for (const f of ['-p, --prompt-tokens', '-n, --n-predict', '--threads', '--tuning', '--breakdown-steps', '--no-llama', '--llama-cpp', '--json', 'timestamp']) {
      expect(help.out).toContain(f);
    }
    const cases: [string[], RegExp][] = [
      [['bench'], /needs a model/],
      [['bench', '/nonexistent/m.gguf'], /no such model file/],
      [['bench', STORIES, '-n', '1'], /--n-predict must be an integer from 2/],
      [['bench', STORIES, '-p', '0'], /--prompt-tokens must be an integer from 1/],
      [['bench', STORIES, '--threads', '2,0'], /--threads must be an integer from 1/],
      [['bench', STORIES, '--tuning', '64x3'], /--tuning/],
      [['bench', STORIES, '--no-llama', '--llama-cpp', '/x'], /contradict/],
      [['bench', STORIES, '--frobnicate'], /frobnicate/],
    ];
    for (const [argv, re] of cases) {
      const r = await pxi(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toMatch(re);
    }
  });

  it('runs ours and llama.cpp on stories260K with the same prompt and the same greedy tokens', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = await pxi('bench', STORIES, '-p', '8', '-n', '8', '--threads', '1', '--breakdown-steps', '2', '--json');
    expect(r.code, r.err).toBe(0);
    const b = JSON.parse(r.out) as BenchResult;
    expect(b.model).toMatchObject({ architecture: 'llama', blocks: 5, embd: 64, vocab: 512, types: ['F32'] });
    expect(b.ours).toMatchObject({ promptTokens: 8, decodeTokens: 7, loadedFrom: 'gguf' });
    expect(b.ours.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(b.ours.decodeGBps).toBeCloseTo((b.model.weightBytesPerToken * b.ours.decodeTokensPerSecond) / 1e9, 9);
    expect('skipped' in b.llama, JSON.stringify(b.llama)).toBe(false);
    const l = b.llama as LlamaFigures;
    expect(l).toMatchObject({ promptTokens: 8, decodeTokens: 7, threads: 1 });
    // The same file, the same ids: llama.cpp and ours pick the same greedy tokens (parity on stories260K).
    expect(l.tokens).toEqual(b.tokens);
    expect(b.ratio!.decode).toBeCloseTo(b.ours.decodeTokensPerSecond / l.decodeTokensPerSecond, 9);
    const k = b.breakdown;
    if (b.machine.timestamps) {
      expect(k.method).toBe('timestamp-query');
      expect(k.steps).toBe(2);
      // One dispatch per llama block with the decode fusions (decode_layer_f32.wgsl: the whole
      // block in one workgroup), then embedding, the output product (reading rmsnorm(x)) and a
      // one-chunk argmax. The block's group is named by its four matrices and reads their bytes.
      expect(k.dispatchesPerStep).toBe(5 + 3);
      expect(k.groups.find((g) => g.name === 'decode_layer attn_q|k|v attn_output ffn_gate|up ffn_down')?.calls).toBe(5);
      expect(k.groups.reduce((s, g) => s + g.bytes, 0)).toBeCloseTo(b.model.weightBytesPerToken, 6);
    } else {
      expect(k.method).toBe('wall-clock');
    }
  });

  it('still runs ours when llama.cpp cannot be found, and says why', async (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const r = await pxi('bench', STORIES, '-p', '4', '-n', '3', '--breakdown-steps', '0', '--llama-cpp', '/nonexistent/llama');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/ours \(WGSL, 64x1\)\s+\d/);
    expect(r.out).toMatch(/llama\.cpp skipped: node-llama-cpp not found \(looked in \/nonexistent\/llama/);
    expect(r.out).toMatch(/decode step: [\d.]+ ms wall/);
  });
});
