import { PxiError } from '../errors';

/** Stable codes of the Infinite Map (specs/map.md). */
export type MapErrorCode =
  | 'MAP_INPUT' // a tensor list, geometry, option or viewport that is not valid
  | 'MAP_RANGE' // a coordinate or size that would leave the exactly representable range (2^53)
  | 'MAP_OVERLAP' // a region that would overlap another region on the map
  | 'MAP_CONFLICT' // an id that is already taken
  | 'MAP_NOT_FOUND' // a region, model or cell the index does not hold
  | 'MAP_RESERVE' // a KV cache that would outgrow the room reserved for it
  | 'MAP_READ' // the byte reader returned something other than what was asked for
  | 'MAP_ABORTED'; // a pyramid build was cancelled

export class MapError extends PxiError {
  constructor(code: MapErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
