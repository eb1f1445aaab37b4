/**
 * The verify use case, written once for `pxi verify` and the `model.verify` task: every file of
 * a stored model re-read and re-hashed (a few at once, electron/models/verify.ts checks each),
 * progress by bytes and files, the problems located by tile, tensor and GGUF byte range, and the
 * report kept as the model's verify state.
 */
import { performance } from 'node:perf_hooks';
import { throwIfAborted } from '../models/errors';
import { RateMeter } from '../models/progress';
import type { ModelStore } from '../models/store';
import type { ModelProblem, ModelVerifyReport, OperationProgress } from '../models/types';

export interface VerifyOptions {
  signal?: AbortSignal;
  onProgress?: (p: OperationProgress) => void;
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure stops new starts. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (failure === null && next < items.length) {
      if (signal?.aborted) return;
      const i = next++;
      try {
        await fn(items[i]!, i);
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw (failure as { e: unknown }).e;
}

/**
 * Re-reads and re-hashes every tile of every file of the model and checks each file's sha256
 * against the manifest. Damage is located by tile, tensor and GGUF byte range; damage is the
 * report's finding (`ok: false`), not a failure.
 */
export async function verifyModel(store: ModelStore, ref: string, opts: VerifyOptions = {}): Promise<ModelVerifyReport> {
  const t0 = performance.now();
  const plan = await store.verifyPlan(ref);
  const files = plan.parts;
  const total = files.reduce((n, f) => n + Math.max(0, f.file.size), 0);
  const meter = new RateMeter();
  const progress = { bytesDone: 0, filesDone: 0 };
  const results: ModelProblem[][] = files.map(() => []);
  let tilesChecked = 0;
  let bytesChecked = 0;
  await eachLimited(
    files,
    plan.parallel,
    async (f, i) => {
      throwIfAborted(opts.signal, 'verify');
      const c = await plan.check(f);
      results[i] = c.problems;
      if (!c.found) return;
      tilesChecked += c.tilesChecked;
      bytesChecked += c.bytesChecked;
      progress.bytesDone += Math.max(0, f.file.size);
      progress.filesDone++;
      const rate = meter.sample(progress.bytesDone, total);
      opts.onProgress?.({ ...progress, bytesTotal: total, ...rate, fileCount: files.length });
    },
    opts.signal,
  );
  throwIfAborted(opts.signal, 'verify');
  const problems = results.flat();
  const report: ModelVerifyReport = {
    ok: problems.length === 0,
    model: { ...plan.model, verified: problems.length === 0 ? 'ok' : 'corrupt' },
    filesChecked: files.length,
    tilesChecked,
    bytesChecked,
    problems,
    seconds: (performance.now() - t0) / 1000,
  };
  plan.record(report);
  return report;
}
