import { describe, expect, it } from 'vitest';
import { applyPenalties, argmax, createRng, filterCandidates, Sampler, SamplerOptionError } from '../../shared/engine/sampling';

const OFF = { topK: 0, topP: 1, minP: 0 }; // every filter disabled

function frequencies(s: Sampler, logits: Float32Array, draws: number): number[] {
  const f = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) f[s.sample(logits)]!++;
  return f.map((c) => c / draws);
}

function softmax(x: number[], temp = 1): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp((v - m) / temp));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('seeded PRNG', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(xs);
    for (const v of xs) expect(v >= 0 && v < 1).toBe(true);
  });
});

describe('greedy', () => {
  it('temperature 0 is argmax (first on ties), whatever the seed and filters', () => {
    const logits = new Float32Array([0.5, 3, -1, 3, 2]);
    expect(argmax(logits)).toBe(1);
    for (const seed of [1, 2, 3]) expect(new Sampler({ temperature: 0, seed }).sample(logits)).toBe(1);
    expect(new Sampler({ temperature: -1, topK: 1 }).sample(logits)).toBe(1);
    expect(argmax(new Float32Array([NaN, -Infinity, NaN]))).toBe(1);
  });

  it('top-k 1 is greedy at any temperature', () => {
    const logits = new Float32Array([1, 2, 5, 4.9]);
    const s = new Sampler({ temperature: 5, topK: 1, topP: 1, minP: 0, seed: 3 });
    for (let i = 0; i < 50; i++) expect(s.sample(logits)).toBe(2);
  });
});

describe('temperature', () => {
  // 20k draws: a frequency's standard error is <= sqrt(0.25 / 20000) ≈ 0.0035; 0.015 is > 4 sigma.
  for (const temp of [0.5, 1, 2]) {
    it(`draws follow softmax(logits / ${temp})`, () => {
      const x = [1, 2, 3, 0.5];
      const f = frequencies(new Sampler({ temperature: temp, ...OFF, seed: 11 }), new Float32Array(x), 20000);
      const want = softmax(x, temp);
      f.forEach((v, i) => expect(Math.abs(v - want[i]!), `token ${i}: ${v} vs ${want[i]}`).toBeLessThan(0.015));
    });
  }

  it('is deterministic for a seed', () => {
    const logits = new Float32Array(Array.from({ length: 50 }, (_, i) => Math.sin(i)));
    const run = (seed: number) => {
      const s = new Sampler({ temperature: 1, ...OFF, seed });
      return Array.from({ length: 20 }, () => s.sample(logits));
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });
});

describe('top-k, top-p, min-p', () => {
  const probs = [0.5, 0.3, 0.15, 0.05];
  const logits = new Float32Array(probs.map(Math.log));
  const ids = (o: object) => filterCandidates(logits, { ...OFF, ...o }).map((c) => c.id);

  it('top-k keeps the k most likely, sorted', () => {
    expect(ids({ topK: 2 })).toEqual([0, 1]);
    expect(ids({ topK: 3 })).toEqual([0, 1, 2]);
    expect(ids({ topK: 0 })).toEqual([0, 1, 2, 3]);
    expect(ids({ topK: 10 })).toEqual([0, 1, 2, 3]);
    const shuffled = new Float32Array([0.1, 0.9, 0.5, 0.7, 0.3]);
    expect(filterCandidates(shuffled, { ...OFF, topK: 3 }).map((c) => c.id)).toEqual([1, 3, 2]);
  });

  it('top-p keeps the smallest prefix reaching p, including the token that crosses it', () => {
    expect(ids({ topP: 0.4 })).toEqual([0]);
    expect(ids({ topP: 0.75 })).toEqual([0, 1]);
    expect(ids({ topP: 0.85 })).toEqual([0, 1, 2]);
    expect(ids({ topP: 0.99 })).toEqual([0, 1, 2, 3]);
    const c = filterCandidates(logits, { ...OFF, topP: 0.75 });
    expect(c[0]!.p).toBeCloseTo(0.5 / 0.8, 6); // renormalised over the survivors
  });

  it('min-p drops tokens below minP times the top probability', () => {
    expect(ids({ minP: 0.2 })).toEqual([0, 1, 2]); // threshold 0.1
    expect(ids({ minP: 0.5 })).toEqual([0, 1]); // threshold 0.25
    expect(ids({ minP: 1 })).toEqual([0]);
  });

  it('sampling never returns a filtered token', () => {
    const s = new Sampler({ temperature: 3, topK: 0, topP: 0.75, minP: 0, seed: 2 });
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(s.sample(logits));
    expect([...seen].sort()).toEqual([0, 1]);
  });

  it('refuses nonsense options', () => {
    expect(() => new Sampler({ topP: 0 })).toThrow(SamplerOptionError);
    expect(() => new Sampler({ minP: 2 })).toThrow(SamplerOptionError);
    expect(() => new Sampler({ repeatPenalty: 0 })).toThrow(SamplerOptionError);
  });
});

describe('repetition penalty (llama.cpp semantics)', () => {
  it('divides positive logits, multiplies negative ones, once per distinct token', () => {
    const l = new Float32Array([2, -2, 1, 0, 4]);
    applyPenalties(l, [0, 1, 0, 0, 3], { repeatPenalty: 2, repeatLastN: 64 });
    expect([...l]).toEqual([1, -4, 1, 0, 4]);
  });

  it('looks only at the last N tokens; -1 means all, 0 none', () => {
    const base = new Float32Array([2, 2, 2]);
    const hist = [0, 1, 2];
    const a = Float32Array.from(base);
    applyPenalties(a, hist, { repeatPenalty: 2, repeatLastN: 2 });
    expect([...a]).toEqual([2, 1, 1]);
    const b = Float32Array.from(base);
    applyPenalties(b, hist, { repeatPenalty: 2, repeatLastN: -1 });
    expect([...b]).toEqual([1, 1, 1]);
    const c = Float32Array.from(base);
    applyPenalties(c, hist, { repeatPenalty: 2, repeatLastN: 0 });
    expect([...c]).toEqual([2, 2, 2]);
  });

  it('subtracts frequency * count + presence', () => {
    const l = new Float32Array([1, 1, 1]);
    applyPenalties(l, [0, 0, 0, 1], { frequencyPenalty: 0.5, presencePenalty: 0.25 });
    expect([...l]).toEqual([1 - 1.5 - 0.25, 1 - 0.5 - 0.25, 1]);
  });

  it('applies before greedy choice and before top-k', () => {
    const logits = new Float32Array([3, 2.9, 0]);
    expect(new Sampler({ temperature: 0 }).sample(logits, [0])).toBe(0);
    expect(new Sampler({ temperature: 0, repeatPenalty: 1.1 }).sample(logits, [0])).toBe(1);
    const s = new Sampler({ temperature: 1, topK: 1, topP: 1, minP: 0, repeatPenalty: 1.5 });
    expect(s.sample(logits, [0])).toBe(1);
    expect([...logits]).toEqual([3, 2.9, 0].map(Math.fround)); // the caller's logits are untouched
  });
});
