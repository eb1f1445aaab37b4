import type { ImportPlan } from '../../../../shared/ipc/channels/files';

export interface VolumePrediction {
  /** Tiles the tensors fill: Σ ceil(bytes / tile capacity). */
  tensorTiles: number;
  /** Tensor bytes (the payload the tiles carry). */
  payloadBytes: number;
  /** Header, metadata and padding bytes stored beside the tensors. */
  otherBytes: number;
  /** Predicted bytes the import adds to the volume (tile PNG files), before dedupe. */
  predictedBytes: number;
  /** 'stored': level 0, whose size does not depend on the values; else how it was estimated. */
  basis: 'stored' | 'measured-ratio' | 'upper-bound';
}

/** Deflate squeezes a run of zero bytes to about a thousandth (the padding of a tensor's last tile). */
const ZERO_RUN_RATIO = 1 / 1000;
/** PNG chunks around the data (signature, IHDR, the metadata chunk with the sha256, IEND). */
const PNG_FIXED_BYTES = 256;

/**
 * The volume size an import will add. Every tensor starts a new tile, so a tensor of n bytes
 * fills ceil(n / capacity) tiles; each full tile's PNG costs `storedTileFileBytes` at level 0
 * (stored deflate: the size is fixed by the geometry), a partial last tile costs its payload
 * at the same ratio plus the deflated zero padding. Compressed volumes scale that by the ratio
 * the volume measured, or report it as an upper bound while it holds no tiles.
 */
export function predictVolume(plan: ImportPlan, fileSize: number): VolumePrediction {
  const v = plan.volume;
  const perByte = v.storedTileFileBytes / v.tileBytes;
  const fileBytes = (n: number): { tiles: number; bytes: number } => {
    if (n === 0) return { tiles: 0, bytes: 0 };
    const tiles = Math.ceil(n / v.tileBytes);
    const last = n - (tiles - 1) * v.tileBytes;
    const lastBytes = last === v.tileBytes ? v.storedTileFileBytes : last * perByte + (v.tileBytes - last) * ZERO_RUN_RATIO + PNG_FIXED_BYTES;
    return { tiles, bytes: (tiles - 1) * v.storedTileFileBytes + lastBytes };
  };
  let tensorTiles = 0;
  let payloadBytes = 0;
  let stored = 0;
  for (const t of plan.tensors) {
    const f = fileBytes(t.bytes);
    tensorTiles += f.tiles;
    payloadBytes += t.bytes;
    stored += f.bytes;
  }
  const otherBytes = Math.max(0, fileSize - payloadBytes);
  // The header (with metadata) is one small file; padding, when not all zero, another.
  stored += fileBytes(otherBytes).bytes;
  let basis: VolumePrediction['basis'] = 'stored';
  if (v.level > 0) {
    if (v.measuredRatio !== null) {
      stored *= v.measuredRatio;
      basis = 'measured-ratio';
    } else {
      basis = 'upper-bound';
    }
  }
  return { tensorTiles, payloadBytes, otherBytes, predictedBytes: Math.round(stored), basis };
}
