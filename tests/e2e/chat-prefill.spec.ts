import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

/**
 * A long prompt's prefill shows its progress, in Chromium against browser mode: a prompt of
 * about 300 tokens (stories260K prefills 128 tokens a pass) fills the "Reading the prompt"
 * progress bar (role=progressbar) batch by batch, the stats line says how many tokens are read,
 * then the reply streams and the bar is gone.
 */

let dataDir = '';
let serve: ServeProcess | null = null;
const PROMPT = 'Once upon a time, there was a little girl named Lily. She liked to play in the park with her dog. '.repeat(10).trim();

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-prefill-'));
  const r = spawnSync(process.execPath, ['bin/pxi.js', 'import', fixturePath('models', 'stories260K.gguf'), '--volume', join(dataDir, 'volume'), '--tile-size', '64', '--skip-pyramid'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  serve = await serveDataDir(dataDir);
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('prefill shows progress then the reply', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`${serve!.url}#/chat`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  const model = page.locator('#chat-model');
  const id = await model.locator('option', { hasText: 'stories260K' }).getAttribute('value');
  await model.selectOption(id!);
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });

  const bar = page.locator('#chat-prefill [role="progressbar"]');
  await expect(bar).toHaveAttribute('aria-label', 'Reading the prompt');
  await expect(page.locator('#chat-prefill')).toBeHidden();
  // Every value the bar and the stats line take, recorded as they change (the prefill of a tiny
  // model is quick: the record, not a screenshot at the right moment, is what is checked).
  await page.evaluate(() => {
    const w = window as unknown as { prefillSeen: { text: string; visible: boolean; stats: string }[] };
    w.prefillSeen = [];
    const box = document.getElementById('chat-prefill')!;
    const stats = document.getElementById('chat-stats')!;
    const note = () => {
      const text = box.querySelector('[role="progressbar"]')!.getAttribute('aria-valuetext') ?? '';
      const last = w.prefillSeen.at(-1);
      const entry = { text, visible: !box.hidden, stats: stats.textContent ?? '' };
      if (!last || last.text !== entry.text || last.visible !== entry.visible || last.stats !== entry.stats) w.prefillSeen.push(entry);
    };
    new MutationObserver(note).observe(box, { attributes: true, subtree: true, childList: true, characterData: true });
    new MutationObserver(note).observe(stats, { childList: true, characterData: true, subtree: true });
  });
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('8');
  await page.locator('#chat-prompt').fill(PROMPT);
  await page.locator('#chat-send').click();
  const reply = page.locator('.chat-reply').last();
  await expect(reply).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(reply).not.toHaveText('');
  await expect(page.locator('#chat-prefill')).toBeHidden();
  await expect(page.locator('#chat-stats')).toContainText(/prefill \d+ tokens/);

  const seen = await page.evaluate(() => (window as unknown as { prefillSeen: { text: string; visible: boolean; stats: string }[] }).prefillSeen);
  const shown = seen.filter((s) => s.visible).map((s) => s.text);
  // The bar was shown with batch figures: 0, 128 and 256 tokens of the same total, in order.
  const figures = shown.map((t) => /^([\d,]+) tokens \/ ([\d,]+) tokens/.exec(t)).filter((m) => m !== null).map((m) => [Number(m![1]!.replace(/,/g, '')), Number(m![2]!.replace(/,/g, ''))]);
  expect(figures.length, JSON.stringify(seen)).toBeGreaterThanOrEqual(2);
  const total = figures[0]![1]!;
  expect(total).toBeGreaterThan(256);
  expect(figures.every(([, t]) => t === total)).toBe(true);
  const done = figures.map(([d]) => d!);
  expect(done).toEqual([...done].sort((a, b) => a - b));
  expect(done).toContain(128);
  expect(done).toContain(256);
  expect(seen.some((s) => /reading the prompt: 128 of/.test(s.stats))).toBe(true);
  // Its stats line names the prompt's tokens: the whole prompt was read.
  await expect(page.locator('#chat-stats')).toContainText(`prefill ${total} tokens`);
  await page.screenshot({ path: test.info().outputPath('chat-prefill-done-1280x720.png') });
  expect(errors).toEqual([]);
});

