/** The model store (main-process service): GGUF models in a PixelFS volume as PXI-LLM v1. */
export {
  ModelStore,
  MAX_PADDING_BYTES,
  defaultVolumeDir,
  type GcResult,
  type GgufStream,
  type ImportOptions,
  type ImportProgress,
  type ImportPyramid,
  type ImportResult,
  type ModelPart,
  type ModelProblem,
  type ModelStoreOptions,
  type ModelSummary,
  type ModelVerifyReport,
  type OperationProgress,
  type PartCheck,
  type StoredPart,
  type VerifyPlan,
} from './store';
export { ModelStoreError, type ModelStoreCode } from './errors';
export { STORE_DB_FILE, type ImportRow, type VerifyState } from './store-db';
export { TaskParamsError, type StoreProvider } from './task-params';
export { RateMeter, formatRateLine, formatDuration, type RateSample } from './progress';
