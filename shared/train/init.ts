/**
 * Seeded initial weights: each parameter draws from its own stream (the seed and its name), so
 * adding a parameter does not change the others and the GPU engine, the reference and a resumed
 * run all start from the same numbers.
 */
import { Xoshiro128 } from '../model-gen/prng';
import { paramSpecs, type TrainModelConfig } from './config';

export function initParams(cfg: TrainModelConfig, seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const p of paramSpecs(cfg)) {
    const a = new Float32Array(p.size);
    if (p.init.kind === 'normal') Xoshiro128.forTensor(seed >>> 0, p.name).fillNormal(a, p.init.std);
    else if (p.init.kind === 'ones') a.fill(1);
    out.set(p.name, a);
  }
  return out;
}
