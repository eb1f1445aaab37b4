/**
 * Chat in Chromium against browser mode: stories260K is imported into a fresh volume (small
 * tiles, so every tensor spans several checksummed PNG tiles), `pxi serve` serves it, and the
 * page runs the WGSL engine in a worker on SwiftShader with the weights read over IPC from the
 * pixel tiles. Greedy "Once upon a time" must continue exactly as llama.cpp does on the GGUF.
 */
import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, projectRoot } from '../support/fixtures';
import { openReference, referenceMissing } from '../support/llama-cpp';
import { serveDataDir, type ServeProcess } from './serve-fixture';

const MODEL = fixturePath('models', 'stories260K.gguf');
const PROMPT = 'Once upon a time';
const TOKENS = 40;

let dataDir = '';
let serve: ServeProcess | null = null;
let url = '';
/** What `pxi chat` (Node, Dawn) answered to CHAT_TURNS with the generated chat model, greedy. */
let nodeChat = '';
const CHAT_TURNS = ['hi', 'tell me more'];
const CHAT_TOKENS = 8;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-chat-'));
  const volume = join(dataDir, 'volume');
  const pxi = (...args: string[]) => {
    const r = spawnSync(process.execPath, ['bin/pxi.js', ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000, input: args[0] === 'chat' ? CHAT_TURNS.join('\n') + '\n' : '' });
    expect(r.status, `pxi ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };
  // A model with a chat template (ChatML): random F32 weights, so its text is noise, but the
  // same noise on every host (its next-token margins are wide).
  const tiny = join(dataDir, 'tiny-qwen2.gguf');
  pxi('gen', '--preset', 'tiny-qwen2', '--type', 'F32', '--quiet', '-o', tiny);
  // The imports run before serve: one process owns a volume at a time.
  pxi('import', MODEL, '--volume', volume, '--tile-size', '64', '--skip-pyramid');
  pxi('import', tiny, '--volume', volume, '--skip-pyramid');
  nodeChat = pxi('chat', 'tiny-qwen2', '--volume', volume, '--temp', '0', '-n', String(CHAT_TOKENS));
  serve = await serveDataDir(dataDir);
  url = serve.url;
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('greedy chat with stories260K from pixels gives llama.cpp\'s continuation', async ({ page }) => {
  test.setTimeout(120_000);
  test.skip(referenceMissing !== null, referenceMissing ?? '');
  const ref = await openReference(MODEL, 128);
  let expected: string;
  try {
    const want = await ref.greedy([ref.bos!, ...ref.tokenize(PROMPT)], TOKENS);
    // The engine stops at end of text; llama.cpp's evaluate goes on past it.
    const eos = want.indexOf(ref.eos!);
    expected = ref.detokenize(eos < 0 ? want : want.slice(0, eos));
  } finally {
    await ref.dispose();
  }
  expect(expected.startsWith(', there was a little girl named Lily')).toBe(true);

  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.locator('nav a[data-view="chat"]').click();
  await expect(page.locator('#view h1')).toHaveText('Chat');

  const model = page.locator('#chat-model');
  const id = await model.locator('option', { hasText: 'stories260K' }).getAttribute('value');
  await model.selectOption(id!);
  const status = page.locator('#chat-engine-status');
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(status).toContainText('stories260K');
  // The engine measured its decode kernels on this adapter before loading (once per GPU), and
  // whatever shapes it chose, the greedy text below must still be llama.cpp's.
  await expect(status).toContainText(/tuned kernels: F32 \d+x\d+ \([\d.]+×\)|kernel shapes measured: the defaults are fastest here/);
  expect(await page.evaluate(() => JSON.parse(localStorage.getItem('pxi.kernelTuning') ?? '{}').records?.length)).toBe(1);
  // The Memory panel: the worker's allocation ledger at load, stories260K's weights and
  // activations; the KV cache is paged (issue 12), so a freshly loaded model holds none of it.
  const memory = page.locator('#chat-memory');
  await memory.locator('summary').click();
  await expect(memory.locator('summary')).toContainText(/GPU memory: [\d.]+ MiB in \d+ buffers/);
  await expect(memory.locator('tr.mem-row[data-kind="weights"]')).toBeVisible();
  await expect(memory.locator('tr.mem-row[data-kind="kv-cache"]')).toHaveCount(0);
  await expect(memory.locator('tr.mem-row[data-kind="activations"]')).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('chat-memory.png') });
  await memory.locator('summary').click();
  // No chat template: the UI says it is plain completion, and chat mode cannot be chosen.
  await expect(page.locator('#chat-mode-note')).toContainText('no chat template');
  await expect(page.locator('#chat-mode')).toBeDisabled();

  await page.locator('#chat-greedy').click();
  await expect(page.locator('#chat-temperature')).toHaveValue('0');
  await page.locator('#chat-maxTokens').fill(String(TOKENS));
  await page.locator('#chat-prompt').fill(PROMPT);
  // Every text the reply shows on its way, to see that it streamed rather than arrived whole.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { replyTexts: string[] }).replyTexts = seen;
    new MutationObserver(() => {
      const r = document.querySelectorAll('.chat-reply');
      const t = r[r.length - 1]?.textContent ?? '';
      if (seen.at(-1) !== t) seen.push(t);
    }).observe(document.getElementById('chat-log')!, { childList: true, subtree: true, characterData: true });
  });
  await page.locator('#chat-send').click();

  const reply = page.locator('.chat-reply').last();
  await expect(reply).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  expect(await reply.textContent()).toBe(expected);
  const partials = await page.evaluate(() => (window as unknown as { replyTexts: string[] }).replyTexts.filter((t) => t.length > 0));
  expect(partials.length, 'the reply arrived in several pieces').toBeGreaterThan(5);
  expect(partials.every((t) => expected.startsWith(t)), 'each piece extends the last').toBe(true);
  await expect(page.locator('.chat-prompt-text').last()).toHaveText(PROMPT);
  const stats = (await page.locator('#chat-stats').textContent()) ?? '';
  expect(stats).toMatch(/decode \d+ tokens, [\d.]+ tokens\/s/);
  await expect(page.locator('#chat-stop')).toBeDisabled();
  // After the reply the Memory panel shows the KV cache's pages: K and V of each of the 5 blocks.
  await expect(memory.locator('tr.mem-row[data-kind="kv-cache"] td').nth(1)).toHaveText('10');
  test.info().annotations.push({ type: 'speed', description: stats });
  console.log(`chat (Chromium/SwiftShader, stories260K from pixels): ${stats}`);
  await page.screenshot({ path: test.info().outputPath('chat.png'), fullPage: true });

  // Stop: a long reply ends where it was stopped, and says so.
  await page.locator('#chat-maxTokens').fill('2000');
  await page.locator('#chat-prompt').fill(PROMPT);
  await page.locator('#chat-send').click();
  const second = page.locator('.chat-reply').nth(1);
  await expect.poll(async () => ((await second.textContent()) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(10);
  await page.locator('#chat-stop').click();
  await expect(second).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
  await expect(page.locator('#chat-stats')).toContainText('stop: stopped');
  expect(expected.startsWith((await second.textContent()) ?? 'x') || ((await second.textContent()) ?? '').startsWith(expected)).toBe(true);

  // Typed while a reply streams: queued, shown, and sent when the reply ends; Stop gives queued
  // text back to the box. Nothing typed is lost.
  await page.locator('#chat-prompt').fill(PROMPT);
  await page.locator('#chat-send').click();
  const third = page.locator('.chat-reply').nth(2);
  await expect.poll(async () => ((await third.textContent()) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(10);
  await expect(page.locator('#chat-send')).toHaveText('Queue');
  await page.locator('#chat-prompt').fill('Later there was a cat');
  await page.locator('#chat-prompt').press('Enter');
  await expect(page.locator('#chat-prompt')).toHaveValue('');
  await expect(page.locator('.chat-turn.queued')).toContainText('Later there was a cat');
  await page.locator('#chat-stop').click();
  await expect(third).toHaveAttribute('data-state', 'done', { timeout: 30_000 });
  await expect(page.locator('#chat-prompt')).toHaveValue('Later there was a cat');
  await expect(page.locator('.chat-turn.queued')).toHaveCount(0);

  await page.locator('#chat-maxTokens').fill('60');
  await page.locator('#chat-prompt').fill(PROMPT);
  await page.locator('#chat-send').click();
  await expect.poll(async () => ((await page.locator('.chat-reply').nth(3).textContent()) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(3);
  await page.locator('#chat-prompt').fill('Later there was a cat');
  await page.locator('#chat-prompt').press('Enter');
  // The queued message goes by itself once the reply before it is done.
  await expect(page.locator('.chat-reply').nth(4)).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(page.locator('.chat-prompt-text').nth(4)).toHaveText('Later there was a cat');
  await expect(page.locator('.chat-turn.queued')).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath('chat-queued.png'), fullPage: true });
  expect(errors).toEqual([]);
});

test('a lost GPU device is reported, and Reload brings the model back', async ({ page, context }) => {
  test.setTimeout(120_000);
  await page.goto(url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.locator('nav a[data-view="chat"]').click();
  const model = page.locator('#chat-model');
  await model.selectOption((await model.locator('option', { hasText: 'stories260K' }).getAttribute('value'))!);
  const status = page.locator('#chat-engine-status');
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(page.locator('#chat-reload')).toBeHidden();

  // What a driver reset or a GPU process crash does to a running page.
  const cdp = await context.browser()!.newBrowserCDPSession();
  await cdp.send('Browser.crashGpuProcess');
  await expect(status).toHaveAttribute('data-state', 'lost', { timeout: 30_000 });
  await expect(status).toContainText('GPU device was lost');
  await expect(page.locator('#chat-send')).toBeDisabled();
  // The compositor needs the new GPU process before the page can be captured: a capture can fail
  // until then ("Unable to capture screenshot"), so wait for one that succeeds.
  const shot = test.info().outputPath('chat-device-lost.png');
  await expect.poll(() => page.screenshot({ path: shot }).then(() => true, () => false), { timeout: 30_000 }).toBe(true);

  await page.locator('#chat-reload').click();
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('8');
  await page.locator('#chat-prompt').fill(PROMPT);
  await page.locator('#chat-prompt').press('Enter');
  const reply = page.locator('.chat-reply').last();
  await expect(reply).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  expect(await reply.textContent()).toBe(', there was a little girl'); // the first 8 greedy tokens, as before the loss
});

test('a model with a chat template: turns through the template, as pxi chat answers them', async ({ page }) => {
  test.setTimeout(120_000);
  // Opened by link, the model named in it (#/chat?model=NAME).
  await page.goto(`${url}#/chat?model=tiny-qwen2`);
  await expect(page.locator('#chat-model option:checked')).toContainText('tiny-qwen2');
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(page.locator('#chat-mode')).toBeEnabled();
  await expect(page.locator('#chat-mode')).toHaveValue('chat');
  await expect(page.locator('#chat-mode-note')).toContainText('chat template');
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill(String(CHAT_TOKENS));
  const replies: string[] = [];
  for (const [i, turn] of CHAT_TURNS.entries()) {
    await page.locator('#chat-prompt').fill(turn);
    await page.locator('#chat-prompt').press('Enter');
    const reply = page.locator('.chat-turn.assistant .chat-reply').nth(i);
    await expect(reply).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
    replies.push((await reply.textContent()) ?? '');
  }
  await expect(page.locator('.chat-turn.user')).toHaveText(CHAT_TURNS.map((t) => new RegExp(`${t}$`)));
  // pxi chat prints each reply and a newline: the same conversation, the same replies.
  expect(replies.map((r) => `${r}\n`).join('')).toBe(nodeChat);
  await page.screenshot({ path: test.info().outputPath('chat-template.png') });
  await page.locator('#chat-reset').click();
  await expect(page.locator('.chat-turn')).toHaveCount(0);
});

