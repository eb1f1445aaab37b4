import { z } from 'zod';

/** Shared building blocks of channel schemas. */
export const Empty = z.strictObject({});

/** Bytes that are not bulk (heat images) cross both transports as base64 text inside JSON. */
export const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 text');

/**
 * Bulk bytes (tensor data): a Uint8Array of at most `maxBytes`. Electron's IPC carries it by
 * structured clone, browser mode's WebSocket as a binary frame (shared/ipc/binary-frame.ts);
 * neither turns it into text. Anything else (base64 text, an array of numbers) is refused.
 */
export function Bytes(maxBytes: number) {
  return z.instanceof(Uint8Array, { message: 'expected binary bytes (a Uint8Array)' }).refine((b) => b.byteLength <= maxBytes, `at most ${maxBytes} bytes`);
}

/**
 * `b` as a plain Uint8Array that owns its whole ArrayBuffer. Structured clone (Electron IPC,
 * postMessage) copies a view's entire buffer, and a small Node Buffer is a view of an 8 KiB
 * pool (a subarray of anything larger): those are copied; an exact one is re-wrapped as is.
 */
export function ownedBytes(b: Uint8Array): Uint8Array<ArrayBuffer> {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return new Uint8Array(b.buffer, 0, b.byteLength);
  return new Uint8Array(b);
}
