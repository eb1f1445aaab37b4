/**
 * A small Markdown reader for model replies: text in, a tree of blocks and inlines out, never
 * HTML. The Chat view builds DOM nodes from the tree (renderer/src/components/markdown.ts), so
 * whatever a model or a person writes, tags included, is shown as text.
 *
 * What it reads (a CommonMark subset, the parts replies use):
 * - blocks: paragraphs (a single newline is a line break), ATX headings (`#` … `######`),
 *   fenced code (``` or ~~~, with a language; an unclosed fence runs to the end, as a reply
 *   still streaming has it), bullet and ordered lists nested by indentation, block quotes,
 *   thematic breaks (`---`);
 * - inlines: `code` spans, *emphasis* and **strong** (`*` anywhere, `_` not inside words),
 *   [links](url), ![images](url) and <https://autolinks> (kept as text and URL, never
 *   followed or loaded), backslash escapes.
 * Everything else (HTML, tables, setext headings, indented code) stays text.
 *
 * Hostile input is expected: time is linear in the text (no backtracking regular expressions
 * over a line, bracket and fence scans bounded), and nesting (quotes, lists) stops at
 * MAX_DEPTH, below which lines are read as paragraphs.
 */

export type Inline =
  | { type: 'text'; text: string }
  | { type: 'code'; text: string }
  | { type: 'em'; children: Inline[] }
  | { type: 'strong'; children: Inline[] }
  | { type: 'link'; children: Inline[]; url: string; image: boolean }
  | { type: 'break' };

export type Block =
  | { type: 'paragraph'; children: Inline[] }
  | { type: 'heading'; level: number; children: Inline[] }
  | { type: 'code'; lang: string; text: string; closed: boolean }
  | { type: 'list'; ordered: boolean; start: number; items: Block[][] }
  | { type: 'quote'; children: Block[] }
  | { type: 'rule' };

/** Block nesting (quotes, lists) deeper than this is read as plain paragraphs. */
export const MAX_DEPTH = 16;
/** A link's text and URL are looked for this far ahead of the `[`, no further. */
const MAX_LINK_SCAN = 2000;

// ---------------------------------------------------------------------------------------------
// Lines

/** Leading spaces with tabs counted to the next multiple of 4. */
function indentOf(line: string): { width: number; chars: number } {
  let width = 0;
  let i = 0;
  for (; i < line.length; i++) {
    const c = line[i];
    if (c === ' ') width++;
    else if (c === '\t') width += 4 - (width % 4);
    else break;
  }
  return { width, chars: i };
}

/** `line` without its first `n` columns of indentation (tabs expanded where they are cut). */
function dedent(line: string, n: number): string {
  let width = 0;
  let i = 0;
  while (i < line.length && width < n) {
    const c = line[i];
    if (c === ' ') width++;
    else if (c === '\t') {
      const next = width + 4 - (width % 4);
      if (next > n) return ' '.repeat(next - n) + line.slice(i + 1);
      width = next;
    } else break;
    i++;
  }
  return line.slice(i);
}

const isBlank = (line: string) => line.trim() === '';

interface Fence {
  char: '`' | '~';
  length: number;
  indent: number;
  lang: string;
}

function fenceOpen(line: string): Fence | null {
  const ind = indentOf(line);
  if (ind.width > 3) return null;
  const c = line[ind.chars];
  if (c !== '`' && c !== '~') return null;
  let n = 0;
  while (line[ind.chars + n] === c) n++;
  if (n < 3) return null;
  const info = line.slice(ind.chars + n).trim();
  if (c === '`' && info.includes('`')) return null;
  return { char: c, length: n, indent: ind.width, lang: info.split(/\s/)[0] ?? '' };
}

function fenceCloses(line: string, f: Fence): boolean {
  const ind = indentOf(line);
  if (ind.width > 3) return false;
  let n = 0;
  while (line[ind.chars + n] === f.char) n++;
  return n >= f.length && line.slice(ind.chars + n).trim() === '';
}

