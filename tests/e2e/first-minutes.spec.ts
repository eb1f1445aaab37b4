import { expect, test, type Page } from '@playwright/test';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath } from '../support/fixtures';
import { callServices, startServe, type ServeProcess } from './serve-fixture';

/**
 * A new user's first five minutes, in Chromium against browser mode (`pxi serve` with a fresh
 * data folder for this file): a wrong file is refused in plain words first, with the code,
 * field and bytes in a closed Details fold and no staged-upload path anywhere; the status bar
 * stays one line at 1280 and 1920 px and says plainly (in amber) when models run on the CPU;
 * the import's done line reports the whole duration, the map pyramid included.
 */

let serve: ServeProcess;
let temp: string;
const pageErrors: string[] = [];

test.beforeAll(async () => {
  serve = await startServe();
  temp = mkdtempSync(join(tmpdir(), 'pxi-e2e-first-'));
});
test.afterAll(async () => {
  await serve?.stop();
  if (temp) rmSync(temp, { recursive: true, force: true });
});

async function open(page: Page, view: string, size = { width: 1280, height: 720 }): Promise<void> {
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize(size);
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.locator(`nav a[data-view="${view}"]`).click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', view);
}

/** What the services hold, asked through the page's own API socket (the same contract the UI uses). */
function call<T>(page: Page, channel: string, payload: unknown): Promise<T> {
  return callServices<T>(page, serve.port, channel, payload);
}

/** The alert's children in reading order, by class: the plain sentence must come before the fold. */
async function readingOrder(page: Page): Promise<string[]> {
  return page.locator('.wizard .callout[role="alert"]').evaluate((box) => [...box.children].map((c) => c.className));
}

test('a file that is not a GGUF says so in plain words first, the code and bytes in a closed fold; no staged path is ever shown', async ({ page }) => {
  const notGguf = join(temp, 'notes.gguf');
  writeFileSync(notGguf, 'these are not the tensors you are looking for\n');
  const stories = readFileSync(fixturePath('models', 'stories260K.gguf'));
  const cutHeader = join(temp, 'cut-header.gguf');
  writeFileSync(cutHeader, stories.subarray(0, 200));
  await open(page, 'import');
  const wizard = page.locator('.wizard');
  const alert = wizard.locator('.callout[role="alert"]');

  // A path on the server's disk to a file that is not a GGUF.
  await page.locator('#gguf-path').fill(notGguf);
  await page.locator('#gguf-path').press('Enter');
  await expect(alert.locator('.callout-title')).toHaveText('Cannot import notes.gguf');
  await expect(alert.locator('.callout-plain')).toHaveText('This file is not a GGUF model.');
  await expect(alert.locator('.callout-plain')).toBeVisible();
  await expect(alert.locator('.callout-hint')).toContainText('Choose a .gguf file');
  expect(await readingOrder(page)).toEqual(['callout-title', 'callout-plain', 'callout-hint', 'error-details']);
  // The technical part is there, folded: code, field and the bytes the file starts with.
  const fold = alert.locator('details.error-details');
  await expect(fold).not.toHaveAttribute('open');
  await expect(fold.locator('summary')).toHaveText('Details');
  await expect(fold.locator('.callout-code')).toBeHidden();
  await expect(fold.locator('.callout-code')).toHaveText('GGUF_BAD_MAGIC');
  await expect(fold).toContainText('magic');
  await expect(fold).toContainText('<74 68 65 73>'); // "thes"
  await expect(page.locator('#gguf-path')).toBeFocused();
  await page.screenshot({ path: test.info().outputPath('error-plain.png') });
  // Opened, it shows them.
  await fold.locator('summary').click();
  await expect(fold).toHaveAttribute('open', '');
  await expect(fold.locator('.callout-code')).toBeVisible();
  await expect(fold.locator('.callout-message')).toContainText('not a GGUF file (expected "GGUF")');
  await page.screenshot({ path: test.info().outputPath('error-details.png') });

  // A header cut short.
  await page.locator('#gguf-path').fill(cutHeader);
  await page.locator('#gguf-path').press('Enter');
  await expect(alert.locator('.callout-plain')).toHaveText('The file ends before its header says it should.');
  await expect(alert.locator('details.error-details')).not.toHaveAttribute('open');
  await expect(alert.locator('.callout-code')).toHaveText('GGUF_TRUNCATED');
  // The field and what the header claims, against what is left of the file.
  await expect(alert.locator('.error-facts')).toContainText('kv_count');
  await expect(alert.locator('.callout-message')).toContainText(/entries need at least \d+ bytes but only \d+ remain in the file/);

  // Uploaded from the browser: refused before sending, in the same words.
  await page.locator('#gguf-upload').setInputFiles({ name: 'notes.gguf', mimeType: 'application/octet-stream', buffer: Buffer.from('these are not the tensors\n') });
  await expect(alert.locator('.callout-plain')).toHaveText('This file is not a GGUF model.');
  await expect(alert.locator('.callout-code')).toHaveText('UPLOAD_NOT_GGUF');

  // Uploaded, staged on the server and refused by the reader: its messages name the staged
  // path (<volume>/uploads/<id>/...); the page shows the file's own name instead, even folded.
  await page.locator('#gguf-upload').setInputFiles({ name: 'truncated-stories.gguf', mimeType: 'application/octet-stream', buffer: stories.subarray(0, 500_000) });
  await expect(alert.locator('.callout-title')).toHaveText('Cannot import truncated-stories.gguf');
  await expect(alert.locator('.callout-plain')).toHaveText('The file ends before all of the model’s weights: it is incomplete.');
  await expect(alert.locator('.callout-code')).toHaveText('GGUF_DATA_PAST_END');
  await expect(alert.locator('.callout-message')).toContainText(/^truncated-stories\.gguf: tensor\[15\]\.offset = /);
  const shown = await page.locator('#view').evaluate((v) => v.textContent ?? '');
  expect(shown).not.toMatch(/uploads[\\/][0-9a-f]{32}/);
  expect(shown).not.toContain(serve.dataDir);
  await page.screenshot({ path: test.info().outputPath('error-upload-plain.png') });
  expect(pageErrors).toEqual([]);
});

