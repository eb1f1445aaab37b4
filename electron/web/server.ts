import { randomBytes } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { PxiError, serializeError } from '../../shared/errors';
import { jsonDepthExceeds, leadingFrameId, MAX_FRAME_DEPTH, valueDepthExceeds } from './frame-depth';
import { decodeBinaryFrame, encodeFrame, MalformedFrameError } from '../../shared/ipc/binary-frame';
import { IPC_ERRORS, type ServerFrame } from '../../shared/ipc/envelope';
import { DOWNLOAD_CHECK_PATH, DOWNLOAD_PATH } from '../../shared/ipc/download';
import { engineOnly, ENGINE_PORT_PATH } from '../../shared/ipc/engine-port';
import { UPLOAD_PATH } from '../../shared/ipc/upload';
import { contentSecurityPolicy } from '../content-policy';
import { mimeTypeOf, resolveStaticPath } from '../static-files';
import type { Services } from '../services';
import { checkRequest, tokenCookieName } from './request-guard';
import { modelDownloads } from './model-download';
import { startUploads, type UploadOptions } from './upload';

/**
 * Browser mode: the main-process services in plain Node, the built renderer over HTTP on
 * 127.0.0.1, and the IPC contract over a WebSocket at /api. The engine worker opens its own
 * WebSocket at /api/engine (ENGINE_PORT_PATH), behind the same guard, which carries engine:*
 * calls only and no events. The same dispatcher serves the Electron transport; only the sender
 * checks differ.
 */
export interface WebHostOptions {
  services: Services;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  /** A fixed token for tests; otherwise 32 random bytes per start. */
  token?: string;
  /** Limits of GGUF uploads (`POST /upload`). */
  upload?: UploadOptions;
  /** How long a quiet connection is kept (tests shorten them). See DEFAULT_IDLE. */
  idle?: Partial<IdleLimits>;
}

export interface IdleLimits {
  /** An HTTP connection with no byte either way for this long is closed (one that never sends a request included). */
  socketMs: number;
  /** Each WebSocket is pinged this often; one that has not answered the previous ping is terminated. */
  heartbeatMs: number;
}

/** A tab that vanished or a client that connects and says nothing must not hold a socket forever. */
export const DEFAULT_IDLE: IdleLimits = { socketMs: 60_000, heartbeatMs: 30_000 };

export interface WebHost {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

/** Incoming messages above this close the connection (ws answers 1009) before being buffered. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** A binary message as one Uint8Array, however ws delivered it. */
function rawBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

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

