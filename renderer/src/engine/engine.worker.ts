/**
 * The engine worker: owns the WebGPU device and the model, so that loading and generating never
 * block the UI thread. Tensor bytes come over the worker's own link to the services (engine
 * channels only; engine-link.ts), which the main thread hands over first; tokens stream back as
 * `chunk` messages.
 */
import { summarizeLedger } from '../../../shared/gpu/ledger';
import { ChatSession } from '../../../shared/engine/chat';
import { EngineAbortedError, EngineError } from '../../../shared/engine/errors';
import { generateStream, type GenerateOptions, type GenerationResult } from '../../../shared/engine/generate';
import { Model } from '../../../shared/engine/model';
import {
  adapterKey,
  findTuning,
  intMatvecTable,
  kernelsKey,
  mergeTuning,
  modelTuningShapes,
  modelWeightTypes,
  prefillTable,
  tuneWeightKernels,
  tuningTable,
  type CandidateTiming,
  type TuningFile,
  type TuningRecord,
} from '../../../shared/engine/autotune';
import type { WeightType } from '../../../shared/engine/quant-matmul';
import { openGgufTensorSource, type ModelHeader, type TensorSource } from '../../../shared/engine/tensor-source';
import { memorySource } from '../../../shared/binary/byte-source';
import { loraAdapterFromGguf } from '../../../shared/lora';
import { RemoteError, serializeError } from '../../../shared/errors';
import { createApi, type PxiApi } from '../../../shared/ipc/client';
import { openDevice, type GpuContext } from '../../../shared/gpu';
import { adapterName } from '../../../shared/gpu/adapter';
import { kernelTuningSession } from '../../../shared/sessions/kernel-tuning';
import { residencySession } from '../../../shared/sessions/residency';
import { decodeEngineHeader } from '../../../shared/ipc/channels/engine';
import { chatTemplateFromGguf, tokenizerFromGguf, type Tokenizer } from '../../../shared/tokenizer';
import { apiRangeReader, fetchLoadInputs, remoteTensorSource } from './api-source';
import { connectEngineLink } from './engine-link';
import type { ResidencyPlan } from '../../../shared/engine/residency';
import type { EngineActivity, FromWorker, GenerationSettings, LoraToLoad, ResidencyInfo, ToWorker } from './protocol';
import { shaders } from './shaders';

/** The parts of DedicatedWorkerGlobalScope used here (the renderer's tsconfig has DOM types, not WebWorker). */
interface WorkerScope {
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent<ToWorker>) => void): void;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

interface Loaded {
  id: string;
  model: Model;
  tokenizer: Tokenizer;
  chatTemplate: string | undefined;
  session: ChatSession | null;
  system: string | undefined;
}

let ctx: GpuContext | null = null;
let loaded: Loaded | null = null;
let loading: AbortController | null = null;
let generating: AbortController | null = null;
/** Whether someone (the explorer) watches the engine: then passes are traced block by block. */
let tracing = false;

/** The engine calls' API over this worker's own link, once the main thread has handed it over. */
let settleLink: { resolve: (api: PxiApi) => void; reject: (e: Error) => void } | null = null;
const linked = new Promise<PxiApi>((resolve, reject) => (settleLink = { resolve, reject }));
// A failed link is reported by the reads that wait on it, not as an unhandled rejection.
linked.catch(() => undefined);

function link(msg: Extract<ToWorker, { type: 'link' | 'link-error' }>): void {
  const settle = settleLink;
  settleLink = null; // the first link counts; a worker has one
  if (!settle) return;
  if (msg.type === 'link-error') return settle.reject(new RemoteError(msg.error));
  connectEngineLink(msg.link).then((t) => settle.resolve(createApi(t)), settle.reject);
}

async function device(): Promise<GpuContext> {
  if (ctx && !ctx.isLost) return ctx;
  ctx = await openDevice(navigator.gpu, {
    shaders,
    label: 'pxi renderer engine',
    // After a loss nothing on the device is usable: the main thread replaces this worker.
    onLost: (e) => post({ type: 'lost', error: serializeError(e) }),
  });
  return ctx;
}

function activity(m: Loaded, phase: EngineActivity['phase'], block: number | null, position: number): void {
  post({
    type: 'activity',
    activity: { modelId: m.id, phase, block, blocks: m.model.config.blockCount, position, contextLength: m.model.contextLength, kvBytesPerToken: kvBytesPerToken(m.model), kvPages: kvPagesOf(m.model) },
  });
}

