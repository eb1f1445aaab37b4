// The one node-llama-cpp loader (electron/cli/llama-cpp.ts), run against a stand-in package so it
// needs no llama.cpp: it finds the package and asks for a CPU build it must never compile or download.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLlamaCppPackage, loadLlamaCpp } from '../../electron/cli/llama-cpp';

const dir = mkdtempSync(join(tmpdir(), 'pxi-llama-loader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakePackage(name: string, withManifest = true): string {
  const pkg = join(dir, name);
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  // getLlama answers with the options it was given, so the test sees exactly what the loader asked for.
  writeFileSync(join(pkg, 'dist', 'index.js'), 'export async function getLlama(options) { return { options }; }\n');
  if (withManifest) writeFileSync(join(pkg, 'package.json'), '{"name":"node-llama-cpp","version":"0.0.0-test","type":"module"}');
  return pkg;
}

describe('loadLlamaCpp', () => {
  it('recognises an installed package only with its entry and manifest', () => {
    expect(isLlamaCppPackage(fakePackage('full'))).toBe(true);
    expect(isLlamaCppPackage(fakePackage('no-manifest', false))).toBe(false);
    expect(isLlamaCppPackage(join(dir, 'absent'))).toBe(false);
  });

  it('asks for the CPU build with no build and no download, at the log level given', async () => {
    const pkg = fakePackage('opts');
    expect(await loadLlamaCpp<{ options: unknown }>(pkg)).toEqual({ options: { gpu: false, build: 'never', skipDownload: true, logLevel: 'error' } });
    expect(await loadLlamaCpp<{ options: { logLevel: string } }>(pkg, 'disabled')).toMatchObject({ options: { logLevel: 'disabled' } });
  });

  it('fails when the package is not there', async () => {
    await expect(loadLlamaCpp(join(dir, 'absent'))).rejects.toThrow();
  });
});
