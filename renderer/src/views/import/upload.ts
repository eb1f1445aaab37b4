/**
 * The page's side of browser mode's GGUF upload (shared/ipc/upload.ts): a quick look at the
 * file before sending it, the upload itself with progress and cancel (XMLHttpRequest: fetch
 * has no upload progress), and dropping a staged upload the wizard no longer needs. The token
 * travels in the HttpOnly cookie the page load set, as for the WebSocket.
 */
import { PxiError, type SerializedError } from '../../../../shared/errors';
import { GGUF_MAGIC_TEXT, UPLOAD_ERRORS, UPLOAD_PATH, UploadResult } from '../../../../shared/ipc/upload';

export type StagedUpload = UploadResult;

export interface UploadHandle {
  done: Promise<StagedUpload>;
  cancel(): void;
}

/** Refuses, before any byte is sent, a file that cannot be a GGUF (the server checks again). */
export async function checkGgufFile(file: File): Promise<void> {
  if (file.size < GGUF_MAGIC_TEXT.length) {
    throw new PxiError(UPLOAD_ERRORS.NOT_GGUF, `${file.name} is ${file.size} bytes: too short for a GGUF file`, { file: file.name, field: 'size', value: file.size });
  }
  const head = new Uint8Array(await file.slice(0, GGUF_MAGIC_TEXT.length).arrayBuffer());
  const text = String.fromCharCode(...head);
  if (text !== GGUF_MAGIC_TEXT) {
    throw new PxiError(UPLOAD_ERRORS.NOT_GGUF, `${file.name} is not a GGUF file: it starts with ${JSON.stringify(text)}, a GGUF file starts with "GGUF"`, {
      file: file.name,
      field: 'magic',
      value: text,
    });
  }
}

/**
 * Asks the server whether it would take this file (size against its limit and free disk) before
 * sending a byte: a refusal that arrives while the body is going up reaches the page as a
 * broken connection, not as the server's message.
 */
export async function checkServerTakes(file: File): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${UPLOAD_PATH}?name=${encodeURIComponent(file.name)}&size=${file.size}`);
  } catch {
    throw new PxiError(UPLOAD_ERRORS.FAILED, `cannot reach the Pixel-LLM server to upload ${file.name}; is pxi serve still running?`);
  }
  if (res.ok) return;
  const text = await res.text();
  throw serverError(text) ?? new PxiError(UPLOAD_ERRORS.FAILED, `the server refused the upload of ${file.name}: HTTP ${res.status}${text.trim() ? `: ${text.trim().slice(0, 300)}` : ''}`, { status: res.status });
}

/** The server's `{error: SerializedError}` answer as an error; null when the body is not one (the request guard answers in plain text). */
function serverError(text: string): PxiError | null {
  try {
    const body = JSON.parse(text) as { error?: Partial<SerializedError> };
    if (body.error && typeof body.error.code === 'string' && typeof body.error.message === 'string') return new PxiError(body.error.code, body.error.message, body.error.details);
  } catch {
    // not JSON
  }
  return null;
}

/** The error of a refused upload, from the server's JSON body (or its text for a guard refusal). */
function refusal(xhr: XMLHttpRequest, name: string): PxiError {
  const known = serverError(xhr.responseText);
  if (known) return known;
  const text = xhr.responseText.trim().slice(0, 500);
  return new PxiError(UPLOAD_ERRORS.FAILED, `uploading ${name} failed: HTTP ${xhr.status}${text ? `: ${text}` : ''}`, { status: xhr.status });
}

/** Sends `file` to the server; `onProgress` gets the bytes sent so far. */
export function uploadGguf(file: File, onProgress: (loaded: number, total: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const done = new Promise<StagedUpload>((resolve, reject) => {
    xhr.open('POST', `${UPLOAD_PATH}?name=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.addEventListener('progress', (ev) => onProgress(ev.loaded, ev.lengthComputable ? ev.total : file.size));
    xhr.addEventListener('load', () => {
      if (xhr.status !== 201) return reject(refusal(xhr, file.name));
      let parsed: unknown;
      try {
        parsed = JSON.parse(xhr.responseText);
      } catch {
        parsed = null;
      }
      const r = UploadResult.safeParse(parsed);
      if (!r.success) return reject(new PxiError(UPLOAD_ERRORS.FAILED, `the server's answer to the upload of ${file.name} is not what was agreed: ${r.error.issues[0]?.message ?? 'not JSON'}`));
      resolve(r.data);
    });
    xhr.addEventListener('error', () => reject(new PxiError(UPLOAD_ERRORS.FAILED, `the connection to the Pixel-LLM server failed while uploading ${file.name}; is pxi serve still running?`)));
    xhr.addEventListener('abort', () => reject(new PxiError(UPLOAD_ERRORS.CANCELLED, `the upload of ${file.name} was cancelled; nothing was kept on the server`)));
    xhr.send(file);
  });
  return { done, cancel: () => xhr.abort() };
}

/** Asks the server to delete a staged upload the wizard will not import (best effort). */
export async function discardUpload(id: string): Promise<void> {
  await fetch(`${UPLOAD_PATH}?id=${encodeURIComponent(id)}`, { method: 'DELETE' }).catch(() => undefined);
}
