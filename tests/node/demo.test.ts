/**
 * `npm run demo` end to end with the default model (skipped with Dawn's reason without a WebGPU
 * adapter): the trained model shipped in resources/, checked, imported into a fresh volume, its map rendered to a PNG, and text
 * generated from the pixels with tokens/s printed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import recipe from '../../resources/default-model.json';
import { projectRoot } from '../support/fixtures';
import { openNodeGpu } from '../support/webgpu-node';

const dir = mkdtempSync(join(tmpdir(), 'pxi-demo-test-'));
let gpuReason = '';
beforeAll(async () => {
  const g = await openNodeGpu();
  if (!g.gpu) gpuReason = g.reason;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function demo(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('npm run demo', () => {
  it('refuses bad usage with exit 2', () => {
    const r = demo(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/frobnicate/);
  });

  it('takes the trained default model, imports it, renders its map and writes a story from its pixels', (t) => {
    if (gpuReason) return t.skip(gpuReason);
    const volume = join(dir, 'volume');
    const r = demo(['--volume', volume, '-n', '12', '--map-size', '512', '--temp', '0']);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);
    expect(r.out).toContain(`${recipe.name}: trained by Pixel-LLM`);
    // The shipped file is the pinned one (the demo checks the sha256 itself; this checks it said so).
    expect(r.out).toContain(`sha256 ${recipe.sha256.slice(0, 16)}`);
    expect(r.out).toContain(`volume: ${volume}`);

    const mapLine = /^map: (\S+\.png) \((\d+)×(\d+)/m.exec(r.out);
    expect(mapLine, r.out).not.toBeNull();
    const png = mapLine![1]!;
    expect(png.startsWith(volume)).toBe(true);
    expect(existsSync(png)).toBe(true);
    const img = PNG.sync.read(readFileSync(png));
    expect([img.width, img.height]).toEqual([Number(mapLine![2]), Number(mapLine![3])]);
    expect(Math.max(img.width, img.height)).toBe(512);

    expect(r.out).toMatch(/loaded from pixels/);
    const text = /^--- .* ---\n([\s\S]*?)\n---$/m.exec(r.out);
    expect(text, r.out).not.toBeNull();
    expect(text![1]!.startsWith('Once upon a time')).toBe(true);
    // A trained model continues the story in words (greedy, so the same words every run).
    expect(text![1]!.slice('Once upon a time'.length)).toMatch(/^[ ,]+[a-z]+/i);
    expect(text![1]).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/); // control bytes are shown as symbols
    const rate = /^decode: ([\d.]+) tokens\/s$/m.exec(r.out);
    expect(rate, r.out).not.toBeNull();
    expect(Number(rate![1])).toBeGreaterThan(0);
    expect(r.out).toMatch(/decode: 11 tokens in/);
  });
});