test('the status bar is one line at 1280 and 1920 px and says plainly, in amber, when models run on the CPU', async ({ page }) => {
  for (const size of [
    { width: 1280, height: 720 },
    { width: 1920, height: 1080 },
  ]) {
    await open(page, 'import', size);
    const status = page.locator('#status');
    const gpu = page.locator('#gpu-status');
    await expect(gpu).toHaveClass(/^gpu-(ok|cpu|missing)$/);
    // What the page's own WebGPU adapter is: a CPU fallback here (Chromium's SwiftShader).
    const cpu = await page.evaluate(async () => {
      const a = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      const i = a!.info;
      return i.isFallbackAdapter || /swiftshader|lavapipe|llvmpipe|softpipe/i.test(`${i.description} ${i.vendor} ${i.architecture} ${i.device}`);
    });
    if (cpu) {
      await expect(gpu).toHaveClass('gpu-cpu');
      await expect(gpu).toHaveText('Running on the CPU: slower than a graphics card');
      await expect(gpu).toHaveAttribute('title', /fallback \(CPU\)/);
      // Amber: the shell's warning colour, not the green of a graphics card.
      // Both themes: the dark one's amber and the light one's darker amber (readable on white).
      for (const [scheme, warn, rgb] of [
        ['dark', '#f5c46b', 'rgb(245, 196, 107)'],
        ['light', '#7f5200', 'rgb(127, 82, 0)'],
      ] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        const colours = await gpu.evaluate((g) => ({ text: getComputedStyle(g).color, warn: getComputedStyle(document.documentElement).getPropertyValue('--warn').trim() }));
        expect(colours.warn, scheme).toBe(warn);
        expect(colours.text, scheme).toBe(rgb);
      }
    } else {
      await expect(gpu).toHaveClass('gpu-ok');
      await expect(gpu).toHaveText(/^Running on the graphics card: /);
    }
    await expect(gpu).toHaveAttribute('title', /shader-f16 (yes|no)/);

    // One line: each part is a single line box, and the bar is one line of its text tall.
    const m = await status.evaluate((bar) => {
      const probe = document.createElement('span');
      probe.textContent = 'x';
      bar.append(probe);
      const line = probe.getBoundingClientRect().height;
      probe.remove();
      const cs = getComputedStyle(bar);
      const chrome = ['paddingTop', 'paddingBottom', 'borderTopWidth', 'borderBottomWidth'].reduce((s, k) => s + parseFloat(cs[k as 'paddingTop']), 0);
      return {
        line,
        height: bar.getBoundingClientRect().height - chrome,
        lines: [...bar.children].map((c) => (c as HTMLElement).getClientRects().length),
        heights: [...bar.children].map((c) => c.getBoundingClientRect().height),
        overflow: bar.scrollWidth - bar.clientWidth,
      };
    });
    expect(m.line).toBeGreaterThan(0);
    expect(m.lines).toEqual([1, 1]);
    for (const h of m.heights) expect(h).toBeLessThanOrEqual(m.line + 0.5);
    expect(m.height).toBeLessThanOrEqual(m.line + 0.5);
    expect(m.overflow).toBe(0);
    await page.screenshot({ path: test.info().outputPath(`status-${size.width}x${size.height}.png`) });
  }
  expect(pageErrors).toEqual([]);
});

