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
