/**
 * A navigation question asked in the Explorer (specs/explorer.md, "Questions"): the map index's
 * answer, computed from the open model's regions with the functions the training pairs are made
 * with (shared/nav/questions.ts), and the model's answer checked against it.
 *
 * Coordinates in questions and answers count from the model's top-left corner on the map, as the
 * training placements do (they start at the map's origin); the regions given here are in map
 * coordinates and the place to fly to comes back in map coordinates.
 *
 * Verdicts: `right` when the model's answer is the index's, `wrong` when it differs (whether or
 * not it names anything on the map), `unverified` when the index has no answer to check it
 * against (the question names a tensor the model does not have): the model's answer is then only
 * its claim, never shown as fact. Separately, `flyTo` is where the model's answer points when it
 * names a tensor of the open model or a point inside the model's box, else null.
 */
import { answerOf, navPrompt, regionAt, regionLeftOf, type NavKind, type NavRegion } from './questions';

/** A rectangle on the map (pixels, half-open). */
export interface NavBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The open model as questions see it: its name (as questions name it), its box and its weight regions, in map coordinates. */
export interface NavModelMap {
  readonly name: string;
  readonly box: NavBox;
  readonly regions: readonly NavRegion[];
}

export interface NavAsk {
  readonly kind: NavKind;
  /** A tensor name (where, left; matched exactly, else case-insensitively) or a point "x,y" (what). */
  readonly subject: string;
}

/** The index's side of a question. */
export interface NavIndexAnswer {
  /** The subject as the map names it (a tensor's own spelling, a point as "x,y"). */
  readonly subject: string;
  /** What the model is asked: navPrompt(model name, kind, subject). */
  readonly prompt: string;
  /** The index's answer, or null when the map cannot answer the question. */
  readonly answer: string | null;
  /** In plain words: what the answer is, or why there is none. */
  readonly note: string;
}

export type NavVerdict = 'right' | 'wrong' | 'unverified';

/** What a model's answer points at on the open model (question coordinates). */
export type NavTarget = { readonly kind: 'region'; readonly name: string } | { readonly kind: 'point'; readonly x: number; readonly y: number };

export interface NavCheck {
  readonly index: NavIndexAnswer;
  /** The index's answer (null: none, see index.note). */
  readonly indexAnswer: string | null;
  /** The model's answer: its continuation up to the line end, trimmed (at most MAX_ANSWER_CHARS). */
  readonly modelAnswer: string;
  readonly verdict: NavVerdict;
  /** What the model's answer names on the open model, or null when it names nothing there. */
  readonly target: NavTarget | null;
  /** Where to fly for the model's answer (map coordinates), or null. */
  readonly flyTo: NavBox | null;
}

/** A model's answer longer than this is cut (it is text to show, not to trust). */
export const MAX_ANSWER_CHARS = 200;

const POINT = /^[([]?\s*(-?\d{1,16})\s*(?:,\s*|\s+)(-?\d{1,16})\s*[)\]]?$/;

/** A point "x,y" (forgiving spaces and brackets) as integers, or null. */
export function parsePoint(text: string): { x: number; y: number } | null {
  const m = POINT.exec(text.trim());
  if (!m) return null;
  const x = Number(m[1]);
  const y = Number(m[2]);
  return Number.isSafeInteger(x) && Number.isSafeInteger(y) ? { x, y } : null;
}

/** The regions with coordinates from the model's top-left (as questions count them). */
function localRegions(map: NavModelMap): NavRegion[] {
  return map.regions.map((r) => ({ name: r.name, x: r.x - map.box.x, y: r.y - map.box.y, width: r.width, height: r.height }));
}

/** The region named `name`: its exact name, else the only one equal ignoring case. */
function findRegion(regions: readonly NavRegion[], name: string): NavRegion | null {
  const exact = regions.find((r) => r.name === name);
  if (exact) return exact;
  const lower = name.toLowerCase();
  const folded = regions.filter((r) => r.name.toLowerCase() === lower);
  return folded.length === 1 ? folded[0]! : null;
}

/** The index's answer to `q` about `map`, and the prompt the model is asked. */
export function navIndexAnswer(map: NavModelMap, q: NavAsk): NavIndexAnswer {
  const regions = localRegions(map);
  const at = (subject: string, answer: string | null, note: string): NavIndexAnswer => ({ subject, prompt: navPrompt(map.name, q.kind, subject), answer, note });
  if (q.kind === 'what') {
    const p = parsePoint(q.subject);
    if (!p) return at(q.subject, null, `"${q.subject}" is not a point x,y: the map cannot answer`);
    const subject = `${p.x},${p.y}`;
    const r = regionAt(regions, p.x, p.y);
    return r ? at(subject, r.name, `the tensor holding ${subject}`) : at(subject, 'nothing', `no tensor of ${map.name} is at ${subject}`);
  }
  const r = findRegion(regions, q.subject);
  if (!r) return at(q.subject, null, `${map.name} has no tensor named "${q.subject}": the map cannot answer`);
  if (q.kind === 'where') return at(r.name, `${r.x},${r.y}`, `the top-left of ${r.name}`);
  const left = regionLeftOf(regions, r);
  return at(r.name, left?.name ?? 'nothing', left ? `the nearest tensor left of ${r.name} whose rows overlap it` : `no tensor is left of ${r.name}`);
}

/** A model's answer without trailing sentence punctuation (tensor names never end in it). */
function bare(answer: string): string {
  return answer.replace(/[\s.,;:!?]+$/, '');
}

/** The same answer: equal points, or the same text (ignoring case). */
function same(a: string, b: string): boolean {
  const pa = parsePoint(a);
  const pb = parsePoint(b);
  if (pa || pb) return !!pa && !!pb && pa.x === pb.x && pa.y === pb.y;
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Checks a model's raw continuation of the question's prompt against the index: the verdict and
 * where its answer points.
 */
export function checkNavAnswer(map: NavModelMap, q: NavAsk, continuation: string): NavCheck {
  const index = navIndexAnswer(map, q);
  const modelAnswer = answerOf(String(continuation).slice(0, 64 * 1024)).slice(0, MAX_ANSWER_CHARS);
  const said = bare(modelAnswer);
  const verdict: NavVerdict = index.answer === null ? 'unverified' : said !== '' && same(said, index.answer) ? 'right' : 'wrong';

  const regions = localRegions(map);
  let target: NavTarget | null = null;
  let flyTo: NavBox | null = null;
  const named = said ? findRegion(regions, said) : null;
  const point = said ? parsePoint(said) : null;
  if (named) {
    target = { kind: 'region', name: named.name };
    flyTo = { x: named.x + map.box.x, y: named.y + map.box.y, width: named.width, height: named.height };
  } else if (point && point.x >= 0 && point.y >= 0 && point.x < map.box.width && point.y < map.box.height) {
    target = { kind: 'point', x: point.x, y: point.y };
    const r = regionAt(regions, point.x, point.y);
    if (r) flyTo = { x: r.x + map.box.x, y: r.y + map.box.y, width: r.width, height: r.height };
    else {
      // A point between tensors: a square around it, a quarter of the model's shorter side.
      const side = Math.max(1, Math.floor(Math.min(map.box.width, map.box.height) / 4));
      flyTo = { x: map.box.x + point.x - Math.floor(side / 2), y: map.box.y + point.y - Math.floor(side / 2), width: side, height: side };
    }
  }
  return { index, indexAnswer: index.answer, modelAnswer, verdict, target, flyTo };
}
