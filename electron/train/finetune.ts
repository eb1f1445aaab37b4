/**
 * One LoRA fine-tuning run in Node (`pxi finetune`, the `model.finetune` task): the base model
 * from the volume (its weights read from pixel tiles) or a GGUF file, frozen on the GPU in its
 * own types (shared/train/frozen-base.ts); the text as corpora in the volume, tokenized with the
 * base's own tokenizer into token shards read back from the corpus tiles; the step loop of
 * shared/train/loop.ts over the adapters only, with checkpoints in PixelFS (train/RUN/…) and
 * resumption from the latest; at the end a llama.cpp LoRA GGUF, stored in the volume beside its
 * base (./adapters.ts) and, when asked, written to a file.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GpuContext } from '../../shared/gpu';
import type { TensorSource } from '../../shared/engine/tensor-source';
import { gv, type GgufValue } from '../../shared/gguf';
import { writeLoraAdapterBytes } from '../../shared/lora';
import { tokenizerSpecFromGguf } from '../../shared/tokenizer';
import { TrainError } from '../../shared/train/errors';
import { loraSettingsOf, type FinetuneRecipe } from '../../shared/train/finetune-recipe';
import { FrozenBase, trainConfigOfBase } from '../../shared/train/frozen-base';
import { loraParamLayout } from '../../shared/train/gpu-trainer';
import { initLoraParams, loraAName, loraBName, loraTargetNames, targetShape, validateLoraSettings, type LoraTarget } from '../../shared/train/lora';
import { trainLoop, windowData, type CheckpointState, type TrainEvent } from '../../shared/train/loop';
import { CorpusStore } from '../corpus';
import { pixelTensorSource } from '../engine/pixel-source';
import type { ModelStore } from '../models/store';
import { FileByteSource } from '../storage/file-byte-source';
import { openGgufTensorSource } from '../../shared/engine/tensor-source';
import { adapterFile } from './adapters';
import { latestCheckpoint, writeCheckpoint } from './checkpoint';
import { corpusFor } from './data';


/** The base of a run: a stored model (by id or name) or a GGUF file (an absolute path to an existing file). */
export interface FinetuneBase {
  source: TensorSource;
  /** The stored model's id; null for a file. */
  modelId: string | null;
  /** What a resumed run checks it is still the same base. */
  identity: string;
  close(): Promise<void>;
}

export async function openFinetuneBase(store: ModelStore, model: string): Promise<FinetuneBase> {
  if (path.isAbsolute(model) && fs.existsSync(model)) {
    const st = fs.statSync(model);
    if (!st.isFile()) throw new TrainError('TRAIN_CONFIG', `${model} is not a file`, { file: model });
    const file = await FileByteSource.open(model);
    try {
      const source = await openGgufTensorSource(file, model);
      return { source, modelId: null, identity: `file:${st.size}:${Math.round(st.mtimeMs)}`, close: () => file.close() };
    } catch (e) {
      await file.close();
      throw e;
    }
  }
  const source = pixelTensorSource(store, model);
  return { source, modelId: source.manifest.id, identity: `sha256:${source.manifest.source.sha256}`, close: () => Promise.resolve() };
}

export interface FinetuneSessionOptions {
  recipe: FinetuneRecipe;
  store: ModelStore;
  ctx: GpuContext;
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
  onMessage?: (m: string) => void;
}

export interface FinetuneSessionResult {
  state: CheckpointState<FinetuneRecipe>;
  /** The adapter as a llama.cpp LoRA GGUF. */
  adapter: Uint8Array;
  /** Where it is stored in the volume (null when the base is a file, not a stored model). */
  volumePath: string | null;
}

/** The run's token streams: each data entry a corpus (files added as `RUN.finetune-train` / `-valid`), tokenized with the base's tokenizer. */
async function finetuneTokens(store: ModelStore, recipe: FinetuneRecipe, source: TensorSource, say: (m: string) => void, signal?: AbortSignal): Promise<{ train: ArrayLike<number>; valid: ArrayLike<number>; vocab: number }> {
  const corpora = await CorpusStore.open(store);
  const spec = tokenizerSpecFromGguf(source.header.metadata, source.header.file);
  const base = recipe.name.slice(0, 48);
  const stream = async (entries: readonly string[], name: string) => {
    const corpus = await corpusFor(corpora, entries, name, '/', false, say, signal);
    const shard = await corpora.tokenShard(corpus, spec, { signal });
    say(`corpus ${corpus}: ${shard.tokens.length} tokens${shard.cached ? ' (cached shard)' : ''}`);
    return shard;
  };
  const train = await stream(recipe.data.train, `${base}.finetune-train`);
  const valid = recipe.data.valid.length > 0 ? await stream(recipe.data.valid, `${base}.finetune-valid`) : null;
  return { train: train.tokens, valid: valid ? valid.tokens : new Uint32Array(0), vocab: train.vocabSize };
}

