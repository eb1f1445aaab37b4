/**
 * A navigation question in the Explorer's search box (specs/explorer.md, "Questions"), in
 * Chromium against browser mode: stories260K imported with `pxi import` (64² tiles) into a fresh
 * data folder, `pxi serve` on it. Asked with no model loaded, the index answers and the panel
 * says in plain words that no model is loaded; then stories260K is loaded in the control beside
 * the search box and answers (greedy, on WebGPU in the page's engine worker): the index's answer
 * is the tensor's top-left as the placement computes it, and the model's answer (stories260K
 * was never trained on the map: wrong) is marked against it. A question about a tensor the model
 * does not have leaves the model's answer unverified.
 */
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findGgmlType } from '../../shared/gguf/ggml-types';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { placeModel } from '../../shared/map/placement';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

const FIXTURE = fixturePath('models', 'stories260K.gguf');
const TILE = 64;
const Q_NAME = 'blk.0.attn_q.weight';

let dataDir: string;
let serve: ServeProcess | null = null;
let url: string;
let modelId: string;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-explorer-ask-'));
  // The volume is locked by one process: import first, then serve the same data folder.
  const out = execFileSync(process.execPath, ['bin/pxi.js', 'import', FIXTURE, '--volume', join(dataDir, 'volume'), '--tile-size', String(TILE), '--json'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  modelId = (JSON.parse(String(out)) as { model: { id: string } }).model.id;
  serve = await serveDataDir(dataDir);
  url = serve.url;
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The tensor's rectangle as the import places it (the first model on the map starts at the origin). */
function placed(name: string): { x: number; y: number; width: number; height: number } {
  const g = parseGgufBytes(new Uint8Array(readFileSync(FIXTURE)));
  const layout = placeModel({ modelId, tensors: g.tensors.map((t) => ({ name: t.name, ggmlType: findGgmlType(t.type)!.name, dims: [...t.dims], byteSize: t.byteSize })) }, { tileWidth: TILE, tileHeight: TILE });
  const r = layout.regions.find((x) => x.name === name)!;
  return { x: r.x, y: r.y, width: r.width, height: r.height };
}

async function ask(page: Page, question: string): Promise<void> {
  const input = page.locator('.ex-search-input');
  await input.fill(question);
  // A question is not searched: the list offers to ask it.
  await expect(page.locator('.ex-search-results .ex-search-ask')).toBeVisible();
  await input.press('Enter');
}

test('a navigation question: the model answers, the index answer beside it, right or wrong visibly', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const u = new URL(url);
  u.hash = `#/explorer?model=${modelId}`;
  await page.goto(u.toString());
  await expect(page.locator('#view h1')).toHaveText('Explorer');
  await expect(page.locator('.explorer')).toHaveAttribute('data-started', 'true', { timeout: 30_000 });

  const rect = placed(Q_NAME);
  const indexAnswer = `${rect.x},${rect.y}`;
  const panel = page.locator('#ex-ask');
  const status = page.locator('#ex-answerer-status');

  // Nothing loaded: said plainly, with the way to load one; the index still answers.
  await expect(status).toHaveAttribute('data-state', 'none');
  await expect(status).toContainText('no model loaded');
  await ask(page, `Where is ${Q_NAME}`);
  await expect(panel).toHaveAttribute('data-state', 'error');
  await expect(page.locator('#ex-ask-error')).toContainText('No model is loaded to answer');
  await expect(page.locator('#ex-ask-error')).toContainText('press Load');
  await expect(page.locator('#ex-ask-index-answer')).toHaveText(indexAnswer);

  // Load stories260K to answer, in the control beside the search box.
  const select = page.locator('#ex-answerer-model');
  await expect(select.locator('option', { hasText: 'stories260K' })).toHaveCount(1);
  await select.selectOption({ label: (await select.locator('option', { hasText: 'stories260K' }).textContent())! });
  await page.locator('#ex-answerer-load').click();
  await expect(status).toHaveAttribute('data-state', 'ready', { timeout: 90_000 });
  await expect(status).toContainText('loaded: stories260K');
  await expect(page.locator('#ex-answerer-load')).toBeHidden();

  await ask(page, `where is ${Q_NAME}?`);
  await expect(panel).toHaveAttribute('data-state', 'answered', { timeout: 60_000 });
  await expect(panel).toHaveAttribute('data-kind', 'where');
  await expect(panel).toHaveAttribute('data-index-answer', indexAnswer);
  await expect(page.locator('#ex-ask-index-answer')).toHaveText(indexAnswer);
  await expect(panel.locator('.ex-ask-prompt')).toHaveText(`prompt: Q: in stories260K, where is ${Q_NAME}? A:`);
  await expect(panel.locator('.ex-ask-about')).toContainText('answered by stories260K');
  const modelAnswer = (await panel.getAttribute('data-model-answer'))!;
  // stories260K never saw the map: its answer is not the index's, and is shown as wrong, in red.
  expect(modelAnswer.replace(/\s/g, '')).not.toBe(indexAnswer);
  await expect(panel).toHaveAttribute('data-verdict', 'wrong');
  await expect(page.locator('#ex-ask-verdict')).toHaveText(/^wrong/);
  await expect(page.locator('#ex-ask-model-answer')).toHaveText(modelAnswer === '' ? '(no answer)' : `“${modelAnswer}”`);
  const border = await panel.locator('.ex-ask-model').evaluate((e) => getComputedStyle(e).borderTopColor);
  expect(border).toBe('rgb(255, 122, 122)');
  // The view flew only if the answer named part of the model, and says which.
  const flew = await panel.getAttribute('data-flew');
  await expect(panel.locator('.ex-ask-note').first()).toContainText(flew === 'true' ? 'Flew to where the model’s answer points' : 'names nothing on stories260K');
  await page.screenshot({ path: test.info().outputPath('explorer-ask.png') });

  // The index's answer, shown on the map: the view flies to the tensor.
  await panel.locator('.ex-ask-index .ex-ask-fly').click();
  const ex = page.locator('.explorer');
  // Wait for the camera to arrive (the fly may start a frame after the click, so the animating
  // flag alone can still read 'false' from the previous flight), then for the view to settle.
  const offCentre = async () => Math.abs(Number(await ex.getAttribute('data-cx')) - (rect.x + rect.width / 2)) + Math.abs(Number(await ex.getAttribute('data-cy')) - (rect.y + rect.height / 2));
  await expect.poll(offCentre, { timeout: 20_000, intervals: [100] }).toBeLessThan(2);
  await expect.poll(async () => `${await ex.getAttribute('data-animating')}`, { timeout: 20_000, intervals: [100] }).toBe('false');
  expect(await offCentre()).toBeLessThan(2);

  // A question the map cannot answer: the model's answer is unverified, never fact.
  await ask(page, 'where is blk.99.ffn_down.weight?');
  await expect(panel).toHaveAttribute('data-state', 'answered', { timeout: 60_000 });
  await expect(panel).toHaveAttribute('data-verdict', 'unverified');
  await expect(panel).toHaveAttribute('data-index-known', 'false');
  await expect(page.locator('#ex-ask-index-answer')).toHaveText('no answer');
  await expect(panel.locator('.ex-ask-why')).toContainText('has no tensor named "blk.99.ffn_down.weight"');
  await expect(page.locator('#ex-ask-verdict')).toContainText('unverified');
  await page.screenshot({ path: test.info().outputPath('explorer-ask-unverified.png') });

  // Plain text still searches names.
  await page.locator('.ex-search-input').fill('attn_q');
  await expect(page.locator(`.ex-search-results li[data-region-id="${modelId}/${Q_NAME}"]`)).toBeVisible();
  expect(errors).toEqual([]);
});
