/**
 * The pure parts of corpora (shared/corpus): the UTF-8 check against the platform decoder, the
 * normalisations (mojibake repair, ASCII punctuation) and the map placement of documents.
 */
import { describe, expect, it } from 'vitest';
import { CorpusError } from '../../shared/corpus/errors';
import { placeCorpus } from '../../shared/corpus/placement';
import { checkDocument, findMojibake, invalidUtf8, normalizeText, parseNormalize } from '../../shared/corpus/text';
import { rectsOverlap } from '../../shared/map/geometry';
import { Xoshiro128 } from '../../shared/model-gen/prng';

const strict = new TextDecoder('utf-8', { fatal: true });
const decodes = (b: Uint8Array): boolean => {
  try {
    strict.decode(b);
    return true;
  } catch {
    return false;
  }
};

describe('invalidUtf8', () => {
  it('agrees with TextDecoder (fatal) on 5 000 random byte strings, and the text before the bad sequence decodes', () => {
    const rng = new Xoshiro128(20260101, 1);
    const pieces = [[0x41], [0x0a], [0xc3, 0xa9], [0xe2, 0x80, 0x99], [0xf0, 0x9f, 0x99, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xff], [0xe2, 0x82]];
    let bad = 0;
    for (let n = 0; n < 5000; n++) {
      const bytes: number[] = [];
      const len = rng.nextInt(0, 12);
      for (let i = 0; i < len; i++) {
        // Mostly well-formed pieces, sometimes a random byte.
        if (rng.nextFloat() < 0.15) bytes.push(rng.nextInt(0, 255));
        else bytes.push(...pieces[rng.nextInt(0, 7)]!);
        if (rng.nextFloat() < 0.05) bytes.push(...pieces[rng.nextInt(5, pieces.length - 1)]!);
      }
      const b = Uint8Array.from(bytes);
      const p = invalidUtf8(b);
      expect(p === null, Buffer.from(b).toString('hex')).toBe(decodes(b));
      if (p) {
        bad++;
        // The offset is the bad byte itself or the lead of a cut-off sequence: the text up to the
        // start of that sequence (at most 3 bytes back) decodes.
        const starts = [0, 1, 2, 3].map((k) => p.offset - k).filter((s) => s >= 0);
        expect(starts.some((s) => decodes(b.subarray(0, s))), Buffer.from(b).toString('hex')).toBe(true);
      }
    }
    expect(bad).toBeGreaterThan(1000);
  });

  it('names the offset and the reason', () => {
    expect(invalidUtf8(Uint8Array.of(0x61, 0xed, 0xa0, 0x80))).toEqual({ offset: 2, reason: 'byte 0xA0 cannot follow 0xED (overlong, surrogate or past U+10FFFF)' });
    expect(invalidUtf8(Uint8Array.of(0x80))).toEqual({ offset: 0, reason: 'byte 0x80 is a continuation byte with no lead byte before it' });
    expect(invalidUtf8(Uint8Array.of(0x61, 0xff))).toEqual({ offset: 1, reason: 'byte 0xFF is a byte that never occurs in UTF-8' });
    expect(invalidUtf8(Uint8Array.of(0xf0, 0x9f, 0x99))).toEqual({ offset: 0, reason: 'the 4-byte sequence starting with 0xF0 is cut off by the end of the file' });
  });

  it('checkDocument: typed errors in the order missing bytes, NUL, UTF-8, whitespace', () => {
    const code = (b: Uint8Array): string => {
      try {
        checkDocument(b, 'f.txt');
        return 'ok';
      } catch (e) {
        expect(e).toBeInstanceOf(CorpusError);
        return (e as CorpusError).code;
      }
    };
    expect(code(new Uint8Array(0))).toBe('CORPUS_EMPTY');
    expect(code(Uint8Array.of(0x20, 0x0a))).toBe('CORPUS_EMPTY');
    expect(code(Uint8Array.of(0x61, 0x00, 0xff))).toBe('CORPUS_BINARY');
    expect(code(Uint8Array.of(0x61, 0xff))).toBe('CORPUS_NOT_UTF8');
    expect(code(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61))).toBe('ok');
    expect(checkDocument(Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), 'bom.txt')).toBe('\ufeffa');
  });
});

