import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const __dirname = dirname(fileURLToPath(import.meta.url));
import { defineConfig } from 'electron-vite';

// Main and preload run in Node/Electron; the preload is sandboxed, so it must be a single
// CommonJS file with its dependencies bundled in.
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        // PixelFS's tile worker is its own entry: worker threads load it by URL, next to index.js
        // (chunks stay in the same folder, so `new URL('./tile-worker.js', import.meta.url)` finds
        // it from whichever file the pool's code lands in).
        // The import's pyramid thread (electron/map/pyramid-worker.ts) likewise.
        input: {
          index: resolve(__dirname, 'electron/main/index.ts'),
          'tile-worker': resolve(__dirname, 'electron/pixelfs/tile-worker.ts'),
          'pyramid-worker': resolve(__dirname, 'electron/map/pyramid-worker.ts'),
        },
        output: { entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      externalizeDeps: false,
      rollupOptions: {
        input: { index: resolve(__dirname, 'electron/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'renderer'),
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      rollupOptions: { input: { index: resolve(__dirname, 'renderer/index.html') } },
    },
  },
});
