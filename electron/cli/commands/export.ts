import { formatBytes } from '../../../shared/model/summary';
import { interruptSignal, positionals, progressPrinter, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../../models/cli-helpers';
import { formatDuration } from '../../models/progress';
import { EXIT, parseOptions, type Command } from '../command';

export const exportCommand: Command = {
  name: 'export',
  summary: 'write an imported model back as the identical GGUF file',
  help: `Usage: pxi export MODEL OUT.gguf [options]

Writes the model's header, tensors and padding back into one GGUF file, byte for byte
the file that was imported (its sha256 is checked against the manifest before the file
appears). The file is written to a temporary name in the same folder, fsynced, then
renamed, so OUT.gguf is either absent or complete.

Options:
  ${VOLUME_HELP}
  --force            replace OUT.gguf if it exists
  --json             print {path, size, sha256, seconds} as JSON on stdout
  -h, --help         show this help

Exit codes: 0 written, 3 stored data damaged (nothing written), 1 failed, 2 usage error.`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(argv, { volume: { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } }, true);
    const [ref, out] = positionals(args, ['MODEL', 'OUT.gguf']);
    const signal = interruptSignal(io);
    const show = progressPrinter(io, 'export');
    return runStorageCommand('export', io, () =>
      withStore(volumeDir(values.volume), async (store) => {
        const r = await store.export(ref!, out!, { overwrite: values.force ?? false, signal, onProgress: (p) => show(p.bytesDone, p.bytesTotal, p) });
        if (values.json) io.out(JSON.stringify(r));
        else io.out(`wrote ${r.path}: ${formatBytes(r.size)}, sha256 ${r.sha256} (identical to the imported file) in ${formatDuration(r.seconds)} (${(r.size / Math.max(r.seconds, 1e-9) / 1e6).toFixed(1)} MB/s)`);
        return EXIT.OK;
      }),
    );
  },
};
