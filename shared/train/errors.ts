import { PxiError } from '../errors';

/**
 * Training was asked for something it cannot do, or a run went wrong: sizes that do not fit
 * together (heads not dividing the width, a context longer than the data), a corpus that is
 * empty or not text, a loss or gradient that went non-finite (the step and tensor named), a
 * checkpoint that could not be written or read.
 */
export class TrainError extends PxiError {
  constructor(code: TrainErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export type TrainErrorCode =
  | 'TRAIN_CONFIG' // a size or hyperparameter that is invalid or does not fit the others
  | 'TRAIN_DATA' // corpus empty, binary, not UTF-8, or shorter than one context
  | 'TRAIN_NONFINITE' // loss or a gradient became NaN/Inf (details: step, tensor)
  | 'TRAIN_CHECKPOINT' // a checkpoint could not be written, read or matched to its run
  | 'TRAIN_ABORTED' // stopped by the caller (pause, cancel, signal)
  | 'GPU_DEVICE_LOST'; // the device went away mid-run (details: step, lastCheckpoint, reason)
