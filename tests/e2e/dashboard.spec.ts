/**
 * The self-improvement dashboard in Chromium (SwiftShader): the kernel tuner run from the
 * Kernels view is recorded as a session; the Dashboard lists it with its decision, and shows its
 * evidence (every shape's correctness and samples, the speed-up with its 95 % interval, the
 * reason); a kept decision is undone after a confirmation, is then shown undone, and the Kernels
 * view has forgotten the measurement.
 *
 * Whether SwiftShader makes a shape reliably faster is up to the machine, so the undo is done on
 * a kept session of the same GPU and kernels handed to the store through the channel the
 * renderer records sessions with (sessions:add): the test never depends on how fast anything ran.
 * Also: a memory plan's session, and a model loaded in Chat (its first-load measurement recorded,
 * its GPU memory ledger shown).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { TUNING_INT_VARIANTS } from '../../shared/engine/autotune';
import { fixturePath, projectRoot } from '../support/fixtures';
import { callServices, serveDataDir, type ServeProcess } from './serve-fixture';

let serve: ServeProcess;
let dataDir = '';
test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-dashboard-'));
  // stories260K in the volume (imported before serve: one process owns a volume at a time), for the memory ledger.
  const r = spawnSync(process.execPath, ['bin/pxi.js', 'import', fixturePath('models', 'stories260K.gguf'), '--volume', join(dataDir, 'volume'), '--tile-size', '64', '--skip-pyramid'], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  serve = await serveDataDir(dataDir);
});
test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** A call to the services through the page's own origin and token (the contract the UI uses). */
function call<T>(page: Page, channel: string, payload: unknown): Promise<T> {
  return callServices<T>(page, serve.port, channel, payload);
}

interface SessionJson {
  id: string;
  decision: string;
  trials: { kept: boolean; speedup: { estimate: number } | null; challenger: string | null; inUse: string; reason: string }[];
  [k: string]: unknown;
}