function heading(line: string): { level: number; text: string } | null {
  const ind = indentOf(line);
  if (ind.width > 3) return null;
  let level = 0;
  while (line[ind.chars + level] === '#') level++;
  if (level < 1 || level > 6) return null;
  const rest = line.slice(ind.chars + level);
  if (rest !== '' && rest[0] !== ' ' && rest[0] !== '\t') return null;
  let text = rest.trim();
  // A closing run of #s goes when a space comes before it (or it is all there is).
  let end = text.length;
  while (end > 0 && text[end - 1] === '#') end--;
  if (end === 0) text = '';
  else if (end < text.length && (text[end - 1] === ' ' || text[end - 1] === '\t')) text = text.slice(0, end).trim();
  return { level, text };
}

function isRule(line: string): boolean {
  const ind = indentOf(line);
  if (ind.width > 3) return false;
  const c = line[ind.chars];
  if (c !== '-' && c !== '*' && c !== '_') return false;
  let n = 0;
  for (let i = ind.chars; i < line.length; i++) {
    const x = line[i];
    if (x === c) n++;
    else if (x !== ' ' && x !== '\t') return false;
  }
  return n >= 3;
}

interface ListMarker {
  ordered: boolean;
  /** The bullet character, or `.`/`)` after an ordered item's number. */
  delimiter: string;
  start: number;
  /** Columns before the item's content (marker indent + marker + spaces). */
  contentIndent: number;
  /** The first line's content. */
  content: string;
}

function listMarker(line: string): ListMarker | null {
  const ind = indentOf(line);
  if (ind.width > 3) return null;
  let i = ind.chars;
  let ordered = false;
  let start = 1;
  let delimiter: string;
  const c = line[i];
  if (c === '-' || c === '+' || c === '*') {
    delimiter = c;
    i++;
  } else {
    let digits = 0;
    while (digits < 10 && line[i + digits] !== undefined && line[i + digits]! >= '0' && line[i + digits]! <= '9') digits++;
    if (digits === 0 || digits > 9) return null;
    const d = line[i + digits];
    if (d !== '.' && d !== ')') return null;
    ordered = true;
    start = Number(line.slice(i, i + digits));
    delimiter = d;
    i += digits + 1;
  }
  const markerWidth = ind.width + (i - ind.chars);
  const rest = line.slice(i);
  if (rest === '' || isBlank(rest)) return { ordered, delimiter, start, contentIndent: markerWidth + 1, content: '' };
  if (rest[0] !== ' ' && rest[0] !== '\t') return null;
  const after = indentOf(rest);
  // Five or more spaces after the marker: the content starts one column after it.
  const spaces = after.width >= 5 ? 1 : after.width;
  return { ordered, delimiter, start, contentIndent: markerWidth + spaces, content: dedent(rest, spaces) };
}

/** Whether `line` starts a block that ends a paragraph (a list only when it could not be text). */
function interruptsParagraph(line: string, depth: number): boolean {
  if (fenceOpen(line) || heading(line) || isRule(line)) return true;
  if (depth >= MAX_DEPTH) return false;
  if (/^ {0,3}>/.test(line)) return true;
  const m = listMarker(line);
  return m !== null && m.content !== '' && (!m.ordered || m.start === 1);
}

// ---------------------------------------------------------------------------------------------
// Blocks

function parseBlocks(lines: string[], depth: number): Block[] {
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (isBlank(line)) {
      i++;
      continue;
    }
    const fence = fenceOpen(line);
    if (fence) {
      const body: string[] = [];
      let j = i + 1;
      let closed = false;
      for (; j < lines.length; j++) {
        if (fenceCloses(lines[j]!, fence)) {
          closed = true;
          break;
        }
        body.push(dedent(lines[j]!, fence.indent));
      }
      blocks.push({ type: 'code', lang: fence.lang, text: body.join('\n'), closed });
      i = closed ? j + 1 : j;
      continue;
    }
    const h = heading(line);
    if (h) {
      blocks.push({ type: 'heading', level: h.level, children: parseInlines(h.text) });
      i++;
      continue;
    }
    if (isRule(line)) {
      blocks.push({ type: 'rule' });
      i++;
      continue;
    }
    if (depth < MAX_DEPTH && /^ {0,3}>/.test(line)) {
      const inner: string[] = [];
      let j = i;
      // Quoted lines, and lazy lines that continue a quoted paragraph.
      while (j < lines.length && !isBlank(lines[j]!)) {
        const l = lines[j]!;
        const q = /^ {0,3}> ?/.exec(l);
        if (q) inner.push(l.slice(q[0].length));
        else if (j > i && !interruptsParagraph(l, depth)) inner.push(l);
        else break;
        j++;
      }
      blocks.push({ type: 'quote', children: parseBlocks(inner, depth + 1) });
      i = j;
      continue;
    }
    const marker = depth < MAX_DEPTH ? listMarker(line) : null;
    if (marker) {
      i = parseList(lines, i, marker, depth, blocks);
      continue;
    }
    // A paragraph: lines up to a blank one or one that starts another block.
    const para: string[] = [line.trim()];
    let j = i + 1;
    while (j < lines.length && !isBlank(lines[j]!) && !interruptsParagraph(lines[j]!, depth)) para.push(lines[j++]!.trim());
    blocks.push({ type: 'paragraph', children: parseInlines(para.join('\n')) });
    i = j;
  }
  return blocks;
}

