import { expect, test } from '@playwright/test';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startServe, type ServeProcess } from './serve-fixture';

let serve: ServeProcess;
test.beforeAll(async () => {
  serve = await startServe();
});
test.afterAll(async () => {
  await serve?.stop();
});

/** A raw HTTP request with headers a browser would never let a page forge (Host). */
function rawGet(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET', headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the app opens and the status bar names a real WebGPU adapter', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(serve.url);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  const gpu = page.locator('#gpu-status');
  // A graphics card (gpu-ok) or, on a machine without one, the CPU fallback (gpu-cpu, amber).
  await expect(gpu).toHaveClass(/^gpu-(ok|cpu)$/);
  const adapter = await gpu.getAttribute('data-adapter');
  expect(adapter, 'the adapter has a name').toBeTruthy();
  // The status bar's adapter is the one the page itself gets from navigator.gpu.
  const direct = await page.evaluate(async () => {
    const a = await navigator.gpu.requestAdapter();
    return a ? a.info.description || a.info.vendor : null;
  });
  expect(adapter).toBe(direct);
  // The technical line (features, limits) is the tooltip.
  await expect(gpu).toHaveAttribute('title', /shader-f16/);
  await expect(page.locator('#status')).toContainText('browser mode');
  // Navigation reaches every view.
  for (const [id, title] of [['import', 'Import'], ['explorer', 'Explorer'], ['chat', 'Chat'], ['tasks', 'Tasks'], ['models', 'Models']]) {
    await page.locator(`nav a[data-view="${id}"]`).click();
    await expect(page.locator('#view h1')).toHaveText(title);
  }
  await expect(page.locator('#view')).toContainText('No model in this volume yet');
  await page.screenshot({ path: test.info().outputPath('shell.png') });
  expect(errors).toEqual([]);
});

test('a request without the token or with a wrong token is refused', async ({ request }) => {
  const none = await request.get(`${serve.origin}/`);
  expect(none.status()).toBe(401);
  expect(await none.text()).toContain('missing access token');
  const wrong = await request.get(`${serve.origin}/?token=not-the-token`);
  expect(wrong.status()).toBe(403);
  const right = await request.get(serve.url);
  expect(right.status()).toBe(200);
  expect(right.headers()['content-security-policy']).toContain("script-src 'self'");
});

test('a foreign Host is refused (DNS rebinding) even with the right token', async () => {
  const res = await rawGet(serve.port, `/?token=${serve.token}`, { host: `evil.example:${serve.port}` });
  expect(res.status).toBe(421);
  expect(res.body).toContain('is not allowed');
  const ok = await rawGet(serve.port, `/?token=${serve.token}`, { host: `localhost:${serve.port}` });
  expect(ok.status).toBe(200);
});

test('a foreign Origin is refused for pages and for the API socket', async ({ page }) => {
  const res = await rawGet(serve.port, `/?token=${serve.token}`, { host: `127.0.0.1:${serve.port}`, origin: 'http://evil.example' });
  expect(res.status).toBe(403);
  // A real page on another origin (another port) knows the token and tries the API socket:
  // the browser sends that page's Origin, and the upgrade is refused.
  const other = createServer((_req, r) => {
    r.writeHead(200, { 'content-type': 'text/html' });
    r.end('<!doctype html><title>other origin</title>');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
  try {
    const otherPort = (other.address() as AddressInfo).port;
    await page.goto(`http://127.0.0.1:${otherPort}/`);
    const outcome = await page.evaluate(
      (wsUrl) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(wsUrl);
          ws.onopen = () => resolve('open');
          ws.onerror = () => resolve('refused');
        }),
      `ws://127.0.0.1:${serve.port}/api?token=${serve.token}`,
    );
    expect(outcome).toBe('refused');
  } finally {
    other.close();
  }
  // The same socket from our own page opens: the refusal above is about the origin.
  await page.goto(serve.url);
  const own = await page.evaluate(
    (wsUrl) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(wsUrl);
        ws.onopen = () => resolve('open');
        ws.onerror = () => resolve('refused');
      }),
    `ws://127.0.0.1:${serve.port}/api`,
  );
  expect(own).toBe('open');
});

test('IPC validation refuses an unknown channel, a malformed payload and a malformed frame', async ({ page }) => {
  await page.goto(serve.url);
  const replies = await page.evaluate(async (wsUrl) => {
    const ws = new WebSocket(wsUrl);
    await new Promise((r) => (ws.onopen = r));
    const frames: unknown[] = [];
    const want = 4;
    const done = new Promise<void>((resolve) => {
      ws.onmessage = (ev) => {
        frames.push(JSON.parse(String(ev.data)));
        if (frames.length === want) resolve();
      };
    });
    ws.send(JSON.stringify({ id: 1, channel: 'fs:readAnyFile', payload: { path: '/etc/passwd' } }));
    ws.send(JSON.stringify({ id: 2, channel: 'app:log', payload: { level: 'shout', message: 42 } }));
    ws.send('this is not json');
    ws.send(JSON.stringify({ id: 3, channel: 'app:info', payload: {} }));
    await done;
    return frames;
  }, `ws://127.0.0.1:${serve.port}/api`);
  const byId = new Map((replies as { id: number; result: { ok: boolean; error?: { code: string; message: string }; value?: unknown } }[]).map((f) => [f.id, f.result]));
  expect(byId.get(1)?.ok).toBe(false);
  expect(byId.get(1)?.error?.code).toBe('IPC_UNKNOWN_CHANNEL');
  expect(byId.get(1)?.error?.message).toContain('fs:readAnyFile');
  expect(byId.get(2)?.error?.code).toBe('IPC_INVALID_REQUEST');
  expect(byId.get(2)?.error?.message).toMatch(/level/);
  expect(byId.get(2)?.error?.message).toMatch(/message/);
  expect(byId.get(-1)?.error?.code).toBe('IPC_MALFORMED_FRAME');
  expect(byId.get(3)?.ok).toBe(true);
  expect((byId.get(3)?.value as { mode: string }).mode).toBe('browser');
});
