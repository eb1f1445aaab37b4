import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../support/fixtures';

// Lints source text as if it lived at a path in the project, with the project's own config.
async function lint(relPath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: projectRoot });
  const [result] = await eslint.lintText(code, { filePath: join(projectRoot, relPath) });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the layering lint rule', () => {
  it('refuses Node built-ins and Node-side code in shared/', async () => {
    expect(await lint('shared/bad.ts', "import { readFileSync } from 'node:fs';\n")).toEqual([
      expect.stringContaining("pxi/layering: shared/ may not import the Node built-in 'node:fs'"),
    ]);
    expect(await lint('shared/bad.ts', "import fs from 'fs';\n")).toHaveLength(1);
    expect(await lint('shared/deep/bad.ts', "import { Services } from '../../electron/services';\n")).toEqual([
      expect.stringContaining('shared/ may not import electron/'),
    ]);
    expect(await lint('shared/bad.ts', "import { x } from '../renderer/src/api';\n")).toEqual([expect.stringContaining('shared/ may not import renderer/')]);
    expect(await lint('shared/bad.ts', "import Database from 'better-sqlite3';\n")).toEqual([expect.stringContaining("package 'better-sqlite3'")]);
    expect(await lint('shared/bad.ts', "const m = await import('node:path');\n")).toHaveLength(1);
  });

  it('refuses Node and electron/ in renderer/', async () => {
    expect(await lint('renderer/src/bad.ts', "import { join } from 'node:path';\n")).toEqual([expect.stringContaining("renderer/ may not import the Node built-in 'node:path'")]);
    expect(await lint('renderer/src/bad.ts', "import { ipcRenderer } from 'electron';\n")).toEqual([expect.stringContaining("package 'electron'")]);
    expect(await lint('renderer/src/bad.ts', "import { Services } from '../../electron/services';\n")).toEqual([expect.stringContaining('renderer/ may not import electron/')]);
  });

  it('refuses renderer/ in electron/', async () => {
    expect(await lint('electron/main/bad.ts', "export { connectApi } from '../../renderer/src/api';\n")).toEqual([expect.stringContaining('electron/ may not import renderer/')]);
  });

  it('accepts the allowed directions', async () => {
    expect(await lint('shared/ok.ts', "import { z } from 'zod';\nimport { PxiError } from './errors';\n")).toEqual([]);
    expect(await lint('renderer/src/ok.ts', "import * as THREE from 'three';\nimport { PxiError } from '../../shared/errors';\nimport src from '../../shaders/x.wgsl?raw';\n")).toEqual([]);
    expect(await lint('electron/ok.ts', "import { readFileSync } from 'node:fs';\nimport { PxiError } from '../shared/errors';\n")).toEqual([]);
    expect(await lint('tests/ok.ts', "import { connectApi } from '../renderer/src/api';\nimport { readFileSync } from 'node:fs';\n")).toEqual([]);
  });

  // electron/'s sub-layers, highest first: cli/web/main → services → ops → models (and the other stores) → pixelfs/map/tasks.
  const ELECTRON_PAIRS: [upper: string, lower: string][] = [
    ['cli', 'services'],
    ['web', 'services'],
    ['main', 'services'],
    ['services', 'ops'],
    ['ops', 'models'],
    ['models', 'pixelfs'],
    ['models', 'map'],
    ['models', 'tasks'],
    ['services', 'engine'],
    ['train', 'tasks'],
  ];

  it.each(ELECTRON_PAIRS)('electron/%s/ may import electron/%s/, never the other way', async (upper, lower) => {
    expect(await lint(`electron/${upper}/a.ts`, `import { x } from '../${lower}/b';\n`)).toEqual([]);
    expect(await lint(`electron/${lower}/a.ts`, `import { x } from '../${upper}/b';\n`)).toEqual([
      expect.stringContaining(`pxi/layering: electron/${lower}/ may not import electron/${upper}/ ('../${upper}/b')`),
    ]);
  });

  it('checks every import form and deep paths, and lets one rank import itself', async () => {
    expect(await lint('electron/pixelfs/deep/a.ts', "export * from '../../models/store';\n")).toHaveLength(1);
    expect(await lint('electron/map/a.ts', "const m = await import('../services/index');\n")).toHaveLength(1);
    expect(await lint('electron/tasks/a.ts', "export { x } from '../cli/commands/gen';\n")).toHaveLength(1);
    expect(await lint('electron/cli/a.ts', "import { x } from '../web/server';\nimport { y } from '../../shared/errors';\n")).toEqual([]);
    expect(await lint('electron/engine/a.ts', "import { x } from '../models/store';\nimport { d } from '../app-meta';\n")).toEqual([]);
    // The files directly in electron/ are primitives: they import no sub-layer above them.
    expect(await lint('electron/app-meta.ts', "import { x } from './models/store';\n")).toEqual([expect.stringContaining('electron/*.ts may not import electron/models/')]);
  });

  it('reports a folder that has no place in the order', async () => {
    expect(await lint('electron/newplace/a.ts', "import { x } from '../pixelfs/index';\n")).toEqual([
      expect.stringContaining('electron/newplace/ is in no layer of electron/'),
    ]);
  });

  it('allows no back-edge: the store layer may not reach into the CLI, even by re-export', async () => {
    expect(await lint('electron/models/cli-helpers.ts', "export * from '../cli/storage-helpers';\n")).toHaveLength(1);
    expect(await lint('electron/models/other.ts', "export * from '../cli/storage-helpers';\n")).toHaveLength(1);
    expect(await lint('electron/models/cli-helpers.ts', "import { x } from '../services/index';\n")).toHaveLength(1);
  });

  it('keeps the renderer\'s building blocks (components, engine, train) below its screens (views, explorer)', async () => {
    expect(await lint('renderer/src/views/a.ts', "import { el } from '../components/el';\n")).toEqual([]);
    expect(await lint('renderer/src/explorer/a.ts', "import { el } from '../components/el';\nimport type { ViewContext } from '../views/types';\n")).toEqual([]);
    expect(await lint('renderer/src/components/a.ts', "import { el } from '../views/types';\n")).toEqual([
      expect.stringContaining("renderer/src/components/ may not import renderer/src/views/ ('../views/types')"),
    ]);
    expect(await lint('renderer/src/engine/a.ts', "import { x } from '../explorer/explorer';\n")).toHaveLength(1);
    expect(await lint('renderer/src/train/a.ts', "import { x } from '../views/training';\n")).toHaveLength(1);
    // The shell files in renderer/src/ are not ranked: main.ts wires the views together.
    expect(await lint('renderer/src/main.ts', "import { views } from './views/index';\n")).toEqual([]);
  });

  it('passes on the project as it is', async () => {
    const eslint = new ESLint({ cwd: projectRoot });
    const results = await eslint.lintFiles(['shared', 'renderer', 'electron']);
    const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(problems).toEqual([]);
  });
});
