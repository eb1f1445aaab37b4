import type * as THREE from 'three';
import type { Rect } from '../../../shared/map/geometry';

/** Where a pyramid cell sits: its region and its (level, col, row). */
export interface CellKey {
  regionId: string;
  level: number;
  col: number;
  row: number;
}

export function cellKey(k: CellKey): string {
  return `${k.regionId}|${k.level}|${k.col}|${k.row}`;
}

export interface CachedCell extends CellKey {
  key: string;
  id: number;
  /** The square its heat image covers. */
  heatRect: Rect;
  size: number;
  data: Float32Array<ArrayBuffer>;
  texture: THREE.DataTexture;
  bytes: number;
  lastUsed: number;
}

export interface CacheStats {
  textures: number;
  bytes: number;
  budgetBytes: number;
  uploads: number;
  evictions: number;
}

/**
 * Heat textures on the GPU, bounded in bytes, least recently used first out. Entries used by
 * the frame being drawn (touched with the current generation) are never evicted, so a view
 * that needs more than the budget keeps what it shows and just stops adding.
 */
export class TextureCache {
  private readonly entries = new Map<string, CachedCell>();
  private readonly byId = new Map<number, string>();
  private bytes = 0;
  private uploads = 0;
  private evictions = 0;
  generation = 0;

  constructor(readonly budgetBytes: number) {}

  get(key: string): CachedCell | undefined {
    return this.entries.get(key);
  }

  hasId(id: number): boolean {
    return this.byId.has(id);
  }

  getById(id: number): CachedCell | undefined {
    const k = this.byId.get(id);
    return k === undefined ? undefined : this.entries.get(k);
  }

  /** Marks an entry as used now (and in use by the current generation). */
  touch(e: CachedCell): void {
    e.lastUsed = this.generation;
  }

  /** Adds an entry; returns false (and disposes it) when the budget is full of entries in use. */
  put(e: Omit<CachedCell, 'key' | 'lastUsed'>): boolean {
    const key = cellKey(e);
    const old = this.entries.get(key);
    if (old) this.remove(old);
    if (!this.makeRoom(e.bytes)) {
      e.texture.dispose();
      return false;
    }
    const entry: CachedCell = { ...e, key, lastUsed: this.generation };
    this.entries.set(key, entry);
    this.byId.set(e.id, key);
    this.bytes += e.bytes;
    this.uploads++;
    return true;
  }

  private makeRoom(bytes: number): boolean {
    if (this.bytes + bytes <= this.budgetBytes) return true;
    // Oldest first: Map order is insertion order, so scan for the least recently used.
    const victims = [...this.entries.values()].filter((e) => e.lastUsed < this.generation).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const v of victims) {
      this.remove(v);
      this.evictions++;
      if (this.bytes + bytes <= this.budgetBytes) return true;
    }
    return this.bytes + bytes <= this.budgetBytes;
  }

  private remove(e: CachedCell): void {
    e.texture.dispose();
    this.entries.delete(e.key);
    this.byId.delete(e.id);
    this.bytes -= e.bytes;
  }

  /** Room for n more entries of `bytes` each without evicting anything in use. */
  roomFor(bytes: number): number {
    let free = this.budgetBytes - this.bytes;
    for (const e of this.entries.values()) if (e.lastUsed < this.generation) free += e.bytes;
    return Math.max(0, Math.floor(free / bytes));
  }

  stats(): CacheStats {
    return { textures: this.entries.size, bytes: this.bytes, budgetBytes: this.budgetBytes, uploads: this.uploads, evictions: this.evictions };
  }

  dispose(): void {
    for (const e of this.entries.values()) e.texture.dispose();
    this.entries.clear();
    this.byId.clear();
    this.bytes = 0;
  }
}
