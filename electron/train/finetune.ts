/**
 * One LoRA fine-tuning run in Node (`pxi finetune`, the `model.finetune` task): the base model
 * from the volume (its weights read from pixel tiles) or a GGUF file, frozen on the GPU in its
 * own types (shared/train/frozen-base.ts); the text as corpora in the volume, tokenized with the
 * base's own tokenizer into token shards read back from the corpus tiles; the step loop of
 * shared/train/loop.ts over the adapters only, with checkpoints in PixelFS (train/RUN/…) and
 * resumption from the latest; at the end a llama.cpp LoRA GGUF, stored in the volume beside its
 * base (./adapters.ts) and, when asked, written to a file. Full fine-tuning (F32/F16/BF16 bases)
 * trains every weight from the base's values instead and ends with a whole model's GGUF, which
 * the task imports into the volume.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { GpuContext } from '../../shared/gpu';
import { GgmlType, gv, writeGgufBytes, type GgufValue } from '../../shared/gguf';
import { getQuantFormat } from '../../shared/quant';
import { paramSpecs, type TrainModelConfig } from '../../shared/train/config';
import { writeLoraAdapterBytes } from '../../shared/lora';
import { tokenizerSpecFromGguf } from '../../shared/tokenizer';
import { TrainError } from '../../shared/train/errors';
import { loraSettingsOf, type FinetuneRecipe } from '../../shared/train/finetune-recipe';
import { FrozenBase, trainConfigOfBase } from '../../shared/train/frozen-base';
import { loraParamLayout, paramLayout } from '../../shared/train/param-layout';
import { initLoraParams, loraAName, loraBName, loraTargetNames, targetShape, validateLoraSettings, type LoraTarget } from '../../shared/train/lora';
import { trainLoop, windowData, type CheckpointState, type LoopModel, type TrainEvent } from '../../shared/train/loop';
import { CorpusStore } from '../corpus';
import { pixelTensorSource } from '../engine/pixel-source';
import type { ModelStore } from '../models/store';
import { FileByteSource } from '../storage/file-byte-source';
import { openGgufTensorSource, tensorTypeName, type TensorSource } from '../../shared/engine/tensor-source';
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
  /** LoRA: the adapter as a llama.cpp LoRA GGUF; full: the whole fine-tuned model's GGUF. */
  output: Uint8Array;
  /** LoRA: where the adapter is stored in the volume (null when the base is a file, not a stored model). */
  volumePath: string | null;
}

/** Weight types whose values full fine-tuning starts from and writes back without a quantiser. */
const FULL_TYPES = new Set(['F32', 'F16', 'BF16']);

/** The base's parameters as f32 (full fine-tuning's starting point), or TrainError naming a quantised tensor. */
async function baseParams(source: TensorSource, cfg: TrainModelConfig): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const spec of paramSpecs(cfg)) {
    const t = source.header.tensors.find((x) => x.name === spec.name);
    if (!t) throw new TrainError('TRAIN_CONFIG', `${source.header.file}: the model has no tensor ${spec.name}`, { tensor: spec.name });
    const type = tensorTypeName(t);
    if (!FULL_TYPES.has(type)) {
      throw new TrainError('TRAIN_CONFIG', `${source.header.file}: ${spec.name} is ${type}; full fine-tuning trains F32, F16 and BF16 models (use LoRA for quantised ones)`, { tensor: spec.name, type });
    }
    out.set(spec.name, getQuantFormat(type).dequantize((await source.read(t.name, 0, t.byteSize)).slice(), spec.size));
  }
  return out;
}

/**
 * The fully fine-tuned model as a GGUF: the base's metadata (tokenizer, chat template,
 * hyperparameters) with its name and file type updated, every trained tensor as F32 in the
 * base's tensor order, any other tensor copied as it was.
 */
async function fullModelGguf(source: TensorSource, params: ReadonlyMap<string, Float32Array>, recipe: FinetuneRecipe, steps: number): Promise<Uint8Array> {
  const meta = new Map(source.header.metadata);
  meta.set('general.name', gv.str(recipe.name));
  meta.set('general.file_type', gv.u32(0)); // ALL_F32 (the trained tensors)
  meta.set('pxi.finetune.base', gv.str(recipe.base.model));
  meta.set('pxi.finetune.steps', gv.u32(steps));
  const tensors = [];
  for (const t of source.header.tensors) {
    const v = params.get(t.name);
    if (v) tensors.push({ name: t.name, dims: [...t.dims], type: GgmlType.F32, data: new Uint8Array(v.buffer, v.byteOffset, v.byteLength) });
    else tensors.push({ name: t.name, dims: [...t.dims], type: t.type, data: (await source.read(t.name, 0, t.byteSize)).slice() });
  }
  return writeGgufBytes(meta, tensors, { name: `${recipe.name}.gguf` });
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
    const full = recipe.mode === 'full';
    if (!full) validateLoraSettings(cfg, lora);
    const seqLen = recipe.train.seqLen ?? cfg.context;
    if (seqLen > cfg.context) throw new TrainError('TRAIN_CONFIG', `train.seqLen = ${seqLen} is longer than the base's context (${cfg.context})`, { field: 'train.seqLen' });
    const data = await finetuneTokens(store, recipe, base.source, say, o.signal);
    if (data.vocab > cfg.vocab) throw new TrainError('TRAIN_CONFIG', `the base's tokenizer has ${data.vocab} tokens, its embedding ${cfg.vocab} rows`, { field: 'vocab' });
    const loopData = windowData(recipe.train, seqLen, cfg.vocab, data.train, data.valid);
    const ckpt = await latestCheckpoint<FinetuneRecipe>(store.volume, recipe.name);
    if (ckpt && JSON.stringify(ckpt.state.recipe) !== JSON.stringify(recipe)) {
      throw new TrainError('TRAIN_CHECKPOINT', `run ${recipe.name} already has checkpoints made with other settings (step ${ckpt.state.step}): give another --name, or --fresh to start it over`, { run: recipe.name });
    }
    const frozen = full ? null : await FrozenBase.load(ctx, base.source, cfg, { signal: o.signal });
    try {
      if (frozen) say(`base on the GPU: ${(frozen.gpuBytes / 2 ** 20).toFixed(1)} MiB (${[...frozen.types].map(([t, n]) => `${n} ${t}`).join(', ')})`);
      const model: LoopModel = frozen
        ? { cfg, layout: loraParamLayout(cfg, lora), init: initLoraParams(cfg, lora, recipe.train.seed), trainer: { base: frozen, lora, dropoutSeed: recipe.train.seed } }
        : { cfg, layout: paramLayout(cfg), init: await baseParams(base.source, cfg), trainer: { precision: 'f32' } };
      const r = await trainLoop<FinetuneRecipe>({
        recipe,
        model,
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
      if (full) return { state: r.state, output: await fullModelGguf(base.source, r.params, recipe, r.state.step), volumePath: null };
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
      return { state: r.state, output: adapter, volumePath };
    } finally {
      frozen?.destroy();
    }
  } finally {
    await base.close();
  }
}
