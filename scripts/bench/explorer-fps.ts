/**
 * Explorer frame-rate benchmark: a Qwen2.5-7B-shaped map (339 tensors, 1330 tiles of 1024²,
 * 2042 pyramid cells with 64² heat images) in a fresh data folder, `pxi serve` on it, and
 * Debian's Chromium (WebGL on SwiftShader, flags from playwright.config.ts) driving the explorer
 * through real input: held arrow keys, held +/−, mouse drags, wheel zooms and search fly-tos.
 *
 *   npx tsx scripts/bench/explorer-fps.ts [--seconds 4] [--width 1280] [--height 800] [--keep]
 *
 * The map is placed by the real placement code; its pyramid cells are synthetic (a smooth
 * pattern plus noise, NaN past each tensor's last byte) so that the benchmark does not need a
 * 4.3 GB import: the explorer sees exactly what a real import's index would give it.
 * Per scenario: frames the page delivered (requestAnimationFrame in the page) per second and
 * their p50/p95 interval, frames the explorer rendered and its mean render time (CPU, JS side),
 * tiles drawn, the heat textures cached and their bytes.
 */
import { chromium } from '@playwright/test';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ModelStore } from '../../electron/models/store';
import type { MapIndex } from '../../electron/map/map-index';
import { cellsAt, topLevel } from '../../shared/map/lod';
import { placeModel } from '../../shared/map/placement';
import type { PyramidCell } from '../../shared/map/pyramid-core';
import { emptyStats, mergeStats, statsOf } from '../../shared/map/stats';
import config, { CHROMIUM_PATH } from '../../playwright.config';
import { QWEN25_7B, transformerTensors } from './map-shapes';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const SECONDS = Number(arg('seconds', '4'));
const WIDTH = Number(arg('width', '1280'));
const HEIGHT = Number(arg('height', '800'));
const KEEP = process.argv.includes('--keep');
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const HEAT = 64;
const MODEL = 'qwen2.5-7b-shape';

let seed = 7;
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

/** Level-0 heat of tile i: rows of differing scale (like weight matrices) plus noise; NaN past the data. */
function tileHeat(tile: number, validPx: number, scale: number, tileSide: number): Float32Array<ArrayBuffer> {
  const h = new Float32Array(HEAT * HEAT);
  const step = tileSide / HEAT;
  for (let y = 0; y < HEAT; y++) {
    const rowScale = scale * (0.6 + 0.8 * Math.abs(Math.sin((tile * HEAT + y) * 0.37)));
    for (let x = 0; x < HEAT; x++) {
      const firstPx = y * step * tileSide + x * step;
      h[y * HEAT + x] = firstPx < validPx ? rowScale * (Math.sin(x * 0.21 + tile) * 0.5 + (rand() - 0.5)) : NaN;
    }
  }
  return h;
}

/** A parent heat image: each pixel the mean of the finite pixels of its 2x2 block in the children. */
function mergeHeat(children: (Float32Array | undefined)[]): Float32Array<ArrayBuffer> {
  const out = new Float32Array(HEAT * HEAT).fill(NaN);
  const half = HEAT / 2;
  children.forEach((c, q) => {
    if (!c) return;
    const ox = (q % 2) * half;
    const oy = Math.floor(q / 2) * half;
    for (let y = 0; y < half; y++) {
      for (let x = 0; x < half; x++) {
        let s = 0;
        let n = 0;
        for (const [dx, dy] of [[0, 0], [1, 0], [0, 1], [1, 1]] as const) {
          const v = c[(2 * y + dy) * HEAT + 2 * x + dx]!;
          if (Number.isFinite(v)) {
            s += v;
            n++;
          }
        }
        if (n) out[(oy + y) * HEAT + ox + x] = s / n;
      }
    }
  });
  return out;
}