/** Reads one list starting at line `first`; pushes it and returns the line after it. */
function parseList(lines: string[], first: number, marker: ListMarker, depth: number, out: Block[]): number {
  const items: Block[][] = [];
  let i = first;
  let m: ListMarker | null = marker;
  while (m && i < lines.length) {
    const body: string[] = [m.content];
    let j = i + 1;
    let lazyOk = m.content !== '';
    while (j < lines.length) {
      const l = lines[j]!;
      if (isBlank(l)) {
        // A blank line stays in the item when an indented line follows.
        let k = j + 1;
        while (k < lines.length && isBlank(lines[k]!)) k++;
        if (k < lines.length && indentOf(lines[k]!).width >= m.contentIndent) {
          for (; j < k; j++) body.push('');
          lazyOk = false;
          continue;
        }
        break;
      }
      if (indentOf(l).width >= m.contentIndent) {
        body.push(dedent(l, m.contentIndent));
        lazyOk = true;
        j++;
        continue;
      }
      // A less indented line: the next item, another block, or more of a paragraph.
      if (listMarker(l) || interruptsParagraph(l, depth)) break;
      if (!lazyOk) break;
      body.push(l.trim());
      j++;
    }
    items.push(parseBlocks(body, depth + 1));
    i = j;
    while (i < lines.length && isBlank(lines[i]!)) i++;
    const next: ListMarker | null = i < lines.length ? listMarker(lines[i]!) : null;
    if (!next || next.ordered !== marker.ordered || next.delimiter !== marker.delimiter) {
      // Whatever follows is not this list's: give back the blank lines skipped.
      if (i > j) i = j;
      m = null;
    } else m = next;
  }
  out.push({ type: 'list', ordered: marker.ordered, start: marker.start, items });
  return i;
}

// ---------------------------------------------------------------------------------------------
// Inlines

const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
const isSpace = (c: string | undefined) => c === undefined || /\s/.test(c);
const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c);

/** A run of `*` or `_` that may open or close emphasis, while it is being matched. */
interface Delimiter {
  char: '*' | '_';
  /** Characters not yet used by a match. */
  left: number;
  canOpen: boolean;
  canClose: boolean;
  /** As an opener: the kinds it opens, innermost first. As a closer: the kinds it closes, innermost first. */
  opens: ('em' | 'strong')[];
  closes: ('em' | 'strong')[];
  /** Its index among the tokens. */
  at: number;
}

type Token = { kind: 'inline'; node: Inline } | { kind: 'delim'; d: Delimiter };

/** The next backtick run of exactly `n` at or after `from`, using the runs found up front. */
class BacktickRuns {
  private readonly byLength = new Map<number, number[]>();
  private readonly cursor = new Map<number, number>();

  constructor(text: string) {
    for (let i = 0; i < text.length; ) {
      if (text[i] !== '`') {
        i++;
        continue;
      }
      let n = 0;
      while (text[i + n] === '`') n++;
      const list = this.byLength.get(n) ?? [];
      list.push(i);
      this.byLength.set(n, list);
      i += n;
    }
  }

