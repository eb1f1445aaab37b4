/**
 * Errors in plain words (shared/plain-errors/): every code the import wizard can meet has a
 * sentence (the codes are read from the sources that declare them, so a new code without one
 * fails here), the sentences name no path and no storage internals, the reader's real refusals
 * get the sentences the issue asks for, and staged-upload paths never reach a person.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PxiError } from '../../shared/errors';
import { parseGgufBytes } from '../../shared/gguf/reader';
import { plainError, plainErrorCodes } from '../../shared/plain-errors/sentences';
import { hideStagingPaths, namesStagingPath } from '../../shared/plain-errors/staging-paths';
import { fixturePath, projectRoot } from '../support/fixtures';

/** The string literals of `file` that look like codes starting with one of `prefixes`. */
function codesIn(file: string, prefixes: string[]): string[] {
  const text = readFileSync(join(projectRoot, file), 'utf8');
  const found = new Set<string>();
  for (const m of text.matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)) {
    if (prefixes.some((p) => m[1]!.startsWith(p))) found.add(m[1]!);
  }
  return [...found];
}

/** Where each error the wizard can meet is declared: reading the file, uploading, storing, the queue, the pyramid, the connection. */
const WIZARD_SOURCES: [string, string[]][] = [
  ['shared/gguf/errors.ts', ['GGUF_']],
  ['shared/model/errors.ts', ['MODEL_', 'MANIFEST_']],
  ['electron/models/errors.ts', ['MODEL_']],
  ['electron/pixelfs/errors.ts', ['PIXELFS_']],
  ['shared/ipc/channels/files.ts', ['FILES_']],
  ['shared/ipc/upload.ts', ['UPLOAD_']],
  ['electron/services/model-handlers.ts', ['INSPECT_']],
  ['electron/tasks/queue.ts', ['TASK_', 'TASKS_']],
  ['electron/models/task-params.ts', ['TASK_']],
  ['shared/ipc/envelope.ts', ['IPC_']],
  ...readdirSync(join(projectRoot, 'electron/map'))
    .filter((f) => f.endsWith('.ts'))
    .map((f): [string, string[]] => [`electron/map/${f}`, ['MAP_']]),
];

/** Elsewhere in the app (Chat, the explorer, Kernels): the engine's and the GPU's errors. */
const ENGINE_SOURCES: [string, string[]][] = [
  ['shared/engine/errors.ts', ['ENGINE_']],
  ['shared/gpu/errors.ts', ['WEBGPU_', 'GPU_', 'MODEL_TOO_LARGE', 'CONTEXT_', 'SHADER_']],
  ['shared/sessions/record.ts', ['SESSION']],
];

const ID = '0123456789abcdef0123456789abcdef';

