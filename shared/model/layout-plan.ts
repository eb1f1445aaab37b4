/**
 * The layout planner (issue 12 §4): from a read trace (which tensor bytes a load and a forward
 * pass read, in order) it proposes "packs": PixelFS files that hold the tensors a pass reads
 * together back to back, in the order it reads them, one pack per transformer block (plus the
 * tensors before and after the blocks). It also counts, for any layout, the tile loads and seeks
 * the trace costs, so a proposal states what it saves before anything is written. Pure: no I/O.
 *
 * Why packs help: at import every tensor gets its own file, so every tensor starts a new tile and
 * its last tile is partly empty; a block's norms and biases (a few KiB each) each cost a whole
 * tile PNG to open, inflate and check. Packed, they share the tiles of their neighbours.
 */
import { LayoutError } from './layout-errors';

/** One read the engine made through its TensorSource: `length` bytes at `offset` of a tensor. */
export interface TensorRead {
  readonly tensor: string;
  readonly offset: number;
  readonly length: number;
}

export interface LayoutTensor {
  readonly name: string;
  readonly bytes: number;
}

/** Where a tensor's bytes start: a PixelFS file and the byte offset in it. */
export interface TensorPlace {
  readonly file: string;
  readonly offset: number;
}

/** One planned pack: tensors back to back from offset 0, in read order. */
export interface PackSpec {
  readonly tensors: readonly { readonly name: string; readonly offset: number; readonly bytes: number }[];
  readonly size: number;
}

/** What a trace costs in one layout, read cold (empty tile cache, unbounded cache). */
export interface ReadCost {
  /** Distinct tiles loaded (each one a PNG file opened, inflated and checked). */
  readonly tileLoads: number;
  /** Tile loads that do not follow the previous load's tile in the same file: separate reads. */
  readonly seeks: number;
  /** Distinct PixelFS files touched. */
  readonly files: number;
  /** Payload bytes of the tiles loaded (whole tiles: a partial tile is still a whole PNG). */
  readonly tileBytesLoaded: number;
}

export interface LayoutPlan {
  readonly strategy: typeof PACK_STRATEGY;
  /** Tensor names in the order the packs hold them (first read first, blocks gathered; unread ones last). */
  readonly order: readonly string[];
  readonly packs: readonly PackSpec[];
  readonly before: ReadCost;
  readonly after: ReadCost;
}

export const PACK_STRATEGY = 'read-order-packs/1';
/** A pack larger than this is cut (a bound on one put, and on what one pack's loss would take). */
export const DEFAULT_MAX_PACK_BYTES = 1 << 30;

/** The block a tensor belongs to (`blk.N.…` → `blk.N`); other tensors group by where they fall. */
export function blockOf(name: string): string | null {
  const m = /^blk\.(\d+)\./.exec(name);
  return m ? `blk.${m[1]}` : null;
}

/** Tensor names by first read in the trace; tensors the trace never read follow in table order. */
export function readOrder(trace: readonly TensorRead[], tensors: readonly LayoutTensor[], where = 'trace'): string[] {
  const known = new Set(tensors.map((t) => t.name));
  const seen = new Set<string>();
  const order: string[] = [];
  trace.forEach((r, i) => {
    if (!known.has(r.tensor)) throw new LayoutError('LAYOUT_TRACE_INVALID', { file: where, field: `reads[${i}].tensor` }, r.tensor, 'the model has no tensor of this name');
    if (!seen.has(r.tensor)) {
      seen.add(r.tensor);
      order.push(r.tensor);
    }
  });
  for (const t of tensors) if (!seen.has(t.name)) order.push(t.name);
  return order;
}

/**
 * Read order with each block's tensors gathered where the block is first read: a forward pass
 * runs block by block, so a block is co-read even when the trace (a load in file order, say)
 * interleaves blocks. Tensors outside blocks keep their place.
 */
export function blockOrder(order: readonly string[]): string[] {
  const groups = new Map<string, string[]>();
  order.forEach((name, i) => {
    const key = blockOf(name) ?? `\u0000${i}`;
    const g = groups.get(key);
    if (g) g.push(name);
    else groups.set(key, [name]);
  });
  return [...groups.values()].flat();
}

