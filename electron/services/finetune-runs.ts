/**
 * Fine-tune runs in the services (specs/training.md, "Fine-tuning"; specs/ui.md, the Training
 * view's fine-tune form): whether a stored model can be fine-tuned (from its header alone), the
 * settings of a `train:finetune` request made into a checked FinetuneRecipe for the queue's
 * `model.finetune` task (electron/train/finetune-task.ts), and what `train:runs` shows of a
 * fine-tune beyond a training run's figures: its base, its trainable parameters, its adapter.
 *
 * Everything here reads headers and the volume's listing; the training engine itself (Dawn, the
 * trainer) is loaded by the task when it runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PxiError } from '../../shared/errors';
import { engineSupport } from '../../shared/engine/support';
import { tensorTypeName, type ModelHeader } from '../../shared/engine/tensor-source';
import { readGgufHeader } from '../../shared/gguf';
import type { FinetuneEstimateInfo, FinetuneRun, FinetuneStartRequest, TrainRun } from '../../shared/ipc/channels/train';
import { decodeMetadata } from '../../shared/model/metadata-json';
import { parameterCount, paramSpecs, type TrainModelConfig } from '../../shared/train/config';
import { FinetuneRecipeSchema, loraSettingsOf, parseFinetuneRecipe, type FinetuneRecipe } from '../../shared/train/finetune-recipe';
import { frozenBaseGpuBytes, stepFlops } from '../../shared/train/estimate';
import { modelConfigOf, seqLenOf } from '../../shared/train/recipe';
import { trainConfigOfBase } from '../../shared/train/frozen-base';
import { loraParamSpecs } from '../../shared/train/lora';
import { manifestTensorInfos, storedModelLabel } from '../engine/pixel-source';
import type { ModelStore } from '../models/store';
import { withFileByteSource } from '../storage/file-byte-source';
import { listAdapters } from '../train/adapters';

/** The queue's task kind (electron/train/finetune-task.ts `FINETUNE_TASK`). */
export const FINETUNE_TASK = 'model.finetune';

/** What the services read of a `model.finetune` task's params (the task module checks them all). */
export const StoredFinetuneParams = z.looseObject({ recipe: FinetuneRecipeSchema });

/** The sequence length a fine-tune takes when none is given (capped by the model's context), as `pxi finetune`. */
export const DEFAULT_FINETUNE_SEQ = 256;

/** Weight types full fine-tuning starts from (electron/train/finetune.ts reads them without a quantiser). */
const FULL_TYPES = new Set(['F32', 'F16', 'BF16']);

export interface FinetuneSupport {
  ok: boolean;
  /** Why not, in plain words; null when it can. */
  problem: string | null;
}

/** A stored model's header as the engine's checks read it: metadata and tensor table, no tensor data. */
export function storedHeader(store: ModelStore, ref: string): ModelHeader {
  const m = store.manifest(ref);
  const file = storedModelLabel(m);
  return { file, metadata: decodeMetadata(m.metadata, file), tensors: manifestTensorInfos(m) };
}

/** The training engine's view of a base, or what it lacks: an error's message without the file label it starts with. */
function trainConfigOrProblem(header: ModelHeader): { cfg: TrainModelConfig } | { problem: string } {
  try {
    return { cfg: trainConfigOfBase(header) };
  } catch (e) {
    if (!(e instanceof PxiError)) throw e;
    const prefix = `${header.file}: `;
    return { problem: e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message };
  }
}

/**
 * Whether the training engine can fine-tune (LoRA) a model: a llama or qwen2 model the engine
 * runs (its tokenizer tokenizes the text, its weight types are read by the frozen base), without
 * the features the trainer lacks (RoPE scaling or factors, partial rotation, …).
 */
export function finetuneSupport(header: ModelHeader): FinetuneSupport {
  const t = trainConfigOrProblem(header);
  if ('problem' in t) return { ok: false, problem: t.problem };
  const s = engineSupport(header);
  if (!s.runs) return { ok: false, problem: `the engine cannot run it (${s.problems.map((p) => `${p.part}: ${p.detail}`).join('; ')})` };
  return { ok: true, problem: null };
}

