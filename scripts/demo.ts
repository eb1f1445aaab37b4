/**
 * `npm run demo`: the whole path in one go, in Node. Takes the default model (a small llama the
 * project trained itself, resources/default-model.json; or --model PATH for any GGUF), imports it
 * into a fresh PixelFS volume as PNG tiles, renders its map to a PNG, then loads it from the
 * pixels onto WebGPU and generates text with our WGSL kernels, printing tokens/s.
 *
 *   npm run demo -- [--model FILE.gguf] [--volume DIR] [-p PROMPT] [-n N] [--temp T] [--seed S]
 */
import { writeFileDurable } from '../electron/pixelfs/file-ops';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL, defaultModelPath } from '../electron/models/default-model';
import { streamTo, timingLine } from '../electron/cli/commands/run';
import { openPixelModel } from '../electron/engine/pixel-source';
import { ModelStore } from '../electron/models';
import { generateStream } from '../shared/engine/generate';

const HELP = `Usage: npm run demo -- [--model FILE.gguf] [--volume DIR] [-p PROMPT] [-n N] [--temp T] [--seed S]
                      [--map-size N]

Without --model it uses Pixel-LLM's default model, ${DEFAULT_MODEL.name} (${DEFAULT_MODEL.file} in resources/,
${(DEFAULT_MODEL.parameters / 1e6).toFixed(2)} M parameters): a small llama the project trained itself with pxi train on
TinyStories text, so it writes a children's story. --model runs any llama/qwen2 GGUF instead.

  --model FILE     a GGUF to use instead of the default model
  --volume DIR     the PixelFS volume to import into (default: a new folder under ${tmpdir()},
                   kept so that the map PNG can be looked at; its path is printed)
  -p, --prompt T   the prompt (default "Once upon a time")
  -n N             tokens to generate (default 48)
  --temp T         sampling temperature, 0 = greedy (default 0.8)
  --seed S         sampling seed (default 0: the same text every run)
  --map-size N     long side of the map PNG in pixels (default 1024)`;

function usage(msg: string): never {
  console.error(`demo: ${msg}\n\n${HELP}`);
  process.exit(2);
}

