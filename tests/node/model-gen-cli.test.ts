import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../electron/cli/main';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { getString, getU32 } from '../../shared/gguf/metadata';
import { projectRoot } from '../support/fixtures';

const dir = mkdtempSync(join(tmpdir(), 'pxi-gen-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `pxi` in this process (fast) with captured output. */
async function pxiIn(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`), interrupted: new Promise(() => undefined) });
  return { code, out, err };
}

/** Runs the real `pxi` process (bin/pxi.js). */
function pxi(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/pxi.js', ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

describe('pxi gen', () => {
  it('has a --help naming presets, types and options, and is listed by pxi --help', async () => {
    const r = await pxiIn('gen', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: pxi gen --preset NAME --type TYPE');
    for (const s of ['tiny-llama', 'tiny-qwen2', 'qwen2-1b', 'qwen2.5-7b', 'tiny-qwen3', 'tiny-gemma2', 'tiny-gemma3', 'tiny-phi3', 'tiny-phi4-mini', 'tiny-mistral', 'tiny-smollm', 'tiny-llama3', '--head-dim N', '--rope-dim N', '--sliding-window N', 'F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS', '--seed N', '--tied', '-o, --output', '--json', 'pxi gen --preset NAME --mix MIX', 'Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, IQ4_XS', 'Two flags because']) {
      expect(r.out).toContain(s);
    }
    expect((await pxiIn('--help')).out).toMatch(/gen\s+write a seeded random-weight GGUF/);
  });

  it('refuses bad usage with exit 2 (and an unwritable path with exit 1), naming the problem', async () => {
    const cases: [string[], string][] = [
      [['gen', '--type', 'F32'], '--preset is required'],
      [['gen', '--preset', 'tiny-llama'], '--type is required'],
      [['gen', '--preset', 'giant', '--type', 'F32'], 'unknown preset "giant"'],
      [['gen', '--preset', 'tiny-llama', '--type', 'IQ2_XS'], 'unknown --type "IQ2_XS"'],
      [['gen', '--preset', 'tiny-llama', '--type', 'F32', '--seed', '4294967296'], '--seed must be an integer from 0 to 4294967295'],
      [['gen', '--preset', 'tiny-llama', '--type', 'F32', '--seed', '1.5'], '--seed must be an integer'],
      [['gen', '--preset', 'tiny-llama', '--type', 'Q4_K', '--embd', '320'], 'embd = 320: must be a multiple of 256 for Q4_K'],
      [['gen', '--preset', 'tiny-llama', '--type', 'F32', '--heads', '3'], 'heads = 3: must divide embd (256)'],
      [['gen', '--preset', 'tiny-llama', '--type', 'F32', '--tied', '--untied'], '--tied and --untied exclude each other'],
      [['gen', '--preset', 'tiny-llama', '--type', 'F32', '--method', 'fast'], '--method must be auto, quantize or direct'],
      [['gen', '--preset', 'tiny-llama', '--type', 'F32', '--rms-eps', '0'], '--rms-eps must be a positive number'],
      [['gen', '--preset', 'tiny-llama', '--type', 'F32', '--bogus'], "'--bogus'"],
      [['gen', '--preset', 'tiny-llama', '--type', 'F32', '--head-dim', '128'], 'head-dim = 128: only qwen3, gemma2 and gemma3 files carry it'],
      [['gen', '--preset', 'tiny-phi3', '--type', 'F32', '--rope-dim', '33'], 'rope-dim = 33: must be even'],
      [['gen', '--preset', 'tiny-gemma2', '--type', 'F32', '--untied'], 'gemma2 files have no output.weight'],
      [['gen', '--preset', 'tiny-qwen3', '--type', 'Q4_K', '--head-dim', '96'], 'heads·head-dim = 384: must be a multiple of 256 for Q4_K'],
      [['gen', '--preset', 'tiny-llama', '--type', 'Q4_K_M'], 'unknown --type "Q4_K_M" (types: F32'],
      [['gen', '--preset', 'tiny-llama', '--type', 'Q4_K_M'], "for llama-quantize's Q4_K_M file use --mix Q4_K_M"],
      [['gen', '--preset', 'tiny-llama', '--mix', 'Q4_K'], 'unknown --mix "Q4_K" (mixes: Q2_K, Q3_K_S'],
      [['gen', '--preset', 'tiny-llama', '--mix', 'Q4_K_M', '--type', 'Q4_K'], '--type and --mix exclude each other'],
      [['gen', '--preset', 'tiny-llama', '--mix', 'Q4_K_M', '--ff', '336'], 'ff = 336: must be a multiple of 32 for the Q4_K_M mix'],
    ];
    for (const [argv, message] of cases) {
      const r = await pxiIn(...argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err, argv.join(' ')).toContain(message);
    }
    const noFolder = await pxiIn('gen', '--preset', 'tiny-llama', '--type', 'F32', '-o', join(dir, 'missing', 'x.gguf'));
    expect(noFolder.code).toBe(1);
    expect(noFolder.err).toMatch(/cannot write .*x\.gguf.*ENOENT.*\[MODELGEN_WRITE\]/);
    const existing = join(dir, 'exists.gguf');
    writeFileSync(existing, 'keep me');
    const r = await pxiIn('gen', '--preset', 'tiny-llama', '--type', 'F32', '-o', existing);
    expect(r.code).toBe(2);
    expect(r.err).toContain('exists; pass --force');
    expect(readFileSync(existing, 'utf8')).toBe('keep me');
  });

  it('--dry-run --json describes the 7B preset without writing it', async () => {
    const r = await pxiIn('gen', '--preset', 'qwen2.5-7b', '--type', 'Q4_K', '--dry-run', '--json', '-o', join(dir, 'never.gguf'));
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out) as { parameters: number; bytes: number; method: string; tensors: number; config: { vocab: number } };
    expect(s.parameters).toBe(7_615_616_512);
    expect(s.method).toBe('direct');
    expect(s.tensors).toBe(339);
    expect(s.config.vocab).toBe(152064);
    // Q4_K: 144 bytes per 256 weights, norms and biases F32, plus a header of a few MB.
    expect(s.bytes).toBeGreaterThan((7_615_616_512 / 256) * 144);
    expect(s.bytes).toBeLessThan(4.4e9);
    expect(existsSync(join(dir, 'never.gguf'))).toBe(false);
  });

  it('writes a file atomically with progress; the same seed repeats its bytes, another does not', () => {
    const a = join(dir, 'a.gguf');
    const r = pxi('gen', '--preset', 'tiny-qwen2', '--type', 'Q4_K', '--seed', '5', '--blocks', '3', '-o', a, '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out) as { file: string; sha256: string; bytes: number; mbPerSec: number; seconds: number };
    expect(res.file).toBe(a);
    expect(res.sha256).toBe(sha256(a));
    expect(res.mbPerSec).toBeGreaterThan(0);
    expect(r.err).toMatch(/gen: .* MB\/s .*done/);
    expect(readdirSync(dir).filter((f) => f.includes('tmp'))).toEqual([]);
    const h = parseGgufBytes(readFileSync(a));
    expect(getString(h, 'general.architecture')).toBe('qwen2');
    expect(getU32(h, 'qwen2.block_count')).toBe(3);
    expect(getU32(h, 'general.file_type')).toBe(14);

    const again = pxi('gen', '--preset', 'tiny-qwen2', '--type', 'Q4_K', '--seed', '5', '--blocks', '3', '-o', a, '--force', '--quiet');
    expect(again.code, again.err).toBe(0);
    expect(again.err).toBe('');
    expect(sha256(a)).toBe(res.sha256);
    const b = join(dir, 'b.gguf');
    expect(pxi('gen', '--preset', 'tiny-qwen2', '--type', 'Q4_K', '--seed', '6', '--blocks', '3', '-o', b, '--quiet').code).toBe(0);
    expect(sha256(b)).not.toBe(res.sha256);
  });

  it('--mix writes llama-quantize\'s mix (default name <preset>-<mix>-mix-seed<N>.gguf); --dry-run lists the odd matrices', async () => {
    const dry = await pxiIn('gen', '--preset', 'tiny-llama', '--mix', 'Q4_K_M', '--dry-run');
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain('tiny-llama (llama) Q4_K_M mix, seed 0');
    expect(dry.out).toContain('types (tensors): Q4_K 13, F32 5, Q6_K 3; general.file_type 15');
    expect(dry.out).toMatch(/matrices not Q4_K:\n {2}blk\.1\.attn_v\.weight +Q6_K\n {2}blk\.1\.ffn_down\.weight +Q6_K\n {2}output\.weight +Q6_K\n$/);
    const json = await pxiIn('gen', '--preset', 'tiny-llama', '--mix', 'Q2_K', '--ff', '320', '--dry-run', '--json');
    expect(JSON.parse(json.out)).toMatchObject({ mix: 'Q2_K', fileType: 10, types: { Q2_K: 9, Q3_K: 4, Q4_0: 2, Q6_K: 1, F32: 5 } });

    const r = spawnSync(process.execPath, [join(projectRoot, 'bin/pxi.js'), 'gen', '--preset', 'tiny-llama', '--mix', 'Q3_K_M', '--method', 'direct', '--quiet'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const file = join(dir, 'tiny-llama-q3_k_m-mix-seed0.gguf');
    const h = parseGgufBytes(readFileSync(file));
    expect(getU32(h, 'general.file_type')).toBe(12);
    expect(getString(h, 'pxi.gen.mix')).toBe('Q3_K_M');
  });

  it('stops on SIGINT with exit 130, leaving neither the file nor its temporary', async () => {
    const out = join(dir, 'big.gguf');
    const child = spawn(process.execPath, ['bin/pxi.js', 'gen', '--preset', 'qwen2-1b', '--type', 'Q8_0', '-o', out], { cwd: projectRoot });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('MB/s')) resolve();
      });
      child.once('exit', (c) => reject(new Error(`exited ${c} before any progress: ${err}`)));
    });
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(130);
    expect(err).toContain('interrupted; removed');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('.big.gguf'))).toEqual([]);
  });
});
