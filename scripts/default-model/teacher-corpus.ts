/**
 * Extra training text for the default model: stories written by a teacher, Karpathy's
 * stories260K (../shared/fixtures/models/stories260K.gguf, trained on all of TinyStories), sampled
 * at temperature 1 by llama.cpp (node-llama-cpp 3.21.1, the CPU build the tests use). The 0.94 MB
 * of real TinyStories text here is too little for a model to learn the language well; the teacher's
 * samples carry what it learned from the whole dataset (the "corpus generation").
 *
 *   tsx scripts/default-model/teacher-corpus.ts --out FILE [--stories N] [--seed S] [--max-tokens M]
 *
 * Each story starts from BOS alone and ends at BOS/EOS or M tokens (a story cut there is dropped).
 * Story i is sampled with seed S + i, so the file is the same on a rerun with the same llama.cpp
 * build; it is appended story by story and a rerun continues after the last complete story.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLlamaCpp } from '../../electron/cli/llama-cpp';

const root = join(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const flag = (name: string, def?: string) => {
  const i = args.indexOf(`--${name}`);
  if (i < 0) {
    if (def === undefined) throw new Error(`--${name} is required`);
    return def;
  }
  return args[i + 1]!;
};
const out = flag('out');
const stories = Number(flag('stories', '20000'));
const seed = Number(flag('seed', '1'));
const maxTokens = Number(flag('max-tokens', '400'));
const SEP = '\n\n';

interface Seq {
  evaluate(tokens: number[], o: { temperature: number; topK: number; topP: number; minP: number; seed: number }): AsyncGenerator<number, void, void>;
  clearHistory(): Promise<void>;
}
const llama = await loadLlamaCpp<{ loadModel(o: object): Promise<any> }>(join(root, 'tests/llama-cpp/node_modules/node-llama-cpp'));
const model = await llama.loadModel({ modelPath: join(root, '..', 'shared', 'fixtures', 'models', 'stories260K.gguf') });
const ctx = await model.createContext({ contextSize: 512, threads: 1 });
const seq: Seq = ctx.getSequence();
const bos: number = model.tokens.bos;
const eos: number = model.tokens.eos;

// How many story indices are finished (written or dropped) lives beside the text, so that a rerun
// continues with the right seed; the text is cut back to what that count covers.
const progress = `${out}.progress`;
let done = existsSync(progress) ? Number(readFileSync(progress, 'utf8')) : 0;
if (!existsSync(progress)) writeFileSync(out, '');
const t0 = Date.now();
let tokensMade = 0;
for (let i = done; i < stories; i++) {
  await seq.clearHistory();
  const ids: number[] = [];
  let ended = false;
  for await (const tok of seq.evaluate([bos], { temperature: 1, topK: 0, topP: 1, minP: 0, seed: seed + i })) {
    if (tok === bos || tok === eos) {
      ended = true;
      break;
    }
    ids.push(tok);
    if (ids.length >= maxTokens) break;
  }
  tokensMade += ids.length;
  const text = (model.detokenize(ids) as string).trim();
  // Stories are kept whole: one cut at the token limit is dropped, but its index is still used,
  // so story i always comes from seed S + i.
  if (ended && text.length > 0 && !text.includes(SEP)) appendFileSync(out, text + SEP);
  done = i + 1;
  writeFileSync(progress, String(done));
  if (done % 200 === 0) {
    const s = (Date.now() - t0) / 1000;
    console.log(`${done}/${stories} stories, ${Math.round(tokensMade / s)} tokens/s`);
  }
}
console.log(`done: ${done} stories in ${out}`);
process.exit(0);
