/**
 * Chat "with corpus" in Chromium against browser mode: stories260K from pixels, the built-in
 * corpus pxi-docs chosen before the volume holds it (the services add it on the first search),
 * a question answered with cited sources that expand to their text, a message with no word to
 * search for, and no sources once the corpus is set back to none; a source's "Show on the map"
 * opening the Explorer with the reply's passages lit over pxi-docs's text tiles.
 */
import { expect, test } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

const MODEL = fixturePath('models', 'stories260K.gguf');

let dataDir = '';
let serve: ServeProcess | null = null;
let url = '';

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-chat-corpus-'));
  // The import runs before serve: one process owns a volume at a time.
  const r = spawnSync(process.execPath, ['bin/pxi.js', 'import', MODEL, '--volume', join(dataDir, 'volume'), '--skip-pyramid'], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  serve = await serveDataDir(dataDir);
  url = serve.url;
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a question asked with the built-in corpus is answered with its passages as cited sources', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}#/chat?model=stories260K`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });

  // The picker offers the built-in corpus before the volume holds it.
  const picker = page.locator('#chat-corpus');
  await expect(picker).toHaveAttribute('data-loaded', 'true');
  await expect(picker).toHaveValue('');
  await expect(picker.locator('option[value="pxi-docs"]')).toContainText('added on first use');
  await picker.selectOption('pxi-docs');

  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('8');
  await page.locator('#chat-prompt').fill('How does PixelFS store tiles?');
  await page.locator('#chat-prompt').press('Enter');

  const reply = page.locator('.chat-reply').last();
  await expect(reply).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  // The transcript shows the question as typed; the passages went to the model, and are cited.
  await expect(page.locator('.chat-prompt-text').last()).toHaveText('How does PixelFS store tiles?');
  const sources = page.locator('.chat-sources').last();
  await expect(sources).toHaveAttribute('data-corpus', 'pxi-docs');
  const count = Number(await sources.getAttribute('data-count'));
  expect(count).toBeGreaterThanOrEqual(1);
  expect(count).toBeLessThanOrEqual(4);
  await expect(sources.locator('summary').first()).toContainText(`Sources: ${count} passage`);
  // The PixelFS spec is among the cited sources (the specs grow: pxi_llm.md also describes how
  // tiles are stored, so it need not be the first), numbered in citation order.
  await expect(sources.locator('.chat-source').first()).toHaveAttribute('data-lines', /^\d+-\d+$/);
  const first = sources.locator('.chat-source[data-document="specs/pixelfs.md"]').first();
  await expect(first).toHaveAttribute('data-lines', /^\d+-\d+$/);
  await expect(first.locator('summary')).toContainText(/^\[[1-4]\] specs\/pixelfs\.md › PixelFS: files as PNG tiles.* \(lines? \d+/);
  // Each source's text is there on expanding it.
  const text = first.locator('.chat-source-text');
  await expect(text).toBeHidden();
  await first.locator('summary').click();
  await expect(text).toBeVisible();
  await expect(text).toContainText(/PixelFS|tile/);
  await page.screenshot({ path: test.info().outputPath('chat-corpus-sources.png'), fullPage: true });

  // A message with no word to search for: the reply says there are no sources.
  await page.locator('#chat-prompt').fill('?!');
  await page.locator('#chat-prompt').press('Enter');
  await expect(page.locator('.chat-reply').nth(1)).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(page.locator('.chat-sources-none').last()).toContainText('No sources from pxi-docs: the message has no words to search for');

  // Back to no corpus: the next reply has no sources.
  await picker.selectOption('');
  await page.locator('#chat-prompt').fill('Once upon a time');
  await page.locator('#chat-prompt').press('Enter');
  await expect(page.locator('.chat-reply').nth(2)).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(page.locator('.chat-sources')).toHaveCount(1);
  await expect(page.locator('.chat-sources-none')).toHaveCount(1);

  // The volume holds the built-in corpus now: the picker lists it as present after a revisit.
  await page.locator('nav a[data-view="models"]').click();
  await page.locator('nav a[data-view="chat"]').click();
  await expect(page.locator('#chat-corpus')).toHaveAttribute('data-loaded', 'true');
  await expect(page.locator('#chat-corpus option[value="pxi-docs"]')).toHaveText("pxi-docs · this project's README and specs");
  expect(errors).toEqual([]);
});

test('a cited source shows its passages lit on the map', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}#/chat?model=stories260K`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  const picker = page.locator('#chat-corpus');
  await expect(picker).toHaveAttribute('data-loaded', 'true');
  await picker.selectOption('pxi-docs');
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('8');
  await page.locator('#chat-prompt').fill('How does PixelFS store tiles?');
  await page.locator('#chat-prompt').press('Enter');
  await expect(page.locator('.chat-reply').last()).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  const sources = page.locator('.chat-sources').last();
  const count = Number(await sources.getAttribute('data-count'));
  expect(count).toBeGreaterThanOrEqual(1);

  const show = sources.locator('.chat-source').first().locator('a.chat-source-map');
  await expect(show).toHaveText('Show on the map');
  await expect(show).toHaveAttribute('href', /^#\/explorer\?corpus=pxi-docs&passages=\d+:\d+-\d+(,\d+:\d+-\d+)*&focus=0$/);
  await show.click();

  const explorer = page.locator('section.explorer');
  await expect(explorer).toHaveAttribute('data-started', 'true', { timeout: 60_000 });
  const legend = page.locator('#ex-passage-legend');
  await expect(legend).toHaveAttribute('data-state', 'lit', { timeout: 30_000 });
  await expect(legend).toHaveAttribute('data-corpus', 'pxi-docs');
  await expect(legend).toHaveAttribute('data-passages', String(count));
  await expect(legend).toContainText(`Lit: ${count} passage${count === 1 ? '' : 's'} used by the last answer, in pxi-docs's text tiles`);
  // The overlay is in the scene, and the flight to the passage has ended.
  await expect(legend).toHaveAttribute('data-drawn', /^[1-9]\d*$/, { timeout: 30_000 });
  await expect(explorer).toHaveAttribute('data-animating', 'false', { timeout: 30_000 });
  await page.screenshot({ path: test.info().outputPath('chat-corpus-passages-on-map.png') });
  expect(errors).toEqual([]);
});
