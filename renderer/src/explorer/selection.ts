import type { MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { PxiApi } from '../../../shared/ipc/client';
import type { TensorShape } from '../../../shared/map/shape';

/**
 * Writes the selection onto the explorer's data attributes (tests aim at its pixels with them):
 * the region's id and rectangle, and the tensor as drawn (its shape's rectangle, rows, columns
 * and map pixels per value) when it has a shape.
 */
export function markSelection(d: DOMStringMap, region: MapRegionInfo | null, shape: TensorShape | null): void {
  if (region) {
    d.selected = region.id;
    d.selectedRect = `${region.rect.x},${region.rect.y},${region.rect.width},${region.rect.height}`;
    if (shape) d.selectedShape = `${shape.x},${shape.y},${shape.width},${shape.height},${shape.rows},${shape.cols},${shape.scale}`;
    else delete d.selectedShape;
  } else {
    delete d.selected;
    delete d.selectedRect;
    delete d.selectedShape;
  }
}

/**
 * Steps the selection to the next (dir 1) or previous (−1) tensor of the model in view; wraps at
 * the ends. The services step on their index (`map:step`), so any tensor count works and
 * nothing is listed whole. Steps run one after another: a key held down steps from the tensor
 * the previous step selected, never twice from the same one.
 */
export class TensorStepper {
  private stepping: Promise<void> = Promise.resolve();

  constructor(
    private readonly api: PxiApi,
    /** The model in view and the selected tensor's id. */
    private readonly where: () => { modelId: string | null; selectedId: string | null },
    /** Selects and shows the tensor stepped to. */
    private readonly show: (r: MapRegionInfo) => void,
    private readonly error: (message: string) => void,
  ) {}

  step(dir: 1 | -1): Promise<void> {
    this.stepping = this.stepping.then(() => this.once(dir));
    return this.stepping;
  }

  private async once(dir: 1 | -1): Promise<void> {
    const { modelId, selectedId } = this.where();
    if (!modelId) return;
    let r: MapRegionInfo | null;
    try {
      ({ region: r } = await this.api.call('map:step', { modelId, from: selectedId, dir }));
    } catch (e) {
      this.error((e as Error).message);
      return;
    }
    if (!r) return;
    this.show(r);
  }
}
