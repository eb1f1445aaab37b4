/** A byte-bounded LRU map (Map keeps insertion order: the first key is the least recent). */
export class ByteLru<K, V extends { length: number }> {
  private readonly map = new Map<K, V>();
  private bytesUsed = 0;
  hits = 0;
  misses = 0;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.bytesUsed;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.bytesUsed -= old.length;
    }
    // An entry larger than the whole cache would only evict everything and then itself.
    if (value.length > this.maxBytes) return;
    this.map.set(key, value);
    this.bytesUsed += value.length;
    for (const [k, v] of this.map) {
      if (this.bytesUsed <= this.maxBytes) break;
      this.map.delete(k);
      this.bytesUsed -= v.length;
    }
  }

  clear(): void {
    this.map.clear();
    this.bytesUsed = 0;
  }
}
