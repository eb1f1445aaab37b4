import fs from 'node:fs/promises';
import path from 'node:path';
import { PxiError } from '../../../shared/errors';
import { formatBytes } from '../../../shared/model/summary';
import { interruptSignal, positionals, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import { cancelledError } from '../../models/errors';
import { checkFreeSpace } from '../../pixelfs/index';
import { EXIT, parseOptions, UsageError, type CliIo, type Command } from '../command';

const SUBCOMMANDS = ['put', 'get', 'ls', 'rm', 'verify', 'gc'] as const;

/** The file, read in chunks, stopping at Ctrl-C (the put keeps what it stored; rerun resumes). */
async function* fileChunks(file: string, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const fh = await fs.open(file, 'r');
  try {
    for (let pos = 0; ; ) {
      if (signal.aborted) throw cancelledError(`put of ${file}`, signal.reason);
      const b = Buffer.allocUnsafe(4 << 20);
      const { bytesRead } = await fh.read(b, 0, b.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      yield b.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

async function run(sub: string, args: string[], values: { volume?: string; json?: boolean; overwrite?: boolean; pending?: boolean }, io: CliIo): Promise<number> {
  const dir = volumeDir(values.volume);
  switch (sub) {
    case 'put': {
      const [file, nameArg] = positionals(args, ['FILE', 'NAME'], 1);
      const name = nameArg ?? path.basename(file!);
      if (name.startsWith('models/')) throw new UsageError(`names under models/ belong to imported models; use pxi import for GGUF files`);
      const st = await fs.stat(file!).catch(() => null);
      if (!st?.isFile()) throw new PxiError('PIXELFS_SOURCE_UNREADABLE', `${file} is not a readable file`, { file });
      const signal = interruptSignal(io);
      return withStore(
        dir,
        async (store) => {
          // The size is known: refuse up front on a disk it cannot fit (ENOSPC later is mapped by the volume).
          await checkFreeSpace(store.root, st.size, `putting ${file}`);
          const r = await store.volume.put(name, fileChunks(file!, signal), { size: st.size, overwrite: values.overwrite ?? false });
          if (values.json) io.out(JSON.stringify(r));
          else io.out(`put ${r.name}: ${formatBytes(r.size)}, ${r.tiles} tiles (${r.tilesWritten} written, ${r.tilesDeduped} already stored, ${r.tilesResumed} resumed), sha256 ${r.sha256}`);
          return EXIT.OK;
        },
        true,
      );
    }
    case 'get': {
      const [name, out] = positionals(args, ['NAME', 'OUT']);
      return withStore(dir, async (store) => {
        const info = await store.volume.get(name!, path.resolve(out!), { fsync: true });
        if (values.json) io.out(JSON.stringify(info));
        else io.out(`wrote ${path.resolve(out!)}: ${formatBytes(info.size)}, sha256 ${info.sha256}`);
        return EXIT.OK;
      });
    }
    case 'ls': {
      positionals(args, []);
      return withStore(dir, async (store) => {
        const files = store.volume.ls();
        const pending = store.volume.pending();
        const stats = store.stats();
        if (values.json) {
          io.out(JSON.stringify({ volume: store.root, settings: store.volume.settings, files, pending, stats }));
          return EXIT.OK;
        }
        for (const f of files) io.out(`${formatBytes(f.size).padStart(10)}  ${String(f.tiles).padStart(6)} tiles  ${f.sha256.slice(0, 16)}  ${f.name}`);
        for (const p of pending) io.out(`${'pending'.padStart(10)}  ${String(p.tilesStored).padStart(6)} tiles  ${''.padEnd(16)}  ${p.name}`);
        const s = store.volume.settings;
        io.out(
          `${files.length} files, ${formatBytes(stats.logicalBytes)} in ${stats.tiles} tiles of ${s.tileWidth}x${s.tileHeight} (deflate level ${s.level}); ` +
            `on disk ${formatBytes(stats.storedBytes)} + catalog ${formatBytes(stats.catalogBytes)}; compression ${stats.compressionRatio.toFixed(3)}x, dedupe ${stats.dedupeRatio.toFixed(3)}x`,
        );
        return EXIT.OK;
      });
    }
    case 'rm': {
      const [name] = positionals(args, ['NAME']);
      return withStore(dir, async (store) => {
        const owner = /^models\/([^/]+)\//.exec(name!)?.[1];
        if (owner && store.list().some((m) => m.id === owner)) {
          throw new UsageError(`${name} is part of model ${owner}; removing it would break the model`);
        }
        const pending = !store.volume.stat(name!) && store.volume.pending().some((p) => p.name === name);
        const r = await store.volume.rm(name!, { pending });
        if (values.json) io.out(JSON.stringify(r));
        else io.out(`removed ${name}${pending ? ' (interrupted put)' : ''}: ${r.tilesRemoved} tiles freed, ${formatBytes(r.bytesFreed)}`);
        return EXIT.OK;
      });
    }
    case 'verify': {
      const [name] = positionals(args, ['NAME'], 1);
      return withStore(dir, async (store) => {
        const rep = await store.volume.verify(name);
        if (values.json) io.out(JSON.stringify(rep));
        else {
          for (const p of rep.problems) io.out(`DAMAGED ${p.message}`);
          io.out(`${rep.ok ? 'OK' : `${rep.problems.length} problems`}: ${rep.filesChecked} files, ${rep.tilesChecked} tiles, ${formatBytes(rep.bytesChecked)}`);
        }
        return rep.ok ? EXIT.OK : EXIT.CORRUPT;
      });
    }
    case 'gc': {
      positionals(args, []);
      return withStore(dir, async (store) => {
        const r = await store.gc({ pending: values.pending ?? false });
        if (values.json) io.out(JSON.stringify(r));
        else
          io.out(
            `gc: ${r.pixelfs.tilesRemoved} tiles freed (${formatBytes(r.pixelfs.bytesFreed)}), ${r.pixelfs.pendingRemoved} interrupted puts and ${r.importsRemoved} interrupted imports removed, ` +
              `${r.orphanModelsRemoved} orphaned models swept, ${r.pixelfs.tempFilesRemoved + r.pixelfs.orphanFilesRemoved} stray tile files removed`,
          );
        return EXIT.OK;
      });
    }
  }
  throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; expected one of ${SUBCOMMANDS.join(', ')}`);
}

export const fsCommand: Command = {
  name: 'fs',
  summary: 'PixelFS: put, get, list, remove, verify and gc files in a volume',
  help: `Usage: pxi fs <subcommand> [arguments] [options]

PixelFS stores any file as content-addressed PNG tiles with a SQLite catalog. Imported
models live in the same volume under models/<id>/ (see pxi import).

Subcommands:
  put FILE [NAME]    store FILE under NAME (default its base name); --overwrite replaces
                     an existing file; Ctrl-C stops and the same command resumes
  get NAME OUT       write the file to OUT (every tile checked; written to a temp name,
                     fsynced and renamed)
  ls                 list files and interrupted puts, with the volume's size, compression
                     and dedupe ratios
  rm NAME            remove a file (or an interrupted put) and free its unshared tiles
  verify [NAME]      re-hash every tile of NAME (or of every file); exit 3 if damaged
  gc                 free unreferenced tiles and sweep crash leftovers; --pending also drops
                     interrupted puts and imports (they can then no longer resume)

Options:
  ${VOLUME_HELP}
  --overwrite        (put) replace an existing file of that name
  --pending          (gc) also remove interrupted puts and imports
  --json             print JSON on stdout
  -h, --help         show this help

Exit codes: 0 success, 1 failed, 2 usage error, 3 damage found (verify, get),
130 interrupted.`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(
      argv,
      { volume: { type: 'string' }, json: { type: 'boolean' }, overwrite: { type: 'boolean' }, pending: { type: 'boolean' } },
      true,
    );
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError(`a subcommand is required: ${SUBCOMMANDS.join(', ')}`);
    if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; expected one of ${SUBCOMMANDS.join(', ')}`);
    return runStorageCommand(`fs ${sub}`, io, () => run(sub, rest, values, io));
  },
};
