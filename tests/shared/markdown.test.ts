/**
 * The Markdown reader of model replies (shared/markdown/parse.ts): what each construct gives,
 * and hostile text (unclosed fences, HTML, very long lines, deep nesting, runs of delimiters)
 * read as text in linear time.
 */
import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, openFenceAtEnd, parseInlines, parseMarkdown, type Block, type Inline } from '../../shared/markdown/parse';

const text = (t: string): Inline => ({ type: 'text', text: t });
const para = (...children: Inline[]): Block => ({ type: 'paragraph', children });

/** All the text an inline tree shows, as the DOM would (a link's URL not included). */
function plain(nodes: Inline[]): string {
  return nodes.map((n) => (n.type === 'text' || n.type === 'code' ? n.text : n.type === 'break' ? '\n' : plain(n.children))).join('');
}

function depthOf(blocks: Block[]): number {
  let d = 0;
  for (const b of blocks) {
    if (b.type === 'quote') d = Math.max(d, 1 + depthOf(b.children));
    if (b.type === 'list') for (const item of b.items) d = Math.max(d, 1 + depthOf(item));
  }
  return d;
}

describe('Markdown blocks', () => {
  it('reads paragraphs, with a single newline as a line break', () => {
    expect(parseMarkdown('one\ntwo\n\nthree')).toEqual([para(text('one'), { type: 'break' }, text('two')), para(text('three'))]);
    expect(parseMarkdown('')).toEqual([]);
    expect(parseMarkdown('\n\n  \n')).toEqual([]);
  });

  it('reads ATX headings, with or without a closing run of #', () => {
    expect(parseMarkdown('# One\n## Two ##\n###### Six\n####### seven\n#nope')).toEqual([
      { type: 'heading', level: 1, children: [text('One')] },
      { type: 'heading', level: 2, children: [text('Two')] },
      { type: 'heading', level: 6, children: [text('Six')] },
      para(text('####### seven'), { type: 'break' }, text('#nope')),
    ]);
    expect(parseMarkdown('# C# #')).toEqual([{ type: 'heading', level: 1, children: [text('C#')] }]);
  });

  it('reads fenced code with its language, keeping the text exactly', () => {
    const src = 'Look:\n```ts\nconst x = a < b && c > d; // <b>not bold</b>\n  **not strong**\n```\nafter';
    expect(parseMarkdown(src)).toEqual([
      para(text('Look:')),
      { type: 'code', lang: 'ts', text: 'const x = a < b && c > d; // <b>not bold</b>\n  **not strong**', closed: true },
      para(text('after')),
    ]);
    expect(parseMarkdown('~~~~\n```\n~~~\n~~~~')).toEqual([{ type: 'code', lang: '', text: '```\n~~~', closed: true }]);
  });

  it('runs an unclosed fence to the end (a reply still streaming), and says it is open', () => {
    expect(parseMarkdown('```python\nprint(1)\n\n# not a heading')).toEqual([{ type: 'code', lang: 'python', text: 'print(1)\n\n# not a heading', closed: false }]);
    expect(parseMarkdown('```')).toEqual([{ type: 'code', lang: '', text: '', closed: false }]);
    expect(openFenceAtEnd('a\n```js\nx')).toBe('```');
    expect(openFenceAtEnd('a\n~~~~\nx\n~~~~')).toBeNull();
    expect(openFenceAtEnd('no code')).toBeNull();
  });

  it('reads bullet and ordered lists, nested by indentation', () => {
    const src = '- a\n- b\n  - b1\n    - b1x\n  - b2\n- c\n\n3. three\n4. four\n   1. four.one';
    const blocks = parseMarkdown(src);
    expect(blocks).toHaveLength(2);
    const [bullets, ordered] = blocks as [Extract<Block, { type: 'list' }>, Extract<Block, { type: 'list' }>];
    expect(bullets).toMatchObject({ type: 'list', ordered: false });
    expect(bullets.items).toHaveLength(3);
    expect(bullets.items[1]).toEqual([
      para(text('b')),
      {
        type: 'list',
        ordered: false,
        start: 1,
        items: [[para(text('b1')), { type: 'list', ordered: false, start: 1, items: [[para(text('b1x'))]] }], [para(text('b2'))]],
      },
    ]);
    expect(ordered).toMatchObject({ type: 'list', ordered: true, start: 3 });
    expect(ordered.items[1]).toEqual([para(text('four')), { type: 'list', ordered: true, start: 1, items: [[para(text('four.one'))]] }]);
  });

  it('keeps a list item going over lazy lines and indented paragraphs, and ends it at a new block', () => {
    expect(parseMarkdown('- one\ncontinued\n\n  second paragraph\n- two\n# Head')).toEqual([
      {
        type: 'list',
        ordered: false,
        start: 1,
        items: [[para(text('one'), { type: 'break' }, text('continued')), para(text('second paragraph'))], [para(text('two'))]],
      },
      { type: 'heading', level: 1, children: [text('Head')] },
    ]);
    // A change of bullet starts another list; a number other than 1 does not interrupt a paragraph.
    expect(parseMarkdown('- a\n+ b').map((b) => b.type)).toEqual(['list', 'list']);
    expect(parseMarkdown('In\n2024. it rained')).toEqual([para(text('In'), { type: 'break' }, text('2024. it rained'))]);
    expect(parseMarkdown('Steps:\n1. first').map((b) => b.type)).toEqual(['paragraph', 'list']);
  });

  it('reads block quotes and thematic breaks', () => {
    expect(parseMarkdown('> quoted\n> **more**\n\n---\n* * *')).toEqual([
      { type: 'quote', children: [para(text('quoted'), { type: 'break' }, { type: 'strong', children: [text('more')] })] },
      { type: 'rule' },
      { type: 'rule' },
    ]);
  });
});

