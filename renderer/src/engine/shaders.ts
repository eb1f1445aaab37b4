import type { ShaderSource } from '../../../shared/gpu/context';

/**
 * Every kernel of shaders/ as text, bundled by Vite (`?raw`), keyed like the Node host's
 * loadShadersFromDir: the file name without `.wgsl`.
 */
const files = import.meta.glob<string>('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });

export const shaders: ShaderSource = Object.freeze(
  Object.fromEntries(Object.entries(files).map(([path, code]) => [path.slice(path.lastIndexOf('/') + 1, -'.wgsl'.length), code])),
);
