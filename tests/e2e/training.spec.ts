/**
 * The Training view and the explorer's weight-change layer in Debian's Chromium against browser
 * mode: a tiny llama is trained in the services (Dawn on lavapipe) from the Training view's
 * form on the fixture's TinyStories text; the loss curve grows point by point, the validation
 * points arrive, the run is paused (and survives a reload), resumed and finished; its model is
 * then opened on the Explorer with the weight change of each checkpoint drawn over its tensors.
 * A second run is cancelled. Screenshots under test-results/playwright/.
 */
import { expect, test, type Page } from '@playwright/test';
import { PNG } from 'pngjs';
import { fixturePath } from '../support/fixtures';
import { startServe, type ServeProcess } from './serve-fixture';

const TRAIN_TEXT = fixturePath('corpus', 'tinystories-train.txt');
const VALID_TEXT = fixturePath('corpus', 'tinystories-valid.txt');

let serve: ServeProcess;
test.beforeAll(async () => {
  serve = await startServe();
});
test.afterAll(async () => {
  await serve?.stop();
});

async function open(page: Page, errors: string[]): Promise<void> {
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.locator('nav a[data-view="training"]').click();
  await expect(page.locator('#view h1')).toHaveText('Training');
}

/** Waits for `check` to hold, failing at once (with the run's error) when the run fails. */
async function whileTraining(page: Page, what: string, check: () => Promise<boolean>, timeout: number): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    if ((await page.locator('#train-detail').getAttribute('data-state')) === 'failed') {
      throw new Error(`the run failed while waiting for ${what}: ${await page.locator('#train-detail .train-error').textContent()}`);
    }
    if (await check()) return;
    if (Date.now() > end) throw new Error(`waited ${timeout / 1000} s for ${what}`);
    await page.waitForTimeout(300);
  }
}

/** Scrolls the view so that the run's part is on screen (the view scrolls, not the page). */
async function showRun(page: Page): Promise<void> {
  await page.locator('#train-detail').evaluate((e) => e.scrollIntoView({ block: 'start' }));
}

async function points(page: Page): Promise<{ train: number; valid: number }> {
  const chart = page.locator('#train-loss-chart');
  return { train: Number(await chart.getAttribute('data-train-points')), valid: Number(await chart.getAttribute('data-valid-points')) };
}

