/**
 * Passages on the map through a real volume: a corpus added (one ASCII document, one with
 * multi-byte text), its passages searched, and `passageRects` giving each the bytes of its own
 * text in the stored file and rectangles inside its document's region; a range outside its
 * document and a missing corpus refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorpusStore, searchCorpora } from '../../electron/corpus/index';
import { passageRects } from '../../electron/corpus/passage-rects';
import { ModelStore } from '../../electron/models/store';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pxi-passage-rects-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const para = (w: string, i: number) => `The ${w} keeps its zeppelin tiles in pixels, paragraph ${i}, with enough words to make a passage grow.`;
const DOCS = {
  'plain.md': `# Plain\n\n${Array.from({ length: 20 }, (_, i) => para('plain', i)).join('\n\n')}\n`,
  'wide.md': `# Wïde 東京\n\n${Array.from({ length: 20 }, (_, i) => `${para('wïde 東京 🙂', i)} Ünïcödé.`).join('\n\n')}\n`,
};

describe('passageRects', () => {
  it('places searched passages on their documents’ regions, bytes exact', async () => {
    const files = Object.entries(DOCS).map(([n, t]) => {
      const p = path.join(tmp, n);
      fs.writeFileSync(p, t);
      return p;
    });
    const s = await ModelStore.open(path.join(tmp, 'vol'), { workers: 1, create: true });
    try {
      const c = await CorpusStore.open(s);
      await c.add('docs', files);
      const r = await searchCorpora(c, ['docs'], 'zeppelin tiles', { limit: 20 });
      expect(new Set(r.hits.map((h) => h.document.index))).toEqual(new Set([0, 1]));
      const placed = await passageRects(c, 'docs', r.hits.map((h) => ({ document: h.document.index, startChar: h.startChar, endChar: h.endChar })));
      expect(placed.mapId).toBe('corpus:docs');
      expect(placed.box).toEqual(c.get('docs').mapBox);
      const regions = s.map.listRegions('corpus:docs');
      const texts = Object.values(DOCS);
      placed.passages.forEach((p, i) => {
        const h = r.hits[i]!;
        expect(p).toMatchObject({ document: h.document.index, startChar: h.startChar, endChar: h.endChar });
        const text = texts[p.document]!;
        const bytes = new TextEncoder().encode(text);
        expect(new TextDecoder().decode(bytes.subarray(p.startByte, p.endByte))).toBe(text.slice(p.startChar, p.endChar));
        const region = regions.find((g) => g.order === p.document)!;
        expect(p.rects.length).toBeGreaterThan(0);
        const pixels = p.rects.reduce((n, q) => n + q.width * q.height, 0);
        expect(pixels).toBe(Math.ceil(p.endByte / 4) - Math.floor(p.startByte / 4));
        for (const q of p.rects) {
          expect(q.x).toBeGreaterThanOrEqual(region.x);
          expect(q.y).toBeGreaterThanOrEqual(region.y);
          expect(q.x + q.width).toBeLessThanOrEqual(region.x + region.width);
          expect(q.y + q.height).toBeLessThanOrEqual(region.y + region.height);
        }
      });
      // The multi-byte document's passages lie further into its file than their characters.
      const wide = placed.passages.find((p) => p.document === 1 && p.startChar > 0)!;
      expect(wide.startByte).toBeGreaterThan(wide.startChar);

      await expect(passageRects(c, 'docs', [{ document: 0, startChar: 0, endChar: DOCS['plain.md'].length + 1 }])).rejects.toMatchObject({ code: 'CORPUS_BAD_QUERY' });
      await expect(passageRects(c, 'docs', [{ document: 5, startChar: 0, endChar: 1 }])).rejects.toMatchObject({ code: 'CORPUS_NOT_FOUND' });
      await expect(passageRects(c, 'nope', [{ document: 0, startChar: 0, endChar: 1 }])).rejects.toMatchObject({ code: 'CORPUS_NOT_FOUND' });
    } finally {
      await s.close();
    }
  });
});
