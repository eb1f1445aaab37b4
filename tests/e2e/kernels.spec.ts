/**
 * The Kernels view in Chromium (SwiftShader): the engine measures its own decode kernels on the
 * page's GPU, shows every shape's timing and the shape it keeps per weight type, keeps it across
 * reloads, and forgets it on request.
 */
import { expect, test } from '@playwright/test';
import { WEIGHT_TYPES } from '../../shared/engine/quant-matmul';
import { startServe, type ServeProcess } from './serve-fixture';

const N = WEIGHT_TYPES.length;

let serve: ServeProcess;
test.beforeAll(async () => {
  serve = await startServe();
});
test.afterAll(async () => {
  await serve?.stop();
});

test('measures the decode kernels of every weight type, keeps the result, and forgets it', async ({ page }) => {
  test.setTimeout(420_000); // 15 weight types × 7 shapes, each an LLVM compile on SwiftShader
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.locator('nav a[data-view="kernels"]').click();
  await expect(page.locator('#view h1')).toHaveText('Kernels');
  await expect(page.locator('#kernels-kept')).toContainText('Nothing measured on this GPU');
  await expect(page.locator('#kernels-forget')).toBeDisabled();

  await page.locator('#kernels-size').selectOption('256');
  await page.locator('#kernels-rounds').selectOption('3');
  await page.locator('#kernels-measure').click();
  await expect(page.locator('#kernels-status')).toContainText('Measuring');
  await expect(page.locator('#kernels-status')).toContainText(`Measured ${N} weight types`, { timeout: 390_000 });

  // Every shape of every type was timed and agreed with the default's product.
  const timings = page.locator('#kernels-timings tbody tr');
  await expect(timings).toHaveCount(N);
  const cells = await page.locator('#kernels-timings tbody td').allTextContents();
  expect(cells).toHaveLength(N * 7);
  expect(cells.every((c) => /^\d+\.\d\d$/.test(c)), cells.join(' ')).toBe(true);
  // Exactly one kept shape per type, and the kept table names the same ones.
  await expect(page.locator('#kernels-timings td.kept')).toHaveCount(N);
  const kept = page.locator('#kernels-kept tbody tr');
  await expect(kept).toHaveCount(N);
  for (const type of WEIGHT_TYPES) {
    await expect(page.locator(`#kernels-kept tr[data-type="${type}"]`)).toHaveAttribute('data-shape', /^\d+x\d+$/);
  }
  await expect(page.locator('#kernels-kept')).toContainText('256 × 256');
  await page.screenshot({ path: test.info().outputPath('kernels.png'), fullPage: true });

  // Kept across a reload (this browser's storage), then forgotten.
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#kernels-kept tbody tr')).toHaveCount(N);
  await page.locator('#kernels-forget').click();
  await expect(page.locator('#kernels-kept')).toContainText('Nothing measured on this GPU');
  await expect(page.locator('#kernels-status')).toContainText('Forgotten');
  expect(errors).toEqual([]);
});
