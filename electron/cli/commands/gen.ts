import { writeFileDurableStream } from '../../pixelfs/file-ops';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  AUTO_QUANTIZE_MAX_PARAMS,
  GEN_MIXES,
  GEN_TYPES,
  MODEL_PRESETS,
  PRESET_NAMES,
  ModelGenError,
  headDim,
  isGenMix,
  isGenType,
  planModel,
  ropeDim,
  writeModel,
  type ConfigOverrides,
  type GenMethod,
  type GenOptions,
  type GenProgress,
} from '../../../shared/model-gen';
import { PxiError } from '../../../shared/errors';
import { EXIT, UsageError, parseOptions, type Command } from '../command';

const presetLines = PRESET_NAMES.map((n) => `  ${n.padEnd(14)} ${MODEL_PRESETS.get(n)!.summary}`).join('\n');

export const genCommand: Command = {
  name: 'gen',
  summary: 'write a seeded random-weight GGUF model (llama, qwen2, qwen3, phi3, gemma2, gemma3) for tests and benchmarks',
  help: `Usage: pxi gen --preset NAME --type TYPE [--seed N] [--tied|--untied] [-o FILE] [--json]
               [--blocks N] [--embd N] [--ff N] [--heads N] [--kv-heads N] [--vocab N]
               [--context N] [--rope-theta X] [--rms-eps X] [--head-dim N] [--rope-dim N]
               [--sliding-window N] [--method M] [--force] [--quiet] [--dry-run]
       pxi gen --preset NAME --mix MIX [the same options]

Writes a GGUF file that llama.cpp loads and runs: llama.cpp's tensor names and metadata for the
architecture (llama, qwen2, qwen3, phi3, gemma2, gemma3), a tokenizer made by Pixel-LLM
(SentencePiece in the Llama 2, Mistral, Phi-3 or Gemma layout; byte-level BPE with the qwen2,
smollm or llama-bpe pre-tokenizer) and random weights from a seeded PRNG (xoshiro128**), scaled
so the next-token distribution is neither flat nor one-hot. The same options and seed give the
same bytes. Not a trained model: its text is noise.

Presets:
${presetLines}

Options:
  --preset NAME    one of the presets above (required)
  --type TYPE      ${GEN_TYPES.join(', ')}: every matrix
                   (token_embd and output included) in this one type; norms and biases
                   stay F32. One of --type and --mix is required
  --mix MIX        ${GEN_MIXES.join(', ')}: the file
                   llama-quantize makes for that file type (without an imatrix): each
                   matrix in the type llama.cpp's llama_tensor_get_type gives it, e.g.
                   Q4_K_M is Q4_K with Q6_K for output and for attn_v and ffn_down in
                   some blocks; general.file_type is the mix's (Q4_K_M = 15). --dry-run
                   lists the matrices that differ from the mix's base type.
                   Two flags because Q2_K, Q6_K and IQ4_XS name both a tensor type and a
                   file type: --type Q2_K is Q2_K throughout (files made so far keep their
                   bytes), --mix Q2_K is llama-quantize's Q2_K file (Q3_K or Q4_K attn_v,
                   Q3_K attn_output and ffn_down, Q6_K output)
  --seed N         PRNG seed, 0 to 4294967295 (default 0)
  --tied           no output.weight: score with token_embd
  --untied         write output.weight (default for presets listed untied; never for gemma2)
  -o, --output F   the file to write (default ./<preset>-<type>-seed<N>.gguf, or
                   ./<preset>-<mix>-mix-seed<N>.gguf); written to a temporary file beside it
                   and renamed when complete
  --force          replace FILE if it exists
  --blocks N, --embd N, --ff N, --heads N, --kv-heads N, --vocab N, --context N,
  --rope-theta X, --rms-eps X
                   override the preset's dimensions (embd and ff must be multiples of the
                   type's block: 32 for Q8_0/Q4_x/Q5_x/IQ4_NL, 256 for the K-quants and
                   IQ4_XS, 32 for a mix, whose rows that are not whole 256-blocks fall back
                   to Q4_0/Q5_0/Q5_1/Q8_0/IQ4_NL as in llama-quantize; heads must divide
                   embd, kv-heads must divide heads; without --kv-heads a new head
                   count keeps the preset's KV heads if they divide, else the largest
                   divisor below them)
  --head-dim N     head size (attention.key_length) for qwen3, gemma2 and gemma3; the
                   q projection is heads x N wide, which need not be embd
  --rope-dim N     rotated dimensions per head for phi3 (partial RoPE; even, at most
                   the head size)
  --sliding-window N
                   window of the sliding layers for gemma2 and gemma3
  --method M       auto (default), quantize or direct. quantize draws normal values and
                   encodes them with Pixel-LLM's quantisers (slow: about 2 M values/s for
                   the K-quants); direct writes random valid blocks of the same scale (over
                   100 MB/s). auto quantizes models up to ${AUTO_QUANTIZE_MAX_PARAMS / 1e6}M parameters.
  --dry-run        print what would be written (parameters, tensors, size) and write nothing
  --json           print the result as one JSON object on stdout
  --quiet          no progress on stderr
  -h, --help       show this help

Progress (MB written, MB/s, ETA) goes to stderr about once a second. Ctrl-C stops, removes
the temporary file and exits 130.`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      preset: { type: 'string' },
      type: { type: 'string' },
      mix: { type: 'string' },
      seed: { type: 'string' },
      tied: { type: 'boolean' },
      untied: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      force: { type: 'boolean' },
      blocks: { type: 'string' },
      embd: { type: 'string' },
      ff: { type: 'string' },
      heads: { type: 'string' },
      'kv-heads': { type: 'string' },
      vocab: { type: 'string' },
      context: { type: 'string' },
      'rope-theta': { type: 'string' },
      'rms-eps': { type: 'string' },
      'head-dim': { type: 'string' },
      'rope-dim': { type: 'string' },
      'sliding-window': { type: 'string' },
      method: { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
    });
    const preset = values.preset;
    if (preset === undefined) throw new UsageError(`--preset is required (${PRESET_NAMES.join(', ')})`);
    if (!MODEL_PRESETS.has(preset as never)) throw new UsageError(`unknown preset ${JSON.stringify(preset)} (presets: ${PRESET_NAMES.join(', ')})`);
    const { type, mix } = values;
    if (type !== undefined && mix !== undefined) throw new UsageError('--type and --mix exclude each other (one type for every matrix, or a llama-quantize mix)');
    if (type === undefined && mix === undefined) {
      throw new UsageError(`--type is required (${GEN_TYPES.join(', ')}), or --mix for a llama-quantize mix (${GEN_MIXES.join(', ')})`);
    }
    if (type !== undefined && !isGenType(type)) {
      const hint = isGenMix(type) ? `; for llama-quantize's ${type} file use --mix ${type}` : '';
      throw new UsageError(`unknown --type ${JSON.stringify(type)} (types: ${GEN_TYPES.join(', ')}${hint})`);
    }
    if (mix !== undefined && !isGenMix(mix)) {
      const hint = isGenType(mix) ? `; for ${mix} throughout use --type ${mix}` : '';
      throw new UsageError(`unknown --mix ${JSON.stringify(mix)} (mixes: ${GEN_MIXES.join(', ')}${hint})`);
    }
    const precision = mix !== undefined ? ({ mix } as const) : ({ type: type! } as const);
    if (values.tied && values.untied) throw new UsageError('--tied and --untied exclude each other');
    const method = values.method ?? 'auto';
    if (method !== 'auto' && method !== 'quantize' && method !== 'direct') {
      throw new UsageError(`--method must be auto, quantize or direct, got ${JSON.stringify(method)}`);
    }
    const seed = values.seed === undefined ? 0 : integer('--seed', values.seed, 0, 0xffffffff);

    const overrides: ConfigOverrides = {};
    const dims: [keyof ConfigOverrides, string, string | undefined][] = [
      ['blocks', '--blocks', values.blocks],
      ['embd', '--embd', values.embd],
      ['ff', '--ff', values.ff],
      ['heads', '--heads', values.heads],
      ['kvHeads', '--kv-heads', values['kv-heads']],
      ['vocab', '--vocab', values.vocab],
      ['context', '--context', values.context],
      ['headDim', '--head-dim', values['head-dim']],
      ['ropeDim', '--rope-dim', values['rope-dim']],
      ['slidingWindow', '--sliding-window', values['sliding-window']],
    ];
    for (const [key, flag, v] of dims) if (v !== undefined) (overrides as Record<string, number>)[key] = integer(flag, v, 1, 1 << 24);
    if (values['rope-theta'] !== undefined) overrides.ropeTheta = positive('--rope-theta', values['rope-theta']);
    if (values['rms-eps'] !== undefined) overrides.rmsEps = positive('--rms-eps', values['rms-eps']);
    if (values.tied) overrides.tied = true;
    if (values.untied) overrides.tied = false;

    let plan;
    try {
      const opts: GenOptions = { preset, ...precision, seed, overrides, method: method as GenMethod | 'auto' };
      plan = planModel(opts);
    } catch (e) {
      // Dimensions that do not fit together are the user's input: a usage error.
      if (e instanceof ModelGenError && e.code === 'MODELGEN_DIMS') throw new UsageError(e.message);
      throw e;
    }
    const c = plan.config;
    // Tensors per type, largest count first.
    const counts = new Map<string, number>();
    for (const t of plan.tensors) counts.set(t.type, (counts.get(t.type) ?? 0) + 1);
    const types = Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
    const label = plan.mix !== undefined ? `${plan.mix} mix` : plan.type;
    const summary = {
      preset,
      arch: c.arch,
      ...(plan.mix !== undefined ? { mix: plan.mix } : { type: plan.type }),
      fileType: plan.fileType,
      types,
      seed,
      method: plan.method,
      parameters: plan.parameterCount,
      tensors: plan.tensors.length,
      bytes: plan.layout.fileSize,
      config: c,
    };
    if (values['dry-run']) {
      if (values.json) io.out(JSON.stringify(summary));
      else {
        io.out(`${preset} (${c.arch}) ${label}, seed ${seed}, method ${plan.method}: ${formatCount(plan.parameterCount)} parameters, ` +
          `${plan.tensors.length} tensors, ${formatMB(plan.layout.fileSize)}`);
        io.out(`blocks ${c.blocks}, embd ${c.embd}, ff ${c.ff}, heads ${c.heads}/${c.kvHeads} of ${headDim(c)} (rope ${ropeDim(c)}), ` +
          `vocab ${c.vocab} (${c.tokens} tokens, ${c.vocabStyle}), context ${c.context}, rope theta ${c.ropeTheta}` +
          `${c.ropeThetaSwa !== undefined ? ` (sliding ${c.ropeThetaSwa})` : ''}, rms eps ${c.rmsEps}, ` +
          `${c.slidingWindow !== undefined ? `sliding window ${c.slidingWindow}, ` : ''}${c.tied ? 'tied' : 'untied'} output`);
        io.out(`types (tensors): ${Object.entries(types).map(([t, n]) => `${t} ${n}`).join(', ')}; general.file_type ${plan.fileType}`);
        if (plan.mix !== undefined) {
          // As llama.cpp's tests/snapshots list a mix: the matrices that differ from its base type.
          io.out(`matrices not ${plan.type}:`);
          for (const t of plan.tensors) if (t.dims.length > 1 && t.type !== plan.type) io.out(`  ${t.name.padEnd(28)} ${t.type}`);
        }
      }
      return EXIT.OK;
    }

    const stem = plan.mix !== undefined ? `${plan.mix.toLowerCase()}-mix` : plan.type.toLowerCase();
    const out = resolve(values.output ?? `${preset}-${stem}-seed${seed}.gguf`);
    if (existsSync(out) && !values.force) throw new UsageError(`${out} exists; pass --force to replace it`);
    let stop = false;
    void io.interrupted.then(() => {
      stop = true;
    });

    const hash = createHash('sha256');
    let result;
    try {
      // The project's one durable write: temp file beside OUT, fsync, rename, fsync the folder.
      result = await writeFileDurableStream(
        out,
        (sink) =>
          writeModel(
            plan,
            {
              async write(bytes) {
                hash.update(bytes);
                await sink.write(bytes);
              },
            },
            {
              shouldStop: () => stop,
              onProgress: values.quiet ? undefined : (p) => io.err(progressLine(p)),
            },
          ),
        { rolling: true },
      );
    } catch (e) {
      if (stop) {
        io.err(`pxi gen: interrupted; removed the temporary file beside ${out}`);
        return EXIT.INTERRUPTED;
      }
      throw e instanceof PxiError ? e : writeError(out, e);
    }
    const sha256 = hash.digest('hex');
    const done = { ...summary, file: out, sha256, seconds: result.elapsedMs / 1000, mbPerSec: result.mbPerSec };
    if (values.json) io.out(JSON.stringify(done));
    else io.out(`wrote ${out}: ${formatMB(result.bytes)} in ${(result.elapsedMs / 1000).toFixed(1)} s (${result.mbPerSec.toFixed(1)} MB/s), sha256 ${sha256}`);
    return EXIT.OK;
  },
};

