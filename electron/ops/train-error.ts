/**
 * The errors of the training runs the services keep (electron/services/train-handlers.ts and the
 * modules beside it, and the weight-change records of ./train-weight-change.ts): one class, a
 * code for each refusal.
 */
import { PxiError } from '../../shared/errors';

export type TrainServiceErrorCode =
  | 'TRAIN_RUN_EXISTS' // a run (or a model) of that name is already there
  | 'TRAIN_RUN_NOT_FOUND' // no task and no checkpoint under that run name
  | 'TRAIN_NOT_RUNNING' // pause of a run that is not queued or running
  | 'TRAIN_NOT_PAUSED' // resume of a run that is not paused or failed
  | 'TRAIN_BAD_PATH' // a training text path that is relative, missing or not a file
  | 'TRAIN_NO_CHANGE' // no weight change to show (no checkpoint yet, or not that step)
  | 'TRAIN_DISCARDED' // a task whose run was cancelled came back after a restart
  | 'TRAIN_UNAVAILABLE' // the training engine could not be loaded in this process (or a fine-tune asked to train in a window)
  | 'TRAIN_WINDOW_STALE' // a window run's call with a session that is no longer the run's
  | 'TRAIN_WINDOW_UPLOAD'; // a window run's checkpoint that is incomplete or does not fit its run

export class TrainServiceError extends PxiError {
  constructor(code: TrainServiceErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
