/**
 * Reading single values in the explorer (issue 13): stories260K and a tiny Q4_K model imported
 * with the CLI into a fresh data folder, `pxi serve` on it; zoomed in to the full zoom over a
 * tensor, the readout names the row, column, value and stored value (and for Q4_K its block and
 * scale), checked against the GGUF files themselves. Screenshots at 1280×720 and 1920×1080.
 */
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { blockScale } from '../../shared/map/values';
import { shapeElementAt, tensorShape } from '../../shared/map/shape';
import { colormapRgb } from '../../shared/map/colormap';
import { QUANT_FORMATS } from '../../shared/quant';
import { fixturePath, projectRoot } from '../support/fixtures';
import { writeTinyModel } from '../node/models-support';
import { serveDataDir, type ServeProcess } from './serve-fixture';
import { cam, settled, type Cam } from './explorer-camera';

const FIXTURE = fixturePath('models', 'stories260K.gguf');
const Q_NAME = 'blk.0.attn_q.weight';

let dataDir: string;
let serve: ServeProcess | null = null;
let storiesId: string;
let tinyId: string;
let tinyFile: string;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-explorer-values-'));
  const pxiImport = (file: string, extra: string[] = []) =>
    (JSON.parse(String(execFileSync(process.execPath, ['bin/pxi.js', 'import', file, '--volume', join(dataDir, 'volume'), '--json', ...extra], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] }))) as { model: { id: string } }).model.id;
  storiesId = pxiImport(FIXTURE);
  tinyFile = join(dataDir, 'tiny-q4k.gguf');
  writeTinyModel(tinyFile, { type: 'Q4_K', embd: 256, ff: 256, seed: 7 });
  tinyId = pxiImport(tinyFile);
  serve = await serveDataDir(dataDir);
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function open(page: Page, errors: string[], modelId: string, tensor: string): Promise<void> {
  page.on('pageerror', (e) => errors.push(e.message));
  const u = new URL(serve!.url);
  u.hash = `#/explorer?model=${encodeURIComponent(modelId)}&tensor=${encodeURIComponent(tensor)}`;
  await page.goto(u.toString());
  await expect(page.locator('.explorer')).toHaveAttribute('data-started', 'true', { timeout: 30_000 });
  await settled(page);
  await expect(page.locator('.ex-inspector [data-field="name"]')).toHaveText(tensor);
}

/** Zooms in fully with the wheel around map point (x, y) and leaves the pointer over it. */
async function zoomTo(page: Page, x: number, y: number): Promise<Cam> {
  const box = (await page.locator('.ex-stage').boundingBox())!;
  const screen = (c: Cam) => ({ x: box.x + c.width / 2 + (x - c.cx) * c.zoom, y: box.y + c.height / 2 + (y - c.cy) * c.zoom });
  let c = await cam(page);
  for (let round = 0; round < 4 && c.zoom < 16; round++) {
    const p = screen(c);
    await page.mouse.move(p.x, p.y);
    for (let i = 0; i < 10; i++) await page.mouse.wheel(0, -240);
    c = await settled(page);
  }
  expect(c.zoom).toBe(16);
  // Re-aim at the point's pixel centre (the wheel zooms round whole CSS pixels).
  const p = screen(c);
  await page.mouse.move(p.x, p.y);
  return c;
}

async function selectedRect(page: Page): Promise<{ x: number; y: number; width: number; height: number }> {
  const [x, y, width, height] = (await page.locator('.explorer').getAttribute('data-selected-rect'))!.split(',').map(Number);
  return { x: x!, y: y!, width: width!, height: height! };
}