const kvPagesOf = (model: Model) => ({ pageSize: model.kvPages.pageSize, pages: model.kvPages.pages });

const kvBytesPerToken = (model: Model) => model.kvBytesPerToken;

/** At most this often the residual stream goes to the main thread (the latest one wins). */
const ACTIVATIONS_MS = 50;
let activationsAt = 0;
let activationsPending: ReturnType<typeof setTimeout> | null = null;

function postActivations(m: Loaded, values: Float32Array, position: number): void {
  const send = () => {
    activationsPending = null;
    activationsAt = performance.now();
    post({ type: 'activations', activations: { modelId: m.id, blocks: m.model.config.blockCount, width: m.model.config.embeddingLength, position, values } }, [values.buffer as ArrayBuffer]);
  };
  if (activationsPending !== null) clearTimeout(activationsPending);
  const wait = activationsAt + ACTIVATIONS_MS - performance.now();
  if (wait <= 0) send();
  else activationsPending = setTimeout(send, wait);
}

/** Points the model's trace at the main thread while someone watches, and says where it stands. */
function applyTrace(m: Loaded): void {
  m.model.trace = tracing
    ? (e) => {
        if (e.stage === 'activations') postActivations(m, e.values!, e.pos0 + e.tokens);
        else activity(m, e.tokens > 1 ? 'prefill' : 'decode', e.block, e.pos0 + e.tokens);
      }
    : null;
  if (tracing && !generating) activity(m, 'idle', null, m.model.position);
}

/** The plan's parts the views show (the pieces and slots stay in the worker). */
function residencyInfo(p: ResidencyPlan): ResidencyInfo {
  return { budget: p.budget, resident: p.resident, streamed: p.streamed, residentBytes: p.residentBytes, slotsBytes: p.slotsBytes, uploadBytesPerPass: p.uploadBytesPerPass, explanation: p.explanation };
}

function unload(): void {
  loading?.abort();
  generating?.abort();
  loaded?.model.destroy();
  loaded = null;
}

/**
 * This adapter's decode-kernel shapes: the kept measurement when it covers the model's weight
 * types, else measured now (a second or two; once per adapter and kernel version) and sent to
 * the main thread to keep. A failed measurement only costs speed: the default shapes run.
 */
async function tuningFor(gpu: GpuContext, header: ModelHeader, modelName: string, kept: TuningFile, signal: AbortSignal): Promise<TuningRecord | null> {
  const types = modelWeightTypes(header.tensors);
  const found = findTuning(kept, adapterKey(gpu.adapter), kernelsKey(gpu));
  const missing = types.filter((t) => !found?.types[t]);
  if (missing.length === 0) return found ?? null;
  try {
    const startedAt = new Date().toISOString();
    const timings: Partial<Record<WeightType, CandidateTiming[]>> = {};
    const fresh = await tuneWeightKernels(gpu, {
      types: missing,
      // Each type timed on the model's own largest matrix of that type (rows capped).
      shapes: modelTuningShapes(header.tensors, 2048),
      rounds: 2,
      reps: 2,
      signal,
      onProgress: (p) => post({ type: 'tuning', weightType: p.type, index: p.typeIndex, count: p.typeCount }),
      onTimings: (type, t) => (timings[type] = t.map((x) => ({ ...x, rounds: [...x.rounds] }))),
    });
    const merged = mergeTuning(found, fresh);
    const session = kernelTuningSession({ record: fresh, timings, startedAt, finishedAt: new Date().toISOString(), driver: adapterName(gpu.adapter, 'WebGPU'), model: modelName, by: 'loading a model' });
    post({ type: 'tuned', record: merged, session });
    return merged;
  } catch (e) {
    if (signal.aborted) throw e;
    return found ?? null;
  }
}

/** A measurement asked for by the Kernels view; refused while a reply is being generated (it would skew both). */
const tuneAborts = new Map<number, AbortController>();

