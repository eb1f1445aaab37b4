/**
 * Checking a model's answer to a navigation question against the map index (shared/nav/check.ts):
 * the index's answers are the training pairs' (navQuestions) for a model placed anywhere on the
 * map, verdicts right / wrong / unverified, and where the model's answer points (a tensor, a
 * point inside the model, or nothing) in map coordinates; hostile answers never throw.
 */
import { describe, expect, it } from 'vitest';
import { placeModel } from '../../shared/map/placement';
import { planModel, tensorBytes } from '../../shared/model-gen';
import { checkNavAnswer, MAX_ANSWER_CHARS, navIndexAnswer, parsePoint, type NavModelMap } from '../../shared/nav/check';
import { navQuestions, type NavRegion } from '../../shared/nav/questions';

/** Hand-made: four tensors of a model whose box starts at (1000, 500). */
const BOX = { x: 1000, y: 500, width: 60, height: 50 };
const local: NavRegion[] = [
  { name: 'a', x: 0, y: 0, width: 10, height: 10 },
  { name: 'b', x: 20, y: 5, width: 10, height: 10 },
  { name: 'c', x: 40, y: 0, width: 10, height: 4 },
  { name: 'd', x: 40, y: 30, width: 10, height: 10 },
];
const MAP: NavModelMap = { name: 'm', box: BOX, regions: local.map((r) => ({ ...r, x: r.x + BOX.x, y: r.y + BOX.y })) };

describe('navIndexAnswer', () => {
  it('answers from the model top-left, with the prompt the model is asked', () => {
    expect(navIndexAnswer(MAP, { kind: 'where', subject: 'b' })).toMatchObject({ subject: 'b', answer: '20,5', prompt: 'Q: in m, where is b? A:' });
    expect(navIndexAnswer(MAP, { kind: 'left', subject: 'c' })).toMatchObject({ answer: 'a', prompt: 'Q: in m, what is left of c? A:' });
    expect(navIndexAnswer(MAP, { kind: 'left', subject: 'd' }).answer).toBe('nothing');
    expect(navIndexAnswer(MAP, { kind: 'what', subject: '25, 14' })).toMatchObject({ subject: '25,14', answer: 'b', prompt: 'Q: in m, what is at 25,14? A:' });
    expect(navIndexAnswer(MAP, { kind: 'what', subject: '15,15' }).answer).toBe('nothing');
    expect(navIndexAnswer(MAP, { kind: 'what', subject: '-3,2' }).answer).toBe('nothing');
  });

  it('resolves a name typed in another case to the map spelling', () => {
    expect(navIndexAnswer(MAP, { kind: 'where', subject: 'B' })).toMatchObject({ subject: 'b', answer: '20,5', prompt: 'Q: in m, where is b? A:' });
    // Two names equal ignoring case: only the exact one counts.
    const twins: NavModelMap = { ...MAP, regions: [...MAP.regions, { name: 'A', x: 1030, y: 540, width: 5, height: 5 }] };
    expect(navIndexAnswer(twins, { kind: 'where', subject: 'A' }).answer).toBe('30,40');
    expect(navIndexAnswer(twins, { kind: 'where', subject: 'a' }).answer).toBe('0,0');
    expect(navIndexAnswer({ ...twins, regions: twins.regions.filter((r) => r.name !== 'a' && r.name !== 'A').concat([{ name: 'Xy', x: 1000, y: 500, width: 1, height: 1 }, { name: 'xY', x: 1001, y: 500, width: 1, height: 1 }]) }, { kind: 'where', subject: 'xy' }).answer).toBeNull();
  });

  it('says when the map cannot answer', () => {
    const r = navIndexAnswer(MAP, { kind: 'where', subject: 'blk.99.ffn_down.weight' });
    expect(r.answer).toBeNull();
    expect(r.note).toMatch(/no tensor named "blk.99.ffn_down.weight"/);
    expect(r.prompt).toBe('Q: in m, where is blk.99.ffn_down.weight? A:');
    expect(navIndexAnswer(MAP, { kind: 'left', subject: 'zz' }).answer).toBeNull();
    expect(navIndexAnswer(MAP, { kind: 'what', subject: 'here' }).answer).toBeNull();
  });

  it('gives the training pairs answers for a generated model placed right of another', () => {
    const plan = planModel({ preset: 'tiny-llama', type: 'F32', seed: 1, method: 'quantize', overrides: { blocks: 3 } });
    const tensors = plan.tensors.map((t) => ({ name: t.name, ggmlType: t.type, dims: t.dims, byteSize: tensorBytes(t) }));
    const geo = { tileWidth: 64, tileHeight: 64 };
    const atOrigin = placeModel({ modelId: 'llama-b3', tensors }, geo);
    const moved = placeModel({ modelId: 'llama-b3', tensors }, geo, {}, { x: 7 * 64 * 100, y: 0 });
    const weights = (rs: typeof moved.regions): NavRegion[] => rs.filter((r) => r.kind === 'weights').map((r) => ({ name: r.name, x: r.x, y: r.y, width: r.width, height: r.height }));
    const map: NavModelMap = { name: 'llama-b3', box: moved.box, regions: weights(moved.regions) };
    const pairs = navQuestions('llama-b3', weights(atOrigin.regions), 5, 2);
    expect(pairs.length).toBeGreaterThan(50);
    for (const q of pairs) {
      const m = /where is (\S+)\? A:$|what is at (\S+)\? A:$|what is left of (\S+)\? A:$/.exec(q.prompt)!;
      const ask = { kind: q.kind, subject: (m[1] ?? m[2] ?? m[3])! };
      const idx = navIndexAnswer(map, ask);
      expect(idx.prompt).toBe(q.prompt);
      expect(idx.answer).toBe(q.answer);
      // The trained answer is right; another region's is wrong.
      expect(checkNavAnswer(map, ask, ` ${q.answer}\nQ: next`).verdict).toBe('right');
    }
  });
});

