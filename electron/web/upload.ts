/**
 * Browser mode's GGUF upload: `POST /upload?name=FILE.gguf` with the file as the raw body
 * streams it to a staged file in the volume (electron/web/staged-uploads.ts) and answers
 * `201 {id, path, name, bytes}`; the import wizard then inspects and imports `path` like a file
 * typed by hand. `DELETE /upload?id=ID` drops an upload the page no longer wants. The request
 * guard (Host, Origin, token) is the WebSocket's; the server calls these only after it passed.
 *
 * The body is never held in memory: it streams to `.NAME.part` (backpressure from the disk),
 * renamed to NAME once every byte declared by Content-Length has arrived and been fsynced. The
 * first 4 bytes must be the GGUF magic, checked as soon as they arrive. Anything else (no
 * Content-Length, too large, not GGUF, more or fewer bytes than declared, a cut connection, a
 * write error) removes the partial file and its folder.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PxiError, serializeError } from '../../shared/errors';
import { directCaller } from '../../shared/ipc/dispatch';
import { GGUF_MAGIC_TEXT, UPLOAD_ERRORS, type UploadResult } from '../../shared/ipc/upload';
import { formatSize, freeBytesAt } from '../pixelfs/disk-space';
import type { Services } from '../services';
import { StagedUploads, UploadError, UPLOADS_DIR, type StagedFile } from './staged-uploads';

export interface UploadOptions {
  /** Largest upload taken, whatever the free space (`pxi serve --max-upload`). Default: no fixed limit. */
  maxBytes?: number;
  /** Free space an upload must leave on the volume's disk (default 1 GiB): the import writes tiles there next. */
  marginBytes?: number;
  /** Free bytes on the filesystem holding `dir` (tests replace it). */
  freeBytes?: (dir: string) => Promise<number>;
}

export const DEFAULT_UPLOAD_MARGIN = 1024 ** 3;
const GGUF_MAGIC = Buffer.from(GGUF_MAGIC_TEXT, 'latin1');
/** After refusing a body in flight, read (and drop) it this long so the browser sees the answer, then hang up. */
const DRAIN_MS = 5000;

function answer(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const bodyInFlight = !req.complete;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // A refused body still on its way: read and drop it briefly, then close the connection.
    ...(bodyInFlight ? { connection: 'close' } : {}),
  });
  res.end(JSON.stringify(body));
  if (bodyInFlight) {
    req.resume();
    setTimeout(() => req.socket.destroy(), DRAIN_MS).unref();
  }
}

function refuse(req: IncomingMessage, res: ServerResponse, e: unknown): void {
  const status = e instanceof UploadError ? e.status : 500;
  const error = e instanceof PxiError ? e : new UploadError(UPLOAD_ERRORS.FAILED, 500, `the upload failed: ${(e as Error)?.message ?? String(e)}`);
  answer(req, res, status, { error: serializeError(error) });
}

/** Streams the body to `f.partPath`, checking magic and length on the way. */
async function receive(req: IncomingMessage, f: StagedFile, length: number, name: string, hungUp: () => boolean): Promise<void> {
  const out = createWriteStream(f.partPath, { flags: 'wx' });
  let received = 0;
  let head = Buffer.alloc(0);
  try {
    await new Promise<void>((resolve, reject) => {
      let failed = false;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        req.off('data', onData);
        req.pause();
        out.destroy();
        reject(e);
      };
      const onData = (chunk: Buffer) => {
        if (received < GGUF_MAGIC.length) {
          head = Buffer.concat([head, chunk.subarray(0, GGUF_MAGIC.length - received)]);
          const n = head.length;
          if (!head.equals(GGUF_MAGIC.subarray(0, n))) {
            const shown = JSON.stringify(head.toString('latin1'));
            return fail(new UploadError(UPLOAD_ERRORS.NOT_GGUF, 415, `${name} is not a GGUF file: it starts with ${shown}, a GGUF file starts with "GGUF"`, { field: 'magic', value: shown }));
          }
        }
        received += chunk.length;
        if (received > length) {
          return fail(new UploadError(UPLOAD_ERRORS.BAD_REQUEST, 400, `the body is longer than its Content-Length (${length} bytes)`, { field: 'content-length', value: length }));
        }
        if (!out.write(chunk)) {
          req.pause();
          out.once('drain', () => !failed && req.resume());
        }
      };
      req.on('data', onData);
      req.once('end', () => {
        if (failed) return;
        if (received !== length) {
          return fail(new UploadError(UPLOAD_ERRORS.INCOMPLETE, 400, `the upload ended after ${received} of ${length} bytes`, { field: 'content-length', value: length }));
        }
        out.end();
      });
      // A cut connection: 'aborted' (or 'close' before 'end') never reaches 'end'.
      req.once('close', () => {
        if (!req.complete) fail(new UploadError(UPLOAD_ERRORS.INCOMPLETE, 400, `the connection closed after ${received} of ${length} bytes`));
      });
      req.once('error', fail);
      // The client may have gone while the upload was admitted: its 'close' will not come again.
      if (hungUp()) fail(new UploadError(UPLOAD_ERRORS.INCOMPLETE, 400, `the connection closed before the first byte of ${length} was read`));
      out.once('error', (e) => fail(new UploadError(UPLOAD_ERRORS.FAILED, 507, `writing ${name} to ${f.partPath} failed: ${e.message}`, { value: (e as NodeJS.ErrnoException).code })));
      out.once('finish', () => (failed ? undefined : resolve()));
    });
    if (!out.closed) await once(out, 'close');
    // Durable before it is announced: the import may run after a crash.
    const fh = await fs.open(f.partPath, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    out.destroy();
    throw e;
  }
}

