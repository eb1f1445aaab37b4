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
export { PASSAGE_DB_FILE, PASSAGE_SCHEMA_VERSION, PassageIndex, type IndexDocument, type IndexState, type IndexedCorpus, type PassageRow } from './passage-index';
export { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, MAX_SEARCH_TEXT, ensurePassages, searchCorpora, type EnsureResult, type IndexEvent, type SearchOptions, type SearchResult } from './retrieval';
export { BUILTIN_CORPUS, addBuiltinCorpus, builtinDocuments, type BuiltinOutcome } from './builtin';
