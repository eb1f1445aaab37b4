import { PxiError } from '../errors';

/**
 * The model generator was asked for something it cannot make: an unknown preset or type,
 * dimensions that do not fit together (heads that do not divide the width, a row length that is
 * not a whole number of quantisation blocks), or a seed out of range.
 */
export class ModelGenError extends PxiError {
  constructor(code: ModelGenErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export type ModelGenErrorCode =
  | 'MODELGEN_PRESET' // unknown preset name
  | 'MODELGEN_TYPE' // tensor type the generator does not write
  | 'MODELGEN_DIMS' // dimensions that are invalid or do not fit together
  | 'MODELGEN_SEED' // seed outside 0..2^32-1
  | 'MODELGEN_FILE' // a file-layout option (alignment, version, trailing bytes, extra metadata) out of range
  | 'MODELGEN_ABORTED' // generation stopped by the caller
  | 'MODELGEN_WRITE'; // the output could not be written (no such folder, disk full)
