import { PxiError } from '../errors';

/** Stable codes of text corpora (specs/training.md, "Data: corpus and tokenizer"). */
export type CorpusErrorCode =
  | 'CORPUS_BAD_NAME' // a corpus name that is not 1-64 of [A-Za-z0-9._-], starting with a letter or digit
  | 'CORPUS_EXISTS' // a corpus of that name is already in the volume
  | 'CORPUS_NOT_FOUND' // no corpus of that name
  | 'CORPUS_BUSY' // the corpus is being added or removed by another call in this process
  | 'CORPUS_FILE_MISSING' // a document file that does not exist or is not a regular file
  | 'CORPUS_DUPLICATE_FILE' // the same file named twice in one add
  | 'CORPUS_EMPTY' // a document with no bytes, or only whitespace
  | 'CORPUS_BINARY' // a document holding a NUL byte
  | 'CORPUS_NOT_UTF8' // a document that is not valid UTF-8 (the byte offset is named)
  | 'CORPUS_TOO_LARGE' // a document above the size one document may have
  | 'CORPUS_NORMALIZE' // an unknown normalisation step
  | 'CORPUS_CORRUPT' // stored corpus bytes that no longer match their catalog record
  | 'CORPUS_TOKENIZER' // a tokenizer the shard reader cannot use (no BOS where one is needed, ...)
  | 'CORPUS_INDEX' // a passage index file of another schema (it is made anew)
  | 'CORPUS_BAD_QUERY' // a search with a limit out of range or a text longer than a search takes
  | 'CORPUS_BUILTIN_MISSING'; // the built-in corpus's files are not where the app ships them

export class CorpusError extends PxiError {
  constructor(code: CorpusErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