export interface Uploads {
  readonly staged: StagedUploads;
  /** Answers /upload (the request already passed the guard). */
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void>;
  close(): void;
}

/**
 * The upload endpoint and the staged-upload rule: at start, uploads that no queued or running
 * import reads are removed; an import task that ends removes the upload it read.
 */
export async function startUploads(services: Services, opts: UploadOptions = {}): Promise<Uploads> {
  const staged = new StagedUploads(path.join(services.volumeDir(), UPLOADS_DIR));
  const maxBytes = opts.maxBytes ?? Infinity;
  const margin = opts.marginBytes ?? DEFAULT_UPLOAD_MARGIN;
  const freeBytes = opts.freeBytes ?? freeBytesAt;
  /** Bytes announced by uploads in flight: two at once must not both count the same free space. */
  let reserved = 0;
  const call = directCaller(services.dispatch);

  const importPath = (params: unknown): string | null => {
    const p = (params as { path?: unknown } | null)?.path;
    return typeof p === 'string' ? p : null;
  };
  const activeIds = async (): Promise<Set<string>> => {
    const { tasks } = await call('tasks:list', {});
    const ids = new Set<string>();
    for (const t of tasks) {
      const p = t.kind === 'model.import' && (t.state === 'queued' || t.state === 'running') ? importPath(t.params) : null;
      const id = p ? staged.idOf(p) : null;
      if (id) ids.add(id);
    }
    return ids;
  };

  const swept = await staged.sweep(await activeIds());
  if (swept > 0) process.stderr.write(`removed ${swept} stale upload(s) from ${staged.dir}\n`);

  const off = services.onEvent((name, payload) => {
    if (name !== 'tasks:changed') return;
    const t = payload as { kind: string; state: string; params: unknown };
    if (t.kind !== 'model.import' || !(t.state === 'succeeded' || t.state === 'failed' || t.state === 'cancelled')) return;
    const p = importPath(t.params);
    const id = p ? staged.idOf(p) : null;
    if (id) void staged.remove(id).catch((e: Error) => process.stderr.write(`could not remove upload ${id}: ${e.message}\n`));
  });

  async function upload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = nameParam(url);
    if (req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] === undefined) {
      throw new UploadError(UPLOAD_ERRORS.LENGTH_REQUIRED, 411, 'an upload must declare its Content-Length (chunked bodies are not taken)', { field: 'content-length' });
    }
    const declared = req.headers['content-length'];
    const length = /^\d{1,16}$/.test(declared) ? Number(declared) : NaN;
    if (!Number.isSafeInteger(length)) throw new UploadError(UPLOAD_ERRORS.BAD_REQUEST, 400, `Content-Length ${JSON.stringify(declared)} is not a byte count`, { field: 'content-length', value: declared });
    // Listen for a hang-up before the first await: a client that goes while the upload is being
    // admitted would otherwise leave receive() waiting forever, holding a descriptor, a .part
    // file and its reserved size.
    let closed = false;
    req.once('close', () => (closed = true));
    const hungUp = () => (closed || req.destroyed) && !req.complete;
    await admit(name, length);
    if (hungUp()) throw new UploadError(UPLOAD_ERRORS.INCOMPLETE, 400, 'the connection closed before the upload began');
    reserved += length;
    let f: StagedFile;
    try {
      f = await staged.begin(name);
    } catch (e) {
      reserved -= length;
      throw e;
    }
    try {
      await receive(req, f, length, name, hungUp);
      await staged.commit(f);
    } catch (e) {
      await staged.remove(f.id);
      throw e;
    } finally {
      reserved -= length;
    }
    answer(req, res, 201, { id: f.id, path: f.path, name: path.basename(f.path), bytes: length } satisfies UploadResult);
  }

  /** The `?name=` of an upload request (the file name the person chose). */
  function nameParam(url: URL): string {
    const name = url.searchParams.get('name') ?? '';
    if (name.length === 0 || name.length > 1024) throw new UploadError(UPLOAD_ERRORS.BAD_REQUEST, 400, 'give the file name as ?name=FILE.gguf (1 to 1024 characters)', { field: 'name' });
    return name;
  }

  /** Whether an upload of `length` bytes would be taken now: the checks POST makes before reading a byte. */
  async function admit(name: string, length: number): Promise<void> {
    if (length < GGUF_MAGIC.length) throw new UploadError(UPLOAD_ERRORS.NOT_GGUF, 415, `${name}: ${length} bytes is too short for a GGUF file`, { field: 'content-length', value: length });
    if (length > maxBytes) {
      throw new UploadError(UPLOAD_ERRORS.TOO_LARGE, 413, `${name} is ${formatSize(length)}; this server takes uploads of at most ${formatSize(maxBytes)} (pxi serve --max-upload)`, { field: 'content-length', value: length });
    }
    // The volume is opened (created) first: the staged file goes on its disk.
    await services.store();
    await fs.mkdir(staged.dir, { recursive: true });
    const free = (await freeBytes(staged.dir)) - reserved;
    if (length > free - margin) {
      throw new UploadError(
        UPLOAD_ERRORS.TOO_LARGE,
        413,
        `${name} is ${formatSize(length)}, but the volume's disk has ${formatSize(Math.max(0, free))} free and keeps ${formatSize(margin)} spare (the import then needs about the file's size again for its tiles)`,
        { field: 'content-length', value: length },
      );
    }
  }

  /**
   * `GET /upload?name=FILE&size=N`: would this upload be taken? The page asks before sending, because
   * a refusal sent while the body is still going up reaches a browser as a broken connection.
   */
  async function precheck(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const name = nameParam(url);
    const size = url.searchParams.get('size') ?? '';
    const length = /^\d{1,16}$/.test(size) ? Number(size) : NaN;
    if (!Number.isSafeInteger(length)) throw new UploadError(UPLOAD_ERRORS.BAD_REQUEST, 400, `size ${JSON.stringify(size.slice(0, 40))} is not a byte count`, { field: 'size', value: size.slice(0, 40) });
    await admit(name, length);
    answer(req, res, 200, { ok: true });
  }

  async function drop(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const id = url.searchParams.get('id') ?? '';
    if ((await activeIds()).has(id)) throw new UploadError(UPLOAD_ERRORS.BAD_REQUEST, 409, `upload ${id} is being imported; it is removed when its import ends`, { field: 'id', value: id });
    if (!(await staged.remove(id))) throw new UploadError(UPLOAD_ERRORS.NOT_FOUND, 404, `no staged upload ${JSON.stringify(id.slice(0, 64))}`, { field: 'id', value: id.slice(0, 64) });
    answer(req, res, 200, { removed: true });
  }

  return {
    staged,
    async handle(req, res, url) {
      try {
        if (req.method === 'POST') await upload(req, res, url);
        else if (req.method === 'GET') await precheck(req, res, url);
        else if (req.method === 'DELETE') await drop(req, res, url);
        else throw new UploadError(UPLOAD_ERRORS.BAD_REQUEST, 405, `method ${req.method} is not allowed on /upload (GET ?name=&size= to ask, POST a file, DELETE ?id=)`);
      } catch (e) {
        refuse(req, res, e);
      }
    },
    close: off,
  };
}
