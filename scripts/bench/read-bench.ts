/**
 * Weight bytes from pixels to a browser-mode client: how fast `engine:read` carries a stored
 * model over the WebSocket now that answers are binary frames (specs/benchmarks.md, "Tensor
 * reads over browser mode").
 *
 *   npm run bench:read [-- --blocks 2 --embd 768 --ff 2048 --type F32 --passes 3 --tile 1024]
 *
 * Generates a model with `pxi gen` (tiny-llama widened: ~58 MB at the defaults), imports it
 * into a fresh volume, starts the browser-mode server in-process (startWebHost, as `pxi serve`
 * does) and reads every tensor through the renderer's own WebSocket client in 8 MiB reads, the
 * way the engine worker loads a model: over the engine worker's own port (/api/engine; before
 * issue 14 item 5 the page's /api socket carried them, and the page relayed them to the worker).
 * Then the same reads over the Electron engine port's code (electron/main/engine-port.ts and
 * renderer/src/transport-port.ts) with a worker_threads MessageChannel standing in for Electron's. Pass 1 decodes every tile (PNG + sha256); later passes
 * find the tiles in the volume's 64 MiB decoded-tile cache, so they show the transport alone.
 * For comparison, in the same run: `store.readTensor` in-process (no IPC at all), and what the
 * old base64-in-JSON answers cost on the same bytes (encode on the server, parse and decode on
 * the client), in-process, without any socket.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { main } from '../../electron/cli/main';
import { Services } from '../../electron/services';
import { startWebHost } from '../../electron/web/server';
import { Base64 } from '../../shared/ipc/channels/common';
import { MessageChannel } from 'node:worker_threads';
import { serveEnginePort } from '../../electron/main/engine-port';
import { APP_ORIGIN } from '../../electron/main/sender-check';
import { ENGINE_LIMITS } from '../../shared/ipc/channels/engine';
import { createApi } from '../../shared/ipc/client';
import { ENGINE_PORT_PATH } from '../../shared/ipc/engine-port';
import { portTransport } from '../../renderer/src/transport-port';
import { connectNodeClient, fakeRendererDir } from '../../tests/support/web-client';

const MB = 1e6;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

/** Every tensor as [name, offset, length] reads of at most 8 MiB, in file order. */
function plan(tensors: { name: string; bytes: number }[]): [string, number, number][] {
  const out: [string, number, number][] = [];
  for (const t of tensors) for (let o = 0; o < t.bytes; o += ENGINE_LIMITS.readBytes) out.push([t.name, o, Math.min(ENGINE_LIMITS.readBytes, t.bytes - o)]);
  return out;
}

