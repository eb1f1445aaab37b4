import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../support/fixtures';
import { startServe, type ServeProcess } from './serve-fixture';

/**
 * The task queue in the UI: a long import (a generated 130 MB model, a few seconds of work
 * here) is cancelled from the Tasks view and from the wizard, retried from both, and finishes;
 * the history keeps every state with its duration and error. Fresh data folder for this file.
 */

let serve: ServeProcess;
let temp: string;
let model: string;

test.beforeAll(async () => {
  temp = mkdtempSync(join(tmpdir(), 'pxi-e2e-tasks-'));
  model = join(temp, 'wide-qwen.gguf');
  // Random weights written directly (no quantiser): ~130 MB in about a second.
  execFileSync(
    process.execPath,
    ['bin/pxi.js', 'gen', '--preset', 'tiny-qwen2', '--type', 'F32', '--embd', '1024', '--ff', '4096', '--blocks', '2', '--method', 'direct', '-o', model, '--quiet'],
    { cwd: projectRoot },
  );
  serve = await startServe();
});
test.afterAll(async () => {
  await serve?.stop();
  if (temp) rmSync(temp, { recursive: true, force: true });
});

async function go(page: Page, view: string): Promise<void> {
  await page.locator(`nav a[data-view="${view}"]`).click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', view);
}

test('an import is cancelled and retried from Tasks and from the wizard, then finishes and verifies', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });

  await go(page, 'tasks');
  await expect(page.locator('#view')).toContainText('Nothing is queued or running.');

  // Start the import through the wizard and wait until it is really converting.
  await go(page, 'import');
  const wizard = page.locator('.wizard');
  await page.locator('#gguf-path').fill(model);
  await page.locator('#gguf-path').press('Enter');
  await expect(wizard).toHaveAttribute('data-step', 'inspect');
  await expect(wizard.locator('dl.facts')).toContainText('qwen2');
  await page.locator('.wizard-next').click();
  await page.locator('#start-import').click();
  await expect(wizard).toHaveAttribute('data-step', 'convert');
  await expect(wizard.locator('.progress-figures')).toContainText('MB/s');
  await expect(wizard.locator('[role="progressbar"]')).toHaveAttribute('aria-valuenow', /^[1-9]/);
  await page.screenshot({ path: test.info().outputPath('import-convert.png') });

  // Tasks: the running import, cancelled here.
  await go(page, 'tasks');
  const row = page.locator('tr.task-row').filter({ hasText: 'wide-qwen.gguf' });
  await expect(row).toHaveAttribute('data-state', 'running');
  await expect(row.locator('.progress-figures')).toContainText('MiB');
  await page.screenshot({ path: test.info().outputPath('tasks-running.png') });
  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row).toHaveAttribute('data-state', 'cancelled');
  const history = page.locator('section[aria-label="History"]');
  await expect(history.locator('tr.task-row')).toHaveCount(1);
  await expect(row.locator('.task-error')).toContainText('cancelled');
  await expect(row.getByRole('button', { name: 'Retry' })).toBeVisible();
  await expect(row.getByRole('button', { name: 'Cancel' })).toBeHidden();

  // Retry from Tasks: it goes back to the queue and runs again.
  await row.getByRole('button', { name: 'Retry' }).click();
  await expect(row).toHaveAttribute('data-state', /queued|running/);
  await expect(page.locator('section[aria-label="Queue"] tr.task-row')).toHaveCount(1);

  // The wizard follows the retried task; cancel it there this time.
  await go(page, 'import');
  await expect(wizard).toHaveAttribute('data-step', 'convert');
  await page.locator('#cancel-import').click();
  const cancelled = wizard.locator('.callout');
  await expect(cancelled).toContainText('Import cancelled');
  await page.screenshot({ path: test.info().outputPath('import-cancelled.png') });

  // Retry from the wizard: it resumes, finishes and verifies.
  await wizard.getByRole('button', { name: 'Retry' }).click();
  await expect(wizard).toHaveAttribute('data-step', 'verify', { timeout: 90_000 });
  await expect(wizard.locator('.verify-result')).toHaveAttribute('data-ok', 'true', { timeout: 60_000 });

  // Tasks: the history holds the import (three attempts) and the verify, with durations.
  await go(page, 'tasks');
  const rows = page.locator('section[aria-label="History"] tr.task-row');
  await expect(rows).toHaveCount(2);
  const imp = rows.filter({ hasText: 'wide-qwen.gguf' });
  await expect(imp).toHaveAttribute('data-state', 'succeeded');
  await expect(imp).toContainText('Stored wide-qwen');
  // Any formatted duration, not the '–' of a task that never ran: the import takes from well
  // under a second to minutes, depending on the machine.
  await expect(imp.locator('.task-duration')).toHaveText(/^(\d+ ms|\d+(\.\d)? s|\d+ min \d+ s)$/);
  await expect(imp.locator('.task-attempts')).toHaveText('3');
  const ver = rows.filter({ hasText: 'Verify' });
  await expect(ver).toHaveAttribute('data-state', 'succeeded');
  await expect(ver).toContainText('OK:');
  await expect(page.locator('#view')).toContainText('Nothing is queued or running.');
  await page.screenshot({ path: test.info().outputPath('tasks.png'), fullPage: true });

  await go(page, 'models');
  const m = page.locator('tr.model-row').filter({ hasText: 'wide-qwen' });
  await expect(m).toContainText('qwen2');
  await expect(m.locator('.chip')).toHaveText(['F32']);
  await expect(m.locator('.verify-cell')).toHaveText('OK');
  expect(errors).toEqual([]);
  // Open leads to the explorer with the model named in the address.
  await m.getByRole('link', { name: 'Open' }).click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'explorer');
  expect(new URL(page.url()).hash).toMatch(/^#\/explorer\?model=wide-qwen-[0-9a-f]{8}$/);
});
