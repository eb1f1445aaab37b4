/** The model store (main-process service): GGUF models in a PixelFS volume as PXI-LLM v1. */
import type { z } from 'zod';
import type { ModelSummary as ContractSummary } from '../../shared/ipc/channels/models';
import type { ModelSummary as StoreSummary } from './store';

/** A catalogue entry: the IPC contract's shape, the one source of truth. */
export type ModelSummary = z.infer<typeof ContractSummary>;
/**
 * store.ts still declares the same shape by hand (issue 14 item 6: it moves to this type once the
 * import work on store.ts lands); until then this fails to compile if the two drift apart.
 */
export type StoreSummaryMatchesContract = [StoreSummary, ModelSummary] extends [ModelSummary, StoreSummary] ? true : never;
const storeSummaryMatches: StoreSummaryMatchesContract = true;
void storeSummaryMatches;
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
  type ModelVerifyReport,
  type OperationProgress,
  type VerifyOptions,
} from './store';
export { ModelStoreError, type ModelStoreCode } from './errors';
export { STORE_DB_FILE, type ImportRow, type VerifyState } from './store-db';
export { TaskParamsError, type StoreProvider } from './task-params';
export { RateMeter, formatRateLine, formatDuration, type RateSample } from './progress';
