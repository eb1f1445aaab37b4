/**
 * `pxi bench`: prefill and decode speed of our WGSL engine and of llama.cpp (CPU) on the same
 * GGUF file, the same prompt token ids and the same number of generated tokens, in one run;
 * the effective bandwidth of weight reads per decode token; and where a decode step's time goes
 * (per-kernel GPU times from timestamp queries). This file reads the options and prints; the
 * bench itself is electron/cli/bench/ (results, accounting, context, llama, run, format), also
 * the engine of `npm run bench:decode` (scripts/bench/decode-bench.ts) and of the GPU-machine
 * script (scripts/device/), so all three measure the same way. See specs/benchmarks.md.
 */
import { existsSync } from 'node:fs';
import { savedTuningFor, tuningFilePath } from '../../engine/tuning-store';
import { openBenchContext } from '../bench/context';
import { parseTuning } from '../bench/accounting';
import { formatBench } from '../bench/format';
import { openLlamaCpp, type LlamaCpp } from '../bench/llama';
import { defaultThreads, runBench } from '../bench/run';
import { EXIT, UsageError, parseOptions, type Command } from '../command';

function intArg(flag: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const x = Number(v);
  if (v.trim() === '' || !Number.isInteger(x) || x < min || x > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return x;
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'prefill/decode speed of the WGSL engine against llama.cpp (CPU) on one GGUF',
  help: `Usage: pxi bench MODEL.gguf [-p N] [-n N] [--threads N] [--tuning WGxTPR]
                [--breakdown-steps N] [--no-llama] [--llama-cpp DIR] [--json]

Runs the same prompt (N fixed token ids) and greedy generation through our WGSL engine on
the Node WebGPU adapter (Dawn; Mesa lavapipe on machines without a GPU), then through
llama.cpp on the CPU (node-llama-cpp's prebuilt CPU build, its default F16 KV cache),
one after the other in this process. Prints for both: prefill and decode tokens/s, the
ratio ours / llama.cpp, the effective GB/s of weights read per decode token (weight-matrix
bytes × decode tokens/s), and a per-kernel breakdown of our decode step: GPU time per
kernel from timestamp queries where the adapter has them (the timed steps run one compute
pass per dispatch), otherwise only the wall time per step (said so in the output).
Decode is timed over generated tokens 2..n (the first comes out of the prefill).

Options:
  -p, --prompt-tokens N    prompt length in tokens (default 32)
  -n, --n-predict N        tokens to generate, at least 2 (default 16)
  --threads N[,N...]       llama.cpp CPU threads, one run per count; ours is compared with
                           the fastest decode (default: 1 and all cores, here ${defaultThreads().join(',')}:
                           on a busy machine llama.cpp's spinning threads can collapse)
  --tuning WGxTPR          our weight kernels' workgroup size x threads per row, for every
                           kernel (default: the decode shapes pxi tune saved for this
                           adapter, else 64x1; 16-64 threads per row suit GPUs)
  --breakdown-steps N      decode steps timed kernel by kernel after the run (default 4; 0: none)
  --no-llama               run ours only
  --llama-cpp DIR          where node-llama-cpp is (default: $PXI_LLAMA_CPP, then
                           tests/llama-cpp/node_modules from scripts/bootstrap.sh); when it is
                           missing the llama.cpp row says why and ours still runs
  --json                   print one JSON object (all figures) instead of the tables
  -h, --help               show this help

Exit codes: 0 done, 1 failed (no WebGPU, unsupported model), 2 usage error, 130 interrupted.`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(
      argv,
      {
        'prompt-tokens': { type: 'string', short: 'p' },
        'n-predict': { type: 'string', short: 'n' },
        threads: { type: 'string' },
        tuning: { type: 'string' },
        'breakdown-steps': { type: 'string' },
        'no-llama': { type: 'boolean' },
        'llama-cpp': { type: 'string' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (positionals.length === 0) throw new UsageError('pxi bench needs a model: pxi bench MODEL.gguf');
    if (positionals.length > 1) throw new UsageError(`pxi bench takes one model, got ${positionals.length} arguments`);
    const path = positionals[0]!;
    if (!existsSync(path)) throw new UsageError(`no such model file: ${path}`);
    const p = intArg('--prompt-tokens', values['prompt-tokens'], 32, 1, 4096);
    const n = intArg('--n-predict', values['n-predict'], 16, 2, 4096);
    const threads = values.threads === undefined ? defaultThreads() : values.threads.split(',').map((t) => intArg('--threads', t, 1, 1, 1024));
    const steps = intArg('--breakdown-steps', values['breakdown-steps'], 4, 0, 64);
    const tuning = values.tuning === undefined ? undefined : parseTuning(values.tuning);
    if (values['no-llama'] && values['llama-cpp'] !== undefined) throw new UsageError('--no-llama and --llama-cpp contradict each other');

    const abort = new AbortController();
    void io.interrupted.then(() => abort.abort());
    const say = values.json ? () => undefined : (l: string) => io.err(l);
    const ctx = await openBenchContext();
    let lc: LlamaCpp | null = null;
    let skip = values['no-llama'] ? '--no-llama' : '';
    try {
      if (!values['no-llama']) {
        const r = await openLlamaCpp(values['llama-cpp']);
        if ('reason' in r) skip = r.reason;
        else lc = r;
      }
      // Without --tuning, the shapes pxi tune measured on this adapter (if any).
      const saved = tuning ? undefined : savedTuningFor(ctx, tuningFilePath(), (m) => io.err(`warning: ${m}`));
      const result = await runBench(ctx, path, {
        promptTokens: p,
        genTokens: n,
        breakdownSteps: steps,
        ...(tuning ? { tuning } : saved ? { matvecTuning: saved.table, intMatvec: saved.intMatvec, prefillMatmul: saved.prefillMatmul } : {}),
        llama: lc,
        llamaSkipReason: skip,
        threads,
        signal: abort.signal,
        onStatus: say,
      });
      io.out(values.json ? JSON.stringify(result) : formatBench(result));
      return EXIT.OK;
    } catch (e) {
      if (abort.signal.aborted) {
        io.err('pxi bench: interrupted');
        return EXIT.INTERRUPTED;
      }
      throw e;
    } finally {
      await lc?.dispose();
      ctx.destroy();
    }
  },
};
