/**
 * A navigation question as a person types it (the Explorer's search box, specs/explorer.md,
 * "Questions"): the three kinds of shared/nav/questions.ts in their natural forms, case and
 * spacing forgiving; anything else is not a question (the box then searches tensor names).
 *
 *   where  "where is blk.3.ffn_down.weight?"   "Where's blk.3.ffn_down.weight"
 *   what   "what is at 9500, 2400"   "what's at (9500 2400)?"
 *   left   "what is left of blk.2.attn_q.weight"   "which tensor is to the left of …"
 *
 * Optionally the model is named as the training text names it: "in llama-b4, where is …?"
 * (also "Q: in llama-b4, where is …? A:", pasted from a training line) or "where is … in
 * llama-b4?". The text is hostile input: any string, any length, any characters; the parse is
 * linear (bounded text, no nested repetition) and never throws.
 */
import type { NavKind } from './questions';

/** Longer text is never a question. */
export const MAX_QUESTION_CHARS = 300;
/** Longest tensor name and model name a question may carry. */
const MAX_NAME_CHARS = 200;

export interface ParsedNavQuestion {
  readonly kind: NavKind;
  /** A tensor name as typed (where, left), or a point "x,y" in canonical form (what). */
  readonly subject: string;
  /** The model the question names ("in MODEL, …"), if it names one. */
  readonly model?: string;
}

// A tensor name: no spaces, commas or question marks. A point: two integers, comma and/or spaces
// between, optionally in parentheses or brackets.
const NAME = String.raw`([^\s,?]{1,${MAX_NAME_CHARS}})`;
const POINT = String.raw`[([]?\s?(-?\d{1,16})\s?(?:,\s?|\s)(-?\d{1,16})\s?[)\]]?`;
const IS = String.raw`(?:'s|’s|s|\sis)`;
const BODIES: readonly { kind: NavKind; re: RegExp }[] = [
  { kind: 'where', re: new RegExp(String.raw`^where${IS}\s(?:the\s(?:tensor\s)?)?${NAME}$`, 'i') },
  { kind: 'what', re: new RegExp(String.raw`^(?:what|which\s(?:tensor|layer|region))${IS}\s(?:at|on)\s(?:point\s)?${POINT}$`, 'i') },
  { kind: 'left', re: new RegExp(String.raw`^(?:what|which\s(?:tensor|layer|region|one))${IS}\s(?:(?:to|on)\sthe\s)?left\sof\s(?:the\s(?:tensor\s)?)?${NAME}$`, 'i') },
];
const PREFIX = new RegExp(String.raw`^(?:q:\s?)?in\s([^,?]{1,${MAX_NAME_CHARS}}?)\s?,\s?`, 'i');
const QPREFIX = /^q:\s?/i;
const SUFFIX = new RegExp(String.raw`\sin\s([^\s,?]{1,${MAX_NAME_CHARS}})$`, 'i');

/** The question `text` asks, or null when it is not one of the three kinds. */
export function parseNavQuestion(text: unknown): ParsedNavQuestion | null {
  if (typeof text !== 'string' || text.length > MAX_QUESTION_CHARS) return null;
  // Spacing forgiving: every run of white space (and control characters) is one space.
  let s = text.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
  // A pasted prompt ends in " A:"; the question mark (one or more) is optional.
  s = s.replace(/\s?\bA:$/, '').replace(/\s?\?+$/, '').trim();
  let model: string | undefined;
  const pre = PREFIX.exec(s);
  if (pre) {
    model = pre[1]!.trim();
    s = s.slice(pre[0].length);
  } else {
    s = s.replace(QPREFIX, '');
  }
  for (const { kind, re } of BODIES) {
    let m = re.exec(s);
    let named = model;
    if (!m && !model) {
      // "where is X in MODEL"
      const suf = SUFFIX.exec(s);
      if (suf) {
        m = re.exec(s.slice(0, suf.index));
        named = suf[1];
      }
    }
    if (!m) continue;
    let subject: string;
    if (kind === 'what') {
      const x = Number(m[1]);
      const y = Number(m[2]);
      if (!Number.isSafeInteger(x) || !Number.isSafeInteger(y)) return null;
      subject = `${x},${y}`;
    } else {
      subject = m[1]!;
    }
    return named ? { kind, subject, model: named } : { kind, subject };
  }
  return null;
}
