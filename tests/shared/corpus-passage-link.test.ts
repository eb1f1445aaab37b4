/** The Explorer route for lit passages: written by Chat, read back by the Explorer; bad lists refused. */
import { describe, expect, it } from 'vitest';
import { MAX_LINKED_PASSAGES, parsePassagesParam, passagesLink } from '../../shared/corpus/passage-link';

describe('passage links', () => {
  it('round-trips through the route', () => {
    const passages = [
      { document: 3, startChar: 100, endChar: 400 },
      { document: 0, startChar: 0, endChar: 1200 },
    ];
    const link = passagesLink('pxi-docs', passages, 1);
    expect(link).toBe('#/explorer?corpus=pxi-docs&passages=3:100-400,0:0-1200&focus=1');
    const q = new URLSearchParams(link.split('?')[1]);
    expect(q.get('corpus')).toBe('pxi-docs');
    expect(q.get('focus')).toBe('1');
    expect(parsePassagesParam(q.get('passages')!)).toEqual(passages);
  });

  it('refuses lists that are not passages', () => {
    for (const bad of ['', '3', '3:1', '3:5-2', 'a:1-2', '1:2-3,', '-1:0-2', '1:0-2;2:0-3']) expect(parsePassagesParam(bad), bad).toBeNull();
    expect(parsePassagesParam(Array.from({ length: MAX_LINKED_PASSAGES + 1 }, () => '0:0-1').join(','))).toBeNull();
    expect(parsePassagesParam(Array.from({ length: MAX_LINKED_PASSAGES }, () => '0:0-1').join(','))).toHaveLength(MAX_LINKED_PASSAGES);
  });
});
