/**
 * `pxi train`: trains a llama/qwen2 model from scratch with the WGSL training engine
 * (specs/training.md): recipe → tokenizer → token shards → steps with checkpoints in PixelFS →
 * a GGUF imported into the volume like any other model.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PxiError } from '../../../shared/errors';
import { parseRecipe, type Recipe } from '../../../shared/train/recipe';
import { parameterCount } from '../../../shared/train/config';
import { modelConfigOf } from '../../../shared/train/recipe';
import { TRAIN_TASK, trainTaskHandler, type TrainTaskParams, type TrainTaskResult } from '../../train/task';
import { removeRun } from '../../train/checkpoint';
import { describeModel } from '../../train/session';
import { EXIT, UsageError, parseOptions, type Command } from '../command';
import { openTrainingQueue, runTrainingTask, trainingCommandSetup } from '../training-task';

const INT_FLAGS = ['steps', 'batch', 'accum', 'seed', 'eval-every', 'checkpoint-every', 'sample-every'] as const;

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a model from scratch on the GPU (WGSL), with checkpoints in the volume',
  help: `Usage: pxi train RECIPE.json [options]

Trains the model a recipe describes (its shape, its text, its batch and schedule: see
resources/models/*.recipe.json and specs/training.md) with the WGSL training engine on this
machine's WebGPU adapter. First it learns the tokenizer from the training text and tokenizes
the text into shards stored in the volume; then it steps, printing the loss, the learning
rate, the gradient norm, tokens/s and the ETA; every eval-every steps the loss on the
validation text; every checkpoint-every steps a checkpoint in the volume (PixelFS files
train/RUN/step-N/...: weights, optimizer moments, history; durable and atomic).

Ctrl-C writes a checkpoint and stops (exit 130); a kill loses at most the steps since the
last checkpoint. Run the same command again and it resumes from the last checkpoint, ending
with the same weights as a run that never stopped. At the end the model is written as a
GGUF (llama.cpp loads it) and imported into the volume under the recipe's name.

Options:
  ${'--volume DIR'.padEnd(18)} the volume (default $PXI_HOME/volume or ~/.pixel-llm/volume), created if missing
  --name RUN          name of the run (default: the recipe's name)
  --out FILE.gguf     also write the final model there
  --no-import         do not import the final model into the volume
  --fresh             discard the run's checkpoints and start again
  --steps N, --batch N, --accum N, --seed N, --lr X, --eval-every N,
  --checkpoint-every N, --sample-every N
                      override the recipe's train.* values
  --json              print events as JSON lines on stdout
  -h, --help          show this help

Exit codes: 0 trained, 1 failed (the last checkpoint is kept), 2 usage error or bad recipe,
130 interrupted (rerun to resume).`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(
      argv,
      {
        volume: { type: 'string' },
        name: { type: 'string' },
        out: { type: 'string' },
        'no-import': { type: 'boolean' },
        fresh: { type: 'boolean' },
        lr: { type: 'string' },
        json: { type: 'boolean' },
        ...Object.fromEntries(INT_FLAGS.map((f) => [f, { type: 'string' as const }])),
      },
      true,
    );
    if (positionals.length !== 1) throw new UsageError('pxi train takes one RECIPE.json (see pxi train --help)');
    const recipePath = path.resolve(positionals[0]!);
    let text: string;
    try {
      text = fs.readFileSync(recipePath, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the recipe ${recipePath}: ${(e as Error).message}`);
    }
    let recipe: Recipe;
    try {
      const raw = JSON.parse(text) as { train?: Record<string, unknown> };
      raw.train ??= {};
      const camel = (f: string) => f.replace(/-(.)/g, (_, c: string) => c.toUpperCase());
      for (const f of INT_FLAGS) {
        const v = (values as Record<string, string | undefined>)[f];
        if (v === undefined) continue;
        if (!/^\d+$/.test(v)) throw new UsageError(`--${f} must be a non-negative integer, got ${JSON.stringify(v)}`);
        raw.train[camel(f)] = Number(v);
      }
      if (values.lr !== undefined) {
        const lr = Number(values.lr);
        if (!(lr > 0)) throw new UsageError(`--lr must be a positive number, got ${JSON.stringify(values.lr)}`);
        raw.train.lr = lr;
      }
      recipe = parseRecipe(raw, recipePath);
    } catch (e) {
      if (e instanceof SyntaxError) throw new UsageError(`${recipePath}: not valid JSON (${e.message})`);
      if (e instanceof PxiError && e.code === 'TRAIN_CONFIG') throw new UsageError(e.message);
      throw e;
    }
    const run = values.name ?? recipe.name;
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(run)) throw new UsageError(`--name must be letters, digits, dot, dash or underscore, got ${JSON.stringify(run)}`);
    const setup = trainingCommandSetup(io, { json: values.json === true, volume: values.volume });
    const { say, emit } = setup;
    const params: TrainTaskParams = {
      recipe,
      recipeDir: path.dirname(recipePath),
      run,
      import: values['no-import'] !== true,
      ...(values.out ? { out: path.resolve(values.out) } : {}),
    };

    // Training runs as a task of the data folder's durable queue: a run killed mid-way is still
    // 'running' there, and the next pxi train (or the app) resumes it from its last checkpoint.
    const queue = openTrainingQueue(setup, { command: 'pxi train', memory: 'GPU memory', bitsPerToken: true, samples: true }, trainTaskHandler);
    try {
      const continuing = queue.list().some((t) => t.kind === TRAIN_TASK && (t.state === 'running' || t.state === 'queued') && (t.params as TrainTaskParams).run === run);
      if (!continuing || values.fresh) say(`pxi train: ${run}: ${describeModel(recipe)}; ${(parameterCount(modelConfigOf(recipe)) / 1e6).toFixed(2)} M parameters`);
      const outcome = await runTrainingTask<TrainTaskParams>({
        queue,
        command: 'pxi train',
        kind: TRAIN_TASK,
        run,
        params,
        ofRun: (p) => p.run === run,
        sameSettings: (p) => JSON.stringify(p.recipe) === JSON.stringify(recipe),
        what: 'training',
        changed: 'with a different recipe',
        fresh: values.fresh === true,
        removeRun: async () => removeRun((await setup.store()).volume, run),
        interrupted: io.interrupted,
        say,
      });
      if (outcome === null) return EXIT.INTERRUPTED;
      const r = outcome.result as TrainTaskResult;
      if (values.out) say(`pxi train: wrote ${values.out}`);
      emit({ kind: 'result', ...r });
      say(`pxi train: done: ${r.step} steps${r.validLoss !== null ? `, validation loss ${r.validLoss.toFixed(4)}` : ''}`);
      return EXIT.OK;
    } finally {
      await queue.close().catch(() => undefined);
      await setup.closeStore();
    }
  },
};
