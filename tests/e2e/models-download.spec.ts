/**
 * Browser mode's model download, in Chromium against `pxi serve`: Download on a Models row
 * saves the stored model as its GGUF on the browser's machine, byte-identical (sha256) to the
 * file that was imported; the endpoint refuses requests without the session token, ids that are
 * paths, and unknown models; a model deleted after the list was drawn gives a plain message in
 * its row instead of a download.
 */
import { expect, test, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

const source = fixturePath('models', 'stories260K.gguf');
let dataDir = '';
let serve: ServeProcess;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-download-'));
  const r = spawnSync(process.execPath, ['bin/pxi.js', 'import', source, '--volume', join(dataDir, 'volume'), '--skip-pyramid'], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  serve = await serveDataDir(dataDir);
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function openModels(page: Page): Promise<void> {
  await page.goto(`${serve.url}#/models`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'models');
  await expect(page.locator('tr.model-row')).toHaveCount(1);
}

test('Download saves the stored model as the GGUF that was imported, byte for byte', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await openModels(page);
  const row = page.locator('tr.model-row');
  const id = (await row.getAttribute('data-model'))!;
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Download' }).click()]);
  expect(download.suggestedFilename()).toBe('stories260K.gguf');
  const saved = test.info().outputPath('downloaded.gguf');
  await download.saveAs(saved);
  expect(await download.failure()).toBeNull();
  const got = readFileSync(saved);
  const want = readFileSync(source);
  expect(got.length).toBe(want.length);
  expect(sha256(got)).toBe(sha256(want));
  const note = page.locator(`tr.model-row[data-model="${id}"] + tr.activity-row`);
  await expect(note).toContainText('Downloading stories260K.gguf (1.13 MiB)');
  await page.screenshot({ path: test.info().outputPath('models-download-1280x720.png') });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await expect(row.getByRole('button', { name: 'Download' })).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('models-download-1920x1080.png') });
  expect(errors).toEqual([]);
});

test('the download refuses a missing token, ids that are paths and unknown models, in plain words', async ({ page, playwright }) => {
  await openModels(page);
  const id = (await page.locator('tr.model-row').getAttribute('data-model'))!;
  // Without the session's cookie or token: refused before anything is looked up.
  const stranger = await playwright.request.newContext();
  try {
    const none = await stranger.get(`${serve.origin}/download?model=${id}`);
    expect(none.status()).toBe(401);
    expect(await none.text()).toContain('missing access token');
    const wrong = await stranger.get(`${serve.origin}/download?model=${id}&token=not-the-token`);
    expect(wrong.status()).toBe(403);
  } finally {
    await stranger.dispose();
  }
  // The page's own context carries the cookie: the right id is served, with the attachment header.
  const ok = await page.request.get(`${serve.origin}/download?model=${id}`);
  expect(ok.status()).toBe(200);
  expect(ok.headers()['content-disposition']).toMatch(/^attachment; filename="stories260K\.gguf"/);
  expect(sha256(await ok.body())).toBe(sha256(readFileSync(source)));
  // Paths instead of ids never reach the store.
  for (const trick of ['../volume/models.sqlite', '..%2F..%2Fetc%2Fpasswd', '/etc/passwd', `${id}/../x`]) {
    const r = await page.request.get(`${serve.origin}/download?model=${trick}`);
    expect(r.status(), trick).toBe(400);
    expect((await r.json()).error.message).toContain('is not a model id');
  }
  const traversal = await page.request.get(`${serve.origin}/download/..%2F..%2Fvolume%2Fmodels.sqlite?model=${id}`);
  expect(traversal.status()).toBe(404);
  const unknown = await page.request.get(`${serve.origin}/download/check?model=no-such-model-1234`);
  expect(unknown.status()).toBe(404);
  expect((await unknown.json()).error.message).toBe('There is no model “no-such-model-1234” in this volume any more (it may have been deleted). Reload the Models list.');
  const post = await page.request.post(`${serve.origin}/download?model=${id}`, { headers: { origin: serve.origin } });
  expect(post.status()).toBe(405);
});

test('a model deleted after the list was drawn gives a plain message, not a download', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 720 });
  await openModels(page);
  const row = page.locator('tr.model-row');
  const id = (await row.getAttribute('data-model'))!;
  // Another window deletes it (the same services, over the page's own socket).
  await page.evaluate(
    async ([wsUrl, modelId]) => {
      const ws = new WebSocket(wsUrl!);
      await new Promise((r) => (ws.onopen = r));
      const reply = await new Promise<{ result: { ok: boolean; error?: { message: string } } }>((resolve) => {
        ws.onmessage = (ev) => {
          const f = JSON.parse(String(ev.data));
          if (f.id === 1) resolve(f);
        };
        ws.send(JSON.stringify({ id: 1, channel: 'models:delete', payload: { id: modelId } }));
      });
      ws.close();
      if (!reply.result.ok) throw new Error(reply.result.error?.message);
    },
    [`ws://127.0.0.1:${serve.port}/api`, id],
  );
  let downloads = 0;
  page.on('download', () => downloads++);
  await row.getByRole('button', { name: 'Download' }).click();
  const alert = page.locator(`tr.model-row[data-model="${id}"] + tr.activity-row [role="alert"]`);
  await expect(alert).toContainText('Download not started');
  await expect(alert).toContainText(`There is no model “${id}” in this volume any more (it may have been deleted). Reload the Models list.`);
  await page.screenshot({ path: test.info().outputPath('models-download-missing-1280x720.png') });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await expect(alert).toBeVisible();
  await page.screenshot({ path: test.info().outputPath('models-download-missing-1920x1080.png') });
  expect(downloads).toBe(0);
});
