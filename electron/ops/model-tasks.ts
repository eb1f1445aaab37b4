/**
 * Task-queue handlers for the model store (use cases like the import, verify and export they run, so in ops/): `model.import`, `model.verify`, `model.export` and
 * `map.pyramid` (electron/tasks/queue.ts). Params are checked with zod when a task is enqueued.
 * Each handler is safe to run again after a crash or kill (the queue reruns a task that was
 * running, with `ctx.resuming`): import resumes from its `imports` record and the tiles PixelFS
 * kept; verify is read-only; export writes a temp file and renames it, and on a rerun first
 * removes the temp files an interrupted run left (and skips the work when the finished file is
 * already there); the pyramid resumes at the first tensor not yet built.
 */
import path from 'node:path';
import { z } from 'zod';
import { exportModel, finishedExport, removeExportLeftovers } from './export';
import { importModel } from './import';
import { verifyModel } from './verify';
import { TaskParamsError, type StoreProvider } from '../models/task-params';
import type { TaskContext, TaskHandler } from '../tasks/queue';

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => path.isAbsolute(p), 'must be an absolute path (the task may run after a restart, from another folder)');
const modelRef = z.string().min(1).max(256);

export const ImportParams = z.strictObject({
  path: absolutePath,
  name: z.string().min(1).max(256).optional(),
  pyramid: z.boolean().default(true),
  /** The path is a browser upload staged on the server, deleted when this import ends: a retry needs a new upload. */
  upload: z.boolean().optional(),
});
export const VerifyParams = z.strictObject({ model: modelRef });
export const ExportParams = z.strictObject({ model: modelRef, out: absolutePath, overwrite: z.boolean().default(false) });
export const PyramidParams = z.strictObject({ model: modelRef, rebuild: z.boolean().default(false) });

/**
 * One store task: its params checked by `schema` at enqueue time (a TaskParamsError names the
 * kind and the field), and `run` handed the parsed params with the store already open.
 */
function storeTask<S extends z.ZodType>(
  getStore: StoreProvider,
  kind: string,
  schema: S,
  run: (p: z.infer<S>, store: Awaited<ReturnType<StoreProvider>>, ctx: TaskContext) => Promise<unknown>,
): TaskHandler {
  return {
    kind,
    unit: 'bytes',
    validate(params) {
      const r = schema.safeParse(params);
      if (!r.success) throw new TaskParamsError(kind, r.error, params);
      return r.data;
    },
    async run(params, ctx) {
      return run(params as z.infer<S>, await getStore(), ctx);
    },
  };
}

function pyramidProgress(ctx: TaskContext) {
  return (p: { bytesDone: number; bytesTotal: number; tensor: string; tensorIndex: number; tensorCount: number }) =>
    ctx.progress(p.bytesDone, p.bytesTotal, `pyramid: tensor ${p.tensorIndex + 1}/${p.tensorCount} ${p.tensor}`);
}

export function modelTaskHandlers(getStore: StoreProvider): TaskHandler[] {
  const importTask = storeTask(getStore, 'model.import', ImportParams, async (p, store, ctx) => {
    const r = await importModel(store, p.path, {
      ...(p.name === undefined ? {} : { name: p.name }),
      pyramid: p.pyramid,
      signal: ctx.signal,
      onProgress: (q) =>
        ctx.progress(q.bytesDone, q.bytesTotal, q.phase === 'reading' ? `tensor ${Math.min(q.tensorsDone + 1, q.tensorCount)}/${q.tensorCount}${q.tensor ? ` ${q.tensor}` : ''}` : q.phase),
      onPyramidProgress: pyramidProgress(ctx),
    });
    return {
      modelId: r.model.id,
      name: r.model.name,
      sha256: r.manifest.source.sha256,
      bytes: r.model.bytes,
      alreadyImported: r.alreadyImported,
      resumed: r.resumed,
      // The whole run (what "done" reports): the import, whose single pass builds the pyramid
      // too, and a read-back pyramid build after it when one was needed (else null).
      seconds: r.seconds,
      storeSeconds: r.storeSeconds,
      pyramidSeconds: r.pyramidSeconds,
      pyramid: r.pyramid && { built: r.pyramid.built, alreadyBuilt: r.pyramid.alreadyBuilt, skipped: r.pyramid.skipped },
    };
  });

  const verifyTask = storeTask(getStore, 'model.verify', VerifyParams, async (p, store, ctx) => {
    const rep = await verifyModel(store, p.model, { signal: ctx.signal, onProgress: (q) => ctx.progress(q.bytesDone, q.bytesTotal, `file ${q.filesDone}/${q.fileCount}`) });
    // Damage is a finding, not a failure of the task: the report says where it is.
    return { modelId: rep.model.id, ok: rep.ok, problems: rep.problems.length, firstProblems: rep.problems.slice(0, 20), tilesChecked: rep.tilesChecked, bytesChecked: rep.bytesChecked };
  });

  const exportTask = storeTask(getStore, 'model.export', ExportParams, async (p, store, ctx) => {
    const m = store.manifest(p.model);
    const leftovers = await removeExportLeftovers(p.out);
    if (ctx.resuming) {
      // The killed run may have renamed its file into place just before dying.
      if (await finishedExport(p.out, m.source.size, m.source.sha256, ctx.signal)) {
        return { path: p.out, size: m.source.size, sha256: m.source.sha256, reused: true, leftoversRemoved: leftovers };
      }
    }
    const r = await exportModel(store, p.model, p.out, {
      overwrite: p.overwrite,
      signal: ctx.signal,
      onProgress: (q) => ctx.progress(q.bytesDone, q.bytesTotal),
    });
    return { path: r.path, size: r.size, sha256: r.sha256, reused: false, leftoversRemoved: leftovers };
  });

  const pyramidTask = storeTask(getStore, 'map.pyramid', PyramidParams, async (p, store, ctx) => {
    const b = await store.buildPyramid(p.model, { signal: ctx.signal, rebuild: p.rebuild && !ctx.resuming, onProgress: pyramidProgress(ctx) });
    return { modelId: store.get(p.model).id, built: b.built, alreadyBuilt: b.alreadyBuilt, skipped: b.skipped, cells: b.cells };
  });

  return [importTask, verifyTask, exportTask, pyramidTask];
}
