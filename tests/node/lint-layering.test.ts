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

  it('passes on the project as it is', async () => {
    const eslint = new ESLint({ cwd: projectRoot });
    const results = await eslint.lintFiles(['shared', 'renderer', 'electron']);
    const problems = results.flatMap((r) => r.messages.map((m) => `${r.filePath}:${m.line} ${m.message}`));
    expect(problems).toEqual([]);
  });
});
