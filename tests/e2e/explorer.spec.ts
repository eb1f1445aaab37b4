/**
 * The visual memory explorer in Debian's Chromium against browser mode: stories260K imported
 * with the CLI into a fresh data folder, `pxi serve` on it, then pan, zoom, search, click,
 * inspect, and the 3D mode.
 */
import { expect, test, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

const FIXTURE = fixturePath('models', 'stories260K.gguf');
const Q_NAME = 'blk.0.attn_q.weight';

let dataDir: string;
let serve: ServeProcess | null = null;
let url: string;
let modelId: string;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-explorer-'));
  // The volume is locked by one process: import first, then serve the same data folder.
  const out = execFileSync(process.execPath, ['bin/pxi.js', 'import', FIXTURE, '--volume', join(dataDir, 'volume'), '--json'], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  modelId = (JSON.parse(String(out)) as { model: { id: string } }).model.id;
  serve = await serveDataDir(dataDir);
  url = serve.url;
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

interface ExplorerState {
  mode: string;
  level: number;
  levels: number[];
  zoom: number;
  cx: number;
  cy: number;
  /** The camera's screen size (whole CSS pixels of the stage). */
  width: number;
  height: number;
  drawn: number;
  textures: number;
  textureBytes: number;
  selected: string | undefined;
  textured3d: number;
}

async function state(page: Page): Promise<ExplorerState> {
  const d = await page.locator('.explorer').evaluate((e: HTMLElement) => ({ ...e.dataset }));
  return {
    mode: d.mode!,
    level: Number(d.level),
    levels: (d.levelsRequested ?? '').split(',').filter(Boolean).map(Number),
    zoom: Number(d.zoom),
    cx: Number(d.cx),
    cy: Number(d.cy),
    width: Number(d.width),
    height: Number(d.height),
    drawn: Number(d.drawn),
    textures: Number(d.textures),
    textureBytes: Number(d.textureBytes),
    selected: d.selected,
    textured3d: Number(d.textured3d ?? 0),
  };
}

async function openExplorer(page: Page, errors: string[], hash = '#/explorer'): Promise<void> {
  page.on('pageerror', (e) => errors.push(e.message));
  const u = new URL(url);
  u.hash = hash;
  await page.goto(u.toString());
  await expect(page.locator('#view h1')).toHaveText('Explorer');
  await expect(page.locator('.explorer')).toHaveAttribute('data-started', 'true', { timeout: 30_000 });
  await expect(page.locator('.explorer')).toHaveAttribute('data-loading', 'false', { timeout: 30_000 });
}

/** Waits until the camera stops (flights, eased zooms, held keys) and the data for the view is in. */
async function settled(page: Page): Promise<ExplorerState> {
  const ex = page.locator('.explorer');
  await expect
    .poll(async () => `${await ex.getAttribute('data-animating')} ${await ex.getAttribute('data-loading')}`, { timeout: 20_000, intervals: [100] })
    .toBe('false false');
  return state(page);
}

async function findAndFly(page: Page, query: string, name: string): Promise<void> {
  const input = page.locator('.ex-search-input');
  await input.fill(query);
  const hit = page.locator(`.ex-search-results li[data-region-id="${modelId}/${name}"]`);
  await expect(hit).toBeVisible();
  await expect(page.locator('.ex-search-results li[data-region-id]').first()).toHaveAttribute('data-region-id', `${modelId}/${name}`);
  await input.press('Enter');
  await expect(page.locator('.ex-inspector [data-field="name"]')).toHaveText(name);
}

/** Pixels of the stage (in a page screenshot) that are not the map's background. */
function paintedPixels(png: Buffer, box: { x: number; y: number; width: number; height: number }): number {
  const img = PNG.sync.read(png);
  let n = 0;
  for (let y = Math.ceil(box.y); y < Math.floor(box.y + box.height); y++) {
    for (let x = Math.ceil(box.x); x < Math.floor(box.x + box.width); x++) {
      const i = (y * img.width + x) * 4;
      // Background #0f1115.
      if (Math.abs(img.data[i]! - 0x0f) + Math.abs(img.data[i + 1]! - 0x11) + Math.abs(img.data[i + 2]! - 0x15) > 24) n++;
    }
  }
  return n;
}

test('pans and zooms the map, requesting cells at finer levels as it zooms in', async ({ page }) => {
  const errors: string[] = [];
  await openExplorer(page, errors);
  const s0 = await settled(page);
  // The whole stories260K map (54784 px wide) in view: a coarse level, its 48 one-tile tensors drawn.
  expect(s0.level).toBeGreaterThanOrEqual(2);
  expect(s0.drawn).toBe(48);
  expect(s0.textures).toBe(48);
  expect(s0.textureBytes).toBe(48 * 64 * 64 * 4);

  const stage = page.locator('.ex-stage');
  const box = (await stage.boundingBox())!;
  const cx = box.x + s0.width / 2;
  const cy = box.y + s0.height / 2;
  // Drag: the map follows the pointer, so the centre moves the other way by drag / zoom.
  await page.mouse.move(cx, cy);
  await page.mouse.down();
  await page.mouse.move(cx + 200, cy + 60, { steps: 8 });
  await page.mouse.up();
  const s1 = await state(page);
  expect(s1.cx).toBeCloseTo(s0.cx - 200 / s0.zoom, -1);
  expect(s1.cy).toBeCloseTo(s0.cy - 60 / s0.zoom, -1);

  // Keyboard: a tap of ArrowRight moves the view right.
  await stage.focus();
  await page.keyboard.press('ArrowRight');
  const s2 = await settled(page);
  expect(s2.cx).toBeGreaterThan(s1.cx);

  // Wheel zoom-in around blk.0's column until tiles are drawn at level 0. Mouse events carry
  // whole CSS pixels, so the point under the pointer is computed from the rounded position.
  const sx = Math.round(cx + (6000 - s2.cx) * s2.zoom);
  const sy = Math.round(cy + (512 - s2.cy) * s2.zoom);
  const target = { x: s2.cx + (sx - cx) / s2.zoom, y: s2.cy + (sy - cy) / s2.zoom };
  await page.mouse.move(sx, sy);
  for (let i = 0; i < 12; i++) await page.mouse.wheel(0, -240);
  const s3 = await settled(page);
  expect(s3.zoom).toBeGreaterThan(s2.zoom * 8);
  expect(s3.level).toBeLessThan(s0.level);
  expect(s3.level).toBe(0);
  // Cells were requested at the first level and at finer ones on the way in.
  expect(s3.levels[0]).toBe(s0.level);
  expect(new Set(s3.levels).size).toBeGreaterThanOrEqual(2);
  expect(s3.levels).toContain(0);
  // The zoom kept the map point under the pointer (the stage may have changed height meanwhile:
  // the camera keeps its centre, so measure from the stage's centre now).
  const box3 = (await stage.boundingBox())!;
  const under = { x: s3.cx + (sx - box3.x - s3.width / 2) / s3.zoom, y: s3.cy + (sy - box3.y - s3.height / 2) / s3.zoom };
  expect(Math.abs(under.x - target.x)).toBeLessThan(1);
  expect(Math.abs(under.y - target.y)).toBeLessThan(1 + Math.abs(s3.height - s2.height) / s2.zoom);
  expect(s3.drawn).toBeGreaterThan(0);
  await page.screenshot({ path: test.info().outputPath('explorer-2d-zoomed.png') });
  // + and − keys zoom too; 0 shows the whole map again.
  await page.keyboard.press('-');
  const s4 = await settled(page);
  expect(s4.zoom).toBeLessThan(s3.zoom);
  await page.keyboard.press('0');
  const sFit = await settled(page);
  expect(sFit.zoom).toBeLessThan(s4.zoom / 50);
  expect(sFit.drawn).toBe(48);
  await page.screenshot({ path: test.info().outputPath('explorer-2d-whole-map.png') });

  // The minimap moves the view there: its right end is the map's right end (output.weight).
  const mm = (await page.locator('.ex-minimap').boundingBox())!;
  await page.mouse.click(mm.x + mm.width - 3, mm.y + 4);
  const s5 = await settled(page);
  expect(s5.cx).toBeGreaterThan(50_000);
  expect(s5.cy).toBeLessThan(2000);
  expect(errors).toEqual([]);
});

test('finds blk.0.attn_q.weight with the search box and shows its shape, statistics and histogram', async ({ page }) => {
  const errors: string[] = [];
  await openExplorer(page, errors);
  const before = await settled(page);
  await findAndFly(page, 'blk.0.attn_q', Q_NAME);
  const after = await settled(page);
  // Flew there: the tensor (3200..4224, 0..1024 on this map) is at the centre, zoomed in.
  expect(after.cx).toBeGreaterThan(3200);
  expect(after.cx).toBeLessThan(4224);
  expect(after.cy).toBeGreaterThan(0);
  expect(after.cy).toBeLessThan(1024);
  expect(after.zoom).toBeGreaterThan(before.zoom * 10);
  expect(after.selected).toBe(`${modelId}/${Q_NAME}`);

  // The values it should show, from the GGUF file itself.
  const bytes = readFileSync(FIXTURE);
  const t = parseGgufBytes(bytes).tensors.find((x) => x.name === Q_NAME)!;
  expect([...t.dims]).toEqual([64, 64]);
  const values = new Float32Array(new Uint8Array(bytes.subarray(t.offset, t.offset + t.byteSize)).buffer);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  const insp = page.locator('.ex-inspector');
  // What it is in plain words first, then its stored name and its model's name (not ids).
  await expect(insp.locator('[data-field="title"]')).toHaveText('Block 0 · attention: query projection');
  await expect(insp.locator('[data-field="name"]')).toHaveText(Q_NAME);
  await expect(insp.locator('[data-field="part"]')).toHaveText(' · weights');
  await expect(insp.locator('[data-field="model"]')).toHaveText('in stories260K');
  // The ids stay for the curious, in a closed fold.
  const ids = insp.locator('details.ex-ids');
  await expect(ids).not.toHaveAttribute('open', /.*/);
  await expect(ids.locator('[data-field="region-id"]')).toBeHidden();
  await ids.locator('summary').click();
  await expect(ids.locator('[data-field="region-id"]')).toHaveText(`${modelId}/${Q_NAME}`);
  await expect(ids.locator('[data-field="model-id"]')).toHaveText(modelId);
  await expect(ids.locator('[data-field="kind"]')).toHaveText('weights');
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.screenshot({ path: test.info().outputPath('explorer-inspector-words-1920x1080.png') });
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.screenshot({ path: test.info().outputPath('explorer-inspector-words-1280x720.png') });
  await expect(insp.locator('[data-field="shape"]')).toHaveText('[64, 64]');
  await expect(insp.locator('[data-field="type"]')).toHaveText('F32');
  await expect(insp.locator('[data-field="elements"]')).toHaveText('4,096');
  await expect(insp.locator('[data-field="bytes"]')).toContainText('16,384');
  await expect(insp.locator('[data-field="byte-range"]')).toHaveText(`0x${t.offset.toString(16)} – 0x${(t.offset + 16384).toString(16)}`);
  await expect(insp.locator('[data-field="tiles"]')).toContainText('1 of 1024×1024 px');
  // Where its bytes are in the model's active layout (the import layout here: its own file).
  await expect(insp.locator('[data-field="stored"]')).toHaveText('in its own file, PixelFS tile 0');
  await expect(insp.locator('[data-field="min"]')).toHaveText(min.toPrecision(4));
  await expect(insp.locator('[data-field="max"]')).toHaveText(max.toPrecision(4));
  let sq = 0;
  for (const v of values) sq += v * v;
  const mean = sum / 4096;
  await expect(insp.locator('[data-field="mean"]')).toHaveText(mean.toPrecision(4));
  await expect(insp.locator('[data-field="std"]')).toHaveText(Math.sqrt(sq / 4096 - mean * mean).toPrecision(4));

  // The histogram: all 4096 values counted, bars drawn (blue pixels on the canvas).
  const hist = insp.locator('canvas.ex-histogram');
  await expect(hist).toHaveAttribute('data-count', '4096');
  await expect(hist).toHaveAttribute('data-exact', 'true');
  expect(Number(await hist.getAttribute('data-bars'))).toBeGreaterThan(20);
  const blue = await hist.evaluate((c: HTMLCanvasElement) => {
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i + 2]! > 200 && d[i]! < 150) n++;
    return n;
  });
  expect(blue).toBeGreaterThan(500);

  // Hovering shows the tooltip; clicking another tensor on the map inspects that one.
  const box = (await page.locator('.ex-stage').boundingBox())!;
  const toScreen = (x: number, y: number) => ({ x: box.x + after.width / 2 + (x - after.cx) * after.zoom, y: box.y + after.height / 2 + (y - after.cy) * after.zoom });
  // blk.0.attn_k.weight sits one tile and a gap right of attn_q: 4352..5376 on this map.
  const p = toScreen(4352 + 300, 500);
  await page.mouse.move(p.x, p.y);
  await expect(page.locator('.ex-tooltip')).toBeVisible();
  await expect(page.locator('.ex-tooltip strong')).toHaveText('blk.0.attn_k.weight');
  await expect(page.locator('.ex-tooltip div').first()).toHaveText('Block 0 · attention: key projection');
  await page.mouse.click(p.x, p.y);
  await expect(insp.locator('[data-field="name"]')).toHaveText('blk.0.attn_k.weight');
  await expect(insp.locator('[data-field="title"]')).toHaveText('Block 0 · attention: key projection');
  await expect(insp.locator('[data-field="shape"]')).toHaveText('[64, 32]');
  // And back to attn_q by clicking it.
  const q = toScreen(3200 + 500, 500);
  await page.mouse.click(q.x, q.y);
  await expect(insp.locator('[data-field="name"]')).toHaveText(Q_NAME);
  await page.mouse.move(box.x + 5, box.y + 5);
  await hist.scrollIntoViewIfNeeded();
  await page.screenshot({ path: test.info().outputPath('explorer-inspector.png') });
  expect(errors).toEqual([]);
});

