/**
 * Building a token shard: the corpus's documents read back from PixelFS, tokenized (BOS, then
 * each document's tokens) and stored as one shard file (shard-format.ts), unless a valid cached
 * shard is there to read instead.
 */
import { performance } from 'node:perf_hooks';
import { DocumentEncoder } from '../../shared/corpus/encode';
import { CorpusError } from '../../shared/corpus/errors';
import type { TokenizerSpec } from '../../shared/tokenizer';
import { cancelledError } from '../models/errors';
import type { Volume } from '../pixelfs/volume';
import { decodeShard, encodeShard } from './shard-format';
import type { CorpusDetail, CorpusDocument, ShardOptions, TokenShard } from './store-types';

/** Reads one document's text back (tile and file sha256 checked). */
export type ReadDocument = (d: CorpusDocument) => Promise<string>;

export async function buildTokenShard(volume: Volume, readDoc: ReadDocument, c: CorpusDetail, spec: TokenizerSpec, hash: string, file: string, opts: ShardOptions): Promise<TokenShard> {
  const t0 = performance.now();
  const enc = new DocumentEncoder(spec);
  const vocabSize = enc.tokenizer.size;
  const expect = { corpusSha256: c.sha256, tokenizerHash: hash, vocabSize };
  const st = volume.stat(file);
  if (st && !opts.rebuild) {
    const why: string[] = [];
    const s = decodeShard(await volume.read(file, 0, st.size), expect, why);
    if (s) {
      return { corpus: c.name, tokenizerHash: hash, tokens: s.tokens, documentStarts: s.documentStarts, bos: s.bos, vocabSize, textBytes: c.bytes, cached: true, file, seconds: (performance.now() - t0) / 1000 };
    }
  }
  const bos = enc.tokenizer.bos ?? null;
  let buf = new Uint32Array(Math.max(1024, Math.ceil(c.bytes / 2) + c.docs.length));
  let n = 0;
  const push = (id: number): void => {
    if (n === buf.length) {
      const next = new Uint32Array(buf.length * 2);
      next.set(buf);
      buf = next;
    }
    buf[n++] = id;
  };
  const starts = new Uint32Array(c.docs.length);
  let bytesDone = 0;
  let lastReport = 0;
  for (const d of c.docs) {
    if (opts.signal?.aborted) throw cancelledError(`tokenizing corpus ${c.name}`, opts.signal.reason);
    if (n > 0xffffffff - 1) throw new CorpusError('CORPUS_TOO_LARGE', `corpus ${c.name} has more than 2^32 tokens`, { corpus: c.name });
    starts[d.index] = n;
    if (bos !== null) push(bos);
    const text = await readDoc(d);
    let pieces = 0;
    enc.encode(text, (ids, end) => {
      for (const id of ids) push(id);
      if (++pieces % 4096 === 0) {
        if (opts.signal?.aborted) throw cancelledError(`tokenizing corpus ${c.name}`, opts.signal.reason);
        const now = performance.now();
        if (opts.onProgress && now - lastReport > 250) {
          lastReport = now;
          opts.onProgress({ bytesDone: bytesDone + Math.round((d.bytes * end) / Math.max(1, text.length)), bytesTotal: c.bytes, tokens: n });
        }
      }
    });
    bytesDone += d.bytes;
    opts.onProgress?.({ bytesDone, bytesTotal: c.bytes, tokens: n });
  }
  if (n > 0xffffffff) throw new CorpusError('CORPUS_TOO_LARGE', `corpus ${c.name} has more than 2^32 tokens`, { corpus: c.name });
  const tokens = vocabSize <= 65536 ? Uint16Array.from(buf.subarray(0, n)) : buf.slice(0, n);
  const bytes = encodeShard({ vocabSize, bos, corpusSha256: c.sha256, tokenizerHash: hash, documentStarts: starts, tokens });
  await volume.put(file, [bytes], { overwrite: true, size: bytes.length });
  return { corpus: c.name, tokenizerHash: hash, tokens, documentStarts: starts, bos, vocabSize, textBytes: c.bytes, cached: false, file, seconds: (performance.now() - t0) / 1000 };
}
