import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Finds the Electron executable without triggering the electron package's download (requiring
 * 'electron' in Node tries to fetch the binary, which cannot work offline). Returns the path, or
 * null with the reason.
 */
export function findElectronBinary(projectRoot: string): { path: string } | { path: null; reason: string } {
  const pkg = join(projectRoot, 'node_modules', 'electron');
  if (!existsSync(pkg)) return { path: null, reason: 'the electron package is not installed (run npm ci)' };
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const pathFile = join(pkg, 'path.txt');
  const exe = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : 'electron';
  const full = override ? join(override, exe) : join(pkg, 'dist', exe);
  if (!existsSync(full)) {
    return {
      path: null,
      reason: `no Electron binary at ${full}: it is downloaded from outside at first use, which this machine cannot do (set ELECTRON_OVERRIDE_DIST_PATH to an installed Electron)`,
    };
  }
  return { path: full };
}