/** A refusal of a fine-tune request (codes: FINETUNE_UNSUPPORTED, TRAIN_CONFIG). */
export class FinetuneRequestError extends PxiError {}

/**
 * The checked settings of a `train:finetune` request: the base a model of the volume (its id and
 * sha256 as the identity a resumed run checks), the model one the engine fine-tunes
 * (FINETUNE_UNSUPPORTED with the reason otherwise), LoRA settings that fit its matrices, full
 * mode only for F32/F16/BF16 weights, a sequence no longer than its context (default
 * min(256, context)). Text paths and names are the caller's checks.
 */
export function finetuneRecipeOf(store: ModelStore, req: z.output<typeof FinetuneStartRequest>): FinetuneRecipe {
  const manifest = store.manifest(req.model);
  const header = storedHeader(store, manifest.id);
  const support = finetuneSupport(header);
  if (!support.ok) {
    throw new FinetuneRequestError('FINETUNE_UNSUPPORTED', `${manifest.name} cannot be fine-tuned: ${support.problem}`, { model: manifest.id });
  }
  const cfg = trainConfigOfBase(header);
  const full = req.mode === 'full';
  if (full && req.lora) throw new FinetuneRequestError('TRAIN_CONFIG', 'rank, alpha and targets are LoRA settings: full fine-tuning trains every weight instead', { field: 'lora' });
  if (full) {
    const trained = new Set(paramSpecs(cfg).map((p) => p.name));
    const bad = header.tensors.find((t) => trained.has(t.name) && !FULL_TYPES.has(tensorTypeName(t)));
    if (bad) {
      throw new FinetuneRequestError('TRAIN_CONFIG', `${manifest.name}: ${bad.name} is ${tensorTypeName(bad)}; full fine-tuning trains F32, F16 and BF16 models (LoRA trains over quantised ones)`, {
        field: 'mode',
        tensor: bad.name,
      });
    }
  }
  const seqLen = req.train?.seqLen ?? Math.min(DEFAULT_FINETUNE_SEQ, cfg.context);
  if (seqLen > cfg.context) throw new FinetuneRequestError('TRAIN_CONFIG', `train.seqLen = ${seqLen} is longer than ${manifest.name}'s context (${cfg.context} tokens)`, { field: 'train.seqLen' });
  const name = req.run ?? `${manifest.name.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100)}-${full ? 'full' : 'lora'}`;
  const recipe = parseFinetuneRecipe(
    {
      kind: 'finetune',
      mode: req.mode,
      name,
      base: { model: manifest.id, identity: `sha256:${manifest.source.sha256}` },
      lora: req.lora ?? {},
      data: req.data,
      train: { ...req.train, seqLen },
    },
    'fine-tuning settings',
  );
  // The adapters' shapes against the model's matrices (a rank above a matrix's size, …).
  if (!full) loraParamSpecs(cfg, recipe.lora);
  return recipe;
}

/** A base given as a file: its header, read once (the trainable parameters of a run started by `pxi finetune FILE.gguf`). */
async function fileHeader(file: string): Promise<ModelHeader | null> {
  if (!path.isAbsolute(file) || !fs.existsSync(file)) return null;
  try {
    const h = await withFileByteSource(file, (src) => readGgufHeader(src, { name: file }));
    return { file, metadata: h.metadata, tensors: h.tensors };
  } catch {
    return null;
  }
}

/** What `train:runs` shows of a fine-tune beyond the common figures; answers cached by base and settings. */
export class FinetuneRunDetails {
  private readonly parameters = new Map<string, number>();

