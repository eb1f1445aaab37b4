/**
 * The pyramid thread's worker (PyramidThread, pyramid-thread.ts): one tensor's pyramid at a time,
 * fed the bytes the import copies to it, its finished cells posted back. Computing only: the
 * index stays with the main thread, which writes what this sends.
 */
import { parentPort } from 'node:worker_threads';
import type { IndexedRegion, PyramidWrite } from './map-types';
import { TensorPyramidWriter } from './tensor-pyramid-writer';

export type ToPyramidWorker =
  | { t: 'begin'; region: IndexedRegion; heatSize: number }
  | { t: 'write'; buf: ArrayBuffer; length: number }
  | { t: 'finish' };

export type FromPyramidWorker =
  | { t: 'ack'; buf: ArrayBuffer; length: number }
  | { t: 'finished'; write: PyramidWrite }
  | { t: 'error'; message: string; name: string; code?: string };

const port = parentPort;
if (!port) throw new Error('pyramid-worker runs as a worker thread');

let writer: TensorPyramidWriter | null = null;
// After a failure, the rest of that tensor's messages are dropped until the next begin.
let failed = false;

port.on('message', (m: ToPyramidWorker) => {
  try {
    if (m.t === 'begin') {
      failed = false;
      writer = TensorPyramidWriter.detached(m.region, m.heatSize);
    } else if (m.t === 'write') {
      try {
        if (!failed) writer!.write(new Uint8Array(m.buf, 0, m.length));
      } finally {
        // The buffer goes back for the next copy, whatever happened.
        port.postMessage({ t: 'ack', buf: m.buf, length: m.length } satisfies FromPyramidWorker, [m.buf]);
      }
    } else if (!failed) {
      const write = writer!.finishDeferred();
      writer = null;
      port.postMessage({ t: 'finished', write } satisfies FromPyramidWorker, write.cells.map((c) => c.heat.buffer as ArrayBuffer));
    }
  } catch (e) {
    failed = true;
    writer = null;
    const err = e as Error & { code?: string };
    port.postMessage({ t: 'error', message: err.message ?? String(e), name: err.name ?? 'Error', code: err.code } satisfies FromPyramidWorker);
  }
});
