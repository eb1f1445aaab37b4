/**
 * Browser mode's binary WebSocket frames: a frame (call or answer) that holds Uint8Array
 * values crosses as one binary message instead of JSON text, so tensor bytes travel raw (no
 * base64, no JSON). Layout (all integers little-endian; normative in specs/ARCHITECTURE.md,
 * "Browser-mode frames"):
 *
 *   0      4  magic "PXB1"
 *   4      4  u32 H: header length (8 + H is a multiple of 8; the JSON is padded with spaces)
 *   8      H  UTF-8 JSON {"frame": …, "parts": [{"path": [...], "length": n}, …]}: the frame
 *             with each binary value replaced by null, and where each one goes
 *   8 + H  …  the parts' bytes in order, each starting at a multiple of 8 (zero padding
 *             between parts), the message ending exactly after the last part
 *
 * Alignment lets a receiver view a part as Float32Array/Uint32Array without copying. Frames
 * without binary values stay JSON text.
 */
import { ByteReader } from '../binary/byte-reader';
import { PxiError } from '../errors';
import { IPC_ERRORS } from './envelope';

export const BINARY_FRAME = Object.freeze({
  magic: 'PXB1',
  /** A header is a frame's JSON without its bytes: generous, but bounded. */
  maxHeaderBytes: 1 << 20,
  maxParts: 16,
  maxPathLength: 16,
  /** Deeper values are not searched for bytes: no contract value nests this far. */
  maxDepth: 32,
  align: 8,
});

const MAGIC = new TextEncoder().encode(BINARY_FRAME.magic);
/** Keys that could reach an object's prototype if a hostile path used them. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

type PathKey = string | number;
interface Part {
  path: PathKey[];
  bytes: Uint8Array;
}

/** A frame the receiver refused; `details.id` is the frame's id when the header still said it. */
export class MalformedFrameError extends PxiError {
  constructor(message: string, id?: number) {
    super(IPC_ERRORS.MALFORMED_FRAME, `malformed binary frame: ${message}`, id === undefined ? undefined : { id });
  }
}

function align(n: number): number {
  return Math.ceil(n / BINARY_FRAME.align) * BINARY_FRAME.align;
}

function findParts(v: unknown, path: PathKey[], out: Part[], depth: number): void {
  if (v instanceof Uint8Array) {
    out.push({ path: [...path], bytes: v });
    return;
  }
  if (v === null || typeof v !== 'object' || depth >= BINARY_FRAME.maxDepth) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (x !== null && typeof x === 'object') {
        path.push(i);
        findParts(x, path, out, depth + 1);
        path.pop();
      }
    }
    return;
  }
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== null && typeof x === 'object') {
      path.push(k);
      findParts(x, path, out, depth + 1);
      path.pop();
    }
  }
}

/** `node` with the value at `path` replaced by null, copying only the containers on the path. */
function nulledAt(node: unknown, path: PathKey[], i: number): unknown {
  if (i === path.length) return null;
  const copy = (Array.isArray(node) ? [...(node as unknown[])] : { ...(node as Record<string, unknown>) }) as Record<PathKey, unknown>;
  const k = path[i]!;
  copy[k] = nulledAt(copy[k], path, i + 1);
  return copy;
}

/**
 * A frame for the wire: JSON text when it holds no Uint8Array, otherwise one binary message
 * (layout above). The parts are copied once into the message.
 */
export function encodeFrame(frame: object): string | Uint8Array<ArrayBuffer> {
  const parts: Part[] = [];
  findParts(frame, [], parts, 0);
  if (parts.length === 0) return JSON.stringify(frame);
  if (parts.length > BINARY_FRAME.maxParts) throw new MalformedFrameError(`${parts.length} binary values; at most ${BINARY_FRAME.maxParts} per frame`);
  let bare: unknown = frame;
  for (const p of parts) bare = nulledAt(bare, p.path, 0);
  let json = JSON.stringify({ frame: bare, parts: parts.map((p) => ({ path: p.path, length: p.bytes.byteLength })) });
  let header = new TextEncoder().encode(json);
  const pad = align(8 + header.length) - (8 + header.length);
  if (pad > 0) header = new TextEncoder().encode((json += ' '.repeat(pad)));
  if (header.length > BINARY_FRAME.maxHeaderBytes) throw new MalformedFrameError(`header of ${header.length} bytes; at most ${BINARY_FRAME.maxHeaderBytes}`);
  let size = 8 + header.length;
  const offsets = parts.map((p, i) => {
    const at = i === 0 ? size : align(size);
    size = at + p.bytes.byteLength;
    return at;
  });
  const out = new Uint8Array(size);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, header.length, true);
  out.set(header, 8);
  parts.forEach((p, i) => out.set(p.bytes, offsets[i]!));
  return out;
}

