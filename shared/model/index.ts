// The model layer (pure): configuration from GGUF metadata, the PXI-LLM manifest, summaries.
export { ModelError, type ModelErrorCode } from './errors';
export {
  CONFIG_CAPS,
  DEFAULT_ROPE_THETA,
  SUPPORTED_ARCHITECTURES,
  isSupportedArchitecture,
  MetadataReader,
  modelConfigFromGguf,
  type ConfigSource,
  type ModelArchitecture,
  type ModelConfig,
  type RopeType,
} from './config';
export { blockMatrixNames, modelArchFromGguf, modelVectorNames, type ModelArchSpec } from './arch';
export { decodeMetadata, encodeFloat, encodeMetaValue, encodeMetadata, type MetaArrayJson, type MetaEntryJson } from './metadata-json';
export {
  MODEL_ID,
  PXI_LLM_FORMAT,
  PXI_LLM_VERSION,
  modelPaths,
  paddingSegments,
  parseManifest,
  type ManifestTensor,
  type MapPlacement,
  type MapRegionRef,
  type ModelManifest,
  type StoredFile,
} from './manifest';
export { formatBytes, formatCount, formatSummary, summarizeModel, type ModelSummaryInfo, type TensorTypeCount, type TokenRef } from './summary';
export { fromBase64, toBase64 } from './base64';