let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({
    options: {
      model: { type: 'string' },
      volume: { type: 'string' },
      prompt: { type: 'string', short: 'p' },
      n: { type: 'string', short: 'n' },
      temp: { type: 'string' },
      seed: { type: 'string' },
      'map-size': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
} catch (e) {
  usage((e as Error).message);
}
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const num = (flag: string, v: string | boolean | undefined, dflt: number, ok: (x: number) => boolean): number => {
  if (typeof v !== 'string') return dflt;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || !ok(x)) usage(`${flag} got ${JSON.stringify(v)}`);
  return x;
};
const maxTokens = num('-n', values.n, 48, (x) => Number.isInteger(x) && x >= 1 && x <= 4096);
const temperature = num('--temp', values.temp, 0.8, (x) => x >= 0);
const seed = num('--seed', values.seed, 0, (x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff);
const mapSize = num('--map-size', values['map-size'], 1024, (x) => Number.isInteger(x) && x >= 16 && x <= 8192);
const prompt = typeof values.prompt === 'string' ? values.prompt : 'Once upon a time';
if (typeof values.model === 'string' && !existsSync(values.model)) usage(`no such model file: ${values.model}`);

const t0 = performance.now();
const secs = (t: number) => `${((performance.now() - t) / 1000).toFixed(1)} s`;

console.log('Pixel-LLM demo: a GGUF model → PNG tiles in a PixelFS volume → its map → text from WGSL on WebGPU\n');

// 1. The model.
let modelPath: string;
let modelName: string;
if (typeof values.model === 'string') {
  modelPath = resolve(values.model);
  modelName = basename(modelPath).replace(/\.gguf$/i, '');
  console.log(`model: ${modelPath}`);
} else {
  const t = performance.now();
  try {
    modelPath = defaultModelPath(); // checked against the pinned sha256
  } catch (e) {
    console.error(`demo: ${(e as Error).message}`);
    process.exit(1);
  }
  modelName = DEFAULT_MODEL.name;
  console.log(`model: ${DEFAULT_MODEL.name}: trained by Pixel-LLM (pxi train, ${DEFAULT_MODEL.recipe})`);
  console.log(`  ${modelPath}: ${(DEFAULT_MODEL.bytes / 1e6).toFixed(1)} MB, ${(DEFAULT_MODEL.parameters / 1e6).toFixed(2)} M parameters, sha256 ${DEFAULT_MODEL.sha256.slice(0, 16)}…, ready in ${secs(t)}`);
  console.log(`  held-out ${DEFAULT_MODEL.validBitsPerByte} bits per byte on TinyStories validation text (stories260K: ${DEFAULT_MODEL.anchorBitsPerByte}, measured the same way)`);
}

// 2. A fresh volume and the import.
const volumeDir = resolve(typeof values.volume === 'string' ? values.volume : mkdtempSync(join(tmpdir(), 'pxi-demo-')));
const store = await ModelStore.open(volumeDir, { create: true });
let code = 0;
try {
  let t = performance.now();
  const r = await store.import(modelPath, { name: modelName });
  console.log(`\nvolume: ${volumeDir}`);
  console.log(
    `  imported as PNG tiles: ${(r.model.bytes / 1e6).toFixed(1)} MB, ${r.tilesWritten} tiles written (${r.tilesDeduped} deduplicated)` +
      `${r.alreadyImported ? ' (already there)' : ''} in ${secs(t)}`,
  );

  // 3. The map.
  t = performance.now();
  if (!store.pyramidReady(r.model.id)) await store.buildPyramid(r.model.id);
  const img = await store.renderMap(r.model.id, { maxSize: mapSize });
  const png = join(volumeDir, `${modelName}-map.png`);
  await writeFileDurable(png, img.bytes);
  console.log(`map: ${png} (${img.width}×${img.height}, pyramid and render in ${secs(t)})`);

  // 4. Text, with the weights read back from the pixels.
  t = performance.now();
  const m = await openPixelModel(store, r.model.id, { contextLength: 512 });
  try {
    const a = m.ctx.adapter;
    console.log(`engine: WGSL on ${a.description || a.device || 'WebGPU'}${a.isFallbackAdapter ? ' (a CPU implementation of WebGPU)' : ''}; loaded from pixels in ${secs(t)}`);
    const ids = m.tokenizer.encode(prompt);
    console.log(`\n--- ${temperature === 0 ? 'greedy' : `temperature ${temperature}, seed ${seed}`}, ${maxTokens} tokens ---`);
    // A model may emit raw byte tokens: show control characters as symbols (no terminal escapes).
    const show = (s: string) => void process.stdout.write(s.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => String.fromCharCode(c === '\u007f' ? 0x2421 : 0x2400 + c.charCodeAt(0))));
    show(prompt);
    const result = await streamTo(generateStream(m.model, m.tokenizer, ids, { maxTokens, temperature, seed }), show);
    process.stdout.write('\n---\n');
    const tm = result.timings;
    console.log(timingLine(tm, result.stopReason));
    console.log(`decode: ${tm.decodeTokensPerSecond.toFixed(1)} tokens/s`);
  } finally {
    await m.close(); // frees the model and its device (openPixelModel opened it)
  }
  console.log(`\ndone in ${secs(t0)}. The volume stays in ${volumeDir} (rm -rf it when done); pxi map ${modelName} --volume ${volumeDir} --png OUT.png draws it again.`);
} catch (e) {
  console.error(`demo: ${(e as Error).message}`);
  code = 1;
} finally {
  await store.close();
}
// Dawn's handles must not keep the process alive.
setImmediate(() => process.exit(code));
