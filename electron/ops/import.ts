/**
 * The import use case, written once for `pxi import`, the `model.import` task and `pxi map`:
 * store the GGUF (building the map's pyramid from the bytes as they stream, one pass over the
 * file), then, where a pyramid is wanted and still missing (a model imported earlier without
 * it, or a tensor the pass did not finish), build the rest from the stored tiles.
 */
import { performance } from 'node:perf_hooks';
import type { PyramidProgress } from '../map/index';
import type { ImportProgress, ImportPyramid, ImportResult, ModelStore } from '../models/store';

export interface ImportModelOptions {
  name?: string;
  /** Build the pyramid (default true). */
  pyramid?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** Progress of a read-back pyramid build, when one is needed after the import. */
  onPyramidProgress?: (p: PyramidProgress) => void;
}

export interface ImportModelResult extends ImportResult {
  /** The pyramid over both steps (null when not asked for). */
  pyramid: ImportPyramid | null;
  /** The import itself (store, and pyramid from the streamed bytes). */
  storeSeconds: number;
  /** A read-back build after it (null when none was needed). */
  pyramidSeconds: number | null;
}

export async function importModel(store: ModelStore, file: string, opts: ImportModelOptions = {}): Promise<ImportModelResult> {
  const t0 = performance.now();
  const want = opts.pyramid !== false;
  const r = await store.import(file, {
    ...(opts.name === undefined ? {} : { name: opts.name }),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    pyramid: want,
  });
  const storeSeconds = (performance.now() - t0) / 1000;
  let pyramid = r.pyramid;
  let pyramidSeconds: number | null = null;
  if (want && !store.pyramidReady(r.model.id)) {
    const t1 = performance.now();
    const b = await ensurePyramid(store, r.model.id, opts);
    pyramidSeconds = (performance.now() - t1) / 1000;
    pyramid = { built: (pyramid?.built ?? 0) + b.built, alreadyBuilt: b.alreadyBuilt - (pyramid?.built ?? 0), skipped: b.skipped, cells: (pyramid?.cells ?? 0) + b.cells };
  } else if (want && !pyramid) {
    pyramid = { built: 0, alreadyBuilt: store.map.listRegions(r.model.id).filter((x) => x.pyramid.state === 'built').length, skipped: 0, cells: 0 };
  }
  return { ...r, pyramid, storeSeconds, pyramidSeconds, seconds: (performance.now() - t0) / 1000 };
}

/** Builds what is missing of a stored model's pyramid from its tiles (nothing when it is complete). */
export async function ensurePyramid(
  store: ModelStore,
  ref: string,
  opts: { signal?: AbortSignal; onPyramidProgress?: (p: PyramidProgress) => void } = {},
): Promise<ImportPyramid> {
  if (store.pyramidReady(ref)) return { built: 0, alreadyBuilt: store.map.listRegions(store.get(ref).id).filter((x) => x.pyramid.state === 'built').length, skipped: 0, cells: 0 };
  const b = await store.buildPyramid(ref, {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onPyramidProgress ? { onProgress: opts.onPyramidProgress } : {}),
  });
  return { built: b.built, alreadyBuilt: b.alreadyBuilt, skipped: b.skipped.length, cells: b.cells };
}
