/**
 * Map index benchmark: fills a map index (a SQLite file) with (1) a Qwen2.5-7B-shaped layout of
 * 1024² tiles and (2) a synthetic map of ~2 million tiles (70B-shaped F16 models side by side),
 * each with its full LOD pyramid of cells, then times random viewport queries of several sizes.
 *
 *   npx tsx scripts/bench/map-bench.ts [--tiles 2000000] [--queries 2000] [--dir /tmp] [--keep]
 *
 * Query cases per map: random viewports of 4x4, 16x16 and 64x64 tiles at level 0 (limit 10 000
 * cells), and random "screen" viewports from one tile to the whole map wide, each at the level
 * a 1920 px wide screen would draw with 64 px heat images (lod.chooseLevel), skipping what is
 * under two screen pixels (minSize). Figures: wall-clock p50, p99 and max milliseconds per query
 * (rows materialised as objects, no heat blobs), the same for process CPU time (robust when
 * other processes share the cores), mean and p99 rows returned.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MapIndex } from '../../electron/map/map-index';
import type { Viewport } from '../../shared/map/geometry';
import { chooseLevel } from '../../shared/map/lod';
import { placeModel, placeModels, type ModelLayout } from '../../shared/map/placement';
import { QWEN25_7B, transformerTensors, type TransformerShape } from './map-shapes';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const TARGET_TILES = Number(arg('tiles', '2000000'));
const QUERIES = Number(arg('queries', '2000'));
const base = fs.mkdtempSync(path.join(arg('dir', os.tmpdir()), 'map-bench-'));
const GEO = { tileWidth: 1024, tileHeight: 1024 };
const SCREEN = 1920;
const HEAT = 64;

// Llama-3-70B-shaped, F16 (~141 GB, ~33.7k tiles per model).
const L70B_F16: TransformerShape = { blocks: 80, hidden: 8192, kvDim: 1024, ffn: 28672, vocab: 128256, type: 'F16', outputType: 'F16', qkvBias: false };

let seed = 12345;
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function fill(index: MapIndex, layouts: ModelLayout[]): { regions: number; tiles: number; cells: number; seconds: number } {
  const t0 = performance.now();
  let cells = 0;
  let tiles = 0;
  let regions = 0;
  for (const l of layouts) {
    index.putRegions(l.regions);
    cells += index.addEmptyPyramid(l.modelId);
    regions += l.regions.length;
    tiles += l.regions.reduce((s, r) => s + r.grid.tileCount, 0);
  }
  return { regions, tiles, cells: cells + tiles, seconds: (performance.now() - t0) / 1000 };
}

interface Case {
  name: string;
  make: () => { v: Viewport; level: number; minSize?: number };
}

function runCases(index: MapIndex, box: { x: number; y: number; width: number; height: number }, label: string): Array<Record<string, string | number>> {
  const tw = GEO.tileWidth;
  const square = (tilesSide: number): Case => ({
    name: `${tilesSide}x${tilesSide} tiles, level 0`,
    make: () => {
      const w = tilesSide * tw;
      const x0 = box.x + rand() * Math.max(1, box.width - w);
      const y0 = box.y + rand() * Math.max(1, box.height - w);
      return { v: { x0, y0, x1: x0 + w, y1: y0 + w }, level: 0 };
    },
  });
  const screen: Case = {
    name: `screen ${SCREEN}x1080, 1 tile..whole map wide, chosen level`,
    make: () => {
      // Log-uniform zoom between one tile and the whole map across the screen.
      const maxW = Math.max(box.width, box.height * (SCREEN / 1080));
      const w = tw * Math.pow(maxW / tw, rand());
      const h = (w * 1080) / SCREEN;
      const x0 = box.x + rand() * Math.max(1, box.width - w);
      const y0 = box.y + rand() * Math.max(1, box.height - h);
      // Skip what is under two screen pixels, as the explorer does.
      return { v: { x0, y0, x1: x0 + w, y1: y0 + h }, level: chooseLevel(SCREEN / w, tw, tw, HEAT), minSize: (2 * w) / SCREEN };
    },
  };
  const rows: Array<Record<string, string | number>> = [];
  for (const c of [square(4), square(16), square(64), screen]) {
    for (let i = 0; i < 100; i++) {
      const { v, level, minSize } = c.make();
      index.queryCells(v, { level, minSize });
    }
    const ms: number[] = [];
    const cpu: number[] = [];
    const counts: number[] = [];
    let got = 0;
    let truncated = 0;
    for (let i = 0; i < QUERIES; i++) {
      const { v, level, minSize } = c.make();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const r = index.queryCells(v, { level, minSize });
      ms.push(performance.now() - t0);
      const cu = process.cpuUsage(c0);
      cpu.push((cu.user + cu.system) / 1000);
      got += r.items.length;
      counts.push(r.items.length);
      if (r.truncated) truncated++;
    }
    ms.sort((a, b) => a - b);
    cpu.sort((a, b) => a - b);
    rows.push({
      map: label,
      case: c.name,
      p50: pct(ms, 50).toFixed(3),
      p99: pct(ms, 99).toFixed(3),
      max: ms[ms.length - 1]!.toFixed(3),
      cpuP50: pct(cpu, 50).toFixed(3),
      cpuP99: pct(cpu, 99).toFixed(3),
      meanRows: Math.round(got / QUERIES),
      p99Rows: pct(counts.sort((a, b) => a - b), 99),
      truncated,
    });
  }
  // Region queries over random screens.
  const ms: number[] = [];
  const cpu: number[] = [];
  let regionRows = 0;
  const regionCounts: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const { v, minSize } = screen.make();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = index.queryRegions(v, { minSize });
    ms.push(performance.now() - t0);
    const cu = process.cpuUsage(c0);
    cpu.push((cu.user + cu.system) / 1000);
    regionRows += r.items.length;
    regionCounts.push(r.items.length);
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  rows.push({
    map: label,
    case: 'regions, same screens',
    p50: pct(ms, 50).toFixed(3),
    p99: pct(ms, 99).toFixed(3),
    max: ms[ms.length - 1]!.toFixed(3),
    cpuP50: pct(cpu, 50).toFixed(3),
    cpuP99: pct(cpu, 99).toFixed(3),
    meanRows: Math.round(regionRows / QUERIES),
    p99Rows: pct(regionCounts.sort((a, b) => a - b), 99),
    truncated: 0,
  });
  return rows;
}

function openIndex(file: string): MapIndex {
  const db = new Database(file);
  // The benchmark measures queries; the fill does not need to survive power loss.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -65536');
  return new MapIndex(db);
}

function main(): void {
  const cpu = (os.cpus()[0]?.model ?? 'unknown').trim();
  console.log(`machine: ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, SQLite ${(new Database(':memory:').prepare('select sqlite_version() v').get() as { v: string }).v}`);
  console.log(`queries per case: ${QUERIES}; db folder ${base}`);
  const all: Array<Record<string, string | number>> = [];

  // 1. Qwen2.5-7B.
  {
    const file = path.join(base, 'qwen7b.sqlite');
    const index = openIndex(file);
    const layout = placeModel({ modelId: 'qwen2.5-7b', tensors: transformerTensors(QWEN25_7B) }, GEO);
    const f = fill(index, [layout]);
    console.log(`qwen2.5-7b: ${f.regions} regions, ${f.tiles} tiles, ${f.cells} cells with pyramid, box ${layout.box.width}x${layout.box.height} px, fill ${f.seconds.toFixed(2)} s, ${(fs.statSync(file).size / 2 ** 20).toFixed(1)} MiB`);
    all.push(...runCases(index, layout.box, 'qwen2.5-7b'));
    index.db.close();
  }

  // 2. Synthetic: 70B-shaped F16 models side by side up to TARGET_TILES tiles.
  {
    const file = path.join(base, 'synthetic.sqlite');
    const index = openIndex(file);
    const one = placeModel({ modelId: 'probe', tensors: transformerTensors(L70B_F16) }, GEO);
    const perModel = one.regions.reduce((s, r) => s + r.grid.tileCount, 0);
    const n = Math.max(1, Math.ceil(TARGET_TILES / perModel));
    const layouts = placeModels(
      Array.from({ length: n }, (_, i) => ({ modelId: `l70b-${i}`, tensors: transformerTensors(L70B_F16) })),
      GEO,
    );
    const t0 = performance.now();
    const f = fill(index, layouts);
    const box = index.mapBounds()!;
    console.log(
      `synthetic: ${n} models x ${perModel} tiles = ${f.tiles} tiles, ${f.regions} regions, ${f.cells} cells with pyramid, box ${box.width}x${box.height} px, fill ${((performance.now() - t0) / 1000).toFixed(1)} s, ${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MiB`,
    );
    all.push(...runCases(index, box, `synthetic ${(f.tiles / 1e6).toFixed(2)}M tiles`));
    index.db.close();
  }

  console.table(all);
  if (!process.argv.includes('--keep')) fs.rmSync(base, { recursive: true, force: true });
}

main();
