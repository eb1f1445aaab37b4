/**
 * The end-to-end check of a kernel tuning decision: decode the same greedy tokens of a real model
 * with the default shapes and with the kept ones, alternating A B A B on one device, and report
 * the decode tokens/s of each. Kernel timings decide; this says whether the decision shows up
 * where it matters. Used by `pxi tune --confirm MODEL`; the result is the session's confirmation.
 */
import { basename } from 'node:path';
import { generate } from '../../shared/engine/generate';
import type { IntVariant } from '../../shared/engine/int-matvec';
import type { WeightKernelTuning, WeightType } from '../../shared/engine/quant-matmul';
import type { GpuContext } from '../../shared/gpu';
import type { SessionConfirmation } from '../../shared/sessions/record';
import { openNodeModel, type NodeModel } from './index';

export interface ConfirmOptions {
  /** Decode tokens per run (default 16) and alternations (default 2; the best of each counts). */
  tokens?: number;
  reps?: number;
  /** The integer decode kernels the tuner kept (the tuned model decodes through them too). */
  intMatvec?: Partial<Record<WeightType, IntVariant>>;
}

export async function confirmTuning(ctx: GpuContext, file: string, table: Partial<Record<WeightType, WeightKernelTuning>>, opts: ConfirmOptions = {}): Promise<SessionConfirmation> {
  const n = opts.tokens ?? 16;
  const reps = opts.reps ?? 2;
  const plain = await openNodeModel(file, { ctx, contextLength: n + 16, tuningFile: false });
  let tuned: NodeModel | undefined;
  try {
    tuned = await openNodeModel(file, { ctx, contextLength: n + 16, matvecTuning: table, intMatvec: opts.intMatvec ?? {} });
    const prompt = plain.tokenizer.encode('Once upon a time').slice(0, 4);
    const decode = async (m: NodeModel) => {
      m.model.rewind(0);
      const r = await generate(m.model, m.tokenizer, prompt, { maxTokens: n, temperature: 0, ignoreEos: true });
      return { tps: r.timings.decodeTokensPerSecond, tokens: r.tokens.join() };
    };
    // Untimed first runs: pipelines compile before anything counts.
    await decode(plain);
    await decode(tuned);
    let base = 0;
    let mine = 0;
    let same = true;
    for (let i = 0; i < reps; i++) {
      const a = await decode(plain);
      const b = await decode(tuned);
      base = Math.max(base, a.tps);
      mine = Math.max(mine, b.tps);
      same &&= a.tokens === b.tokens;
    }
    return {
      tokensPerSecond: mine,
      baselineTokensPerSecond: base,
      note: `Greedy decode of ${n} tokens of ${basename(file)}, default and kept shapes alternately, best of ${reps} each; ${same ? 'the same tokens both ways' : 'THE TOKENS DIFFERED'}.`,
    };
  } finally {
    await tuned?.close();
    await plain.close();
  }
}