function checkPath(path: unknown, i: number, id: number | undefined): PathKey[] {
  if (!Array.isArray(path) || path.length < 1 || path.length > BINARY_FRAME.maxPathLength) {
    throw new MalformedFrameError(`parts[${i}].path must be an array of 1 to ${BINARY_FRAME.maxPathLength} keys`, id);
  }
  for (const k of path) {
    const okKey = (typeof k === 'string' && !FORBIDDEN_KEYS.has(k)) || (typeof k === 'number' && Number.isSafeInteger(k) && k >= 0);
    if (!okKey) throw new MalformedFrameError(`parts[${i}].path holds the key ${JSON.stringify(k)?.slice(0, 40) ?? String(k)}`, id);
  }
  return path as PathKey[];
}

/** Puts `bytes` where the header says; the slot must exist and hold the null placeholder. */
function place(frame: unknown, path: PathKey[], bytes: Uint8Array, i: number, id: number | undefined): void {
  let node = frame;
  for (let d = 0; d < path.length; d++) {
    const k = path[d]!;
    const isContainer = node !== null && typeof node === 'object' && (typeof k === 'number' ? Array.isArray(node) : !Array.isArray(node));
    if (!isContainer || !Object.prototype.hasOwnProperty.call(node, k)) {
      throw new MalformedFrameError(`parts[${i}].path ${JSON.stringify(path)} does not name a value of the frame`, id);
    }
    const container = node as Record<PathKey, unknown>;
    if (d === path.length - 1) {
      if (container[k] !== null) throw new MalformedFrameError(`parts[${i}].path ${JSON.stringify(path)} names a value that is not a null placeholder`, id);
      container[k] = bytes;
    } else node = container[k];
  }
}

/**
 * Reads a binary frame from an untrusted peer. Every length is checked against the message
 * before it is used; anything off (magic, header length or JSON, part count, path, length,
 * padding, trailing bytes) is a MalformedFrameError. The parts are views of `message`.
 */
export function decodeBinaryFrame(message: Uint8Array): unknown {
  const r = new ByteReader(message, 'binary frame');
  let id: number | undefined;
  try {
    const magic = r.bytesView(4, 'magic');
    if (!magic.every((b, i) => b === MAGIC[i])) throw new MalformedFrameError(`magic ${JSON.stringify(String.fromCharCode(...magic))} is not ${JSON.stringify(BINARY_FRAME.magic)}`);
    const h = r.u32('header length');
    if (h < 2 || h > BINARY_FRAME.maxHeaderBytes || (8 + h) % BINARY_FRAME.align !== 0) {
      throw new MalformedFrameError(`header length ${h} must be 2..${BINARY_FRAME.maxHeaderBytes} with 8 + length a multiple of ${BINARY_FRAME.align}`);
    }
    let header: unknown;
    try {
      header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(r.bytesView(h, 'header')));
    } catch (e) {
      if (e instanceof PxiError) throw e;
      throw new MalformedFrameError('the header is not UTF-8 JSON');
    }
    if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new MalformedFrameError('the header must be an object {frame, parts}');
    const { frame, parts } = header as { frame?: unknown; parts?: unknown };
    const maybeId = (frame as { id?: unknown } | null)?.id;
    if (typeof maybeId === 'number' && Number.isSafeInteger(maybeId)) id = maybeId;
    if (frame === null || typeof frame !== 'object') throw new MalformedFrameError('header.frame must be an object', id);
    if (!Array.isArray(parts) || parts.length < 1 || parts.length > BINARY_FRAME.maxParts) {
      throw new MalformedFrameError(`header.parts must list 1 to ${BINARY_FRAME.maxParts} parts`, id);
    }
    parts.forEach((p: unknown, i) => {
      const { path, length } = (p ?? {}) as { path?: unknown; length?: unknown };
      const keys = checkPath(path, i, id);
      if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0) {
        throw new MalformedFrameError(`parts[${i}].length ${JSON.stringify(length)?.slice(0, 40)} is not a byte count`, id);
      }
      if (i > 0) {
        const padding = r.bytesView(align(r.offset) - r.offset, `padding before parts[${i}]`);
        if (padding.some((b) => b !== 0)) throw new MalformedFrameError(`padding before parts[${i}] is not zero`, id);
      }
      place(frame, keys, r.bytesView(length, `parts[${i}] (${length} bytes)`), i, id);
    });
    if (r.remaining !== 0) throw new MalformedFrameError(`${r.remaining} bytes after the last part`, id);
    return frame;
  } catch (e) {
    if (e instanceof MalformedFrameError) throw e;
    // The reader's bounds errors name the field and what was missing: say so under our code.
    throw new MalformedFrameError((e as Error).message, id);
  }
}