test('context length setting changes the memory figure and is kept after reload', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(`${serve!.url}#/chat`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  const status = page.locator('#chat-engine-status');
  const memory = page.locator('#chat-context-memory');
  const context = page.locator('#chat-context');
  await expect(context).toHaveValue('');
  await expect(memory).toContainText('once a model is loaded');
  const model = page.locator('#chat-model');
  const id = (await model.locator('option', { hasText: 'stories260K' }).getAttribute('value'))!;
  await model.selectOption(id);
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  // stories260K's KV cache takes 1.25 KiB a token (the engine's kvBytesPerToken): the figure is
  // the context times that.
  const defaultContext = Number(/context (\d+) tokens/.exec((await status.textContent())!)![1]);
  expect(defaultContext).toBeGreaterThan(256);
  const mib = ((defaultContext * 1.25) / 1024).toFixed(2);
  await expect(memory).toHaveText(`KV cache: ${defaultContext.toLocaleString('en-US')} tokens × 1.25 KiB = ${mib} MiB of GPU memory`);

  // A bad value is refused with the value named; nothing changes.
  await context.fill('8');
  await context.press('Tab');
  await expect(page.locator('#view .error[role="alert"]').first()).toContainText('got 8');
  await expect(context).toHaveAttribute('aria-invalid', 'true');

  await context.fill('256');
  await context.press('Tab');
  await expect(context).toHaveAttribute('aria-invalid', 'false');
  await expect(memory).toHaveText('KV cache: 256 tokens × 1.25 KiB = 320 KiB of GPU memory');
  // The model is loaded again with that context.
  await expect(status).toContainText('context 256 tokens', { timeout: 60_000 });
  await expect(status).toHaveAttribute('data-state', 'ready');
  await page.screenshot({ path: test.info().outputPath('chat-context-1920x1080.png') });

  // Kept after a reload: the field shows it and the model loads with it.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.setViewportSize({ width: 1280, height: 720 });
  await expect(context).toHaveValue('256');
  await model.selectOption(id);
  await expect(status).toContainText('context 256 tokens', { timeout: 60_000 });
  await expect(memory).toHaveText('KV cache: 256 tokens × 1.25 KiB = 320 KiB of GPU memory');
  await page.screenshot({ path: test.info().outputPath('chat-context-1280x720.png') });

  // Back to the model's default.
  await context.fill('');
  await context.press('Tab');
  await expect(status).toContainText(`context ${defaultContext} tokens`, { timeout: 60_000 });
  // The default is what is remembered now: a reload loads the model with it.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(status).toContainText(`context ${defaultContext} tokens`, { timeout: 60_000 });
  await expect(context).toHaveValue('');
  expect(errors).toEqual([]);
});

test('each conversation keeps its own context length, across a reload', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`${serve!.url}#/chat`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  const status = page.locator('#chat-engine-status');
  const context = page.locator('#chat-context');
  const model = page.locator('#chat-model');
  const id = (await model.locator('option', { hasText: 'stories260K' }).getAttribute('value'))!;
  await model.selectOption(id);
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  const conversationId = () => Number(new URL(page.url()).hash.match(/conversation=(\d+)/)?.[1] ?? NaN);

  /** A new conversation with context `n`: the model reloads with it, then one short reply. */
  const start = async (n: number, text: string, after: boolean): Promise<number> => {
    // The page opens on a new conversation (New conversation is disabled until there is one).
    if (after) await page.locator('#chat-reset').click();
    await expect(page.locator('#chat-conversation-title')).toHaveText('New conversation');
    await context.fill(String(n));
    await context.press('Tab');
    await expect(status).toContainText(`context ${n} tokens`, { timeout: 60_000 });
    await expect(status).toHaveAttribute('data-state', 'ready');
    await page.locator('#chat-maxTokens').fill('4');
    await page.locator('#chat-prompt').fill(text);
    await page.locator('#chat-prompt').press('Enter');
    await expect(page.locator('.chat-reply').last()).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    await expect.poll(conversationId).toBeGreaterThan(0);
    return conversationId();
  };
  const a = await start(64, 'A cat sat', false);
  const b = await start(128, 'The dog', true);
  expect(b).not.toBe(a);

  // A reload opens B with its own context; A, chosen in the list, reloads the model with 64.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(context).toHaveValue('128');
  await expect(status).toContainText('context 128 tokens', { timeout: 60_000 });
  await expect(page.locator('#chat-context-memory')).toHaveText('KV cache: 128 tokens × 1.25 KiB = 160 KiB of GPU memory');
  await page.locator('.chat-conversation', { hasText: 'A cat sat' }).click();
  await expect(context).toHaveValue('64');
  await expect(status).toContainText('context 64 tokens', { timeout: 60_000 });
  await expect(page.locator('#chat-context-memory')).toHaveText('KV cache: 64 tokens × 1.25 KiB = 80.0 KiB of GPU memory');
  await page.screenshot({ path: test.info().outputPath('chat-context-per-conversation-1280x720.png') });

  // A change is kept with the open conversation at once, with no message sent; B keeps its own.
  await context.fill('96');
  await context.press('Tab');
  await expect(status).toContainText('context 96 tokens', { timeout: 60_000 });
  await page.goto('about:blank');
  await page.goto(`${serve!.url}#/chat?conversation=${a}`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await expect(context).toHaveValue('96');
  await expect(status).toContainText('context 96 tokens', { timeout: 60_000 });
  await page.locator('.chat-conversation', { hasText: 'The dog' }).click();
  await expect(context).toHaveValue('128');
  await expect(status).toContainText('context 128 tokens', { timeout: 60_000 });
  await page.screenshot({ path: test.info().outputPath('chat-context-per-conversation-1920x1080.png') });
  expect(errors).toEqual([]);
});