function fillMap(index: MapIndex): { tiles: number; cells: number } {
  const layout = placeModel({ modelId: MODEL, tensors: transformerTensors(QWEN25_7B) }, { tileWidth: 1024, tileHeight: 1024 });
  index.putRegions(layout.regions);
  let tiles = 0;
  let cells = 0;
  for (const r of layout.regions) {
    if (r.kind !== 'weights' || !r.tensor) continue;
    const g = r.grid;
    const cap = g.tileWidth * g.tileHeight * 4;
    const top = topLevel(g);
    const scale = 0.02 + rand() * 0.05;
    index.beginPyramid(r.id, HEAT);
    const byLevel: Map<string, PyramidCell>[] = [];
    for (let k = 0; k <= top; k++) {
      const here = new Map<string, PyramidCell>();
      for (const { col, row } of cellsAt(g, k)) {
        let heat: Float32Array<ArrayBuffer>;
        let stats;
        if (k === 0) {
          const i = row * g.cols + col;
          const valid = Math.min(cap, r.tensor.byteSize - i * cap) / 4;
          heat = tileHeat(i, valid, scale, g.tileWidth);
          stats = statsOf(heat.filter((v) => Number.isFinite(v)));
          tiles++;
        } else {
          const prev = byLevel[k - 1]!;
          const kids = [0, 1, 2, 3].map((q) => prev.get(`${2 * col + (q % 2)},${2 * row + Math.floor(q / 2)}`));
          heat = mergeHeat(kids.map((c) => c?.heat));
          stats = mergeStats(kids.filter((c) => c !== undefined).map((c) => c.stats));
        }
        here.set(`${col},${row}`, { level: k, col, row, stats, heat });
      }
      byLevel.push(here);
    }
    const all = byLevel.flatMap((m) => [...m.values()]);
    const level0 = byLevel[0]!;
    let heatMin = Infinity;
    let heatMax = -Infinity;
    for (const c of level0.values()) for (const v of c.heat) if (Number.isFinite(v)) (heatMin = Math.min(heatMin, v)), (heatMax = Math.max(heatMax, v));
    const stats = mergeStats([...level0.values()].map((c) => c.stats));
    index.writeCells(r.id, all, { stats: stats.count ? stats : emptyStats(), heatMin, heatMax, levels: top + 1, cells: all.length, peakOpenCells: 0 });
    cells += all.length;
  }
  return { tiles, cells };
}

