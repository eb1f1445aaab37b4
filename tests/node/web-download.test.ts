/**
 * Browser mode's model download (electron/web/model-download.ts) against the real server: the
 * stored model comes back as the imported GGUF byte for byte with an attachment header; the
 * check answers the file name and size; a store whose tile was damaged ends the transfer short
 * of its Content-Length (the browser marks it failed) instead of sending wrong bytes whole.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Services } from '../../electron/services';
import { startWebHost, type WebHost } from '../../electron/web/server';
import { fixturePath } from '../support/fixtures';
import { fakeRendererDir } from '../support/web-client';

const MODEL = fixturePath('models', 'stories260K.gguf');
const stories = fs.readFileSync(MODEL);
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let tmp: string;
const hosts: { host: WebHost; services: Services }[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'web-download-'));
});
afterEach(async () => {
  for (const { host, services } of hosts.splice(0)) {
    await host.close();
    await services.close();
  }
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function start() {
  const dataDir = fs.mkdtempSync(path.join(tmp, 'data-'));
  const services = new Services({ dataDir, mode: 'browser', version: '0.0.0-test' });
  const host = await startWebHost({ services, rendererDir: fakeRendererDir(tmp), port: 0 });
  hosts.push({ host, services });
  const store = await services.store();
  const { model, manifest } = await store.import(MODEL);
  return { host, dataDir, id: model.id, manifest };
}

interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The connection ended before the response did. */
  cut: boolean;
}

/** A GET as the page makes it (the token cookie, no Origin). */
function get(host: WebHost, pathAndQuery: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: host.port, path: pathAndQuery, headers: { cookie: `pxi_token_${host.port}=${host.token}` } }, (res) => {
      const parts: Buffer[] = [];
      let cut = false;
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('aborted', () => (cut = true));
      res.on('error', () => (cut = true));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), cut: cut || !res.complete }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('model download (browser mode)', () => {
  it('sends the stored model as the imported GGUF, byte for byte, as an attachment; the check names the file', async () => {
    const { host, id } = await start();
    const check = await get(host, `/download/check?model=${id}`);
    expect(check.status).toBe(200);
    expect(JSON.parse(check.body.toString())).toEqual({ model: id, fileName: 'stories260K.gguf', bytes: stories.length });
    const r = await get(host, `/download?model=${id}`);
    expect(r.status).toBe(200);
    expect(r.cut).toBe(false);
    expect(r.headers['content-length']).toBe(String(stories.length));
    expect(r.headers['content-disposition']).toBe(`attachment; filename="stories260K.gguf"; filename*=UTF-8''stories260K.gguf`);
    expect(sha256(r.body)).toBe(sha256(stories));
  });

  /** Flips a byte in the middle of the tile image holding tensor `t` (single-tile tensors: the tile is named by their bytes' sha256). */
  function damage(dataDir: string, t: { offset: number; bytes: number }): void {
    const hash = sha256(stories.subarray(t.offset, t.offset + t.bytes));
    const tile = path.join(dataDir, 'volume', 'tiles', hash.slice(0, 2), `${hash}.png`);
    const png = fs.readFileSync(tile);
    png[Math.floor(png.length / 2)] ^= 0x10;
    fs.writeFileSync(tile, png);
  }

  it('cuts the transfer short of its length when a tile late in the file is damaged, never sending a whole wrong file', async () => {
    const { host, dataDir, id, manifest } = await start();
    const last = [...manifest.tensors].sort((a, b) => b.offset - a.offset)[0]!;
    damage(dataDir, last);
    const r = await get(host, `/download?model=${id}`);
    expect(r.status).toBe(200);
    expect(r.cut).toBe(true);
    expect(r.body.length).toBeLessThan(stories.length);
    // What came is the file's beginning, as far as it went.
    expect(r.body.equals(stories.subarray(0, r.body.length))).toBe(true);
    // The server is still there for the next request.
    expect((await get(host, `/download/check?model=${id}`)).status).toBe(200);
  });

  it('answers a plain error, no bytes, when the first tensor cannot be read', async () => {
    const { host, dataDir, id, manifest } = await start();
    const first = [...manifest.tensors].sort((a, b) => a.offset - b.offset)[0]!;
    damage(dataDir, first);
    const r = await get(host, `/download?model=${id}`);
    expect(r.status).toBe(500);
    const { error } = JSON.parse(r.body.toString()) as { error: { code: string; message: string; details: { cause: string } } };
    expect(error.code).toBe('DOWNLOAD_FAILED');
    expect(error.message).toBe('stories260K could not be read back from the volume (a stored tile is damaged or missing). Verify it on the Models page.');
    expect(error.details.cause).toContain('corrupt');
  });
});
