/**
 * Map-navigation questions (shared/nav/questions.ts) against placements worked out by hand and
 * the placement code itself: every answer is the map index's truth, the "what" points lie
 * inside their regions, "left" finds the nearest region to the left with overlapping rows, and
 * the answer reader and accuracy table do what they say.
 */
import { describe, expect, it } from 'vitest';
import { placeModel } from '../../shared/map/placement';
import { planModel, tensorBytes } from '../../shared/model-gen';
import { answerOf, navAccuracy, navLine, navQuestions, regionAt, regionLeftOf, type NavRegion } from '../../shared/nav/questions';

const A: NavRegion = { name: 'a', x: 0, y: 0, width: 10, height: 10 };
const B: NavRegion = { name: 'b', x: 20, y: 5, width: 10, height: 10 };
const C: NavRegion = { name: 'c', x: 40, y: 0, width: 10, height: 4 };
const D: NavRegion = { name: 'd', x: 40, y: 30, width: 10, height: 10 };

describe('map-navigation questions', () => {
  it('finds the region at a point and the nearest region to the left with overlapping rows', () => {
    const rs = [A, B, C, D];
    expect(regionAt(rs, 0, 0)).toBe(A);
    expect(regionAt(rs, 9, 9)).toBe(A);
    expect(regionAt(rs, 10, 9)).toBeNull(); // half-open
    expect(regionLeftOf(rs, B)).toBe(A);
    expect(regionLeftOf(rs, C)).toBe(A); // rows 0..4 overlap A's, not B's (5..15)
    expect(regionLeftOf(rs, D)).toBeNull();
    expect(regionLeftOf(rs, A)).toBeNull();
  });

  it('asks where, left and what of every region, with the index as the answer', () => {
    const qs = navQuestions('m', [A, B, C, D], 1, 3);
    expect(qs.filter((q) => q.kind === 'where').map((q) => q.answer)).toEqual(['0,0', '20,5', '40,0', '40,30']);
    expect(qs.filter((q) => q.kind === 'left').map((q) => q.answer)).toEqual(['nothing', 'a', 'a', 'nothing']);
    const what = qs.filter((q) => q.kind === 'what');
    expect(what).toHaveLength(12);
    for (const q of what) {
      const [x, y] = /at (\d+),(\d+)\?/.exec(q.prompt)!.slice(1).map(Number) as [number, number];
      expect(regionAt([A, B, C, D], x, y)!.name).toBe(q.answer);
    }
    expect(navLine(qs[0]!)).toBe('Q: in m, where is a? A: 0,0\n');
    expect(navQuestions('m', [A, B, C, D], 1, 3)).toEqual(qs); // deterministic for a seed
  });

  it('on a real placement: a column per block, shelves inside it', () => {
    const plan = planModel({ preset: 'tiny-llama', type: 'F32', seed: 1, method: 'quantize', overrides: { blocks: 3 } });
    const layout = placeModel({ modelId: 'm', tensors: plan.tensors.map((t) => ({ name: t.name, ggmlType: t.type, dims: t.dims, byteSize: tensorBytes(t) })) }, { tileWidth: 1024, tileHeight: 1024 });
    const regions = layout.regions.filter((r) => r.kind === 'weights');
    const left = new Map(navQuestions('m', regions, 1).filter((q) => q.kind === 'left').map((q) => [/left of (\S+)\?/.exec(q.prompt)![1], q.answer]));
    expect(left.get('blk.2.ffn_down.weight')).toBe('blk.1.ffn_down.weight');
    expect(left.get('blk.1.attn_q.weight')).toBe('blk.1.attn_norm.weight'); // same shelf
    expect(left.get('blk.1.attn_norm.weight')).toBe('blk.0.ffn_up.weight'); // the previous column's first shelf
    expect(left.get('token_embd.weight')).toBe('nothing');
  });

  it('reads an answer up to the line end, and counts exact matches per kind', () => {
    expect(answerOf(' blk.1.attn_q.weight\nQ: next')).toBe('blk.1.attn_q.weight');
    expect(answerOf(' 12,34 ')).toBe('12,34');
    const acc = navAccuracy([
      { kind: 'where', answer: '1,2', got: '1,2' },
      { kind: 'where', answer: '1,2', got: '1,3' },
      { kind: 'left', answer: 'a', got: 'a' },
    ]);
    expect(acc.where).toEqual({ right: 1, total: 2 });
    expect(acc.left).toEqual({ right: 1, total: 1 });
    expect(acc.what).toEqual({ right: 0, total: 0 });
    expect(acc.all).toEqual({ right: 2, total: 3 });
  });
});