  next(n: number, from: number): number {
    const list = this.byLength.get(n);
    if (!list) return -1;
    let c = this.cursor.get(n) ?? 0;
    while (c < list.length && list[c]! < from) c++;
    this.cursor.set(n, c);
    return c < list.length ? list[c]! : -1;
  }
}

/**
 * The first of `ends` at or after `from`, before `limit` and before any of `stops`; -1 when a
 * stop, the limit or the end comes first. Link scans stop at brackets, so scans from different
 * `[` never cover the same text (linear in the text, whatever it holds).
 */
function scanFor(text: string, from: number, limit: number, ends: string, stops: string): number {
  for (let i = from; i < limit; i++) {
    const c = text[i]!;
    if (ends.includes(c)) return i;
    if (stops.includes(c) || c === '\n') return -1;
  }
  return -1;
}

/** `[text](url)` or `![text](url)` at `start` (the `[`): its text, URL and end, or null. */
function linkAt(text: string, start: number): { label: string; url: string; end: number } | null {
  const limit = Math.min(text.length, start + MAX_LINK_SCAN);
  let i = start + 1;
  for (; i < limit; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '[' || c === '\n') return null;
    else if (c === ']') break;
  }
  if (i >= limit || text[i + 1] !== '(') return null;
  const label = text.slice(start + 1, i);
  let j = i + 2;
  while (text[j] === ' ') j++;
  let url: string;
  if (text[j] === '<') {
    const close = scanFor(text, j + 1, limit, '>', '<[]');
    if (close < 0) return null;
    url = text.slice(j + 1, close);
    j = close + 1;
  } else {
    const u0 = j;
    let parens = 0;
    for (; j < limit; j++) {
      const c = text[j]!;
      if (c === '\\') j++;
      else if (c === '(') parens++;
      else if (c === ')') {
        if (parens === 0) break;
        parens--;
      } else if (c === '[' || c === ']' || /\s/.test(c)) break;
    }
    url = text.slice(u0, j);
  }
  while (text[j] === ' ') j++;
  // An optional title ("…", '…' or (…)) is read and dropped.
  const q = text[j];
  if (q === '"' || q === "'" || q === '(') {
    const close = scanFor(text, j + 1, limit, q === '(' ? ')' : q, '[])');
    if (close < 0) return null;
    j = close + 1;
    while (text[j] === ' ') j++;
  }
  if (text[j] !== ')') return null;
  return { label, url: unescape(url), end: j + 1 };
}

/** Backslash escapes of punctuation removed. */
function unescape(s: string): string {
  return s.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

const AUTOLINK = /<([a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>]{1,2000})>/y;

/** Inline Markdown of one block's text (newlines are line breaks). */
export function parseInlines(text: string): Inline[] {
  const tokens: Token[] = [];
  const runs = new BacktickRuns(text);
  let buf = '';
  const flush = () => {
    if (buf) tokens.push({ kind: 'inline', node: { type: 'text', text: buf } });
    buf = '';
  };
  const push = (node: Inline) => {
    flush();
    tokens.push({ kind: 'inline', node });
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      const next = text[i + 1]!;
      if (PUNCTUATION.has(next)) {
        buf += next;
        i += 2;
        continue;
      }
      if (next === '\n') {
        push({ type: 'break' });
        i += 2;
        continue;
      }
    }
    if (c === '\n') {
      buf = buf.replace(/ +$/, '');
      push({ type: 'break' });
      i++;
      while (text[i] === ' ') i++;
      continue;
    }
    if (c === '`') {
      let n = 0;
      while (text[i + n] === '`') n++;
      const close = runs.next(n, i + n);
      if (close < 0) {
        buf += '`'.repeat(n);
        i += n;
        continue;
      }
      let code = text.slice(i + n, close).replace(/\n/g, ' ');
      if (code.length >= 2 && code[0] === ' ' && code[code.length - 1] === ' ' && code.trim() !== '') code = code.slice(1, -1);
      push({ type: 'code', text: code });
      i = close + n;
      continue;
    }
    if (c === '[' || (c === '!' && text[i + 1] === '[')) {
      const image = c === '!';
      const link = linkAt(text, image ? i + 1 : i);
      if (link) {
        push({ type: 'link', children: parseInlines(link.label), url: link.url, image });
        i = link.end;
        continue;
      }
      buf += c;
      i++;
      continue;
    }
    if (c === '<') {
      AUTOLINK.lastIndex = i;
      const m = AUTOLINK.exec(text);
      if (m) {
        push({ type: 'link', children: [{ type: 'text', text: m[1]! }], url: m[1]!, image: false });
        i += m[0].length;
        continue;
      }
    }
    if (c === '*' || c === '_') {
      let n = 0;
      while (text[i + n] === c) n++;
      const before = i > 0 ? text[i - 1] : undefined;
      const after = text[i + n];
      const leftFlanking = !isSpace(after);
      const rightFlanking = !isSpace(before);
      const canOpen = c === '*' ? leftFlanking : leftFlanking && !isWordChar(before);
      const canClose = c === '*' ? rightFlanking : rightFlanking && !isWordChar(after);
      if (canOpen || canClose) {
        flush();
        tokens.push({ kind: 'delim', d: { char: c, left: n, canOpen, canClose, opens: [], closes: [], at: tokens.length } });
      } else buf += c.repeat(n);
      i += n;
      continue;
    }
    buf += c;
    i++;
  }
  flush();
  matchEmphasis(tokens);
  return buildTree(tokens);
}

