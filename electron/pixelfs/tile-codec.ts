/**
 * The PixelFS tile codec: bytes <-> one RGBA8 PNG.
 *
 * Byte i of a tile payload is channel (i mod 4) of pixel (i div 4), pixels row-major. A tile has
 * a fixed width x height per volume; a payload shorter than width*height*4 is padded with zeros.
 * The writer emits exactly: signature, IHDR (8-bit, colour type 6, no interlace), pxIF (payload
 * length + sha256), one IDAT (every row filter 0), IEND. No gAMA/cHRM/sRGB/iCCP, so no decoder
 * alters a value. specs/pixelfs.md is the normative description.
 *
 * The decoder treats its input as hostile: every length is bounds-checked, every CRC verified,
 * dimensions capped by the caller's limits before anything is allocated, and inflation is capped
 * at the exact expected size.
 *
 * This module is the codec's surface; the parts: the format's constants and geometry
 * (tile-format.ts), checksums and byte copies (tile-bytes.ts), the encoder (tile-encoder.ts),
 * the decoder (tile-decoder.ts).
 */
export { PNG_SIGNATURE, META_CHUNK, META_VERSION, META_DATA_LENGTH, MAX_TILE_SIDE, tileCapacity, assertGeometry, assertLevel, type TileGeometry } from './tile-format';
export { crc32, adler32, copyInto, sha256Hex } from './tile-bytes';
export { encodeTile, storedPngBytes, type EncodeOptions } from './tile-encoder';
export { decodeTile, type DecodeOptions, type DecodedTile, type TileMeta } from './tile-decoder';
