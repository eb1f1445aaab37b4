/**
 * The fine-tune flow in Debian's Chromium against browser mode: stories260K (and a generated
 * gemma2 the engine cannot fine-tune) imported into the server's volume, the Training view's
 * Fine-tune form (the gemma2 shown disabled with its reason, defaults shown, a relative path
 * refused), a short LoRA fine-tune on a slice of TinyStories started from it in the services
 * (Dawn on lavapipe); its train:event frames drawn as the loss and validation curves; at the end
 * its adapter listed under stories260K with its size and final validation loss and a "Chat with
 * it" link; the Models view naming the adapter. Screenshots under test-results/playwright/.
 */
import { expect, test, type WebSocket } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateModelBytes, planModel } from '../../shared/model-gen';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

const MODEL = fixturePath('models', 'stories260K.gguf');
const RUN = 'stories260K-lora';

let dataDir = '';
let serve: ServeProcess | null = null;
let url = '';
let trainText = '';
let validText = '';

function pxi(args: string[]): void {
  const r = spawnSync(process.execPath, ['bin/pxi.js', ...args, '--volume', join(dataDir, 'volume')], { cwd: projectRoot, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
}

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-finetune-'));
  // The text: small slices of the fixture's TinyStories, on the server's disk.
  trainText = join(dataDir, 'stories-train.txt');
  validText = join(dataDir, 'stories-valid.txt');
  writeFileSync(trainText, readFileSync(fixturePath('corpus', 'tinystories-train.txt'), 'utf8').slice(0, 30_000));
  writeFileSync(validText, readFileSync(fixturePath('corpus', 'tinystories-valid.txt'), 'utf8').slice(0, 6_000));
  const gemma = join(dataDir, 'tiny-gemma2.gguf');
  writeFileSync(gemma, await generateModelBytes(planModel({ preset: 'tiny-gemma2', type: 'F32', seed: 1, method: 'quantize' })));
  // The imports run before serve: one process owns a volume at a time.
  pxi(['import', MODEL, '--skip-pyramid']);
  pxi(['import', gemma, '--name', 'tiny-gemma2', '--skip-pyramid']);
  serve = await serveDataDir(dataDir);
  url = serve.url;
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('fine-tunes stories260K from the Training view: live curves, then its adapter under the model with a link to Chat', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The run's events as the page receives them (the live curves are drawn from these).
  const events: { run: string; event: { kind: string; step: number } }[] = [];
  page.on('websocket', (ws: WebSocket) =>
    ws.on('framereceived', (f) => {
      if (typeof f.payload !== 'string' || !f.payload.includes('"train:event"')) return;
      const frame = JSON.parse(f.payload) as { event?: string; payload?: (typeof events)[number] };
      if (frame.event === 'train:event' && frame.payload) events.push(frame.payload);
    }),
  );
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${url}#/training`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#view h1')).toHaveText('Training');

  // The Fine-tune tab beside New run.
  await expect(page.locator('#train-new-tab')).toHaveAttribute('aria-selected', 'true');
  await page.locator('#train-finetune-tab').click();
  await expect(page.locator('#train-finetune-tab')).toHaveAttribute('aria-selected', 'true');
  await expect(page.locator('#train-form')).toBeHidden();
  const select = page.locator('#ft-model');
  // stories260K can be fine-tuned and is chosen; the gemma2 is listed disabled, with its reason said.
  await expect(select.locator('option:not([disabled])')).toHaveText([/^stories260K \(llama/]);
  await expect(select.locator('option[disabled]')).toHaveText(['tiny-gemma2 — cannot be fine-tuned']);
  await expect(page.locator('#ft-unsupported')).toContainText('tiny-gemma2: the architecture is not llama or qwen2 (gemma2)');
  // The defaults, shown.
  await expect(page.locator('#ft-name')).toHaveValue(RUN);
  await expect(page.locator('#ft-rank')).toHaveValue('8');
  await expect(page.locator('#ft-alpha')).toHaveValue('16');
  await expect(page.locator('#ft-targets input:checked')).toHaveCount(7);
  await expect(page.locator('#ft-mode-lora')).toBeChecked();
  // The estimate under the settings: the GPU memory, and no time yet (no run has finished on this machine).
  const estimate = page.locator('#ft-estimate');
  const ESTIMATE = /^≈ [\d.]+ (KiB|MiB|GiB) of GPU memory; time: measured after the first steps\.$/;
  await expect(estimate).toHaveText(ESTIMATE);
  const atDefaults = await estimate.textContent();

  // A relative path is refused in the form, before any call.
  await page.locator('#ft-text').fill('stories/train.txt');
  await page.locator('#ft-start').click();
  await expect(page.locator('#ft-form [role="alert"]')).toContainText('is not an absolute path');
  await expect(page.locator('#ft-text')).toBeFocused();

  // A short LoRA fine-tune: 6 steps of 2 × 32 tokens, validation every 3.
  await page.locator('#ft-text').fill(trainText);
  await page.locator('#ft-valid').fill(validText);
  await page.locator('#ft-schedule summary').click();
  await page.locator('#ft-steps').fill('6');
  await page.locator('#ft-batch').fill('2');
  await page.locator('#ft-seqLen').fill('32');
  await page.locator('#ft-evalEvery').fill('3');
  await page.locator('#ft-checkpointEvery').fill('3');
  // It follows the settings: 2 × 32 tokens take less than the default 4 × 256.
  await expect(estimate).not.toHaveText(atDefaults!);
  await expect(estimate).toHaveText(ESTIMATE);
  await page.screenshot({ path: test.info().outputPath('finetune-form.png') });
  await page.locator('#ft-start').click();

  const detail = page.locator('#train-detail');
  await expect(detail).toHaveAttribute('data-run', RUN);
  await expect(detail.locator('h2')).toHaveText(`Fine-tune ${RUN}`);
  await expect(detail.locator('.train-what')).toContainText('LoRA fine-tune of stories260K: rank 8, alpha 16, every attention and FFN matrix');
  const row = page.locator(`#train-runs tr[data-run="${RUN}"]`);
  await expect(row).toHaveAttribute('data-kind', 'finetune');
  await expect(row.locator('.train-kind')).toHaveText('LoRA r8 fine-tune of stories260K');

  await expect(detail).toHaveAttribute('data-state', /succeeded|failed/, { timeout: 240_000 });
  await expect(detail.locator('.train-error')).toHaveText('');
  await expect(detail).toHaveAttribute('data-state', 'succeeded');
  // The events came live, every step once, validation before the first step and every 3.
  const mine = events.filter((e) => e.run === RUN);
  expect(mine.filter((e) => e.event.kind === 'step').map((e) => e.event.step)).toEqual([1, 2, 3, 4, 5, 6]);
  expect(mine.filter((e) => e.event.kind === 'valid').map((e) => e.event.step)).toEqual([0, 3, 6]);
  expect(mine.at(-1)?.event.kind).toBe('done');
  // The curves: a loss per step, three validation points.
  const chart = page.locator('#train-loss-chart');
  await expect(chart).toHaveAttribute('data-train-points', '6');
  await expect(chart).toHaveAttribute('data-valid-points', '3');
  await expect(detail.locator('[data-figure="step"]')).toHaveText('6 of 6');
  await expect(detail.locator('[data-figure="valid"]')).toContainText('(step 6)');
  await expect(detail.locator('[data-figure="checkpoints"]')).toHaveText('step 3, step 6');
  await expect(page.locator('#train-resume-window')).toBeHidden();
  await expect(page.locator('#train-explore')).toBeHidden();

  // Its adapter, under its model: size, final validation loss, and Chat with it.
  const adapters = page.locator('#ft-adapters');
  await expect(adapters.locator('h3')).toHaveText('Adapters of stories260K');
  const adapter = adapters.locator(`tr[data-adapter="${RUN}"]`);
  await expect(adapter).toBeVisible();
  await expect(adapter).toContainText('(this run)');
  await expect(adapter.locator('td').nth(0)).toHaveText(/^\d+(\.\d+)? (KiB|MiB)$/);
  // The adapter's own record of the final validation loss (an f32 in its GGUF) is the run's.
  const validShown = Number((await detail.locator('[data-figure="valid"]').textContent())!.split(' ')[0]);
  expect(Math.abs(Number(await adapter.locator('td').nth(1).textContent()) - validShown)).toBeLessThanOrEqual(1e-4);
  await expect(adapter.locator('td').nth(2)).toHaveText('6');
  await expect(adapter.locator('td').nth(3)).toHaveText('rank 8, alpha 16');
  const chatLink = adapter.locator('a', { hasText: 'Chat with it' });
  await expect(chatLink).toHaveAttribute('href', new RegExp(`^#/chat\\?model=[a-z0-9-]+&adapter=${RUN}$`));
  const fits = await page.locator('#view').evaluate((v) => v.scrollWidth - v.clientWidth);
  expect(fits).toBeLessThanOrEqual(0);
  await detail.evaluate((e) => e.scrollIntoView({ block: 'start' }));
  await page.screenshot({ path: test.info().outputPath('finetune-done.png') });
  await adapters.evaluate((e) => e.scrollIntoView({ block: 'end' }));
  await page.screenshot({ path: test.info().outputPath('finetune-adapter.png') });

  // The finished run is this machine's measured rate: the form's estimate now predicts a time from it.
  await page.locator('#train-finetune-tab').click();
  await expect(estimate).toHaveText(new RegExp(`^≈ [\\d.]+ (KiB|MiB|GiB) of GPU memory; ≈ .+ at [\\d,]+ tokens/s \\(from this machine’s last fine-tune, ${RUN}\\)\\.$`));

  // The Models view names the adapter on the model's row, and its link opens Chat with it.
  const href = (await chatLink.getAttribute('href'))!;
  await page.locator('nav a[data-view="models"]').click();
  const modelRow = page.locator('tr.model-row', { hasText: 'stories260K' });
  await expect(modelRow.locator('.model-adapters')).toHaveText(`1 adapter: ${RUN}`);
  await expect(modelRow.locator('.model-adapters a')).toHaveAttribute('href', href);
  await expect(page.locator('tr.model-row', { hasText: 'tiny-gemma2' }).locator('.model-adapters')).toHaveCount(0);
  await page.screenshot({ path: test.info().outputPath('finetune-models.png') });
  await modelRow.locator('.model-adapters a').click();
  await expect(page.locator('#view')).toHaveAttribute('data-view', 'chat');
  expect(errors).toEqual([]);
});
