/**
 * Two kernel choices on one model, alternated in one process: the same prompt's prefill and a
 * few decode steps under choice A and choice B, round after round, so that the machine's drift
 * falls on both alike (lavapipe shares two noisy cores with everything else).
 *   npx tsx scripts/bench/engine-ab.ts MODEL.gguf [-p 16] [-n 4] [--rounds 4]
 *       [--a-prefill Q4_K=i8x] [--a-int-matvec Q4_K=int-sg-r4] [--b-prefill Q4_K=i8xc] [--b-int-matvec Q4_K=int-vc-r2]
 * Prints each round's prefill and decode tokens/s for A and B, their medians, and the median of
 * the per-round ratios B ÷ A. Also whether A and B chose the same greedy tokens. A measurement, not a test.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { promptIds } from '../../electron/cli/bench/accounting';
import { openBenchContext } from '../../electron/cli/bench/context';
import { openNodeModel } from '../../electron/engine';
import { parseIntMatvec } from '../../shared/engine/int-matvec';
import { parsePrefillMatmul } from '../../shared/engine/quant-matmul';
import { median } from '../../shared/stats/bootstrap';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    p: { type: 'string', short: 'p', default: '16' },
    n: { type: 'string', short: 'n', default: '4' },
    rounds: { type: 'string', default: '4' },
    'a-prefill': { type: 'string' },
    'a-int-matvec': { type: 'string' },
    'b-prefill': { type: 'string' },
    'b-int-matvec': { type: 'string' },
    help: { type: 'boolean' },
  },
});
const usage = 'npx tsx scripts/bench/engine-ab.ts MODEL.gguf [-p 16] [-n 4] [--rounds 4] [--a-prefill SPEC] [--a-int-matvec SPEC] [--b-prefill SPEC] [--b-int-matvec SPEC]';
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const path = positionals[0];
if (!path) throw new Error(`usage: ${usage}`);
const p = Number(values.p);
const n = Number(values.n);
const rounds = Number(values.rounds);
const ctx = await openBenchContext();

async function open(prefill: string | undefined, intMatvec: string | undefined) {
  return openNodeModel(path!, {
    ctx,
    contextLength: p + n + 8,
    ...(prefill ? { prefillMatmul: parsePrefillMatmul(prefill) } : {}),
    ...(intMatvec ? { intMatvec: parseIntMatvec(intMatvec) } : {}),
  });
}
const a = await open(values['a-prefill'], values['a-int-matvec']);
const b = await open(values['b-prefill'], values['b-int-matvec']);
const ids = promptIds(a.tokenizer, p, a.model.vocabSize);
console.log(`A: prefill ${values['a-prefill'] ?? 'default'}, decode ${values['a-int-matvec'] ?? 'default'}; B: prefill ${values['b-prefill'] ?? 'default'}, decode ${values['b-int-matvec'] ?? 'default'}; ${p} prompt tokens, ${n} decode steps; load average ${os.loadavg()[0]!.toFixed(2)}`);

/** Prefill of the prompt, then n greedy steps: tokens/s of each and the tokens chosen. */
async function run(m: typeof a): Promise<{ prefill: number; decode: number; tokens: number[] }> {
  m.model.rewind(0);
  const t0 = performance.now();
  const greedy = async (input: number[]): Promise<number> => {
    const { token } = await m.model.forward(input, 'argmax');
    if (token === null) throw new Error('argmax gave no token');
    return token;
  };
  let next = await greedy(ids);
  const t1 = performance.now();
  const tokens: number[] = [];
  for (let i = 0; i < n; i++) {
    tokens.push(next);
    next = await greedy([next]);
  }
  const t2 = performance.now();
  return { prefill: (1000 * p) / (t1 - t0), decode: (1000 * n) / (t2 - t1), tokens };
}
await run(a); // compile and warm up
await run(b);
const ra: Awaited<ReturnType<typeof run>>[] = [];
const rb: typeof ra = [];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? ([a, b] as const) : ([b, a] as const);
  for (const m of order) (m === a ? ra : rb).push(await run(m));
  console.log(`round ${r + 1}: A prefill ${ra[r]!.prefill.toFixed(2)} decode ${ra[r]!.decode.toFixed(2)} · B prefill ${rb[r]!.prefill.toFixed(2)} decode ${rb[r]!.decode.toFixed(2)} tokens/s`);
}
const med = (xs: number[]) => median(xs);
console.log(
  `median: A prefill ${med(ra.map((x) => x.prefill)).toFixed(2)} decode ${med(ra.map((x) => x.decode)).toFixed(2)} · B prefill ${med(rb.map((x) => x.prefill)).toFixed(2)} decode ${med(rb.map((x) => x.decode)).toFixed(2)} tokens/s`,
);
console.log(`B ÷ A (median of per-round ratios): prefill ${med(ra.map((x, i) => rb[i]!.prefill / x.prefill)).toFixed(2)}×, decode ${med(ra.map((x, i) => rb[i]!.decode / x.decode)).toFixed(2)}×`);
console.log(`same greedy tokens: ${ra[0]!.tokens.filter((t, i) => t === rb[0]!.tokens[i]).length}/${n}`);
await a.close();
await b.close();
ctx.destroy();