describe('plain error sentences', () => {
  const wizardCodes = [...new Set(WIZARD_SOURCES.flatMap(([f, p]) => codesIn(f, p))), 'INTERNAL'];

  it('reads a sensible number of codes from the sources (the scan itself works)', () => {
    expect(wizardCodes.length).toBeGreaterThan(90);
    for (const c of ['GGUF_BAD_MAGIC', 'GGUF_DATA_PAST_END', 'PIXELFS_TILE_CHECKSUM_MISMATCH', 'MODEL_SOURCE_UNREADABLE', 'UPLOAD_NOT_GGUF', 'FILES_NOT_FOUND', 'TASK_CANCELLED', 'IPC_TRANSPORT']) {
      expect(wizardCodes).toContain(c);
    }
  });

  it('has a sentence for every code the import wizard can meet', () => {
    expect(wizardCodes.filter((c) => plainError(c) === null)).toEqual([]);
  });

  it('has a sentence for every engine and GPU error', () => {
    const codes = ENGINE_SOURCES.flatMap(([f, p]) => codesIn(f, p));
    expect(codes.length).toBeGreaterThan(15);
    expect(codes.filter((c) => plainError(c) === null)).toEqual([]);
  });

  it('says the two refusals of a new user in the words of the issue', () => {
    expect(plainError('GGUF_BAD_MAGIC')!.sentence).toBe('This file is not a GGUF model.');
    expect(plainError('UPLOAD_NOT_GGUF')!.sentence).toBe('This file is not a GGUF model.');
    expect(plainError('GGUF_TRUNCATED')!.sentence).toBe('The file ends before its header says it should.');
  });

  it('answers null for no code or an unknown one, so the technical message is shown', () => {
    expect(plainError(undefined)).toBeNull();
    expect(plainError('')).toBeNull();
    expect(plainError('NOT_A_REAL_CODE')).toBeNull();
    expect(plainError('toString')).toBeNull();
    expect(plainError('__proto__')).toBeNull();
  });

  it('names no path, field, offset or storage internals in any sentence or hint', () => {
    for (const code of plainErrorCodes()) {
      const p = plainError(code)!;
      const text = `${p.sentence} ${p.hint ?? ''}`;
      expect(p.sentence, code).toMatch(/^[A-Z].*[.]$/);
      expect(text, code).not.toMatch(/uploads|\.part\b|tensor\[|kv\[|offset|sha256|checksum|tile|PNG|PixelFS|\b[A-Z]+_[A-Z_]+\b/i);
      // The one path in the hints is the example of what a full path looks like.
      expect(text.replace('/home/me/model.gguf', ''), code).not.toMatch(/\/[a-z]/);
    }
  });

  it('gives the reader’s real refusals of a bad file their sentences', () => {
    const bytes = new Uint8Array(readFileSync(fixturePath('models', 'stories260K.gguf')));
    const refusal = (b: Uint8Array): PxiError => {
      try {
        parseGgufBytes(b, `/data/volume/uploads/${ID}/stories.gguf`);
      } catch (e) {
        return e as PxiError;
      }
      throw new Error('the reader accepted it');
    };
    const notGguf = refusal(new TextEncoder().encode('these are not the tensors you are looking for\n'));
    expect(notGguf.code).toBe('GGUF_BAD_MAGIC');
    expect(plainError(notGguf.code)!.sentence).toBe('This file is not a GGUF model.');
    const cutHeader = refusal(bytes.subarray(0, 200));
    expect(cutHeader.code).toBe('GGUF_TRUNCATED');
    expect(plainError(cutHeader.code)!.sentence).toBe('The file ends before its header says it should.');
    const cutData = refusal(bytes.subarray(0, 500_000));
    expect(cutData.code).toBe('GGUF_DATA_PAST_END');
    expect(plainError(cutData.code)!.sentence).toMatch(/^The file ends before/);
    // The technical message names the staged path; what a person is shown names the file.
    for (const e of [notGguf, cutHeader, cutData]) {
      expect(namesStagingPath(e.message)).toBe(true);
      const shown = hideStagingPaths(e.message);
      expect(namesStagingPath(shown)).toBe(false);
      expect(shown).toMatch(/^stories\.gguf: /);
    }
  });
});

describe('staged-upload paths', () => {
  it('puts the file’s name where a staged path was, with either separator, spaces or a partial upload', () => {
    expect(hideStagingPaths(`/home/me/.pixel-llm/volume/uploads/${ID}/truncated stories.gguf: tensor[15].offset = 476928: runs past the end`)).toBe(
      'truncated stories.gguf: tensor[15].offset = 476928: runs past the end',
    );
    expect(hideStagingPaths(`cannot read /home/Jane Doe/pxi/volume/uploads/${ID}/x.gguf: ENOENT`)).toBe('cannot read x.gguf: ENOENT');
    expect(hideStagingPaths(`writing x.gguf to /srv/v/uploads/${ID}/.x.gguf.part failed: ENOSPC`)).toBe('writing x.gguf to x.gguf failed: ENOSPC');
    expect(hideStagingPaths(`C:\\Users\\me\\volume\\uploads\\${ID}\\m.gguf: bad`)).toBe('m.gguf: bad');
    expect(hideStagingPaths(`"/v/uploads/${ID}/a.gguf.gguf" twice: /v/uploads/${ID}/b.gguf`)).toBe('"a.gguf.gguf" twice: b.gguf');
    expect(hideStagingPaths(`nothing left in /v/uploads/${ID} now`)).toBe('nothing left in the uploaded file now');
  });

  it('leaves paths the person typed alone', () => {
    const typed = '/home/me/models/uploads/x.gguf: tensor[2].offset = 12: misaligned';
    expect(hideStagingPaths(typed)).toBe(typed);
    expect(namesStagingPath(typed)).toBe(false);
  });
});