test('a kernel tuner run becomes a session with its evidence; a kept decision is undone and forgotten', async ({ page }) => {
  test.setTimeout(240_000); // one weight type × 7 shapes and up to 4 integer kernels, each an LLVM compile on SwiftShader
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });

  // An empty dashboard says what fills it.
  await page.locator('nav a[data-view="dashboard"]').click();
  await expect(page.locator('#view h1')).toHaveText('Self-improvement dashboard');
  await expect(page.locator('#dashboard-sessions')).toContainText('No sessions yet');
  await expect(page.locator('#dashboard-memory-empty')).toContainText('No model is loaded');

  // Run the tuner on one weight type from the Kernels view.
  await page.locator('nav a[data-view="kernels"]').click();
  await page.getByRole('combobox', { name: 'Weight types to measure' }).selectOption('Q8_0');
  await page.locator('#kernels-size').selectOption('256');
  await page.locator('#kernels-rounds').selectOption('3');
  await page.locator('#kernels-measure').click();
  await expect(page.locator('#kernels-status')).toContainText('Measured 1 weight type', { timeout: 220_000 });
  await expect(page.locator('#kernels-session')).toContainText('Recorded as a session in the Dashboard');
  await expect(page.locator('#kernels-kept tbody tr')).toHaveCount(1);

  // The Dashboard lists it with its decision; its detail shows the evidence.
  await page.locator('#kernels-session').getByRole('link', { name: 'Dashboard' }).click();
  const rows = page.locator('.dashboard-sessions tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-kind', 'kernel-tuning');
  const decision = await rows.first().getAttribute('data-decision');
  expect(['kept', 'unchanged']).toContain(decision);
  await expect(rows.first()).toContainText(decision === 'kept' ? 'Kept' : 'Nothing changed');
  await rows.first().getByRole('button', { name: /Show the kernel tuning session of/ }).click();
  const detail = page.locator('#dashboard-detail');
  await expect(detail.getByRole('heading', { level: 2 })).toContainText('Kernel tuning session of');
  const trial = detail.locator('.dashboard-trial[data-subject="Q8_0"]');
  await expect(trial.locator('.dashboard-speedup')).toContainText(/as fast; with 95 % confidence between \d+\.\d\d× and \d+\.\d\d×/);
  await expect(trial.locator('.dashboard-reason')).toContainText(/^(Kept|Not kept): .*\(256 × 256 matrix\.\)$/);
  // Seven shapes of the f32 kernel, then the integer kernels this adapter compiles (up to four:
  // TUNING_INT_VARIANTS.Q8_0), each checked against its reference and timed in 3 interleaved rounds.
  const variants = trial.locator('.dashboard-variants tbody tr');
  await expect(variants.nth(6)).toBeVisible();
  expect(await variants.count()).toBeLessThanOrEqual(7 + TUNING_INT_VARIANTS.Q8_0.length);
  await expect(variants.first()).toContainText('64x1 (reference)');
  for (const cells of await trial.locator('.dashboard-variants tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))) {
    expect(cells[0]).toBe('yes');
    expect(cells[1]).toBe('3');
    expect(cells[2]).toMatch(/^\d+\.\d{3}$/);
  }
  await expect(detail.locator('#dashboard-confirmation')).toContainText('Not confirmed end to end');
  await expect(page.locator('#dashboard-chart-svg .chart-series')).toHaveCount(1);

  // A kept session of this GPU and these kernels (see the header), recorded as the renderer records one.
  const [measured] = (await call<{ sessions: SessionJson[] }>(page, 'sessions:list', {})).sessions;
  const { id: _id, undone: _undone, ...rest } = measured!;
  const trials = measured!.trials.map((t) => ({ ...t, kept: true, inUse: t.challenger ?? t.inUse, reason: 'Kept by the end-to-end test (not by its measurement).' }));
  const kept = await call<SessionJson>(page, 'sessions:add', { session: { ...rest, trials, decision: 'kept', effect: 'Decoding uses the shape kept by the end-to-end test.' } });

  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(rows).toHaveCount(2);
  const keptRow = page.locator(`.dashboard-sessions tr[data-id="${kept.id}"]`);
  await expect(keptRow).toHaveAttribute('data-decision', 'kept');
  await keptRow.getByRole('button').click();
  await expect(detail).toHaveAttribute('data-id', kept.id);
  const undo = detail.getByRole('button', { name: /Undo this change: the kernel tuning session of/ });
  await expect(undo).toBeVisible();
  // The page from its top (chart and list), then the selected session's evidence, in both themes.
  const shoot = async (name: string) => {
    await page.locator('#view').evaluate((v) => v.scrollTo(0, 0));
    await page.screenshot({ path: test.info().outputPath(`dashboard-${name}.png`) });
    await detail.getByRole('heading', { level: 2 }).scrollIntoViewIfNeeded();
    await page.screenshot({ path: test.info().outputPath(`dashboard-detail-${name}.png`) });
  };
  await page.emulateMedia({ colorScheme: 'dark' });
  await shoot('1280x720');
  await page.setViewportSize({ width: 1920, height: 1080 });
  await shoot('1920x1080');
  await page.emulateMedia({ colorScheme: 'light' });
  await shoot('1920x1080-light');

  // Undo asks first; Cancel changes nothing.
  await undo.click();
  const dialog = page.getByRole('dialog', { name: 'Undo this change?' });
  await expect(dialog).toContainText('uses the default shapes again');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await expect(dialog).toBeHidden();
  await expect(keptRow).toHaveAttribute('data-decision', 'kept');
  await undo.click();
  await dialog.getByRole('button', { name: 'Undo' }).click();
  await expect(page.locator('#dashboard-undo-result')).toContainText('Undone: the engine uses the default kernel shapes');
  await expect(keptRow).toHaveAttribute('data-decision', 'undone');
  await expect(keptRow).toContainText('Undone');
  await expect(detail).toHaveAttribute('data-decision', 'undone');
  await expect(detail.getByRole('button', { name: /Undo this change: the kernel tuning session/ })).toHaveCount(0);
  const after = (await call<{ sessions: (SessionJson & { undone: { note: string } | null })[] }>(page, 'sessions:list', {})).sessions;
  expect(after.find((s) => s.id === kept.id)!.undone!.note).toMatch(/^Undone/);
  await page.screenshot({ path: test.info().outputPath('dashboard-undone-1920x1080.png') });

  // The measurement is forgotten: the Kernels view has nothing for this GPU any more.
  await page.locator('nav a[data-view="kernels"]').click();
  await expect(page.locator('#kernels-kept')).toContainText('Nothing measured on this GPU');
  expect(errors).toEqual([]);
});

