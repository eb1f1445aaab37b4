/**
 * Everything a model's pyramid holds in the map index, keyed by tensor name and cell position
 * (not by model id), with heat images as their exact bytes: two builds of the same bytes must
 * give equal snapshots (toEqual compares numbers with Object.is, so -0 and 0 differ, NaN = NaN).
 */
import { cellsAt, topLevel } from '../../shared/map/lod';
import type { ModelStore } from '../../electron/models/store';

export interface PyramidSnapshot {
  cells: number;
  regions: Array<{ name: string; pyramid: unknown; cells: Array<{ at: string; stats: unknown; heat: string | null }> }>;
}

export function pyramidSnapshot(store: ModelStore, modelId: string): PyramidSnapshot {
  let n = 0;
  const regions = store.map
    .listRegions(modelId)
    .filter((r) => r.kind === 'weights')
    .map((r) => {
      const cells: PyramidSnapshot['regions'][number]['cells'] = [];
      for (let k = 0; k <= topLevel(r.grid); k++) {
        for (const { col, row } of cellsAt(r.grid, k)) {
          const c = store.map.getCell(r.id, k, col, row);
          const heat = c ? store.map.getCellHeat(c.id) : null;
          cells.push({ at: `${k}/${col}/${row}`, stats: c?.stats ?? null, heat: heat ? Buffer.from(heat.buffer, heat.byteOffset, heat.byteLength).toString('base64') : null });
          n++;
        }
      }
      return { name: r.name, pyramid: r.pyramid, cells };
    });
  return { cells: n, regions };
}
