/**
 * The token shard file a corpus keeps in PixelFS per tokenizer (`corpora/NAME/shards/HASH`),
 * and the tokenizer hash that names it. Little-endian:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 4 | magic `PXTS` |
 * | 4 | 4 | u32 format version (1) |
 * | 8 | 4 | u32 bytes per token: 2 (vocabulary ≤ 65 536) or 4 |
 * | 12 | 4 | u32 vocabulary size |
 * | 16 | 4 | u32 documents D |
 * | 20 | 4 | u32 tokens N |
 * | 24 | 4 | i32 BOS id put at each document start, −1 for none |
 * | 28 | 4 | zero |
 * | 32 | 32 | sha256 of the corpus (its catalog record) |
 * | 64 | 32 | the tokenizer hash |
 * | 96 | 4·D | u32 token index where each document starts (its BOS) |
 * | 96 + 4·D | N·(2 or 4) | the tokens |
 */
import { createHash } from 'node:crypto';
import { Tokenizer, type TokenizerSpec } from '../../shared/tokenizer';

export const SHARD_MAGIC = 'PXTS';
export const SHARD_VERSION = 1;
export const SHARD_HEADER_BYTES = 96;

export interface ShardContent {
  vocabSize: number;
  bos: number | null;
  corpusSha256: string;
  tokenizerHash: string;
  documentStarts: Uint32Array;
  tokens: Uint16Array | Uint32Array;
}

/**
 * sha256 (hex) of everything that decides how a tokenizer splits text: model, pre-tokenizer,
 * token texts, scores (as float32), token types and merges as our tokenizer resolves them, the
 * BOS/EOS/unknown ids and the add-BOS/EOS/space-prefix flags. Two specs with the same hash give
 * the same token ids for every text.
 */
export function tokenizerHash(spec: TokenizerSpec): string {
  const tok = new Tokenizer(spec);
  const n = tok.size;
  const types: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) types[i] = tok.tokenType(i);
  const scores = spec.scores ? Array.from(Float32Array.from(spec.scores)) : [];
  const canonical = JSON.stringify({
    hash: 'pxi-tokenizer-hash/1',
    model: tok.model,
    pre: tok.pre ?? null,
    tokens: spec.tokens,
    scores,
    types,
    merges: spec.merges ?? [],
    bos: tok.bos ?? null,
    eos: tok.eos ?? null,
    unk: tok.unk ?? null,
    addBos: tok.addBos,
    addEos: tok.addEos,
    addSpacePrefix: tok.addSpacePrefix,
  });
  return createHash('sha256').update(canonical).digest('hex');
}

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeShard(s: ShardContent): Uint8Array {
  const width = s.tokens.BYTES_PER_ELEMENT;
  const d = s.documentStarts.length;
  const out = new Uint8Array(SHARD_HEADER_BYTES + 4 * d + width * s.tokens.length);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(SHARD_MAGIC), 0);
  dv.setUint32(4, SHARD_VERSION, true);
  dv.setUint32(8, width, true);
  dv.setUint32(12, s.vocabSize, true);
  dv.setUint32(16, d, true);
  dv.setUint32(20, s.tokens.length, true);
  dv.setInt32(24, s.bos ?? -1, true);
  out.set(Buffer.from(s.corpusSha256, 'hex'), 32);
  out.set(Buffer.from(s.tokenizerHash, 'hex'), 64);
  let at = SHARD_HEADER_BYTES;
  for (let i = 0; i < d; i++, at += 4) dv.setUint32(at, s.documentStarts[i]!, true);
  if (LE) out.set(new Uint8Array(s.tokens.buffer, s.tokens.byteOffset, s.tokens.byteLength), at);
  else for (let i = 0; i < s.tokens.length; i++) (width === 2 ? dv.setUint16(at + 2 * i, s.tokens[i]!, true) : dv.setUint32(at + 4 * i, s.tokens[i]!, true));
  return out;
}

/**
 * Reads a shard back; null (a reason in `why`) when it is not one, is of another version, or
 * does not hold what `expect` says: the caller then rebuilds it.
 */
export function decodeShard(bytes: Uint8Array, expect: { corpusSha256: string; tokenizerHash: string; vocabSize: number }, why: string[] = []): ShardContent | null {
  if (bytes.length < SHARD_HEADER_BYTES) return (why.push(`${bytes.length} bytes is shorter than the header`), null);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== SHARD_MAGIC) return (why.push('no PXTS magic'), null);
  const version = dv.getUint32(4, true);
  if (version !== SHARD_VERSION) return (why.push(`format version ${version}, not ${SHARD_VERSION}`), null);
  const width = dv.getUint32(8, true);
  const vocabSize = dv.getUint32(12, true);
  const d = dv.getUint32(16, true);
  const n = dv.getUint32(20, true);
  const bos = dv.getInt32(24, true);
  const corpusSha256 = Buffer.from(bytes.subarray(32, 64)).toString('hex');
  const tokenizerHash = Buffer.from(bytes.subarray(64, 96)).toString('hex');
  if (width !== (vocabSize <= 65536 ? 2 : 4)) return (why.push(`${width} bytes per token for a vocabulary of ${vocabSize}`), null);
  if (vocabSize !== expect.vocabSize || corpusSha256 !== expect.corpusSha256 || tokenizerHash !== expect.tokenizerHash) {
    return (why.push('made for another corpus content or tokenizer'), null);
  }
  if (bytes.length !== SHARD_HEADER_BYTES + 4 * d + width * n) return (why.push(`${bytes.length} bytes, expected ${SHARD_HEADER_BYTES + 4 * d + width * n}`), null);
  const documentStarts = new Uint32Array(d);
  for (let i = 0; i < d; i++) documentStarts[i] = dv.getUint32(SHARD_HEADER_BYTES + 4 * i, true);
  const at = SHARD_HEADER_BYTES + 4 * d;
  const tokens = width === 2 ? new Uint16Array(n) : new Uint32Array(n);
  if (LE) new Uint8Array(tokens.buffer).set(bytes.subarray(at, at + width * n));
  else for (let i = 0; i < n; i++) tokens[i] = width === 2 ? dv.getUint16(at + 2 * i, true) : dv.getUint32(at + 4 * i, true);
  for (let i = 0; i < n; i++) if (tokens[i]! >= vocabSize) return (why.push(`token ${i} is ${tokens[i]}, outside the vocabulary`), null);
  for (let i = 0; i < d; i++) if (documentStarts[i]! > n || (i > 0 && documentStarts[i]! < documentStarts[i - 1]!)) return (why.push('document starts out of order'), null);
  return { vocabSize, bos: bos < 0 ? null : bos, corpusSha256, tokenizerHash, documentStarts, tokens };
}
