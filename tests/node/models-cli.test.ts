import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../electron/cli/main';
import type { CliIo } from '../../electron/cli/command';
import { fixturePath } from '../support/fixtures';
import { sha256File, writeTinyModel } from './models-support';

let tmp: string;
let volume: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'models-cli-'));
  volume = path.join(tmp, 'volume');
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Runs `pxi ...` in-process; `interruptWhen` resolves the Ctrl-C promise when stderr shows it. */
async function pxi(args: string[], interruptWhen?: RegExp): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  let interrupt: () => void = () => undefined;
  const interrupted = new Promise<void>((r) => (interrupt = r));
  const io: CliIo = {
    out: (t) => out.push(t),
    err: (t) => {
      err.push(t);
      if (interruptWhen?.test(t)) interrupt();
    },
    interrupted,
  };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const V = (): string[] => ['--volume', volume];

describe('pxi import / inspect / verify / export / map', () => {
  const fixture = fixturePath('models', 'stories260K.gguf');

  it('imports the fixture with progress, shows it, verifies it, exports it identical, draws its map', async () => {
    const imp = await pxi(['import', fixture, ...V(), '--tile-size', '64']);
    expect(imp.code, imp.err).toBe(0);
    expect(imp.out).toMatch(/^imported stories260K \(id stories260k-[0-9a-f]{8}\): llama, 293K parameters, 1\.13 MiB, 48 tensors \(F32\)/);
    expect(imp.out).toContain('pyramid of 48 tensors');
    expect(imp.err).toMatch(/import: .* MB\/s {2}ETA/);

    const again = await pxi(['import', fixture, ...V()]);
    expect(again.code).toBe(0);
    expect(again.out).toContain('is already imported from this file; nothing to do');

    const file = await pxi(['inspect', fixture]);
    expect(file.code).toBe(0);
    expect(file.out).toContain('architecture   llama');
    expect(file.out).toContain('tokenizer      llama, 512 tokens, bos 1 "<s>", eos 2 "</s>"');
    const model = await pxi(['inspect', 'stories260K', ...V(), '--json']);
    const j = JSON.parse(model.out) as { model: { id: string; verified: string }; config: { blockCount: number }; parameterCount: number; source: { sha256: string } };
    expect(j.model.verified).toBe('unverified');
    expect(j.config.blockCount).toBe(5);
    expect(j.source.sha256).toBe(sha256File(fixture));
    const list = await pxi(['inspect', ...V()]);
    expect(list.out).toMatch(/^stories260K\s+stories260k-[0-9a-f]{8}\s+llama\s+293K/);

    const ver = await pxi(['verify', 'stories260K', ...V()]);
    expect(ver.code).toBe(0);
    expect(ver.out).toMatch(/stories260K: OK \(50 files, \d+ tiles/);

    const out = path.join(tmp, 'stories.gguf');
    const exp = await pxi(['export', 'stories260K', out, ...V()]);
    expect(exp.code, exp.err).toBe(0);
    expect(sha256File(out)).toBe(sha256File(fixture));
    const exists = await pxi(['export', 'stories260K', out, ...V()]);
    expect(exists.code).toBe(1);
    expect(exists.err).toContain('MODEL_EXPORT_EXISTS');
    expect((await pxi(['export', 'stories260K', out, ...V(), '--force', '--json'])).code).toBe(0);

    const png = path.join(tmp, 'map.png');
    const map = await pxi(['map', 'stories260K', '--png', png, '--size', '300', ...V()]);
    expect(map.code, map.err).toBe(0);
    const bytes = fs.readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(Math.max(bytes.readUInt32BE(16), bytes.readUInt32BE(20))).toBe(300);
  });

  it('verify exits 3 and names the damaged tile; export exits 3 and writes nothing', async () => {
    const src = path.join(tmp, 'dmg.gguf');
    writeTinyModel(src, { seed: 31 });
    expect((await pxi(['import', src, ...V(), '--skip-pyramid'])).code).toBe(0);
    const m = JSON.parse((await pxi(['inspect', 'dmg', ...V(), '--json'])).out) as { model: { id: string } };
    // Damage the first tile of token_embd.weight.
    const bytes = fs.readFileSync(src);
    const { parseGgufBytes } = await import('../../shared/gguf/reader');
    const t = parseGgufBytes(bytes, 'dmg').tensors[0]!;
    const cap = 64 * 64 * 4;
    const hash = createHash('sha256').update(bytes.subarray(t.offset, t.offset + cap)).digest('hex');
    const tile = path.join(volume, 'tiles', hash.slice(0, 2), `${hash}.png`);
    const png = fs.readFileSync(tile);
    png[png.length - 40] ^= 1;
    fs.writeFileSync(tile, png);

    const ver = await pxi(['verify', 'dmg', ...V()]);
    expect(ver.code).toBe(3);
    expect(ver.out).toContain(`DAMAGED tensor token_embd.weight (#0): tile 0 = tensor bytes 0..${cap - 1}, GGUF bytes ${t.offset}..${t.offset + cap - 1}`);
    const json = JSON.parse((await pxi(['verify', m.model.id, ...V(), '--json'])).out) as { ok: boolean; problems: { tensor: string; ggufOffset: number }[] };
    expect(json.ok).toBe(false);
    expect(json.problems[0]).toMatchObject({ tensor: 'token_embd.weight', ggufOffset: t.offset });
    const out = path.join(tmp, 'dmg-out.gguf');
    const exp = await pxi(['export', 'dmg', out, ...V()]);
    expect(exp.code).toBe(3);
    expect(exp.err).toContain('PIXELFS_TILE_CORRUPT');
    expect(fs.existsSync(out)).toBe(false);
    expect(JSON.parse((await pxi(['inspect', ...V(), '--json'])).out).models.find((x: { name: string }) => x.name === 'dmg').verified).toBe('corrupt');
  });

  it('Ctrl-C stops an import with exit 130; the same command resumes it', async () => {
    const src = path.join(tmp, 'ctrlc.gguf');
    const want = writeTinyModel(src, { seed: 41, blocks: 2 });
    const first = await pxi(['import', src, ...V()], /^import: /);
    expect(first.code).toBe(130);
    expect(first.err).toContain('rerun it to continue where it stopped');
    expect((await pxi(['inspect', ...V()])).out).toContain('(interrupted import of');
    const second = await pxi(['import', src, ...V()]);
    expect(second.code, second.err).toBe(0);
    expect(second.out).toContain('resumed');
    const out = path.join(tmp, 'ctrlc-out.gguf');
    expect((await pxi(['export', 'ctrlc', out, ...V()])).code).toBe(0);
    expect(sha256File(out)).toBe(want);
  });

  it('refuses bad input with exit 1 and usage mistakes with exit 2', async () => {
    const bad = path.join(tmp, 'bad.gguf');
    fs.writeFileSync(bad, Buffer.from('GGUF\x09\x00\x00\x00'));
    const r = await pxi(['import', bad, ...V()]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/pxi import: bad\.gguf: version = 9: .*\[GGUF_BAD_VERSION\]/);
    expect((await pxi(['verify', 'nope', ...V()])).err).toContain('no model with id or name "nope"');
    const { ModelStore } = await import('../../electron/models/store');
    const holder = await ModelStore.open(volume);
    const locked = await pxi(['verify', 'stories260K', ...V()]);
    await holder.close();
    expect(locked.code).toBe(1);
    expect(locked.err).toContain('is in use by another process');
    const mismatch = await pxi(['import', fixturePath('models', 'stories260K.gguf'), ...V(), '--tile-size', '128', '--name', 'x']);
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toContain('PIXELFS_SETTINGS_MISMATCH');
    for (const args of [
      ['import'],
      ['import', 'a', 'b'],
      ['import', 'a', '--tile-size', '0'],
      ['import', 'a', '--compression', '10'],
      ['import', 'a', '--bogus'],
      ['verify'],
      ['export', 'm'],
      ['map', 'm'],
      ['map', 'm', '--png', 'x.png', '--size', 'big'],
      ['fs'],
      ['fs', 'frob'],
      ['fs', 'get', 'only-one'],
    ]) {
      const u = await pxi([...args, ...V()]);
      expect(u.code, args.join(' ')).toBe(2);
      expect(u.err).toContain('--help for usage');
    }
    for (const c of ['import', 'inspect', 'verify', 'export', 'map', 'fs']) {
      const h = await pxi([c, '--help']);
      expect(h.code).toBe(0);
      expect(h.out).toContain(`Usage: pxi ${c}`);
    }
    expect((await pxi(['--help'])).out).toMatch(/import\s+import a GGUF model/);
  });
});

describe('pxi fs', () => {
  it('puts, lists, gets, verifies, removes and collects generic files', async () => {
    const v = ['--volume', path.join(tmp, 'fsvol')];
    const f = path.join(tmp, 'blob.bin');
    fs.writeFileSync(f, Buffer.alloc(300_000, 7));
    const put = await pxi(['fs', 'put', f, 'notes/blob', ...v]);
    expect(put.code, put.err).toBe(0);
    expect(put.out).toMatch(/^put notes\/blob: 293 KiB, 1 tiles/);
    const ls = await pxi(['fs', 'ls', ...v, '--json']);
    const j = JSON.parse(ls.out) as { files: { name: string; size: number }[]; stats: { compressionRatio: number } };
    expect(j.files).toEqual([expect.objectContaining({ name: 'notes/blob', size: 300_000 })]);
    const back = path.join(tmp, 'blob-back.bin');
    expect((await pxi(['fs', 'get', 'notes/blob', back, ...v])).code).toBe(0);
    expect(sha256File(back)).toBe(sha256File(f));
    expect((await pxi(['fs', 'verify', ...v])).out).toMatch(/^OK: 1 files/);
    expect((await pxi(['fs', 'put', f, 'models/abc/x', ...v])).code).toBe(2);
    expect((await pxi(['fs', 'rm', 'notes/blob', ...v])).out).toMatch(/^removed notes\/blob: 1 tiles freed/);
    expect((await pxi(['fs', 'gc', ...v])).code).toBe(0);
    expect((await pxi(['fs', 'ls', ...v])).out).toMatch(/^0 files/);
  });
});