  const uploads = await startUploads(opts.services, opts.upload);
  const downloads = modelDownloads(opts.services);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://placeholder');
    } catch {
      return refuse(res, 400, 'malformed request URL');
    }
    const path = url.pathname;
    // Uploads change state: like the WebSocket, they must come from our page (Origin required).
    // The read-only pre-check (GET) cannot: browsers send no Origin on a same-origin GET.
    const isUpload = path === UPLOAD_PATH;
    const verdict = checkRequest(
      { host: req.headers.host, origin: req.headers.origin, url: req.url ?? '/', cookie: req.headers.cookie, requireOrigin: isUpload && req.method !== 'GET' },
      { port, token },
    );
    if (!verdict.ok) {
      if (isUpload) res.setHeader('connection', 'close');
      return refuse(res, verdict.status, verdict.reason);
    }
    if (isUpload) return void uploads.handle(req, res, url);
    // A model's GGUF to the browser's machine (shared/ipc/download.ts): a read, like a page.
    if (path === DOWNLOAD_PATH || path === DOWNLOAD_CHECK_PATH) return void downloads.handle(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, `method ${req.method} is not allowed`);
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

  // Node cuts a request whose body takes over 5 minutes by default: a multi-GB upload may take
  // longer. Headers still have to arrive within headersTimeout.
  server.requestTimeout = 0;
  // Node's headersTimeout never fires for a connection that sent no byte: close quiet sockets
  // ourselves. Data flowing either way (an upload, a download) keeps a socket alive.
  const idle: IdleLimits = { ...DEFAULT_IDLE, ...opts.idle };
  server.timeout = idle.socketMs;

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  server.on('upgrade', (req, socket, head) => {
    const verdict = checkRequest(
      { host: req.headers.host, origin: req.headers.origin, url: req.url ?? '/', cookie: req.headers.cookie, requireOrigin: true },
      { port, token },
    );
    // The guard already refused a URL that does not parse; never let one throw here.
    const path = verdict.ok ? new URL(req.url ?? '/', 'http://placeholder').pathname : '';
    if (!verdict.ok || (path !== '/api' && path !== ENGINE_PORT_PATH)) {
      const status = verdict.ok ? 404 : verdict.status;
      const reason = verdict.ok ? `no WebSocket endpoint at ${path}` : verdict.reason;
      socket.end(`HTTP/1.1 ${status} Refused\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${reason}\n`);
      return;
    }
    // A WebSocket may be quiet for hours; the heartbeat below decides when it is gone.
    (socket as Socket).setTimeout(0);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const answeredPing = new WeakMap<WebSocket, boolean>();
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (answeredPing.get(ws) === false) {
        ws.terminate();
        continue;
      }
      answeredPing.set(ws, false);
      ws.ping();
    }
  }, idle.heartbeatMs);
  heartbeat.unref();

  const origins = new WeakMap<WebSocket, string>();
  // An engine port's calls go through this instead of the whole dispatcher.
  const engineDispatch = engineOnly(opts.services.dispatch);
  const enginePorts = new WeakSet<WebSocket>();
  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    origins.set(ws, req.headers.origin ?? '');
    if (new URL(req.url ?? '/', 'http://placeholder').pathname === ENGINE_PORT_PATH) enginePorts.add(ws);
    answeredPing.set(ws, true);
    ws.on('pong', () => answeredPing.set(ws, true));
    // A protocol error (a message over MAX_FRAME_BYTES, a bad opcode) closes that connection;
    // without a listener ws would throw it and take the whole server down.
    ws.on('error', () => ws.terminate());
    ws.on('message', (data, isBinary) => {
      void handleFrame(ws, isBinary ? rawBytes(data) : data.toString());
    });
  });

  const send = (ws: WebSocket, frame: ServerFrame) => {
    if (ws.readyState !== ws.OPEN) return;
    let wire: string | Uint8Array;
    try {
      // An answer holding bytes (engine:read) goes as one binary frame; the rest as JSON text.
      wire = encodeFrame(frame);
    } catch (e) {
      if (!('id' in frame)) return;
      wire = JSON.stringify({ id: frame.id, result: { ok: false, error: serializeError(e) } } satisfies ServerFrame);
    }
    ws.send(wire);
  };

  const malformed = (ws: WebSocket, e: unknown) => {
    const id = e instanceof MalformedFrameError && typeof e.details?.id === 'number' ? e.details.id : -1;
    const error = serializeError(e instanceof PxiError ? e : new PxiError(IPC_ERRORS.MALFORMED_FRAME, 'malformed frame: expected JSON {id, channel, payload}'));
    send(ws, { id, result: { ok: false, error } });
  };

  const tooDeep = (ws: WebSocket, id: number | undefined) => {
    const error = new PxiError(IPC_ERRORS.INVALID_REQUEST, `invalid request: the frame nests deeper than ${MAX_FRAME_DEPTH} levels`, { field: 'payload' });
    send(ws, { id: id ?? -1, result: { ok: false, error: serializeError(error) } });
  };

  async function handleFrame(ws: WebSocket, wire: string | Uint8Array): Promise<void> {
    // Bound nesting before parsing/validating: deep frames blocked every client (see frame-depth.ts).
    if (typeof wire === 'string' && jsonDepthExceeds(wire)) return tooDeep(ws, leadingFrameId(wire));
    let frame: unknown;
    try {
      frame = typeof wire === 'string' ? JSON.parse(wire) : decodeBinaryFrame(wire);
    } catch (e) {
      return malformed(ws, e);
    }
    const f = frame as { id?: unknown; channel?: unknown; payload?: unknown } | null;
    if (!f || typeof f !== 'object' || !Number.isSafeInteger(f.id)) return malformed(ws, null);
    if (typeof wire !== 'string' && valueDepthExceeds(f)) return tooDeep(ws, f.id as number);
    const dispatch = enginePorts.has(ws) ? engineDispatch : opts.services.dispatch;
    const result = await dispatch(f.channel, f.payload, { transport: 'websocket', origin: origins.get(ws) ?? '' });
    send(ws, { id: f.id as number, result });
  }

  const unsubscribe = opts.services.onEvent((event, payload) => {
    for (const ws of wss.clients) if (!enginePorts.has(ws)) send(ws, { event, payload });
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolvePromise());
  }).catch((e: unknown) => {
    unsubscribe();
    uploads.close();
    clearInterval(heartbeat);
    throw e;
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      unsubscribe();
      uploads.close();
      clearInterval(heartbeat);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
