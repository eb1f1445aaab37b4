/** The public shapes of the corpus store (store.ts): corpora, documents, adding, verifying, token shards. */
import type { NormalizeChange, NormalizeStep } from '../../shared/corpus/text';
import type { Rect } from '../../shared/map/geometry';

export type CorpusVerifyState = 'unverified' | 'ok' | 'corrupt';

export interface CorpusDocument {
  index: number;
  /** The file's base name when added. */
  name: string;
  sourcePath: string;
  sourceBytes: number;
  sourceSha256: string;
  /** The PixelFS file holding the (normalised) text. */
  file: string;
  bytes: number;
  sha256: string;
  /** What normalisation changed in this document. */
  changes: NormalizeChange[];
}

export interface CorpusInfo {
  name: string;
  documents: number;
  /** UTF-8 bytes stored (after normalisation). */
  bytes: number;
  /** sha256 of "pxi-corpus/1\n" + one line "SHA256 BYTES\n" per document, in order. */
  sha256: string;
  normalize: NormalizeStep[];
  createdAt: number;
  verifyState: CorpusVerifyState;
  verifiedAt: number | null;
  /** The corpus's box on the Infinite Map (null if its regions are gone). */
  mapBox: Rect | null;
}

export interface CorpusShardInfo {
  file: string;
  tokenizerHash: string;
  bytes: number;
}

export interface CorpusDetail extends CorpusInfo {
  docs: CorpusDocument[];
  mapId: string;
  shards: CorpusShardInfo[];
}

export interface AddProgress {
  bytesDone: number;
  bytesTotal: number;
  document: number;
  documents: number;
}

export interface AddOptions {
  normalize?: readonly NormalizeStep[];
  signal?: AbortSignal;
  onProgress?: (p: AddProgress) => void;
}

export interface AddResult {
  corpus: CorpusDetail;
  tilesWritten: number;
  tilesDeduped: number;
  seconds: number;
  /** Mojibake found in the text and left as it is (normalisation `mojibake` was not asked for). */
  mojibake: NormalizeChange[];
  /** Passages indexed for search, or why indexing failed (the corpus is stored either way; a search rebuilds it). */
  passages: { passages: number; seconds: number } | { error: string };
}

export interface NewDocument {
  name: string;
  sourcePath: string;
  bytes: Uint8Array;
}

export interface CorpusVerifyReport {
  corpus: string;
  ok: boolean;
  documents: { index: number; name: string; file: string; ok: boolean; problems: string[] }[];
  shards: { file: string; ok: boolean; problems: string[] }[];
  tilesChecked: number;
  bytesChecked: number;
}

export interface TokenShard {
  corpus: string;
  /** tokenizerHash(spec): names the cached shard. */
  tokenizerHash: string;
  /** Every document's tokens in order, each started by BOS (when the tokenizer has one). */
  tokens: Uint16Array | Uint32Array;
  /** Token index where each document starts (at its BOS). */
  documentStarts: Uint32Array;
  bos: number | null;
  vocabSize: number;
  /** UTF-8 bytes of the corpus text the tokens cover. */
  textBytes: number;
  /** True when read from the cached shard; false when tokenized now (and then cached). */
  cached: boolean;
  /** The PixelFS file of the shard. */
  file: string;
  seconds: number;
}

export interface ShardProgress {
  bytesDone: number;
  bytesTotal: number;
  tokens: number;
}

export interface ShardOptions {
  /** Tokenize again even if a cached shard exists (and replace it). */
  rebuild?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: ShardProgress) => void;
}
