/**
 * Tensors drawn in their own shape (issue 13, specs/explorer.md "Tensor shapes"): stories260K
 * imported with the CLI into a fresh data folder, `pxi serve` on it. At 1280×720 and 1920×1080:
 * blk.0.ffn_down.weight ([172, 64]: 172 columns, 64 rows) and blk.0.attn_norm.weight ([64]: one
 * row) are painted as rectangles of their columns × rows, the rest of their tile's room empty;
 * at full zoom the pixel under the pointer has the colour of the value the readout reports.
 */
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { colormapRgb, scaleFor, scalePosition } from '../../shared/map/colormap';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';
import { cam, settled, type Cam } from './explorer-camera';

const FIXTURE = fixturePath('models', 'stories260K.gguf');
const DOWN = 'blk.0.ffn_down.weight';
const NORM = 'blk.0.attn_norm.weight';

let dataDir: string;
let serve: ServeProcess | null = null;
let modelId: string;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-explorer-shapes-'));
  const out = execFileSync(process.execPath, ['bin/pxi.js', 'import', FIXTURE, '--volume', join(dataDir, 'volume'), '--json'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  modelId = (JSON.parse(String(out)) as { model: { id: string } }).model.id;
  serve = await serveDataDir(dataDir);
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function open(page: Page, errors: string[], tensor: string): Promise<void> {
  page.on('pageerror', (e) => errors.push(e.message));
  const u = new URL(serve!.url);
  u.hash = `#/explorer?model=${encodeURIComponent(modelId)}&tensor=${encodeURIComponent(tensor)}`;
  await page.goto(u.toString());
  await expect(page.locator('.explorer')).toHaveAttribute('data-started', 'true', { timeout: 30_000 });
  await settled(page);
  await expect(page.locator('.ex-inspector [data-field="name"]')).toHaveText(tensor);
}

interface Shape {
  x: number;
  y: number;
  width: number;
  height: number;
  rows: number;
  cols: number;
  scale: number;
}

async function selectedShape(page: Page): Promise<Shape> {
  const [x, y, width, height, rows, cols, scale] = (await page.locator('.explorer').getAttribute('data-selected-shape'))!.split(',').map(Number);
  return { x: x!, y: y!, width: width!, height: height!, rows: rows!, cols: cols!, scale: scale! };
}

/** Screen point (page CSS pixels) of map point (x, y). */
async function toScreen(page: Page, c: Cam, x: number, y: number): Promise<{ x: number; y: number }> {
  const box = (await page.locator('.ex-stage').boundingBox())!;
  return { x: box.x + c.width / 2 + (x - c.cx) * c.zoom, y: box.y + c.height / 2 + (y - c.cy) * c.zoom };
}

/** Wheel-zooms about map point (x, y) until the zoom reaches `zoom` (or the camera's limit). */
async function zoomAbout(page: Page, x: number, y: number, zoom: number): Promise<Cam> {
  let c = await cam(page);
  for (let i = 0; i < 30 && c.zoom < zoom; i++) {
    const p = await toScreen(page, c, x, y);
    await page.mouse.move(Math.round(p.x), Math.round(p.y));
    await page.mouse.wheel(0, -240);
    c = await settled(page);
  }
  return c;
}

/** Is a screenshot pixel the map's background (#0f1115)? */
function background(img: PNG, x: number, y: number): boolean {
  const i = (y * img.width + x) * 4;
  return Math.abs(img.data[i]! - 0x0f) + Math.abs(img.data[i + 1]! - 0x11) + Math.abs(img.data[i + 2]! - 0x15) <= 24;
}

/**
 * The painted run through (x, y) along each axis: from the point outwards to the first background
 * pixel. (The tensor's label above it and its room's outline, which starts at the same corner, do
 * not cross the tensor's centre lines, unlike a bounding box of everything painted nearby.)
 */
function runThrough(img: PNG, x: number, y: number): { x0: number; y0: number; x1: number; y1: number } {
  let x0 = x;
  let x1 = x;
  let y0 = y;
  let y1 = y;
  while (x0 > 0 && !background(img, x0 - 1, y)) x0--;
  while (x1 < img.width && !background(img, x1, y)) x1++;
  while (y0 > 0 && !background(img, x, y0 - 1)) y0--;
  while (y1 < img.height && !background(img, x, y1)) y1++;
  return { x0, y0, x1, y1 };
}

/** The bounding box of painted (non-background) pixels inside `box`, and how many there are. */
function paintedBox(img: PNG, box: { x0: number; y0: number; x1: number; y1: number }): { x0: number; y0: number; x1: number; y1: number; n: number } {
  const out = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity, n: 0 };
  for (let y = Math.max(0, Math.floor(box.y0)); y < Math.min(img.height, Math.ceil(box.y1)); y++) {
    for (let x = Math.max(0, Math.floor(box.x0)); x < Math.min(img.width, Math.ceil(box.x1)); x++) {
      if (background(img, x, y)) continue;
      out.n++;
      out.x0 = Math.min(out.x0, x);
      out.y0 = Math.min(out.y0, y);
      out.x1 = Math.max(out.x1, x + 1);
      out.y1 = Math.max(out.y1, y + 1);
    }
  }
  return out;
}

/**
 * Zooms the tensor to about half the stage, takes the pointer off the map (no tooltip, no hover
 * outline) and measures what is painted around where the tensor should be.
 */
async function measure(page: Page, s: Shape, file: string): Promise<{ run: ReturnType<typeof runThrough>; filled: number; area: number; expected: { x0: number; y0: number; x1: number; y1: number }; roomRight: number; windows: number }> {
  // Drag the tensor's centre to the stage's centre, then zoom about it.
  let c0 = await cam(page);
  const from = await toScreen(page, c0, s.x + s.width / 2, s.y + s.height / 2);
  const stage0 = (await page.locator('.ex-stage').boundingBox())!;
  await page.mouse.move(Math.round(from.x), Math.round(from.y));
  await page.mouse.down();
  await page.mouse.move(Math.round(stage0.x + c0.width / 2), Math.round(stage0.y + c0.height / 2), { steps: 8 });
  await page.mouse.up();
  c0 = await settled(page);
  const target = Math.min(16, (0.8 * c0.width) / s.width, (0.8 * c0.height) / s.height);
  // Each wheel step zooms by e^0.48 ≈ 1.62: stop within one step below the target.
  await zoomAbout(page, s.x + s.width / 2, s.y + s.height / 2, target / 1.62);
  await page.mouse.move(5, 5);
  const c = await settled(page);
  const a = await toScreen(page, c, s.x, s.y);
  const b = await toScreen(page, c, s.x + s.width, s.y + s.height);
  const shot = await page.screenshot({ path: test.info().outputPath(file) });
  await test.info().attach(file, { path: test.info().outputPath(file), contentType: 'image/png' });
  const img = PNG.sync.read(shot);
  const stage = (await page.locator('.ex-stage').boundingBox())!;
  // The tile's room right of the tensor, at the tensor's height: nothing is stored there.
  const room = paintedBox(img, { x0: b.x + 6, y0: a.y + 2, x1: Math.min(stage.x + stage.width - 4, b.x + 200), y1: b.y - 2 });
  // Inside the expected rectangle (less a pixel of rounding each side): painted throughout.
  const inside = { x0: Math.ceil(a.x) + 1, y0: Math.ceil(a.y) + 1, x1: Math.floor(b.x) - 1, y1: Math.floor(b.y) - 1 };
  const area = Math.max(0, inside.x1 - inside.x0) * Math.max(0, inside.y1 - inside.y0);
  return {
    run: runThrough(img, Math.round((a.x + b.x) / 2), Math.round((a.y + b.y) / 2)),
    filled: paintedBox(img, inside).n,
    area,
    expected: { x0: a.x, y0: a.y, x1: b.x, y1: b.y },
    roomRight: room.n,
    windows: Number(await page.locator('.explorer').getAttribute('data-value-windows')),
  };
}

for (const viewport of [
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
]) {
  test.describe(`at ${viewport.width}×${viewport.height}`, () => {
    test.use({ viewport });

    test('small tensors are drawn as their columns × rows, not as their tiles', async ({ page }) => {
      const errors: string[] = [];
      const tag = `${viewport.width}x${viewport.height}`;
      await open(page, errors, DOWN);
      // ffn_down is [172, 64]: 172 columns, 64 rows, one map pixel a value, from its room's corner.
      const s = await selectedShape(page);
      const room = (await page.locator('.explorer').getAttribute('data-selected-rect'))!.split(',').map(Number);
      expect(s).toEqual({ x: room[0], y: room[1], width: 172, height: 64, rows: 64, cols: 172, scale: 1 });
      expect(room[2]).toBe(1024);
      expect(room[3]).toBe(1024);
      // Unselected, so that only the tensor itself is painted (no selection fill).
      await page.locator('.ex-stage').press('Escape');
      const m = await measure(page, s, `explorer-shape-ffn-down-${tag}.png`);
      // Values are drawn at this zoom: three 64-column windows cover the 172 columns.
      expect(m.windows).toBe(3);
      const w = m.run.x1 - m.run.x0;
      const h = m.run.y1 - m.run.y0;
      // The painted rectangle is where the shape is, within a pixel or two (outline, rounding)…
      for (const k of ['x0', 'y0', 'x1', 'y1'] as const) expect(Math.abs(m.run[k] - m.expected[k])).toBeLessThanOrEqual(2);
      // …with the tensor's aspect (172:64), filled, and its room beside it empty.
      expect(w).toBeGreaterThan(200);
      expect(Math.abs(w / h - 172 / 64) / (172 / 64)).toBeLessThan(0.05);
      expect(m.filled).toBe(m.area);
      expect(m.roomRight).toBe(0);

      // A norm ([64]) is one row of 64 values.
      await open(page, errors, NORM);
      const n = await selectedShape(page);
      expect(n).toMatchObject({ width: 64, height: 1, rows: 1, cols: 64, scale: 1 });
      await page.locator('.ex-stage').press('Escape');
      const mn = await measure(page, n, `explorer-shape-norm-${tag}.png`);
      expect(mn.windows).toBe(1);
      const nw = mn.run.x1 - mn.run.x0;
      const nh = mn.run.y1 - mn.run.y0;
      for (const k of ['x0', 'y0', 'x1', 'y1'] as const) expect(Math.abs(mn.run[k] - mn.expected[k])).toBeLessThanOrEqual(2);
      expect(nw / nh).toBeGreaterThan(64 / 1.6);
      expect(mn.filled).toBe(mn.area);
      expect(mn.roomRight).toBe(0);
      expect(errors).toEqual([]);
    });

    test('at full zoom the pixel under the pointer has the colour of the value the readout shows', async ({ page }) => {
      const errors: string[] = [];
      const tag = `${viewport.width}x${viewport.height}`;
      await open(page, errors, DOWN);
      const s = await selectedShape(page);
      const bytes = readFileSync(FIXTURE);
      const t = parseGgufBytes(bytes).tensors.find((x) => x.name === DOWN)!;
      const values = new Float32Array(new Uint8Array(bytes.subarray(t.offset, t.offset + Number(t.byteSize))).buffer);
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of values) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      // Values are coloured over the tensor's value range (auto: diverging, symmetric about 0).
      const scale = scaleFor(lo, hi, 'auto');
      const row = 40;
      const col = 120;
      let c = await zoomAbout(page, s.x + col + 0.5, s.y + row + 0.5, 16);
      expect(c.zoom).toBe(16);
      // Selected, the legend gives the range the values are drawn over.
      const legend = page.locator('.ex-legend');
      await expect(legend).toHaveAttribute('data-colormap', scale.colormap);
      expect(Number(await legend.getAttribute('data-lo'))).toBeCloseTo(scale.lo, 6);
      expect(Number(await legend.getAttribute('data-hi'))).toBeCloseTo(scale.hi, 6);
      await expect(legend).toContainText(`range of ${DOWN}'s values`);
      // Unselected (the selection tints the tensor), pointing at two values in turn.
      await page.locator('.ex-stage').press('Escape');
      c = await settled(page);
      const ro = page.locator('.ex-readout');
      for (const [r, k] of [
        [row, col],
        [row, col + 1],
        [row + 5, col + 8],
      ] as const) {
        const p = await toScreen(page, c, s.x + k + 0.5, s.y + r + 0.5);
        await page.mouse.move(Math.round(p.x), Math.round(p.y));
        await expect(ro).toHaveAttribute('data-ready', 'true');
        await expect(ro).toHaveAttribute('data-row', String(r));
        await expect(ro).toHaveAttribute('data-col', String(k));
        const v = Number(await ro.locator('[data-field="value"]').textContent());
        expect(v).toBe(values[r * 172 + k]);
        const shot = await page.screenshot({ path: test.info().outputPath(`explorer-shape-value-${r}-${k}-${tag}.png`) });
        const img = PNG.sync.read(shot);
        const i = (Math.round(p.y) * img.width + Math.round(p.x)) * 4;
        const got = [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
        const want = colormapRgb(scale.colormap, scalePosition(scale, v));
        for (let ch = 0; ch < 3; ch++) expect(Math.abs(got[ch]! - want[ch]!), `channel ${ch} of ${got} vs ${want} for ${v}`).toBeLessThanOrEqual(4);
      }
      await test.info().attach(`explorer-shape-value-${tag}`, { path: test.info().outputPath(`explorer-shape-value-${row + 5}-${col + 8}-${tag}.png`), contentType: 'image/png' });
      expect(errors).toEqual([]);
    });
  });
}
