/**
 * The Models view's download in browser mode (shared/ipc/download.ts): ask the server first
 * whether the model is there (a refusal then shows in plain words in the model's row; once a
 * download has started, the browser would only say "Failed"), then let the browser fetch the
 * GGUF. The token travels in the HttpOnly cookie the page load set, as for the WebSocket.
 */
import { PxiError, type SerializedError } from '../../../shared/errors';
import { DOWNLOAD_CHECK_PATH, DOWNLOAD_ERRORS, DownloadCheck, modelDownloadUrl } from '../../../shared/ipc/download';
import { downloadFromServer } from '../components/download';

/** Starts the download of model `id`; resolves with what is being saved, or rejects with the server's reason. */
export async function downloadModel(id: string, name: string): Promise<DownloadCheck> {
  let res: Response;
  try {
    res = await fetch(`${DOWNLOAD_CHECK_PATH}?model=${encodeURIComponent(id)}`);
  } catch {
    throw new PxiError(DOWNLOAD_ERRORS.FAILED, `Cannot reach the Pixel-LLM server to download ${name}; is pxi serve still running?`);
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // the request guard answers in plain text
  }
  if (!res.ok) {
    const e = (body as { error?: Partial<SerializedError> } | null)?.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') throw new PxiError(e.code, e.message, e.details);
    throw new PxiError(DOWNLOAD_ERRORS.FAILED, `The server refused the download of ${name}: HTTP ${res.status}${text.trim() ? `: ${text.trim().slice(0, 300)}` : ''}`, { status: res.status });
  }
  const check = DownloadCheck.parse(body);
  downloadFromServer(modelDownloadUrl(check.model), check.fileName);
  return check;
}