  /** The base (its id while it is in the store) and name, the parameters trained, the adapter stored (LoRA runs that ended). */
  async of(store: ModelStore, recipe: FinetuneRecipe, succeeded: boolean): Promise<Pick<FinetuneRun, 'base' | 'adapter' | 'parameters'>> {
    const ref = recipe.base.model;
    const stored = store.list().find((m) => m.id === ref || m.name === ref);
    const base = stored ? { modelId: stored.id, name: stored.name } : { modelId: null, name: ref };
    const adapter = succeeded && stored && recipe.mode === 'lora' ? (listAdapters(store.volume, stored.id).find((a) => a.name === recipe.name) ?? null) : null;
    return { base, adapter: adapter && { name: adapter.name, bytes: adapter.bytes }, parameters: await this.trained(store, recipe, stored?.id ?? null) };
  }

  private async trained(store: ModelStore, recipe: FinetuneRecipe, modelId: string | null): Promise<number> {
    const key = `${recipe.base.identity}|${recipe.mode}|${recipe.lora.rank}|${recipe.lora.targets.join(',')}`;
    const hit = this.parameters.get(key);
    if (hit !== undefined) return hit;
    let n = 0;
    try {
      const header = modelId ? storedHeader(store, modelId) : await fileHeader(recipe.base.model);
      if (header) {
        const cfg = trainConfigOfBase(header);
        n = recipe.mode === 'full' ? parameterCount(cfg) : loraParamSpecs(cfg, recipe.lora).reduce((s, p) => s + p.size, 0);
      }
    } catch {
      n = 0; // a base that is gone or changed: the figure is not known
    }
    if (this.parameters.size > 256) this.parameters.clear();
    this.parameters.set(key, n);
    return n;
  }
}

/**
 * What the fine-tune form's estimate needs of a model of the volume (`train:finetune-estimate`):
 * its training configuration, the bytes its frozen base takes on the GPU (FrozenBase, one binding
 * per matrix), and this machine's measured rate: the latest finished run (by its last update)
 * whose tokens/s is known, turned into a FLOP rate through that run's FLOPs per token
 * (stepFlops). Runs whose model can no longer be read are passed over.
 */
export function finetuneEstimate(store: ModelStore, ref: string, runs: readonly TrainRun[]): FinetuneEstimateInfo {
  const manifest = store.manifest(ref);
  const header = storedHeader(store, manifest.id);
  const support = finetuneSupport(header);
  if (!support.ok) throw new FinetuneRequestError('FINETUNE_UNSUPPORTED', `${manifest.name} cannot be fine-tuned: ${support.problem}`, { model: manifest.id });
  const config = trainConfigOfBase(header);
  const baseBytes = frozenBaseGpuBytes(config, header.tensors);
  const finished = runs.filter((r) => r.state === 'succeeded' && r.latest && r.latest.tokensPerSec > 0).sort((a, b) => b.updatedAt - a.updatedAt);
  for (const r of finished) {
    const perToken = flopsPerTokenOf(store, r);
    if (perToken === null) continue;
    const tokensPerSec = r.latest!.tokensPerSec;
    return { model: manifest.id, config, baseBytes, rate: { run: r.run, kind: r.kind, tokensPerSec, flopsPerSec: tokensPerSec * perToken } };
  }
  return { model: manifest.id, config, baseBytes, rate: null };
}

/** FLOPs per trained token of a run's step (stepFlops over its tokens), or null when its model is not known any more. */
function flopsPerTokenOf(store: ModelStore, r: TrainRun): number | null {
  try {
    if (r.kind === 'train') {
      const seqLen = seqLenOf(r.recipe);
      return stepFlops(modelConfigOf(r.recipe), r.recipe.train.batch, seqLen, 'full') / (r.recipe.train.batch * seqLen);
    }
    if (!r.base.modelId) return null;
    const cfg = trainConfigOfBase(storedHeader(store, r.base.modelId));
    const f = r.finetune;
    const seqLen = f.train.seqLen ?? Math.min(DEFAULT_FINETUNE_SEQ, cfg.context);
    return stepFlops(cfg, f.train.batch, seqLen, f.mode === 'full' ? 'full' : { lora: loraSettingsOf(f) }) / (f.train.batch * seqLen);
  } catch {
    return null;
  }
}
