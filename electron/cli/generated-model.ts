import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PxiError } from '../../shared/errors';
import { EXIT, type CliIo } from './command';
import { genCommand } from './commands/gen';

/**
 * Models made by `pxi gen` on demand: the same options and seed give the same bytes, so a file
 * already in the cache folder is reused. Benchmarks, the demo and the workstation's first start
 * use this.
 */
export interface GenSpec {
  preset: string;
  type: string;
  seed?: number;
  /** More pxi gen flags (e.g. ['--blocks', '4']); they must go into `name` too. */
  extra?: string[];
  /** File name stem; default `${preset}-${type}-s${seed}`. */
  name?: string;
}

/** `pxi gen` into `dir` unless the file is there already (pxi gen renames into place only when complete). */
export async function ensureGeneratedModel(dir: string, spec: GenSpec, onStatus?: (line: string) => void): Promise<string> {
  const seed = spec.seed ?? 0;
  const path = join(dir, `${spec.name ?? `${spec.preset}-${spec.type}-s${seed}`}.gguf`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  onStatus?.(`pxi gen --preset ${spec.preset} --type ${spec.type} --seed ${seed} ${(spec.extra ?? []).join(' ')} -o ${path}`);
  const err: string[] = [];
  const io: CliIo = { out: () => undefined, err: (t) => err.push(t), interrupted: new Promise(() => undefined) };
  const code = await genCommand.run(['--preset', spec.preset, '--type', spec.type, '--seed', String(seed), ...(spec.extra ?? []), '-o', path, '--quiet'], io);
  if (code !== EXIT.OK) throw new PxiError('GEN_FAILED', `pxi gen failed (exit ${code}): ${err.join(' ')}`, { preset: spec.preset, type: spec.type });
  return path;
}