/** The view fits 1280 px: no horizontal scrollbar. */
async function fitsWidth(page: Page): Promise<void> {
  const overflow = await page.locator('#view').evaluate((v) => v.scrollWidth - v.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
}

/** Pixels of a stage screenshot that differ between two page screenshots. */
function differing(a: Buffer, b: Buffer, box: { x: number; y: number; width: number; height: number }): number {
  const ia = PNG.sync.read(a);
  const ib = PNG.sync.read(b);
  let n = 0;
  for (let y = Math.ceil(box.y); y < Math.floor(box.y + box.height); y++) {
    for (let x = Math.ceil(box.x); x < Math.floor(box.x + box.width); x++) {
      const i = (y * ia.width + x) * 4;
      if (Math.abs(ia.data[i]! - ib.data[i]!) + Math.abs(ia.data[i + 1]! - ib.data[i + 1]!) + Math.abs(ia.data[i + 2]! - ib.data[i + 2]!) > 30) n++;
    }
  }
  return n;
}

test('trains a tiny model live: curves, validation, pause, reload, resume, and where it learned on the explorer', async ({ page }) => {
  test.setTimeout(420_000);
  const errors: string[] = [];
  await open(page, errors);
  await expect(page.locator('#view')).toContainText('No training run yet');

  // A relative path is refused in the form, before any call.
  await page.locator('#train-text').fill('stories.txt/x');
  await page.locator('#train-start').click();
  await expect(page.locator('#train-form [role="alert"]')).toContainText('is not an absolute path');
  await expect(page.locator('#train-text')).toBeFocused();

  // The tiny preset, on the fixture's text (a path on the server's disk).
  await expect(page.locator('#train-preset')).toHaveValue('tiny');
  await expect(page.locator('#train-steps')).toHaveValue('300');
  await expect(page.locator('#train-steps')).toBeHidden(); // the sizes are folded away until asked for
  await page.locator('#train-name').fill('tiny-demo');
  await page.locator('#train-text').fill(TRAIN_TEXT);
  await page.locator('#train-valid').fill(VALID_TEXT);
  await page.locator('#train-start').click();
  const detail = page.locator('#train-detail');
  await expect(detail).toHaveAttribute('data-run', 'tiny-demo');
  await expect(page.locator('#train-runs tr[data-run="tiny-demo"]')).toBeVisible();

  // The loss curve grows point by point as the steps arrive.
  const chart = page.locator('#train-loss-chart');
  await whileTraining(page, 'points on the loss curve', async () => (await points(page)).train >= 2, 240_000);
  const early = await points(page);
  await whileTraining(page, 'more points', async () => (await points(page)).train > early.train, 60_000);
  await expect(detail.locator('[data-figure="loss"]')).toHaveText(/^\d+\.\d{4}$/);
  await expect(detail.locator('[data-figure="tokens"]')).not.toHaveText('—');
  await expect(detail.locator('[data-figure="lr"]')).toHaveText(/e-/);

  // Pause: the session checkpoints the step it reached.
  await page.locator('#train-pause').click();
  await expect(detail).toHaveAttribute('data-state', 'paused', { timeout: 60_000 });
  await expect(page.locator('#train-runs tr[data-run="tiny-demo"]')).toHaveAttribute('data-state', 'paused');
  await expect(page.locator('#train-resume')).toBeVisible();
  await expect(page.locator('#train-pause')).toBeHidden();
  const paused = await points(page);
  const pausedStep = Number((await detail.locator('[data-figure="step"]').textContent())!.split(' ')[0]);
  expect(pausedStep).toBe(paused.train);
  await expect(detail.locator('[data-figure="checkpoints"]')).toContainText(`step ${pausedStep}`);
  await showRun(page);
  await page.screenshot({ path: test.info().outputPath('training-paused.png') });

  // A reload shows the same run from its checkpoint.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#train-detail')).toHaveAttribute('data-run', 'tiny-demo');
  await expect(page.locator('#train-detail')).toHaveAttribute('data-state', 'paused');
  await expect(chart).toHaveAttribute('data-train-points', String(paused.train));
  await expect(chart).toHaveAttribute('data-valid-points', String(paused.valid));

  // Resume: it goes on from there, with validation points and a sample on the way.
  await page.locator('#train-resume').click();
  await expect(detail).toHaveAttribute('data-state', /queued|running/);
  await whileTraining(page, 'a validation point', async () => (await points(page)).valid >= 1, 240_000);
  await whileTraining(page, 'a sample', async () => (await page.locator('#train-sample').getAttribute('data-step')) !== null, 240_000);
  await expect(page.locator('#train-sample blockquote')).toContainText('Once upon a time');
  await showRun(page);
  await page.screenshot({ path: test.info().outputPath('training-running.png') });

  await whileTraining(page, 'the end of the run', async () => (await detail.getAttribute('data-state')) === 'succeeded', 300_000);
  await expect(chart).toHaveAttribute('data-train-points', '300');
  await expect(chart).toHaveAttribute('data-valid-points', '3');
  await expect(detail.locator('[data-figure="step"]')).toHaveText('300 of 300');
  await expect(detail.locator('[data-figure="valid"]')).toContainText('(step 300)');
  await expect(page.locator('#train-sample')).toHaveAttribute('data-step', '300');
  // The curve went down: the last loss is below the first (both on the chart's own data).
  const lossText = await detail.locator('[data-figure="loss"]').textContent();
  expect(Number(lossText)).toBeLessThan(5.7); // ln(300) ≈ 5.70: below a uniform guess
  await fitsWidth(page);
  await showRun(page);
  await page.screenshot({ path: test.info().outputPath('training-done.png') });

  // Where it learned: the imported model on the explorer with the weight-change layer on.
  const explore = page.locator('#train-explore');
  await expect(explore).toBeVisible();
  await explore.click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'explorer');
  const legend = page.locator('#ex-weight-legend');
  await expect(legend).toBeVisible({ timeout: 30_000 });
  // 20 tensors (token_embd, 9 per layer × 2, output_norm), one tile each at 1024² tiles.
  await expect(legend).toHaveAttribute('data-tiles', '20');
  // Every checkpoint's change can be picked: the pause's, 100, 200, 300; each from the one before.
  const steps = await page.locator('#ex-weight-step option').evaluateAll((os) => os.map((o) => Number((o as HTMLOptionElement).value)));
  expect(steps).toEqual([...new Set([pausedStep, 100, 200, 300])].sort((a, b) => a - b));
  const before = steps[steps.length - 2]!;
  await expect(legend).toHaveAttribute('data-step', '300');
  await expect(legend).toHaveAttribute('data-base', String(before));
  await expect(legend).toContainText(`step 300 (from step ${before})`);
  await expect(page.locator('.explorer')).toHaveAttribute('data-animating', 'false');
  const stage = page.locator('.ex-stage');
  const box = (await stage.boundingBox())!;
  const withLayer = await page.screenshot({ path: test.info().outputPath('explorer-weight-change.png') });

  // The first checkpoint, against the initial weights.
  await page.locator('#ex-weight-step').selectOption(String(steps[0]));
  await expect(legend).toHaveAttribute('data-step', String(steps[0]));
  await expect(legend).toHaveAttribute('data-base', '0');
  await expect(legend).toContainText('from the initial weights');

  // Hovering a tensor tells its change.
  await page.locator('.ex-search-input').fill('blk.0.ffn_up');
  await page.locator('.ex-search-input').press('Enter');
  await expect(page.locator('.ex-inspector [data-field="name"]')).toHaveText('blk.0.ffn_up.weight');
  await page.waitForTimeout(1000);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await expect(page.locator('.ex-tooltip')).toContainText('weight change', { timeout: 10_000 });
  await page.screenshot({ path: test.info().outputPath('explorer-weight-change-tooltip.png') });

  // Off: the map looks different without the layer (the same view, the layer's tiles gone).
  await page.locator('#ex-weight-step').selectOption(String(steps[steps.length - 1]));
  await page.locator('.ex-button[title="Show the whole map"]').click();
  await page.waitForTimeout(1200);
  const on = await page.screenshot();
  await page.locator('#ex-weight-run').selectOption('');
  await expect(legend).toBeHidden();
  await page.waitForTimeout(600);
  const off = await page.screenshot();
  expect(differing(on, off, box)).toBeGreaterThan(500);
  expect(withLayer.length).toBeGreaterThan(0);
  expect(errors).toEqual([]);
});

test('cancels a running run after a confirmation: it stops and its checkpoints go', async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  await open(page, errors);
  await page.locator('#train-name').fill('to-cancel');
  await page.locator('#train-text').fill(TRAIN_TEXT);
  await page.locator('#train-sizes summary').click();
  await page.locator('#train-steps').fill('2000');
  await page.locator('#train-start').click();
  const chart = page.locator('#train-loss-chart');
  await whileTraining(page, 'a first step', async () => (await points(page)).train >= 1, 180_000);
  await page.locator('#train-cancel').click();
  const dialog = page.locator('dialog.dialog');
  await expect(dialog).toContainText('Cancel run to-cancel?');
  // Escape keeps it running.
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.locator('#train-detail')).toHaveAttribute('data-state', 'running');
  await page.locator('#train-cancel').click();
  await page.locator('dialog.dialog button[value="confirm"]').click();
  await expect(page.locator('#train-runs tr[data-run="to-cancel"]')).toHaveCount(0, { timeout: 60_000 });
  await expect(page.locator('#train-detail')).toBeHidden();
  await page.screenshot({ path: test.info().outputPath('training-cancelled.png'), fullPage: true });
  expect(errors).toEqual([]);
});
