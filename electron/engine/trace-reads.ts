/**
 * Records what a stored model's engine reads (issue 12 §4): the model is loaded from its PixelFS
 * tiles through a read recorder and runs one forward pass (one greedy token); the recorder's log
 * is the trace the layout planner reads. After the load the engine reads nothing more from the
 * source (weights are resident or streamed from host memory), so the trace is the load's reads.
 */
import { recordReads } from '../../shared/engine/read-trace';
import { generate } from '../../shared/engine/generate';
import type { TensorRead } from '../../shared/model/layout-plan';
import type { ModelStore } from '../models/store';
import { openModelFromSource, type OpenNodeModelOptions } from './index';
import { pixelTensorSource } from './pixel-source';

export interface ReadTraceResult {
  reads: TensorRead[];
  /** Reads made by the forward pass itself (after the load). */
  forwardReads: number;
  loadSeconds: number;
}

export async function traceModelReads(store: ModelStore, ref: string, opts: OpenNodeModelOptions = {}, prompt = 'Once upon a time'): Promise<ReadTraceResult> {
  const source = recordReads(pixelTensorSource(store, ref));
  const m = await openModelFromSource(source, opts);
  try {
    const loaded = source.reads.length;
    await generate(m.model, m.tokenizer, m.tokenizer.encode(prompt), { temperature: 0, maxTokens: 1, ignoreEos: true });
    return { reads: [...source.reads], forwardReads: source.reads.length - loaded, loadSeconds: m.loadSeconds };
  } finally {
    await m.close();
  }
}
