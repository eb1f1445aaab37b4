import { formatBytes } from '../../../shared/model/summary';
import { interruptSignal, positionals, progressPrinter, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import { formatDuration, RateMeter } from '../../models/progress';
import { EXIT, UsageError, parseOptions, type Command } from '../command';
import { exportMergedLora } from '../../engine/lora-merge';
import { loraArgs } from './run';
import { exportModel } from '../../ops/export';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const exportCommand: Command = {
  name: 'export',
  summary: 'write an imported model back as the identical GGUF file (or with a LoRA adapter merged in)',
  help: `Usage: pxi export MODEL OUT.gguf [options]

Writes the model's header, tensors and padding back into one GGUF file, byte for byte
the file that was imported (its sha256 is checked against the manifest before the file
appears). The file is written to a temporary name in the same folder, fsynced, then
renamed, so OUT.gguf is either absent or complete.

With --lora ADAPTER.gguf: the adapter (llama.cpp's LoRA GGUF, checked against MODEL) is
merged in, W' = W + scale·alpha/rank·B·A for every adapted matrix, each stored again in the
base tensor's own type (the header and every offset stay as imported). For quantised types
the re-encoding loses something: it is printed per tensor beside the size of the update.

Options:
  ${VOLUME_HELP}
  --lora FILE        merge this LoRA adapter into the written model
  --lora-scale X     the adapter's scale (default 1)
  --force            replace OUT.gguf if it exists
  --json             print {path, size, sha256, seconds} as JSON on stdout
  -h, --help         show this help

Exit codes: 0 written, 3 stored data damaged (nothing written), 1 failed, 2 usage error.`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(
      argv,
      { volume: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' }, lora: { type: 'string' }, 'lora-scale': { type: 'string' } },
      true,
    );
    const [ref, out] = positionals(args, ['MODEL', 'OUT.gguf']);
    const lora = loraArgs(values);
    const signal = interruptSignal(io);
    const show = progressPrinter(io, 'export');
    return runStorageCommand('export', io, () =>
      withStore(volumeDir(values.volume), async (store) => {
        if (lora.loraPath) {
          const target = path.resolve(out!);
          if (!values.force && existsSync(target)) throw new UsageError(`${out} exists; pass --force to replace it`);
          const meter = new RateMeter();
          const r = await exportMergedLora(store, ref!, lora.loraPath, target, { scale: lora.loraScale, signal, onProgress: (done, total) => show(done, total, meter.sample(done, total)) });
          if (values.json) io.out(JSON.stringify(r));
          else {
            io.out(`wrote ${r.path}: ${formatBytes(r.size)}, ${r.tensors.length} tensors with ${lora.loraPath} merged in (scale ${lora.loraScale}), in ${formatDuration(r.seconds)}`);
            for (const t of r.tensors) {
              io.out(`  ${t.name.padEnd(28)} ${t.type.padEnd(6)} update RMS ${t.updateRms.toExponential(2)}, re-encoding error RMS ${t.requantRms.toExponential(2)} (max ${t.requantMax.toExponential(2)})`);
            }
          }
          return EXIT.OK;
        }
        const r = await exportModel(store, ref!, out!, { overwrite: values.force ?? false, signal, onProgress: (p) => show(p.bytesDone, p.bytesTotal, p) });
        if (values.json) io.out(JSON.stringify(r));
        else io.out(`wrote ${r.path}: ${formatBytes(r.size)}, sha256 ${r.sha256} (identical to the imported file) in ${formatDuration(r.seconds)} (${(r.size / Math.max(r.seconds, 1e-9) / 1e6).toFixed(1)} MB/s)`);
        return EXIT.OK;
      }),
    );
  },
};
