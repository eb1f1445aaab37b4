import { expect, test } from '@playwright/test';
import { startServe, type ServeProcess } from './serve-fixture';

/**
 * Measuring the kernels (minutes on SwiftShader: every weight type in several shapes) shows a
 * progress bar over the weight types and can be cancelled: the run stops between two shapes,
 * nothing of it is kept, and it can be started again.
 */

let serve: ServeProcess;
test.beforeAll(async () => {
  serve = await startServe();
});
test.afterAll(async () => {
  await serve?.stop();
});

test('measuring the kernels shows progress and Cancel stops it keeping nothing', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(`${serve.url}#/kernels`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page).toHaveTitle('Kernels — Pixel-LLM');
  await expect(page.locator('#kernels-kept')).toContainText('Nothing measured on this GPU');
  const bar = page.locator('#kernels-progress [role="progressbar"]');
  const cancel = page.locator('#kernels-cancel');
  await expect(page.locator('#kernels-progress')).toBeHidden();
  await expect(cancel).toBeHidden();

  await page.locator('#kernels-size').selectOption('256');
  await page.locator('#kernels-rounds').selectOption('3');
  await page.locator('#kernels-measure').click();
  await expect(bar).toHaveAttribute('aria-label', 'Measuring kernels');
  await expect(bar).toHaveAttribute('aria-valuetext', /^\d+ weight types \/ \d+ weight types/);
  await expect(page.locator('#kernels-status')).toContainText(/Measuring \w+ \(1 of \d+\)/, { timeout: 60_000 });
  await expect(page.locator('#kernels-measure')).toBeDisabled();
  await page.screenshot({ path: test.info().outputPath('kernels-measuring-1280x720.png') });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.screenshot({ path: test.info().outputPath('kernels-measuring-1920x1080.png') });

  await cancel.click();
  await expect(page.locator('#kernels-status')).toHaveText('Measuring cancelled: nothing of it was kept; the measurement kept before stays as it was.', { timeout: 120_000 });
  await expect(page.locator('#kernels-progress')).toBeHidden();
  await expect(cancel).toBeHidden();
  await expect(page.locator('#kernels-measure')).toBeEnabled();
  await expect(page.locator('#kernels-kept')).toContainText('Nothing measured on this GPU');
  await expect(page.locator('#kernels-timings')).toHaveCount(0);
  expect(await page.evaluate(() => JSON.parse(localStorage.getItem('pxi.kernelTuning') ?? '{"records":[]}').records.length)).toBe(0);
  await page.screenshot({ path: test.info().outputPath('kernels-cancelled-1920x1080.png') });
  expect(errors).toEqual([]);
});
