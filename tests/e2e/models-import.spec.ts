import { expect, test, type Page } from '@playwright/test';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { writeGgufBytes } from '../../shared/gguf/writer';
import { fixturePath } from '../support/fixtures';
import { callServices, startServe, type ServeProcess } from './serve-fixture';

/**
 * The import wizard and the Models view in Chromium against browser mode (`pxi serve` with a
 * fresh data folder for this file): stories260K goes in through every step of the wizard, and
 * broken files are refused in the wizard with nothing written.
 */

let serve: ServeProcess;
let temp: string;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  serve = await startServe();
  temp = mkdtempSync(join(tmpdir(), 'pxi-e2e-import-'));
});
test.afterAll(async () => {
  await serve?.stop();
  if (temp) rmSync(temp, { recursive: true, force: true });
});

async function open(page: Page, view: string): Promise<void> {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.locator(`nav a[data-view="${view}"]`).click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', view);
}

/** The view fits the window's width: nothing pushes it into a horizontal scrollbar. */
async function expectFitsWidth(page: Page): Promise<void> {
  const overflow = await page.evaluate(() => {
    const v = document.getElementById('view')!;
    return { view: v.scrollWidth - v.clientWidth, page: document.documentElement.scrollWidth - document.documentElement.clientWidth };
  });
  expect(overflow).toEqual({ view: 0, page: 0 });
}

/** What the services hold, asked through the page's own API socket (the same contract the UI uses). */
function call<T>(page: Page, channel: string, payload: unknown): Promise<T> {
  return callServices<T>(page, serve.port, channel, payload);
}

test('a truncated or non-GGUF file is refused in the wizard, naming the file and field; one the engine does not run is offered with the reason; nothing is written', async ({ page }) => {
  const source = fixturePath('models', 'stories260K.gguf');
  const truncated = join(temp, 'truncated-stories.gguf');
  writeFileSync(truncated, readFileSync(source).subarray(0, 500_000));
  const notGguf = join(temp, 'notes.gguf');
  writeFileSync(notGguf, 'these are not the tensors you are looking for\n');
  await open(page, 'import');
  const wizard = page.locator('.wizard');
  await expect(wizard).toHaveAttribute('data-step', 'choose');

  // A relative path is caught before the host is asked.
  await page.locator('#gguf-path').fill('models/stories.gguf');
  await page.locator('#gguf-path').press('Enter');
  await expect(wizard.locator('.callout[role="alert"]')).toContainText('give the absolute path');

  await page.locator('#gguf-path').fill(truncated);
  await page.locator('#inspect-file').click();
  const alert = wizard.locator('.callout[role="alert"]');
  await expect(alert).toContainText('truncated-stories.gguf');
  // The reader's message names the field and value and what is wrong with them.
  await expect(alert).toContainText('tensor[15].offset');
  await expect(alert).toContainText('runs past the end of the file');
  await expect(alert).toContainText('GGUF_DATA_PAST_END');
  await expect(wizard).toHaveAttribute('data-step', 'choose');
  // The error is where the person is looking, and the keyboard is back on the field to fix it.
  await expect(page.locator('#gguf-path')).toBeFocused();
  await expect(page.locator('#gguf-path')).toHaveAttribute('aria-invalid', 'true');
  await expectFitsWidth(page);
  await page.screenshot({ path: test.info().outputPath('import-error.png') });

  await page.locator('#gguf-path').fill(notGguf);
  await page.locator('#gguf-path').press('Enter');
  await expect(alert).toContainText('notes.gguf');
  await expect(alert).toContainText('GGUF_BAD_MAGIC');

  // A GGUF of an architecture the engine does not run passes the reader and can be imported
  // (storage and the explorer do not need the engine); the inspection says what is missing.
  const stories = readFileSync(source);
  const h = parseGgufBytes(stories, 'stories260K.gguf');
  const meta = new Map(h.metadata);
  meta.set('general.architecture', { type: 'string', value: 'gpt2' });
  const gpt2 = join(temp, 'gpt2-shaped.gguf');
  writeFileSync(gpt2, writeGgufBytes(meta, h.tensors.map((t) => ({ ...t, data: stories.subarray(t.offset, t.offset + t.byteSize) }))));
  await page.locator('#gguf-path').fill(gpt2);
  await page.locator('#gguf-path').press('Enter');
  await expect(wizard).toHaveAttribute('data-step', 'inspect');
  const warning = wizard.locator('.callout.warn');
  await expect(warning).toContainText('The engine cannot run this model');
  await expect(warning).toContainText('architecture: ');
  await expect(warning).toContainText('"gpt2"');
  await expect(warning).toContainText('It can still be imported');
  await expect(wizard.locator('.callout[role="alert"]')).toHaveCount(0);
  await expect(page.locator('.wizard-next')).toBeEnabled();
  await page.screenshot({ path: test.info().outputPath('import-unsupported.png') });
  await page.getByRole('button', { name: 'Back' }).click();

  // The browser-mode host has no file dialog, and says so with a code the wizard reacts to.
  await expect(call(page, 'files:chooseGguf', {})).rejects.toThrow('no native file dialog in browser mode');
  await expect(call(page, 'files:importPlan', { path: '' })).rejects.toThrow(/path/);

  // Nothing was queued, no model listed, no tile written.
  const { tasks } = await call<{ tasks: unknown[] }>(page, 'tasks:list', {});
  expect(tasks).toEqual([]);
  const { models } = await call<{ models: unknown[] }>(page, 'models:list', {});
  expect(models).toEqual([]);
  const plan = await call<{ volume: { tiles: number; storedBytes: number } }>(page, 'files:importPlan', { path: source });
  expect(plan.volume.tiles).toBe(0);
  expect(plan.volume.storedBytes).toBe(0);
  expect(pageErrors).toEqual([]);
});

