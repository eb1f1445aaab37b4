import { writeFileDurable } from '../../pixelfs/file-ops';
import path from 'node:path';
import { interruptSignal, intFlag, positionals, progressPrinter, runStorageCommand, VOLUME_HELP, volumeDir, withStore } from '../storage-helpers';
import { RateMeter } from '../../models/progress';
import { ensurePyramid } from '../../ops/import';
import { EXIT, parseOptions, UsageError, type Command } from '../command';

export const mapCommand: Command = {
  name: 'map',
  summary: "render an imported model's place on the Infinite Map to a PNG",
  help: `Usage: pxi map MODEL --png OUT.png [options]

Draws the model's region of the Infinite Map: each tensor is a rectangle of its tiles, in
execution order, coloured by a heat image of its decoded values (per-tile mean of the
values of the tensor's type, not of its raw bytes), with the activations and KV-cache
bands below. The heat comes from the model's level-of-detail pyramid; when it is not
built yet (pxi import builds it unless --skip-pyramid) it is built first, resumably.

Options:
  --png OUT.png      where to write the image (required)
  --size N           long side of the image in pixels (default 1024, 1..8192)
  ${VOLUME_HELP}
  --json             print {path, width, height, levels} as JSON on stdout
  -h, --help         show this help

Exit codes: 0 written, 1 failed, 2 usage error, 3 stored data damaged, 130 interrupted.`,
  async run(argv, io) {
    const { values, positionals: args } = parseOptions(argv, { png: { type: 'string' }, size: { type: 'string' }, volume: { type: 'string' }, json: { type: 'boolean' } }, true);
    const [ref] = positionals(args, ['MODEL']);
    if (!values.png) throw new UsageError('--png OUT.png is required');
    const size = intFlag('size', values.size, 1, 8192) ?? 1024;
    const out = path.resolve(values.png);
    const signal = interruptSignal(io);
    return runStorageCommand('map', io, () =>
      withStore(volumeDir(values.volume), async (store) => {
        const show = progressPrinter(io, 'pyramid');
        const meter = new RateMeter();
        await ensurePyramid(store, ref!, { signal, onPyramidProgress: (p) => show(p.bytesDone, p.bytesTotal, meter.sample(p.bytesDone, p.bytesTotal), p.tensor) });
        const img = await store.renderMap(ref!, { maxSize: size });
        await writeFileDurable(out, img.bytes);
        if (values.json) io.out(JSON.stringify({ path: out, width: img.width, height: img.height, levels: img.levels, viewport: img.viewport }));
        else io.out(`wrote ${out}: ${img.width}x${img.height} (map area ${img.viewport.x1 - img.viewport.x0}x${img.viewport.y1 - img.viewport.y0} px, LOD levels ${img.levels.join(', ') || '-'})`);
        return EXIT.OK;
      }),
    );
  },
};
