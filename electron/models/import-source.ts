/**
 * The import's view of its source GGUF: the data section cut into tensors and the gaps between
 * them, read in order into the hash thread's slots, one read ahead of the consumer; the checks an
 * import makes of the model's name and configuration before it writes anything.
 */
import type fs from 'node:fs/promises';
import type { ByteSource } from '../../shared/binary/byte-source';
import type { GgufHeader } from '../../shared/gguf/reader';
import { modelConfigFromGguf, type ModelConfig } from '../../shared/model/config';
import { ModelError } from '../../shared/model/errors';
import { ModelStoreError } from './errors';
import type { HashRing, Slot } from './hash-ring';

const MAX_NAME_LENGTH = 256;

export function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return s || 'model';
}

export function checkName(name: string): void {
  // Printable text only: a name is shown in tables and typed on command lines.
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || /\p{Cc}/u.test(name) || name.trim() !== name) {
    throw new ModelStoreError('MODEL_BAD_NAME', `model name ${JSON.stringify(name.slice(0, 80))} must be 1 to ${MAX_NAME_LENGTH} printable characters without leading or trailing spaces`, {
      field: 'name',
      value: name.slice(0, 80),
    });
  }
}


export interface Segment {
  kind: 'tensor' | 'gap';
  /** Tensor index (a gap follows tensor `index`). */
  index: number;
  start: number;
  length: number;
}

/** The data section in file order: each tensor, then the bytes up to the next tensor (or the end). */
export function dataSegments(h: GgufHeader): Segment[] {
  const out: Segment[] = [];
  h.tensors.forEach((t, i) => {
    out.push({ kind: 'tensor', index: i, start: t.offset, length: t.byteSize });
    const end = i + 1 < h.tensors.length ? h.tensors[i + 1]!.offset : h.fileSize;
    const gap = end - (t.offset + t.byteSize);
    if (gap > 0) out.push({ kind: 'gap', index: i, start: t.offset + t.byteSize, length: gap });
  });
  return out;
}

/** Reads exactly `length` bytes at `position` into `into` (a short file is an error). */
async function readFully(fh: fs.FileHandle, into: Uint8Array, length: number, position: number, file: string): Promise<void> {
  let n = 0;
  while (n < length) {
    const { bytesRead } = await fh.read(into, n, length - n, position + n);
    if (bytesRead === 0) {
      throw new ModelStoreError('MODEL_SOURCE_CHANGED', `${file}: ended at byte ${position + n} while reading ${length} bytes at ${position}`, { file, field: 'size', value: position + n });
    }
    n += bytesRead;
  }
}

/**
 * Consecutive ranges read into hash-ring slots, one read in flight ahead of the consumer. The
 * consumer owns each yielded slot and must release it.
 */
export async function* readIntoSlots(
  fh: fs.FileHandle,
  file: string,
  hasher: HashRing,
  ranges: Iterable<{ start: number; length: number; seg: Segment }>,
): AsyncGenerator<{ seg: Segment; slot: Slot; length: number }> {
  const it = ranges[Symbol.iterator]();
  const begin = (): Promise<{ seg: Segment; slot: Slot; length: number }> | null => {
    const r = it.next();
    if (r.done) return null;
    const { start, length, seg } = r.value;
    const p = (async () => {
      const slot = await hasher.acquire();
      try {
        await readFully(fh, slot.bytes, length, start, file);
      } catch (e) {
        hasher.release(slot.index);
        throw e;
      }
      return { seg, slot, length };
    })();
    p.catch(() => undefined); // awaited below; never an unhandled rejection
    return p;
  };
  let next = begin();
  try {
    while (next) {
      const cur = await next;
      next = begin();
      yield cur;
    }
  } finally {
    // Stopped early: the read in flight still holds a slot.
    if (next) await next.then((r) => hasher.release(r.slot.index), () => undefined);
  }
}

export function* chunked(segs: readonly Segment[], chunk: number): Generator<{ start: number; length: number; seg: Segment }> {
  for (const seg of segs) {
    for (let off = 0; off < seg.length; off += chunk) yield { start: seg.start + off, length: Math.min(chunk, seg.length - off), seg };
  }
}

export async function* rangeOf(src: ByteSource, start: number, length: number, chunk: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < length; off += chunk) yield await src.read(start + off, Math.min(chunk, length - off));
}

/** The model configuration, or null when the file is not a model of a family we run. */
export function configOrNull(h: GgufHeader): ModelConfig | null {
  try {
    return modelConfigFromGguf(h);
  } catch (e) {
    if (e instanceof ModelError) return null;
    throw e;
  }
}

/** general.architecture as the file says it (a catalog column), or "unknown". */
export function declaredArchitecture(h: GgufHeader): string {
  const v = h.metadata.get('general.architecture');
  return v?.type === 'string' && v.value.length > 0 ? v.value.slice(0, 64) : 'unknown';
}