/**
 * Pairs emphasis delimiters: a closer takes the nearest opener of its character (one stack per
 * character), strong when both have two left, else em. Openers of the other character inside
 * a matched pair can no longer close outside it, so they are dropped. Linear in the tokens.
 */
function matchEmphasis(tokens: Token[]): void {
  const stacks: Record<'*' | '_', Delimiter[]> = { '*': [], _: [] };
  for (const t of tokens) {
    if (t.kind !== 'delim') continue;
    const d = t.d;
    const own = stacks[d.char];
    const other = stacks[d.char === '*' ? '_' : '*'];
    if (d.canClose) {
      while (d.left > 0 && own.length > 0) {
        const o = own[own.length - 1]!;
        const kind = o.left >= 2 && d.left >= 2 ? 'strong' : 'em';
        const used = kind === 'strong' ? 2 : 1;
        o.left -= used;
        d.left -= used;
        o.opens.push(kind);
        d.closes.push(kind);
        while (other.length > 0 && other[other.length - 1]!.at > o.at) other.pop();
        if (o.left === 0) own.pop();
      }
    }
    if (d.left > 0 && d.canOpen) own.push(d);
  }
}

/** The token list as a tree: each delimiter's matches open and close nodes, its unused characters stay text. */
function buildTree(tokens: Token[]): Inline[] {
  const root: Inline[] = [];
  const stack: { kind: 'em' | 'strong'; children: Inline[] }[] = [];
  const current = () => (stack.length ? stack[stack.length - 1]!.children : root);
  const addText = (s: string) => {
    const list = current();
    const last = list[list.length - 1];
    if (last?.type === 'text') last.text += s;
    else list.push({ type: 'text', text: s });
  };
  for (const t of tokens) {
    if (t.kind === 'inline') {
      if (t.node.type === 'text') addText(t.node.text);
      else current().push(t.node);
      continue;
    }
    const d = t.d;
    for (const kind of d.closes) {
      const node = stack.pop()!;
      current().push({ type: kind, children: node.children });
    }
    if (d.left > 0) addText(d.char.repeat(d.left));
    // Opened outermost first: the innermost match used the characters nearest the content.
    for (let k = d.opens.length - 1; k >= 0; k--) stack.push({ kind: d.opens[k]!, children: [] });
  }
  return root;
}

// ---------------------------------------------------------------------------------------------

/** The blocks of a Markdown text. */
export function parseMarkdown(text: string): Block[] {
  return parseBlocks(text.split(/\r\n|\r|\n/), 0);
}

/**
 * The fence a text leaves open at its end (the characters that would close it), or null: an
 * exported reply cut off inside a code block is closed so the document after it stays text.
 */
export function openFenceAtEnd(text: string): string | null {
  let open: Fence | null = null;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (open) {
      if (fenceCloses(line, open)) open = null;
    } else open = fenceOpen(line);
  }
  return open ? open.char.repeat(open.length) : null;
}
