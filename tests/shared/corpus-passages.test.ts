/**
 * Passage splitting (shared/corpus/passages.ts): the bounds (every passage 1..MAX characters,
 * all but a section's last at least MIN), headings and their paths, fenced code, CRLF and lone
 * CR, non-ASCII (never a split surrogate pair), exact character and line ranges.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PASSAGE_CHARS, MIN_PASSAGE_CHARS, splitPassages, type Passage } from '../../shared/corpus/passages';

/** The text of [startChar, endChar) as a passage shows it: line ends as \n, paragraphs joined by one blank line. */
const rangeText = (doc: string, p: Passage): string =>
  doc
    .slice(p.startChar, p.endChar)
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n\s*/)
    .map((s) => s.trim())
    .join('\n\n');

/** The 1-based line of an offset, counting \n, \r\n and lone \r. */
function lineOf(doc: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) {
    const c = doc[i];
    if (c === '\n' || (c === '\r' && doc[i + 1] !== '\n')) line++;
  }
  return line;
}

function checkInvariants(doc: string, ps: Passage[]): void {
  for (const [i, p] of ps.entries()) {
    expect(p.index).toBe(i);
    expect(p.text.length).toBeGreaterThan(0);
    expect(p.text.length).toBeLessThanOrEqual(MAX_PASSAGE_CHARS);
    expect(p.text).toBe(p.text.trim());
    expect(p.text).not.toMatch(/\r/);
    expect(rangeText(doc, p)).toBe(p.text);
    expect(p.startLine).toBe(lineOf(doc, p.startChar));
    expect(p.endLine).toBe(lineOf(doc, p.endChar - 1));
    if (i > 0) expect(p.startChar).toBeGreaterThanOrEqual(ps[i - 1]!.endChar);
    // Never half of a surrogate pair at either end.
    expect(p.text).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    const next = ps[i + 1];
    const lastOfSection = !next || JSON.stringify(next.heading) !== JSON.stringify(p.heading) || /\n\s*#/.test(doc.slice(p.endChar, next.startChar));
    if (!lastOfSection) expect(p.text.length, `passage ${i} is not its section's last`).toBeGreaterThanOrEqual(MIN_PASSAGE_CHARS);
  }
}

/** A seeded stream of words, some sentence ends and line breaks. */
function prose(seed: number, chars: number, words = ['pixel', 'tile', 'model', 'map', 'the', 'weights', 'stored', 'as', 'PNG', 'über', 'naïve', '模型', '🙂']): string {
  let s = seed >>> 0;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  let out = '';
  while (out.length < chars) {
    out += words[Math.floor(rnd() * words.length)]!;
    const r = rnd();
    out += r < 0.08 ? '. ' : r < 0.1 ? '\n' : ' ';
  }
  return out.trim();
}

