/**
 * Packs what the GPU machine needs to run the decode benchmark (scripts/device/run.sh): that
 * machine has no Node and reaches no registry, and the device tool carries at most 64 MiB.
 *
 *   npx tsx scripts/device/package.ts [--out .cache/device] [--no-gl]
 *
 * Writes into --out (gitignored; name it in the device tool's `carry`):
 *   app.tar.xz        node (this machine's binary, x86-64, links only libc/libstdc++/libm),
 *                     app/decode-bench.mjs + chunks (scripts/bench/decode-bench.ts bundled by
 *                     esbuild: engine, model generator, PixelFS, model store; PixelFS's tile
 *                     worker as app/tile-worker.mjs), and the native
 *                     modules it loads at run time: webgpu (dawn.node) and better-sqlite3
 *   stories260K.gguf  the fixture model (../shared/fixtures does not travel)
 *   gl/*.deb          the Vulkan loader and glvnd (the device README's recipe), for a machine
 *                     whose image lacks libvulkan.so.1
 *   MANIFEST.txt      sizes and sha256 of the above
 * The WGSL comes from the working tree's shaders/ (it travels); run.sh points the bundle at it.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { out: { type: 'string' }, 'no-gl': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: npx tsx scripts/device/package.ts [--out .cache/device] [--no-gl]\nPacks node, the bundled benchmark, dawn.node, better-sqlite3, stories260K and the Vulkan loader for scripts/device/run.sh.');
  process.exit(0);
}
const out = resolve(values.out ?? join(root, '.cache', 'device'));
const stage = join(root, '.cache', 'device-stage');
const app = join(stage, 'app');
/** The device tool's limit on what travels, for the working tree and the carried paths together. */
const LIMIT = 64 * 2 ** 20;

const step = (s: string) => console.error(`package: ${s}`);
const run = (cmd: string, args: string[], cwd = root) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });

rmSync(stage, { recursive: true, force: true });
mkdirSync(app, { recursive: true });
mkdirSync(out, { recursive: true });

// 1. The benchmark as ESM chunks. Natives stay external (they are shipped beside it); CJS
// dependencies bundled into ESM need a real `require` for Node built-ins.
step('bundling scripts/bench/decode-bench.ts, adapter-ceiling.ts, tuning-bench.ts and train-bench.ts with esbuild');
run(join(root, 'node_modules', '.bin', 'esbuild'), [
  'scripts/bench/decode-bench.ts',
  'scripts/bench/adapter-ceiling.ts',
  'scripts/bench/tuning-bench.ts',
  'scripts/bench/train-bench.ts',
  'electron/pixelfs/tile-worker.ts',
  '--bundle',
  '--platform=node',
  '--target=node20',
  '--format=esm',
  '--splitting',
  `--outdir=${app}`,
  '--out-extension:.js=.mjs',
  '--entry-names=[name]',
  '--external:webgpu',
  '--external:better-sqlite3',
  '--log-level=warning',
  `--banner:js=import { createRequire as __pxiCreateRequire } from 'node:module'; const require = __pxiCreateRequire(import.meta.url);`,
]);

// 2. The native modules, as Node resolves them from app/.
const nm = join(app, 'node_modules');
const webgpu = join(root, 'node_modules', 'webgpu');
mkdirSync(join(nm, 'webgpu', 'dist', 'linux-x64'), { recursive: true });
for (const f of ['package.json', 'index.js']) copyFileSync(join(webgpu, f), join(nm, 'webgpu', f));
copyFileSync(join(webgpu, 'dist', 'linux-x64', 'dawn.node'), join(nm, 'webgpu', 'dist', 'linux-x64', 'dawn.node'));
const sqlite = join(root, 'node_modules', 'better-sqlite3');
mkdirSync(join(nm, 'better-sqlite3', 'build', 'Release'), { recursive: true });
copyFileSync(join(sqlite, 'package.json'), join(nm, 'better-sqlite3', 'package.json'));
cpSync(join(sqlite, 'lib'), join(nm, 'better-sqlite3', 'lib'), { recursive: true });
copyFileSync(join(sqlite, 'build', 'Release', 'better_sqlite3.node'), join(nm, 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'));
for (const dep of ['bindings', 'file-uri-to-path']) cpSync(join(root, 'node_modules', dep), join(nm, dep), { recursive: true });

// 3. Node itself: the same binary the native modules were built against (ABI).
copyFileSync(process.execPath, join(app, 'node'));

// The model store names its producer from ../package.json of its code (electron/app-meta.ts).
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
writeFileSync(join(stage, 'package.json'), `${JSON.stringify({ name: pkg.name, version: pkg.version, private: true })}\n`);

step('compressing (xz -9; about a minute for node)');
const tarball = join(out, 'app.tar.xz');
execFileSync('tar', ['-cf', tarball, '-I', 'xz -9 -T0', '-C', stage, 'app', 'package.json'], { stdio: 'inherit' });

// 4. The fixture model and the Vulkan loader.
const stories = process.env.PXI_STORIES ?? join(root, '..', 'shared', 'fixtures', 'models', 'stories260K.gguf');
copyFileSync(stories, join(out, 'stories260K.gguf'));
if (!values['no-gl']) {
  const gl = join(out, 'gl');
  if (!existsSync(gl) || readdirSync(gl).filter((f) => f.endsWith('.deb')).length < 7) {
    step('downloading the Vulkan loader and glvnd packages (apt-get download, amd64)');
    rmSync(gl, { recursive: true, force: true });
    mkdirSync(gl, { recursive: true });
    mkdirSync('/tmp/amd64/partial', { recursive: true });
    const o = ['-oAPT::Architecture=amd64', '-oAPT::Architectures=amd64', '-oDir::State::Lists=/tmp/amd64'];
    run('apt-get', [...o, '-qq', 'update']);
    run('apt-get', [...o, '-qq', 'download', 'libvulkan1', 'libegl1', 'libglvnd0', 'libopengl0', 'libgl1', 'libglx0', 'libgles2'], gl);
  }
}
rmSync(stage, { recursive: true, force: true });

// 5. What was made, and whether it fits with the working tree.
const files: string[] = [];
const walk = (d: string) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (f !== 'MANIFEST.txt') files.push(p);
  }
};
walk(out);
let total = 0;
const lines = files.sort().map((p) => {
  const size = statSync(p).size;
  total += size;
  const sha = createHash('sha256').update(readFileSync(p)).digest('hex');
  return `${sha}  ${String(size).padStart(10)}  ${relative(out, p)}`;
});
// The working tree that travels: tracked files and untracked ones git does not ignore (read-only git).
const treeFiles = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
const treeBytes = treeFiles.reduce((s, f) => s + (existsSync(join(root, f)) ? statSync(join(root, f)).size : 0), 0);
lines.push(`total ${total} bytes (${(total / 2 ** 20).toFixed(1)} MiB); working tree ${(treeBytes / 2 ** 20).toFixed(1)} MiB; together ${((total + treeBytes) / 2 ** 20).toFixed(1)} of 64 MiB`);
writeFileSync(join(out, 'MANIFEST.txt'), `${lines.join('\n')}\n`);
console.log(lines.join('\n'));
if (total + treeBytes > LIMIT) {
  console.error('package: too large for the device tool (64 MiB with the working tree)');
  process.exit(1);
}
console.log(`\nready: carry "${relative(root, out)}" and run: bash scripts/device/run.sh`);
