/**
 * Browser mode's GGUF upload endpoint (electron/web/upload.ts) against the real server: a good
 * upload lands in the volume's staging folder byte for byte and is removed when its import
 * ends; the guard refuses a wrong token, a missing one and a foreign Origin; a file that is not
 * GGUF, a cut connection, a body that is too large or undeclared leave nothing behind.
 */
import fs from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseSize } from '../../electron/cli/commands/serve';
import { Services } from '../../electron/services';
import { safeUploadName, StagedUploads } from '../../electron/web/staged-uploads';
import { startWebHost, type WebHost } from '../../electron/web/server';
import type { UploadOptions } from '../../electron/web/upload';
import { directCaller } from '../../shared/ipc/dispatch';
import { fixturePath } from '../support/fixtures';
import { fakeRendererDir } from '../support/web-client';

const MODEL = fixturePath('models', 'stories260K.gguf');
const stories = fs.readFileSync(MODEL);

let tmp: string;
const hosts: { host: WebHost; services: Services }[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'web-upload-'));
});
afterEach(async () => {
  for (const { host, services } of hosts.splice(0)) {
    await host.close();
    await services.close();
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function start(upload?: UploadOptions, dataDir = fs.mkdtempSync(path.join(tmp, 'data-'))) {
  const services = new Services({ dataDir, mode: 'browser', version: '0.0.0-test' });
  const host = await startWebHost({ services, rendererDir: fakeRendererDir(tmp), port: 0, ...(upload ? { upload } : {}) });
  hosts.push({ host, services });
  const uploads = path.join(dataDir, 'volume', 'uploads');
  return { services, host, dataDir, uploads, call: directCaller(services.dispatch) };
}

interface Reply {
  status: number;
  body: { id?: string; path?: string; name?: string; bytes?: number; removed?: boolean; error?: { code: string; message: string } } & Record<string, unknown>;
}

/** An HTTP request as the page makes it (our Origin, the token cookie), with overrides. */
function send(
  host: WebHost,
  opts: { method?: string; query?: string; body?: Buffer; headers?: Record<string, string | undefined>; cutAfter?: number; beforeCut?: () => Promise<void>; chunked?: boolean },
): Promise<Reply> {
  const headers: Record<string, string> = {
    origin: `http://127.0.0.1:${host.port}`,
    cookie: `pxi_token_${host.port}=${host.token}`,
    'content-type': 'application/octet-stream',
  };
  if (opts.body && !opts.chunked) headers['content-length'] = String(opts.body.length);
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ host: '127.0.0.1', port: host.port, method: opts.method ?? 'POST', path: `/upload${opts.query ?? '?name=stories260K.gguf'}`, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += String(d)));
      res.on('end', () => {
        answered = true;
        let body: Reply['body'];
        try {
          body = JSON.parse(text) as Reply['body'];
        } catch {
          body = { text } as Reply['body'];
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    // A refusal may close the connection while the body is still being written.
    req.on('error', (e) => (answered ? undefined : opts.cutAfter !== undefined ? resolve({ status: 0, body: {} }) : reject(e)));
    if (!opts.body) return void req.end();
    if (opts.cutAfter !== undefined) {
      req.write(opts.body.subarray(0, opts.cutAfter), () => void (opts.beforeCut ?? (() => Promise.resolve()))().then(() => req.destroy()));
      return;
    }
    req.end(opts.body);
  });
}

/**
 * Waits until `dir` holds nothing (missing counts as empty); false after ~30 s. The server
 * removes what a failed upload left when it sees the connection close, which no event here
 * reports, so the folder is looked at until then (generously: a loaded machine is slow).
 */
async function emptied(dir: string): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if (!fs.existsSync(dir) || fs.readdirSync(dir).length === 0) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function waitTask(call: ReturnType<typeof directCaller>, id: number) {
  for (let i = 0; i < 600; i++) {
    const t = (await call('tasks:list', {})).tasks.find((x) => x.id === id)!;
    if (t.state === 'succeeded' || t.state === 'failed' || t.state === 'cancelled') return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${id} did not finish`);
}

describe('POST /upload', () => {
  it('stages a GGUF byte for byte under its own name, and the import that reads it removes it when done', async () => {
    const { host, uploads, call } = await start();
    const r = await send(host, { body: stories });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ name: 'stories260K.gguf', bytes: stories.length });
    const staged = r.body.path!;
    expect(path.dirname(path.dirname(staged))).toBe(uploads);
    expect(path.basename(path.dirname(staged))).toBe(r.body.id);
    expect(fs.readFileSync(staged).equals(stories)).toBe(true);
    expect(fs.readdirSync(path.dirname(staged))).toEqual(['stories260K.gguf']); // no .part left
    // The wizard's next steps take the staged path like a typed one.
    expect((await call('models:inspectFile', { path: staged })).architecture).toBe('llama');
    const task = await call('tasks:enqueue', { kind: 'model.import', params: { path: staged, name: 'uploaded', pyramid: false } });
    expect((await waitTask(call, task.id)).state).toBe('succeeded');
    expect(await emptied(uploads)).toBe(true);
    expect((await call('models:list', {})).models.map((m) => m.name)).toEqual(['uploaded']);
  });

  it('a failed import removes its upload too; DELETE drops an upload not being imported', async () => {
    const { host, uploads, call } = await start();
    // GGUF magic, then garbage: the upload is taken, the import fails.
    const broken = Buffer.concat([stories.subarray(0, 300)]);
    const r = await send(host, { body: broken, query: '?name=broken.gguf' });
    expect(r.status).toBe(201);
    const task = await call('tasks:enqueue', { kind: 'model.import', params: { path: r.body.path!, pyramid: false } });
    const done = await waitTask(call, task.id);
    expect(done.state).toBe('failed');
    expect(await emptied(uploads)).toBe(true);

    const kept = await send(host, { body: stories, query: `?name=${encodeURIComponent('../../etc/evil name?.gguf')}` });
    expect(kept.status).toBe(201);
    expect(kept.body.name).toBe('evil name_.gguf');
    expect(path.dirname(path.dirname(kept.body.path!))).toBe(uploads);
    const del = await send(host, { method: 'DELETE', query: `?id=${kept.body.id}` });
    expect(del).toEqual({ status: 200, body: { removed: true } });
    expect(fs.existsSync(path.dirname(kept.body.path!))).toBe(false);
    const again = await send(host, { method: 'DELETE', query: `?id=${kept.body.id}` });
    expect(again.status).toBe(404);
    expect(again.body.error?.code).toBe('UPLOAD_NOT_FOUND');
    expect((await send(host, { method: 'DELETE', query: '?id=../../volume' })).status).toBe(404);
  });

  it('refuses a missing or wrong token and a foreign or missing Origin before taking a byte', async () => {
    const { host, uploads } = await start();
    const wrong = await send(host, { body: stories, headers: { cookie: `pxi_token_${host.port}=not-it` } });
    expect(wrong.status).toBe(401);
    const wrongQuery = await send(host, { body: stories, headers: { cookie: undefined }, query: '?name=a.gguf&token=not-it' });
    expect(wrongQuery.status).toBe(403);
    expect(wrongQuery.body.text).toContain('wrong access token');
    const none = await send(host, { body: stories, headers: { cookie: undefined } });
    expect(none.status).toBe(401);
    expect(none.body.text).toContain('missing access token');
    const foreign = await send(host, { body: stories, headers: { origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
    const noOrigin = await send(host, { body: stories, headers: { origin: undefined } });
    expect(noOrigin.status).toBe(403);
    const badHost = await send(host, { body: stories, headers: { host: `evil.example:${host.port}` } });
    expect(badHost.status).toBe(421);
    expect(fs.existsSync(uploads) ? fs.readdirSync(uploads) : []).toEqual([]);
    // The same request with the right token is taken.
    expect((await send(host, { body: stories })).status).toBe(201);
  });

  it('refuses a file that is not GGUF as soon as its first bytes arrive, leaving nothing behind', async () => {
    const { host, uploads } = await start();
    const notGguf = Buffer.alloc(4 << 20, 0x41);
    notGguf.write('PK\x03\x04', 0, 'latin1');
    const r = await send(host, { body: notGguf, query: '?name=model.zip' });
    expect(r.status).toBe(415);
    expect(r.body.error?.code).toBe('UPLOAD_NOT_GGUF');
    expect(r.body.error?.message).toContain('model.zip is not a GGUF file');
    expect(r.body.error?.message).toContain('starts with "PK');
    expect(await emptied(uploads)).toBe(true);
    const tiny = await send(host, { body: Buffer.from('GG') });
    expect(tiny.status).toBe(415);
    expect(tiny.body.error?.message).toContain('too short');
  });

  it('a cut connection leaves no partial file, and the server goes on', async () => {
    const { host, uploads } = await start();
    const big = Buffer.concat([stories, stories, stories]);
    let partial = 0;
    // Cut only once the server has written part of the body to its .part file.
    const written = async () => {
      for (let i = 0; i < 1000 && partial === 0; i++) {
        for (const d of fs.existsSync(uploads) ? fs.readdirSync(uploads) : []) {
          for (const f of fs.readdirSync(path.join(uploads, d))) if (f.endsWith('.part')) partial = fs.statSync(path.join(uploads, d, f)).size;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await send(host, { body: big, cutAfter: stories.length, beforeCut: written });
    expect(partial).toBeGreaterThan(0);
    expect(await emptied(uploads)).toBe(true);
    expect((await send(host, { body: stories })).status).toBe(201);
  });

  it('refuses uploads above the configured maximum, above the free space, or without a length', async () => {
    const { host, uploads } = await start({ maxBytes: 1_000_000 });
    const over = await send(host, { body: stories });
    expect(over.status).toBe(413);
    expect(over.body.error?.code).toBe('UPLOAD_TOO_LARGE');
    expect(over.body.error?.message).toContain('at most 976.56 KiB');
    expect(await emptied(uploads)).toBe(true);

    const small = await start({ freeBytes: async () => 1024 ** 3 + stories.length - 1 });
    const full = await send(small.host, { body: stories });
    expect(full.status).toBe(413);
    expect(full.body.error?.message).toMatch(/free and keeps 1\.00 GiB spare/);
    expect(await emptied(small.uploads)).toBe(true);

    const chunked = await send(small.host, { body: stories, chunked: true, headers: { 'transfer-encoding': 'chunked' } });
    expect(chunked.status).toBe(411);
    expect(chunked.body.error?.code).toBe('UPLOAD_LENGTH_REQUIRED');
    const noName = await send(small.host, { body: stories, query: '' });
    expect(noName.status).toBe(400);
    expect((await send(small.host, { method: 'PUT', body: stories })).status).toBe(405);

    // The page asks first (GET, no body, no Origin as browsers send none on same-origin GETs):
    // the same verdicts, before a byte is sent.
    const ask = (h: WebHost, query: string) => send(h, { method: 'GET', query, headers: { origin: undefined, 'content-type': undefined } });
    expect(await ask(host, '?name=small.gguf&size=4096')).toEqual({ status: 200, body: { ok: true } });
    const askOver = await ask(host, `?name=big.gguf&size=${stories.length}`);
    expect(askOver.status).toBe(413);
    expect(askOver.body.error?.message).toContain('at most 976.56 KiB');
    expect((await ask(small.host, `?name=big.gguf&size=${stories.length}`)).body.error?.message).toMatch(/free and keeps 1\.00 GiB spare/);
    expect((await ask(host, '?name=tiny.gguf&size=2')).status).toBe(415);
    expect((await ask(host, '?name=x.gguf&size=lots')).body.error?.message).toMatch(/size "lots" is not a byte count/);
    expect((await ask(host, '?size=10')).status).toBe(400);
    // Still behind the token.
    expect((await send(host, { method: 'GET', query: '?name=a.gguf&size=4096', headers: { origin: undefined, cookie: undefined } })).status).toBe(401);
    expect(await emptied(uploads)).toBe(true);
  });

  it('at start, removes staged uploads no queued or running import reads', async () => {
    const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
    const first = await start(undefined, dataDir);
    const a = await send(first.host, { body: stories, query: '?name=a.gguf' });
    expect(a.status).toBe(201);
    await first.host.close();
    await first.services.close();
    hosts.splice(0);
    fs.writeFileSync(path.join(first.uploads, 'junk'), 'x');
    await start(undefined, dataDir);
    expect(fs.readdirSync(first.uploads)).toEqual([]);
  });
});

describe('staged upload names and paths', () => {
  it('keeps a safe single path component ending in .gguf', () => {
    expect(safeUploadName('stories260K.gguf')).toBe('stories260K.gguf');
    expect(safeUploadName('C:\\models\\Qwen 7B (q4).GGUF')).toBe('Qwen 7B (q4).GGUF');
    expect(safeUploadName('../../.bashrc')).toBe('bashrc.gguf');
    expect(safeUploadName('...')).toBe('upload.gguf');
    expect(safeUploadName('')).toBe('upload.gguf');
    expect(safeUploadName('a\u0000b\nc.gguf')).toBe('a_b_c.gguf');
    expect(safeUploadName(`${'x'.repeat(500)}.gguf`)).toHaveLength(200);
  });

  it('knows its own files and nothing else', () => {
    const s = new StagedUploads('/v/uploads');
    const id = 'a'.repeat(32);
    expect(s.idOf(`/v/uploads/${id}/m.gguf`)).toBe(id);
    expect(s.idOf(`/v/uploads/${id}`)).toBeNull();
    expect(s.idOf(`/v/uploads/${id}/x/m.gguf`)).toBeNull();
    expect(s.idOf('/v/uploads/not-an-id/m.gguf')).toBeNull();
    expect(s.idOf(`/elsewhere/${id}/m.gguf`)).toBeNull();
  });

  it('parses --max-upload sizes', () => {
    expect(parseSize('20G', '--max-upload')).toBe(20 * 1024 ** 3);
    expect(parseSize('1.5GiB', '--max-upload')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('500M', '--max-upload')).toBe(500 * 1024 ** 2);
    expect(parseSize('4096', '--max-upload')).toBe(4096);
    expect(parseSize(undefined, '--max-upload')).toBeUndefined();
    for (const bad of ['', '0', '-1G', 'lots', '1X']) expect(() => parseSize(bad, '--max-upload')).toThrow(/--max-upload must be a size/);
  });
});
