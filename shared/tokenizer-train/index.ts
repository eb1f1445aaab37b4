// Learning tokenizer vocabularies (`pxi tokenizer train`): specs/training.md, "Data: corpus and tokenizer".
export { TokenizerTrainError, type TokenizerTrainErrorCode } from './errors';
export {
  DEFAULT_MAX_PIECE_LENGTH,
  FIRST_PIECE_ID,
  MAX_TRAIN_VOCAB,
  SPACE,
  SPECIAL_TOKENS,
  TIE_BREAK,
  TRAINED_TOKENIZER_FORMAT,
  byteTokenText,
  documentWords,
  trainTokenizer,
  utf8Length,
  type TrainOptions,
  type TrainProgress,
  type TrainSource,
  type TrainedTokenizer,
  type TrainingInfo,
} from './train';
export { parseTrainedTokenizer, serializeTrainedTokenizer, tokenizerMetadata, trainedTokenizerSpec, withTokenizerMetadata } from './metadata';
