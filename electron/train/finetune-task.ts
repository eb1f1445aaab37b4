/**
 * Fine-tuning as a task of the durable queue (`model.finetune`), as training is (./task.ts): a
 * run killed mid-way stays 'running' in the queue, the next `pxi finetune` (or the app) reruns
 * it, and it resumes from its last checkpoint in PixelFS. The settings travel in the task's
 * params, so a resumed task fine-tunes exactly what it started.
 */
import path from 'node:path';
import { z } from 'zod';
import type { GpuContext } from '../../shared/gpu';
import { FinetuneRecipeSchema, parseFinetuneRecipe } from '../../shared/train/finetune-recipe';
import { TaskParamsError, type StoreProvider } from '../models/task-params';
import { writeFileDurable } from '../pixelfs/file-ops';
import type { TaskHandler } from '../tasks/queue';
import { finetuneSession } from './finetune';
import { importTrainedModel } from './task';
import type { TrainEvent } from './session';

export const FINETUNE_TASK = 'model.finetune';

export const FinetuneParams = z.strictObject({
  recipe: FinetuneRecipeSchema,
  /** Also write the adapter to this file. */
  out: z
    .string()
    .min(1)
    .max(4096)
    .refine((p) => path.isAbsolute(p), 'must be an absolute path')
    .optional(),
});
export type FinetuneTaskParams = z.infer<typeof FinetuneParams>;

export interface FinetuneTaskResult {
  run: string;
  step: number;
  validLoss: number | null;
  /** LoRA: the adapter in the volume (beside its base), or null for a base given as a file. */
  adapter: string | null;
  /** Full fine-tuning: the fine-tuned model's id in the volume. */
  model: string | null;
  out: string | null;
}

export interface FinetuneTaskDeps {
  store: StoreProvider;
  openContext: () => Promise<GpuContext>;
  onEvent?: (taskId: number, e: TrainEvent) => void;
  onMessage?: (taskId: number, message: string) => void;
}

export function finetuneTaskHandler(deps: FinetuneTaskDeps): TaskHandler {
  return {
    kind: FINETUNE_TASK,
    unit: 'steps',
    validate(params) {
      const r = FinetuneParams.safeParse(params);
      if (!r.success) throw new TaskParamsError(FINETUNE_TASK, r.error, params);
      parseFinetuneRecipe(r.data.recipe, `${FINETUNE_TASK} recipe`);
      return r.data;
    },
    async run(raw, ctx): Promise<FinetuneTaskResult> {
      const p = FinetuneParams.parse(raw);
      const recipe = parseFinetuneRecipe(p.recipe, `${FINETUNE_TASK} recipe`);
      const store = await deps.store();
      ctx.progress(0, recipe.train.steps, ctx.resuming ? 'resuming' : 'preparing data');
      const gpu = await deps.openContext();
      try {
        const r = await finetuneSession({
          recipe,
          store,
          ctx: gpu,
          signal: ctx.signal,
          onMessage: (m) => deps.onMessage?.(ctx.taskId, m),
          onEvent: (e) => {
            deps.onEvent?.(ctx.taskId, e);
            if (e.kind === 'step') ctx.progress(e.step, e.steps, `loss ${e.loss.toFixed(4)}, ${Math.round(e.tokensPerSec)} tokens/s`);
          },
        });
        if (p.out) await writeFileDurable(p.out, r.output);
        const model = recipe.mode === 'full' ? await importTrainedModel(store, recipe, recipe.name, r.output, (m) => deps.onMessage?.(ctx.taskId, m)) : null;
        return { run: recipe.name, step: r.state.step, validLoss: r.state.valid.at(-1)?.loss ?? null, adapter: r.volumePath, model, out: p.out ?? null };
      } finally {
        gpu.destroy();
      }
    },
  };
}