for (const viewport of [
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
]) {
  test.describe(`at ${viewport.width}×${viewport.height}`, () => {
    test.use({ viewport });

    test('an F32 tensor’s single values read at full zoom: row, column, value, stored', async ({ page }) => {
      const errors: string[] = [];
      await open(page, errors, storiesId, Q_NAME);
      const bytes = readFileSync(FIXTURE);
      const t = parseGgufBytes(bytes).tensors.find((x) => x.name === Q_NAME)!;
      const values = new Float32Array(new Uint8Array(bytes.subarray(t.offset, t.offset + Number(t.byteSize))).buffer);
      // Before zooming in, the tooltip says how far to zoom for single values.
      {
        const c0 = await cam(page);
        const box = (await page.locator('.ex-stage').boundingBox())!;
        await page.mouse.move(box.x + c0.width / 2 + (3200 + 512 - c0.cx) * c0.zoom, box.y + c0.height / 2 + (512 - c0.cy) * c0.zoom);
        await expect(page.locator('.ex-tooltip')).toContainText(`zoom in ${Math.ceil(4 / c0.zoom)}× to read single values`);
        await expect(page.locator('.ex-readout')).toBeHidden();
      }
      // On the default volume attn_q's room is one 1024-px tile at (3200, 0); the tensor is drawn
      // in its shape from that corner, one map pixel a value: pixel (36, 33) is row 33, column 36.
      await zoomTo(page, 3200 + 36.5, 33.5);
      const ro = page.locator('.ex-readout');
      await expect(ro).toBeVisible();
      await expect(ro).toHaveAttribute('data-ready', 'true');
      const e = 33 * 64 + 36;
      await expect(ro.locator('[data-field="tensor"]')).toHaveText(Q_NAME);
      await expect(ro.locator('[data-field="row"]')).toHaveText(String(Math.floor(e / 64)));
      await expect(ro.locator('[data-field="col"]')).toHaveText(String(e % 64));
      expect(Number(await ro.locator('[data-field="value"]').textContent())).toBe(values[e]);
      expect(Number(await ro.locator('[data-field="stored"]').textContent())).toBe(values[e]);
      await expect(ro.locator('[data-field="block"]')).toContainText('not quantised');
      // One map pixel (16 screen pixels) right is the next column.
      const c = await cam(page);
      const box = (await page.locator('.ex-stage').boundingBox())!;
      await page.mouse.move(box.x + c.width / 2 + (3200 + 37.5 - c.cx) * 16, box.y + c.height / 2 + (33.5 - c.cy) * 16);
      await expect(ro.locator('[data-field="col"]')).toHaveText(String((e + 1) % 64));
      expect(Number(await ro.locator('[data-field="value"]').textContent())).toBe(values[e + 1]);
      await page.screenshot({ path: test.info().outputPath(`explorer-values-f32-${viewport.width}x${viewport.height}.png`) });
      await test.info().attach(`explorer-values-f32-${viewport.width}x${viewport.height}`, { path: test.info().outputPath(`explorer-values-f32-${viewport.width}x${viewport.height}.png`), contentType: 'image/png' });
      expect(errors).toEqual([]);
    });

    test('a Q4_K tensor’s single values read at full zoom with their block index and scale', async ({ page }) => {
      const errors: string[] = [];
      await open(page, errors, tinyId, Q_NAME);
      const rect = await selectedRect(page);
      const bytes = readFileSync(tinyFile);
      const t = parseGgufBytes(bytes).tensors.find((x) => x.name === Q_NAME)!;
      expect(t.type).toBe(12); // Q4_K
      const data = new Uint8Array(bytes.subarray(t.offset, t.offset + Number(t.byteSize)));
      const fmt = QUANT_FORMATS.Q4_K;
      const dims = [...t.dims].map(Number);
      const all = fmt.dequantize(data, dims[0]! * dims[1]!);
      // Pixel (40, 1) of the tensor as drawn (its 256 × 256 values from its room's corner): row 1,
      // column 40, in the second 256-value block.
      const shape = tensorShape(rect, dims)!;
      expect(shape.scale).toBe(1);
      const el = shapeElementAt(shape, rect.x + 40.5, rect.y + 1.5)!;
      const at = { ...el, block: Math.floor(el.element / 256) };
      expect(at).toMatchObject({ row: 1, col: 40, element: 296, block: 1 });
      await zoomTo(page, rect.x + 40.5, rect.y + 1.5);
      const ro = page.locator('.ex-readout');
      await expect(ro).toHaveAttribute('data-ready', 'true');
      await expect(ro.locator('[data-field="row"]')).toHaveText(String(at.row));
      await expect(ro.locator('[data-field="col"]')).toHaveText(String(at.col));
      expect(Number(await ro.locator('[data-field="value"]').textContent())).toBe(all[at.element]);
      const stored = Number(await ro.locator('[data-field="stored"]').textContent());
      expect(Number.isInteger(stored)).toBe(true);
      await expect(ro.locator('[data-field="block"]')).toHaveText(`${at.block} (256 values)`);
      const { scale, min } = blockScale('Q4_K', data.subarray(at.block * 144, at.block * 144 + 144));
      await expect(ro.locator('[data-field="scale"]')).toHaveText(`d = ${scale}, min = ${min}`);
      await page.screenshot({ path: test.info().outputPath(`explorer-values-q4k-${viewport.width}x${viewport.height}.png`) });
      await test.info().attach(`explorer-values-q4k-${viewport.width}x${viewport.height}`, { path: test.info().outputPath(`explorer-values-q4k-${viewport.width}x${viewport.height}.png`), contentType: 'image/png' });
      expect(errors).toEqual([]);
    });

    test('search looks in the model in view by default, names every hit’s model, and Enter stays in scope', async ({ page }) => {
      const errors: string[] = [];
      // Both models hold blk.0.attn_q.weight: open on the Q4_K one.
      await open(page, errors, tinyId, Q_NAME);
      const input = page.locator('.ex-search-input');
      const scope = page.locator('.ex-search-scope');
      await expect(scope).toHaveValue('in-view');
      await input.fill('attn_q');
      const hits = page.locator('.ex-search-results li[data-region-id]');
      await expect(hits.first()).toBeVisible();
      const models = await hits.evaluateAll((lis) => lis.map((l) => (l as HTMLElement).dataset.modelId));
      expect(models.length).toBeGreaterThan(0);
      expect(new Set(models)).toEqual(new Set([tinyId]));
      await expect(hits.first().locator('.ex-hit-model')).toContainText('tiny');
      await page.screenshot({ path: test.info().outputPath(`explorer-search-scope-${viewport.width}x${viewport.height}.png`) });
      await test.info().attach(`explorer-search-scope-${viewport.width}x${viewport.height}`, { path: test.info().outputPath(`explorer-search-scope-${viewport.width}x${viewport.height}.png`), contentType: 'image/png' });
      await input.press('Enter');
      await expect(page.locator('.explorer')).toHaveAttribute('data-selected', `${tinyId}/${Q_NAME}`);

      // All models: both models' hits, each naming its model.
      await scope.selectOption('all');
      await input.fill('blk.0.attn_q.weight');
      await expect.poll(async () => new Set(await hits.evaluateAll((lis) => lis.map((l) => (l as HTMLElement).dataset.modelId))).size).toBe(2);
      await expect(hits.locator('.ex-hit-model', { hasText: 'stories260K' })).toHaveCount(1);
      // One named model: Enter flies to that model's tensor, not the one in view.
      await scope.selectOption(storiesId);
      await input.fill('blk.0.attn_q.weight');
      await expect.poll(async () => await hits.evaluateAll((lis) => lis.map((l) => (l as HTMLElement).dataset.modelId))).toEqual([storiesId]);
      await input.press('Enter');
      await expect(page.locator('.explorer')).toHaveAttribute('data-selected', `${storiesId}/${Q_NAME}`);
      await expect(page.locator('.ex-inspector')).toHaveAttribute('data-region-id', `${storiesId}/${Q_NAME}`);
      expect(errors).toEqual([]);
    });

    test('a colour legend for every colormap with its range’s numbers, and the bands and 3D layers explained on hover', async ({ page }) => {
      const errors: string[] = [];
      await open(page, errors, storiesId, Q_NAME);
      const legend = page.locator('.ex-legend');
      await expect(legend).toBeVisible();
      const barEnds = () =>
        legend.locator('canvas.ex-legend-bar').evaluate((c: HTMLCanvasElement) => {
          const d = c.getContext('2d')!.getImageData(0, 0, 256, 1).data;
          return [[d[0], d[1], d[2]], [d[255 * 4], d[255 * 4 + 1], d[255 * 4 + 2]]];
        });
      // Auto colours on a tensor with both signs: diverging, symmetric around 0, the selected tensor's range.
      await expect(legend).toHaveAttribute('data-colormap', 'diverging');
      const lo = Number(await legend.getAttribute('data-lo'));
      const hi = Number(await legend.getAttribute('data-hi'));
      expect(lo).toBeLessThan(0);
      expect(hi).toBeCloseTo(-lo, 12);
      await expect(legend.locator('[data-field="mid"]')).toHaveText('0');
      await expect(legend.locator('.ex-legend-caption')).toContainText(Q_NAME);
      expect(await barEnds()).toEqual([colormapRgb('diverging', 0), colormapRgb('diverging', 1)]);
      await page.screenshot({ path: test.info().outputPath(`explorer-legend-${viewport.width}x${viewport.height}.png`) });
      await test.info().attach(`explorer-legend-${viewport.width}x${viewport.height}`, { path: test.info().outputPath(`explorer-legend-${viewport.width}x${viewport.height}.png`), contentType: 'image/png' });
      // Every colormap gets its bar and numbers.
      const cmap = page.getByRole('combobox', { name: 'Colormap' });
      for (const name of ['viridis', 'gray', 'diverging'] as const) {
        await cmap.selectOption(name);
        await expect(legend).toHaveAttribute('data-colormap', name);
        expect(await barEnds()).toEqual([colormapRgb(name, 0), colormapRgb(name, 1)]);
        await expect(legend.locator('[data-field="lo"]')).not.toHaveText('low');
        await expect(legend).toHaveAttribute('title', new RegExp(name));
      }
      await page.getByRole('combobox', { name: 'Colour range' }).selectOption('shared');
      await expect(legend.locator('.ex-legend-caption')).toHaveText('one range for all tensors in view');
      await page.getByRole('combobox', { name: 'Colour range' }).selectOption('tensor');
      await page.locator('.ex-stage').press('Escape');
      await expect(legend.locator('[data-field="lo"]')).toHaveText('low');
      await expect(legend.locator('.ex-legend-caption')).toContainText('select one for its numbers');

      // The KV cache band explains itself in the tooltip.
      const input = page.locator('.ex-search-input');
      await input.fill('kv-cache');
      await expect(page.locator('.ex-search-results li[data-region-id]').first()).toBeVisible();
      await input.press('Enter');
      const c = await settled(page);
      const box = (await page.locator('.ex-stage').boundingBox())!;
      await page.mouse.move(box.x + c.width / 2, box.y + c.height / 2);
      await expect(page.locator('.ex-tooltip')).toContainText('KV cache band');

      // 3D: the layer names explained on hover.
      await page.locator('[data-action="mode"]').click();
      await expect(page.locator('.explorer')).toHaveAttribute('data-mode', '3d');
      const layers = legend.locator('.ex-legend-layers');
      await expect(layers).toBeVisible();
      await expect(layers.locator('[data-layer="pre"]')).toHaveAttribute('title', /before block 0/);
      await expect(layers.locator('[data-layer="post"]')).toHaveAttribute('title', /after the last block/);
      expect(errors).toEqual([]);
    });

    test('tensors are selected from the keyboard on the map: N / P step through them in map order, Enter shows the selected one', async ({ page }) => {
      const errors: string[] = [];
      await open(page, errors, storiesId, Q_NAME);
      const stage = page.locator('.ex-stage');
      const ex = page.locator('.explorer');
      const name = page.locator('.ex-inspector [data-field="name"]');
      await stage.focus();
      await stage.press('Escape');
      await expect(ex).not.toHaveAttribute('data-selected', /./);
      // Nothing selected: N picks the first tensor, N the second, P back to the first.
      await stage.press('n');
      await expect(ex).toHaveAttribute('data-selected', /./);
      const first = (await ex.getAttribute('data-selected'))!;
      await expect(name).toHaveText(first.slice(first.indexOf('/') + 1));
      await stage.press('n');
      await expect(ex).not.toHaveAttribute('data-selected', first);
      const second = (await ex.getAttribute('data-selected'))!;
      expect(second.startsWith(`${storiesId}/`)).toBe(true);
      await stage.press('p');
      await expect(ex).toHaveAttribute('data-selected', first);
      // P from the first wraps to the last; ] (same as N) wraps back to the first.
      await stage.press('p');
      await expect(ex).not.toHaveAttribute('data-selected', first);
      const last = (await ex.getAttribute('data-selected'))!;
      expect(last).not.toBe(second);
      await stage.press(']');
      await expect(ex).toHaveAttribute('data-selected', first);
      // The view followed: once settled, the selected tensor's rectangle holds the centre.
      let c = await settled(page);
      let r = await selectedRect(page);
      expect(c.cx).toBeGreaterThanOrEqual(r.x);
      expect(c.cx).toBeLessThanOrEqual(r.x + r.width);
      // Show the whole map (0), then Enter brings the selected tensor back.
      await stage.press('0');
      c = await settled(page);
      expect(c.cx < r.x || c.cx > r.x + r.width).toBe(true);
      await stage.press('Enter');
      c = await settled(page);
      r = await selectedRect(page);
      expect(c.cx).toBeCloseTo(r.x + r.width / 2, 0);
      await expect(name).toHaveText(first.slice(first.indexOf('/') + 1));
      // Keys pressed faster than the services answer each step from the one before (map:step
      // runs one step at a time): N N N then P ends on the second tensor.
      await stage.press('Escape');
      await expect(ex).not.toHaveAttribute('data-selected', /./);
      for (const k of ['n', 'n', 'n', 'p']) await stage.press(k);
      await expect(ex).toHaveAttribute('data-selected', second);
      await stage.press('Enter');
      await page.screenshot({ path: test.info().outputPath(`explorer-keyboard-${viewport.width}x${viewport.height}.png`) });
      await test.info().attach(`explorer-keyboard-${viewport.width}x${viewport.height}`, { path: test.info().outputPath(`explorer-keyboard-${viewport.width}x${viewport.height}.png`), contentType: 'image/png' });
      expect(errors).toEqual([]);
    });
  });
}