describe('Markdown inlines', () => {
  it('reads emphasis, strong, and both', () => {
    expect(parseInlines('*a* _b_ **c** __d__ ***e***')).toEqual([
      { type: 'em', children: [text('a')] },
      text(' '),
      { type: 'em', children: [text('b')] },
      text(' '),
      { type: 'strong', children: [text('c')] },
      text(' '),
      { type: 'strong', children: [text('d')] },
      text(' '),
      { type: 'em', children: [{ type: 'strong', children: [text('e')] }] },
    ]);
  });

  it('leaves what is not emphasis as text: spaced stars, underscores inside words, unmatched runs', () => {
    expect(parseInlines('2 * 3 * 4')).toEqual([text('2 * 3 * 4')]);
    expect(parseInlines('snake_case_name')).toEqual([text('snake_case_name')]);
    expect(parseInlines('**open only')).toEqual([text('**open only')]);
    expect(parseInlines('a*b*c')).toEqual([text('a'), { type: 'em', children: [text('b')] }, text('c')]);
    // Crossing pairs: the first to close wins, the other stays text.
    expect(plain(parseInlines('*a _b* c_'))).toBe('a _b c_');
  });

  it('reads code spans of any backtick count, their content literal', () => {
    expect(parseInlines('use `a*b*` or ``x ` y`` and `unclosed')).toEqual([
      text('use '),
      { type: 'code', text: 'a*b*' },
      text(' or '),
      { type: 'code', text: 'x ` y' },
      text(' and `unclosed'),
    ]);
  });

  it('keeps links, images and autolinks as text and URL (never anything to follow)', () => {
    expect(parseInlines('see [the *docs*](https://example.com/a_(b)) or ![cat](cat.png "title") <https://x.org/?q=1>')).toEqual([
      text('see '),
      { type: 'link', children: [text('the '), { type: 'em', children: [text('docs')] }], url: 'https://example.com/a_(b)', image: false },
      text(' or '),
      { type: 'link', children: [text('cat')], url: 'cat.png', image: true },
      text(' '),
      { type: 'link', children: [text('https://x.org/?q=1')], url: 'https://x.org/?q=1', image: false },
    ]);
    expect(parseInlines('[javascript:alert(1)](javascript:alert(1))')[0]).toMatchObject({ type: 'link', url: 'javascript:alert(1)' });
    expect(parseInlines('[not a link] (x) [open(')).toEqual([text('[not a link] (x) [open(')]);
  });

  it('shows HTML as text and honours backslash escapes', () => {
    expect(parseInlines('<script>alert(1)</script><img src=x onerror=alert(1)>')).toEqual([text('<script>alert(1)</script><img src=x onerror=alert(1)>')]);
    expect(parseInlines('\\*not em\\* \\`x\\` C:\\path')).toEqual([text('*not em* `x` C:\\path')]);
  });
});

describe('Markdown from hostile text', () => {
  it('reads nesting deeper than MAX_DEPTH as text instead of recursing', () => {
    const quotes = parseMarkdown(`${'>'.repeat(10_000)} deep`);
    expect(depthOf(quotes)).toBe(MAX_DEPTH);
    const lists = parseMarkdown(Array.from({ length: 200 }, (_, i) => `${'  '.repeat(i)}- level ${i}`).join('\n'));
    expect(depthOf(lists)).toBeLessThanOrEqual(MAX_DEPTH);
    expect(JSON.stringify(lists)).toContain('level 199');
  });

  it('reads pathological runs in linear time', () => {
    const n = 200_000;
    const inputs = [
      '*'.repeat(n),
      '*a '.repeat(n / 3),
      '_a '.repeat(n / 3),
      '`'.repeat(n),
      '` ``'.repeat(n / 4),
      '['.repeat(n),
      '[a]('.repeat(n / 4),
      '<a:'.repeat(n / 3),
      `${'a'.repeat(n)}\n`.repeat(5),
      '- '.repeat(n / 2),
      '# '.repeat(n / 2),
      `#${' '.repeat(n)}x`,
      '> '.repeat(n / 2),
      '```\n'.repeat(n / 4),
      '\\'.repeat(n),
    ];
    for (const s of inputs) {
      const t0 = performance.now();
      const blocks = parseMarkdown(s);
      const ms = performance.now() - t0;
      expect(ms, `${JSON.stringify(s.slice(0, 12))}… took ${ms.toFixed(0)} ms`).toBeLessThan(1500);
      expect(Array.isArray(blocks)).toBe(true);
    }
  });

  it('loses no text: every character of a line of prose comes back', () => {
    const s = 'Plain <b>bold?</b> & "quotes" \u0000 \u202e RTL \ud800 lone surrogate 🙂 end';
    expect(plain((parseMarkdown(s)[0] as Extract<Block, { type: 'paragraph' }>).children)).toBe(s);
  });
});
