import { expect, test, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

/**
 * Loading a model shows its progress and can be cancelled, in Chromium against browser mode.
 * The engine's socket is routed through the test, which holds back the engine's tensor reads
 * while asked to: the load then stays in progress for as long as the test needs, with no timing
 * involved. Cancel leaves the engine with no model and says so; choosing the model again loads
 * it and it answers.
 *
 * The engine worker reads over its own WebSocket (/api/engine), and Playwright cannot route a
 * worker's socket (microsoft/playwright#37048). So the page hands the worker a MessagePort link
 * instead (the kind Electron uses), whose other end relays each call to a page socket at the same
 * URL, which the route sees (relayEngineLink).
 */

let dataDir = '';
let serve: ServeProcess | null = null;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-cancel-'));
  const r = spawnSync(process.execPath, ['bin/pxi.js', 'import', fixturePath('models', 'stories260K.gguf'), '--volume', join(dataDir, 'volume'), '--tile-size', '64', '--skip-pyramid'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  serve = await serveDataDir(dataDir);
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/**
 * Replaces the worker's WebSocket link with a MessagePort relayed through a socket of the page
 * (see the header). Answers holding bytes come as binary frames (specs/ARCHITECTURE.md,
 * "Browser-mode frames"): their parts are put back where the header's paths say.
 */
async function relayEngineLink(page: Page): Promise<void> {
  await page.addInitScript(() => {
    type Part = { path: (string | number)[]; length: number };
    const decode = (buf: ArrayBuffer): unknown => {
      const h = new DataView(buf).getUint32(4, true);
      const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 8, h))) as { frame: Record<string | number, unknown>; parts: Part[] };
      let at = 8 + h;
      for (const part of head.parts) {
        at = Math.ceil(at / 8) * 8;
        let o = head.frame;
        for (const k of part.path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
        o[part.path[part.path.length - 1]!] = new Uint8Array(buf, at, part.length);
        at += part.length;
      }
      return head.frame;
    };
    const post = Worker.prototype.postMessage as (this: Worker, m: unknown, t?: Transferable[]) => void;
    Worker.prototype.postMessage = function (this: Worker, msg: { type?: string; link?: { kind: string; url: string } }, transfer?: Transferable[]) {
      if (msg?.type !== 'link' || msg.link?.kind !== 'websocket') return post.call(this, msg, transfer);
      const { port1, port2 } = new MessageChannel();
      const ws = new WebSocket(msg.link.url);
      ws.binaryType = 'arraybuffer';
      const waiting: string[] = [];
      ws.onopen = () => waiting.splice(0).forEach((t) => ws.send(t));
      ws.onmessage = (ev: MessageEvent<string | ArrayBuffer>) => port1.postMessage(typeof ev.data === 'string' ? JSON.parse(ev.data) : decode(ev.data));
      port1.onmessage = (ev) => {
        const text = JSON.stringify(ev.data);
        if (ws.readyState === WebSocket.OPEN) ws.send(text);
        else waiting.push(text);
      };
      post.call(this, { type: 'link', link: { kind: 'port', port: port2 } }, [port2]);
    } as typeof Worker.prototype.postMessage;
  });
}

/** Routes the API sockets; while `hold.on`, engine:read requests are kept back (counted in `hold.held`). */
async function holdReads(page: Page): Promise<{ on: boolean; held: number }> {
  await relayEngineLink(page);
  const hold = { on: true, held: 0 };
  await page.routeWebSocket(/\/api/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      if (hold.on && typeof m === 'string' && m.includes('"engine:read"')) {
        hold.held++;
        return;
      }
      server.send(m);
    });
    server.onMessage((m) => ws.send(m));
  });
  return hold;
}

test('Cancel during load leaves no model loaded and says so; the model loads again after', async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const hold = await holdReads(page);
  for (const size of [
    { width: 1920, height: 1080 },
    { width: 1280, height: 720 },
  ]) {
    await page.setViewportSize(size);
    await page.goto(`${serve!.url}#/chat`);
    await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
    const status = page.locator('#chat-engine-status');
    const model = page.locator('#chat-model');
    const cancel = page.locator('#chat-cancel-load');
    await expect(cancel).toBeHidden();
    const id = (await model.locator('option', { hasText: 'stories260K' }).getAttribute('value'))!;
    await model.selectOption(id);
    await expect(status).toHaveAttribute('data-state', 'loading');
    await expect(cancel).toBeVisible();
    // The load reaches its upload (after any kernel measuring) and waits on the held reads.
    await expect.poll(() => hold.held, { timeout: 60_000 }).toBeGreaterThan(0);
    await expect(status).toContainText(/Loading stories260K|Measuring the decode kernels/);
    await expect(page.locator('.chat-progress')).toBeVisible();
    await page.screenshot({ path: test.info().outputPath(`chat-loading-${size.width}x${size.height}.png`) });

    await cancel.click();
    await expect(status).toHaveAttribute('data-state', 'empty');
    await expect(status).toHaveText('Loading stories260K was cancelled: no model is loaded. Choose a model to load one.');
    await expect(cancel).toBeHidden();
    await expect(page.locator('.chat-progress')).toBeHidden();
    await expect(model).toHaveValue('');
    await expect(model).toBeFocused();
    await expect(page.locator('#chat-send')).toBeDisabled();
    await page.screenshot({ path: test.info().outputPath(`chat-load-cancelled-${size.width}x${size.height}.png`) });
  }

  // Reads flow again: the same model loads, and it answers.
  hold.on = false;
  const model = page.locator('#chat-model');
  await model.selectOption((await model.locator('option', { hasText: 'stories260K' }).getAttribute('value'))!);
  await expect(page.locator('#chat-engine-status')).toHaveAttribute('data-state', 'ready', { timeout: 60_000 });
  await expect(page.locator('#chat-engine-status')).toContainText('stories260K');
  await page.locator('#chat-greedy').click();
  await page.locator('#chat-maxTokens').fill('4');
  await page.locator('#chat-prompt').fill('Once upon a time');
  await page.locator('#chat-send').click();
  await expect(page.locator('.chat-reply').last()).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  expect(errors).toEqual([]);
});
