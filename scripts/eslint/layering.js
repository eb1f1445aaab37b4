// @ts-check
import { builtinModules } from 'node:module';
import { dirname, relative, resolve, sep } from 'node:path';

/**
 * Enforces the import directions between the project's layers (specs/ARCHITECTURE.md):
 *   shared/   imports shared/ only, and no environment-specific package
 *   renderer/ imports renderer/, shared/, shaders/, resources/; never Node built-ins, Node-only packages or electron/
 *   electron/ imports electron/, shared/, shaders/, resources/; never renderer/
 * tests/ and scripts/ may import anything.
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
    docs: { description: 'enforce import directions between shared/, renderer/ and electron/' },
    schema: [{ type: 'object', properties: { root: { type: 'string' } }, additionalProperties: false }],
    messages: {
      layer: "{{from}}/ may not import {{to}}/ ('{{spec}}'): {{from}}/ may import only {{allowed}}.",
      builtin: "{{from}}/ may not import the Node built-in '{{spec}}': it must run {{where}}.",
      pkg: "{{from}}/ may not import the package '{{spec}}': {{why}}.",
    },
  },
  create(context) {
    const root = context.options[0]?.root ?? context.cwd;
    const file = context.filename;
    const from = layerOf(root, file);
    if (from !== 'shared' && from !== 'renderer' && from !== 'electron') return {};

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
