/**
 * The residency plan and the paged KV cache on the map (issue 12 items 3 and 6), in Chromium
 * (SwiftShader) against browser mode: stories260K is loaded in Chat under a GPU memory budget
 * smaller than its weights (context 64, 1200 KB: KV cache, activations and norms take about 500 KB,
 * leaving room for some of its 1.17 MB of weight matrices), so some stream and some stay; the Dashboard lists the plan; the
 * Explorer's Residency overlay marks tensors resident and streamed with a legend; a generation
 * gives the KV cache its first page, which the live view draws in the kv-cache band.
 */
import { expect, test, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

let dataDir = '';
let serve: ServeProcess | null = null;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-residency-'));
  // Imported before serve: one process owns a volume at a time.
  const r = spawnSync(process.execPath, ['bin/pxi.js', 'import', fixturePath('models', 'stories260K.gguf'), '--volume', join(dataDir, 'volume')], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  serve = await serveDataDir(dataDir);
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The live panel's KV figures as the page shows them. */
async function kvShown(page: Page): Promise<{ pages: number; pageSize: number; position: number; valid: string }> {
  const d = await page.locator('#ex-live').evaluate((e: HTMLElement) => ({ ...e.dataset }));
  return { pages: Number(d.kvPages), pageSize: Number(d.kvPageSize), position: Number(d.position), valid: d.kvPagesValid ?? '' };
}

async function openExplorer(page: Page, modelId: string): Promise<void> {
  // A hash change, not a reload: the engine (and its model) stays.
  await page.evaluate((id) => (location.hash = `#/explorer?model=${id}`), modelId);
  await expect(page.locator('.explorer')).toHaveAttribute('data-started', 'true', { timeout: 30_000 });
  await expect(page.locator('#ex-live')).toBeVisible({ timeout: 30_000 });
}

test('a GPU memory budget streams some weights: the Dashboard lists the plan, the Explorer marks tensors resident and streamed and draws the KV pages', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`${serve!.url}#/chat`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#view h1')).toHaveText('Chat');

  // A budget that is not a size is refused, with the value, and not kept.
  const budget = page.locator('#chat-gpu-memory');
  await budget.fill('lots');
  await budget.dispatchEvent('change');
  await expect(budget).toHaveAttribute('aria-invalid', 'true');
  await page.locator('#chat-context').fill('64');
  await page.locator('#chat-context').dispatchEvent('change');
  await budget.fill('1200 KB');
  await budget.dispatchEvent('change');
  await expect(budget).toHaveAttribute('aria-invalid', 'false');

  const model = page.locator('#chat-model');
  const modelId = (await model.locator('option', { hasText: 'stories260K' }).getAttribute('value'))!;
  if ((await model.inputValue()) !== modelId) await model.selectOption(modelId);
  const status = page.locator('#chat-engine-status');
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  // The plan of this load, in words beside the field: some matrices stream under 1200 KiB.
  const note = page.locator('#chat-gpu-memory-note');
  await expect(note).toContainText(/^Budget 1\.17 MiB: \d+ of \d+ weight matrices stream from host memory each token/);

  // The Dashboard lists the plan of the model loaded now.
  await page.locator('nav a[data-view="dashboard"]').click();
  const plan = page.locator('#dashboard-residency');
  await expect(plan).toBeVisible();
  expect(Number(await plan.getAttribute('data-streamed'))).toBeGreaterThanOrEqual(1);
  expect(Number(await plan.getAttribute('data-resident'))).toBeGreaterThanOrEqual(1);
  await expect(plan.locator('.dashboard-line').first()).toContainText('budget 1.23 MB');
  // The load under the budget is a decision the engine took: it is listed as a session.
  const planned = page.locator('.dashboard-sessions tbody tr[data-kind="residency"]');
  await expect(planned).toHaveCount(1);
  await expect(planned).toHaveAttribute('data-decision', 'recorded');
  await expect(planned).toContainText('Memory plan');
  await plan.locator('summary').click();
  await expect(plan.locator('li[data-residency="streamed"]').first()).toContainText('streamed from host memory each token');
  await page.screenshot({ path: test.info().outputPath('dashboard-residency-1280x720.png'), fullPage: true });

  // The Explorer before any reply: the KV cache holds no page yet.
  await openExplorer(page, modelId);
  await expect(page.locator('#ex-live')).toHaveAttribute('data-kv-pages', '0');
  await expect(page.locator('.explorer')).toHaveAttribute('data-live-kv-pages', '0');

  // The Residency overlay: a legend in plain words, tensors of both kinds drawn.
  const toggle = page.getByRole('button', { name: /^Residency/ });
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  const legend = page.locator('#ex-residency-legend');
  await expect(legend).toHaveAttribute('data-state', 'on', { timeout: 10_000 });
  await expect(legend).toContainText('GPU memory budget 1.17 MiB');
  await expect(legend.locator('[data-key="resident"]')).toContainText(/resident: kept in GPU memory \(\d+ tensors\)/);
  await expect(legend.locator('[data-key="streamed"]')).toContainText(/streamed: uploaded from host memory each token \(\d+ tensors?, [\d.]+ \w+ per token\)/);
  expect(Number(await legend.getAttribute('data-streamed'))).toBeGreaterThanOrEqual(1);
  expect(Number(await legend.getAttribute('data-resident'))).toBeGreaterThanOrEqual(1);
  // Weight matrices among the resident ones, not only the norms that stay whatever the budget.
  expect(Number(await legend.getAttribute('data-resident-matrices'))).toBeGreaterThanOrEqual(1);
  await expect(legend).toHaveAttribute('data-drawn', /^[1-9]\d*$/);

  // A reply, from Chat; then back on the map, the KV cache holds its first page.
  await page.evaluate(() => (location.hash = '#/chat'));
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('24');
  await page.locator('#chat-prompt').fill('Once upon a time');
  await page.locator('#chat-send').click();
  await expect(page.locator('.chat-reply').last()).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await openExplorer(page, modelId);
  await expect.poll(async () => (await kvShown(page)).pages, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
  const kv = await kvShown(page);
  expect(kv.pageSize).toBe(256);
  expect(kv.position).toBeGreaterThan(4);
  // The pages shown are the positions in use over the page size, rounded up.
  expect(kv.pages).toBe(Math.ceil(kv.position / kv.pageSize));
  expect(kv.valid).toBe('true');
  await expect(page.locator('#ex-live')).toContainText(`KV cache ${kv.position} of 64 tokens`);
  await expect(page.locator('#ex-live')).toContainText(`${kv.pages} page of 256 positions`);
  await expect(page.locator('.explorer')).toHaveAttribute('data-live-kv-pages', String(kv.pages));
  // The overlay's legend names the pages in the same words.
  await toggle.click();
  await expect(legend).toHaveAttribute('data-state', 'on', { timeout: 10_000 });
  await expect(legend).toHaveAttribute('data-kv-pages', String(kv.pages));
  await expect(legend.locator('[data-key="kv"]')).toHaveText(`KV cache: 1 page of 256 positions allocated, ${kv.position} positions used`);

  const stage = page.locator('.ex-stage');
  const ex = page.locator('.explorer');
  for (const size of [
    { width: 1280, height: 720 },
    { width: 1920, height: 1080 },
  ]) {
    await page.setViewportSize(size);
    // The stage redrawn at the new size (its camera takes the stage's size).
    await expect.poll(async () => Number(await ex.getAttribute('data-width')) === (await stage.evaluate((e) => e.clientWidth)), { timeout: 10_000 }).toBe(true);
    await page.screenshot({ path: test.info().outputPath(`explorer-residency-${size.width}x${size.height}.png`) });
  }

  // Close up on the kv-cache band: its page and the positions in use, explained on hover.
  await toggle.click();
  await expect(legend).toBeHidden();
  const input = page.locator('.ex-search-input');
  await input.fill('kv-cache');
  await expect(page.locator('.ex-search-results li[data-region-id]').first()).toBeVisible();
  await input.press('Enter');
  const settled = () => expect.poll(async () => `${await ex.getAttribute('data-animating')} ${await ex.getAttribute('data-loading')}`, { timeout: 20_000 }).toBe('false false');
  await settled();
  await expect(ex).toHaveAttribute('data-selected-rect', /^\d+,\d+,\d+,\d+$/);
  const [bx, by] = (await ex.getAttribute('data-selected-rect'))!.split(',').map(Number) as [number, number];
  // Wheel in about the band's first tile, where its page lies (the wheel keeps the point under the pointer).
  const toScreen = async (x: number, y: number) => {
    const d = await ex.evaluate((e: HTMLElement) => ({ ...e.dataset }));
    const b = (await stage.boundingBox())!;
    return { x: Math.round(b.x + Number(d.width) / 2 + (x - Number(d.cx)) * Number(d.zoom)), y: Math.round(b.y + Number(d.height) / 2 + (y - Number(d.cy)) * Number(d.zoom)) };
  };
  const first = await toScreen(bx + 256, by + 8);
  await page.mouse.move(first.x, first.y);
  for (let i = 0; i < 8; i++) await page.mouse.wheel(0, -240);
  await settled();
  const onPage = await toScreen(bx + 256, by + 8);
  await page.mouse.move(onPage.x, onPage.y);
  await expect(page.locator('.ex-tooltip')).toContainText(`KV cache: 1 page of 256 positions allocated, ${kv.position} positions used (page 1: positions 0 to 63)`);
  await page.screenshot({ path: test.info().outputPath('explorer-kv-pages-1280x720.png') });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await expect.poll(async () => Number(await ex.getAttribute('data-width')) === (await stage.evaluate((e) => e.clientWidth)), { timeout: 10_000 }).toBe(true);
  const again = await toScreen(bx + 256, by + 8);
  await page.mouse.move(again.x, again.y);
  await expect(page.locator('.ex-tooltip')).toContainText('(page 1: positions 0 to 63)');
  await page.screenshot({ path: test.info().outputPath('explorer-kv-pages-1920x1080.png') });
  expect(errors).toEqual([]);
});
