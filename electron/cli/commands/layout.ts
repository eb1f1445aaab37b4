import fs from 'node:fs/promises';
import path from 'node:path';
import { LayoutError } from '../../../shared/model/layout-errors';
import { parseReadTrace, type LayoutDecision } from '../../../shared/model/layout-journal';
import type { ReadCost, TensorRead } from '../../../shared/model/layout-plan';
import { formatBytes } from '../../../shared/model/summary';
import { traceModelReads } from '../../engine/trace-reads';
import { positionals, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import type { ModelStore } from '../../models/store';
import { writeFileDurable } from '../../pixelfs/index';
import { recordLayoutApply, recordLayoutUndo } from '../layout-session';
import { EXIT, parseOptions, parseSize, UsageError, type CliIo, type Command } from '../command';

const SUBCOMMANDS = ['trace', 'plan', 'apply', 'undo', 'status'] as const;

async function readTraceFile(file: string): Promise<TensorRead[]> {
  const text = await fs.readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LayoutError('LAYOUT_TRACE_INVALID', { file, field: '(root)' }, text.slice(0, 40), `not JSON: ${(e as Error).message}`);
  }
  return parseReadTrace(json, file);
}

function cost(c: ReadCost): string {
  return `${c.tileLoads} tile loads (${formatBytes(c.tileBytesLoaded)}), ${c.seeks} seeks, ${c.files} files`;
}

function showDecision(d: LayoutDecision): string {
  const ms = (v: number | null): string => (v === null ? 'not measured' : `${v.toFixed(1)} ms`);
  return `${d.at} ${d.action} ${d.generation}: ${d.decision}; cold read ${ms(d.before.coldReadMs)} → ${ms(d.after.coldReadMs)}${d.undo ? `; undo: ${d.undo.command}` : ''}`;
}

async function run(sub: string, args: string[], values: { volume?: string; json?: boolean; trace?: string; 'max-pack'?: string; 'no-measure'?: boolean; out?: string }, io: CliIo): Promise<number> {
  const [ref] = positionals(args, ['MODEL']);
  const maxPackBytes = parseSize(values['max-pack'], '--max-pack');
  const planOpts = { ...(maxPackBytes === undefined ? {} : { maxPackBytes }), ...(values.trace ? { traceName: values.trace } : {}) };
  const traceOf = async (store: ModelStore): Promise<TensorRead[]> => (values.trace ? readTraceFile(values.trace) : store.tableTrace(ref!));
  return withStore(volumeDir(values.volume), async (store) => {
    switch (sub) {
      case 'trace': {
        if (!values.out) throw new UsageError('trace needs --out FILE');
        const r = await traceModelReads(store, ref!);
        const out = path.resolve(values.out);
        await writeFileDurable(out, Buffer.from(JSON.stringify({ reads: r.reads })));
        if (values.json) io.out(JSON.stringify({ out, reads: r.reads.length, forwardReads: r.forwardReads, loadSeconds: r.loadSeconds }));
        else io.out(`wrote ${out}: ${r.reads.length} reads during the load (${r.loadSeconds.toFixed(2)} s), ${r.forwardReads} during one forward pass`);
        return EXIT.OK;
      }
      case 'plan': {
        const plan = await store.planLayout(ref!, await traceOf(store), planOpts);
        if (values.json) io.out(JSON.stringify(plan));
        else {
          io.out(`${plan.strategy}: ${plan.order.length} tensors in ${plan.packs.length} packs`);
          io.out(`  now:     ${cost(plan.before)}`);
          io.out(`  planned: ${cost(plan.after)}`);
        }
        return EXIT.OK;
      }
      case 'apply': {
        const startedAt = new Date();
        const d = await store.applyLayout(ref!, await traceOf(store), { ...planOpts, measure: !values['no-measure'] });
        io.out(values.json ? JSON.stringify(d) : showDecision(d));
        await recordLayoutApply(d, store.get(ref!).name, startedAt, io);
        return EXIT.OK;
      }
      case 'undo': {
        const d = await store.undoLayout(ref!, values.trace ? await readTraceFile(values.trace) : undefined);
        io.out(values.json ? JSON.stringify(d) : showDecision(d));
        await recordLayoutUndo(d, io);
        return EXIT.OK;
      }
      case 'status': {
        const j = await store.layoutJournal(ref!);
        if (values.json) io.out(JSON.stringify(j));
        else {
          io.out(j.active ? `packed (${j.active.strategy}, generation ${j.active.generation}): ${j.active.packs.length} pack files` : 'import layout: one file per tensor');
          for (const d of j.decisions) io.out(`  ${showDecision(d)}`);
        }
        return EXIT.OK;
      }
    }
    throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; expected one of ${SUBCOMMANDS.join(', ')}`);
  });
}

export const layoutCommand: Command = {
  name: 'layout',
  summary: "record a model's reads and pack co-read tensors together in PixelFS (undoable)",
  help: `Usage: pxi layout <subcommand> MODEL [options]

A model is imported as one PixelFS file per tensor: every tensor starts a new tile and
small tensors (norms, biases) each cost a whole tile to read. A packed layout puts the
tensors a pass reads together back to back in a few files (one per block, in read
order), so a cold load reads fewer tiles. The import files stay (export, verify and the
map read them), so a packed model takes its size twice on disk until undone.

Subcommands:
  trace MODEL --out FILE  load MODEL on the GPU through a read recorder, run one forward
                          pass, write the reads as JSON ({"reads": [{tensor, offset,
                          length}]}) for --trace
  plan MODEL              print the packs and the tile loads, seeks and files a cold
                          read of the trace costs now and would cost packed
  apply MODEL             write the packs beside the import files and switch the model
                          to them in one durable step (journaled: a crash leaves the old
                          or the new layout); prints the decision with a cold read timed
                          before and after
  undo MODEL              switch back to the import layout and remove the packs
  status MODEL            the active layout and every layout decision taken

Options:
  ${VOLUME_HELP}
  --trace FILE       the reads to plan for (from trace); default: every tensor whole in
                     the tensor table's order, the order the engine's load reads
  --max-pack SIZE    cut packs larger than SIZE (e.g. 256M; default 1G)
  --no-measure       (apply) skip the timed cold reads
  --out FILE         (trace) where to write the trace
  --json             print JSON on stdout (the plan, the decision record, the journal)
  -h, --help         show this help

Exit codes: 0 success, 1 failed, 2 usage error, 3 stored data damaged.`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(
      argv,
      {
        volume: { type: 'string' },
        json: { type: 'boolean' },
        trace: { type: 'string' },
        'max-pack': { type: 'string' },
        'no-measure': { type: 'boolean' },
        out: { type: 'string' },
      },
      true,
    );
    const [sub, ...rest] = args;
    if (sub === undefined) throw new UsageError(`a subcommand is required: ${SUBCOMMANDS.join(', ')}`);
    if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}; expected one of ${SUBCOMMANDS.join(', ')}`);
    return runStorageCommand(`layout ${sub}`, io, () => run(sub, rest, values, io));
  },
};
