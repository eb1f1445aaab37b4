/**
 * The layout journal of one model (issue 12 §4): which layout is active (null: the import layout,
 * one PixelFS file per tensor; else packs of tensors in read order), the migration in progress if
 * one was cut off, and every layout decision taken, with its measurements and undo handle (plain
 * JSON, what a dashboard lists). The store rewrites it whole with the project's durable write, so
 * each rewrite is one atomic switch. `parseLayoutJournal` checks untrusted JSON against the model.
 */
import { z } from 'zod';
import { LayoutError } from './layout-errors';
import type { ReadCost } from './layout-plan';

export const LAYOUT_JOURNAL_FORMAT = 'pxi-layout';
export const LAYOUT_JOURNAL_VERSION = 1;

export interface PackFile {
  /** PixelFS file name: `models/<id>/layout-<generation>/<i>`. */
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly tensors: readonly { readonly name: string; readonly offset: number; readonly bytes: number }[];
}

export interface PackedLayout {
  readonly strategy: string;
  /** Names this layout's files; a new apply gets a new one, so no two layouts share a file. */
  readonly generation: string;
  readonly packs: readonly PackFile[];
}

/** A migration that started and has not finished: what recovery at open rolls back or finishes. */
export interface LayoutIntent {
  /** apply: packs being written, not active (roll back). retire: packs no longer active, being removed (finish). */
  readonly op: 'apply' | 'retire';
  readonly generation: string;
  readonly files: readonly string[];
}

export interface LayoutMeasurement extends ReadCost {
  /** Wall time of reading every traced tensor cold through the volume, ms (null: not measured). */
  readonly coldReadMs: number | null;
}

/** One decision, as a dashboard lists it. */
export interface LayoutDecision {
  readonly kind: 'layout';
  readonly modelId: string;
  /** ISO 8601 UTC. */
  readonly at: string;
  readonly action: 'apply' | 'undo';
  readonly strategy: string;
  readonly generation: string;
  readonly before: LayoutMeasurement;
  readonly after: LayoutMeasurement;
  /** One sentence: what was done and why. */
  readonly decision: string;
  /** How to take the decision back (null: an undo is itself undone by planning and applying again). */
  readonly undo: { readonly action: 'undo'; readonly modelId: string; readonly generation: string; readonly command: string } | null;
}

export interface LayoutJournal {
  readonly format: typeof LAYOUT_JOURNAL_FORMAT;
  readonly version: typeof LAYOUT_JOURNAL_VERSION;
  readonly modelId: string;
  readonly active: PackedLayout | null;
  readonly intent: LayoutIntent | null;
  readonly decisions: readonly LayoutDecision[];
}

export function emptyJournal(modelId: string): LayoutJournal {
  return { format: LAYOUT_JOURNAL_FORMAT, version: LAYOUT_JOURNAL_VERSION, modelId, active: null, intent: null, decisions: [] };
}

/** The PixelFS folder of one generation's packs. */
export function packDir(modelId: string, generation: string): string {
  return `models/${modelId}/layout-${generation}/`;
}

const uint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const GENERATION = /^[0-9a-f]{8,32}$/;
const measurement = z.strictObject({ tileLoads: uint, seeks: uint, files: uint, tileBytesLoaded: uint, coldReadMs: z.number().nonnegative().finite().nullable() });
const schema = z.strictObject({
  format: z.literal(LAYOUT_JOURNAL_FORMAT),
  version: z.literal(LAYOUT_JOURNAL_VERSION),
  modelId: z.string().min(1),
  active: z
    .strictObject({
      strategy: z.string().min(1).max(64),
      generation: z.string().regex(GENERATION),
      packs: z
        .array(
          z.strictObject({
            file: z.string().min(1),
            size: uint,
            sha256: z.string().regex(/^[0-9a-f]{64}$/),
            tensors: z.array(z.strictObject({ name: z.string().min(1), offset: uint, bytes: uint })).min(1),
          }),
        )
        .min(1),
    })
    .nullable(),
  intent: z.strictObject({ op: z.enum(['apply', 'retire']), generation: z.string().regex(GENERATION), files: z.array(z.string().min(1)) }).nullable(),
  decisions: z.array(
    z.strictObject({
      kind: z.literal('layout'),
      modelId: z.string(),
      at: z.string(),
      action: z.enum(['apply', 'undo']),
      strategy: z.string(),
      generation: z.string(),
      before: measurement,
      after: measurement,
      decision: z.string(),
      undo: z.strictObject({ action: z.literal('undo'), modelId: z.string(), generation: z.string(), command: z.string() }).nullable(),
    }),
  ),
});