async function tuneNow(msg: Extract<ToWorker, { type: 'tune' }>): Promise<void> {
  const abort = new AbortController();
  tuneAborts.set(msg.id, abort);
  try {
    if (generating) throw new EngineError('ENGINE_BAD_OPTION', 'a reply is being generated: measure the kernels when it is done');
    const gpu = await device();
    const startedAt = new Date().toISOString();
    const timings: Partial<Record<WeightType, CandidateTiming[]>> = {};
    const record = await tuneWeightKernels(gpu, {
      types: msg.types,
      rows: msg.size,
      cols: msg.size,
      rounds: msg.rounds,
      signal: abort.signal,
      onProgress: (p) => post({ type: 'tuning', weightType: p.type, index: p.typeIndex, count: p.typeCount }),
      onTimings: (type, t) => (timings[type] = t.map((x) => ({ ...x, rounds: [...x.rounds] }))),
    });
    const adapter = adapterName(gpu.adapter, 'WebGPU');
    const session = kernelTuningSession({ record, timings, startedAt, finishedAt: new Date().toISOString(), driver: adapter, model: null, by: 'the Kernels view' });
    post({ type: 'tune-done', id: msg.id, record, timings, adapter, session });
  } catch (e) {
    post({ type: 'tune-error', id: msg.id, error: serializeError(abort.signal.aborted ? new EngineAbortedError('the measurement') : e) });
  } finally {
    tuneAborts.delete(msg.id);
  }
}


async function loraOf(l: LoraToLoad, base: TensorSource) {
  const source = await openGgufTensorSource(memorySource(l.bytes), `adapter ${l.name}`);
  return { adapter: loraAdapterFromGguf(source.header, base.header), source, scale: l.scale };
}

async function load(msg: Extract<ToWorker, { type: 'load' }>): Promise<void> {
  unload();
  const abort = new AbortController();
  loading = abort;
  const t0 = performance.now();
  try {
    // The header and the adapter come over this worker's own link, as the tensor bytes do.
    const inputs = await fetchLoadInputs(await linked, msg.model, msg.lora, {
      onHeader: (h) => post({ type: 'header', load: msg.load, modelId: h.id, name: h.name }),
      aborted: () => abort.signal.aborted,
    });
    if (!inputs) return;
    const wire = inputs.header;
    const header = decodeEngineHeader(wire);
    const tokenizer = tokenizerFromGguf(header.metadata, header.file);
    const chatTemplate = chatTemplateFromGguf(header.metadata, header.file);
    const gpu = await device();
    const tuneStart = performance.now();
    const record = await tuningFor(gpu, header, wire.name, msg.tuning, abort.signal);
    const tuneSeconds = (performance.now() - tuneStart) / 1000;
    let last = 0;
    const source = remoteTensorSource(header, apiRangeReader(() => linked, wire.id));
    // A stored LoRA adapter: checked against the base as llama.cpp checks it, applied over any weight type.
    const lora = inputs.lora ? await loraOf(inputs.lora, source) : undefined;
    const model = await Model.load(gpu, source, {
      ...(lora ? { lora } : {}),
      ...(msg.contextLength ? { contextLength: msg.contextLength } : {}),
      ...(msg.gpuMemory ? { gpuMemory: msg.gpuMemory } : {}),
      // The record's shapes, and the integer decode kernels and prefill products it kept (none unless proven faster here;
      // this worker's own measurement does not time prefill, so only a record measured with it names one).
      ...(record ? { matvecTuning: tuningTable(record), intMatvec: intMatvecTable(record), prefillMatmul: prefillTable(record) } : {}),
      signal: abort.signal,
      onProgress: (p) => {
        // A few updates a second are enough for a progress bar.
        const now = performance.now();
        if (now - last < 100 && p.bytesDone < p.bytesTotal) return;
        last = now;
        post({ type: 'progress', bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, tensor: p.tensor });
      },
    });
    if (abort.signal.aborted) {
      model.destroy();
      return;
    }
    loaded = { id: wire.id, model, tokenizer, chatTemplate, session: null, system: undefined };
    applyTrace(loaded);
    post({
      type: 'loaded',
      info: {
        modelId: wire.id,
        name: wire.name,
        lora: inputs.lora ? { name: inputs.lora.name, scale: inputs.lora.scale } : null,
        adapter: adapterName(gpu.adapter, 'WebGPU'),
        f16: gpu.caps.f16,
        contextLength: model.contextLength,
        chatTemplate: chatTemplate !== undefined,
        weightBytes: model.memory.weights,
        loadSeconds: (performance.now() - t0) / 1000,
        tuneSeconds,
        blocks: model.config.blockCount,
        kvBytesPerToken: kvBytesPerToken(model),
        tuning: record ? { measuredAt: record.measuredAt, types: Object.fromEntries(modelWeightTypes(header.tensors).map((t) => [t, record.types[t]]).filter(([, v]) => v)) } : null,
        memory: summarizeLedger(gpu.ledger),
        kvPageSize: model.kvPages.pageSize,
        residency: residencyInfo(model.residency),
      },
    });
    // A plan made under a budget is a decision the engine took: the Dashboard lists it with its explanation.
    if (msg.gpuMemory) {
      const finishedAt = new Date();
      const startedAt = new Date(finishedAt.getTime() - (performance.now() - t0)).toISOString();
      post({
        type: 'planned',
        session: residencySession({ plan: model.residency, model: wire.name, adapter: adapterKey(gpu.adapter), driver: adapterName(gpu.adapter, 'WebGPU'), startedAt, finishedAt: finishedAt.toISOString(), by: 'Chat, loading under its GPU memory budget' }),
      });
    }
  } catch (e) {
    if (!abort.signal.aborted) post({ type: 'load-error', error: serializeError(e) });
  } finally {
    if (loading === abort) loading = null;
  }
}

