/**
 * `pxi tune`: the engine measures its own decode kernels on this machine's adapter and keeps the
 * fastest shape per weight type (shared/engine/autotune.ts); `pxi run`, `pxi chat` and
 * `pxi bench` then use it. specs/engine.md, "Kernel tuning".
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { adapterKey, candidateName, intMatvecTable, kernelsKey, TUNING_CANDIDATES, tuneWeightKernels, tuningTable, type CandidateTiming } from '../../../shared/engine/autotune';
import { confirmTuning } from '../../engine/confirm-tuning';
import { isWeightType, WEIGHT_TYPES, type WeightType } from '../../../shared/engine/quant-matmul';
import { adapterName } from '../../../shared/gpu/adapter';
import { openBenchContext } from '../bench/context';
import { forgetTuning, saveTuningRecord, tuningFilePath } from '../../engine/tuning-store';
import { defaultDataDir } from '../../app-meta';
import { openSessionStore } from '../../services/session-handlers';
import { sessionsFilePath } from '../../sessions/store';
import { kernelTuningSession } from '../../../shared/sessions/kernel-tuning';
import { EXIT, UsageError, parseOptions, type Command } from '../command';

const shape = (t: { workgroupSize: number; threadsPerRow: number }) => `${t.workgroupSize}x${t.threadsPerRow}`;

export const tuneCommand: Command = {
  name: 'tune',
  summary: "measure the decode kernels' shapes on this adapter and keep the fastest",
  help: `Usage: pxi tune [--types T,...] [--size N] [--rounds R] [--confirm MODEL.gguf] [--file PATH] [--dry-run] [--forget] [--json]

For each weight type, times the decode kernel (matrix × vector) of a random N × N matrix in
each candidate shape (${TUNING_CANDIDATES.map(shape).join(', ')}: invocations per workgroup ×
threads sharing a row), after checking that each computes what the default shape (64x1)
computes. A shape replaces the default only when, round by round, it is faster by more
than 10 % with 95 % confidence (a bootstrap interval of the median per-round speed ratio
must clear 1.11×), timed by the GPU's own unquantised timestamps where the adapter has
them. The run is recorded as a session for the app's Dashboard. The result is
saved per adapter and kernel version; pxi run, chat and bench load models with it, and say so.
A driver update or a changed kernel needs a new measurement (the old one no longer matches).

Options:
  --types T,...   weight types to measure (default: ${WEIGHT_TYPES.join(',')})
  --size N        matrix side, a multiple of 256 (default 2048)
  --rounds R      timed rounds; each shape is compared with the default round by round
                  and the interval of the median ratio decides (default 5)
  --confirm MODEL.gguf
                  then decode 16 greedy tokens of MODEL with the default and the kept
                  shapes, alternately, and record both tokens/s as the session's
                  end-to-end confirmation
  --file PATH     the tuning file (default $PXI_HOME/kernel-tuning.json, or ~/.pixel-llm/…)
  --dry-run       measure and print, save nothing
  --forget        remove this adapter's saved measurement, measure nothing
  --json          print the record as JSON
  -h, --help      show this help

Exit codes: 0 done, 1 no WebGPU or a failure, 2 usage error, 130 interrupted.`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      types: { type: 'string' },
      size: { type: 'string' },
      rounds: { type: 'string' },
      file: { type: 'string' },
      confirm: { type: 'string' },
      'dry-run': { type: 'boolean' },
      forget: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const types = (values.types ?? WEIGHT_TYPES.join(',')).split(',').map((t) => t.trim());
    for (const t of types) if (!isWeightType(t)) throw new UsageError(`--types: ${JSON.stringify(t)} is not one of ${WEIGHT_TYPES.join(', ')}`);
    const size = values.size === undefined ? 2048 : Number(values.size);
    if (!Number.isInteger(size) || size < 256 || size % 256 !== 0 || size > 16384) throw new UsageError(`--size must be a multiple of 256 from 256 to 16384, got ${JSON.stringify(values.size)}`);
    const rounds = values.rounds === undefined ? 5 : Number(values.rounds);
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new UsageError(`--rounds must be an integer from 1 to 100, got ${JSON.stringify(values.rounds)}`);
    const file = values.file ?? tuningFilePath();
    if (values.confirm !== undefined && (values['dry-run'] || values.forget)) throw new UsageError('--confirm goes with a measurement that is kept (not with --dry-run or --forget)');
    if (values.confirm !== undefined && !existsSync(values.confirm)) throw new UsageError(`--confirm: no such model file: ${values.confirm}`);

    // Unquantised timestamps (Dawn rounds them to ~65 µs by default): the tuner times the kernels with them where the adapter has timestamp-query.
    const ctx = await openBenchContext();
    const abort = new AbortController();
    void io.interrupted.then(() => abort.abort());
    try {
      const adapter = adapterName(ctx.adapter, 'WebGPU');
      if (values.forget) {
        const forgot = await forgetTuning(file, adapterKey(ctx.adapter), kernelsKey(ctx));
        io.err(forgot ? `pxi tune: forgot the measurement for ${adapter} in ${file}` : `pxi tune: nothing saved for ${adapter} in ${file}`);
        return EXIT.OK;
      }
      io.err(`pxi tune: ${adapter}, ${size} × ${size}, ${rounds} rounds per shape, timed ${ctx.caps.timestamps ? 'by GPU timestamps' : 'by the wall clock (no timestamp-query)'}`);
      const lines: string[] = [];
      const startedAt = new Date().toISOString();
      const timings: Partial<Record<WeightType, readonly CandidateTiming[]>> = {};
      const record = await tuneWeightKernels(ctx, {
        types: types as WeightType[],
        rows: size,
        cols: size,
        rounds,
        clock: 'gpu',
        // Prefill too: the tiled products against the default matmul (kept only where proven faster).
        prefill: true,
        signal: abort.signal,
        onProgress: (p) => io.err(`  measuring ${p.type} (${p.typeIndex + 1}/${p.typeCount})…`),
        onTimings: (type, measured: readonly CandidateTiming[]) => {
          timings[type] = measured.map((t) => ({ ...t, rounds: [...t.rounds] }));
          const shown = measured.map((t) => (t.agrees ? `${candidateName(t)} ${t.ms.toFixed(2)}` : `${candidateName(t)} wrong`)).join(' · ');
          lines.push(`  ${type.padEnd(5)} ms per product: ${shown}`);
        },
      });
      if (!values.json) {
        for (const l of lines) io.err(l);
        io.out('type   chosen  best ms (default)   speed-up (median per round) [95 % interval of the kept shape, or of the closest]');
        for (const type of types as WeightType[]) {
          const t = record.types[type]!;
          io.out(`${type.padEnd(6)} ${candidateName({ tuning: t.tuning, ...(t.intMatvec ? { int: t.intMatvec } : {}) }).padEnd(7)} ${t.ms.toFixed(2).padStart(7)} (${t.defaultMs.toFixed(2)})      ${t.speedup.toFixed(2)}×${t.interval ? ` [${t.interval.lo.toFixed(2)}× to ${t.interval.hi.toFixed(2)}×]` : ''}`);
        }
        for (const type of types as WeightType[]) {
          const f = record.types[type]!.prefill;
          if (f) io.out(`${type.padEnd(6)} prefill ${f.tokens} tokens: ${f.variant ?? 'matmul'} ${f.ms.toFixed(2)} ms (matmul ${f.defaultMs.toFixed(2)}), ${f.speedup.toFixed(2)}×${f.interval ? ` [${f.interval.lo.toFixed(2)}× to ${f.interval.hi.toFixed(2)}×${f.variant ? '' : ` for ${f.challenger}`}]` : ''}`);
        }
      } else {
        io.out(JSON.stringify(record));
      }
      if (!values['dry-run']) {
        await saveTuningRecord(file, record);
        io.err(`pxi tune: saved to ${file}`);
        // The run as a self-improvement session (the app's dashboard lists it); failing to record it loses no measurement.
        const sessions = openSessionStore(sessionsFilePath(defaultDataDir()), file);
        let session = kernelTuningSession({ record, timings, startedAt, finishedAt: new Date().toISOString(), driver: adapter, model: null, by: 'pxi tune' });
        if (values.confirm) {
          io.err(`pxi tune: confirming on ${values.confirm}…`);
          const confirmation = await confirmTuning(ctx, values.confirm, tuningTable(record), { intMatvec: intMatvecTable(record) });
          io.err(`pxi tune: decode ${confirmation.baselineTokensPerSecond!.toFixed(2)} tokens/s with the default shapes, ${confirmation.tokensPerSecond.toFixed(2)} with the kept ones`);
          session = { ...session, model: basename(values.confirm), confirmation };
        }
        await sessions.add(session).then(
          (s) => io.err(`pxi tune: recorded session ${s.id} in ${sessions.path}`),
          (e: Error) => io.err(`pxi tune: the session was not recorded: ${e.message}`),
        );
      }
      return EXIT.OK;
    } catch (e) {
      if (abort.signal.aborted) {
        io.err('pxi tune: interrupted, nothing saved');
        return EXIT.INTERRUPTED;
      }
      throw e;
    } finally {
      ctx.destroy();
    }
  },
};