test('a memory plan made under a budget shows its explanation and its confirmation, with nothing to undo', async ({ page }) => {
  await page.goto(`${serve.url}#/dashboard`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#dashboard-chart figure')).toBeVisible();
  const seriesBefore = await page.locator('#dashboard-chart-svg .chart-series').count();
  // As `pxi run --gpu-memory` records one (the CLI writes the same store; here through the channel).
  const plan = await call<SessionJson>(page, 'sessions:add', {
    session: {
      kind: 'residency',
      model: 'stories260K.gguf',
      adapter: 'mesa | | llvmpipe | lavapipe',
      driver: 'llvmpipe',
      description: 'The residency planner (run by pxi run) decided which weights stay in GPU memory and which stream per token, for a budget of 614.4 KB.',
      codeHash: null,
      startedAt: '2026-12-06T10:00:00.000Z',
      finishedAt: '2026-12-06T10:00:01.000Z',
      trials: [],
      decision: 'recorded',
      effect: '1 of 36 weight matrices stream from host memory each token (131.1 KB per token) so the model fits 614.4 KB; the others stay on the GPU.',
      details: ['budget 614.4 KB: the weights need 1.05 MB', 'Streamed: token_embd.weight'],
      confirmation: { tokensPerSecond: 123.4, baselineTokensPerSecond: null, note: 'Decode speed of the run that followed the plan (15 tokens).' },
    },
  });
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  const row = page.locator(`.dashboard-sessions tr[data-id="${plan.id}"]`);
  await expect(row).toHaveAttribute('data-decision', 'recorded');
  await expect(row).toContainText('Memory plan');
  await expect(row).toContainText('Plan recorded');
  await row.getByRole('button', { name: /Show the memory plan session of/ }).click();
  const detail = page.locator('#dashboard-detail');
  await expect(detail.locator('.dashboard-line')).toHaveText(['budget 614.4 KB: the weights need 1.05 MB', 'Streamed: token_embd.weight']);
  await expect(detail.locator('#dashboard-confirmation')).toContainText('Confirmed end to end: 123.4 tokens/s');
  await expect(detail.getByRole('button', { name: /Undo/ })).toHaveCount(0);
  // A plan times no variants: the speed chart leaves it out.
  await expect(page.locator('#dashboard-chart-svg .chart-series')).toHaveCount(seriesBefore);
  await page.screenshot({ path: test.info().outputPath('dashboard-plan-1280x720.png') });
});

test('a model loaded in Chat: its first-load kernel measurement is a session, and the Dashboard shows the GPU memory it holds', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await page.locator('nav a[data-view="chat"]').click();
  const model = page.locator('#chat-model');
  await model.selectOption((await model.locator('option', { hasText: 'stories260K' }).getAttribute('value'))!);
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  // The same page (the engine stays loaded across views).
  await page.locator('nav a[data-view="dashboard"]').click();
  const memory = page.locator('#dashboard-memory');
  await expect(memory).toContainText('Model loaded: stories260K');
  await expect(memory.locator('tr.mem-row[data-kind="weights"]')).toHaveCount(1);
  await expect(memory.locator('summary')).toContainText(/GPU memory: [\d.]+ MiB in \d+ buffers/);
  // No GPU memory budget in Chat: the residency plan keeps every weight matrix on the GPU.
  await expect(page.locator('#dashboard-residency')).toHaveAttribute('data-streamed', '0');
  await expect(page.locator('#dashboard-residency .dashboard-line').first()).toHaveText('no GPU memory budget given');
  // This browser had no measurement for the GPU, so the load measured the model's weight types first.
  const loaded = page.locator('.dashboard-sessions tbody tr', { hasText: 'stories260K' }).first();
  await expect(loaded).toHaveAttribute('data-kind', 'kernel-tuning');
  await loaded.getByRole('button').click();
  await expect(page.locator('#dashboard-detail')).toContainText('run by loading a model');
  expect(errors).toEqual([]);
});
