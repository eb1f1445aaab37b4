/**
 * Passages: the pieces of a corpus document that retrieval indexes and quotes
 * (specs/training.md, "Retrieval: passages and search"). Pure, so the CLI, the services and the
 * tests split a text identically.
 *
 * Rules:
 * - Line ends are `\n`, `\r\n` or a lone `\r`; a passage's text has them as `\n`.
 * - A Markdown ATX heading (`#` to `######` at the start of a line, at most 3 spaces before it,
 *   outside a fenced code block) ends the section before it and starts a new one. The heading
 *   path is the titles of the open headings, outermost first (a `##` under a `#`). Heading lines
 *   are not passage text; they are the passage's `heading`. Setext headings (a line of `===`
 *   under a title) are read as text.
 * - A paragraph is a run of non-blank lines; a fenced code block (``` or ~~~) is one paragraph,
 *   blank lines and `#` lines inside it included.
 * - Within a section, whole paragraphs are packed into one passage while its text stays at most
 *   MAX_PASSAGE_CHARS. A paragraph that does not fit starts the next passage; one longer than
 *   the limit (or one that would leave a passage under MIN_PASSAGE_CHARS behind) is cut, at the
 *   last line end, else sentence end, else space within the second half of the room, else
 *   exactly at the limit (never inside a surrogate pair).
 * - So every passage has 1..MAX_PASSAGE_CHARS characters, and every passage but the last of
 *   its section has at least MIN_PASSAGE_CHARS. Passages never cross a heading.
 *
 * Character offsets are UTF-16 code units into the document text as stored (what
 * `String.prototype.slice` takes); lines are 1-based and inclusive.
 */

/** Upper bound of a passage's text, in UTF-16 code units. */
export const MAX_PASSAGE_CHARS = 1200;
/** Every passage but the last of its section has at least this many code units. */
export const MIN_PASSAGE_CHARS = 200;
/** Bumped when the rules above change: an index built by another version is rebuilt. */
export const PASSAGE_SPLITTER_VERSION = 1;

export interface Passage {
  /** 0-based position in the document. */
  index: number;
  /** Titles of the enclosing Markdown headings, outermost first ([] before the first heading). */
  heading: string[];
  /** The text, line ends as `\n`, trimmed of blank space at both ends. */
  text: string;
  /** [startChar, endChar): the passage's range in the document (UTF-16 code units). */
  startChar: number;
  endChar: number;
  /** 1-based first and last line of the range. */
  startLine: number;
  endLine: number;
}

export interface SplitOptions {
  maxChars?: number;
  minChars?: number;
}

interface Line {
  start: number; // offset of the first character
  end: number; // offset after the last character (before the line end)
}

interface Block {
  start: number;
  end: number;
}

const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

function linesOf(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      out.push({ start, end: i });
      if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
  }
  if (start < text.length) out.push({ start, end: text.length });
  return out;
}

/** A heading's title: the text after the `#`s, a closing run of `#`s dropped. */
function headingTitle(raw: string | undefined): string {
  return (raw ?? '').replace(/(^|[ \t])#+[ \t]*$/, '').trim();
}

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 0x0c || c === 0x0b || c === 0xa0 || c === 0x3000;

/**
 * Where to cut `text` in [from, to) so that the first part ends at or before `from + room`:
 * the last line end, else sentence end, else space in the second half of the room; else
 * exactly at the room (moved back one if that splits a surrogate pair).
 */
function cutPoint(text: string, from: number, to: number, room: number): number {
  const limit = Math.min(to, from + room);
  const floor = from + Math.ceil(room / 2);
  let space = -1;
  let sentence = -1;
  for (let i = limit; i > floor; i--) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
    if (isSpace(c)) {
      if (space < 0) space = i;
      const p = text.charCodeAt(i - 1);
      if (sentence < 0 && (p === 46 || p === 33 || p === 63 || p === 0x3002)) sentence = i; // . ! ? 。
    } else if (sentence < 0 && (c === 0x3002 || c === 0xff01 || c === 0xff1f) && i + 1 <= limit) sentence = i + 1; // CJK full stops need no space
  }
  if (sentence > 0) return sentence;
  if (space > 0) return space;
  let at = limit;
  const hi = text.charCodeAt(at - 1);
  if (hi >= 0xd800 && hi <= 0xdbff && at - 1 > from) at--;
  return at;
}

