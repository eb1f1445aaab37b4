/**
 * GGUF, PNG payloads and our tiles are little-endian; typed arrays use the host's order. Bulk
 * numeric data is copied and, on a big-endian host, byte-swapped in place, which keeps every
 * bit (NaN payloads included) where a per-element DataView round trip might not.
 */

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverses each `width`-byte group of `bytes` in place (width 1, 2, 4 or 8). */
export function swapBytesInPlace(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i + width <= bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/** A fresh copy of `bytes` converted between little-endian and host order (a no-op swap on LE hosts). */
export function leCopy(bytes: Uint8Array, width: number): Uint8Array {
  // Not bytes.slice(): on a Node Buffer that is a view, and the caller's typed array would
  // then alias (and misalign against) the whole file buffer.
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  if (!LITTLE_ENDIAN_HOST) swapBytesInPlace(copy, width);
  return copy;
}
