import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PxiError } from '../../shared/errors';
import recipe from '../../resources/default-model.json';
import { EXIT, type CliIo } from '../cli/command';
import { genCommand } from '../cli/commands/gen';

/**
 * Models made by `pxi gen` on demand: the same options and seed give the same bytes, so a file
 * already in the cache folder is reused. Benchmarks, the demo and the workstation's first start
 * use this; the default model's recipe is resources/default-model.json.
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

export const DEFAULT_MODEL_NAME = recipe.name;

export const DEFAULT_MODEL_SPEC: GenSpec = { preset: recipe.gen.preset, type: recipe.gen.type, seed: recipe.gen.seed, extra: recipe.gen.args, name: recipe.name };

const sha256File = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * The default model (random weights, seeded), generated into `cacheDir` and checked against its
 * pinned sha256. A stale or damaged cached copy is made again once; pxi gen's bytes are fixed
 * by the recipe, so a second mismatch means the generator changed.
 */
export async function ensureDefaultModel(cacheDir: string): Promise<string> {
  let path = await ensureGeneratedModel(cacheDir, DEFAULT_MODEL_SPEC);
  let hash = sha256File(path);
  if (hash !== recipe.sha256) {
    rmSync(path, { force: true });
    path = await ensureGeneratedModel(cacheDir, DEFAULT_MODEL_SPEC);
    hash = sha256File(path);
  }
  if (hash !== recipe.sha256) {
    throw new PxiError('DEFAULT_MODEL_MISMATCH', `${path}: sha256 ${hash} is not the ${recipe.sha256} that resources/default-model.json pins (a stale cached copy, or the generator changed)`, { file: path });
  }
  return path;
}
