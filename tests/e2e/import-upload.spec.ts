import { expect, test, type Page } from '@playwright/test';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fixturePath } from '../support/fixtures';
import { startServe, type ServeProcess } from './serve-fixture';

/**
 * Browser mode's upload in the import wizard (Chromium against `pxi serve` with a fresh data
 * folder): stories260K chosen in the file input is uploaded to the server, inspected, imported
 * and verified, and its staged copy is gone afterwards; files that are not GGUF are refused in
 * the wizard, and an upload the reader refuses is deleted on the server.
 */

let serve: ServeProcess;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  serve = await startServe();
});
test.afterAll(async () => {
  await serve?.stop();
});

async function openImport(page: Page): Promise<void> {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.locator('nav a[data-view="import"]').click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'import');
}

/** What the server's staging folder holds (one folder per upload). */
function staged(): string[] {
  const dir = join(serve.dataDir, 'volume', 'uploads');
  return existsSync(dir) ? readdirSync(dir) : [];
}

test('a file that is not GGUF is refused before upload, and one the reader refuses is deleted on the server', async ({ page }) => {
  await openImport(page);
  const wizard = page.locator('.wizard');
  await page.locator('#gguf-upload').setInputFiles({ name: 'notes.gguf', mimeType: 'application/octet-stream', buffer: Buffer.from('these are not the tensors you are looking for\n') });
  const alert = wizard.locator('.callout[role="alert"]');
  await expect(alert).toContainText('Cannot upload notes.gguf');
  await expect(alert).toContainText('not a GGUF file');
  await expect(alert).toContainText('UPLOAD_NOT_GGUF');
  await expect(page.locator('#gguf-upload')).toBeFocused();
  expect(staged()).toEqual([]);
  await page.screenshot({ path: test.info().outputPath('upload-refused.png') });

  // GGUF magic but cut short: the upload is taken, the reader refuses it, the copy goes.
  const truncated = readFileSync(fixturePath('models', 'stories260K.gguf')).subarray(0, 500_000);
  await page.locator('#gguf-upload').setInputFiles({ name: 'truncated-stories.gguf', mimeType: 'application/octet-stream', buffer: truncated });
  await expect(alert).toContainText('Cannot import truncated-stories.gguf');
  await expect(alert).toContainText('GGUF_DATA_PAST_END');
  await expect(wizard).toHaveAttribute('data-step', 'choose');
  await expect.poll(staged).toEqual([]);
  expect(pageErrors).toEqual([]);
});

test('an upload shows its progress and can be cancelled; the server keeps nothing of it', async ({ page }) => {
  await openImport(page);
  // A slow link (Chromium's network emulation: 256 KiB/s up), so the upload is seen running.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 256 * 1024 });
  await page.locator('#gguf-upload').setInputFiles(fixturePath('models', 'stories260K.gguf'));
  const progress = page.locator('.upload-box [role="progressbar"]');
  await expect(progress).toBeVisible();
  await expect(page.locator('#cancel-upload')).toBeFocused();
  // Bytes, rate and time left, as for the conversion.
  await expect(page.locator('.upload-box .progress-figures')).toContainText(/\/ 1\.13 MiB .*\/s · ETA \d/, { timeout: 10_000 });
  await expect.poll(staged).toHaveLength(1);
  await page.screenshot({ path: test.info().outputPath('upload-progress.png') });
  await page.locator('#cancel-upload').click();
  const notice = page.locator('.wizard .callout');
  await expect(notice).toContainText('Upload cancelled');
  await expect(notice).toContainText('UPLOAD_CANCELLED');
  await expect(page.locator('.wizard')).toHaveAttribute('data-step', 'choose');
  // The cut connection left no partial file on the server.
  await expect.poll(staged).toEqual([]);
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  expect(pageErrors).toEqual([]);
});