describe('splitPassages', () => {
  it('an empty or blank document has no passages', () => {
    expect(splitPassages('')).toEqual([]);
    expect(splitPassages('  \n\n\t\r\n ')).toEqual([]);
    expect(splitPassages('# Only a heading\n\n## And another\n')).toEqual([]);
  });

  it('a short document is one passage with its range and lines', () => {
    const doc = '\n\nHello there.\nSecond line.\n\n';
    const [p, ...rest] = splitPassages(doc);
    expect(rest).toEqual([]);
    expect(p).toEqual({ index: 0, heading: [], text: 'Hello there.\nSecond line.', startChar: 2, endChar: 27, startLine: 3, endLine: 4 });
  });

  it('packs paragraphs up to the maximum and never crosses a heading', () => {
    const para = (n: number) => `Paragraph ${n} ${'word '.repeat(60).trim()}.`; // ~320 characters
    const doc = ['# Guide', '', para(1), '', para(2), '', para(3), '', para(4), '', '## Install', '', para(5), '', '### On Linux', 'Short.', '', '# Next', para(6)].join('\n');
    const ps = splitPassages(doc);
    checkInvariants(doc, ps);
    expect(ps.map((p) => p.heading)).toEqual([['Guide'], ['Guide'], ['Guide', 'Install'], ['Guide', 'Install', 'On Linux'], ['Next']]);
    // Three paragraphs of ~320 fit in 1200; the fourth starts the next passage.
    expect(ps[0]!.text.split('\n\n')).toHaveLength(3);
    expect(ps[1]!.text).toBe(para(4));
    expect(ps[3]!.text).toBe('Short.');
    expect(ps[3]!.startLine).toBe(16);
    expect(ps[4]!.text).toBe(para(6));
  });

  it('reads heading forms as CommonMark does: closing #s, empty titles, indentation, not #tags or 7 #s', () => {
    const doc = '# Title #\n\nA.\n\n   ## Indented ##   \n\nB.\n\n#tag is text\n\n####### seven is text\n\n    # four spaces is text\n\n#\n\nC.';
    const ps = splitPassages(doc);
    expect(ps.map((p) => [p.heading, p.text])).toEqual([
      [['Title'], 'A.'],
      [['Title', 'Indented'], 'B.\n\n#tag is text\n\n####### seven is text\n\n# four spaces is text'],
      [[], 'C.'],
    ]);
  });

  it('keeps a fenced code block whole, with its blank lines and # lines', () => {
    const code = '```sh\n# not a heading\n\nnpm test\n```';
    const doc = `## Run\n\nRun the tests:\n\n${code}\n\n~~~\n# also code\n~~~\n`;
    const ps = splitPassages(doc);
    expect(ps).toHaveLength(1);
    expect(ps[0]!.heading).toEqual(['Run']);
    expect(ps[0]!.text).toBe(`Run the tests:\n\n${code}\n\n~~~\n# also code\n~~~`);
  });

  it('cuts one huge paragraph at sentence ends or spaces into passages within the bounds', () => {
    const doc = prose(1, 50_000).replace(/\n/g, ' ');
    const ps = splitPassages(doc);
    checkInvariants(doc, ps);
    expect(ps.length).toBeGreaterThanOrEqual(Math.ceil(doc.length / MAX_PASSAGE_CHARS));
    // Cut where a sentence ends or between words, never inside a word.
    for (const p of ps.slice(0, -1)) expect(doc[p.endChar] === ' ' || doc[p.endChar] === undefined).toBe(true);
    expect(ps.slice(0, -1).filter((p) => p.text.endsWith('.')).length).toBeGreaterThan(ps.length / 2);
  });

  it('cuts a paragraph with no spaces exactly at the maximum, never inside a surrogate pair', () => {
    const doc = '🙂'.repeat(3000) + 'x' + 'a'.repeat(2500);
    const ps = splitPassages(doc);
    checkInvariants(doc, ps);
    expect(ps.map((p) => p.text).join('')).toBe(doc);
    expect(ps[0]!.text.length).toBe(MAX_PASSAGE_CHARS);
  });

  it('reads CRLF and lone CR as line ends: ranges in the original, text with \\n', () => {
    const lf = '# Title\n\nfirst line\nsecond line\n\n## Sub\n\nthird\n';
    for (const eol of ['\r\n', '\r']) {
      const doc = lf.replace(/\n/g, eol);
      const ps = splitPassages(doc);
      checkInvariants(doc, ps);
      expect(ps.map((p) => [p.heading, p.text, p.startLine, p.endLine])).toEqual([
        [['Title'], 'first line\nsecond line', 3, 4],
        [['Title', 'Sub'], 'third', 8, 8],
      ]);
      expect(doc.slice(ps[0]!.startChar, ps[0]!.endChar)).toBe(`first line${eol}second line`);
    }
  });

  it('splits non-ASCII text (accents, CJK full stops, emoji) within the bounds', () => {
    const cjk = '模型的权重以像素的形式存储在地图上。'.repeat(120);
    const doc = `# Überblick — naïve café\n\n${prose(7, 5000)}\n\n## 中文\n\n${cjk}`;
    const ps = splitPassages(doc);
    checkInvariants(doc, ps);
    expect(ps[0]!.heading).toEqual(['Überblick — naïve café']);
    const chinese = ps.filter((p) => p.heading.at(-1) === '中文');
    expect(chinese.length).toBeGreaterThan(1);
    // CJK text is cut after a full stop.
    for (const p of chinese.slice(0, -1)) expect(p.text.endsWith('。')).toBe(true);
  });

  it('holds its bounds over many random documents', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const parts: string[] = [];
      let s = seed;
      const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
      for (let k = 0; k < 12; k++) {
        const r = rnd();
        if (r < 0.15) parts.push(`${'#'.repeat(1 + Math.floor(rnd() * 4))} Heading ${k}`);
        else parts.push(prose(seed * 100 + k, Math.floor(rnd() * 3000) + 1));
      }
      const eol = seed % 3 === 0 ? '\r\n' : '\n';
      const doc = parts.join(eol + (rnd() < 0.7 ? eol : '')).replace(/\n/g, eol === '\r\n' ? '\r\n' : '\n').replace(/\r\r\n/g, '\r\n');
      checkInvariants(doc, splitPassages(doc));
    }
  });

  it('takes other bounds, and refuses ones that cannot be met', () => {
    const doc = prose(3, 3000);
    const ps = splitPassages(doc, { maxChars: 300, minChars: 50 });
    for (const p of ps) expect(p.text.length).toBeLessThanOrEqual(300);
    expect(() => splitPassages(doc, { maxChars: 100, minChars: 50 })).toThrow(RangeError);
  });
});
