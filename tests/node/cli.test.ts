import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../support/fixtures';

const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pxi-cli-'));
  tempDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

function pxi(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pxi.js', ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('pxi CLI', () => {
  it('--help lists the commands and the exit codes, and exits 0', () => {
    const r = pxi('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: pxi <command>');
    expect(r.out).toMatch(/serve\s+run the workstation in browser mode/);
    expect(r.out).toContain('2 usage error');
  });

  it('--version prints the package version', () => {
    const r = pxi('--version');
    expect(r.code).toBe(0);
    expect(r.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('usage errors exit 2 with a message naming the problem', () => {
    expect(pxi().code).toBe(2);
    const unknown = pxi('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "frobnicate"');
    const badFlag = pxi('serve', '--bogus');
    expect(badFlag.code).toBe(2);
    expect(badFlag.err).toContain("'--bogus'");
    const badPort = pxi('serve', '--port', '99999');
    expect(badPort.code).toBe(2);
    expect(badPort.err).toContain('--port must be an integer');
  });

  it('each command has its own --help', () => {
    for (const cmd of ['serve', 'gpu']) {
      const r = pxi(cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`Usage: pxi ${cmd}`);
      expect(pxi('help', cmd).out).toBe(r.out);
    }
  });

  it('serve --json prints its URL, serves, and stops cleanly on SIGTERM', async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, ['bin/pxi.js', 'serve', '--port', '0', '--json', '--data-dir', dataDir], { cwd: projectRoot });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (c) => reject(new Error(`exited ${c}`)));
    });
    const { url, port } = JSON.parse(line) as { url: string; port: number };
    expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[A-Za-z0-9_-]{40,}$`));
    // npm test builds the renderer before the unit tests run.
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<title>Pixel-LLM</title>');
    const exit = new Promise<number | null>((r) => child.once('exit', r));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });

  it('serve without a built renderer says how to build it', () => {
    const r = pxi('serve', '--port', '0', '--renderer', join(tmpdir(), 'no-such-renderer'), '--data-dir', tempDir());
    expect(r.code).toBe(1);
    expect(r.err).toContain('npm run build');
  });
});
