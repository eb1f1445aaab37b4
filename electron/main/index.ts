import { app, BrowserWindow, dialog, ipcMain, net, protocol, session, type WebContents } from 'electron';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PxiError, serializeError } from '../../shared/errors';
import { ENGINE_PORT_IPC } from '../../shared/ipc/engine-port';
import { IPC_ERRORS } from '../../shared/ipc/envelope';
import { contentSecurityPolicy } from '../content-policy';
import { Services } from '../services';
import { resolveStaticPath } from '../static-files';
import { serveEnginePort } from './engine-port';
import { APP_HOST, APP_ORIGIN, APP_SCHEME, checkSender, type SenderFacts } from './sender-check';

/**
 * The Electron main process: one hardened window, the app served from app://pixel-llm, and
 * one IPC channel ('pxi:invoke') that hands every call to the services' validating dispatcher,
 * plus the engine worker's MessagePorts ('pxi:engine-port'), engine:* calls only.
 * It stays thin: everything it does is also reachable without Electron (browser mode, CLI).
 */

const here = dirname(fileURLToPath(import.meta.url));
const rendererDir = join(here, '../renderer');
const preloadPath = join(here, '../preload/index.cjs');
const devUrl = !app.isPackaged ? process.env.ELECTRON_RENDERER_URL : undefined;
const allowedOrigins = [APP_ORIGIN, ...(devUrl ? [new URL(devUrl).origin] : [])];

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

function hardenContents(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!allowedOrigins.some((o) => url.startsWith(`${o}/`))) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!allowedOrigins.some((o) => url.startsWith(`${o}/`))) event.preventDefault();
  });
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-attach-webview', (event) => event.preventDefault());
}

function serveAppProtocol(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const file = url.host === APP_HOST ? resolveStaticPath(rendererDir, url.pathname) : null;
    if (!file) return new Response('not found', { status: 404 });
    const res = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(res.headers);
    headers.set('content-security-policy', contentSecurityPolicy());
    headers.set('x-content-type-options', 'nosniff');
    return new Response(res.body, { status: res.status, headers });
  });
}

async function main(): Promise<void> {
  await app.whenReady();
  const services = new Services({
    dataDir: app.getPath('userData'),
    mode: 'electron',
    version: app.getVersion(),
    // A new user gets the default model (random weights) to open; PXI_NO_DEFAULT_MODEL=1 skips it.
    importDefaultModel: process.env.PXI_NO_DEFAULT_MODEL !== '1',
    // The import wizard's native open dialog, attached to the app window.
    chooseFile: async ({ title, filters }) => {
      const owner = BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0];
      const opts = { title, filters, properties: ['openFile' as const] };
      const r = owner ? await dialog.showOpenDialog(owner, opts) : await dialog.showOpenDialog(opts);
      return r.canceled ? null : (r.filePaths[0] ?? null);
    },
  });

  // No web permission (camera, notifications, geolocation, ...) is ever granted.
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  app.on('web-contents-created', (_event, contents) => hardenContents(contents));
  serveAppProtocol();

  ipcMain.handle('pxi:invoke', async (event, channel: unknown, payload: unknown) => {
    const frame = event.senderFrame;
    const verdict = checkSender(
      { frameUrl: frame ? frame.url : null, isMainFrame: !!frame && frame === event.sender.mainFrame },
      allowedOrigins,
    );
    if (!verdict.ok) {
      return { ok: false, error: serializeError(new PxiError(IPC_ERRORS.FORBIDDEN_SENDER, `IPC refused: ${verdict.reason}`)) };
    }
    // Structured clone carries bytes (engine:read) as a Uint8Array, with the whole ArrayBuffer
    // behind it: handlers answer with bytes that own their buffer (ownedBytes), never a pool view.
    return services.dispatch(channel, payload, { transport: 'electron', origin: verdict.origin });
  });

  // The engine worker's own port (shared/ipc/engine-port.ts), sent by the preload: engine:*
  // calls only, the sending frame checked now and on every call.
  ipcMain.on(ENGINE_PORT_IPC, (event) => {
    const [port] = event.ports;
    if (!port) return;
    const frame = event.senderFrame;
    const contents = event.sender;
    // A closed window or a destroyed frame reads as "no frame": every later call is refused.
    const sender = (): SenderFacts =>
      frame && !frame.isDestroyed() && !contents.isDestroyed() ? { frameUrl: frame.url, isMainFrame: frame === contents.mainFrame } : { frameUrl: null, isMainFrame: false };
    serveEnginePort(port, { dispatch: services.dispatch, sender, allowedOrigins });
  });

  const win = new BrowserWindow({
    width: 1400,
    height: 900,
    show: false,
    title: 'Pixel-LLM',
    backgroundColor: '#0f1115',
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  services.onEvent((name, payload) => {
    if (!win.isDestroyed()) win.webContents.send('pxi:event', name, payload);
  });
  win.once('ready-to-show', () => win.show());
  // The page asks before it unloads while a reply is generated (Chat's beforeunload): closing
  // or reloading the window then gets the desktop's own question, Stay being the default.
  win.webContents.on('will-prevent-unload', (event) => {
    const choice = dialog.showMessageBoxSync(win, {
      type: 'question',
      buttons: ['Leave', 'Stay'],
      defaultId: 1,
      cancelId: 1,
      title: 'Pixel-LLM',
      message: 'A reply is being generated.',
      detail: 'Leaving ends it; what was generated so far is kept in the conversation, marked interrupted.',
    });
    if (choice === 0) event.preventDefault();
  });
  await win.loadURL(devUrl ?? `${APP_ORIGIN}/index.html`);

  app.on('window-all-closed', () => {
    void services.close().finally(() => app.quit());
  });
}

main().catch((e) => {
  process.stderr.write(`Pixel-LLM failed to start: ${(e as Error).stack ?? e}\n`);
  app.exit(1);
});
