import { z } from 'zod';

/**
 * Browser mode's model download over plain HTTP, beside the WebSocket contract (a GGUF of
 * gigabytes is a stream, not a frame): the stored model rebuilt as its GGUF file and sent to
 * the browser's machine. Served by electron/web/model-download.ts, asked for by the Models view
 * (renderer/src/views/models.ts); specs/ui.md, "Models". The request guard (Host, Origin, the
 * session token's cookie) is the WebSocket's.
 *
 * - `GET /download/check?model=ID` answers `200 DownloadCheck` or `{error}`: asked first, because
 *   a refusal that arrives as a download shows only as "Failed" in the browser's list.
 * - `GET /download?model=ID` sends the bytes (`Content-Disposition: attachment`). The last
 *   bytes leave only once the whole file matched the source's sha256; a mismatch or a read error
 *   cuts the connection, so the browser marks the download failed rather than keep a wrong file.
 */
export const DOWNLOAD_PATH = '/download';
export const DOWNLOAD_CHECK_PATH = '/download/check';

/** Error codes of download refusals (the body is `{error: SerializedError}`). */
export const DOWNLOAD_ERRORS = Object.freeze({
  BAD_REQUEST: 'DOWNLOAD_BAD_REQUEST',
  NOT_FOUND: 'DOWNLOAD_NOT_FOUND',
  FAILED: 'DOWNLOAD_FAILED',
});

/** What the check answers: the file the download will save. */
export const DownloadCheck = z.strictObject({
  model: z.string().min(1).max(256),
  fileName: z.string().min(1).max(300),
  bytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});
export type DownloadCheck = z.output<typeof DownloadCheck>;

/** The download's address for model `id` (relative: the page's own origin, with its cookie). */
export function modelDownloadUrl(id: string): string {
  return `${DOWNLOAD_PATH}?model=${encodeURIComponent(id)}`;
}
