import { describe, expect, it } from 'vitest';
import { parameterCount, paramSpecs, validateModelConfig, type TrainModelConfig } from '../../shared/train/config';
import { checkTokenStream, RandomWindows, validationBatches } from '../../shared/train/data';
import { initParams } from '../../shared/train/init';
import { modelConfigOf, parseRecipe } from '../../shared/train/recipe';

const ok = { name: 'x', model: { dim: 32, layers: 2, heads: 4, ff: 64, context: 32 }, data: { train: ['a.txt'] }, train: { steps: 5 } };

describe('training recipes', () => {
  it('fills defaults and derives the model config', () => {
    const r = parseRecipe(ok);
    const c = modelConfigOf(r);
    expect(c).toMatchObject({ arch: 'llama', vocab: 512, kvHeads: 4, tied: true, qkvBias: false });
    expect(parameterCount(c)).toBe(paramSpecs(c).reduce((s, p) => s + p.size, 0));
  });

  it.each([
    [{ ...ok, model: { ...ok.model, heads: 5 } }, /heads = 5 does not divide dim = 32/],
    [{ ...ok, model: { ...ok.model, kvHeads: 3 } }, /kvHeads = 3 does not divide heads = 4/],
    [{ ...ok, model: { ...ok.model, heads: 32 } }, /odd head size 1/],
    [{ ...ok, train: { steps: 5, seqLen: 64 } }, /train.seqLen = 64 is longer than model.context = 32/],
    [{ ...ok, train: { steps: 0 } }, /train.steps = 0/],
    [{ ...ok, name: '../evil' }, /name = "..\/evil"/],
    [{ ...ok, extra: 1 }, /extra/],
    ['{not json', /not valid JSON/],
  ])('refuses %#, naming the field', (input, msg) => {
    expect(() => parseRecipe(input, 'r.json')).toThrow(msg);
  });

  it('validateModelConfig names the bad field', () => {
    const c: TrainModelConfig = { arch: 'llama', vocab: 2, dim: 8, layers: 1, heads: 2, kvHeads: 2, ff: 8, context: 8, ropeTheta: 1e4, rmsEps: 1e-5, tied: true, qkvBias: false };
    expect(() => validateModelConfig(c)).toThrow(/vocab = 2/);
  });
});

describe('training data windows', () => {
  const stream = Int32Array.from({ length: 1000 }, (_, i) => i % 97);

  it('the windows of a step depend only on (seed, step, micro-batch)', () => {
    const a = new RandomWindows(stream, 3, 16, 7, 2);
    const b = new RandomWindows(stream, 3, 16, 7, 2);
    b.microBatch(1, 0); // drawing other batches first changes nothing
    expect(a.microBatch(5, 1)).toEqual(b.microBatch(5, 1));
    expect(a.microBatch(5, 1)).not.toEqual(a.microBatch(5, 0));
    const w = a.microBatch(3, 0);
    for (let r = 0; r < 3; r++) for (let i = 1; i < 17; i++) expect(w[r * 17 + i]).toBe((w[r * 17 + i - 1]! + 1) % 97);
  });

  it('validation windows are consecutive and overlap by the one shared token', () => {
    const v = validationBatches(stream, 2, 10, 100);
    expect(v.length).toBe(Math.floor(Math.floor(999 / 10) / 2));
    expect(v[0]![10]).toBe(v[0]![11]);
  });

  it('refuses a stream shorter than a window or with a token outside the vocabulary', () => {
    expect(() => checkTokenStream(new Int32Array(5), 8, 10, 'text')).toThrow(/shorter than one window of 9/);
    expect(() => checkTokenStream(Int32Array.from([1, 2, 30, 1, 1, 1, 1, 1, 1, 1]), 8, 10, 'text')).toThrow(/token 30 at position 2/);
  });

  it('initial weights are seeded per tensor', () => {
    const c = modelConfigOf(parseRecipe(ok));
    const a = initParams(c, 1);
    expect(initParams(c, 1).get('blk.1.ffn_up.weight')).toEqual(a.get('blk.1.ffn_up.weight'));
    expect(initParams(c, 2).get('blk.1.ffn_up.weight')).not.toEqual(a.get('blk.1.ffn_up.weight'));
    expect([...a.get('blk.0.attn_norm.weight')!].every((x) => x === 1)).toBe(true);
  });
});
