import { PxiError } from '../errors';

export type TokenizerTrainErrorCode =
  | 'TOKENIZER_TRAIN_OPTIONS' // a vocabulary size, coverage or piece length out of range
  | 'TOKENIZER_TRAIN_EMPTY' // no text to learn from
  | 'TOKENIZER_TRAIN_TOO_SMALL' // the text runs out of pairs before the vocabulary is full
  | 'TOKENIZER_TRAIN_FILE'; // a trained-tokenizer JSON file that is not one

/** Failures of `pxi tokenizer train` and of reading its output back. */
export class TokenizerTrainError extends PxiError {
  constructor(code: TokenizerTrainErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
