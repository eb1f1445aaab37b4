/**
 * A PixelFS tile worker: hashes, encodes and decodes tiles off the main thread. Messages are
 * described in worker-pool.ts. Shared buffers (a volume's slabs) are used in place; plain ones
 * travel as transferred ArrayBuffers and are handed back so that the next tile reuses them (a
 * fresh 4 MiB buffer costs ~1 ms of page faults).
 */
import { parentPort } from 'node:worker_threads';
import { PxiError } from '../../shared/errors';
import { decodeTile, encodeTile, sha256Hex } from './tile-codec';
import { transferable, type FromWorker, type ToWorker } from './worker-pool';

const port = parentPort;
if (!port) throw new Error('tile-worker.ts must run in a worker thread');

port.on('message', (m: ToWorker) => {
  try {
    if (m.t === 'hash') {
      const sha256 = sha256Hex(new Uint8Array(m.buf, 0, m.length));
      port.postMessage({ t: 'hashed', id: m.id, sha256, buf: m.buf } satisfies FromWorker, transferable(m.buf));
    } else if (m.t === 'encode') {
      const png = encodeTile(new Uint8Array(m.tile, 0, m.length), { width: m.width, height: m.height }, { level: m.level, sha256: m.sha256, ...(m.spare ? { into: m.spare } : {}) });
      const pngBuf = png.buffer as ArrayBuffer | SharedArrayBuffer; // the spare, or a fresh one if the spare was too small
      // A spare that went unused goes back too (transferred, it would otherwise be lost).
      const unused = m.spare && m.spare !== pngBuf ? m.spare : undefined;
      port.postMessage({ t: 'encoded', id: m.id, png: pngBuf, length: png.length, tile: m.tile, ...(unused ? { spare: unused } : {}) } satisfies FromWorker, transferable(pngBuf, m.tile, unused));
    } else {
      const d = decodeTile(new Uint8Array(m.png, 0, m.length), { ...m.opts, ...(m.into ? { into: m.into } : {}) });
      const out = d.payload.buffer as ArrayBuffer | SharedArrayBuffer;
      const unused = m.into && m.into !== out ? m.into : undefined;
      port.postMessage({ t: 'decoded', id: m.id, buf: out, length: d.payload.length, sha256: d.sha256, png: m.png, ...(unused ? { into: unused } : {}) } satisfies FromWorker, transferable(out, m.png, unused));
    }
  } catch (e) {
    if (e instanceof PxiError) port.postMessage({ t: 'error', id: m.id, code: e.code, message: e.message, details: e.details } satisfies FromWorker);
    else port.postMessage({ t: 'error', id: m.id, code: 'INTERNAL', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies FromWorker);
  }
});
