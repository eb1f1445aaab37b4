/**
 * The model store's shapes: its options, the listing entry, what an import reports, and what a
 * verify finds (electron/models/store.ts and the modules it is made of; the export and verify
 * use cases in electron/ops/ build on them).
 */
import type { z } from 'zod';
import type { ModelSummary as ContractSummary } from '../../shared/ipc/channels/models';
import type { ModelManifest } from '../../shared/model/manifest';
import type { PlacementOptions } from '../../shared/map/placement';
import type { OpenOptions, Volume, VolumeSettings } from '../pixelfs/index';

export interface ModelStoreOptions extends Pick<OpenOptions, 'fileOps' | 'pool' | 'workers' | 'cacheBytes' | 'commitEveryBytes'> {
  /** Create the volume if missing; an object gives its settings (an existing volume must match them). */
  create?: boolean | Partial<VolumeSettings>;
  /** Placement options for the map (specs/map.md); the defaults suit the explorer. */
  placement?: PlacementOptions;
  /** PixelFS files written, read or verified at once (default 3). */
  parallelFiles?: number;
  /** Bytes per source read (default: the tile size, at most 16 MiB). */
  chunkBytes?: number;
  /**
   * Models with at least this many tensor bytes build their map pyramids on a thread of their
   * own while importing (default 64 MiB; smaller ones on the main thread, where a thread's start
   * would cost more than it saves).
   */
  pyramidThreadMinBytes?: number;
  /** Free bytes on the filesystem holding a folder (tests replace it; default statfs). */
  freeBytes?: (dir: string) => Promise<number>;
}

/** The listing entry: the IPC contract's ModelSummary (its zod schema is the one source of truth). */
export type ModelSummary = z.infer<typeof ContractSummary>;

export interface ImportProgress {
  phase: 'reading' | 'finishing' | 'done';
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  tensorsDone: number;
  tensorCount: number;
  /** The tensor being read. */
  tensor: string | null;
  /** Bytes this run did not have to store again (complete tensors and reused tiles of an earlier run). */
  bytesReused: number;
}

export interface ImportOptions {
  /** Model name (default: the file name without `.gguf`). */
  name?: string;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** Least milliseconds between progress calls (default 250). */
  progressIntervalMs?: number;
  /**
   * Build the map's level-of-detail pyramid from the bytes as they are stored (default true):
   * one pass over the file instead of a read-back of every tile afterwards.
   */
  pyramid?: boolean;
}

/** What an import did to the model's pyramid (null when it was not asked to build it). */
export interface ImportPyramid {
  built: number;
  alreadyBuilt: number;
  skipped: number;
  cells: number;
}

export interface ImportResult {
  model: ModelSummary;
  manifest: ModelManifest;
  /** The same file was imported already under this name: nothing was done. */
  alreadyImported: boolean;
  /** This run continued an interrupted import. */
  resumed: boolean;
  /** An interrupted import of another file under the same name was discarded first. */
  discardedStale: boolean;
  bytesRead: number;
  bytesReused: number;
  tilesWritten: number;
  tilesDeduped: number;
  tilesResumed: number;
  pyramid: ImportPyramid | null;
  seconds: number;
}

export interface OperationProgress {
  bytesDone: number;
  bytesTotal: number;
  bytesPerSecond: number;
  etaSeconds: number | null;
  filesDone: number;
  fileCount: number;
}

/** `pack`: a file of the active packed layout (electron/models/layout.ts), checked against the layout journal. */
export type ModelPart = 'header' | 'tensor' | 'padding' | 'manifest' | 'pack';

/** One damaged or missing piece of a model, located in the PixelFS file and in the GGUF. */
export interface ModelProblem {
  part: ModelPart;
  /** PixelFS file. */
  file: string;
  tensor: string | null;
  tensorIndex: number | null;
  tileIndex: number | null;
  /** Byte offset of the damaged range inside the PixelFS file (for a tensor: inside the tensor). */
  fileOffset: number | null;
  length: number | null;
  /** The same range's first byte in the GGUF file (null for the manifest, which is not part of it). */
  ggufOffset: number | null;
  code: string;
  message: string;
}

export interface ModelVerifyReport {
  ok: boolean;
  model: ModelSummary;
  filesChecked: number;
  tilesChecked: number;
  bytesChecked: number;
  problems: ModelProblem[];
  seconds: number;
}

export interface GcResult {
  importsRemoved: number;
  orphanModelsRemoved: number;
  pixelfs: Awaited<ReturnType<Volume['gc']>>;
}
