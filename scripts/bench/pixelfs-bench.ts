/**
 * PixelFS throughput benchmark: put / get / verify / single-thread tile decode of a generated
 * random file, against `cp` of the same file in the same run.
 *
 *   npx tsx scripts/bench/pixelfs-bench.ts [sizeMiB=512] [--level 0] [--tile 1024] [--dir /tmp] [--workers N] [--keep] [--no-warm]
 *
 * --no-warm skips the page-cache warm-up (see below). Random data does not compress, so level 0 (stored) is the relevant setting; quantized weights
 * behave about the same (ENVIRONMENT.md).
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { decodeTile, encodeTile, sha256Hex, Volume } from '../../electron/pixelfs/index';
import { adler32, crc32 } from '../../electron/pixelfs/tile-codec';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const sizeMiB = Number(process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : 512);
const level = Number(arg('level', '0'));
const tile = Number(arg('tile', '1024'));
const workers = process.argv.includes('--workers') ? Number(arg('workers', '1')) : undefined;
const base = fs.mkdtempSync(path.join(arg('dir', os.tmpdir()), 'pixelfs-bench-'));
const size = sizeMiB * 1024 * 1024;
const MB = 1e6;

function dirBytes(d: string): number {
  let n = 0;
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

function rssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** CPU seconds (user + system) of every thread of the process, per timed step. */
const cpuOf = new Map<string, number>();

async function time<T>(fn: () => Promise<T> | T, label?: string): Promise<[T, number]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await fn();
  const c = process.cpuUsage(c0);
  if (label) cpuOf.set(label, (c.user + c.system) / 1e6);
  return [r, (performance.now() - t0) / 1000];
}

