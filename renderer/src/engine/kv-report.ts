/**
 * Keeps the map's kv-cache region as large as the renderer engine's KV cache in use
 * (`map:kv-cache`, specs/explorer.md "Live engine"): at most one write per KV_REPORT_MS while
 * it grows, the exact size at once when asked (a model loaded, a reply ended). A model that is
 * not on the map, or a busy map, only loses the picture, never the reply.
 */
import type { PxiApi } from '../../../shared/ipc/client';
import type { MapRegionInfo } from '../../../shared/ipc/channels/map';

const KV_REPORT_MS = 500;

export class KvReporter {
  private reported: { modelId: string; bytes: number } | null = null;
  private pending: { modelId: string; bytes: number } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** The region as the last answer left it. */
  region: MapRegionInfo | null = null;

  constructor(
    private readonly api: PxiApi,
    /** Called when an answer arrives with the region. */
    private readonly onRegion: (r: MapRegionInfo) => void,
  ) {}

  report(modelId: string, bytes: number, now: boolean): void {
    const last = this.reported;
    this.pending = { modelId, bytes };
    if (last && last.modelId === modelId && last.bytes === bytes) return;
    if (now) {
      if (this.timer !== null) clearTimeout(this.timer);
      this.send();
    } else if (this.timer === null) {
      this.timer = setTimeout(() => this.send(), KV_REPORT_MS);
    }
  }

  private send(): void {
    this.timer = null;
    const want = this.pending;
    if (!want) return;
    this.reported = want;
    this.api.call('map:kv-cache', want).then(
      (r) => {
        this.region = r.region;
        this.onRegion(r.region);
      },
      () => undefined,
    );
  }
}
