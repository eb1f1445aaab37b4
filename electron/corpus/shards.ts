/**
 * Token shards for training: a corpus read back from its PixelFS tiles as one token stream,
 * cached in PixelFS per tokenizer (specs/training.md, "Data: corpus and tokenizer").
 *
 *   const spec = trainedTokenizerSpec(parseTrainedTokenizer(JSON.parse(json)));  // or tokenizerSpecFromGguf(meta)
 *   const shard = await readTokenShard(store, 'tinystories-train', spec);
 *   shard.tokens          // Uint16Array (vocabulary ≤ 65 536) or Uint32Array: [BOS, doc 0 …, BOS, doc 1 …]
 *   shard.documentStarts  // where each document's BOS is
 */
import type { TokenizerSpec } from '../../shared/tokenizer';
import type { ModelStore } from '../models/store';
import { CorpusStore, type ShardOptions, type TokenShard } from './store';

export type { ShardOptions, ShardProgress, TokenShard } from './store';
export { tokenizerHash } from './shard-format';

/** `CorpusStore.tokenShard` for a store that is already open. */
export async function readTokenShard(store: ModelStore, corpus: string, tokenizer: TokenizerSpec, opts: ShardOptions = {}): Promise<TokenShard> {
  return (await CorpusStore.open(store)).tokenShard(corpus, tokenizer, opts);
}
