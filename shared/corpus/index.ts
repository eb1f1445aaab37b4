// Text corpora (`pxi corpus`): specs/training.md, "Data: corpus and tokenizer".
export { CorpusError, type CorpusErrorCode } from './errors';
export {
  MAX_DOCUMENT_BYTES,
  NORMALIZE_STEPS,
  checkDocument,
  findMojibake,
  invalidUtf8,
  normalizeText,
  parseNormalize,
  type NormalizeChange,
  type NormalizeStep,
  type Utf8Problem,
} from './text';
export { DocumentEncoder, type DocumentEncoderOptions } from './encode';
export { corpusMapId, placeCorpus, type CorpusLayout, type CorpusPlacementOptions } from './placement';
export { MAX_PASSAGE_CHARS, MIN_PASSAGE_CHARS, PASSAGE_SPLITTER_VERSION, splitPassages, type Passage, type SplitOptions } from './passages';
export { MAX_QUERY_TERMS, MAX_TERM_CHARS, STOP_WORDS, buildSearchQuery, queryWords, type SearchQuery } from './query';
export { BUILTIN_CORPUS } from './builtin';
