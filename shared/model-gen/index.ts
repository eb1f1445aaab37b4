// The public surface of the model generator (`pxi gen`).
export {
  GEN_MIXES,
  GEN_TYPES,
  GEN_TYPE_BLOCK,
  MIX_ROW_BLOCK,
  headDim,
  isGenMix,
  isGenType,
  llama3RopeFactors,
  ropeDim,
  slidingLayers,
  type GenMix,
  type GenPrecision,
  type GenType,
  type Llama3RopeScaling,
  type ModelArch,
  type ModelConfig,
  type VocabStyle,
} from './config';
export { MODEL_PRESETS, PRESET_NAMES, presetConfig, type ModelPreset, type PresetName } from './presets';
export { MIN_VOCAB, checkConfig, minVocab, resolveConfig, type ConfigOverrides } from './resolve';
export { ModelGenError, type ModelGenErrorCode } from './errors';
export { MIX_BASE_TYPE, MIX_FILE_TYPE, applyMix, fallbackType, mixTensorTypes, mixTensors, type MixModel } from './mix';
export {
  AUTO_QUANTIZE_MAX_PARAMS,
  FILE_TYPE,
  MAX_TRAILING_BYTES,
  checkSeed,
  modelFileSize,
  modelMetadata,
  modelVocab,
  planModel,
  type GenFileOptions,
  type GenOptions,
  type ModelPlan,
} from './model';
export { Xoshiro128, fmix32, fnv1a32 } from './prng';
export { LOGIT_STD, elementCount, modelTensors, parameterCount, scalesEmbeddings, tensorBytes, type GenTensor, type TensorRole } from './tensors';
export {
  CHATML_TEMPLATE,
  GEMMA_SPECIALS,
  GEMMA_TEMPLATE,
  LLAMA3_SPECIALS,
  LLAMA3_TEMPLATE,
  LLAMA_TEMPLATE,
  MISTRAL_TEMPLATE,
  PHI3_SPECIALS,
  PHI3_TEMPLATE,
  QWEN_SPECIALS,
  buildBpeVocab,
  buildSpmVocab,
  vocabMetadata,
  type BpeStyle,
  type GeneratedVocab,
  type SpmStyle,
} from './vocab';
export { DEFAULT_CHUNK_BYTES, tensorChunks, type GenMethod, type TensorChunks } from './weights';
export { generateModelBytes, generateModelBytesSync, writeModel, type GenProgress, type ModelSink, type WriteModelOptions, type WriteModelResult } from './write';
