/**
 * Storage benchmark (issue 3, item 9): a generated Qwen2.5-7B-shaped GGUF through the model
 * store, against `cp` of the same file in the same run.
 *
 *   npx tsx scripts/bench/storage-bench.ts [--blocks 28] [--type Q4_K] [--dir /tmp] [--tile 1024]
 *        [--level 0] [--source FILE] [--pyramid] [--keep]
 *
 * --blocks 28 (the default) is the full model (~4.4 GB in Q4_K); fewer blocks make it smaller
 * (3 blocks ~ 1 GB). --source benchmarks an existing GGUF instead of generating one.
 * Phases: the import as pxi import runs it (store and pyramid in one pass, in a volume of its
 * own), the import without the pyramid, export, verify, decode, a viewport query, and with
 * --pyramid the pyramid read back from the stored tiles (the old second pass).
 * Each phase runs in its own child process, so each
 * peak RSS (process.resourceUsage().maxRSS and VmHWM: every thread, the tile workers included)
 * is that phase's alone. The source is in the page cache for cp and import alike (it was just
 * written), so both measure the same thing: reading cached bytes and writing them durably.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { ModelStore } from '../../electron/models/store';
import { exportModel } from '../../electron/ops/export';
import { verifyModel } from '../../electron/ops/verify';
import { importModel } from '../../electron/ops/import';
import { decodeTile } from '../../electron/pixelfs/index';

const MB = 1e6;
const root = path.resolve(import.meta.dirname, '..', '..');

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

function dirBytes(d: string): number {
  let n = 0;
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

function peakRss(): { maxRssMiB: number; vmHwmMiB: number } {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  return { maxRssMiB: process.resourceUsage().maxRSS / 1024, vmHwmMiB: hwm ? Number(hwm[1]) / 1024 : NaN };
}

interface PhaseResult {
  seconds: number;
  bytes: number;
  maxRssMiB: number;
  vmHwmMiB: number;
  cpuSeconds: number;
  note?: string;
  extra?: Record<string, number | string>;
}

/** One phase, run inside a child process (`--phase NAME --volume DIR ...`); prints one JSON line. */
async function phase(name: string, volume: string, source: string, tile: number, level: number): Promise<PhaseResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const done = (bytes: number, note?: string, extra?: Record<string, number | string>): PhaseResult => {
    const cpu = process.cpuUsage(cpu0);
    return { seconds: (performance.now() - t0) / 1000, bytes, ...peakRss(), cpuSeconds: (cpu.user + cpu.system) / 1e6, ...(note ? { note } : {}), ...(extra ? { extra } : {}) };
  };
  if (name === 'import') {
    const store = await ModelStore.open(volume, { create: { tileWidth: tile, tileHeight: tile, level } });
    const r = await store.import(source, { name: 'bench', pyramid: false });
    await store.close();
    return done(r.bytesRead, `${r.manifest.tensors.length} tensors, ${r.tilesWritten} tiles written, ${r.tilesDeduped} deduped`, { sha256: r.manifest.source.sha256 });
  }
  if (name === 'import-pyramid') {
    // What pxi import does: store and pyramid in one pass over the file (electron/ops/import.ts).
    const store = await ModelStore.open(volume, { create: { tileWidth: tile, tileHeight: tile, level } });
    const r = await importModel(store, source, { name: 'bench' });
    const ready = store.pyramidReady('bench');
    const cells = store.map.counts().cells;
    await store.close();
    return done(r.bytesRead, `${r.pyramid?.built ?? 0} tensors' pyramids (${cells} cells${ready ? '' : ', NOT COMPLETE'}), read-back build ${r.pyramidSeconds === null ? 'not needed' : `${r.pyramidSeconds.toFixed(1)} s`}`);
  }
  const store = await ModelStore.open(volume);
  try {
    const m = store.manifest('bench');
    if (name === 'export') {
      const out = path.join(path.dirname(volume), 'export.gguf');
      const r = await exportModel(store, 'bench', out, { overwrite: true });
      fs.rmSync(out);
      return done(r.size, `sha256 ${r.sha256 === m.source.sha256 ? 'identical' : 'DIFFERENT'}`);
    }
    if (name === 'verify') {
      const r = await verifyModel(store, 'bench');
      return done(r.bytesChecked, r.ok ? 'ok' : `${r.problems.length} problems`);
    }
    if (name === 'decode') {
      // Full-tile decode, one thread: every tile of the largest tensor, read from disk and decoded
      // (PNG parse, inflate or stored-block copy, sha256 check).
      const big = [...m.tensors].sort((a, b) => b.bytes - a.bytes)[0]!;
      const tilesDir = path.join(volume, 'tiles');
      const cap = store.volume.tileBytes;
      const hashes = new Set<string>();
      // The tile hashes of the tensor: read them back through a streamed get into a null sink,
      // which is also the pooled (worker) decode figure.
      const tPool = performance.now();
      await store.volume.get(big.file, new Writable({ write: (_c, _e, cb) => cb() }), { reuseChunks: true });
      const poolSeconds = (performance.now() - tPool) / 1000;
      for (const d of fs.readdirSync(tilesDir)) for (const f of fs.readdirSync(path.join(tilesDir, d))) hashes.add(f.slice(0, 64));
      let bytes = 0;
      let secs = 0;
      let n = 0;
      // One recycled output buffer, as PixelFS decodes (see pixelfs-bench).
      const into = new ArrayBuffer(cap);
      for (const h of hashes) {
        const png = fs.readFileSync(path.join(tilesDir, h.slice(0, 2), `${h}.png`));
        const t = performance.now();
        const dec = decodeTile(png, { maxWidth: tile, maxHeight: tile, expectedSha256: h, into });
        secs += (performance.now() - t) / 1000;
        bytes += dec.payload.length;
        if (++n >= Math.ceil(big.bytes / cap)) break;
      }
      return { ...done(bytes), seconds: secs, extra: { pooledGetMBps: (big.bytes / MB / poolSeconds).toFixed(0), tensor: big.name } };
    }
    if (name === 'pyramid') {
      const r = await store.buildPyramid('bench');
      return done(r.bytesRead, `${r.built} tensors, ${r.cells} cells`);
    }
    if (name === 'viewport') {
      const box = store.map.modelBox(m.id)!;
      const w = box.width / 4;
      const h = box.height / 2;
      const times: number[] = [];
      let items = 0;
      for (let i = 0; i < 200; i++) {
        const x0 = box.x + ((i * 7919) % 97) * (box.width / 97) * 0.7;
        const y0 = box.y + ((i * 104729) % 89) * (box.height / 89) * 0.5;
        const t = performance.now();
        const q = store.map.queryCells({ x0, y0, x1: x0 + w, y1: y0 + h }, { level: 0 });
        times.push(performance.now() - t);
        items += q.items.length;
      }
      times.sort((a, b) => a - b);
      const c = store.map.counts();
      return { ...done(0), extra: { medianMs: times[100]!.toFixed(3), p95Ms: times[190]!.toFixed(3), avgItems: (items / 200).toFixed(0), regions: c.regions, cells: c.cells } };
    }
    throw new Error(`unknown phase ${name}`);
  } finally {
    await store.close();
  }
}