describe('normalizeText', () => {
  it('repairs UTF-8 read as Windows-1252, the lost 0x9D of "”" included, and leaves real text alone', () => {
    const text = 'â€œHiâ€ she said. Itâ€™s Â£5 â€“ cafÃ© ðŸ™‚ â€”ok â€\nend â€';
    const r = normalizeText(text, ['mojibake']);
    expect(r.text).toBe('“Hi” she said. It’s £5 – café 🙂 —ok ”\nend ”');
    expect(r.changes.map((c) => [c.from, c.to, c.count])).toEqual([
      ['â€', '”', 3],
      ['Â£', '£', 1],
      ['Ã©', 'é', 1],
      ['â€œ', '“', 1],
      ['â€“', '–', 1],
      ['â€”', '—', 1],
      ['â€™', '’', 1],
      ['ðŸ™‚', '🙂', 1],
    ]);
    const clean = 'naïve café — “quotes” ’ über Ärger façade 日本 🙂 ÂÃ';
    expect(normalizeText(clean, ['mojibake'])).toEqual({ text: clean, changes: [] });
    expect(findMojibake('a â€™ b')).toEqual([{ step: 'mojibake', from: 'â€™', to: '’', count: 1 }]);
  });

  it('ascii-punct folds typographic punctuation, after the repair when both are asked', () => {
    const r = normalizeText('“Hi,” she said — it’s… – ok\u00a0now', ['ascii-punct']);
    expect(r.text).toBe('"Hi," she said - it\'s... - ok now');
    const both = normalizeText('â€œHiâ€ Itâ€™s', ['ascii-punct', 'mojibake']);
    expect(both.text).toBe('"Hi" It\'s');
    expect(normalizeText('plain text', [])).toEqual({ text: 'plain text', changes: [] });
  });

  it('parseNormalize takes a comma list, none, and refuses unknown steps', () => {
    expect(parseNormalize(undefined)).toEqual([]);
    expect(parseNormalize('none')).toEqual([]);
    expect(parseNormalize('ascii-punct,mojibake')).toEqual(['mojibake', 'ascii-punct']);
    expect(() => parseNormalize('mojibake,nfc')).toThrow(/unknown normalisation "nfc"/);
  });
});

describe('placeCorpus', () => {
  it('puts one corpus region per document on shelves, inside the box, without overlaps', () => {
    const geo = { tileWidth: 64, tileHeight: 64 };
    const cap = 64 * 64 * 4;
    const docs = [1, cap, cap + 1, 20 * cap, 5, 3 * cap, 7].map((bytes, i) => ({ name: `d${i}`, bytes }));
    const l = placeCorpus('c', docs, geo, { x: 1000, y: 50 });
    expect(l.mapId).toBe('corpus:c');
    expect(l.regions.map((r) => [r.id, r.kind, r.grid.cols, r.grid.rows, r.grid.tileCount])).toEqual([
      ['corpus:c/0', 'corpus', 1, 1, 1],
      ['corpus:c/1', 'corpus', 1, 1, 1],
      ['corpus:c/2', 'corpus', 2, 1, 2],
      ['corpus:c/3', 'corpus', 8, 3, 20],
      ['corpus:c/4', 'corpus', 1, 1, 1],
      ['corpus:c/5', 'corpus', 3, 1, 3],
      ['corpus:c/6', 'corpus', 1, 1, 1],
    ]);
    expect(l.box.x).toBe(1000);
    expect(l.box.y).toBe(50);
    for (const [i, a] of l.regions.entries()) {
      expect(a.x >= l.box.x && a.y >= l.box.y && a.x + a.width <= l.box.x + l.box.width && a.y + a.height <= l.box.y + l.box.height).toBe(true);
      for (const b of l.regions.slice(i + 1)) expect(rectsOverlap(a, b), `${a.id} ${b.id}`).toBe(false);
    }
    // The first shelf holds documents 0-2 side by side; the 8-tile-wide document 3 starts a new one.
    expect(l.regions[1]!.y).toBe(50);
    expect(l.regions[3]!.x).toBe(1000);
    expect(l.regions[3]!.y).toBeGreaterThan(50);
  });
});
