/**
 * Map-navigation questions (issue 10, "map-navigation training"): question/answer pairs made
 * from a model's placement on the Infinite Map, with the map index as ground truth, as text a
 * language model is fine-tuned on and then asked. Three kinds:
 *
 *   where  "Q: in llama-b4, where is blk.3.ffn_down.weight? A: 9344,2304"
 *          the region's top-left map pixel
 *   what   "Q: in llama-b4, what is at 9500,2400? A: blk.3.ffn_down.weight"
 *          the weight region holding a point
 *   left   "Q: in llama-b4, what is left of blk.3.ffn_down.weight? A: blk.2.ffn_down.weight"
 *          the nearest weight region to the left whose rows overlap it, or "nothing"
 *
 * The model is named in each question (its maps differ); placements start at the map's origin.
 * One line per pair; the answer is everything after "A: " up to the end of the line, compared
 * exactly. Deterministic for a seed.
 */
import { Xoshiro128 } from '../model-gen/prng';

export const NAV_KINDS = ['where', 'what', 'left'] as const;
export type NavKind = (typeof NAV_KINDS)[number];

/** A weight region of a model's placement (map pixels, half-open). */
export interface NavRegion {
  readonly name: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface NavQuestion {
  readonly kind: NavKind;
  /** The prompt up to and including "A:" (the model continues after it). */
  readonly prompt: string;
  /** The index's answer (no leading space). */
  readonly answer: string;
}

/** The question line's text before the answer: what a model is prompted with. */
export function navPrompt(model: string, kind: NavKind, subject: string): string {
  switch (kind) {
    case 'where':
      return `Q: in ${model}, where is ${subject}? A:`;
    case 'what':
      return `Q: in ${model}, what is at ${subject}? A:`;
    case 'left':
      return `Q: in ${model}, what is left of ${subject}? A:`;
  }
}

/** The whole training line of a pair. */
export function navLine(q: NavQuestion): string {
  return `${q.prompt} ${q.answer}\n`;
}

/** The region holding map pixel (x, y), or null. */
export function regionAt(regions: readonly NavRegion[], x: number, y: number): NavRegion | null {
  return regions.find((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height) ?? null;
}

/** The nearest region left of `r` whose rows overlap it (the largest right edge ≤ r.x), or null. */
export function regionLeftOf(regions: readonly NavRegion[], r: NavRegion): NavRegion | null {
  let best: NavRegion | null = null;
  for (const o of regions) {
    if (o === r || o.x + o.width > r.x) continue;
    if (o.y >= r.y + r.height || r.y >= o.y + o.height) continue;
    if (!best || o.x + o.width > best.x + best.width || (o.x + o.width === best.x + best.width && o.y < best.y)) best = o;
  }
  return best;
}

/**
 * Every `where` and `left` question of a placement, and `whatPerRegion` `what` questions per
 * region (points drawn inside it with the seed's stream).
 */
export function navQuestions(model: string, regions: readonly NavRegion[], seed: number, whatPerRegion = 1): NavQuestion[] {
  const rng = new Xoshiro128(seed >>> 0);
  const out: NavQuestion[] = [];
  for (const r of regions) {
    out.push({ kind: 'where', prompt: navPrompt(model, 'where', r.name), answer: `${r.x},${r.y}` });
    out.push({ kind: 'left', prompt: navPrompt(model, 'left', r.name), answer: regionLeftOf(regions, r)?.name ?? 'nothing' });
    for (let i = 0; i < whatPerRegion; i++) {
      const x = r.x + rng.nextInt(0, r.width - 1);
      const y = r.y + rng.nextInt(0, r.height - 1);
      out.push({ kind: 'what', prompt: navPrompt(model, 'what', `${x},${y}`), answer: regionAt(regions, x, y)!.name });
    }
  }
  return out;
}

/** The answer in a model's continuation of a prompt: up to the first line end, trimmed. */
export function answerOf(continuation: string): string {
  const end = continuation.indexOf('\n');
  return (end < 0 ? continuation : continuation.slice(0, end)).trim();
}

/** Exact-match accuracy per kind (and overall) of answers against the index's. */
export function navAccuracy(results: readonly { kind: NavKind; answer: string; got: string }[]): Record<NavKind | 'all', { right: number; total: number }> {
  const acc = Object.fromEntries([...NAV_KINDS, 'all'].map((k) => [k, { right: 0, total: 0 }])) as Record<NavKind | 'all', { right: number; total: number }>;
  for (const r of results) {
    const ok = r.got === r.answer ? 1 : 0;
    acc[r.kind].right += ok;
    acc[r.kind].total += 1;
    acc.all.right += ok;
    acc.all.total += 1;
  }
  return acc;
}
