// @ts-check
import { builtinModules } from 'node:module';
import { dirname, relative, resolve, sep } from 'node:path';

/**
 * Enforces the import directions between the project's layers (specs/ARCHITECTURE.md):
 *   shared/   imports shared/ only, and no environment-specific package
 *   renderer/ imports renderer/, shared/, shaders/, resources/; never Node built-ins, Node-only packages or electron/
 *   electron/ imports electron/, shared/, shaders/, resources/; never renderer/
 * tests/ and scripts/ may import anything.
 *
 * Inside electron/ and renderer/src/ the sub-layers are ranked too (SUB_LAYERS): a file may import
 * its own rank or a lower one, never a higher one, so the use cases, stores and primitives never
 * reach back into the entry points that call them.
 */

const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
// Packages that only run in Node or Electron's main process.
const NODE_ONLY_PACKAGES = new Set(['electron', 'better-sqlite3', 'ws', 'webgpu', 'tsx', 'pngjs', 'electron-vite', 'electron-builder', 'node-llama-cpp']);
// Pure, environment-neutral packages shared/ may use. Adding one here is a design decision.
const SHARED_PACKAGES = new Set(['zod', '@huggingface/jinja']);

const LAYERS = ['shared', 'renderer', 'electron', 'shaders', 'resources', 'tests', 'scripts'];
const MAY_IMPORT = {
  shared: ['shared'],
  renderer: ['renderer', 'shared', 'shaders', 'resources'],
  electron: ['electron', 'shared', 'shaders', 'resources'],
};

/**
 * Sub-layers, highest rank first. A folder is named relative to `base`; '' stands for the files
 * directly in `base`. A folder under `base` that no rank names is reported, so a new folder gets
 * a place in the order instead of escaping it.
 */
const SUB_LAYERS = [
  {
    base: 'electron',
    ranks: [
      // Entry points: the CLI, the web server, Electron's main process and its preload.
      ['cli', 'web', 'main', 'preload'],
      // The services behind the IPC channels.
      ['services'],
      // Use cases, written once for the CLI, the task handlers and the services (issue 14 item 1).
      ['ops'],
      // The stores and engines the use cases drive.
      ['models', 'conversations', 'corpus', 'engine', 'sessions', 'train'],
      // Primitives: the volume, the map index, the task queue, byte sources, GPU setup, app paths.
      ['pixelfs', 'map', 'tasks', 'storage', 'gpu', ''],
    ],
  },
  {
    base: 'renderer/src',
    ranks: [
      // Screens: the views and the explorer view's own folder. (The shell files in renderer/src, '', are not ranked.)
      ['views', 'explorer'],
      // Building blocks a screen uses: DOM components (`el` included), the engine worker and its host, training runs.
      ['components', 'engine', 'train'],
    ],
  },
];

/**
 * Known back-edges, each with the work that removes it (a file, the layer it may import, and
 * why). Empty now: the last one (a re-export of the CLI's storage helpers) went with the import
 * work. Add one only with a TODO naming the issue that removes it.
 * @type {{ from: string; to: string; why: string }[]}
 */
const ALLOWED_BACK_EDGES = [];

/**
 * The sub-layer of a project-relative path: its base, folder and rank (0 = highest), or null
 * when the path is in no ranked base (or is an unranked shell file). `rank` is -1 for a folder
 * the base does not rank.
 * @param {string} rel
 */
function subLayerOf(rel) {
  const posix = rel.split(sep).join('/');
  for (const { base, ranks } of SUB_LAYERS) {
    if (!posix.startsWith(`${base}/`)) continue;
    const parts = posix.slice(base.length + 1).split('/');
    const folder = parts.length > 1 ? parts[0] : '';
    const rank = ranks.findIndex((r) => r.includes(folder));
    if (rank < 0 && folder === '') return null;
    return { base, folder, rank, ranks };
  }
  return null;
}

/** @param {string} root @param {string} file */
function layerOf(root, file) {
  const rel = relative(root, file);
  if (rel.startsWith('..')) return null;
  const top = rel.split(sep)[0];
  return LAYERS.includes(top) ? top : null;
}

