import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Page } from '@playwright/test';
import { projectRoot } from '../support/fixtures';

export interface ServeProcess {
  url: string;
  port: number;
  origin: string;
  token: string;
  /** The server's data folder (its volume is `dataDir/volume`). */
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts `pxi serve` on an existing data folder (a volume the test prepared first: one process
 * owns a volume at a time); `stop()` ends the server and leaves the folder (a restart can serve it
 * again).
 */
export async function serveDataDir(dataDir: string, args: string[] = []): Promise<ServeProcess> {
  const child: ChildProcess = spawn(process.execPath, ['bin/pxi.js', 'serve', '--port', '0', '--json', '--data-dir', dataDir, ...args], {
    cwd: projectRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`pxi serve exited with ${code} before printing its URL:\n${stderr}`)));
  });
  const { url, port } = JSON.parse(first) as { url: string; port: number };
  const token = new URL(url).searchParams.get('token')!;
  return {
    url,
    port,
    token,
    dataDir,
    origin: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
    },
  };
}

/** Starts `pxi serve` as a user would (a real process, a fresh data folder, a free port); `args` are extra flags; `stop()` also removes the folder. */
export async function startServe(args: string[] = []): Promise<ServeProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-'));
  const s = await serveDataDir(dataDir, args);
  return {
    ...s,
    stop: async () => {
      await s.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A call to a server's services through the page's own origin and token (the contract the UI
 * uses): the answer's value, or an Error with the service's message.
 */
export async function callServices<T>(page: Page, port: number, channel: string, payload: unknown): Promise<T> {
  return page.evaluate(
    async ([wsUrl, ch, p]) => {
      const ws = new WebSocket(wsUrl as string);
      await new Promise((r) => (ws.onopen = r));
      const reply = await new Promise<{ result: { ok: boolean; value?: unknown; error?: { message: string } } }>((resolve) => {
        ws.onmessage = (ev) => {
          const f = JSON.parse(String(ev.data));
          if (f.id === 1) resolve(f);
        };
        ws.send(JSON.stringify({ id: 1, channel: ch, payload: p }));
      });
      ws.close();
      if (!reply.result.ok) throw new Error(reply.result.error?.message);
      return reply.result.value;
    },
    [`ws://127.0.0.1:${port}/api`, channel, payload],
  ) as Promise<T>;
}