export async function finetuneSession(o: FinetuneSessionOptions): Promise<FinetuneSessionResult> {
  const { recipe, store, ctx } = o;
  const say = o.onMessage ?? (() => {});
  const base = await openFinetuneBase(store, recipe.base.model);
  try {
    if (base.identity !== recipe.base.identity) {
      throw new TrainError('TRAIN_CHECKPOINT', `the base model ${recipe.base.model} changed since run ${recipe.name} started (${recipe.base.identity} then, ${base.identity} now): start the run over with --fresh`, { run: recipe.name });
    }
    const cfg = trainConfigOfBase(base.source.header);
    const lora = loraSettingsOf(recipe);
    validateLoraSettings(cfg, lora);
    const seqLen = recipe.train.seqLen ?? cfg.context;
    if (seqLen > cfg.context) throw new TrainError('TRAIN_CONFIG', `train.seqLen = ${seqLen} is longer than the base's context (${cfg.context})`, { field: 'train.seqLen' });
    const data = await finetuneTokens(store, recipe, base.source, say, o.signal);
    if (data.vocab > cfg.vocab) throw new TrainError('TRAIN_CONFIG', `the base's tokenizer has ${data.vocab} tokens, its embedding ${cfg.vocab} rows`, { field: 'vocab' });
    const loopData = windowData(recipe.train, seqLen, cfg.vocab, data.train, data.valid);
    const ckpt = await latestCheckpoint<FinetuneRecipe>(store.volume, recipe.name);
    if (ckpt && JSON.stringify(ckpt.state.recipe) !== JSON.stringify(recipe)) {
      throw new TrainError('TRAIN_CHECKPOINT', `run ${recipe.name} already has checkpoints made with other settings (step ${ckpt.state.step}): give another --name, or --fresh to start it over`, { run: recipe.name });
    }
    say(`loading the base (${[...new Set(base.source.header.tensors.map((t) => t.type))].length} weight types) onto the GPU`);
    const frozen = await FrozenBase.load(ctx, base.source, cfg, { signal: o.signal });
    try {
      say(`base on the GPU: ${(frozen.gpuBytes / 2 ** 20).toFixed(1)} MiB (${[...frozen.types].map(([t, n]) => `${n} ${t}`).join(', ')})`);
      const r = await trainLoop<FinetuneRecipe>({
        recipe,
        model: { cfg, layout: loraParamLayout(cfg, lora), init: initLoraParams(cfg, lora, recipe.train.seed), trainer: { base: frozen, lora } },
        run: recipe.name,
        ctx,
        data: loopData,
        resume: ckpt,
        sink: (c) => writeCheckpoint(store.volume, c),
        signal: o.signal,
        onEvent: o.onEvent,
        resumeHint: ': run the same command again to resume',
        validateAtStart: true,
      });
      const adapter = writeLoraAdapterBytes({
        base: base.source.header,
        rank: lora.rank,
        alpha: lora.alpha,
        title: recipe.name,
        pairs: loraTargetNames(cfg, lora).map((w) => {
          const { out, in: inDim } = targetShape(cfg, w.split('.')[2] as LoraTarget);
          return { target: w, inDim, outDim: out, a: r.params.get(loraAName(w))!, b: r.params.get(loraBName(w))! };
        }),
        extra: [
          ['pxi.finetune.base', gv.str(recipe.base.model)],
          ['pxi.finetune.steps', gv.u32(r.state.step)],
          ...(r.state.valid.length ? [['pxi.finetune.valid_loss', gv.f32(r.state.valid.at(-1)!.loss)] as [string, GgufValue]] : []),
        ],
        name: recipe.name,
      });
      let volumePath: string | null = null;
      if (base.modelId) {
        volumePath = adapterFile(base.modelId, recipe.name);
        await store.volume.put(volumePath, [adapter], { overwrite: true, size: adapter.length });
      }
      return { state: r.state, adapter, volumePath };
    } finally {
      frozen.destroy();
    }
  } finally {
    await base.close();
  }
}
