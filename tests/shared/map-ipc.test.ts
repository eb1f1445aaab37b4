/**
 * The map channels' contract through the dispatcher, with stand-in handlers: what requests are
 * refused, and that answers breaking the bounds are refused too (a service bug must not hand
 * the renderer an unbounded or malformed answer).
 */
import { describe, expect, it } from 'vitest';
import { MAP_LIMITS, type MapRegionInfo } from '../../shared/ipc/channels/map';
import { channelNames } from '../../shared/ipc/contract';
import { createDispatcher, type Handlers } from '../../shared/ipc/dispatch';

const ctx = { transport: 'direct' as const, origin: 'test' };

function handlers(overrides: Partial<Handlers>): Handlers {
  const all = Object.fromEntries(
    channelNames.map((c) => [
      c,
      () => {
        throw new Error(`${c} is not under test`);
      },
    ]),
  );
  return { ...all, ...overrides } as Handlers;
}

const region = (i: number): MapRegionInfo => ({
  id: `m/t${i}`,
  modelId: 'm',
  name: `t${i}`,
  kind: 'weights',
  rect: { x: i * 10, y: 0, width: 8, height: 8 },
  order: i,
  block: null,
  grid: { tileWidth: 8, tileHeight: 8, cols: 1, rows: 1, tileCount: 1 },
  tensor: { type: 'F32', dims: [4], bytes: 16 },
  pyramid: { state: 'built', note: null, levels: 1, heatSize: 64, heatMin: -1, heatMax: 1, stats: { count: 4, min: -1, max: 1, mean: 0, std: 1, nonFinite: 0 } },
});

