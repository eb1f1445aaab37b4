/**
 * The Training view and the explorer's weight-change layer in Debian's Chromium against browser
 * mode: a tiny llama is trained in the services (Dawn on lavapipe) from the Training view's
 * form on the fixture's TinyStories text; the loss curve grows point by point, the validation
 * points arrive, the run is paused (and survives a reload), resumed and finished; its model is
 * then opened on the Explorer with the weight change of each checkpoint drawn over its tensors.
 * A second run is cancelled. A third trains in the window itself (the page's WebGPU on
 * SwiftShader, the same step loop): its events come back as train:event, its checkpoints are
 * written by the services, it pauses, resumes in the background on the window's checkpoint and
 * ends there; a fourth is left by closing its window and shows paused at its last checkpoint.
 * Screenshots under test-results/playwright/.
 */
import { expect, test, type Page, type WebSocket } from '@playwright/test';
import { PNG } from 'pngjs';
import { fixturePath } from '../support/fixtures';
import { settled } from './explorer-camera';
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
  await expect
    .poll(
      async () => {
        // Thrown, not returned: expect.poll stops at once on an error from its callback.
        if ((await page.locator('#train-detail').getAttribute('data-state')) === 'failed') {
          throw new Error(`the run failed while waiting for ${what}: ${await page.locator('#train-detail .train-error').textContent()}`);
        }
        return check();
      },
      { message: `waited ${timeout / 1000} s for ${what}`, timeout, intervals: [300] },
    )
    .toBe(true);
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
  // The camera flies to the tensor (the search started the flight before the inspector filled): wait until it is there.
  await settled(page);
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await expect(page.locator('.ex-tooltip')).toContainText('weight change', { timeout: 10_000 });
  await page.screenshot({ path: test.info().outputPath('explorer-weight-change-tooltip.png') });

  // Off: the map looks different without the layer (the same view, the layer's tiles gone).
  await page.locator('#ex-weight-step').selectOption(String(steps[steps.length - 1]));
  await page.locator('.ex-button[title="Fit: show the whole map"]').click();
  // The click started the camera's flight (data-animating); the frame after it, with every heat image in, is the one to compare.
  await settled(page);
  const on = await page.screenshot();
  await page.locator('#ex-weight-run').selectOption('');
  await expect(legend).toBeHidden();
  // Hiding the legend and asking for the frame without the layer happen together: wait for that frame.
  await settled(page);
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
  // The view shows the finished run of the test before until the new one is selected: wait for
  // the new one first, or its chart points and Cancel button would be the old run's.
  await expect(page.locator('#train-detail')).toHaveAttribute('data-run', 'to-cancel', { timeout: 60_000 });
  await expect(page.locator('#train-detail')).toHaveAttribute('data-state', 'running', { timeout: 60_000 });
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

// ---------------------------------------------------------------------------- window runs

interface TrainEventFrame {
  taskId: number | null;
  run: string;
  where: 'background' | 'window';
  event: { kind: string; step: number; loss?: number };
}

/**
 * The train:event frames the page receives over its WebSocket, and a wait for one that holds:
 * the test waits for the event itself (the services' broadcast of what the window's loop sent).
 */
