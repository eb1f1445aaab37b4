/**
 * Where a training run's parameters live in the flat GPU buffers (parameters, gradients, AdamW's
 * moments): the whole model's (paramSpecs) or a LoRA run's adapters (loraParamSpecs).
 */
import { paramSpecs, type ParamSpec, type TrainModelConfig } from './config';
import { loraParamSpecs, type LoraSettings } from './lora';

/** Elements a parameter's start is aligned to: 64 f32 = 256 bytes, WebGPU's binding offset alignment. */
const ALIGN = 64;

export interface ParamSlot {
  readonly spec: ParamSpec;
  /** First element in the flat buffers. */
  readonly offset: number;
}

/**
 * Where each parameter lives in the flat buffers: matrices (weight-decayed) first, then gains and
 * biases, so that AdamW tells them apart by one index (`decayEnd`).
 */
export interface ParamLayout {
  readonly slots: ReadonlyMap<string, ParamSlot>;
  /** In paramSpecs order. */
  readonly order: readonly ParamSlot[];
  readonly total: number;
  readonly decayEnd: number;
}

export function paramLayout(cfg: TrainModelConfig): ParamLayout {
  return layoutOf(paramSpecs(cfg));
}

/** The layout of a LoRA run's flat buffers: its A and B matrices. */
export function loraParamLayout(cfg: TrainModelConfig, lora: LoraSettings): ParamLayout {
  return layoutOf(loraParamSpecs(cfg, lora));
}

function layoutOf(specs: readonly ParamSpec[]): ParamLayout {
  const slots = new Map<string, ParamSlot>();
  let at = 0;
  const place = (spec: ParamSpec) => {
    slots.set(spec.name, { spec, offset: at });
    at += Math.ceil(spec.size / ALIGN) * ALIGN;
  };
  specs.filter((s) => s.decay).forEach(place);
  const decayEnd = at;
  specs.filter((s) => !s.decay).forEach(place);
  return { slots, order: specs.map((s) => slots.get(s.name)!), total: at, decayEnd };
}
