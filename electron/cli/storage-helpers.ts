/**
 * What the storage commands of `pxi` (import, inspect, verify, export, map, fs) share: the
 * volume option, opening the store, Ctrl-C as an AbortSignal, progress lines on stderr, and the
 * exit code for data found corrupt.
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { PxiError } from '../../shared/errors';
import { defaultDataDir } from '../app-meta';
import { formatRateLine, type RateSample } from '../models/progress';
import { defaultVolumeDir, ModelStore } from '../models/store';
import { isPixelFsError, PixelFsCodes, type VolumeSettings } from '../pixelfs/index';
import { EXIT, UsageError, type CliIo } from './command';

export const VOLUME_HELP = `--volume DIR       the volume folder (default: $PXI_HOME/volume, or ~/.pixel-llm/volume)`;

export function volumeDir(value: string | undefined): string {
  return path.resolve(value ?? defaultVolumeDir(defaultDataDir()));
}

/** Opens the store; a missing volume is reported as such, not as a stack trace. */
export async function openStore(dir: string, create?: boolean | Partial<VolumeSettings>): Promise<ModelStore> {
  try {
    return await ModelStore.open(dir, create === undefined ? {} : { create });
  } catch (e) {
    if (isPixelFsError(e, PixelFsCodes.VOLUME_NOT_FOUND)) {
      throw new PxiError(e.code, `${dir} is not a volume yet (import a model or put a file to create it, or pass --volume)`, { file: dir });
    }
    if (isPixelFsError(e, PixelFsCodes.VOLUME_LOCKED)) {
      // One process owns a volume at a time (PixelFS's catalog lock).
      throw new PxiError(e.code, `${dir} is in use by another process (pxi serve, the app, or another pxi command); stop it or pass another --volume`, { file: dir });
    }
    throw e;
  }
}

export async function withStore<T>(dir: string, fn: (s: ModelStore) => Promise<T>, create?: boolean | Partial<VolumeSettings>): Promise<T> {
  const store = await openStore(dir, create);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** An AbortSignal that fires when the user presses Ctrl-C (or the process gets SIGTERM). */
export function interruptSignal(io: CliIo): AbortSignal {
  const c = new AbortController();
  void io.interrupted.then(() => c.abort(new PxiError('CLI_INTERRUPTED', 'interrupted by the user')));
  return c.signal;
}

/** Progress lines on stderr, at most one a second (the last one always). */
export function progressPrinter(io: CliIo, label: string, everyMs = 1000): (done: number, total: number, rate: RateSample, extra?: string, final?: boolean) => void {
  let last = -Infinity;
  return (done, total, rate, extra, final) => {
    const now = performance.now();
    if (!final && now - last < everyMs) return;
    last = now;
    io.err(`${label}: ${formatRateLine(done, total, rate)}${extra ? `  ${extra}` : ''}`);
  };
}

const CORRUPT_CODES = new Set<string>([
  PixelFsCodes.TILE_CORRUPT,
  PixelFsCodes.TILE_MISSING,
  PixelFsCodes.FILE_CHECKSUM_MISMATCH,
  PixelFsCodes.TILE_CHECKSUM_MISMATCH,
  PixelFsCodes.CATALOG_INCONSISTENT,
  'MODEL_CORRUPT',
]);

/** Stored data that fails its checksums: `pxi` exits 3 (CORRUPT) for these. */
export function isCorruption(e: unknown): boolean {
  return e instanceof PxiError && CORRUPT_CODES.has(e.code);
}

/**
 * Runs a command body, turning corruption into exit 3 and a cancelled operation into 130 with
 * the message, instead of the generic failure exit.
 */
export async function runStorageCommand(name: string, io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (isCorruption(e)) {
      io.err(`pxi ${name}: ${(e as PxiError).message} [${(e as PxiError).code}]`);
      return EXIT.CORRUPT;
    }
    if (e instanceof PxiError && e.code === 'MODEL_CANCELLED') {
      io.err(`pxi ${name}: ${e.message}`);
      return EXIT.INTERRUPTED;
    }
    throw e;
  }
}

/** A positive integer flag, or a usage error naming it. */
export function intFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** The exact positional arguments a command takes, or a usage error. */
export function positionals(args: string[], names: string[], optional = 0): string[] {
  if (args.length < names.length - optional || args.length > names.length) {
    throw new UsageError(`expected ${names.map((n, i) => (i >= names.length - optional ? `[${n}]` : n)).join(' ')}, got ${args.length} argument${args.length === 1 ? '' : 's'}`);
  }
  return args;
}
