/**
 * Where a prefill's time goes: one model's prefill of `-p` tokens timed kernel by kernel (timestamp
 * queries, one compute pass per dispatch), with and without a prefill kernel choice.
 *   npx tsx scripts/bench/prefill-profile.ts MODEL.gguf [-p 16] [--prefill Q4_K=i8x] [--int-matvec Q4_K=dot4-v16-r2]
 * Prints the untimed prefill's tokens/s, then GPU ms per kernel group of a timed prefill. A measurement, not a test.
 */
import { parseArgs } from 'node:util';
import { groupPasses, promptIds } from '../../electron/cli/bench/accounting';
import { openBenchContext } from '../../electron/cli/bench/context';
import { openNodeModel } from '../../electron/engine';
import { parseIntMatvec } from '../../shared/engine/int-matvec';
import { parsePrefillMatmul } from '../../shared/engine/quant-matmul';
import type { PassTiming } from '../../shared/gpu';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { p: { type: 'string', short: 'p', default: '16' }, prefill: { type: 'string' }, 'int-matvec': { type: 'string' } } });
const path = positionals[0];
if (!path) throw new Error('usage: prefill-profile.ts MODEL.gguf [-p 16] [--prefill SPEC] [--int-matvec SPEC]');
const p = Number(values.p);
const ctx = await openBenchContext();
const m = await openNodeModel(path, {
  ctx,
  contextLength: p + 8,
  ...(values.prefill ? { prefillMatmul: parsePrefillMatmul(values.prefill) } : {}),
  ...(values['int-matvec'] ? { intMatvec: parseIntMatvec(values['int-matvec']) } : {}),
});
const ids = promptIds(m.tokenizer, p, m.model.vocabSize);
await m.model.forward(ids.slice(0, 2), 'argmax');
m.model.rewind(0);
const t0 = performance.now();
await m.model.forward(ids, 'argmax');
const ms = performance.now() - t0;
console.log(`prefill ${p} tokens (${values.prefill ?? 'matmul'}): ${ms.toFixed(0)} ms, ${((1000 * p) / ms).toFixed(2)} tokens/s`);
m.model.rewind(0);
const collected: PassTiming[][] = [];
if (ctx.setTimingHook((_l, passes) => collected.push(passes))) {
  await m.model.forward(ids, 'argmax');
  await ctx.sync();
  for (let i = 0; i < 100 && collected.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  ctx.setTimingHook(null);
  const groups = groupPasses([collected.flat()], m.model.describeWeights());
  const total = groups.reduce((s, g) => s + g.ms, 0);
  console.log(`timed prefill: kernels ${total.toFixed(0)} ms`);
  for (const g of groups.slice(0, 14)) console.log(`  ${g.name.padEnd(28)} ${String(g.calls).padStart(4)} ${g.ms.toFixed(1).padStart(9)} ms ${((100 * g.ms) / total).toFixed(1).padStart(5)} %`);
}
await m.close();
ctx.destroy();