test('the live panel says watching slows generation, and shows prefill (not idle) while the prompt is read', async ({ page }) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  await page.setViewportSize({ width: 1280, height: 720 });
  await open(page, errors, storiesId, Q_NAME);
  // Load stories260K in the control beside the search box (the engine the live panel watches).
  const select = page.locator('#ex-answerer-model');
  await select.selectOption({ label: (await select.locator('option', { hasText: 'stories260K' }).textContent())! });
  await page.locator('#ex-answerer-load').click();
  await expect(page.locator('#ex-answerer-status')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  const live = page.locator('#ex-live');
  await expect(live).toBeVisible();
  const cost = live.locator('[data-field="cost"]');
  await expect(cost).toHaveText('Watching slows generation');
  await expect(cost).toHaveAttribute('title', /one GPU command buffer per block/);
  await expect(live).toHaveAttribute('data-shown-phase', 'idle');
  // Record every phase the panel shows from here on (no timing: each change is kept).
  await live.evaluate((e: HTMLElement) => {
    const seen: string[] = [];
    (window as unknown as { __phases: string[] }).__phases = seen;
    new MutationObserver(() => {
      const p = e.dataset.shownPhase ?? '';
      if (seen[seen.length - 1] !== p) seen.push(p);
    }).observe(e, { attributes: true, attributeFilter: ['data-shown-phase'] });
  });
  const input = page.locator('.ex-search-input');
  await input.fill(`where is ${Q_NAME}?`);
  await expect(page.locator('.ex-search-results .ex-search-ask')).toBeVisible();
  await input.press('Enter');
  await expect(page.locator('#ex-ask')).toHaveAttribute('data-state', 'answered', { timeout: 120_000 });
  await expect(live).toHaveAttribute('data-shown-phase', 'idle', { timeout: 30_000 });
  const phases = await page.evaluate(() => (window as unknown as { __phases: string[] }).__phases);
  // The reply went prefill → decode → idle; nothing said idle before the prompt was read.
  expect(phases[0]).toBe('prefill');
  expect(phases).toContain('decode');
  expect(phases.indexOf('decode')).toBeGreaterThan(phases.indexOf('prefill'));
  expect(phases[phases.length - 1]).toBe('idle');
  for (const size of [
    { width: 1280, height: 720 },
    { width: 1920, height: 1080 },
  ]) {
    await page.setViewportSize(size);
    await cost.hover();
    const file = test.info().outputPath(`explorer-live-cost-${size.width}x${size.height}.png`);
    await page.screenshot({ path: file });
    await test.info().attach(`explorer-live-cost-${size.width}x${size.height}`, { path: file, contentType: 'image/png' });
  }
  expect(errors).toEqual([]);
});
