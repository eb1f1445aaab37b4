import { describeAdapter, formatAdapterSummary } from '../../../shared/gpu/adapter';
import { openNodeGpu } from '../../gpu/node-webgpu';
import { EXIT, parseOptions, type Command } from '../command';

export const gpuCommand: Command = {
  name: 'gpu',
  summary: 'show the WebGPU adapter Node sees (Dawn)',
  help: `Usage: pxi gpu [--backend vulkan|opengles] [--json]

Opens WebGPU in Node through Dawn and prints the adapter: its name, whether it is a
fallback (CPU) adapter, shader-f16, subgroups and the limits the engine depends on.
Exits 1 when there is no adapter, with the reason.

Options:
  --backend B   vulkan (default) or opengles
  --json        print the adapter summary as JSON
  -h, --help    show this help`,
  async run(argv, io) {
    const { values } = parseOptions(argv, { backend: { type: 'string' }, json: { type: 'boolean' } });
    const backend = values.backend ?? 'vulkan';
    if (backend !== 'vulkan' && backend !== 'opengles') {
      io.err(`pxi gpu: --backend must be vulkan or opengles, got ${JSON.stringify(backend)}`);
      return EXIT.USAGE;
    }
    const opened = await openNodeGpu(backend);
    if (!opened.gpu) {
      if (values.json) io.out(JSON.stringify({ available: false, reason: opened.reason }));
      else io.err(`pxi gpu: ${opened.reason}`);
      return EXIT.FAILURE;
    }
    const summary = describeAdapter(opened.adapter);
    io.out(values.json ? JSON.stringify({ available: true, ...summary, shaderF16: summary.features.includes('shader-f16'), subgroups: summary.features.includes('subgroups') }) : formatAdapterSummary(summary));
    return EXIT.OK;
  },
};
