/**
 * Training as a task of the durable queue (`model.train`): the queue reruns a task that was
 * running when its process died, and the session resumes from the run's last checkpoint in
 * PixelFS, so a training killed with SIGKILL continues where its checkpoints left it, whether it
 * was started by `pxi train` or by the app. The recipe itself is in the task's params (not a path
 * to it), so a resumed task trains exactly what it started.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { GpuContext } from '../../shared/gpu';
import { parseRecipe, RecipeSchema, type Recipe } from '../../shared/train/recipe';
import type { ModelStore } from '../models/store';
import { TaskParamsError, type StoreProvider } from '../models/task-params';
import { writeFileDurable } from '../pixelfs/file-ops';
import type { TaskHandler } from '../tasks/queue';
import { loadTrainData } from './data';
import { trainSession, type TrainEvent } from './session';

export const TRAIN_TASK = 'model.train';

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => path.isAbsolute(p), 'must be an absolute path');

export const TrainParams = z.strictObject({
  recipe: RecipeSchema,
  /** Folder that relative data paths in the recipe are resolved against. */
  recipeDir: absolutePath,
  run: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
  out: absolutePath.optional(),
  import: z.boolean().default(true),
});
export type TrainTaskParams = z.infer<typeof TrainParams>;

export interface TrainTaskDeps {
  store: StoreProvider;
  openContext: () => Promise<GpuContext>;
  /** Every training event of a task (progress lines, the UI's curves). */
  onEvent?: (taskId: number, e: TrainEvent) => void;
  onMessage?: (taskId: number, message: string) => void;
}

export interface TrainTaskResult {
  run: string;
  step: number;
  model: string | null;
  validLoss: number | null;
}

/** The source file name a trained model is imported from: how a model made by training is told from one a user imported. */
const TRAINED_SUFFIX = '.trained.gguf';

/**
 * Imports a trained run's GGUF into the store under the recipe's name, replacing the model an
 * earlier training of that name imported; a model of that name the user imported from elsewhere
 * is kept, and the trained one takes the name NAME-trained (then NAME-trained-2, …). Returns its id.
 */
export async function importTrainedModel(store: ModelStore, recipe: Pick<Recipe, 'name'>, run: string, gguf: Uint8Array, say: (m: string) => void): Promise<string> {
  const tmp = path.join(store.root, `.${run}${TRAINED_SUFFIX}`);
  await writeFileDurable(tmp, gguf);
  try {
    const models = store.list();
    const trained = (id: string) => store.manifest(id).source.fileName.endsWith(TRAINED_SUFFIX);
    let name = recipe.name;
    const existing = models.find((m) => m.name === name);
    if (existing && trained(existing.id)) {
      await store.remove(existing.id);
    } else if (existing) {
      name = `${recipe.name}-trained`;
      for (let i = 2; models.some((m) => m.name === name && !trained(m.id)); i++) name = `${recipe.name}-trained-${i}`;
      const previous = models.find((m) => m.name === name);
      if (previous) await store.remove(previous.id);
      say(`a model named ${recipe.name} that training did not make is in the volume: it is kept, and this one is named ${name}`);
    }
    const model = (await store.import(tmp, { name })).model.id;
    say(`imported as model ${name}`);
    return model;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

export function trainTaskHandler(deps: TrainTaskDeps): TaskHandler {
  return {
    kind: TRAIN_TASK,
    unit: 'steps',
    validate(params) {
      const r = TrainParams.safeParse(params);
      if (!r.success) throw new TaskParamsError(TRAIN_TASK, r.error, params);
      parseRecipe(r.data.recipe, `${TRAIN_TASK} recipe`);
      return r.data;
    },
    async run(raw, ctx): Promise<TrainTaskResult> {
      const p = TrainParams.parse(raw);
      const recipe = parseRecipe(p.recipe, `${TRAIN_TASK} recipe`);
      const store = await deps.store();
      const say = (m: string) => deps.onMessage?.(ctx.taskId, m);
      ctx.progress(0, recipe.train.steps, ctx.resuming ? 'resuming' : 'preparing data');
      const data = await loadTrainData(recipe, p.recipeDir, store, say, ctx.signal);
      const gpu = await deps.openContext();
      try {
        const r = await trainSession({
          recipe,
          run: p.run,
          volume: store.volume,
          ctx: gpu,
          data,
          signal: ctx.signal,
          onEvent: (e) => {
            deps.onEvent?.(ctx.taskId, e);
            if (e.kind === 'step') ctx.progress(e.step, e.steps, `loss ${e.loss.toFixed(4)}, ${Math.round(e.tokensPerSec)} tokens/s`);
          },
        });
        if (p.out) await writeFileDurable(p.out, r.gguf);
        const model = p.import ? await importTrainedModel(store, recipe, p.run, r.gguf, say) : null;
        return { run: p.run, step: r.state.step, model, validLoss: r.state.valid.at(-1)?.loss ?? null };
      } finally {
        gpu.destroy();
      }
    },
  };
}
