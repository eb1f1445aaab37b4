import { z } from 'zod';
import { Empty } from './common';

/**
 * Files on the host for the import wizard: the native open dialog (desktop only) and the
 * import plan of a GGUF file: each tensor's size, the volume's tile settings, and whether the
 * store would refuse the file, so the wizard can predict the volume size and stop before
 * enqueueing an import that cannot succeed.
 */

const Count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Error codes the file handlers answer with (the wizard reacts to the first one). */
export const FILES_ERRORS = Object.freeze({
  /** No native dialog on this host (browser mode): the wizard shows a path field instead. */
  DIALOG_UNAVAILABLE: 'FILES_DIALOG_UNAVAILABLE',
  BAD_PATH: 'FILES_BAD_PATH',
  NOT_FOUND: 'FILES_NOT_FOUND',
  NOT_A_FILE: 'FILES_NOT_A_FILE',
});

/**
 * The volume's storage settings. They are fixed when the volume is created (`pxi import
 * --tile-size/--compression` on a new volume); an import cannot choose others (`perImport`).
 */
export const VolumeLayout = z.strictObject({
  tileWidth: Count,
  tileHeight: Count,
  /** Deflate level of the tile PNGs, 0 (stored) to 9. */
  level: z.number().int().min(0).max(9),
  /** Payload bytes one tile holds (width × height × 4). */
  tileBytes: Count,
  /** Size of one full tile's PNG file at level 0 (content-independent, measured with the codec). */
  storedTileFileBytes: Count,
  /** Stored ÷ payload bytes the volume measured so far (null while it holds no tiles). */
  measuredRatio: z.number().positive().nullable(),
  perImport: z.literal(false),
  /** What the volume holds now. */
  tiles: Count,
  storedBytes: Count,
  logicalBytes: Count,
});

export const ImportPlan = z.strictObject({
  path: z.string(),
  volume: VolumeLayout,
  /** Every tensor in file order: its name, ggml type and data bytes. */
  tensors: z.array(z.strictObject({ name: z.string(), type: z.string(), bytes: Count })).max(1_000_000),
  /**
   * Why the store would refuse to import the file, or null. Since any GGUF the reader accepts is
   * stored (shapes and architectures the engine does not run included), it is null today; kept
   * for refusals that a header can show before a byte is written.
   */
  importProblem: z.strictObject({ code: z.string(), message: z.string() }).nullable(),
});

export const fileChannels = {
  /** Opens the host's native file dialog for a .gguf file; null when the person cancels. */
  'files:chooseGguf': { request: Empty, response: z.strictObject({ path: z.string().nullable() }) },
  /** Reads a GGUF file's header (never its data) and the volume's settings. */
  'files:importPlan': { request: z.strictObject({ path: z.string().min(1).max(4096) }), response: ImportPlan },
} as const;

export type VolumeLayout = z.output<typeof VolumeLayout>;
export type ImportPlan = z.output<typeof ImportPlan>;