async function run(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pxi-read-bench-'));
  const passes = Number(arg('passes', '3'));
  const tile = Number(arg('tile', '1024'));
  try {
    const file = path.join(tmp, 'model.gguf');
    const quiet = { out: () => undefined, err: (t: string) => process.stderr.write(`${t}\n`), interrupted: new Promise<never>(() => undefined) };
    const gen = ['gen', '--preset', 'tiny-llama', '--type', arg('type', 'F32'), '--blocks', arg('blocks', '2'), '--embd', arg('embd', '768'), '--ff', arg('ff', '2048'), '-o', file, '--quiet'];
    if ((await main(gen, quiet)) !== 0) throw new Error(`pxi ${gen.join(' ')} failed`);

    const dataDir = path.join(tmp, 'data');
    fs.mkdirSync(dataDir);
    const services = new Services({ dataDir, mode: 'browser', version: 'bench' });
    // The volume with the requested tile size, before the services open it with their defaults.
    const { ModelStore } = await import('../../electron/models/store');
    await (await ModelStore.open(path.join(dataDir, 'volume'), { create: { tileWidth: tile, tileHeight: tile, level: 0 } })).close();
    const store = await services.store();
    const t0 = performance.now();
    const imported = await store.import(file, { name: 'bench' });
    const importS = (performance.now() - t0) / 1000;
    const host = await startWebHost({ services, rendererDir: fakeRendererDir(tmp), port: 0 });
    const client = await connectNodeClient(host, ENGINE_PORT_PATH);
    try {
      const header = await client.api.call('engine:header', { model: 'bench' });
      const reads = plan(header.tensors);
      const total = header.tensors.reduce((s, t) => s + t.bytes, 0);
      console.log(`model: ${header.tensors.length} tensors, ${(total / MB).toFixed(1)} MB of tensor data (${(fs.statSync(file).size / MB).toFixed(1)} MB file), ${reads.length} reads of ≤ 8 MiB; tiles ${tile}×${tile}, imported in ${importS.toFixed(2)} s`);
      console.log(`machine: ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.versions.node}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

      const sample: Uint8Array[] = [];
      for (let p = 1; p <= passes; p++) {
        const t = performance.now();
        let bytes = 0;
        for (const [tensor, offset, length] of reads) {
          const r = await client.api.call('engine:read', { model: 'bench', tensor, offset, length });
          if (r.bytes.byteLength !== length) throw new Error(`short read of ${tensor}`);
          bytes += length;
          if (p === 1 && sample.length < 8 && length === ENGINE_LIMITS.readBytes) sample.push(r.bytes.slice());
        }
        const s = (performance.now() - t) / 1000;
        console.log(`engine:read over the engine port's WebSocket (${ENGINE_PORT_PATH}), binary frames, pass ${p}${p === 1 ? ' (tiles decoded)' : ' (decoded-tile cache)'}: ${(bytes / MB / s).toFixed(0)} MB/s (${(bytes / MB).toFixed(1)} MB in ${s.toFixed(2)} s)`);
      }

      // Electron's engine port, its two ends' code over a worker_threads MessageChannel (structured clone, one thread).
      {
        const { port1, port2 } = new MessageChannel();
        serveEnginePort(
          {
            on: (event: 'message' | 'close', l: ((ev: { data: unknown }) => void) | (() => void)) => port1.on(event, event === 'message' ? (data: unknown) => (l as (ev: { data: unknown }) => void)({ data }) : (l as () => void)),
            postMessage: (m) => port1.postMessage(m),
            start: () => port1.start(),
            close: () => port1.close(),
          },
          { dispatch: services.dispatch, sender: () => ({ frameUrl: `${APP_ORIGIN}/index.html`, isMainFrame: true }), allowedOrigins: [APP_ORIGIN] },
        );
        const portApi = createApi(portTransport({ postMessage: (m) => port2.postMessage(m), addEventListener: (_t, l) => port2.on('message', (data) => l({ data })), start: () => port2.start(), close: () => port2.close() }));
        const t1 = performance.now();
        for (const [tensor, offset, length] of reads) if ((await portApi.call('engine:read', { model: 'bench', tensor, offset, length })).bytes.byteLength !== length) throw new Error(`short read of ${tensor}`);
        const s1 = (performance.now() - t1) / 1000;
        console.log(`engine:read over the Electron engine port's code, worker_threads MessageChannel stand-in (decoded-tile cache): ${(total / MB / s1).toFixed(0)} MB/s`);
        port1.close();
      }

      // The floor under any transport: the store's own reads, in-process (tile cache warm).
      let t = performance.now();
      for (const [tensor, offset, length] of reads) await store.readTensor(imported.model.id, tensor, offset, length);
      let s = (performance.now() - t) / 1000;
      console.log(`store.readTensor in-process (decoded-tile cache): ${(total / MB / s).toFixed(0)} MB/s`);

      // The old answer format on the same bytes: base64 text checked by the old contract's
      // schema and put in a JSON frame by the server, parsed and decoded by the client (Node's
      // native base64 both ways; the renderer had Uint8Array.fromBase64 or atob).
      if (sample.length === 0) sample.push(new Uint8Array(ENGINE_LIMITS.readBytes).map((_, i) => i * 31));
      let moved = 0;
      t = performance.now();
      for (let rep = 0; moved < total; rep++) {
        const b = sample[rep % sample.length]!;
        const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
        // The old contract checked the text with this schema in the dispatcher.
        if (!Base64.safeParse(text).success) throw new Error('not base64');
        const wire = JSON.stringify({ id: rep, result: { ok: true, value: { bytes: text } } });
        const back = Buffer.from((JSON.parse(wire) as { result: { value: { bytes: string } } }).result.value.bytes, 'base64');
        if (back.length !== b.byteLength) throw new Error('base64 round trip lost bytes');
        moved += b.byteLength;
      }
      s = (performance.now() - t) / 1000;
      console.log(`reference: the old base64-in-JSON answer (encode, schema check, JSON, parse, decode) alone, in-process, same bytes: ${(moved / MB / s).toFixed(0)} MB/s (the old format paid this on top of the socket, with 4/3 the bytes on the wire)`);
    } finally {
      client.close();
      await host.close();
      await services.close();
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await run();