describe('map channels in the contract', () => {
  it('declares every map channel', () => {
    expect(channelNames.filter((c) => c.startsWith('map:')).sort()).toEqual(['map:cells', 'map:heat', 'map:histogram', 'map:kv-cache', 'map:overview', 'map:region', 'map:regions', 'map:search', 'map:step', 'map:values']);
  });

  it('map:step takes a direction of 1 or -1 and a region id or null, nothing else', async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(handlers({ 'map:step': (req) => (seen.push(req), { region: null }) }));
    expect((await d('map:step', { modelId: 'm', from: null, dir: 1 }, ctx)).ok).toBe(true);
    expect((await d('map:step', { modelId: 'm', from: 'm/t', dir: -1 }, ctx)).ok).toBe(true);
    for (const bad of [{ dir: 2 }, { dir: 0 }, { from: '' }, { modelId: '' }, { extra: 1 }]) {
      expect((await d('map:step', { modelId: 'm', from: null, dir: 1, ...bad }, ctx)).ok).toBe(false);
    }
    expect(seen).toHaveLength(2);
  });

  it('map:values refuses windows past its cap before the handler, and answers past it after', async () => {
    let calls = 0;
    const values = (n: number) => ({
      regionId: 'm/t', type: 'F32', shape: { rows: 100, cols: 100 }, row: 0, col: 0, rows: 1, cols: n, blockSize: 1,
      values: new Array<number>(n).fill(0), stored: new Array<number>(n).fill(0), blocks: [],
    });
    const d = createDispatcher(handlers({ 'map:values': (req) => (calls++, values(req.cols === 7 ? MAP_LIMITS.values + 1 : req.cols)) }));
    expect((await d('map:values', { id: 'm/t', row: 0, col: 0, rows: 1, cols: 4 }, ctx)).ok).toBe(true);
    for (const bad of [{ cols: MAP_LIMITS.values + 1 }, { rows: 0 }, { row: -1 }, { col: 0.5 }]) {
      const r = await d('map:values', { id: 'm/t', row: 0, col: 0, rows: 1, cols: 4, ...bad }, ctx);
      expect(r.ok).toBe(false);
    }
    expect(calls).toBe(1);
    const over = await d('map:values', { id: 'm/t', row: 0, col: 0, rows: 1, cols: 7 }, ctx);
    expect(over.ok).toBe(false);
    if (!over.ok) expect(over.error.code).toBe('IPC_INVALID_RESPONSE');
  });

  it('passes valid viewports (fractional, negative, far out) and refuses empty or unsafe ones', async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'map:regions': (req) => {
          seen.push(req.viewport);
          return { regions: [], truncated: false };
        },
      }),
    );
    for (const v of [
      { x0: -0.5, y0: -10, x1: 0.25, y1: 3 },
      { x0: 2 ** 52, y0: 0, x1: 2 ** 52 + 1, y1: 1 },
    ]) {
      expect((await d('map:regions', { viewport: v }, ctx)).ok).toBe(true);
    }
    expect(seen).toHaveLength(2);
    for (const [v, msg] of [
      [{ x0: 1, y0: 0, x1: 1, y1: 1 }, /empty viewport/],
      [{ x0: 0, y0: 5, x1: 1, y1: 4 }, /empty viewport/],
      [{ x0: 0, y0: 0, x1: 2 ** 54, y1: 1 }, /viewport\.x1/],
      [{ x0: 0, y0: 0, x1: '10', y1: 1 }, /viewport\.x1/],
      [{ x0: 0, y0: 0, x1: 1 }, /viewport\.y1/],
    ] as const) {
      const env = await d('map:regions', { viewport: v }, ctx);
      expect(env.ok).toBe(false);
      if (!env.ok) {
        expect(env.error.code).toBe('IPC_INVALID_REQUEST');
        expect(env.error.message).toMatch(msg);
      }
    }
  });

  it('bounds heat inline: at most 256 cells with heat, more without', async () => {
    const d = createDispatcher(handlers({ 'map:cells': (req) => ({ level: req.level, cells: [], truncated: false }) }));
    const v = { x0: 0, y0: 0, x1: 1, y1: 1 };
    expect((await d('map:cells', { viewport: v, level: 0, withHeat: true }, ctx)).ok).toBe(true);
    expect((await d('map:cells', { viewport: v, level: 0, withHeat: true, limit: MAP_LIMITS.cellsWithHeat }, ctx)).ok).toBe(true);
    expect((await d('map:cells', { viewport: v, level: 0, limit: MAP_LIMITS.cells }, ctx)).ok).toBe(true);
    const env = await d('map:cells', { viewport: v, level: 0, withHeat: true, limit: MAP_LIMITS.cellsWithHeat + 1 }, ctx);
    expect(env.ok).toBe(false);
    if (!env.ok) expect(env.error.message).toMatch(/limit: at most 256 cells with heat/);
  });

  it('refuses answers past the bounds or with values JSON cannot carry', async () => {
    const cases: [Partial<Handlers>, string, unknown][] = [
      [{ 'map:regions': () => ({ regions: Array.from({ length: MAP_LIMITS.regions + 1 }, (_, i) => region(i)), truncated: false }) }, 'map:regions', { viewport: { x0: 0, y0: 0, x1: 1, y1: 1 } }],
      [{ 'map:search': () => ({ regions: Array.from({ length: MAP_LIMITS.search + 1 }, (_, i) => region(i)), truncated: true }) }, 'map:search', { query: 't' }],
      [{ 'map:regions': () => ({ regions: [{ ...region(0), pyramid: { ...region(0).pyramid, stats: { count: 1, min: 0, max: 0, mean: Number.NaN, std: 0, nonFinite: 0 } } }], truncated: false }) }, 'map:regions', { viewport: { x0: 0, y0: 0, x1: 1, y1: 1 } }],
      [{ 'map:heat': () => ({ cells: [{ id: 1, heatSize: 64, heat: 'not base64!' }], missing: [] }) }, 'map:heat', { ids: [1] }],
      [{ 'map:histogram': () => ({ regionId: 'm/t', counts: new Array(MAP_LIMITS.histogramBins + 1).fill(0), lo: 0, hi: 1, sampled: 0, total: 0, nonFinite: 0, exact: true }) }, 'map:histogram', { id: 'm/t' }],
    ];
    for (const [h, channel, req] of cases) {
      const env = await createDispatcher(handlers(h))(channel, req, ctx);
      expect(env.ok, channel).toBe(false);
      if (!env.ok) expect(env.error.code).toBe('IPC_INVALID_RESPONSE');
    }
  });

  it('hands the search handler a trimmed query and refuses a blank one', async () => {
    const queries: string[] = [];
    const d = createDispatcher(
      handlers({
        'map:search': (req) => {
          queries.push(req.query);
          return { regions: [], truncated: false };
        },
      }),
    );
    expect((await d('map:search', { query: '  attn_q  ' }, ctx)).ok).toBe(true);
    expect(queries).toEqual(['attn_q']);
    const env = await d('map:search', { query: ' \t ' }, ctx);
    expect(env.ok).toBe(false);
  });
});
