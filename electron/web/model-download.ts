/**
 * Browser mode's model download (shared/ipc/download.ts): a stored model rebuilt as its GGUF
 * file and streamed to the browser, so that "export" puts the file on the browser's machine.
 * Nothing is written on the server: the bytes come from the store's export path
 * (ModelStore.exportStream, the same chunks and the same sha256 check as `pxi export`) straight
 * into the response, with the socket's backpressure.
 *
 * The server calls this only after the request guard passed (Host, Origin, token). The model is
 * named by id only, checked against the id pattern before anything is looked up, so a path, a
 * name with `..` or an encoded separator never reaches the store.
 */
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serializeError } from '../../shared/errors';
import { DOWNLOAD_CHECK_PATH, DOWNLOAD_ERRORS, type DownloadCheck } from '../../shared/ipc/download';
import { MODEL_ID } from '../../shared/model/manifest';
import type { Services } from '../services';
import { HttpError } from './http-error';

class DownloadError extends HttpError {}

/**
 * The file name the browser saves: the model's name with `.gguf`, reduced to characters every
 * file system takes (the header's plain `filename`); `filename*` carries the name as it is.
 */
export function downloadFileName(modelName: string): string {
  const base = modelName.replace(/\.gguf$/i, '').replace(/[^A-Za-z0-9._ -]+/g, '_').replace(/^[ .]+|[ .]+$/g, '') || 'model';
  return `${base.slice(0, 200)}.gguf`;
}

/** `attachment` with an ASCII `filename` and the UTF-8 original as `filename*` (RFC 6266). */
export function contentDisposition(modelName: string): string {
  const ascii = downloadFileName(modelName);
  const utf8 = encodeURIComponent(`${modelName.replace(/\.gguf$/i, '')}.gguf`).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`;
}

function answerJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(JSON.stringify(body));
}

export interface ModelDownloads {
  /** Answers `GET|HEAD /download` and `/download/check` (the path decides which). */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
}

export function modelDownloads(services: Services, log: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): ModelDownloads {
  /** The `?model=` of a request: a model id, or a plain refusal. */
  function modelParam(url: URL): string {
    const id = url.searchParams.get('model') ?? '';
    if (!MODEL_ID.test(id)) {
      throw new DownloadError(DOWNLOAD_ERRORS.BAD_REQUEST, 400, `“${id.slice(0, 80)}” is not a model id: ask for a model as /download?model=ID, with the id the Models list shows`, {
        field: 'model',
        value: id.slice(0, 80),
      });
    }
    return id;
  }

  /** The model's stored GGUF, found by id (never by name: a name is not an address). */
  async function open(id: string, signal?: AbortSignal) {
    const store = await services.store();
    const found = store.list().find((m) => m.id === id);
    if (!found) {
      throw new DownloadError(DOWNLOAD_ERRORS.NOT_FOUND, 404, `There is no model “${id}” in this volume any more (it may have been deleted). Reload the Models list.`, { field: 'model', value: id });
    }
    return store.exportStream(found.id, signal);
  }

  async function send(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    // The browser cancelling (or closing the tab) stops the reads of the volume too.
    const stop = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) stop.abort(new Error('the browser stopped the download'));
    });
    const file = await open(id, stop.signal);
    // Headers go with the first bytes: a store that fails before any byte answers a plain error.
    const head = () => {
      if (res.headersSent) return;
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(file.size),
        'content-disposition': contentDisposition(file.name),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
    };
    if (req.method === 'HEAD') {
      await file.chunks.return(undefined);
      head();
      res.end();
      return;
    }
    // One chunk is held back (copied: the store reuses a chunk's memory once the next is asked
    // for) and sent only after the next arrives, so the last bytes leave only once the whole
    // file's sha256 matched: a corrupt store ends as a failed download, never a wrong file.
    let held: Buffer | null = null;
    try {
      for await (const chunk of file.chunks) {
        if (held) {
          head();
          if (!res.write(held)) await once(res, 'drain', { signal: stop.signal });
        }
        held = Buffer.from(chunk);
      }
      head();
      res.end(held ?? undefined);
    } catch (e) {
      if (stop.signal.aborted) return void res.destroy();
      log(`download of ${file.name} (${file.id}) stopped: ${(e as Error).message}`);
      if (!res.headersSent) {
        // The store's message names tile files: kept in the details, not in the sentence.
        const why = new DownloadError(DOWNLOAD_ERRORS.FAILED, 500, `${file.name} could not be read back from the volume (a stored tile is damaged or missing). Verify it on the Models page.`, {
          cause: (e as Error).message,
        });
        return answerJson(res, 500, { error: serializeError(why) });
      }
      // Bytes are out: cutting the connection short of Content-Length is how the browser learns.
      res.destroy();
    }
  }

  return {
    async handle(req, res, url) {
      try {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          throw new DownloadError(DOWNLOAD_ERRORS.BAD_REQUEST, 405, `method ${req.method} is not allowed on ${url.pathname} (GET only)`);
        }
        const id = modelParam(url);
        if (url.pathname === DOWNLOAD_CHECK_PATH) {
          const file = await open(id);
          await file.chunks.return(undefined);
          answerJson(res, 200, { model: file.id, fileName: downloadFileName(file.name), bytes: file.size } satisfies DownloadCheck);
          return;
        }
        await send(req, res, id);
      } catch (e) {
        const status = e instanceof DownloadError ? e.status : 500;
        const error = e instanceof DownloadError ? e : new DownloadError(DOWNLOAD_ERRORS.FAILED, 500, `The download could not start: ${(e as Error)?.message ?? String(e)}`);
        if (status === 500) log(error.message);
        answerJson(res, status, { error: serializeError(error) });
      }
    },
  };
}