test('stories260K goes through the wizard: inspect, options, convert, verify OK, then Models lists it', async ({ page }) => {
  test.setTimeout(120_000);
  // A copy under another name, so the model's name comes from the file name.
  const file = join(temp, 'stories260K.gguf');
  copyFileSync(fixturePath('models', 'stories260K.gguf'), file);
  await open(page, 'import');
  const wizard = page.locator('.wizard');
  await page.locator('#gguf-path').fill(file);
  await page.locator('#gguf-path').press('Enter');

  // Inspect: what the header says, and the chart of types by bytes.
  await expect(wizard).toHaveAttribute('data-step', 'inspect');
  await expect(page.locator('.wizard h2')).toBeFocused();
  const facts = wizard.locator('dl.facts');
  await expect(facts).toContainText('llama');
  await expect(facts).toContainText('292,800');
  await expect(facts).toContainText('1,185,376 bytes');
  await expect(facts).toContainText('512 tokens');
  const chart = wizard.locator('svg.bar-chart');
  await expect(chart).toHaveAttribute('aria-label', 'Tensor types by bytes');
  await expect(chart.locator('g.bar')).toHaveCount(1);
  await expect(chart.locator('g.bar text.bar-label')).toHaveText('F32');
  await expect(chart.locator('g.bar text.bar-value')).toContainText('48 tensors');
  await expect(wizard.locator('.callout')).toHaveCount(0); // the engine runs llama F32: no warning
  await expect(wizard).toContainText('Chat template: none');
  await expectFitsWidth(page);
  await page.screenshot({ path: test.info().outputPath('import-inspect.png') });
  await page.locator('.wizard-next').click();

  // Options: the volume's settings, read-only, and the predicted size.
  await expect(wizard).toHaveAttribute('data-step', 'options');
  await expect(page.locator('#import-name')).toHaveValue('stories260K');
  await expect(wizard.locator('.readonly-settings')).toContainText('1024 × 1024 px');
  await expect(wizard.locator('.readonly-settings')).toContainText('cannot be chosen per import');
  await expect(wizard.locator('#import-advanced')).toContainText('48 for 48 tensors');
  const predicted = await page.locator('#predicted-size').textContent();
  expect(predicted).toMatch(/≈ 1\.\d\d MiB/);
  await expectFitsWidth(page);
  await page.screenshot({ path: test.info().outputPath('import-options.png') });
  // Keyboard only: Enter in the name field starts the import.
  await page.locator('#import-name').press('Enter');

  // Convert, then verify: the wizard reaches the verified result on its own.
  await expect(wizard).toHaveAttribute('data-step', /convert|verify/);
  await expect(wizard).toHaveAttribute('data-step', 'verify', { timeout: 60_000 });
  const result = wizard.locator('.verify-result');
  await expect(result).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
  await expect(result).toContainText('OK');
  await expect(result).toContainText('Every tile matches its checksum');
  await expectFitsWidth(page);
  await page.screenshot({ path: test.info().outputPath('import-verified.png') });

  // The prediction is close to what the volume really grew by (level 0: stored bytes).
  const plan = await call<{ volume: { storedBytes: number } }>(page, 'files:importPlan', { path: file });
  const predictedMiB = Number(/([\d.]+) MiB/.exec(predicted!)![1]);
  expect(Math.abs(plan.volume.storedBytes / 2 ** 20 - predictedMiB) / predictedMiB).toBeLessThan(0.1);

  const openLink = page.locator('#open-explorer');
  const { models } = await call<{ models: { id: string; name: string; verified: string }[] }>(page, 'models:list', {});
  expect(models).toHaveLength(1);
  expect(models[0]!.verified).toBe('ok');
  await expect(openLink).toHaveAttribute('href', `#/explorer?model=${models[0]!.id}`);
  // The engine runs it: the wizard offers Chat with it.
  await expect(page.locator('#chat-with-it')).toHaveAttribute('href', `#/chat?model=${models[0]!.id}`);

  // Models: the new model with its architecture, types and verify state.
  await page.locator('nav a[data-view="models"]').click();
  const row = page.locator(`tr.model-row[data-model="${models[0]!.id}"]`);
  await expect(row).toContainText('stories260K');
  await expect(row).toContainText('llama');
  await expect(row.locator('.chip')).toHaveText(['F32']);
  await expect(row).toContainText('293K');
  await expect(row).toContainText('1.13 MiB');
  await expect(row.locator('.verify-cell')).toHaveText('OK');
  await expectFitsWidth(page);
  await page.screenshot({ path: test.info().outputPath('models.png') });
  // A wide monitor: the same page, still one coherent table.
  await page.setViewportSize({ width: 2560, height: 1080 });
  await expectFitsWidth(page);
  await page.screenshot({ path: test.info().outputPath('models-wide.png') });
  await page.setViewportSize({ width: 1280, height: 720 });

  // Chat from the row: the Chat view opens with this model chosen and loads it.
  await expect(row.locator('.badge')).toContainText(['Runs']);
  await row.getByRole('link', { name: 'Chat' }).click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'chat');
  await expect(page.locator('#chat-model')).toHaveValue(models[0]!.id);
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await page.locator('nav a[data-view="models"]').click();

  // Verify again from Models: its progress and outcome show under the row.
  await row.getByRole('button', { name: 'Verify' }).click();
  const activity = page.locator(`tr.model-row[data-model="${models[0]!.id}"] + tr.activity-row`);
  await expect(activity).toContainText('Verified OK', { timeout: 30_000 });

  // Export through the dialog: a relative path is refused in the dialog, an absolute one runs.
  await row.getByRole('button', { name: 'Export…' }).click();
  const dialog = page.locator('dialog.dialog');
  await expect(dialog).toBeVisible();
  const out = join(temp, 'exported.gguf');
  await dialog.locator('input[type="text"]').fill('exported.gguf');
  await dialog.getByRole('button', { name: 'Export' }).click();
  await expect(dialog.locator('.field-error')).toContainText('absolute path');
  await dialog.locator('input[type="text"]').fill(out);
  await dialog.getByRole('button', { name: 'Export' }).click();
  await expect(dialog).toHaveCount(0);
  await expect(activity).toContainText(`Exported to ${out}`, { timeout: 30_000 });
  // The export is the source file, byte for byte.
  expect(readFileSync(out).equals(readFileSync(file))).toBe(true);

  // Delete asks first; Cancel keeps the model, Delete removes it.
  await row.getByRole('button', { name: 'Delete…' }).click();
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toHaveCount(0);
  await expect(row).toBeVisible();
  await expect(row.getByRole('button', { name: 'Delete…' })).toBeFocused();
  await row.getByRole('button', { name: 'Delete…' }).click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(page.locator('#view')).toContainText('Deleted stories260K');
  await expect(page.locator('tr.model-row')).toHaveCount(0);
  expect(pageErrors).toEqual([]);
});