function runPhase(name: string, volume: string, source: string, tile: number, level: number): PhaseResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'scripts', 'bench', 'storage-bench.ts'), '--phase', name, '--volume', volume, '--source', source, '--tile', String(tile), '--level', String(level)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`phase ${name} failed (${r.status}): ${r.stderr}`);
  const line = r.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(line) as PhaseResult;
}

function timeCmd(cmd: string): number {
  const t = performance.now();
  const r = spawnSync('sh', ['-c', cmd], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return (performance.now() - t) / 1000;
}

async function main(): Promise<void> {
  const phaseName = process.argv.includes('--phase') ? arg('phase', '') : null;
  const tile = Number(arg('tile', '1024'));
  const level = Number(arg('level', '0'));
  if (phaseName) {
    const r = await phase(phaseName, arg('volume', ''), arg('source', ''), tile, level);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const blocks = Number(arg('blocks', '28'));
  const type = arg('type', 'Q4_K');
  const base = fs.mkdtempSync(path.join(arg('dir', os.tmpdir()), 'storage-bench-'));
  const keep = process.argv.includes('--keep');
  try {
    let source = arg('source', '');
    let genSeconds = NaN;
    if (!source) {
      source = path.join(base, `qwen2.5-7b-${type}-${blocks}b.gguf`);
      genSeconds = timeCmd(
        `"${process.execPath}" "${path.join(root, 'bin', 'pxi.js')}" gen --preset qwen2.5-7b --type ${type} --blocks ${blocks} --method direct --quiet --force -o "${source}"`,
      );
    }
    const size = fs.statSync(source).size;
    spawnSync('sync');
    const cpuModel = os.cpus()[0]?.model ?? 'unknown';
    const machine = `${cpuModel}, ${os.availableParallelism()} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${os.type()} ${os.release()}, Node ${process.version}`;
    console.log(`storage-bench: ${path.basename(source)} (${(size / MB).toFixed(0)} MB), tile ${tile}x${tile}, deflate level ${level}`);
    console.log(`machine: ${machine}; load average at start ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} (other jobs share the cores: compare CPU seconds too)`);
    console.log(`folder: ${base} (${spawnSync('sh', ['-c', `df -T "${base}" | tail -1 | awk '{print $2}'`], { encoding: 'utf8' }).stdout.trim()})${Number.isNaN(genSeconds) ? '' : `; pxi gen took ${genSeconds.toFixed(1)} s`}`);

    const cpOut = path.join(base, 'cp.gguf');
    const tCp = timeCmd(`cp "${source}" "${cpOut}"`);
    fs.rmSync(cpOut);
    const tCpSync = timeCmd(`cp "${source}" "${cpOut}" && sync "${cpOut}"`);
    fs.rmSync(cpOut);

    const volume = path.join(base, 'volume');
    const results: Record<string, PhaseResult> = {};
    // The single pass first, into its own volume (removed before the others need the disk).
    const onePassVolume = path.join(base, 'volume-one-pass');
    results['import-pyramid'] = runPhase('import-pyramid', onePassVolume, source, tile, level);
    process.stderr.write(`import-pyramid: ${JSON.stringify(results['import-pyramid'])}\n`);
    fs.rmSync(onePassVolume, { recursive: true, force: true });
    for (const p of ['import', 'export', 'verify', 'decode', 'viewport', ...(process.argv.includes('--pyramid') ? ['pyramid'] : [])]) {
      results[p] = runPhase(p, volume, source, tile, level);
      process.stderr.write(`${p}: ${JSON.stringify(results[p])}\n`);
    }
    const volBytes = dirBytes(volume);
    const mbps = (r: PhaseResult): number => r.bytes / MB / r.seconds;
    const imp = results.import!;
    const one = results['import-pyramid']!;
    const exp = results.export!;
    const dec = results.decode!;
    const vp = results.viewport!;
    const cpu = (r: PhaseResult): string => r.cpuSeconds.toFixed(1);
    const rows: string[][] = [
      ['cp (page cache -> file)', tCp.toFixed(2), (size / MB / tCp).toFixed(0), '-', '-', ''],
      ['cp + sync', tCpSync.toFixed(2), (size / MB / tCpSync).toFixed(0), '-', '-', ''],
      [
        'import + pyramid, one pass (pxi import)',
        one.seconds.toFixed(2),
        mbps(one).toFixed(0),
        cpu(one),
        one.maxRssMiB.toFixed(0),
        `>= 250 MB/s, <= 512 MiB; ${(one.seconds / tCp).toFixed(2)}x cp; ${one.note ?? ''}`,
      ],
      ['import (store, no pyramid)', imp.seconds.toFixed(2), mbps(imp).toFixed(0), cpu(imp), imp.maxRssMiB.toFixed(0), `>= 300 MB/s and <= 3x cp: ${(imp.seconds / tCp).toFixed(2)}x cp, ${(imp.seconds / tCpSync).toFixed(2)}x cp+sync; ${imp.note ?? ''}`],
      ['export (fsynced)', exp.seconds.toFixed(2), mbps(exp).toFixed(0), cpu(exp), exp.maxRssMiB.toFixed(0), `>= 500 MB/s; ${(exp.seconds / tCp).toFixed(2)}x cp; ${exp.note ?? ''}`],
      ['verify (every tile)', results.verify!.seconds.toFixed(2), mbps(results.verify!).toFixed(0), cpu(results.verify!), results.verify!.maxRssMiB.toFixed(0), results.verify!.note ?? ''],
      ['full-tile decode, 1 thread', dec.seconds.toFixed(2), mbps(dec).toFixed(0), '-', dec.maxRssMiB.toFixed(0), `>= 500 MB/s; pooled streamed get of ${dec.extra?.tensor}: ${dec.extra?.pooledGetMBps} MB/s`],
    ];
    if (results.pyramid) {
      const pyr = results.pyramid;
      rows.push(['pyramid read back from the tiles', pyr.seconds.toFixed(2), mbps(pyr).toFixed(0), cpu(pyr), pyr.maxRssMiB.toFixed(0), pyr.note ?? '']);
      const two = imp.seconds + pyr.seconds;
      rows.push(['import, then pyramid read back (two passes)', two.toFixed(2), (size / MB / two).toFixed(0), (imp.cpuSeconds + pyr.cpuSeconds).toFixed(1), Math.max(imp.maxRssMiB, pyr.maxRssMiB).toFixed(0), `the one pass takes ${(one.seconds / two).toFixed(2)}x its time`]);
    }
    console.log('');
    console.log('| step | seconds | MB/s | CPU s (all threads) | peak RSS MiB | notes (target) |');
    console.log('|---|---:|---:|---:|---:|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log('');
    console.log(`viewport query (level-0 cells of a quarter of the model's width, half its height; 200 queries): median ${vp.extra?.medianMs} ms, p95 ${vp.extra?.p95Ms} ms, ${vp.extra?.avgItems} cells per answer; index: ${vp.extra?.regions} regions, ${vp.extra?.cells} cells (target < 5 ms)`);
    console.log(`volume on disk: ${(volBytes / MB).toFixed(1)} MB for a ${(size / MB).toFixed(1)} MB source (${((volBytes / size - 1) * 100).toFixed(2)}% overhead)`);
    console.log(`load average at end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
    console.log(`peak RSS over all phases: ${Math.max(...Object.values(results).map((r) => r.maxRssMiB)).toFixed(0)} MiB (VmHWM ${Math.max(...Object.values(results).map((r) => r.vmHwmMiB)).toFixed(0)} MiB; target <= 512)`);
  } finally {
    if (!keep) fs.rmSync(base, { recursive: true, force: true });
    else console.log(`kept ${base}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
