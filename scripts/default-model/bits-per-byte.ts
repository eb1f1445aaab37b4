/**
 * Held-out bits per byte of a GGUF model, measured by llama.cpp itself (node-llama-cpp 3.21.1,
 * F32 KV cache, no flash attention): the text is tokenized by the model's own tokenizer (as
 * llama.cpp tokenizes it), cut into windows of W−1 tokens, each window evaluated from BOS (W
 * tokens with it); bits per byte = Σ −log2 p(token | window so far) over every token of every
 * window, divided by the text's UTF-8 bytes. Tokenizer-independent, so models with different
 * vocabularies compare.
 *
 *   tsx scripts/default-model/bits-per-byte.ts MODEL.gguf TEXT.txt [--window 256] [--fix-mojibake] [--lora ADAPTER.gguf]
 *
 * With --lora, llama.cpp applies the LoRA adapter (scale 1): the fine-tuned model's figure.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { normalizeText } from '../../shared/corpus/text';
import { openReference } from '../../tests/support/llama-cpp';

const { values, positionals } = parseArgs({ options: { window: { type: 'string' }, 'fix-mojibake': { type: 'boolean' }, json: { type: 'boolean' }, lora: { type: 'string' } }, allowPositionals: true });
const [model, textFile] = positionals;
if (!model || !textFile) {
  console.error('usage: tsx scripts/default-model/bits-per-byte.ts MODEL.gguf TEXT.txt [--window 256] [--fix-mojibake] [--lora ADAPTER.gguf] [--json]');
  process.exit(2);
}
const W = Number(values.window ?? 256);
let text = readFileSync(textFile, 'utf8');
if (values['fix-mojibake']) text = normalizeText(text, ['mojibake']).text;
const bytes = Buffer.byteLength(text, 'utf8');
const ref = await openReference(model, W, values.lora ? { lora: { filePath: values.lora } } : {});
try {
  if (ref.bos === null) throw new Error(`${model} has no BOS token`);
  const ids = ref.tokenize(text);
  let bits = 0;
  const t0 = Date.now();
  for (let at = 0; at < ids.length; at += W - 1) {
    const window = ids.slice(at, at + W - 1);
    const lp = await ref.logProbs([ref.bos, ...window]);
    // lp[i] is the distribution after the first i + 1 tokens: it scores window[i].
    for (let i = 0; i < window.length; i++) bits -= lp[i]![window[i]!]! / Math.LN2;
  }
  const r = { model, lora: values.lora ?? null, text: textFile, fixMojibake: values['fix-mojibake'] === true, window: W, tokens: ids.length, bytes, bitsPerByte: bits / bytes, bitsPerToken: bits / ids.length, seconds: (Date.now() - t0) / 1000 };
  console.log(values.json ? JSON.stringify(r) : `${model}${r.lora ? ` + ${r.lora}` : ''}: ${r.bitsPerByte.toFixed(4)} bits/byte (${r.bitsPerToken.toFixed(3)} bits/token, ${r.tokens} tokens, ${bytes} bytes, windows of ${W} from BOS${r.fixMojibake ? ', mojibake repaired' : ''}) in ${r.seconds.toFixed(0)} s`);
} finally {
  await ref.dispose();
}
process.exit(0);
