/**
 * A tokenizer named by a file: a trained vocabulary (`pxi tokenizer train`'s JSON) or any GGUF
 * model (its `tokenizer.ggml.*` keys). What `pxi corpus tokenize --tokenizer` and
 * `pxi tokenizer encode` accept.
 */
import fs from 'node:fs/promises';
import { CorpusError } from '../../shared/corpus/errors';
import { readGgufHeader } from '../../shared/gguf/reader';
import { tokenizerSpecFromGguf, type TokenizerSpec } from '../../shared/tokenizer';
import { parseTrainedTokenizer, trainedTokenizerSpec, type TrainedTokenizer } from '../../shared/tokenizer-train';
import { TokenizerTrainError } from '../../shared/tokenizer-train/errors';
import { withFileByteSource } from '../storage/file-byte-source';

export interface LoadedTokenizer {
  spec: TokenizerSpec;
  kind: 'trained' | 'gguf';
  /** The trained vocabulary (JSON files only). */
  trained?: TrainedTokenizer;
}

export async function loadTokenizerSpec(file: string): Promise<LoadedTokenizer> {
  const head = await fs.readFile(file, { flag: 'r' }).then(
    (b) => b.subarray(0, 4),
    () => null,
  );
  if (head === null) throw new CorpusError('CORPUS_FILE_MISSING', `${file}: no such tokenizer file`, { file });
  if (Buffer.from(head).toString('latin1') === 'GGUF') {
    const h = await withFileByteSource(file, (src) => readGgufHeader(src, { name: file }));
    return { spec: tokenizerSpecFromGguf(h.metadata, file), kind: 'gguf' };
  }
  let value: unknown;
  try {
    value = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new TokenizerTrainError('TOKENIZER_TRAIN_FILE', `${file}: neither a GGUF file nor JSON (${(e as Error).message})`, { file });
  }
  const trained = parseTrainedTokenizer(value, file);
  return { spec: trainedTokenizerSpec(trained), kind: 'trained', trained };
}