test('the explorer shows the running engine live: the block being computed and the KV cache growing', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}#/chat?model=stories260K`);
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  const modelId = await page.locator('#chat-model').inputValue();
  await page.locator('#chat-greedy').click();
  // Long enough to still be running once the explorer is up (stories260K's context is 2048 tokens).
  await page.locator('#chat-maxTokens').fill('480');
  await page.locator('#chat-prompt').fill(PROMPT);
  await page.locator('#chat-send').click();
  await expect.poll(async () => ((await page.locator('.chat-reply').last().textContent()) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(0);

  // The reply goes on while the user looks at the map (opened on the model, as Models' Open does;
  // a hash change, not a reload).
  await page.evaluate((id) => (location.hash = `#/explorer?model=${id}`), modelId);
  const live = page.locator('#ex-live');
  await expect(live).toBeVisible({ timeout: 30_000 });
  await expect(live).toHaveAttribute('data-model', modelId);
  // Every state the panel shows, as the page sees it.
  await page.evaluate(() => {
    const seen: { phase: string; block: string; position: number }[] = [];
    (window as unknown as { liveSeen: typeof seen }).liveSeen = seen;
    const node = document.getElementById('ex-live')!;
    const note = () => seen.push({ phase: node.dataset.phase ?? '', block: node.dataset.block ?? '', position: Number(node.dataset.position) });
    note();
    new MutationObserver(note).observe(node, { attributes: true });
  });
  await expect(live).toHaveAttribute('data-phase', 'decode', { timeout: 10_000 });
  await expect(page.locator('.explorer')).toHaveAttribute('data-live-active', 'true');
  await expect.poll(async () => Number(await page.locator('.explorer').getAttribute('data-live-kv-rects')), { timeout: 10_000 }).toBeGreaterThan(0);
  // The residual stream after each of the 5 blocks (64 wide) is drawn over the activations band.
  await expect(page.locator('.explorer')).toHaveAttribute('data-live-activations', '5x64', { timeout: 10_000 });
  await expect(live).toContainText(/decode · (blk\.\d of 5 blocks|output head) · KV cache [\d,]+ of 2,048 tokens/);
  await page.screenshot({ path: test.info().outputPath('explorer-live.png') });
  // In 3D the layer being computed is framed: blocks are layers 1..5, the output head layer 6.
  await page.locator('[data-action="mode"]').click();
  await expect(page.locator('.explorer')).toHaveAttribute('data-mode', '3d');
  await expect(page.locator('.explorer')).toHaveAttribute('data-live-layer', /^[1-6]$/, { timeout: 10_000 });
  await page.screenshot({ path: test.info().outputPath('explorer-live-3d.png') });
  await page.locator('[data-action="mode"]').click();
  await expect(page.locator('.explorer')).toHaveAttribute('data-mode', '2d');

  await expect(live).toHaveAttribute('data-phase', 'idle', { timeout: 90_000 });
  const seen = await page.evaluate(() => (window as unknown as { liveSeen: { phase: string; block: string; position: number }[] }).liveSeen);
  const decode = seen.filter((s) => s.phase === 'decode');
  // Blocks 0..4 and the output head (5) came by, and the cache only grew while decoding.
  expect(new Set(decode.map((s) => s.block)).size).toBeGreaterThanOrEqual(3);
  expect(decode.every((s, i) => i === 0 || s.position >= decode[i - 1]!.position)).toBe(true);
  const final = Number(await live.getAttribute('data-position'));
  expect(final).toBeGreaterThan(decode[0]!.position);
  // Idle: nothing lit, the KV cache's bytes still drawn in its band.
  await expect(page.locator('.explorer')).toHaveAttribute('data-live-active', 'false');
  expect(Number(await live.getAttribute('data-kv-bytes'))).toBe(final * 1280);

  // Back in Chat, the reply finished, and its length is what the cache holds.
  await page.locator('nav a[data-view="chat"]').click();
  await expect(page.locator('.chat-reply').last()).toHaveAttribute('data-state', 'done');
  expect(errors).toEqual([]);
});
