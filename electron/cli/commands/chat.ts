import { createInterface } from 'node:readline';
import { ChatSession } from '../../../shared/engine/chat';
import { ContextWindowExceededError } from '../../../shared/gpu';
import { EXIT, parseOptions, parseSize, type Command } from '../command';
import { recordResidency } from '../residency-session';
import { MODEL_FLAGS, MODEL_HELP, SAMPLING_FLAGS, SAMPLING_HELP, loadForCli, loraArgs, modelArg, samplingArgs, streamTo, timingLine } from './run';

const FULL = 'the context window is full: /reset to start again, or restart with a larger -c';

export const chatCommand: Command = {
  name: 'chat',
  summary: 'talk to a model interactively through its chat template (WGSL engine)',
  help: `Usage: pxi chat MODEL [--system TEXT] [-n N] [--temp T] [--top-k K] [--top-p P]
                [--min-p P] [--repeat-penalty R] [--seed S] [-c N] [--gpu-memory SIZE]

Loads MODEL (a GGUF file, or an imported model's id or name) onto WebGPU and reads your messages line by line from stdin. Each turn is
rendered with the model's chat template (tokenizer.chat_template) and the reply streams to
stdout; the KV cache keeps the conversation, so only the new part of each turn is computed.
Speed and stop reason of each reply go to stderr. A model without a chat template is refused
(use pxi run).

Commands inside the chat:
  /exit, /quit           leave (so does end of input, Ctrl-D)
  /reset                 forget the conversation
  Ctrl-C                 stop the current reply (at the prompt: leave)

Options:
  --system TEXT          a system message that opens the conversation
${MODEL_HELP}
${SAMPLING_HELP.replace('DEFAULT_N', '512 per reply')}
  -h, --help             show this help

Exit codes: 0 done, 1 failed (no WebGPU, no chat template, context window full), 2 usage error.`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, { system: { type: 'string' }, ...MODEL_FLAGS, ...SAMPLING_FLAGS }, true);
    const path = modelArg(positionals, 'chat');
    const args = samplingArgs(values, 512);
    const gpuMemory = parseSize(values['gpu-memory'], '--gpu-memory');
    const m = await loadForCli(path, args.contextLength, io, values.volume, loraArgs(values), values.verbose ?? false, gpuMemory);
    // A budgeted load's plan is a decision the Dashboard shows.
    if (gpuMemory !== undefined) await recordResidency(m, 'pxi chat', new Date(), io);
    let rl: ReturnType<typeof createInterface> | undefined;
    try {
      // A model without a template is refused here, before stdin is touched.
      const newSession = () => new ChatSession(m.model, m.tokenizer, m.chatTemplate, values.system);
      let session = newSession();
      const tty = process.stdin.isTTY === true;
      rl = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty });
      io.err(`chat with ${path} (/exit to leave, Ctrl-C stops a reply) · seed ${args.sampler.seed}`);
      let current: AbortController | null = null;
      // In a terminal readline turns Ctrl-C into this event; through a pipe the process gets SIGINT.
      // Closing readline ends the loop below once the lines already read are answered.
      const onInterrupt = () => {
        if (current) current.abort();
        else rl?.close();
      };
      rl.on('SIGINT', onInterrupt);
      process.on('SIGINT', onInterrupt);
      const write = (t: string) => void process.stdout.write(t);
      if (tty) rl.setPrompt('> ');
      if (tty) rl.prompt();
      for await (const raw of rl) {
        const line = raw.trim();
        if (line === '/exit' || line === '/quit') break;
        if (line === '/reset') {
          session = newSession();
          m.model.rewind(0);
          io.err('(conversation reset)');
        } else if (line !== '') {
          current = new AbortController();
          try {
            const result = await streamTo(session.send(line, { ...args.sampler, maxTokens: args.maxTokens, signal: current.signal, onContextFull: 'stop' }), write);
            write('\n');
            io.err(timingLine(result.timings, result.stopReason));
            if (result.stopReason === 'context') io.err(FULL);
          } catch (e) {
            // The conversation no longer fits: say so and keep the chat open for /reset.
            if (!(e instanceof ContextWindowExceededError)) throw e;
            io.err(`${e.message}. ${FULL}`);
          } finally {
            current = null;
          }
        }
        if (tty) rl.prompt();
      }
      process.off('SIGINT', onInterrupt);
      return EXIT.OK;
    } finally {
      rl?.close();
      await m.close();
    }
  },
};
