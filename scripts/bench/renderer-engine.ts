/**
 * The engine in the page at a larger scale than the e2e tests: a model is imported into a fresh
 * data folder, `pxi serve` serves it, and Debian's Chromium (WebGPU on SwiftShader) loads it in
 * Chat from its pixel tiles over the binary WebSocket, then generates greedy tokens. For the
 * reference, `pxi run` loads the same stored model from pixels in Node (Dawn) in the same script.
 *
 *   npx tsx scripts/bench/renderer-engine.ts [--model FILE.gguf] [-n N] [--keep]
 *
 * Default model: the generated qwen2 1B Q4_K of bench:decode (.cache/bench), else stories260K.
 * Prints load time and MB/s of weights, and decode tokens/s, for both.
 */
import { chromium } from '@playwright/test';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import config, { CHROMIUM_PATH } from '../../playwright.config';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const q1b = path.join(ROOT, '.cache', 'bench', 'qwen2-1b-Q4_K-s0.gguf');
const MODEL = arg('--model', fs.existsSync(q1b) ? q1b : path.join(ROOT, '..', 'shared', 'fixtures', 'models', 'stories260K.gguf'));
const N = Number(arg('-n', '4'));
const KEEP = process.argv.includes('--keep');
const NAME = path.basename(MODEL).replace(/\.gguf$/i, '');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pxi-renderer-engine-'));
const volume = path.join(dir, 'volume');
const pxi = (...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/pxi.js'), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PXI_HOME: dir } });
  if (r.status !== 0) throw new Error(`pxi ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r;
};

try {
  const mb = fs.statSync(MODEL).size / 1e6;
  console.log(`model: ${MODEL} (${mb.toFixed(0)} MB); ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}`);
  let t = performance.now();
  pxi('import', MODEL, '--volume', volume, '--skip-pyramid', '--name', NAME);
  console.log(`import: ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // Node reference: the same stored model, from pixels, through Dawn.
  const run = pxi('run', NAME, '--volume', volume, '-p', 'Once upon a time', '--temp', '0', '-n', String(N), '--ignore-eos');
  const node = {
    load: Number(/in ([\d.]+) s \(/.exec(run.stderr)?.[1] ?? NaN),
    decode: Number(/decode: \d+ tokens in [\d.]+ s \(([\d.]+) tokens\/s\)/.exec(run.stderr)?.[1] ?? NaN),
  };

  const serve = spawn(process.execPath, [path.join(ROOT, 'bin/pxi.js'), 'serve', '--port', '0', '--json', '--data-dir', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PXI_NO_DEFAULT_MODEL: '1' } });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: serve.stdout! }).once('line', (l) => resolve((JSON.parse(l) as { url: string }).url));
    serve.once('exit', (c) => reject(new Error(`pxi serve exited with ${c}`)));
  });
  const browser = await chromium.launch({ ...config.use?.launchOptions, executablePath: CHROMIUM_PATH });
  try {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
    const u = new URL(url);
    u.hash = `#/chat?model=${encodeURIComponent(NAME)}`;
    t = performance.now();
    await page.goto(u.href);
    const status = page.locator('#chat-engine-status');
    await status.waitFor();
    await page.waitForFunction(() => ['ready', 'failed', 'lost'].includes(document.getElementById('chat-engine-status')?.dataset.state ?? ''), undefined, { timeout: 20 * 60_000, polling: 500 });
    const text = (await status.textContent()) ?? '';
    if ((await status.getAttribute('data-state')) !== 'ready') throw new Error(`the page could not load the model: ${text}`);
    const wall = (performance.now() - t) / 1000;
    const weightsMiB = Number(/([\d.]+) MiB of weights/.exec(text)?.[1] ?? NaN);
    const load = Number(/loaded in ([\d.]+) s/.exec(text)?.[1] ?? NaN);
    const tune = Number(/\(([\d.]+) s of it measuring kernels\)/.exec(text)?.[1] ?? 0);
    await page.locator('#chat-greedy').click();
    await page.locator('#chat-maxTokens').fill(String(N));
    await page.locator('#chat-prompt').fill('Once upon a time');
    await page.locator('#chat-send').click();
    await page.waitForFunction(() => [...document.querySelectorAll('.chat-reply')].at(-1)?.getAttribute('data-state') === 'done', undefined, { timeout: 30 * 60_000, polling: 1000 });
    const stats = (await page.locator('#chat-stats').textContent()) ?? '';
    const decode = Number(/decode \d+ tokens, ([\d.]+) tokens\/s/.exec(stats)?.[1] ?? NaN);
    const weightsMB = (weightsMiB * 1024 ** 2) / 1e6;
    console.log(`page status: ${text}`);
    console.log(
      `page:  load ${load.toFixed(1)} s, ${tune.toFixed(1)} s of it tuning kernels (${(weightsMB / (load - tune)).toFixed(0)} MB/s of weights from pixels over the WebSocket; ${wall.toFixed(1)} s to ready), decode ${decode} tokens/s`,
    );
    console.log(`node:  load ${node.load.toFixed(1)} s (${(weightsMB / node.load).toFixed(0)} MB/s), decode ${node.decode} tokens/s`);
    console.log(`page ÷ node: load time ${((load - tune) / node.load).toFixed(2)}× (tuning left out), decode ${(decode / node.decode).toFixed(2)}×`);
  } finally {
    await browser.close();
    serve.kill('SIGTERM');
  }
} finally {
  if (KEEP) console.log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}