function options(s: GenerationSettings, signal: AbortSignal, id: number): GenerateOptions {
  return {
    maxTokens: s.maxTokens,
    temperature: s.temperature,
    topK: s.topK,
    topP: s.topP,
    minP: s.minP,
    repeatPenalty: s.repeatPenalty,
    seed: s.seed,
    signal,
    // A full context ends the reply (stopReason 'context') instead of failing it.
    onContextFull: 'stop',
    // A long prompt's prefill, batch by batch, for the view's progress bar.
    onPrefill: (done, total) => post({ type: 'prefill', id, done, total }),
  };
}

async function generate(msg: Extract<ToWorker, { type: 'generate' }>): Promise<void> {
  const abort = new AbortController();
  try {
    const m = loaded;
    if (!m) throw new EngineError('ENGINE_DESTROYED', 'no model is loaded: choose a model first');
    if (generating) throw new EngineError('ENGINE_BAD_OPTION', 'a reply is already being generated; stop it first');
    generating = abort;
    let it: AsyncGenerator<{ index: number; token: number; text: string }, GenerationResult, void>;
    if (msg.mode === 'chat') {
      if (msg.history) {
        // The view's conversation is the truth: the session is rebuilt from it each turn; the
        // KV cache keeps the prefix it shares with what the model has already seen.
        m.session = new ChatSession(m.model, m.tokenizer, m.chatTemplate, msg.system);
        m.session.messages.push(...msg.history.map((h) => ({ role: h.role, content: h.content })));
        m.system = msg.system;
      } else if (!m.session || m.system !== msg.system) {
        m.session = new ChatSession(m.model, m.tokenizer, m.chatTemplate, msg.system);
        m.system = msg.system;
        m.model.rewind(0);
      }
      it = m.session.send(msg.text, options(msg.settings, abort.signal, msg.id));
    } else {
      // Completion starts from an empty cache each time: the text is the whole prompt.
      m.session = null;
      m.model.rewind(0);
      it = generateStream(m.model, m.tokenizer, m.tokenizer.encode(msg.text), options(msg.settings, abort.signal, msg.id));
    }
    for (;;) {
      const r = await it.next();
      if (r.done) {
        const res = r.value;
        post({ type: 'done', id: msg.id, result: { text: res.text, tokens: res.tokens, stopReason: res.stopReason, timings: res.timings, position: m.model.position, memory: summarizeLedger(ctx!.ledger), kvPages: kvPagesOf(m.model) } });
        break;
      }
      post({ type: 'chunk', id: msg.id, index: r.value.index, token: r.value.token, text: r.value.text });
    }
  } catch (e) {
    post({ type: 'generate-error', id: msg.id, error: serializeError(e) });
  } finally {
    if (generating === abort) generating = null;
    if (tracing && loaded) activity(loaded, 'idle', null, loaded.model.position);
  }
}

scope.addEventListener('message', (ev) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'load':
      void load(msg);
      break;
    case 'link':
    case 'link-error':
      link(msg);
      break;
    case 'generate':
      void generate(msg);
      break;
    case 'stop':
      generating?.abort();
      break;
    case 'reset':
      if (loaded) {
        loaded.session = null;
        if (!generating) loaded.model.rewind(0);
        if (tracing && !generating) activity(loaded, 'idle', null, loaded.model.position);
      }
      break;
    case 'trace':
      tracing = msg.on;
      if (loaded) applyTrace(loaded);
      break;
    case 'tune':
      void tuneNow(msg);
      break;
    case 'tune-cancel':
      tuneAborts.get(msg.id)?.abort();
      break;
    case 'unload':
      unload();
      break;
  }
});