test('stories260K uploaded through the file input goes through inspect, options, convert and verify', async ({ page }) => {
  test.setTimeout(120_000);
  await openImport(page);
  const wizard = page.locator('.wizard');
  await expect(wizard.locator('.upload-box')).toContainText('Upload a .gguf file from this computer');
  await page.locator('#gguf-upload').setInputFiles(fixturePath('models', 'stories260K.gguf'));

  // Inspect: the uploaded file, read where the server staged it.
  await expect(wizard).toHaveAttribute('data-step', 'inspect', { timeout: 30_000 });
  await expect(page.locator('.wizard h2')).toHaveText('Inspect stories260K.gguf');
  const facts = wizard.locator('dl.facts');
  // Named as the person's file; where the server staged it is not shown.
  await expect(facts).toContainText('stories260K.gguf, uploaded from this computer');
  await expect(facts).not.toContainText('/uploads/');
  await expect(facts).toContainText('1,185,376 bytes');
  await expect(facts).toContainText('llama');
  expect(staged()).toHaveLength(1);
  await page.screenshot({ path: test.info().outputPath('upload-inspect.png') });
  await page.locator('.wizard-next').click();

  await expect(wizard).toHaveAttribute('data-step', 'options');
  await expect(page.locator('#import-name')).toHaveValue('stories260K');
  await page.locator('#import-name').press('Enter');

  await expect(wizard).toHaveAttribute('data-step', /convert|verify/);
  await expect(wizard).toHaveAttribute('data-step', 'verify', { timeout: 60_000 });
  const result = wizard.locator('.verify-result');
  await expect(result).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
  await expect(result).toContainText('Every tile matches its checksum');
  await page.screenshot({ path: test.info().outputPath('upload-verified.png') });

  // The staged copy went when the import ended; the model is in the volume.
  await expect.poll(staged).toEqual([]);
  await page.locator('nav a[data-view="models"]').click();
  await expect(page.locator('tr.model-row')).toHaveCount(1);
  await expect(page.locator('tr.model-row')).toContainText('stories260K');
  await expect(page.locator('tr.model-row .verify-cell')).toHaveText('OK');
  expect(pageErrors).toEqual([]);
});

test('a file over the server\'s upload limit is refused in the wizard with the server\'s reason, before a byte is sent', async ({ page }) => {
  const small = await startServe(['--max-upload', '100K']);
  try {
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const uploads: string[] = [];
    page.on('request', (r) => r.url().includes('/upload') && uploads.push(r.method()));
    await page.goto(small.url);
    await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
    await page.locator('nav a[data-view="import"]').click();
    await page.locator('#gguf-upload').setInputFiles(fixturePath('models', 'stories260K.gguf'));
    const alert = page.locator('.wizard .callout[role="alert"]');
    await expect(alert).toContainText('Cannot upload stories260K.gguf');
    await expect(alert).toContainText('at most 100.00 KiB (pxi serve --max-upload)');
    await expect(alert).toContainText('UPLOAD_TOO_LARGE');
    expect(uploads).toEqual(['GET']); // asked, never sent
    expect(existsSync(join(small.dataDir, 'volume', 'uploads')) ? readdirSync(join(small.dataDir, 'volume', 'uploads')) : []).toEqual([]);
    expect(pageErrors).toEqual([]);
  } finally {
    await small.stop();
  }
});

test('an import of an upload whose staged copy is gone fails clearly, and Tasks offers Upload again instead of Retry', async ({ page }) => {
  test.setTimeout(120_000);
  await openImport(page);
  const wizard = page.locator('.wizard');
  await page.locator('#gguf-upload').setInputFiles({ name: 'gone.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(fixturePath('models', 'stories260K.gguf')) });
  await expect(wizard).toHaveAttribute('data-step', 'inspect', { timeout: 30_000 });
  await page.locator('.wizard-next').click();
  await expect(wizard).toHaveAttribute('data-step', 'options');
  // The staged copy disappears before the import reads it (a disk cleaned up under the server).
  const dir = join(serve.dataDir, 'volume', 'uploads');
  for (const id of readdirSync(dir)) for (const f of readdirSync(join(dir, id))) rmSync(join(dir, id, f));
  await page.locator('#import-name').fill('gone');
  await page.locator('#import-name').press('Enter');
  await expect(wizard.locator('.callout[role="alert"]')).toContainText('MODEL_SOURCE_UNREADABLE', { timeout: 60_000 });

  await page.locator('nav a[data-view="tasks"]').click();
  const row = page.locator('tr.task-row[data-state="failed"]').filter({ hasText: 'gone.gguf' });
  await expect(row).toHaveCount(1);
  await expect(row.locator('button', { hasText: 'Retry' })).toBeHidden();
  const again = row.locator('a.upload-again');
  await expect(again).toBeVisible();
  await again.click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'import');
  expect(pageErrors).toEqual([]);
});