test('the import’s done line reports the whole duration, the map pyramid included', async ({ page }) => {
  test.setTimeout(120_000);
  const file = join(temp, 'stories260K.gguf');
  copyFileSync(fixturePath('models', 'stories260K.gguf'), file);
  await open(page, 'import');
  const wizard = page.locator('.wizard');
  await page.locator('#gguf-path').fill(file);
  await page.locator('#gguf-path').press('Enter');
  await expect(wizard).toHaveAttribute('data-step', 'inspect');
  await page.locator('.wizard-next').click();
  await expect(wizard).toHaveAttribute('data-step', 'options');
  // Storage internals are folded under Advanced; the space it takes is in view.
  await expect(page.locator('#import-advanced')).not.toHaveAttribute('open');
  await expect(page.locator('#import-advanced .readonly-settings')).toBeHidden();
  await expect(page.locator('#predicted-size')).toBeVisible();
  await page.locator('#import-name').press('Enter'); // the pyramid is built (the default)

  await expect(wizard).toHaveAttribute('data-step', 'verify', { timeout: 60_000 });
  await expect(wizard.locator('.verify-result')).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });
  const done = wizard.locator('.outcome.ok');
  // One pass: the pyramid is built as the weights are stored, so there is no second part to show.
  await expect(done).toContainText(/^Imported stories260K \(1\.13 MiB\) in .+, map pyramid included\.$/);
  const shownMs = Number(await page.locator('#import-duration').getAttribute('data-ms'));

  // The task's own account: the whole run and its two parts.
  const { tasks } = await call<{ tasks: { kind: string; startedAt: number; finishedAt: number; result: { seconds: number; storeSeconds: number; pyramidSeconds: number | null; pyramid: { built: number } } }[] }>(page, 'tasks:list', {});
  const imp = tasks.find((t) => t.kind === 'model.import')!;
  expect(imp.result.pyramid.built).toBeGreaterThan(0);
  expect(imp.result.pyramidSeconds).toBeNull(); // no read-back build was needed
  expect(shownMs).toBe(Math.round(imp.result.seconds * 1000));
  // What is shown covers the import (store and pyramid), and is the task's run (not more).
  expect(shownMs).toBeGreaterThanOrEqual(Math.floor(imp.result.storeSeconds * 1000));
  expect(shownMs).toBeLessThanOrEqual(imp.finishedAt - imp.startedAt + 1);
  await expect(page.locator('#import-duration')).toHaveText(/^\d+ ms$|^\d+(\.\d)? s$/);
  // Verified in plain words; tiles and checksums under Advanced.
  await expect(wizard.locator('.verify-result')).toContainText('reads back exactly as it was imported');
  await expect(wizard.locator('.verify-result details.advanced')).not.toHaveAttribute('open');
  await page.screenshot({ path: test.info().outputPath('import-done.png') });
  expect(pageErrors).toEqual([]);
});