/**
 * Packs in read order: a new pack starts where the block changes (a non-block tensor run is its
 * own group) or where the pack would pass `maxPackBytes`.
 */
export function planPacks(order: readonly string[], tensors: readonly LayoutTensor[], maxPackBytes = DEFAULT_MAX_PACK_BYTES): PackSpec[] {
  const bytes = new Map(tensors.map((t) => [t.name, t.bytes] as const));
  const packs: PackSpec[] = [];
  let cur: { name: string; offset: number; bytes: number }[] = [];
  let size = 0;
  let group: string | null | undefined;
  const flush = (): void => {
    if (cur.length > 0) packs.push({ tensors: cur, size });
    cur = [];
    size = 0;
  };
  for (const name of order) {
    const b = bytes.get(name);
    if (b === undefined) throw new LayoutError('LAYOUT_TRACE_INVALID', { file: 'order', field: 'tensor' }, name, 'the model has no tensor of this name');
    const g = blockOf(name);
    if (group !== undefined && (g !== group || size + b > maxPackBytes)) flush();
    group = g;
    cur.push({ name, offset: size, bytes: b });
    size += b;
  }
  flush();
  return packs;
}

/** Where each tensor lives in the import layout: its own file, from byte 0. */
export function importPlaces(tensors: readonly { name: string; file: string }[]): Map<string, TensorPlace> {
  return new Map(tensors.map((t) => [t.name, { file: t.file, offset: 0 }] as const));
}

/** Where each tensor lives in a set of packs whose files are named by `fileOf(packIndex)`. */
export function packPlaces(packs: readonly PackSpec[], fileOf: (i: number) => string): Map<string, TensorPlace> {
  const m = new Map<string, TensorPlace>();
  packs.forEach((p, i) => {
    for (const t of p.tensors) m.set(t.name, { file: fileOf(i), offset: t.offset });
  });
  return m;
}

/** The cost of replaying `trace` cold against a layout (`places`), with tiles of `tileBytes`. */
export function readCost(trace: readonly TensorRead[], places: ReadonlyMap<string, TensorPlace>, tileBytes: number): ReadCost {
  const loaded = new Set<string>();
  const files = new Set<string>();
  let seeks = 0;
  let last: { file: string; tile: number } | null = null;
  for (const r of trace) {
    if (r.length === 0) continue;
    const p = places.get(r.tensor);
    if (!p) throw new LayoutError('LAYOUT_TRACE_INVALID', { file: 'trace', field: 'tensor' }, r.tensor, 'the layout does not place this tensor');
    files.add(p.file);
    const first = Math.floor((p.offset + r.offset) / tileBytes);
    const lastTile = Math.floor((p.offset + r.offset + r.length - 1) / tileBytes);
    for (let t = first; t <= lastTile; t++) {
      const key = `${p.file}\u0000${t}`;
      if (loaded.has(key)) continue;
      loaded.add(key);
      if (!last || last.file !== p.file || last.tile + 1 !== t) seeks++;
      last = { file: p.file, tile: t };
    }
  }
  return { tileLoads: loaded.size, seeks, files: files.size, tileBytesLoaded: loaded.size * tileBytes };
}

/**
 * The proposal: packs in read order and the trace's cost before (in `current`) and after.
 * Pack files are named `pack:<i>` for the count; the migration gives them their real names.
 */
export function planLayout(
  trace: readonly TensorRead[],
  tensors: readonly LayoutTensor[],
  current: ReadonlyMap<string, TensorPlace>,
  tileBytes: number,
  opts: { maxPackBytes?: number; /** Names the trace in errors (its file). */ traceName?: string } = {},
): LayoutPlan {
  const order = blockOrder(readOrder(trace, tensors, opts.traceName));
  const packs = planPacks(order, tensors, opts.maxPackBytes);
  return {
    strategy: PACK_STRATEGY,
    order,
    packs,
    before: readCost(trace, current, tileBytes),
    after: readCost(trace, packPlaces(packs, (i) => `pack:${i}`), tileBytes),
  };
}
