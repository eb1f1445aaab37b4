/**
 * An upload whose client hangs up while the server is still admitting it (checking free space,
 * making its folder), before it reads a byte: the request must settle, leaving no `.part`
 * file, no open descriptor and no reserved size. The request is a stand-in driven by the test,
 * so the hang-up lands inside the admission await every time, not by luck of timing.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { Services } from '../../electron/services';
import { DEFAULT_UPLOAD_MARGIN, startUploads } from '../../electron/web/upload';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'web-upload-hangup-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function fakeRequest(method: string, length: number): IncomingMessage {
  const req = new Readable({ read() {} }) as unknown as IncomingMessage & { complete: boolean };
  Object.assign(req, { method, headers: { 'content-length': String(length) }, complete: false, socket: { destroy() {} } });
  return req;
}

function fakeResponse(): ServerResponse & { status: number; body: string } {
  const res = {
    headersSent: false,
    status: 0,
    body: '',
    writeHead(status: number) {
      res.status = status;
      res.headersSent = true;
      return res;
    },
    end(text: string) {
      res.body = text;
    },
  };
  return res as unknown as ServerResponse & { status: number; body: string };
}

describe('upload hang-up before the first byte', () => {
  it('settles, removes its folder and gives back its reserved size', async () => {
    const size = 10_000;
    let gate: (() => void) | undefined;
    let admitting: (() => void) | undefined;
    const admitted = new Promise<void>((r) => (admitting = r));
    let calls = 0;
    // Room for exactly one upload of `size`; the first check waits until the test has hung up.
    const freeBytes = async () => {
      if (calls++ === 0) {
        admitting!();
        await new Promise<void>((r) => (gate = r));
      }
      return DEFAULT_UPLOAD_MARGIN + size;
    };
    const services = new Services({ dataDir: path.join(tmp, 'data'), mode: 'browser', version: '0.0.0-test', log: () => {} });
    const uploads = await startUploads(services, { freeBytes });
    try {
      const req = fakeRequest('POST', size);
      const res = fakeResponse();
      const handled = uploads.handle(req, res, new URL('http://127.0.0.1/upload?name=a.gguf'));
      await admitted;
      const closed = once(req, 'close');
      req.destroy(); // the client hangs up
      await closed;
      gate!();
      await handled;
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).error.code).toBe('UPLOAD_INCOMPLETE');
      const dir = uploads.staged.dir;
      expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
      // The size it announced is free again: the same upload is admitted now.
      const ask = fakeResponse();
      await uploads.handle(fakeRequest('GET', 0), ask, new URL(`http://127.0.0.1/upload?name=a.gguf&size=${size}`));
      expect(ask.status).toBe(200);
    } finally {
      uploads.close();
      await services.close();
    }
  });
});