async function main(): Promise<void> {
  const src = path.join(base, 'source.bin');
  console.log(`pixelfs-bench: ${sizeMiB} MiB random, tile ${tile}x${tile}, level ${level}, ${os.availableParallelism()} cores, node ${process.version}, in ${base}`);

  // Source: random bytes written in 16 MiB pieces, then flushed so cp and put start even.
  const fd = fs.openSync(src, 'w');
  const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
  const srcHash = createHash('sha256');
  for (let done = 0; done < size; ) {
    const n = Math.min(chunk.length, size - done);
    randomFillSync(chunk, 0, n);
    srcHash.update(chunk.subarray(0, n));
    fs.writeSync(fd, chunk, 0, n);
    done += n;
  }
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const srcSha = srcHash.digest('hex');
  spawnSync('sync');
  if (!process.argv.includes('--no-warm')) {
    // On the VMs this was measured on, the first write into never-touched guest memory runs at
    // ~380 MB/s and into recycled page cache at ~2.7 GB/s; writing and deleting a scratch file of
    // the working-set size first keeps that artifact off whichever step happens to run first.
    const scratch = path.join(base, 'scratch.bin');
    const sfd = fs.openSync(scratch, 'w');
    for (let done = 0; done < Math.min(3 * size, 4096 * 1048576); done += chunk.length) fs.writeSync(sfd, chunk);
    fs.closeSync(sfd);
    fs.rmSync(scratch);
  }

  const rows: [string, number, string][] = [];
  const [, tCp] = await time(() => spawnSync('cp', [src, path.join(base, 'cp.bin')]));
  const [, tCpSync] = await time(() => spawnSync('sh', ['-c', `cp "${src}" "${path.join(base, 'cp2.bin')}" && sync "${path.join(base, 'cp2.bin')}"`]));
  fs.rmSync(path.join(base, 'cp.bin'));
  fs.rmSync(path.join(base, 'cp2.bin'));

  const vol = await Volume.open(path.join(base, 'vol'), { create: { tileWidth: tile, tileHeight: tile, level }, ...(workers === undefined ? {} : { workers }) });
  const cpu0 = process.cpuUsage();
  const [put, tPut] = await time(() => vol.put('source.bin', src), 'put (import)');
  const putCpu = process.cpuUsage(cpu0);
  if (put.sha256 !== srcSha) throw new Error(`put sha256 ${put.sha256} != source ${srcSha}`);
  const rssAfterPut = rssMiB();
  const out = path.join(base, 'export.bin');
  const [, tGet] = await time(() => vol.get('source.bin', out), 'get (export)');
  fs.rmSync(out);
  const [, tGetSync] = await time(() => vol.get('source.bin', out, { fsync: true }), 'get + fsync');
  // A stream destination (what the model store's export uses): no recycled output buffers.
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const [, tGetStream] = await time(() => vol.get('source.bin', sink), 'get to a stream (null sink)');
  // What the model store's export does: the sink is done with a chunk at its callback.
  const sink2 = new Writable({ write: (_c, _e, cb) => cb() });
  const [, tGetReuse] = await time(() => vol.get('source.bin', sink2, { reuseChunks: true }), 'get to a stream, reuseChunks');
  const [rep, tVerify] = await time(() => vol.verify('source.bin'), 'verify');
  if (!rep.ok) throw new Error(`verify failed: ${JSON.stringify(rep.problems.slice(0, 3))}`);

  // Single-thread codec figures over the stored tiles (decode) and source tiles (encode).
  const tilesDir = path.join(base, 'vol', 'tiles');
  let decBytes = 0;
  let decTime = 0;
  let shaTime = 0;
  // Decoded into one recycled buffer, as PixelFS does (a fresh 4 MiB buffer per tile would add
  // ~0.5 ms/MiB of page faults that PixelFS never pays).
  const into = new ArrayBuffer(tile * tile * 4);
  for (const d of fs.readdirSync(tilesDir)) {
    for (const f of fs.readdirSync(path.join(tilesDir, d))) {
      const png = fs.readFileSync(path.join(tilesDir, d, f));
      const hash = f.slice(0, 64);
      const t0 = performance.now();
      const dec = decodeTile(png, { maxWidth: tile, maxHeight: tile, expectedSha256: hash, into });
      decTime += performance.now() - t0;
      decBytes += dec.payload.length;
      const t1 = performance.now();
      sha256Hex(dec.payload);
      shaTime += performance.now() - t1;
    }
  }
  const sample = Buffer.allocUnsafe(tile * tile * 4);
  randomFillSync(sample);
  const reps = Math.max(4, Math.min(64, Math.floor(size / sample.length)));
  const sampleSha = sha256Hex(sample);
  const t2 = performance.now();
  for (let i = 0; i < reps; i++) encodeTile(sample, { width: tile, height: tile }, { level, sha256: sampleSha });
  const encTime = (performance.now() - t2) / 1000;

  // Where the time goes: each component alone, one thread, over one tile, in ms per MiB.
  const comp: [string, () => void][] = [
    ['sha256 (node:crypto)', () => sha256Hex(sample)],
    ['adler32 (JS, level-0 zlib trailer)', () => adler32(1, sample)],
    ['crc32 (zlib.crc32)', () => crc32(sample)],
    ['copy into a recycled buffer', () => sample.copy(recycled)],
    ['copy into a fresh buffer (page faults)', () => sample.copy(Buffer.allocUnsafeSlow(sample.length))],
  ];
  const recycled = Buffer.allocUnsafeSlow(sample.length);
  const perMiB = (f: () => void): number => {
    f();
    const k = 16;
    const t0 = performance.now();
    for (let i = 0; i < k; i++) f();
    return (performance.now() - t0) / k / (sample.length / 1048576);
  };
  const compRows = comp.map(([name, f]) => [name, perMiB(f)] as const);
  const wfile = path.join(base, 'w.bin');
  const t3 = performance.now();
  for (let i = 0; i < 8; i++) {
    const wfd = fs.openSync(`${wfile}${i}`, 'w');
    fs.writeSync(wfd, sample);
    fs.fsyncSync(wfd);
    fs.closeSync(wfd);
    const dfd = fs.openSync(base, 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  }
  const fsPerMiB = (performance.now() - t3) / 8 / (sample.length / 1048576);
  for (let i = 0; i < 8; i++) fs.rmSync(`${wfile}${i}`);

  const stats = vol.stats();
  await vol.close();
  const volBytes = dirBytes(path.join(base, 'vol'));

  const mbps = (bytes: number, s: number): string => `${(bytes / MB / s).toFixed(0)} MB/s`;
  rows.push(['cp', tCp, mbps(size, tCp)]);
  rows.push(['cp + sync', tCpSync, mbps(size, tCpSync)]);
  rows.push(['put (import)', tPut, `${mbps(size, tPut)}  (${(tPut / tCp).toFixed(2)}x cp, ${(tPut / tCpSync).toFixed(2)}x cp+sync)`]);
  rows.push(['get (export)', tGet, `${mbps(size, tGet)}  (${(tGet / tCp).toFixed(2)}x cp)`]);
  rows.push(['get + fsync', tGetSync, mbps(size, tGetSync)]);
  rows.push(['get to a stream (null sink)', tGetStream, mbps(size, tGetStream)]);
  rows.push(['get to a stream, reuseChunks', tGetReuse, mbps(size, tGetReuse)]);
  rows.push(['verify', tVerify, mbps(size, tVerify)]);
  rows.push(['tile decode, 1 thread (incl. sha256)', decTime / 1000, mbps(decBytes, decTime / 1000)]);
  rows.push(['  of which sha256', shaTime / 1000, mbps(decBytes, shaTime / 1000)]);
  rows.push(['tile encode, 1 thread (sha256 given)', encTime, mbps(reps * sample.length, encTime)]);

  console.log('');
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (other jobs share the cores: compare CPU seconds too)`);
  console.log('| step | seconds | throughput | CPU s (all threads) |');
  console.log('|---|---:|---|---:|');
  for (const [name, s, t] of rows) {
    const c = cpuOf.get(name);
    console.log(`| ${name} | ${s.toFixed(3)} | ${t} | ${c === undefined ? '-' : c.toFixed(2)} |`);
  }
  console.log('');
  console.log(`peak RSS (maxRSS, whole process incl. workers): ${rssMiB().toFixed(0)} MiB (after put: ${rssAfterPut.toFixed(0)} MiB)`);
  console.log(`volume on disk: ${(volBytes / MB).toFixed(1)} MB for a ${(size / MB).toFixed(1)} MB source (${((volBytes / size - 1) * 100).toFixed(2)}% overhead; stored tiles ${(stats.storedBytes / MB).toFixed(1)} MB, catalog ${(stats.catalogBytes / 1024).toFixed(0)} KiB)`);
  console.log(`put: ${put.tiles} tiles written ${put.tilesWritten}, deduped ${put.tilesDeduped}`);
  console.log('');
  console.log('| component (one thread, one tile) | ms per MiB |');
  console.log('|---|---:|');
  for (const [name, ms] of compRows) console.log(`| ${name} | ${ms.toFixed(3)} |`);
  console.log(`| write + fsync + folder fsync (sync, one at a time) | ${fsPerMiB.toFixed(3)} |`);
  console.log(`| put, wall, per MiB | ${((tPut * 1000) / sizeMiB).toFixed(3)} |`);
  console.log(`| put, CPU of all threads, per MiB | ${((putCpu.user + putCpu.system) / 1000 / sizeMiB).toFixed(3)} (user ${(putCpu.user / 1000 / sizeMiB).toFixed(3)}, sys ${(putCpu.system / 1000 / sizeMiB).toFixed(3)}) |`);
  if (!process.argv.includes('--keep')) fs.rmSync(base, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  fs.rmSync(base, { recursive: true, force: true });
  process.exit(1);
});
