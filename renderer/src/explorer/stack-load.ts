import type { MapCellInfo } from '../../../shared/ipc/channels/map';
import type { PxiApi } from '../../../shared/ipc/client';
import type { Rect } from '../../../shared/map/geometry';
import type { MapData } from './map-data';
import { stackLayout, type View3D } from './view3d';

/**
 * Loads one model's 3D stack (specs/explorer.md): its weight regions (remembered in `data`) laid
 * out as layers in `view3d`, then each tensor's top cell, the one heat image the stack draws it
 * with. Returns those cells; throws when a request fails.
 */
export async function loadStack(api: PxiApi, data: MapData, view3d: View3D, m: { modelId: string; box: Rect }): Promise<MapCellInfo[]> {
  const modelId = m.modelId;
  const v = { x0: m.box.x, y0: m.box.y, x1: m.box.x + m.box.width, y1: m.box.y + m.box.height };
  const { regions } = await api.call('map:regions', { viewport: v, modelId, kinds: ['weights'], limit: 5000 });
  for (const r of regions) data.rememberRegion(r);
  view3d.setModel(stackLayout(modelId, regions));
  // Each tensor's top cell: a query at level L answers tensors whose top is in [L − 6, L].
  const top = new Map(regions.map((r) => [r.id, Math.max(0, (r.pyramid.levels ?? 1) - 1)]));
  const found = new Map<string, MapCellInfo>();
  let level = Math.max(0, ...top.values());
  for (;;) {
    const res = await api.call('map:cells', { viewport: v, level, modelId, kinds: ['weights'], limit: 5000 });
    for (const c of res.cells) if (c.level === top.get(c.regionId)) found.set(c.regionId, c);
    if (level === 0 || found.size >= top.size) break;
    level = Math.max(0, level - 7);
  }
  return [...found.values()];
}
