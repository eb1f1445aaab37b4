import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root when running from source (CLI via tsx, tests). */
export const sourceRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export function packageVersion(root = sourceRoot): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

/** Default data folder for plain-Node hosts (CLI, browser mode): $PXI_HOME or ~/.pixel-llm. */
export function defaultDataDir(): string {
  return process.env.PXI_HOME ?? join(homedir(), '.pixel-llm');
}
