/**
 * The default model a new user meets (the demo, the app's first start): a small llama trained
 * by the project itself with `pxi train` (resources/models/pxi-tinystories.recipe.json;
 * scripts/default-model/reproduce.sh makes it again). Its GGUF ships in resources/models/ —
 * beside the sources, and as an extra resource of the installed app — and is checked against the
 * sha256 resources/default-model.json pins before use.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PxiError } from '../../shared/errors';
import info from '../../resources/default-model.json';

export const DEFAULT_MODEL = info;
export const DEFAULT_MODEL_NAME = info.name;

/** Where resources/ is: the packaged app's resources folder, else the project's (two levels above this module, from source or from out/main). */
function candidates(): string[] {
  const out: string[] = [];
  const packaged = (process as { resourcesPath?: string }).resourcesPath;
  if (packaged) out.push(join(packaged, info.file));
  out.push(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'resources', info.file));
  return out;
}

/** The default model's GGUF, its sha256 checked; DEFAULT_MODEL_MISSING / _MISMATCH otherwise. */
export function defaultModelPath(): string {
  const path = candidates().find((p) => existsSync(p));
  if (!path) throw new PxiError('DEFAULT_MODEL_MISSING', `the default model ${info.file} is not in ${candidates().join(' or ')}`, { file: info.file });
  const hash = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (hash !== info.sha256) {
    throw new PxiError('DEFAULT_MODEL_MISMATCH', `${path}: sha256 ${hash} is not the ${info.sha256} that resources/default-model.json pins (a damaged copy, or the model was retrained without updating the pin)`, { file: path });
  }
  return path;
}
