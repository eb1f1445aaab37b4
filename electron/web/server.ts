import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { PxiError, serializeError } from '../../shared/errors';
import { IPC_ERRORS, type ServerFrame } from '../../shared/ipc/envelope';
import { contentSecurityPolicy } from '../content-policy';
import { mimeTypeOf, resolveStaticPath } from '../static-files';
import type { Services } from '../services';
import { checkRequest, tokenCookieName } from './request-guard';

/**
 * Browser mode: the main-process services in plain Node, the built renderer over HTTP on
 * 127.0.0.1, and the IPC contract over a WebSocket at /api. The same dispatcher serves the
 * Electron transport; only the sender checks differ.
 */
export interface WebHostOptions {
  services: Services;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** A fixed token for tests; otherwise 32 random bytes per start. */
  token?: string;
}

export interface WebHost {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export async function startWebHost(opts: WebHostOptions): Promise<WebHost> {
  if (!existsSync(`${opts.rendererDir}/index.html`)) {
    throw new PxiError('SERVE_NO_RENDERER', `the built renderer is missing: ${opts.rendererDir}/index.html not found. Run \`npm run build\` first.`, {
      rendererDir: opts.rendererDir,
    });
  }
  const token = opts.token ?? randomBytes(32).toString('base64url');
  let port = 0;

  const refuse = (res: ServerResponse, status: number, reason: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`Pixel-LLM refused this request: ${reason}\n`);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const verdict = checkRequest(
      { host: req.headers.host, origin: req.headers.origin, url: req.url ?? '/', cookie: req.headers.cookie, requireOrigin: false },
      { port, token },
    );
    if (!verdict.ok) return refuse(res, verdict.status, verdict.reason);
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, `method ${req.method} is not allowed`);
    const path = new URL(req.url ?? '/', 'http://placeholder').pathname;
    const file = resolveStaticPath(opts.rendererDir, path);
    if (!file || !statSync(file).isFile()) return refuse(res, 404, `not found: ${path}`);
    const headers: Record<string, string | string[]> = {
      'content-type': mimeTypeOf(file),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'content-security-policy': contentSecurityPolicy([`ws://127.0.0.1:${port}`, `ws://localhost:${port}`]),
    };
    if (verdict.tokenFromQuery) {
      // Later requests (scripts, the WebSocket) prove themselves with this cookie.
      headers['set-cookie'] = `${tokenCookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).pipe(res);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const verdict = checkRequest(
      { host: req.headers.host, origin: req.headers.origin, url: req.url ?? '/', cookie: req.headers.cookie, requireOrigin: true },
      { port, token },
    );
    const path = new URL(req.url ?? '/', 'http://placeholder').pathname;
    if (!verdict.ok || path !== '/api') {
      const status = verdict.ok ? 404 : verdict.status;
      const reason = verdict.ok ? `no WebSocket endpoint at ${path}` : verdict.reason;
      socket.end(`HTTP/1.1 ${status} Refused\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${reason}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const origins = new WeakMap<WebSocket, string>();
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    origins.set(ws, req.headers.origin ?? '');
    ws.on('message', (data, isBinary) => {
      void handleFrame(ws, isBinary ? null : data.toString());
    });
  });

  const send = (ws: WebSocket, frame: ServerFrame) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  };

  async function handleFrame(ws: WebSocket, text: string | null): Promise<void> {
    let frame: unknown;
    try {
      frame = text === null ? null : JSON.parse(text);
    } catch {
      frame = null;
    }
    const f = frame as { id?: unknown; channel?: unknown; payload?: unknown } | null;
    if (!f || typeof f !== 'object' || !Number.isSafeInteger(f.id)) {
      const error = serializeError(new PxiError(IPC_ERRORS.MALFORMED_FRAME, 'malformed frame: expected JSON {id, channel, payload}'));
      send(ws, { id: -1, result: { ok: false, error } });
      return;
    }
    const result = await opts.services.dispatch(f.channel, f.payload, { transport: 'websocket', origin: origins.get(ws) ?? '' });
    send(ws, { id: f.id as number, result });
  }

  const unsubscribe = opts.services.onEvent((event, payload) => {
    for (const ws of wss.clients) send(ws, { event, payload });
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolvePromise());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      unsubscribe();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
