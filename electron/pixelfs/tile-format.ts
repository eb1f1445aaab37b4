/**
 * The PixelFS tile format (specs/pixelfs.md is the normative description): its constants and a
 * volume's tile geometry. Byte i of a tile payload is channel (i mod 4) of pixel (i div 4),
 * pixels row-major; a tile has a fixed width x height per volume.
 */
import { PixelFsCodes as C, PixelFsError } from './errors';

export const PNG_SIGNATURE: Readonly<Uint8Array> = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
/** Private (lowercase 2nd letter), ancillary (lowercase 1st), unsafe-to-copy (uppercase 4th): it
 * describes the pixel data, so an editor that changes the pixels must drop it. */
export const META_CHUNK = 'pxIF';
export const META_VERSION = 1;
export const META_DATA_LENGTH = 40;
/** Largest tile side: WebGPU's common maxTextureDimension2D, so a tile is always one texture. */
export const MAX_TILE_SIDE = 8192;
/** Largest stored (uncompressed) deflate block. */
export const STORED_BLOCK_MAX = 65535;

export interface TileGeometry {
  readonly width: number;
  readonly height: number;
}

export function tileCapacity(g: TileGeometry): number {
  return g.width * g.height * 4;
}

export function assertGeometry(g: TileGeometry, where: string): void {
  for (const field of ['width', 'height'] as const) {
    const v = g[field];
    if (!Number.isInteger(v) || v < 1 || v > MAX_TILE_SIDE) {
      throw new PixelFsError(C.BAD_SETTINGS, `${where}: tile ${field} ${String(v)} is not an integer in 1..${MAX_TILE_SIDE}`, {
        field: `tile${field === 'width' ? 'Width' : 'Height'}`,
        value: v,
      });
    }
  }
}

export function assertLevel(level: number, where: string): void {
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new PixelFsError(C.BAD_SETTINGS, `${where}: deflate level ${String(level)} is not an integer in 0..9`, {
      field: 'level',
      value: level,
    });
  }
}
