/**
 * `pxi finetune`: LoRA fine-tuning of a model in the volume (or a GGUF file) on the user's text,
 * with the WGSL training engine over the frozen base in its own weight types
 * (specs/training.md, "Fine-tuning"). Runs as a task of the durable queue, like `pxi train`, so a
 * killed run resumes from its last checkpoint.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PxiError } from '../../../shared/errors';
import { parseFinetuneRecipe, type FinetuneRecipe } from '../../../shared/train/finetune-recipe';
import { trainConfigOfBase } from '../../../shared/train/frozen-base';
import { DEFAULT_LORA_TARGETS, LORA_TARGETS, loraParamSpecs, validateLoraSettings } from '../../../shared/train/lora';
import { paramSpecs, parameterCount } from '../../../shared/train/config';
import { tensorTypeName } from '../../../shared/engine/tensor-source';
import { removeRun } from '../../train/checkpoint';
import { openFinetuneBase } from '../../train/finetune';
import { FINETUNE_TASK, finetuneTaskHandler, type FinetuneTaskParams, type FinetuneTaskResult } from '../../train/finetune-task';
import { EXIT, UsageError, parseOptions, type Command } from '../command';
import { openTrainingQueue, runTrainingTask, trainingCommandSetup } from '../training-task';

const INT_FLAGS = { steps: 'steps', batch: 'batch', seq: 'seqLen', accum: 'accum', warmup: 'warmup', seed: 'seed', 'eval-every': 'evalEvery', 'checkpoint-every': 'checkpointEvery' } as const;
const NUM_FLAGS = { lr: 'lr', 'weight-decay': 'weightDecay', clip: 'clip' } as const;
const DEFAULT_SEQ = 256;

export const finetuneCommand: Command = {
  name: 'finetune',
  summary: 'LoRA fine-tuning of a model on your text (the base stays in its own weight types)',
  help: `Usage: pxi finetune MODEL --data FILE|CORPUS [--data ...] [options]

Trains LoRA adapters for MODEL (a model id or name in the volume, or a .gguf file; llama
and qwen2 models in any weight type the engine runs: F32, F16, BF16, Q8_0, Q4_0, Q4_K,
Q6_K, ...) on the given text with the WGSL training engine. The base model stays frozen on
the GPU in its own types (QLoRA-style); only the adapters learn. The text (files, or corpora
already in the volume: pxi corpus) is stored as a corpus and tokenized with the model's own
tokenizer. Progress prints the loss, learning rate, gradient norm, tokens/s and ETA; every
eval-every steps the loss on --valid text; every checkpoint-every steps a checkpoint in the
volume (train/RUN/...; durable and atomic).

At the end the adapter is written as a llama.cpp LoRA GGUF: kept in the volume beside its
base (adapters/MODEL-ID/RUN.gguf, for a stored model) and, with --out, to a file. Use it with
  pxi run MODEL --lora ADAPTER.gguf          (or llama.cpp's --lora)
  pxi export MODEL OUT.gguf --lora ADAPTER.gguf   (merged into the weights)
Ctrl-C writes a checkpoint and stops (exit 130); run the same command again to resume.

With --full, every weight of an F32, F16 or BF16 model is trained instead (no adapter), and
the result is a whole model: imported into the volume under the run's name (and written to
--out), its trained tensors as F32.

Options:
  --data FILE|CORPUS  training text (repeatable; required)
  --full              full fine-tuning (F32/F16/BF16 models) instead of LoRA
  --valid FILE|CORPUS validation text, never trained on (repeatable)
  --rank N            adapter rank (default 8)
  --alpha X           adapter alpha; the update is scaled by alpha / rank (default 16)
  --dropout P         dropout on the adapters' input during steps, 0 ≤ P < 1 (default 0)
  --targets LIST      matrices to adapt, comma-separated, from
                      ${LORA_TARGETS.join(',')}
                      (default: all of them)
  --steps N           optimizer steps (default 200)
  --batch N           sequences per micro-batch (default 4)
  --seq N             tokens per sequence (default min(${DEFAULT_SEQ}, the model's context))
  --accum N           micro-batches per step (default 1)
  --lr X              peak learning rate (default 1e-3), warmup then cosine to lr/10
  --warmup N          warmup steps (default 10)
  --weight-decay X    AdamW weight decay on the trained matrices (default 0)
  --clip X            clip the gradient norm to X (default 1; 0: off)
  --seed N            seeds A's initial values and the data windows (default 1)
  --eval-every N      validation every N steps (default 50)
  --checkpoint-every N  a checkpoint every N steps (default 50)
  --name RUN          name of the run and of its adapter or model (default MODEL-lora,
                      MODEL-full with --full)
  --out FILE.gguf     also write the adapter (the model, with --full) there
  --fresh             discard the run's checkpoints and start again
  --volume DIR        the volume (default $PXI_HOME/volume or ~/.pixel-llm/volume)
  --json              print events as JSON lines on stdout
  -h, --help          show this help

Exit codes: 0 trained, 1 failed (the last checkpoint is kept), 2 usage error,
130 interrupted (rerun to resume).`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(
      argv,
      {
        data: { type: 'string', multiple: true },
        valid: { type: 'string', multiple: true },
        rank: { type: 'string' },
        alpha: { type: 'string' },
        dropout: { type: 'string' },
        targets: { type: 'string' },
        name: { type: 'string' },
        out: { type: 'string' },
        fresh: { type: 'boolean' },
        full: { type: 'boolean' },
        volume: { type: 'string' },
        json: { type: 'boolean' },
        ...Object.fromEntries([...Object.keys(INT_FLAGS), ...Object.keys(NUM_FLAGS)].map((f) => [f, { type: 'string' as const }])),
      },
      true,
    );
    if (positionals.length !== 1) throw new UsageError('pxi finetune takes one MODEL (see pxi finetune --help)');
    const data = values.data ?? [];
    if (data.length === 0) throw new UsageError('--data FILE|CORPUS is required: the text to fine-tune on');
    const entry = (e: string) => (fs.existsSync(e) ? path.resolve(e) : e);
    const model = fs.existsSync(positionals[0]!) ? path.resolve(positionals[0]!) : positionals[0]!;
    if (/\.gguf$/i.test(positionals[0]!) && !fs.existsSync(positionals[0]!)) throw new UsageError(`no such model file: ${positionals[0]}`);
    const num = (flag: string, v: string, int: boolean): number => {
      const n = Number(v);
      if (v.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n))) throw new UsageError(`--${flag} must be ${int ? 'an integer' : 'a number'}, got ${JSON.stringify(v)}`);
      return n;
    };
    const train: Record<string, number> = {};
    for (const [flag, key] of Object.entries(INT_FLAGS)) {
      const v = (values as Record<string, string | undefined>)[flag];
      if (v !== undefined) train[key] = num(flag, v, true);
    }
    for (const [flag, key] of Object.entries(NUM_FLAGS)) {
      const v = (values as Record<string, string | undefined>)[flag];
      if (v !== undefined) train[key] = num(flag, v, false);
    }
    const targets = values.targets === undefined ? [...DEFAULT_LORA_TARGETS] : values.targets.split(',').map((t) => t.trim());
    const setup = trainingCommandSetup(io, { json: values.json === true, volume: values.volume });
    const { say, emit } = setup;
    try {
      // The base is opened here first: its identity goes into the settings, and a model the
      // engine cannot fine-tune is refused before anything is queued.
      let recipe: FinetuneRecipe;
      {
        const base = await openFinetuneBase(await setup.store(), model).catch((e: unknown) => {
          if (e instanceof PxiError && (e.code === 'MODEL_NOT_FOUND' || e.code === 'TRAIN_CONFIG')) throw new UsageError(e.message);
          throw e;
        });
        try {
          let cfg;
          try {
            cfg = trainConfigOfBase(base.source.header);
          } catch (e) {
            if (e instanceof PxiError) throw new UsageError(e.message);
            throw e;
          }
          const full = values.full === true;
          if (full && (values.rank !== undefined || values.alpha !== undefined || values.targets !== undefined || values.dropout !== undefined)) throw new UsageError('--rank, --alpha, --targets and --dropout are LoRA settings: not with --full');
          const name = values.name ?? `${path.basename(model).replace(/\.gguf$/i, '').replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100)}-${full ? 'full' : 'lora'}`;
          try {
            recipe = parseFinetuneRecipe(
              {
                kind: 'finetune',
                mode: full ? 'full' : 'lora',
                name,
                base: { model, identity: base.identity },
                lora: { ...(values.rank !== undefined ? { rank: num('rank', values.rank, true) } : {}), ...(values.alpha !== undefined ? { alpha: num('alpha', values.alpha, false) } : {}), ...(values.dropout !== undefined ? { dropout: num('dropout', values.dropout, false) } : {}), targets },
                data: { train: data.map(entry), valid: (values.valid ?? []).map(entry) },
                train: { seqLen: Math.min(DEFAULT_SEQ, cfg.context), ...train },
              },
              'pxi finetune',
            );
            if (!full) validateLoraSettings(cfg, recipe.lora);
          } catch (e) {
            if (e instanceof PxiError && e.code === 'TRAIN_CONFIG') throw new UsageError(e.message);
            throw e;
          }
          if (full) {
            const bad = base.source.header.tensors.find((t) => !['F32', 'F16', 'BF16'].includes(tensorTypeName(t)) && paramSpecs(cfg).some((p) => p.name === t.name));
            if (bad) throw new UsageError(`${base.source.header.file}: ${bad.name} is ${tensorTypeName(bad)}; --full trains F32, F16 and BF16 models (LoRA, without --full, trains over quantised ones)`);
            say(`pxi finetune: ${recipe.name}: ${base.source.header.file}, full fine-tuning: ${parameterCount(cfg)} trainable parameters`);
          } else {
            const trainable = loraParamSpecs(cfg, recipe.lora).reduce((s, p) => s + p.size, 0);
            say(`pxi finetune: ${recipe.name}: ${base.source.header.file}, rank ${recipe.lora.rank}, alpha ${recipe.lora.alpha}${recipe.lora.dropout ? `, dropout ${recipe.lora.dropout}` : ''}, ${recipe.lora.targets.join('/')} in ${cfg.layers} blocks: ${trainable} trainable parameters`);
          }
        } finally {
          await base.close();
        }
      }
      const run = recipe.name;
      const params: FinetuneTaskParams = { recipe, ...(values.out ? { out: path.resolve(values.out) } : {}) };
      const queue = openTrainingQueue(setup, { command: 'pxi finetune', memory: 'GPU memory for training state and activations', bitsPerToken: false, samples: false }, finetuneTaskHandler);
      try {
        const outcome = await runTrainingTask<FinetuneTaskParams>({
          queue,
          command: 'pxi finetune',
          kind: FINETUNE_TASK,
          run,
          params,
          ofRun: (p) => p.recipe.name === run,
          sameSettings: (p) => JSON.stringify(p.recipe) === JSON.stringify(recipe),
          what: 'fine-tuning',
          changed: 'with other settings',
          fresh: values.fresh === true,
          removeRun: async () => removeRun((await setup.store()).volume, run),
          interrupted: io.interrupted,
          say,
        });
        if (outcome === null) return EXIT.INTERRUPTED;
        const r = outcome.result as FinetuneTaskResult;
        emit({ kind: 'result', ...r });
        say(`pxi finetune: done: ${r.step} steps${r.validLoss !== null ? `, validation loss ${r.validLoss.toFixed(4)}` : ''}${r.adapter ? `; adapter in the volume at ${r.adapter}` : ''}${r.model ? `; imported as model ${r.model}` : ''}${r.out ? `; wrote ${r.out}` : ''}`);
        return EXIT.OK;
      } finally {
        await queue.close().catch(() => undefined);
      }
    } finally {
      await setup.closeStore();
    }
  },
};