describe('checkNavAnswer', () => {
  it('marks the index answer right and flies to what it names', () => {
    const c = checkNavAnswer(MAP, { kind: 'where', subject: 'b' }, ' 20,5\nQ: in m, where is c? A: 40,0');
    expect(c).toMatchObject({ indexAnswer: '20,5', modelAnswer: '20,5', verdict: 'right', target: { kind: 'point', x: 20, y: 5 } });
    expect(c.flyTo).toEqual({ x: 1020, y: 505, width: 10, height: 10 });
    // Forgiving spacing and trailing punctuation in the model's answer.
    expect(checkNavAnswer(MAP, { kind: 'where', subject: 'b' }, ' 20, 5.').verdict).toBe('right');
    const left = checkNavAnswer(MAP, { kind: 'left', subject: 'b' }, ' a');
    expect(left).toMatchObject({ verdict: 'right', target: { kind: 'region', name: 'a' }, flyTo: { x: 1000, y: 500, width: 10, height: 10 } });
    expect(checkNavAnswer(MAP, { kind: 'left', subject: 'd' }, ' nothing').verdict).toBe('right');
    expect(checkNavAnswer(MAP, { kind: 'what', subject: '42,2' }, ' c').verdict).toBe('right');
  });

  it('marks a different answer wrong, flying where it points when it names part of the model', () => {
    const other = checkNavAnswer(MAP, { kind: 'where', subject: 'b' }, ' 40,0');
    expect(other).toMatchObject({ verdict: 'wrong', indexAnswer: '20,5', modelAnswer: '40,0', target: { kind: 'point', x: 40, y: 0 }, flyTo: { x: 1040, y: 500, width: 10, height: 4 } });
    // A point between tensors: a square around it, inside the model.
    const between = checkNavAnswer(MAP, { kind: 'where', subject: 'b' }, ' 15,25');
    expect(between.verdict).toBe('wrong');
    expect(between.target).toEqual({ kind: 'point', x: 15, y: 25 });
    expect(between.flyTo).toEqual({ x: 1015 - 6, y: 525 - 6, width: 12, height: 12 });
    const named = checkNavAnswer(MAP, { kind: 'left', subject: 'b' }, ' D');
    expect(named).toMatchObject({ verdict: 'wrong', target: { kind: 'region', name: 'd' }, flyTo: { x: 1040, y: 530, width: 10, height: 10 } });
  });

  it('marks an answer that names nothing on the map wrong, with nowhere to fly', () => {
    for (const raw of [' once upon a time, there was', '', '\n20,5', ' 20,5000', ' -1,0', ' blk.0.attn_q', ' 99999999999999999999,1', ' nothing']) {
      const c = checkNavAnswer(MAP, { kind: 'where', subject: 'a' }, raw);
      expect(c.verdict, JSON.stringify(raw)).toBe('wrong');
      expect(c.target, JSON.stringify(raw)).toBeNull();
      expect(c.flyTo).toBeNull();
    }
    expect(checkNavAnswer(MAP, { kind: 'where', subject: 'a' }, '\n20,5').modelAnswer).toBe('');
  });

  it('leaves the answer to a question the map cannot answer unverified, even when it names a tensor', () => {
    const c = checkNavAnswer(MAP, { kind: 'where', subject: 'blk.99.ffn_down.weight' }, ' 20,5');
    expect(c).toMatchObject({ verdict: 'unverified', indexAnswer: null, modelAnswer: '20,5', target: { kind: 'point', x: 20, y: 5 } });
    expect(c.flyTo).not.toBeNull();
    const none = checkNavAnswer(MAP, { kind: 'left', subject: 'zz' }, ' the dog');
    expect(none).toMatchObject({ verdict: 'unverified', target: null, flyTo: null });
  });

  it('takes any continuation: long, control characters, odd unicode', () => {
    const long = checkNavAnswer(MAP, { kind: 'where', subject: 'a' }, 'x'.repeat(1_000_000));
    expect(long.modelAnswer).toHaveLength(MAX_ANSWER_CHARS);
    expect(long.verdict).toBe('wrong');
    for (const raw of ['\u0000', '🙂'.repeat(500), '\r\n', '((((', '0,0'.repeat(100), ' ,', ' [0 0]', ' (0, 0)?']) {
      expect(() => checkNavAnswer(MAP, { kind: 'where', subject: 'a' }, raw)).not.toThrow();
    }
    expect(checkNavAnswer(MAP, { kind: 'where', subject: 'a' }, ' (0, 0)?').verdict).toBe('right');
    expect(checkNavAnswer(MAP, { kind: 'where', subject: 'a' }, ' [0 0]').verdict).toBe('right');
  });

  it('reads points forgivingly and only as safe integers', () => {
    expect(parsePoint('3,4')).toEqual({ x: 3, y: 4 });
    expect(parsePoint(' ( 3 , 4 ) ')).toEqual({ x: 3, y: 4 });
    expect(parsePoint('3 4')).toEqual({ x: 3, y: 4 });
    for (const t of ['', '3', '3,', ',4', '3,4,5', '3.5,4', 'a,b', '99999999999999999,1']) expect(parsePoint(t), t).toBeNull();
  });
});
