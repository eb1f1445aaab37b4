/** The model store (main-process service): GGUF models in a PixelFS volume as PXI-LLM v1. */
export {
  ModelStore,
  MAX_PADDING_BYTES,
  defaultVolumeDir,
  type ExportOptions,
  type ExportResult,
  type GcResult,
  type ImportOptions,
  type ImportProgress,
  type ImportResult,
  type ModelPart,
  type ModelProblem,
  type ModelStoreOptions,
  type ModelSummary,
  type ModelVerifyReport,
  type OperationProgress,
  type VerifyOptions,
} from './store';
export { ModelStoreError, type ModelStoreCode } from './errors';
export { STORE_DB_FILE, type ImportRow, type VerifyState } from './store-db';
export { modelTaskHandlers, ImportParams, ExportParams, VerifyParams, PyramidParams, TaskParamsError, type StoreProvider } from './tasks';
export { RateMeter, formatRateLine, formatDuration, type RateSample } from './progress';
