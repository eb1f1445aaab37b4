import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PxiError } from '../../shared/errors';

/** Exit codes of `pxi`, documented in its --help. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, CORRUPT: 3, INTERRUPTED: 130 } as const;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Resolves when the user asks to stop (Ctrl-C / SIGTERM); long-running commands await it. */
  interrupted: Promise<void>;
}

export interface Command {
  name: string;
  summary: string;
  /** The whole help text of the command, shown by `pxi help NAME` and `pxi NAME --help`. */
  help: string;
  run(argv: string[], io: CliIo): Promise<number>;
}

export class UsageError extends PxiError {
  constructor(message: string) {
    super('CLI_USAGE', message);
  }
}

/** Strict option parsing: an unknown flag or a missing value is a usage error, not a guess. */
export function parseOptions<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** A size flag (`--max-upload`, `--gpu-memory`): bytes, or a number with K, M, G or T (binary units, an optional B or iB). */
export function parseSize(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  const n = m ? Math.floor(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a size such as 4G, 500M or 1073741824, got ${JSON.stringify(value)}`);
  return n;
}

export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  return n;
}
