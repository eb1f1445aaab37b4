/**
 * A conversation with a model through its chat template. Each turn renders the whole history
 * with the template, tokenises it (special tokens parsed), keeps the KV cache for the longest
 * prefix it shares with what the model has already seen, and generates the reply from there.
 */
import { ChatTemplate, type ChatMessage, type Tokenizer } from '../tokenizer';
import { EngineError } from './errors';
import { generateStream, type GenerateOptions, type GenerationChunk, type GenerationModel, type GenerationResult } from './generate';

export interface ChatModel extends GenerationModel {
  rewind(n: number): void;
}

export class ChatSession {
  readonly messages: ChatMessage[] = [];
  private readonly template: ChatTemplate;

  constructor(
    private readonly model: ChatModel,
    private readonly tokenizer: Tokenizer,
    template: string | undefined,
    system?: string,
  ) {
    if (template === undefined) {
      throw new EngineError('ENGINE_NO_CHAT_TEMPLATE', 'the model has no chat template (tokenizer.chat_template); use plain completion (pxi run) instead', {
        field: 'tokenizer.chat_template',
      });
    }
    this.template = new ChatTemplate(template);
    if (system) this.messages.push({ role: 'system', content: system });
  }

  /** The token ids of the conversation so far plus `user`, ready for the assistant's reply. */
  promptTokens(user: string): number[] {
    const tk = this.tokenizer;
    const text = this.template.render([...this.messages, { role: 'user', content: user }], {
      addGenerationPrompt: true,
      bosToken: tk.bos !== undefined ? tk.tokenText(tk.bos) : '',
      eosToken: tk.eos !== undefined ? tk.tokenText(tk.eos) : '',
    });
    const ids = tk.encode(text, { addSpecial: false, parseSpecial: true });
    // Templates that write bos_token themselves already have it; otherwise add it as the tokenizer says.
    if (tk.addBos && tk.bos !== undefined && ids[0] !== tk.bos) ids.unshift(tk.bos);
    return ids;
  }

  /**
   * Streams the reply to `user`. The user message and the reply (however it ended, an
   * interrupted one included) join the history when the stream finishes.
   */
  async *send(user: string, opts: GenerateOptions = {}): AsyncGenerator<GenerationChunk, GenerationResult, void> {
    const ids = this.promptTokens(user);
    const cached = this.model.tokens;
    let common = 0;
    while (common < cached.length && common < ids.length && cached[common] === ids[common]) common++;
    // At least one prompt token must run, to produce the logits of the reply's first token.
    if (common === ids.length) common--;
    this.model.rewind(common);
    const result = yield* generateStream(this.model, this.tokenizer, ids.slice(common), opts);
    this.messages.push({ role: 'user', content: user }, { role: 'assistant', content: result.text });
    return result;
  }
}
