/**
 * The Explorer's route for lit passages (specs/ui.md, "Chat with a corpus"; specs/explorer.md,
 * "Passages on the map"): `#/explorer?corpus=NAME&passages=D:S-E,D:S-E&focus=K`, each passage
 * its document index and character range [S, E), K the one to fly to (0-based). Chat's
 * "Show on the map" writes it; the Explorer reads it. Pure, so both sides and the tests agree.
 */

export interface LinkedPassage {
  document: number;
  startChar: number;
  endChar: number;
}

/** Passages one link names at most (as many as a search answers). */
export const MAX_LINKED_PASSAGES = 100;

const ITEM = /^(\d{1,9}):(\d{1,12})-(\d{1,12})$/;

/** The Explorer route lighting `passages` of `corpus`, flying to passage `focus`. */
export function passagesLink(corpus: string, passages: readonly LinkedPassage[], focus = 0): string {
  const q = new URLSearchParams({ corpus, passages: passages.map((p) => `${p.document}:${p.startChar}-${p.endChar}`).join(','), focus: String(focus) });
  return `#/explorer?${q.toString().replace(/%3A/g, ':').replace(/%2C/g, ',')}`;
}

/**
 * The passages of a `passages` parameter, or null when it is not a valid list (an item not
 * D:S-E, a range ending before it starts, more than MAX_LINKED_PASSAGES).
 */
export function parsePassagesParam(value: string): LinkedPassage[] | null {
  const items = value.split(',');
  if (value === '' || items.length > MAX_LINKED_PASSAGES) return null;
  const out: LinkedPassage[] = [];
  for (const item of items) {
    const m = ITEM.exec(item.trim());
    if (!m) return null;
    const p = { document: Number(m[1]), startChar: Number(m[2]), endChar: Number(m[3]) };
    if (p.endChar < p.startChar) return null;
    out.push(p);
  }
  return out;
}
