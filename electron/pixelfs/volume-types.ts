/** The public shapes of the `Volume` API (electron/pixelfs/volume.ts): options, results, reports. */
import type { FileOps } from './file-ops';
import type { VolumeSettings } from './catalog';
import type { TilePool } from './worker-pool';

export interface OpenOptions {
  /** Create the volume when missing (true = default settings). When it exists, given settings must match. */
  create?: boolean | Partial<VolumeSettings>;
  /** Write-side filesystem calls (tests pass a failing one). */
  fileOps?: FileOps;
  /** A shared worker pool; without one the volume starts its own of `workers` threads. */
  pool?: TilePool;
  workers?: number;
  /** Decoded-tile cache for `read()`, in bytes (default 64 MiB). */
  cacheBytes?: number;
  /** Commit a batch of tile rows once this many payload bytes are durable (default 64 MiB). */
  commitEveryBytes?: number;
}

export interface PutProgress {
  name: string;
  bytesIn: number;
  totalBytes: number | null;
  tilesDone: number;
  tilesWritten: number;
  tilesDeduped: number;
  tilesResumed: number;
}

export interface PutOptions {
  /** Replace a complete file of the same name (atomically, in the completing transaction). */
  overwrite?: boolean;
  onProgress?: (p: PutProgress) => void;
  /** Expected size in bytes: for progress, and the put fails if the source disagrees. */
  size?: number;
  /**
   * The source starts at this byte of the file instead of 0. It must be a multiple of the tile
   * capacity and at most `pending()`'s resumeOffset for this name: the skipped tiles are read
   * back from the volume (and verified) to continue the file's sha256.
   */
  resumeOffset?: number;
  /** Tiles in flight at once (default 2 x workers + 4, fewer for huge tiles). */
  window?: number;
}

export interface PutResult {
  name: string;
  size: number;
  sha256: string;
  tiles: number;
  tilesWritten: number;
  tilesDeduped: number;
  tilesResumed: number;
  bytesWritten: number;
}

export interface FileInfo {
  name: string;
  size: number;
  sha256: string;
  tiles: number;
  createdAt: number;
  completedAt: number;
}

export interface PendingInfo {
  name: string;
  createdAt: number;
  /** Tile rows already committed for this put. */
  tilesStored: number;
  /** Tiles 0..n-1 all stored: a rerun may start its source at resumeOffset = n x capacity. */
  contiguousTiles: number;
  resumeOffset: number;
}

export interface VerifyProblem {
  file: string;
  code: string;
  message: string;
  tileIndex?: number;
  hash?: string;
  /** Byte range of the file the tile holds: [offset, offset + length). */
  offset?: number;
  length?: number;
}

export interface VerifyReport {
  ok: boolean;
  filesChecked: number;
  tilesChecked: number;
  bytesChecked: number;
  problems: VerifyProblem[];
}

export interface GetOptions {
  /** fsync the destination file before renaming it into place, and its folder after (path destinations). */
  fsync?: boolean;
  /** End a Writable destination when done (default true, like stream.pipe). */
  end?: boolean;
  /**
   * The Writable destination is done with each chunk once that chunk's write callback has run
   * (true of fs write streams and of consumers that copy what they keep). PixelFS then hands it
   * tiles in recycled memory instead of a fresh copy of every tile.
   */
  reuseChunks?: boolean;
  /**
   * Leave out the recheck of the file's sha256, for a caller that itself checks a sha256 over
   * these bytes in order (the model store's export checks the whole GGUF against its source, a
   * superset). Every tile's sha256 is still checked, and any change to the file still fails
   * the caller's check; only the hash pass that would repeat it is saved.
   */
  skipFileHash?: boolean;
}

export interface GcOptions {
  /** Also remove pending (interrupted, resumable) files. */
  pending?: boolean;
}

export interface GcResult {
  pendingRemoved: number;
  tilesRemoved: number;
  bytesFreed: number;
  tempFilesRemoved: number;
  orphanFilesRemoved: number;
}

export interface SweepResult {
  tempFilesRemoved: number;
  orphanFilesRemoved: number;
  /** Tile rows whose file is not on disk (verify names the files that use them). */
  missingTiles: string[];
}

export interface VolumeStats {
  files: number;
  pendingFiles: number;
  tiles: number;
  /** Sum of complete file sizes. */
  logicalBytes: number;
  /** Bytes of tile PNGs on disk (all tiles in the catalog). */
  storedBytes: number;
  /** Payload bytes of distinct tiles (all tiles in the catalog). */
  tilePayloadBytes: number;
  /** tilePayloadBytes / storedBytes: above 1 when deflate gains more than PNG framing costs. */
  compressionRatio: number;
  /** logicalBytes / distinct payload bytes of complete files: 2 = every tile stored once for two uses. */
  dedupeRatio: number;
  /** logicalBytes / storedBytes. */
  overallRatio: number;
  catalogBytes: number;
}