/** A file-system failure (ENOENT, ENOSPC, EACCES) as an error naming the file. */
function writeError(file: string, e: unknown): ModelGenError {
  const err = e as NodeJS.ErrnoException;
  return new ModelGenError('MODELGEN_WRITE', `cannot write ${file}: ${err.message ?? String(e)}`, { file, errno: err.code });
}

function integer(flag: string, v: string, lo: number, hi: number): number {
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < lo || n > hi) throw new UsageError(`${flag} must be an integer from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
  return n;
}

function positive(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number, got ${JSON.stringify(v)}`);
  return n;
}

function formatMB(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function formatCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${n}`;
}

function progressLine(p: GenProgress): string {
  const pct = p.bytesTotal > 0 ? (100 * p.bytesDone) / p.bytesTotal : 100;
  const eta = p.done ? 'done' : p.etaSec === undefined ? 'ETA ?' : `ETA ${formatSeconds(p.etaSec)}`;
  return `gen: ${formatMB(p.bytesDone)} / ${formatMB(p.bytesTotal)} (${pct.toFixed(1)}%)  ${p.mbPerSec.toFixed(1)} MB/s  ${eta}  ` +
    `[${p.tensorIndex + 1}/${p.tensorCount} ${p.tensor}]`;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.floor(s - 60 * m)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