interface Sample {
  scenario: string;
  seconds: number;
  pageFps: number;
  p50ms: number;
  p95ms: number;
  rendered: number;
  renderMs: number;
  drawn: number;
  textures: number;
  textureBytes: number;
  levels: string;
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'explorer-fps-'));
  const t0 = performance.now();
  const store = await ModelStore.open(path.join(dataDir, 'volume'), { create: true });
  const filled = fillMap(store.map);
  await store.close();
  console.error(`map: ${filled.tiles} tiles, ${filled.cells} cells in ${((performance.now() - t0) / 1000).toFixed(1)} s (${dataDir})`);

  const child = spawn(process.execPath, ['bin/pxi.js', 'serve', '--port', '0', '--json', '--data-dir', dataDir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (c) => reject(new Error(`pxi serve exited with ${c}`)));
  });
  const { url } = JSON.parse(first) as { url: string };
  const launch = config.use?.launchOptions ?? {};
  const browser = await chromium.launch({ ...launch, executablePath: CHROMIUM_PATH });
  const samples: Sample[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: WIDTH, height: HEIGHT } });
    page.on('pageerror', (e) => console.error('page error:', e.message));
    const u = new URL(url);
    u.hash = '#/explorer';
    await page.goto(u.toString());
    await page.waitForSelector('.explorer[data-frames]', { timeout: 60_000 });
    const settle = async () => {
      // A function, not text: the page's CSP forbids eval, which text predicates need.
      await page.waitForFunction(
        () => {
          const d = document.querySelector<HTMLElement>('.explorer')?.dataset;
          return d?.loading === 'false' && d?.animating === 'false';
        },
        undefined,
        { timeout: 60_000 },
      );
    };
    await settle();
    const ex = () => page.evaluate(() => ({ ...document.querySelector<HTMLElement>('.explorer')!.dataset }));
    const stage = page.locator('.ex-stage');
    const box = (await stage.boundingBox())!;
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;

    async function measure(scenario: string, act: () => Promise<void>): Promise<void> {
      const before = await ex();
      // As text: tsx would wrap a named function in a helper the page does not have.
      await page.evaluate(`(() => {
        const run = (window.__fpsRun || 0) + 1;
        window.__fpsRun = run;
        window.__fps = [];
        const tick = (t) => {
          if (window.__fpsRun !== run) return;
          window.__fps.push(t);
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      })()`);
      const t = performance.now();
      await act();
      const secs = (performance.now() - t) / 1000;
      const times = (await page.evaluate('(() => { window.__fpsRun++; return window.__fps; })()')) as number[];
      const after = await ex();
      const iv = times.slice(1).map((x, i) => x - times[i]!).sort((a, b) => a - b);
      const span = (times.at(-1)! - times[0]!) / 1000;
      const rendered = Number(after.frames) - Number(before.frames);
      samples.push({
        scenario,
        seconds: secs,
        pageFps: (times.length - 1) / span,
        p50ms: iv[Math.floor(iv.length * 0.5)] ?? NaN,
        p95ms: iv[Math.floor(iv.length * 0.95)] ?? NaN,
        rendered,
        renderMs: (Number(after.renderMs) - Number(before.renderMs)) / Math.max(1, rendered),
        drawn: Number(after.drawn),
        textures: Number(after.textures),
        textureBytes: Number(after.textureBytes),
        levels: after.levelsRequested ?? '',
      });
      console.error(JSON.stringify(samples.at(-1)));
      await page.screenshot({ path: path.join(os.tmpdir(), `explorer-fps-${samples.length}.png`) });
    }

    await stage.focus();
    const hold = async (key: string, secs: number) => {
      await page.keyboard.down(key);
      await page.waitForTimeout(secs * 1000);
      await page.keyboard.up(key);
    };
    // Whole map in view (coarse levels), then pans and zooms at working scales.
    // Keys go one way then back, so the map stays in view.
    await measure('whole map: pan with held arrow keys', async () => {
      await hold('ArrowRight', SECONDS / 2);
      await hold('ArrowLeft', SECONDS / 2);
    });
    await measure('zoom in with held +, then out with held −', async () => {
      await hold('+', SECONDS / 2);
      await hold('-', SECONDS / 2);
    });
    await page.locator('.ex-search-input').fill('blk.14.ffn_up.weight');
    await page.waitForSelector('.ex-search-results li[data-region-id]');
    await measure('search fly-to blk.14.ffn_up (700 ms flight)', async () => {
      await page.keyboard.press('Enter');
      await page.waitForTimeout(1000);
    });
    await settle();
    await stage.focus();
    await measure('block scale (level 0 tiles): pan with held arrow keys', async () => {
      await hold('ArrowLeft', SECONDS / 2);
      await hold('ArrowRight', SECONDS / 2);
    });
    await measure('mouse drag pan', async () => {
      await page.mouse.move(cx, cy);
      await page.mouse.down();
      const end = performance.now() + SECONDS * 1000;
      let i = 0;
      while (performance.now() < end) {
        i++;
        await page.mouse.move(cx + 300 * Math.sin(i / 20), cy + 120 * Math.sin(i / 31));
      }
      await page.mouse.up();
    });
    await measure('wheel zoom out and in', async () => {
      await page.mouse.move(cx, cy);
      // Cycles of 8 notches out and 8 in (every 25 ms): the view stays at the same scale.
      const end = performance.now() + SECONDS * 1000;
      for (let i = 0; performance.now() < end || i % 16 !== 0; i++) {
        await page.mouse.wheel(0, i % 16 < 8 ? 120 : -120);
        await page.waitForTimeout(25);
      }
    });
    await settle();
    await page.locator('[data-action="mode"]').click();
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('.explorer')?.dataset.textured3d ?? 0) >= 339, undefined, { timeout: 60_000 });
    await settle();
    await page.screenshot({ path: path.join(os.tmpdir(), 'explorer-fps-3d.png') });
    await measure('3D: orbit (mouse drag), 339 tensors', async () => {
      await page.mouse.move(cx, cy);
      await page.mouse.down();
      const end = performance.now() + SECONDS * 1000;
      let i = 0;
      while (performance.now() < end) {
        i++;
        await page.mouse.move(cx + 250 * Math.sin(i / 25), cy + 80 * Math.sin(i / 40));
      }
      await page.mouse.up();
    });
    await settle();
    const final = await ex();
    console.log(JSON.stringify({ url: u.origin, width: WIDTH, height: HEIGHT, map: filled, samples, final: { textures: final.textures, textureBytes: final.textureBytes, budget: final.textureBudget, evictions: final.evictions } }, null, 2));
    console.log('\n| scenario | page fps | p50 ms | p95 ms | explorer frames | render ms/frame (JS) | tiles drawn | textures | texture MiB |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    for (const s of samples) {
      console.log(
        `| ${s.scenario} | ${s.pageFps.toFixed(1)} | ${s.p50ms.toFixed(1)} | ${s.p95ms.toFixed(1)} | ${s.rendered} | ${s.renderMs.toFixed(1)} | ${s.drawn} | ${s.textures} | ${(s.textureBytes / 2 ** 20).toFixed(1)} |`,
      );
    }
  } finally {
    await browser.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    if (!KEEP) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
