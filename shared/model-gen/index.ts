// The public surface of the model generator (`pxi gen`).
export {
  GEN_TYPES,
  GEN_TYPE_BLOCK,
  MIN_VOCAB,
  MODEL_PRESETS,
  PRESET_NAMES,
  checkConfig,
  headDim,
  isGenType,
  presetConfig,
  resolveConfig,
  type ConfigOverrides,
  type GenType,
  type ModelArch,
  type ModelConfig,
  type ModelPreset,
  type PresetName,
} from './config';
export { ModelGenError, type ModelGenErrorCode } from './errors';
export { AUTO_QUANTIZE_MAX_PARAMS, FILE_TYPE, checkSeed, modelMetadata, modelVocab, planModel, type GenOptions, type ModelPlan } from './model';
export { Xoshiro128, fmix32, fnv1a32 } from './prng';
export { LOGIT_STD, elementCount, modelTensors, parameterCount, tensorBytes, type GenTensor, type TensorRole } from './tensors';
export { CHATML_TEMPLATE, LLAMA_TEMPLATE, QWEN_SPECIALS, buildBpeVocab, buildSpmVocab, vocabMetadata, type GeneratedVocab } from './vocab';
export { DEFAULT_CHUNK_BYTES, tensorChunks, type GenMethod, type TensorChunks } from './weights';
export { generateModelBytes, writeModel, type GenProgress, type ModelSink, type WriteModelOptions, type WriteModelResult } from './write';
