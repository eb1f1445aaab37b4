import { Heap } from './heap';

/**
 * The merge loop both BPE flavours share (SentencePiece by score, byte-level BPE by merge
 * rank). Symbols are ranges of `text`, one starting at each of `starts`; a symbol only ever
 * grows by absorbing its right neighbour, so its start never moves. Every adjacent pair that
 * `priority` accepts is queued (lower merges first, ties leftmost); the best pair merges, the
 * pairs with its new neighbours are queued, and a queued pair whose sides changed since is
 * skipped as stale. Returns the final symbols, in order.
 */
export function mergeSymbols(text: string, starts: readonly number[], priority: (left: string, right: string) => number | undefined): string[] {
  const count = starts.length;
  if (count === 0) return [];
  const len = new Int32Array(count);
  const prev = new Int32Array(count);
  const next = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    len[i] = (i + 1 < count ? starts[i + 1]! : text.length) - starts[i]!;
    prev[i] = i - 1;
    next[i] = i + 1 < count ? i + 1 : -1;
  }

  interface Pair {
    left: number;
    right: number;
    priority: number;
    /** Length of the merged symbol when queued: a different sum later means the pair is stale. */
    size: number;
  }
  const queue = new Heap<Pair>((a, b) => a.priority < b.priority || (a.priority === b.priority && a.left < b.left));
  const piece = (i: number) => text.substr(starts[i]!, len[i]!);
  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const p = priority(piece(left), piece(right));
    if (p !== undefined) queue.push({ left, right, priority: p, size: len[left]! + len[right]! });
  };
  for (let i = 1; i < count; i++) tryAdd(i - 1, i);

  for (let pair = queue.pop(); pair !== undefined; pair = queue.pop()) {
    const { left, right } = pair;
    if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== pair.size) continue;
    len[left] = len[left]! + len[right]!;
    len[right] = 0;
    next[left] = next[right]!;
    if (next[right]! >= 0) prev[next[right]!] = left;
    tryAdd(prev[left]!, left);
    tryAdd(left, next[left]!);
  }

  const out: string[] = [];
  for (let i = 0; i !== -1; i = next[i]!) out.push(piece(i));
  return out;
}
