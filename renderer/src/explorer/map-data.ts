import type { PxiApi } from '../../../shared/ipc/client';
import type { MapCellInfo, MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { Response } from '../../../shared/ipc/contract';
import type { Viewport } from '../../../shared/map/geometry';
import { decodeHeat, heatTexture } from './heat';
import type { TextureCache } from './texture-cache';

export type Overview = Response<'map:overview'>;

/** What one viewport request asks for. */
export interface ViewRequest {
  viewport: Viewport;
  level: number;
  /** Map pixels under which a rectangle is skipped (about two screen pixels). */
  minSize: number;
  /** Map point to load heat around first. */
  cx: number;
  cy: number;
}

const LIST_LIMIT = 2000;
const HEAT_PAGE = 32;
const HEAT_IN_FLIGHT = 2;
/** Coalesces camera moves into one request; another waits for the one in flight. */
const SETTLE_MS = 40;
const MAX_REGIONS_KEPT = 20_000;

function sameRequest(a: ViewRequest | null, b: ViewRequest): boolean {
  if (!a) return false;
  const v = a.viewport;
  const w = b.viewport;
  return a.level === b.level && v.x0 === w.x0 && v.y0 === w.y0 && v.x1 === w.x1 && v.y1 === w.y1 && a.minSize === b.minSize;
}

/**
 * The explorer's data: the regions and cells of the current viewport, fetched through the
 * typed API without ever holding the UI thread on one big answer. Camera moves are coalesced
 * (one list request in flight, the latest view wins); lists are bounded (2000 rows); heat
 * images are paged in by id (32 per call, two calls in flight), nearest the view centre first,
 * and only as many as the texture cache has room for.
 */
export class MapData {
  overview: Overview | null = null;
  /** Regions of the current view (outlines, labels, hover). */
  regions: MapRegionInfo[] = [];
  /** Every region seen lately, by id (colour ranges, tooltips). */
  readonly regionsById = new Map<string, MapRegionInfo>();
  /** Cells of the current view at `level`. */
  cells: MapCellInfo[] = [];
  level = -1;
  truncated = false;
  /** Every LOD level a cell request was sent for, in order of first use. */
  readonly levelsRequested: number[] = [];
  requests = 0;
  heatRequests = 0;

  private pending: ViewRequest | null = null;
  private current: ViewRequest | null = null;
  private listInFlight = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private heatInFlight = 0;
  private readonly heatPending = new Set<number>();
  /** Cells that answered without heat (not built): not asked again. */
  private readonly noHeat = new Set<number>();
  /** Cells whose heat the active view wants (2D: the view's cells; 3D: the model's top cells). */
  private wanted: MapCellInfo[] = [];
  private wantedCentre = { x: 0, y: 0 };
  private closed = false;

  constructor(
    private readonly api: PxiApi,
    private readonly cache: TextureCache,
    private readonly onChange: () => void,
    private readonly onError: (message: string) => void,
  ) {}

  async loadOverview(): Promise<Overview> {
    this.overview = await this.api.call('map:overview', {});
    return this.overview;
  }

  /** Asks for a view; coalesced with the next few camera moves. */
  setView(req: ViewRequest): void {
    if (sameRequest(this.pending ?? this.current, req)) return;
    this.pending = req;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== null || this.listInFlight || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.fetchList();
    }, SETTLE_MS);
  }

  private async fetchList(): Promise<void> {
    const req = this.pending;
    if (!req || this.closed) return;
    this.pending = null;
    this.listInFlight = true;
    if (!this.levelsRequested.includes(req.level)) this.levelsRequested.push(req.level);
    this.requests++;
    try {
      const [cells, regions] = await Promise.all([
        this.api.call('map:cells', { viewport: req.viewport, level: req.level, minSize: req.minSize, limit: LIST_LIMIT }),
        this.api.call('map:regions', { viewport: req.viewport, minSize: req.minSize, limit: LIST_LIMIT }),
      ]);
      if (this.closed) return;
      this.current = req;
      this.cells = cells.cells;
      this.level = cells.level;
      this.truncated = cells.truncated || regions.truncated;
      this.regions = regions.regions;
      for (const r of regions.regions) this.rememberRegion(r);
      this.want(cells.cells, req.cx, req.cy);
      this.onChange();
    } catch (e) {
      this.onError(`Loading the map failed: ${(e as Error).message}`);
    } finally {
      this.listInFlight = false;
      if (this.pending) this.schedule();
    }
  }

  /** Fetches the current view again (regions changed on the map). */
  refresh(): void {
    this.pending ??= this.current;
    this.current = null;
    this.schedule();
  }

  rememberRegion(r: MapRegionInfo): void {
    if (this.regionsById.size >= MAX_REGIONS_KEPT && !this.regionsById.has(r.id)) {
      this.regionsById.delete(this.regionsById.keys().next().value as string);
    }
    this.regionsById.set(r.id, r);
  }

  /** Sets the cells whose heat should be loaded, nearest (cx, cy) first. */
  want(cells: MapCellInfo[], cx: number, cy: number): void {
    this.wanted = cells;
    this.wantedCentre = { x: cx, y: cy };
    this.pumpHeat();
  }

  /** Cells wanted and not yet in the cache. */
  missing(): number {
    let n = 0;
    for (const c of this.wanted) if (c.stats !== null && !this.cache.hasId(c.id) && !this.noHeat.has(c.id)) n++;
    return n;
  }

  private pumpHeat(): void {
    while (this.heatInFlight < HEAT_IN_FLIGHT && !this.closed) {
      // Cells never built (no stats) have no heat to fetch.
      const need = this.wanted.filter((c) => c.stats !== null && !this.cache.hasId(c.id) && !this.heatPending.has(c.id) && !this.noHeat.has(c.id));
      if (need.length === 0) return;
      const { x, y } = this.wantedCentre;
      const d = (c: MapCellInfo) => Math.hypot(c.heatRect.x + c.heatRect.width / 2 - x, c.heatRect.y + c.heatRect.height / 2 - y);
      need.sort((a, b) => d(a) - d(b));
      const room = this.cache.roomFor(64 * 64 * 4);
      const page = need.slice(0, Math.min(HEAT_PAGE, room));
      if (page.length === 0) return;
      for (const c of page) this.heatPending.add(c.id);
      this.heatInFlight++;
      this.heatRequests++;
      void this.fetchHeat(page).finally(() => {
        this.heatInFlight--;
        for (const c of page) this.heatPending.delete(c.id);
        this.pumpHeat();
      });
    }
  }

  private async fetchHeat(page: MapCellInfo[]): Promise<void> {
    try {
      const res = await this.api.call('map:heat', { ids: page.map((c) => c.id) });
      if (this.closed) return;
      const byId = new Map(page.map((c) => [c.id, c]));
      let added = 0;
      for (const h of res.cells) {
        const c = byId.get(h.id);
        if (!c) continue;
        if (h.heat === null || h.heatSize === 0) {
          this.noHeat.add(h.id);
          continue;
        }
        const data = decodeHeat(h.heat);
        const ok = this.cache.put({
          id: c.id,
          regionId: c.regionId,
          level: c.level,
          col: c.col,
          row: c.row,
          heatRect: c.heatRect,
          size: h.heatSize,
          data,
          texture: heatTexture(data, h.heatSize),
          bytes: data.byteLength,
        });
        if (ok) added++;
      }
      // Cells gone from the index (a model removed meanwhile) are dropped from what is wanted.
      for (const id of res.missing) this.noHeat.add(id);
      if (added) this.onChange();
    } catch (e) {
      this.onError(`Loading heat images failed: ${(e as Error).message}`);
      // Do not retry the same page in a loop: forget the wanted list until the next view.
      this.wanted = [];
    }
  }

  get loading(): boolean {
    return this.listInFlight || this.heatInFlight > 0 || this.pending !== null;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
  }
}