/** Skips blank characters forward from `i` (not past `end`). */
function skipSpace(text: string, i: number, end: number): number {
  while (i < end && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Splits a document into passages (see the rules above). An empty or blank text has none. */
export function splitPassages(text: string, opts: SplitOptions = {}): Passage[] {
  const max = opts.maxChars ?? MAX_PASSAGE_CHARS;
  const min = opts.minChars ?? MIN_PASSAGE_CHARS;
  if (!(min >= 1) || !(max >= 4 * min + 2)) throw new RangeError(`splitPassages: minChars ${min} must be ≥ 1 and maxChars ${max} ≥ 4 × minChars + 2`);
  const lines = linesOf(text);
  // Line starts, for offset → line number.
  const lineStarts = lines.map((l) => l.start);
  const lineAt = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const out: Passage[] = [];
  const stack: { level: number; title: string }[] = [];
  let heading: string[] = [];

  // Length of [s, e) as passage text: a `\r\n` is one character.
  const lengthOf = (s: number, e: number): number => {
    let n = e - s;
    for (let i = s; i < e - 1; i++) if (text.charCodeAt(i) === 13 && text.charCodeAt(i + 1) === 10) n--;
    return n;
  };

  /** One passage from pieces of the document: each trimmed, joined by one blank line. */
  const emit = (pieces: Block[]): void => {
    const parts: string[] = [];
    let first = -1;
    let last = -1;
    for (const p of pieces) {
      const s = skipSpace(text, p.start, p.end);
      let e = p.end;
      while (e > s && isSpace(text.charCodeAt(e - 1))) e--;
      if (e <= s) continue;
      if (first < 0) first = s;
      last = e;
      parts.push(text.slice(s, e).replace(/\r\n?/g, '\n'));
    }
    if (first < 0) return;
    out.push({ index: out.length, heading, text: parts.join('\n\n'), startChar: first, endChar: last, startLine: lineAt(first), endLine: lineAt(last - 1) });
  };

  /** Packs one section's paragraphs into passages. */
  const section = (blocks: Block[]): void => {
    // The passage being filled: its pieces and its text length (pieces joined by a blank line).
    let pieces: Block[] = [];
    let len = 0;
    const put = (piece: Block, n: number): void => {
      len = pieces.length ? len + 2 + n : n;
      pieces.push(piece);
    };
    const flush = (): void => {
      if (pieces.length) emit(pieces);
      pieces = [];
      len = 0;
    };
    for (const b of blocks) {
      let start = b.start;
      const end = b.end;
      let rest = lengthOf(start, end);
      if (pieces.length && len >= min && len + 2 + rest > max) flush();
      // What is open (if anything) is short or has room: it takes this paragraph, cut where needed.
      for (;;) {
        const used = pieces.length ? len + 2 : 0;
        if (used + rest <= max) {
          put({ start, end }, rest);
          break;
        }
        const cut = cutPoint(text, start, end, max - used);
        put({ start, end: cut }, lengthOf(start, cut));
        flush();
        const next = skipSpace(text, cut, end);
        rest -= lengthOf(start, next);
        start = next;
        if (start >= end) break;
      }
    }
    flush();
  };

  let blocks: Block[] = [];
  let para: Block | null = null;
  let fence: string | null = null;
  const closePara = (): void => {
    if (para) blocks.push(para);
    para = null;
  };
  for (const l of lines) {
    const raw = text.slice(l.start, l.end);
    if (fence !== null) {
      para!.end = l.end;
      const m = FENCE.exec(raw);
      if (m && m[1]![0] === fence[0] && m[1]!.length >= fence.length && raw.trim() === m[1]) {
        fence = null;
        closePara();
      }
      continue;
    }
    const f = FENCE.exec(raw);
    if (f) {
      closePara();
      para = { start: l.start, end: l.end };
      fence = f[1]!;
      continue;
    }
    const h = HEADING.exec(raw);
    if (h) {
      closePara();
      section(blocks);
      blocks = [];
      const level = h[1]!.length;
      while (stack.length && stack[stack.length - 1]!.level >= level) stack.pop();
      stack.push({ level, title: headingTitle(h[2]) });
      heading = stack.map((x) => x.title).filter((t) => t !== '');
      continue;
    }
    if (raw.trim() === '') {
      closePara();
      continue;
    }
    if (para) para.end = l.end;
    else para = { start: l.start, end: l.end };
  }
  closePara();
  section(blocks);
  return out;
}
