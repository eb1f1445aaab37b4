/**
 * The kernel tuning file (specs/engine.md, "Kernel tuning"): several adapters' records, at most
 * TUNING_MAX_RECORDS, read back as hostile input (ENGINE_BAD_TUNING_FILE names the file and field).
 */
import { z } from 'zod';
import { EngineError } from './errors';
import { INT_VARIANTS, intVariantsOfType, isIntWeightType, type IntVariant } from './int-matvec';
import { isKernelTuning, PREFILL_VARIANTS, prefillVariantFits, WEIGHT_TYPES, type PrefillVariant, type WeightType } from './quant-matmul';
import type { TuningRecord } from './tuning-record';

export const TUNING_FILE_FORMAT = 'pxi-kernel-tuning';
/** Records kept: the newest per (adapter, kernels), at most this many in all. */
export const TUNING_MAX_RECORDS = 32;

const Count = z.number().int().min(1).max(1 << 20);
const TuningSchema = z.strictObject({ workgroupSize: z.number().int().min(1).max(1024), threadsPerRow: z.number().int().min(1).max(1024) });
const IntervalSchema = z.strictObject({ lo: z.number().nonnegative().max(1e6), hi: z.number().nonnegative().max(1e6), confidence: z.number().gt(0).lt(1) });
const PrefillVariantSchema = z.enum(PREFILL_VARIANTS as [PrefillVariant, ...PrefillVariant[]]);
const PrefillTuningSchema = z.strictObject({
  variant: PrefillVariantSchema.optional(),
  tokens: Count,
  ms: z.number().nonnegative(),
  defaultMs: z.number().nonnegative(),
  speedup: z.number().positive().max(1e6),
  interval: IntervalSchema.optional(),
  challenger: PrefillVariantSchema.optional(),
  reason: z.string().max(1000).optional(),
});
const TypeTuningSchema = z.strictObject({
  tuning: TuningSchema,
  ms: z.number().nonnegative(),
  defaultMs: z.number().nonnegative(),
  speedup: z.number().positive().max(1e6),
  interval: z.strictObject({ lo: z.number().nonnegative().max(1e6), hi: z.number().nonnegative().max(1e6), confidence: z.number().gt(0).lt(1) }).optional(),
  challenger: TuningSchema.optional(),
  intMatvec: z.enum(INT_VARIANTS as [IntVariant, ...IntVariant[]]).optional(),
  challengerIntMatvec: z.enum(INT_VARIANTS as [IntVariant, ...IntVariant[]]).optional(),
  reason: z.string().max(1000).optional(),
  rows: Count.optional(),
  cols: Count.optional(),
  prefill: PrefillTuningSchema.optional(),
});
const RecordSchema = z.strictObject({
  adapter: z.string().max(1000),
  kernels: z.string().regex(/^[0-9a-f]{16}$/),
  measuredAt: z.string().max(64),
  rows: Count,
  cols: Count,
  clock: z.enum(['wall', 'gpu']).optional(),
  types: z.strictObject(Object.fromEntries(WEIGHT_TYPES.map((t) => [t, TypeTuningSchema.optional()])) as Record<WeightType, z.ZodOptional<typeof TypeTuningSchema>>),
});
const FileSchema = z.strictObject({ format: z.literal(TUNING_FILE_FORMAT), version: z.literal(1), records: z.array(RecordSchema).max(TUNING_MAX_RECORDS) });

export interface TuningFile {
  format: typeof TUNING_FILE_FORMAT;
  version: 1;
  records: TuningRecord[];
}

export function emptyTuningFile(): TuningFile {
  return { format: TUNING_FILE_FORMAT, version: 1, records: [] };
}

/** Parses a tuning file's text; ENGINE_BAD_TUNING_FILE names the file, the field and the problem. */
export function parseTuningFile(text: string, file: string): TuningFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: not JSON (${(e as Error).message})`, { file });
  }
  const r = FileSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || '(root)';
    throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: ${field}: ${issue.message}`, { file, field });
  }
  // Shapes a record names must be ones the kernels accept (a power-of-two share of the workgroup).
  for (const [i, rec] of r.data.records.entries()) {
    for (const [type, t] of Object.entries(rec.types)) {
      const { workgroupSize: wg, threadsPerRow: tpr } = t!.tuning;
      if (!isKernelTuning(t!.tuning)) {
        throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: records.${i}.types.${type}.tuning: ${wg}x${tpr} is not a kernel shape`, { file, field: `records.${i}.types.${type}.tuning` });
      }
      // A prefill kernel a record names must exist for that type.
      for (const v of [t!.prefill?.variant, t!.prefill?.challenger]) {
        if (v && !prefillVariantFits(type, v)) {
          throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: records.${i}.types.${type}.prefill: no prefill kernel ${v} for ${type}`, { file, field: `records.${i}.types.${type}.prefill` });
        }
      }
      // An integer kernel a record names must exist for that type.
      for (const f of ['intMatvec', 'challengerIntMatvec'] as const) {
        const v = t![f];
        if (v && !(isIntWeightType(type) && intVariantsOfType(type).includes(v))) {
          throw new EngineError('ENGINE_BAD_TUNING_FILE', `${file}: records.${i}.types.${type}.${f}: no integer kernel ${v} for ${type}`, { file, field: `records.${i}.types.${type}.${f}` });
        }
      }
    }
  }
  return r.data as TuningFile;
}

/** The record for this adapter and these kernels, if one was measured. */
export function findTuning(file: TuningFile, adapter: string, kernels: string): TuningRecord | undefined {
  return file.records.find((r) => r.adapter === adapter && r.kernels === kernels);
}

/** The file with `record` in front, replacing an older one for the same adapter and kernels. */
export function withTuning(file: TuningFile, record: TuningRecord): TuningFile {
  const rest = file.records.filter((r) => !(r.adapter === record.adapter && r.kernels === record.kernels));
  return { ...file, records: [record, ...rest].slice(0, TUNING_MAX_RECORDS) };
}
