import { PxiError } from '../../shared/errors';

/**
 * Every error code PixelFS can raise. Codes are stable: tests, the IPC bridge and the UI match
 * on them, so rename none of them; add new ones instead.
 */
export const PixelFsCodes = {
  // Tile PNG decoding (hostile input).
  PNG_BAD_SIGNATURE: 'PIXELFS_PNG_BAD_SIGNATURE',
  PNG_TRUNCATED: 'PIXELFS_PNG_TRUNCATED',
  PNG_BAD_CRC: 'PIXELFS_PNG_BAD_CRC',
  PNG_BAD_CHUNK_ORDER: 'PIXELFS_PNG_BAD_CHUNK_ORDER',
  PNG_UNKNOWN_CRITICAL_CHUNK: 'PIXELFS_PNG_UNKNOWN_CRITICAL_CHUNK',
  PNG_BAD_DIMENSIONS: 'PIXELFS_PNG_BAD_DIMENSIONS',
  PNG_UNSUPPORTED_FORMAT: 'PIXELFS_PNG_UNSUPPORTED_FORMAT',
  PNG_MISSING_IEND: 'PIXELFS_PNG_MISSING_IEND',
  PNG_BAD_FILTER: 'PIXELFS_PNG_BAD_FILTER',
  PNG_BAD_ZLIB: 'PIXELFS_PNG_BAD_ZLIB',
  PNG_BAD_META: 'PIXELFS_PNG_BAD_META',
  TILE_CHECKSUM_MISMATCH: 'PIXELFS_TILE_CHECKSUM_MISMATCH',
  TILE_PADDING_NOT_ZERO: 'PIXELFS_TILE_PADDING_NOT_ZERO',
  TILE_TOO_LARGE: 'PIXELFS_TILE_TOO_LARGE',
  // Stored tiles seen through a file (wrap the codec errors above with file/tile context).
  TILE_CORRUPT: 'PIXELFS_TILE_CORRUPT',
  TILE_MISSING: 'PIXELFS_TILE_MISSING',
  FILE_CHECKSUM_MISMATCH: 'PIXELFS_FILE_CHECKSUM_MISMATCH',
  // Volume and catalog.
  VOLUME_NOT_FOUND: 'PIXELFS_VOLUME_NOT_FOUND',
  VOLUME_LOCKED: 'PIXELFS_VOLUME_LOCKED',
  VOLUME_CLOSED: 'PIXELFS_VOLUME_CLOSED',
  NO_SPACE: 'PIXELFS_NO_SPACE',
  BAD_SETTINGS: 'PIXELFS_BAD_SETTINGS',
  SETTINGS_MISMATCH: 'PIXELFS_SETTINGS_MISMATCH',
  CATALOG_VERSION: 'PIXELFS_CATALOG_VERSION',
  CATALOG_INCONSISTENT: 'PIXELFS_CATALOG_INCONSISTENT',
  // Files.
  BAD_NAME: 'PIXELFS_BAD_NAME',
  FILE_NOT_FOUND: 'PIXELFS_FILE_NOT_FOUND',
  FILE_EXISTS: 'PIXELFS_FILE_EXISTS',
  PUT_IN_PROGRESS: 'PIXELFS_PUT_IN_PROGRESS',
  BAD_RANGE: 'PIXELFS_BAD_RANGE',
  BAD_RESUME: 'PIXELFS_BAD_RESUME',
  SOURCE_SIZE_MISMATCH: 'PIXELFS_SOURCE_SIZE_MISMATCH',
  SOURCE_UNREADABLE: 'PIXELFS_SOURCE_UNREADABLE',
  // Machinery.
  WORKER_FAILED: 'PIXELFS_WORKER_FAILED',
  SIMULATED_CRASH: 'PIXELFS_SIMULATED_CRASH',
} as const;

export type PixelFsCode = (typeof PixelFsCodes)[keyof typeof PixelFsCodes];

export class PixelFsError extends PxiError {
  declare readonly code: PixelFsCode;
  constructor(code: PixelFsCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export function isPixelFsError(e: unknown, code?: PixelFsCode): e is PixelFsError {
  return e instanceof PixelFsError && (code === undefined || e.code === code);
}
