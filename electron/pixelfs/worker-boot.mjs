// Worker bootstrap for PixelFS tile workers. A worker thread does not inherit the parent's
// TypeScript loader (tsx's hooks, `--import tsx` in execArgv: both fail on Node 20 with
// "Unknown file extension .ts"), so when the entry is a .ts file this registers tsx inside the
// worker first. A built (.js) entry is imported directly.
import { workerData } from 'node:worker_threads';

const entry = workerData && workerData.entry;
if (typeof entry !== 'string') throw new Error('worker-boot: workerData.entry (a file URL) is missing');
if (entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(entry);
