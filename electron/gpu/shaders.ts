import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShaderSource } from '../../shared/gpu/context';

/** The repository's `shaders/` folder, found from this file (electron/gpu/ -> ../../shaders). */
export const SHADERS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../shaders');

/** Reads every `*.wgsl` in `dir` into a ShaderSource keyed by file name without the extension. */
export function loadShadersFromDir(dir: string = SHADERS_DIR): ShaderSource {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.wgsl')) out[f.slice(0, -'.wgsl'.length)] = readFileSync(join(dir, f), 'utf8');
  }
  return out;
}