function trainEvents(page: Page) {
  const seen: TrainEventFrame[] = [];
  const waiters: { pred: (e: TrainEventFrame) => boolean; resolve: (e: TrainEventFrame) => void }[] = [];
  const onFrame = (payload: string | Buffer) => {
    if (typeof payload !== 'string') return;
    let f: { event?: string; payload?: TrainEventFrame };
    try {
      f = JSON.parse(payload) as typeof f;
    } catch {
      return;
    }
    if (f.event !== 'train:event' || !f.payload) return;
    seen.push(f.payload);
    for (const w of [...waiters]) {
      if (w.pred(f.payload)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(f.payload);
      }
    }
  };
  page.on('websocket', (ws: WebSocket) => ws.on('framereceived', (f) => onFrame(f.payload)));
  return {
    seen,
    next(what: string, pred: (e: TrainEventFrame) => boolean, timeout: number): Promise<TrainEventFrame> {
      const had = seen.find(pred);
      if (had) return Promise.resolve(had);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no train:event ${what} within ${timeout / 1000} s; last: ${JSON.stringify(seen.at(-1))}`)), timeout);
        waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
      });
    },
  };
}

/** Whether this Chromium's WebGPU can train (the page reports the reason when it cannot). */
async function windowTrainingProbe(page: Page): Promise<string | null> {
  return page.evaluate(async () => {
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    if (!gpu) return 'navigator.gpu is missing';
    const a = await gpu.requestAdapter();
    if (!a) return 'no WebGPU adapter';
    return null;
  });
}

/** The page's adapter as the training kernels see it (recorded with the test's results). */
async function adapterFacts(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const a = (await (navigator as Navigator & { gpu: GPU }).gpu.requestAdapter())!;
    const i = a.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    return `${i.vendor} ${i.architecture} ${i.description}; subgroups ${a.features.has('subgroups') ? `${i.subgroupMinSize}..${i.subgroupMaxSize} lanes` : 'none'}; shader-f16 ${a.features.has('shader-f16')}; ${a.limits.maxStorageBuffersPerShaderStage} storage buffers/stage`;
  });
}

async function startWindowRun(page: Page, name: string, sizes: Record<string, string>): Promise<void> {
  await page.locator('#train-name').fill(name);
  await page.locator('#train-text').fill(TRAIN_TEXT);
  await page.locator('#train-valid').fill(VALID_TEXT);
  await page.locator('#train-where-window').check();
  if (!(await page.locator('#train-steps').isVisible())) await page.locator('#train-sizes summary').click();
  for (const [k, v] of Object.entries(sizes)) await page.locator(`#train-${k}`).fill(v);
  await page.locator('#train-start').click();
}

test('trains in the window’s own WebGPU: events, checkpoints written by the services, pause, resume in the background; a closed window leaves it paused', async ({ page, context }) => {
  test.setTimeout(480_000);
  const errors: string[] = [];
  const events = trainEvents(page);
  await open(page, errors);
  const noGpu = await windowTrainingProbe(page);
  test.skip(noGpu !== null, `this Chromium cannot train in the window: ${noGpu}`);
  test.info().annotations.push({ type: 'adapter', description: await adapterFacts(page) });

  await startWindowRun(page, 'win-demo', { steps: '40', evalEvery: '20', checkpointEvery: '10', sampleEvery: '20' });
  const detail = page.locator('#train-detail');
  // A failure of the window's loop (e.g. a kernel SwiftShader cannot run) shows in the form or the run.
  const started = await Promise.race([
    detail.waitFor({ state: 'visible', timeout: 120_000 }).then(() => 'started'),
    page.locator('#train-form [role="alert"]').waitFor({ timeout: 120_000 }).then(async () => `not started: ${await page.locator('#train-form [role="alert"]').textContent()}`),
  ]);
  expect(started).toBe('started');
  await expect(detail).toHaveAttribute('data-run', 'win-demo');
  await expect(detail).toHaveAttribute('data-where', 'window');
  await expect(page.locator('#train-runs tr[data-run="win-demo"]')).toHaveAttribute('data-where', 'window');
  await expect(detail.locator('.train-where-now')).toContainText('this window');

  // The loop's events come back through the services as train:event (where: window).
  const failure = detail.locator('.train-error [role="alert"]');
  const step = await Promise.race([
    events.next('step of win-demo', (e) => e.run === 'win-demo' && e.event.kind === 'step', 300_000),
    failure.waitFor({ timeout: 300_000 }).then(async () => {
      throw new Error(`the window run failed: ${await failure.textContent()}`);
    }),
  ]);
  expect(step).toMatchObject({ where: 'window', taskId: null, event: { kind: 'step', step: 1 } });
  expect(Number.isFinite(step.event.loss)).toBe(true);
  const second = await events.next('second step', (e) => e.run === 'win-demo' && e.event.kind === 'step' && e.event.step === 2, 120_000);
  expect(second.where).toBe('window');
  // Its first checkpoint: sent in chunks, written by the services into the volume.
  await events.next('checkpoint of step 10', (e) => e.run === 'win-demo' && e.event.kind === 'checkpoint' && e.event.step === 10, 300_000);
  await expect(detail.locator('[data-figure="checkpoints"]')).toContainText('step 10');
  await expect(page.locator('#train-loss-chart')).not.toHaveAttribute('data-train-points', '0');
  await showRun(page);
  await page.screenshot({ path: test.info().outputPath('training-window-running.png') });

  // Pause: the window checkpoints the step it reached (the services wrote it: it is listed after a reload).
  await page.locator('#train-pause').click();
  await expect(detail).toHaveAttribute('data-state', 'paused', { timeout: 120_000 });
  const pausedStep = Number((await detail.locator('[data-figure="step"]').textContent())!.split(' ')[0]);
  expect(pausedStep).toBeGreaterThanOrEqual(10);
  await events.next(`checkpoint of the pause (step ${pausedStep})`, (e) => e.run === 'win-demo' && e.event.kind === 'checkpoint' && e.event.step === pausedStep, 10_000);
  await page.reload();
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(detail).toHaveAttribute('data-run', 'win-demo');
  await expect(detail).toHaveAttribute('data-state', 'paused');
  await expect(detail.locator('[data-figure="checkpoints"]')).toContainText(`step ${pausedStep}`);
  await expect(page.locator('#train-loss-chart')).toHaveAttribute('data-train-points', String(pausedStep));
  await expect(page.locator('#train-resume-window')).toBeVisible();
  await showRun(page);
  await page.screenshot({ path: test.info().outputPath('training-window-paused.png') });

  // Resume in the background: the services' task reads the window's checkpoint and finishes the run.
  await page.locator('#train-resume').click();
  const resumed = await events.next('the background start', (e) => e.run === 'win-demo' && e.event.kind === 'start' && e.where === 'background', 120_000);
  expect(resumed.event).toMatchObject({ step: pausedStep });
  await events.next('done', (e) => e.run === 'win-demo' && e.event.kind === 'done', 300_000);
  await expect(detail).toHaveAttribute('data-state', 'succeeded', { timeout: 120_000 });
  await expect(detail).toHaveAttribute('data-where', 'background');
  await expect(detail.locator('[data-figure="step"]')).toHaveText('40 of 40');
  await expect(page.locator('#train-loss-chart')).toHaveAttribute('data-train-points', '40');
  await expect(page.locator('#train-explore')).toBeVisible();

  // A window closed while it trains: the run shows paused at its last checkpoint.
  const other = await context.newPage();
  const otherEvents = trainEvents(other);
  await open(other, errors);
  await startWindowRun(other, 'win-closed', { steps: '300', evalEvery: '0', checkpointEvery: '3', sampleEvery: '0' });
  await otherEvents.next('a checkpoint of win-closed', (e) => e.run === 'win-closed' && e.event.kind === 'checkpoint', 300_000);
  await other.close();
  const row = page.locator('#train-runs tr[data-run="win-closed"]');
  await expect(row).toHaveAttribute('data-state', 'paused', { timeout: 60_000 });
  await row.locator('button').click();
  await expect(detail).toHaveAttribute('data-run', 'win-closed');
  await expect(detail.locator('[data-figure="checkpoints"]')).toContainText('step ');
  // It stands at its last checkpoint (steps after it, if any, were lost with the window).
  const lastCheckpoint = Number(/(\d+)$/.exec((await detail.locator('[data-figure="checkpoints"]').textContent())!)![1]);
  expect(lastCheckpoint % 3).toBe(0);
  await expect(detail.locator('[data-figure="step"]')).toHaveText(`${lastCheckpoint} of 300`);
  await expect(page.locator('#train-loss-chart')).toHaveAttribute('data-train-points', String(lastCheckpoint));
  await expect(page.locator('#train-resume-window')).toBeVisible();
  await showRun(page);
  await page.screenshot({ path: test.info().outputPath('training-window-closed.png') });
  console.log(`window training ran on: ${test.info().annotations.find((a) => a.type === 'adapter')?.description}`);
  expect(errors).toEqual([]);
});
