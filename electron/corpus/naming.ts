/** A corpus's name, its files' PixelFS names (`corpora/NAME/...`) and its hash. */
import { createHash } from 'node:crypto';
import { CorpusError } from '../../shared/corpus/errors';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const CORPUS_PREFIX = 'corpora/';

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** The corpus hash: over its documents' hashes and sizes, in order. */
export function corpusSha256(docs: readonly { sha256: string; bytes: number }[]): string {
  return sha256(`pxi-corpus/1\n${docs.map((d) => `${d.sha256} ${d.bytes}\n`).join('')}`);
}

export function checkCorpusName(name: string): string {
  if (typeof name !== 'string' || !NAME_RE.test(name)) {
    throw new CorpusError('CORPUS_BAD_NAME', `corpus name ${JSON.stringify(name)} must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`, {
      field: 'name',
      value: name,
    });
  }
  return name;
}

export const corpusPaths = {
  prefix: (name: string) => `${CORPUS_PREFIX}${name}/`,
  doc: (name: string, i: number) => `${CORPUS_PREFIX}${name}/docs/${i}`,
  shardPrefix: (name: string) => `${CORPUS_PREFIX}${name}/shards/`,
  shard: (name: string, hash: string) => `${CORPUS_PREFIX}${name}/shards/${hash}`,
};
