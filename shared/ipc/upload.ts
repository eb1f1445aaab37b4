import { z } from 'zod';

/**
 * Browser mode's GGUF upload over plain HTTP, beside the WebSocket contract (a file is a
 * stream, not a frame): `POST /upload?name=FILE` with the file as the body and its
 * Content-Length, then `DELETE /upload?id=ID` for an upload the page no longer wants. Served
 * by electron/web/upload.ts, called by renderer/src/views/import/upload.ts; specs/ui.md,
 * "Import in browser mode".
 */
export const UPLOAD_PATH = '/upload';

/** Error codes of upload refusals (the body is `{error: SerializedError}`). */
export const UPLOAD_ERRORS = Object.freeze({
  BAD_REQUEST: 'UPLOAD_BAD_REQUEST',
  LENGTH_REQUIRED: 'UPLOAD_LENGTH_REQUIRED',
  TOO_LARGE: 'UPLOAD_TOO_LARGE',
  NOT_GGUF: 'UPLOAD_NOT_GGUF',
  INCOMPLETE: 'UPLOAD_INCOMPLETE',
  NOT_FOUND: 'UPLOAD_NOT_FOUND',
  FAILED: 'UPLOAD_FAILED',
  /** Client side only: the person cancelled. */
  CANCELLED: 'UPLOAD_CANCELLED',
});

/** The 201 answer: where the file was staged on the server (what the wizard imports). */
export const UploadResult = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{32}$/),
  path: z.string().min(1).max(4096),
  name: z.string().min(1).max(256),
  bytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});
export type UploadResult = z.output<typeof UploadResult>;

/** The GGUF magic: an upload must start with it. */
export const GGUF_MAGIC_TEXT = 'GGUF';
