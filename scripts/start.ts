import { spawn, spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectronBinary } from './electron-binary';

/**
 * `npm start`: builds the app, then opens the Electron workstation where an Electron binary
 * exists, and otherwise browser mode (`pxi serve`) with the URL printed.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const build = spawnSync(process.execPath, [join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const electron = findElectronBinary(root);
const args = process.argv.slice(2);
let child;
if ('reason' in electron) {
  process.stdout.write(`Electron is not available (${electron.reason}).\nStarting browser mode instead.\n`);
  child = spawn(process.execPath, [join(root, 'bin', 'pxi.js'), 'serve', ...args], { cwd: root, stdio: 'inherit' });
} else {
  child = spawn(electron.path, [root, ...args], { cwd: root, stdio: 'inherit' });
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
