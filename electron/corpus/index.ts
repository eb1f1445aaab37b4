// Text corpora in a volume and their token shards (specs/training.md, "Data: corpus and tokenizer").
export {
  CORPUS_SCHEMA_VERSION,
  CorpusStore,
  checkCorpusName,
  corpusPaths,
  corpusSha256,
  type AddOptions,
  type AddProgress,
  type AddResult,
  type CorpusDetail,
  type CorpusDocument,
  type CorpusInfo,
  type CorpusShardInfo,
  type CorpusVerifyReport,
  type CorpusVerifyState,
  type NewDocument,
  type ShardOptions,
  type ShardProgress,
  type TokenShard,
} from './store';
export { readTokenShard } from './shards';
export { SHARD_HEADER_BYTES, SHARD_MAGIC, SHARD_VERSION, decodeShard, encodeShard, tokenizerHash, type ShardContent } from './shard-format';
export { loadTokenizerSpec, type LoadedTokenizer } from './tokenizer-file';