function fieldPath(p: readonly PropertyKey[]): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`;
  return s || '(root)';
}

/**
 * Validates a journal (already JSON-parsed) for model `modelId` whose tensors are `tensors`:
 * the schema, then that the active packs hold every tensor exactly once, back to back, with the
 * model's byte sizes, in files of this model and generation. `file` names it in errors.
 */
export function parseLayoutJournal(json: unknown, file: string, modelId: string, tensors: readonly { name: string; bytes: number }[]): LayoutJournal {
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    let value: unknown = json;
    for (const k of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[k];
    throw new LayoutError('LAYOUT_JOURNAL_INVALID', { file, field: fieldPath(issue.path) }, typeof value === 'object' ? JSON.stringify(value)?.slice(0, 80) : value, issue.message);
  }
  const j = r.data as LayoutJournal;
  const bad = (field: string, value: unknown, what: string): never => {
    throw new LayoutError('LAYOUT_JOURNAL_INVALID', { file, field }, value, what);
  };
  if (j.modelId !== modelId) bad('modelId', j.modelId, `this journal belongs to model ${modelId}`);
  if (j.intent) {
    const dir = packDir(modelId, j.intent.generation);
    j.intent.files.forEach((f, i) => f.startsWith(dir) || bad(`intent.files[${i}]`, f, `must lie under ${dir}`));
  }
  if (j.active) {
    const want = new Map(tensors.map((t) => [t.name, t.bytes] as const));
    const seen = new Set<string>();
    const dir = packDir(modelId, j.active.generation);
    j.active.packs.forEach((p, i) => {
      const f = `active.packs[${i}]`;
      if (!p.file.startsWith(dir)) bad(`${f}.file`, p.file, `must lie under ${dir}`);
      let at = 0;
      p.tensors.forEach((t, k) => {
        const tf = `${f}.tensors[${k}]`;
        const bytes = want.get(t.name);
        if (bytes === undefined) bad(`${tf}.name`, t.name, 'the model has no tensor of this name');
        if (seen.has(t.name)) bad(`${tf}.name`, t.name, 'placed twice');
        seen.add(t.name);
        if (t.bytes !== bytes) bad(`${tf}.bytes`, t.bytes, `the tensor has ${bytes} bytes`);
        if (t.offset !== at) bad(`${tf}.offset`, t.offset, `must be ${at} (tensors back to back)`);
        at += t.bytes;
      });
      if (p.size !== at) bad(`${f}.size`, p.size, `its tensors add up to ${at}`);
    });
    if (seen.size !== want.size) bad('active.packs', seen.size, `places ${seen.size} tensors, the model has ${want.size}`);
  }
  return j;
}

/** Parses a read trace file: `{ "reads": [{ "tensor", "offset", "length" }, ...] }`. */
export function parseReadTrace(json: unknown, file: string): { tensor: string; offset: number; length: number }[] {
  const r = z.strictObject({ reads: z.array(z.strictObject({ tensor: z.string().min(1), offset: uint, length: uint })) }).safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    let value: unknown = json;
    for (const k of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[k];
    throw new LayoutError('LAYOUT_TRACE_INVALID', { file, field: fieldPath(issue.path) }, typeof value === 'object' ? JSON.stringify(value)?.slice(0, 80) : value, issue.message);
  }
  return r.data.reads;
}