test('the 3D mode stacks the layers, keeps the selection, and toggles back', async ({ page }) => {
  const errors: string[] = [];
  // Opened the way Models' "Open" links do, with a tensor named: it starts selected and in view.
  await openExplorer(page, errors, `#/explorer?model=${encodeURIComponent(modelId)}&tensor=${Q_NAME}`);
  const start = await settled(page);
  expect(start.selected).toBe(`${modelId}/${Q_NAME}`);
  expect(start.cx).toBeGreaterThan(3200);
  expect(start.cx).toBeLessThan(4224);
  await expect(page.locator('.ex-inspector [data-field="name"]')).toHaveText(Q_NAME);
  // The minimap draws each tensor as its rows × columns in its room too.
  await expect(page.locator('.ex-minimap')).toHaveAttribute('data-shaped', '48');
  const stageBox = (await page.locator('.ex-stage').boundingBox())!;
  const painted2d = paintedPixels(await page.screenshot(), stageBox);

  const toggle = page.locator('[data-action="mode"]');
  await toggle.click();
  await expect(page.locator('.explorer')).toHaveAttribute('data-mode', '3d');
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  // Every tensor of stories260K gets its heat in 3D (48 top cells).
  await expect.poll(async () => (await state(page)).textured3d, { timeout: 20_000 }).toBe(48);
  // Each drawn in its own rows × columns (as in 2D), not as its stored 1024×1024 tile.
  await expect(page.locator('.explorer')).toHaveAttribute('data-shaped3d', '48');
  const s3d = await state(page);
  expect(s3d.selected).toBe(`${modelId}/${Q_NAME}`);
  await expect(page.locator('.ex-inspector [data-field="name"]')).toHaveText(Q_NAME);
  await expect(page.locator('.ex-minimap')).toBeHidden();
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.screenshot({ path: test.info().outputPath('explorer-3d-shapes-1920x1080.png') });
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.screenshot({ path: test.info().outputPath('explorer-3d-shapes-1280x720.png') });
  const shot = await page.screenshot({ path: test.info().outputPath('explorer-3d.png') });
  // The stack is drawn: a different picture from the 2D one, with plenty painted.
  const painted3d = paintedPixels(shot, stageBox);
  expect(painted3d).toBeGreaterThan(5000);
  expect(painted3d).not.toBe(painted2d);

  // Orbiting (a drag) does not change the selection.
  await page.mouse.move(stageBox.x + stageBox.width / 2, stageBox.y + stageBox.height / 2);
  await page.mouse.down();
  await page.mouse.move(stageBox.x + stageBox.width / 2 + 120, stageBox.y + stageBox.height / 2 + 30, { steps: 6 });
  await page.mouse.up();
  await settled(page);
  expect((await state(page)).selected).toBe(`${modelId}/${Q_NAME}`);
  // Picking in 3D: Escape clears the selection, a click on the tensor (its centre on screen,
  // as the view projected it) selects it again.
  const [qx, qy] = (await page.locator('.explorer').getAttribute('data-selected-screen'))!.split(',').map(Number);
  await page.locator('.ex-stage').press('Escape');
  expect((await state(page)).selected).toBeUndefined();
  await page.mouse.click(stageBox.x + qx!, stageBox.y + qy!);
  await expect(page.locator('.ex-inspector [data-field="name"]')).toHaveText(Q_NAME);
  expect((await state(page)).selected).toBe(`${modelId}/${Q_NAME}`);

  await toggle.click();
  await expect(page.locator('.explorer')).toHaveAttribute('data-mode', '2d');
  expect((await state(page)).selected).toBe(`${modelId}/${Q_NAME}`);
  await expect(page.locator('.ex-inspector [data-field="name"]')).toHaveText(Q_NAME);
  // A click on empty map clears it.
  await page.mouse.click(stageBox.x + 8, stageBox.y + 8);
  expect((await state(page)).selected).toBeUndefined();
  await expect(page.locator('.ex-inspector')).toContainText('Click a tensor');
  expect(errors).toEqual([]);
});