/** @param {string} spec */
function packageName(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** @type {import('eslint').Rule.RuleModule} */
export const layeringRule = {
  meta: {
    type: 'problem',
    docs: { description: 'enforce import directions between shared/, renderer/ and electron/, and between their sub-layers' },
    schema: [{ type: 'object', properties: { root: { type: 'string' } }, additionalProperties: false }],
    messages: {
      layer: "{{from}}/ may not import {{to}}/ ('{{spec}}'): {{from}}/ may import only {{allowed}}.",
      sublayer: "{{from}} may not import {{to}} ('{{spec}}'): it is a higher layer (SUB_LAYERS in scripts/eslint/layering.js).",
      unranked: "{{folder}}/ is in no layer of {{base}}/: give it a rank in scripts/eslint/layering.js SUB_LAYERS.",
      builtin: "{{from}}/ may not import the Node built-in '{{spec}}': it must run {{where}}.",
      pkg: "{{from}}/ may not import the package '{{spec}}': {{why}}.",
    },
  },
  create(context) {
    const root = context.options[0]?.root ?? context.cwd;
    const file = context.filename;
    const from = layerOf(root, file);
    if (from !== 'shared' && from !== 'renderer' && from !== 'electron') return {};
    const fromRel = relative(root, file);
    const fromSub = subLayerOf(fromRel);

    /** A relative import that climbs to a higher sub-layer of the same base. @param {import('estree').Node} node @param {string} target @param {string} spec */
    function checkSubLayer(node, target, spec) {
      if (!fromSub || fromSub.rank < 0) return;
      const toRel = relative(root, target);
      const toSub = subLayerOf(toRel);
      if (!toSub || toSub.base !== fromSub.base || toSub.rank < 0 || toSub.rank >= fromSub.rank) return;
      const posixFrom = fromRel.split(sep).join('/');
      const posixTo = toRel.split(sep).join('/');
      if (ALLOWED_BACK_EDGES.some((a) => a.from === posixFrom && posixTo.startsWith(a.to))) return;
      const name = (/** @type {string} */ f) => (f === '' ? `${fromSub.base}/*.ts` : `${fromSub.base}/${f}/`);
      context.report({ node, messageId: 'sublayer', data: { from: name(fromSub.folder), to: name(toSub.folder), spec } });
    }

    /** @param {import('estree').Node} node @param {unknown} value */
    function check(node, value) {
      if (typeof value !== 'string') return;
      const spec = value.split('?')[0];
      if (spec.startsWith('.') || spec.startsWith('/')) {
        const target = resolve(dirname(file), spec);
        const to = layerOf(root, target) ?? 'outside';
        const allowed = MAY_IMPORT[from];
        if (!allowed.includes(to)) {
          context.report({ node, messageId: 'layer', data: { from, to, spec: value, allowed: allowed.map((l) => `${l}/`).join(', ') } });
        } else {
          checkSubLayer(node, target, value);
        }
        return;
      }
      if (from === 'electron') return;
      if (NODE_BUILTINS.has(spec) || NODE_BUILTINS.has(packageName(spec))) {
        const where = from === 'shared' ? 'anywhere (Node, renderer, worker)' : 'in the browser';
        context.report({ node, messageId: 'builtin', data: { from, spec: value, where } });
        return;
      }
      const pkg = packageName(spec);
      if (from === 'shared' && !SHARED_PACKAGES.has(pkg)) {
        context.report({ node, messageId: 'pkg', data: { from, spec: value, why: `shared/ uses only the environment-neutral packages ${[...SHARED_PACKAGES].join(', ')}` } });
      } else if (from === 'renderer' && NODE_ONLY_PACKAGES.has(pkg)) {
        context.report({ node, messageId: 'pkg', data: { from, spec: value, why: 'it runs only in Node or the Electron main process' } });
      }
    }

    return {
      Program: (node) => {
        if (fromSub && fromSub.rank < 0) context.report({ node, messageId: 'unranked', data: { folder: `${fromSub.base}/${fromSub.folder}`, base: fromSub.base } });
      },
      ImportDeclaration: (node) => check(node.source, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node.source, node.source.value),
      ExportAllDeclaration: (node) => check(node.source, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
      CallExpression: (node) => {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments[0]?.type === 'Literal') {
          check(node.arguments[0], node.arguments[0].value);
        }
      },
    };
  },
};

export default { rules: { layering: layeringRule } };
