/** PixelFS: files stored as PNG tiles plus a SQLite catalog (main-process service, Node only). */
export { Volume, DEFAULT_SETTINGS, CATALOG_FILE } from './volume';
export { TILES_DIR } from './tile-files';
export type { VolumeSettings } from './catalog';
export type {
  OpenOptions,
  PutOptions,
  PutProgress,
  PutResult,
  FileInfo,
  PendingInfo,
  VerifyProblem,
  VerifyReport,
  GetOptions,
  GcOptions,
  GcResult,
  SweepResult,
  VolumeStats,
} from './volume-types';
export { TilePool, defaultPoolSize } from './worker-pool';
export { alignedSharedBuffer } from './slabs';
export type { FileHash } from './worker-pool';
export { nodeFileOps, writesDirect, RollingSync, renameDurable, writeFileDurable, writeFileDurableStream, type DurableSink, type DurableWriteOptions } from './file-ops';
export type { CreateOptions, FileOps, WriteHandle } from './file-ops';
export { encodeTile, decodeTile, tileCapacity, sha256Hex, META_CHUNK, MAX_TILE_SIDE } from './tile-codec';
export type { TileGeometry, DecodeOptions, DecodedTile, EncodeOptions, TileMeta } from './tile-codec';
export { PixelFsError, PixelFsCodes, isPixelFsError } from './errors';
export { checkFreeSpace, freeBytesAt, formatSize, isNoSpace, mapNoSpace, noSpaceError, noSpaceMappingOps } from './disk-space';
export type { PixelFsCode } from './errors';
