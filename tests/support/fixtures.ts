import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (the folder holding package.json). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The material given to the team lives beside the project, in ../shared/fixtures. Tests read it
 * from there and never copy it in; a missing folder is a clear failure, not a skip.
 */
export function fixturePath(...parts: string[]): string {
  const root = process.env.PXI_FIXTURES ?? join(projectRoot, '..', 'shared', 'fixtures');
  const p = join(root, ...parts);
  if (!existsSync(p)) {
    throw new Error(
      `test fixture not found: ${p}. The fixtures folder ../shared/fixtures must sit beside the project root (or set PXI_FIXTURES).`,
    );
  }
  return p;
}
