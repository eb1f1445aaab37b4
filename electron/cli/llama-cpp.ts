import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The one way the project loads llama.cpp (node-llama-cpp, CPU build) as a reference: `pxi bench`,
 * the parity tests and the default model's teacher corpus. It never builds or downloads anything
 * (a missing binary fails here instead of starting a long cmake build). The package is not a
 * dependency of the app, so each caller declares the part of its API it uses as `L`.
 */
export type LlamaLogLevel = 'error' | 'disabled';

/** Whether `packageDir` holds an installed node-llama-cpp (its entry and package.json). */
export function isLlamaCppPackage(packageDir: string): boolean {
  return existsSync(join(packageDir, 'dist', 'index.js')) && existsSync(join(packageDir, 'package.json'));
}

/** getLlama() of the node-llama-cpp installed at `packageDir`: CPU only, no build, no download. */
export async function loadLlamaCpp<L>(packageDir: string, logLevel: LlamaLogLevel = 'error'): Promise<L> {
  const mod = (await import(pathToFileURL(join(packageDir, 'dist', 'index.js')).href)) as {
    getLlama(options: { gpu: false; build: 'never'; skipDownload: boolean; logLevel: LlamaLogLevel }): Promise<L>;
  };
  return mod.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel });
}
